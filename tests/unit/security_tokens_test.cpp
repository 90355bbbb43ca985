// Access tokens (JWT, Ed25519), scopes, the failed-authentication limiter and the TLS 1.3 OpenSSL policy.
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <iostream>
#include <map>
#include <vector>

#include "security/jwt.hpp"
#include "security/key_wrap.hpp"
#include "security/openssl_policy.hpp"
#include "security/rate_limiter.hpp"
#include "security/scopes.hpp"

using namespace caudal;
using namespace caudal::security;

namespace {

constexpr int64_t now = 1'800'000'000;

struct keyring {
  std::map<std::string, std::shared_ptr<const signing_key>> keys;
  std::shared_ptr<const signing_key> add() {
    auto k = signing_key::generate();
    REQUIRE(k.ok());
    auto p = std::make_shared<const signing_key>(k.value());
    keys[p->kid()] = p;
    return p;
  }
  key_lookup lookup() const {
    return [this](const std::string& kid) -> std::shared_ptr<const signing_key> {
      auto it = keys.find(kid);
      return it == keys.end() ? nullptr : it->second;
    };
  }
};

token_claims claims() {
  token_claims c;
  c.client_id = "acme-client";
  c.tenant = 42;
  c.scopes = scope::ledger_read | scope::ledger_write;
  c.issued_at_s = now;
  c.expires_at_s = now + 900;
  c.token_id = "t1";
  return c;
}

std::string refusal(const result<token_claims>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::unauthenticated);
  return r.error().detail;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a token round-trips its claims and is refused once expired") {
  keyring ring;
  auto key = ring.add();
  auto token = encode_token(claims(), *key);
  REQUIRE(token.ok());
  auto back = verify_token(*token, ring.lookup(), now + 10);
  REQUIRE(back.ok());
  CHECK(back->client_id == "acme-client");
  REQUIRE(back->tenant);
  CHECK(*back->tenant == 42);
  CHECK(back->scopes == (scope::ledger_read | scope::ledger_write));
  CHECK(back->expires_at_s == now + 900);
  CHECK(token_kid(*token) == key->kid());

  CHECK(contains(refusal(verify_token(*token, ring.lookup(), now + 900)), "expired"));
  auto op = claims();
  op.tenant.reset();
  op.scopes = scope::admin;
  auto op_token = encode_token(op, *key);
  REQUIRE(op_token.ok());
  auto op_back = verify_token(*op_token, ring.lookup(), now);
  REQUIRE(op_back.ok());
  CHECK_FALSE(op_back->tenant);
  CHECK(op_back->scopes == scope::admin);
}

TEST_CASE("forged and altered tokens are refused") {
  keyring ring;
  auto key = ring.add();
  auto token = encode_token(claims(), *key).value();
  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');

  SUBCASE("signed by a key the verifier does not know") {
    keyring other;
    auto forged = encode_token(claims(), *other.add()).value();
    CHECK(contains(refusal(verify_token(forged, ring.lookup(), now)), "unknown"));
  }
  SUBCASE("signed by another key under a known kid") {
    auto other = signing_key::generate().value();
    auto impostor = signing_key::from_private(key->kid(), other.raw_private()).value();
    auto forged = encode_token(claims(), impostor).value();
    CHECK(contains(refusal(verify_token(forged, ring.lookup(), now)), "bad signature"));
  }
  SUBCASE("claims altered (another tenant, more scopes) with the old signature") {
    auto c = claims();
    c.tenant = 43;
    c.scopes = scope::all;
    auto other = encode_token(c, *key).value();
    std::string altered = token.substr(0, dot1) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                          token.substr(dot2);
    REQUIRE(altered != token);
    CHECK(contains(refusal(verify_token(altered, ring.lookup(), now)), "bad signature"));
  }
  SUBCASE("one character of the signature changed") {
    std::string altered = token;
    char& c = altered[dot2 + 5];
    c = c == 'A' ? 'B' : 'A';
    refusal(verify_token(altered, ring.lookup(), now));
  }
  SUBCASE("alg none, missing parts, garbage, too long") {
    std::string none_header = base64url_encode(R"({"alg":"none","typ":"JWT","kid":")" + key->kid() + "\"}");
    std::string no_alg = none_header + token.substr(dot1, dot2 - dot1) + ".";
    CHECK(contains(refusal(verify_token(no_alg, ring.lookup(), now)), "not three"));
    std::string none_signed = none_header + token.substr(dot1);
    CHECK(contains(refusal(verify_token(none_signed, ring.lookup(), now)), "EdDSA"));
    refusal(verify_token("", ring.lookup(), now));
    refusal(verify_token("a.b", ring.lookup(), now));
    refusal(verify_token("a.b.c.d", ring.lookup(), now));
    refusal(verify_token("!!!.???.***", ring.lookup(), now));
    refusal(verify_token(std::string(max_token_bytes + 1, 'a'), ring.lookup(), now));
  }
  SUBCASE("issued in the future") {
    auto c = claims();
    c.issued_at_s = now + 3600;
    c.expires_at_s = now + 7200;
    CHECK(contains(refusal(verify_token(encode_token(c, *key).value(), ring.lookup(), now)), "future"));
  }
  SUBCASE("a verification-only key verifies but cannot sign") {
    auto pub = signing_key::from_public(key->kid(), key->raw_public()).value();
    CHECK_FALSE(pub.can_sign());
    CHECK_FALSE(encode_token(claims(), pub).ok());
    keyring pub_ring;
    pub_ring.keys[pub.kid()] = std::make_shared<const signing_key>(pub);
    CHECK(verify_token(token, pub_ring.lookup(), now).ok());
  }
}

