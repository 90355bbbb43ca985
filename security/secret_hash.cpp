#include "security/secret_hash.hpp"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace caudal::security {
namespace {

constexpr size_t salt_bytes = 16;
constexpr size_t hash_bytes = 32;
// Bounds on what verify_secret accepts from a stored string.
constexpr uint32_t max_verify_m_cost_kib = 256 * 1024;
constexpr uint32_t max_verify_t_cost = 16;
constexpr uint32_t max_verify_parallelism = 8;
constexpr size_t max_encoded_chars = 512;
constexpr size_t max_random_bytes = 1024;

void random_bytes(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
}

std::string base64url(const unsigned char* data, size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

// Reads "<key>=<number>" at the front of `s` and advances past it.
bool take_param(std::string_view& s, std::string_view key, uint32_t& value) {
  if (s.substr(0, key.size()) != key || s.size() <= key.size() || s[key.size()] != '=') return false;
  s.remove_prefix(key.size() + 1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

// The parameters of "$argon2id$v=19$m=..,t=..,p=..$salt$hash"; false when it does not look like one.
bool parse_argon2id(std::string_view s, argon2_params& p) {
  constexpr std::string_view prefix = "$argon2id$v=19$";
  if (s.size() > max_encoded_chars || s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  if (!take_param(s, "m", p.m_cost_kib) || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!take_param(s, "t", p.t_cost) || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!take_param(s, "p", p.parallelism) || s.empty() || s[0] != '$') return false;
  return s.find('\0') == std::string_view::npos;
}

}  // namespace

std::string hash_secret(std::string_view secret, const argon2_params& params) {
  if (secret.size() > max_secret_bytes) throw std::invalid_argument("secret longer than max_secret_bytes");
  unsigned char salt[salt_bytes];
  random_bytes(salt, sizeof salt);
  size_t len = argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism, salt_bytes, hash_bytes,
                                 Argon2_id);
  std::vector<char> encoded(len + 1, '\0');
  int rc = argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism, secret.data(), secret.size(),
                                 salt, sizeof salt, hash_bytes, encoded.data(), encoded.size());
  OPENSSL_cleanse(salt, sizeof salt);
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

bool verify_secret(std::string_view secret, std::string_view encoded) {
  argon2_params p;
  if (secret.size() > max_secret_bytes || !parse_argon2id(encoded, p)) return false;
  if (p.m_cost_kib > max_verify_m_cost_kib || p.t_cost > max_verify_t_cost || p.parallelism > max_verify_parallelism) {
    return false;
  }
  std::string terminated(encoded);  // argon2 wants a C string
  return argon2id_verify(terminated.c_str(), secret.data(), secret.size()) == ARGON2_OK;
}

bool needs_rehash(std::string_view encoded, const argon2_params& params) {
  argon2_params p;
  if (!parse_argon2id(encoded, p)) return true;
  return p.m_cost_kib != params.m_cost_kib || p.t_cost != params.t_cost || p.parallelism != params.parallelism;
}

std::string generate_secret(size_t bytes) {
  if (bytes == 0 || bytes > max_random_bytes) throw std::invalid_argument("generate_secret: bytes must be 1..1024");
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw.data(), raw.size());
  std::string out = base64url(raw.data(), raw.size());
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

std::string generate_client_id(std::string_view prefix) {
  constexpr size_t max_prefix = 32;
  std::string safe;
  for (char c : prefix) {
    if (safe.size() == max_prefix) break;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      safe += c;
    } else if (!safe.empty() && safe.back() != '-') {
      safe += '-';
    }
  }
  while (!safe.empty() && safe.back() == '-') safe.pop_back();

  unsigned char raw[12];
  random_bytes(raw, sizeof raw);
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = safe.empty() ? std::string() : safe + "_";
  for (unsigned char b : raw) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

}  // namespace caudal::security
