// Secret hashing and generation: Argon2id verify (right, wrong, garbage), fresh salts, bounded parameters,
// generated secrets and client ids. Also prints how long one hash takes with the default parameters.
#include "security/secret_hash.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>

using namespace caudal::security;

namespace {

bool all_of_charset(const std::string& s, std::string_view charset) {
  return s.find_first_not_of(charset) == std::string::npos;
}

constexpr std::string_view base64url_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

TEST_CASE("hash_secret / verify_secret: right secret, wrong secret") {
  std::string secret = generate_secret();
  std::string encoded = hash_secret(secret);
  CHECK(encoded.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  CHECK(encoded.find(secret) == std::string::npos);
  CHECK(verify_secret(secret, encoded));
  CHECK_FALSE(verify_secret(secret + "x", encoded));
  CHECK_FALSE(verify_secret(secret.substr(1), encoded));
  CHECK_FALSE(verify_secret("", encoded));
  CHECK_FALSE(needs_rehash(encoded));
}

TEST_CASE("the same secret hashed twice gets different salts, and both verify") {
  argon2_params cheap{1, 64, 1};  // keeps the test fast; the parameters are in the string
  std::string a = hash_secret("s3cret", cheap);
  std::string b = hash_secret("s3cret", cheap);
  CHECK(a != b);
  // The salt is the fourth '$'-separated field.
  auto salt = [](const std::string& e) {
    size_t p = 0;
    for (int i = 0; i < 4; ++i) p = e.find('$', p) + 1;
    return e.substr(p, e.find('$', p) - p);
  };
  CHECK(salt(a) != salt(b));
  CHECK(salt(a).size() == 22);  // 16 bytes, base64 without padding
  CHECK(verify_secret("s3cret", a));
  CHECK(verify_secret("s3cret", b));
  CHECK(needs_rehash(a));  // not the default parameters
}

TEST_CASE("verify_secret refuses garbage and over-costly encodings without throwing") {
  argon2_params cheap{1, 64, 1};
  std::string good = hash_secret("pw", cheap);
  CHECK_FALSE(verify_secret("pw", ""));
  CHECK_FALSE(verify_secret("pw", "not a hash"));
  CHECK_FALSE(verify_secret("pw", "$argon2id$"));
  CHECK_FALSE(verify_secret("pw", "$argon2id$v=19$m=64,t=1,p=1$"));
  CHECK_FALSE(verify_secret("pw", "$argon2id$v=19$m=64,t=1,p=1$@@@@$@@@@"));
  CHECK_FALSE(verify_secret("pw", good.substr(0, good.size() - 3)));
  CHECK_FALSE(verify_secret("pw", good + "AAAA"));
  CHECK_FALSE(verify_secret("pw", std::string(good).insert(10, 1, '\0')));
  // Another Argon2 variant with the same fields is not accepted.
  std::string argon2i = good;
  argon2i.replace(0, 9, "$argon2i");
  CHECK_FALSE(verify_secret("pw", argon2i));
  // A stored string asking for 4 GiB or 1000 iterations is refused before any work.
  std::string huge = good;
  huge.replace(huge.find("m=64"), 4, "m=4194304");
  CHECK_FALSE(verify_secret("pw", huge));
  std::string slow = good;
  slow.replace(slow.find("t=1"), 3, "t=1000");
  CHECK_FALSE(verify_secret("pw", slow));
  CHECK_FALSE(verify_secret(std::string(max_secret_bytes + 1, 'a'), good));
  CHECK(needs_rehash("garbage"));
  CHECK_THROWS_AS((void)hash_secret(std::string(max_secret_bytes + 1, 'a'), cheap), std::invalid_argument);
  // The longest accepted secret round-trips.
  std::string longest(max_secret_bytes, 'z');
  CHECK(verify_secret(longest, hash_secret(longest, cheap)));
}

TEST_CASE("generate_secret: length and URL-safe charset, all different") {
  CHECK(generate_secret().size() == 43);  // 32 bytes
  CHECK(generate_secret(1).size() == 2);
  CHECK(generate_secret(2).size() == 3);
  CHECK(generate_secret(3).size() == 4);
  CHECK(generate_secret(16).size() == 22);
  CHECK(generate_secret(1024).size() == 1366);
  CHECK_THROWS_AS(generate_secret(0), std::invalid_argument);
  CHECK_THROWS_AS(generate_secret(1025), std::invalid_argument);
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 1000; ++i) {
    std::string s = generate_secret();
    CHECK(all_of_charset(s, base64url_chars));
    chars.insert(s.begin(), s.end());
    seen.insert(std::move(s));
  }
  CHECK(seen.size() == 1000);
  CHECK(chars.size() == 64);  // every symbol shows up in 43,000 random characters
}

TEST_CASE("generate_client_id: safe prefix, 24 hex digits") {
  std::string id = generate_client_id("acme");
  CHECK(id.size() == 4 + 1 + 24);
  CHECK(id.rfind("acme_", 0) == 0);
  CHECK(all_of_charset(id.substr(5), "0123456789abcdef"));
  CHECK(generate_client_id("acme") != generate_client_id("acme"));
  CHECK(generate_client_id("Acme Ltd.").rfind("acme-ltd_", 0) == 0);
  CHECK(generate_client_id("  Ñandú  S.A. ").rfind("and-s-a_", 0) == 0);
  CHECK(generate_client_id("").size() == 24);
  CHECK(generate_client_id("%%%").size() == 24);
  std::string long_id = generate_client_id(std::string(100, 'x'));
  CHECK(long_id.size() == 32 + 1 + 24);
  CHECK(all_of_charset(generate_client_id("a\"b\nc\\d$e"), "abcdefghijklmnopqrstuvwxyz0123456789_-"));
}

TEST_CASE("timing: one hash with the default parameters") {
  using clock = std::chrono::steady_clock;
  constexpr int rounds = 5;
  std::string encoded;
  auto start = clock::now();
  for (int i = 0; i < rounds; ++i) encoded = hash_secret("timing-secret");
  auto hash_us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count() / rounds;
  start = clock::now();
  for (int i = 0; i < rounds; ++i) CHECK(verify_secret("timing-secret", encoded));
  auto verify_us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count() / rounds;
  std::printf("argon2id t=2 m=19MiB p=1: hash %.1f ms, verify %.1f ms (mean of %d)\n", hash_us / 1000.0,
              verify_us / 1000.0, rounds);
  CHECK(hash_us > 0);
}