TEST_CASE("base64url is strict") {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
    CHECK(base64url_decode(base64url_encode(s)) == s);
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("Zg==").has_value());  // padding is not base64url-in-JWT
  CHECK_FALSE(base64url_decode("Z").has_value());
  CHECK_FALSE(base64url_decode("Zh").has_value());  // non-zero leftover bits: not the canonical "Zg"
  CHECK_FALSE(base64url_decode("a+b/").has_value());
}

TEST_CASE("scopes: names, what clients may hold, what a token may ask for") {
  CHECK(parse_scopes({"ledger:read", "admin"}).value() == (scope::ledger_read | scope::admin));
  CHECK_FALSE(parse_scopes({"ledger:delete"}).ok());
  CHECK(parse_scope_string("ledger:read  ledger:write").value() == (scope::ledger_read | scope::ledger_write));
  CHECK(parse_scope_string("").value() == 0);
  CHECK(scope_string(scope::all) == "ledger:read ledger:write onboarding admin");

  CHECK(check_client_scopes(scope::ledger_read, true).ok());
  CHECK(check_client_scopes(scope::tenant_all, true).ok());
  CHECK_FALSE(check_client_scopes(scope::admin, true).ok());  // a tenant's client is never an operator
  CHECK_FALSE(check_client_scopes(scope::ledger_write, false).ok());  // operators move no money
  CHECK(check_client_scopes(scope::admin, false).ok());
  CHECK_FALSE(check_client_scopes(0, true).ok());

  CHECK(grant_scopes(scope::tenant_all, 0).value() == scope::tenant_all);  // nothing asked: all held
  CHECK(grant_scopes(scope::tenant_all, scope::ledger_read).value() == scope::ledger_read);
  auto more = grant_scopes(scope::ledger_read, scope::ledger_write);
  REQUIRE_FALSE(more.ok());
  CHECK(more.error().code == errc::forbidden);
  CHECK(has_scope(scope::ledger_read | scope::ledger_write, scope::ledger_write));
  CHECK_FALSE(has_scope(scope::ledger_read, scope::ledger_write));
}

TEST_CASE("failed authentications are limited per key, in windows, in a bounded table") {
  failure_limiter l({3, 1000, 4});
  for (int i = 0; i < 3; ++i) {
    CHECK(l.allowed("a", 100));
    l.record_failure("a", 100 + i);
  }
  CHECK_FALSE(l.allowed("a", 500));
  CHECK(l.allowed("b", 500));  // another key is not affected
  CHECK_FALSE(l.allowed("a", 1099));
  CHECK(l.allowed("a", 1100));  // the window that began at 100 is over
  // Bounded: five more keys, the table never holds more than four.
  for (int i = 0; i < 5; ++i)
    l.record_failure("k" + std::to_string(i), 2000 + i);
  CHECK(l.tracked() <= 4);
}

TEST_CASE("the OpenSSL policy makes TLS 1.3 the minimum of every new context") {
  REQUIRE(enforce_tls13_minimum().ok());
  REQUIRE(enforce_tls13_minimum().ok());  // idempotent
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  REQUIRE(ctx != nullptr);
  CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_3_VERSION);
  CHECK((SSL_CTX_get_options(ctx) & SSL_OP_NO_TLSv1_2) != 0);
  SSL_CTX_free(ctx);
}

TEST_CASE("figures: sign and verify cost (printed, not asserted)") {
  keyring ring;
  auto key = ring.add();
  auto token = encode_token(claims(), *key).value();
  constexpr int n = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    (void)encode_token(claims(), *key);
  auto t1 = std::chrono::steady_clock::now();
  int ok = 0;
  for (int i = 0; i < n; ++i)
    ok += verify_token(token, ring.lookup(), now).ok();
  auto t2 = std::chrono::steady_clock::now();
  CHECK(ok == n);
  auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count() / n; };
  std::cout << "jwt: encode " << us(t1 - t0) << " us, verify " << us(t2 - t1) << " us per token (Ed25519, "
            << token.size() << " bytes)\n";
}

TEST_CASE("signing keys sealed at rest: AES-256-GCM bound to the kid") {
  auto kek = security::parse_kek_hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  REQUIRE(kek.ok());
  CHECK(kek->size() == 32);
  CHECK_FALSE(security::parse_kek_hex("0011").ok());
  CHECK_FALSE(security::parse_kek_hex(std::string(64, 'g')).ok());
  const std::string secret(32, '\x07');
  auto sealed = security::seal(*kek, secret, "k1");
  REQUIRE(sealed.ok());
  CHECK(security::is_sealed(*sealed));
  CHECK(sealed->find(security::base64url_encode(secret)) == std::string::npos);
  CHECK(security::unseal(*kek, *sealed, "k1").value() == secret);
  CHECK(security::seal(*kek, secret, "k1").value() != *sealed);  // a fresh nonce each time
  CHECK_FALSE(security::unseal(*kek, *sealed, "k2").ok());       // moved to another kid
  std::string other_kek = *kek;
  other_kek[0] ^= 1;
  CHECK_FALSE(security::unseal(other_kek, *sealed, "k1").ok());
  std::string altered = *sealed;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  CHECK_FALSE(security::unseal(*kek, altered, "k1").ok());
  CHECK_FALSE(security::seal("short", secret, "k1").ok());
}
