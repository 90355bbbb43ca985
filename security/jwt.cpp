#include "security/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <nlohmann/json.hpp>

namespace caudal::security {

namespace {

using json = nlohmann::json;

failure refused(std::string why) { return failure{errc::unauthenticated, "access token refused: " + std::move(why)}; }

std::string random_hex(size_t bytes) {
  std::array<unsigned char, 32> buf{};
  if (bytes > buf.size() || RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1)
    return {};
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out += digits[buf[i] >> 4];
    out += digits[buf[i] & 15];
  }
  return out;
}

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

// Splits "a.b.c" into exactly three non-empty parts.
bool split3(std::string_view t, std::string_view& h, std::string_view& p, std::string_view& s) {
  size_t d1 = t.find('.');
  if (d1 == std::string_view::npos)
    return false;
  size_t d2 = t.find('.', d1 + 1);
  if (d2 == std::string_view::npos || t.find('.', d2 + 1) != std::string_view::npos)
    return false;
  h = t.substr(0, d1);
  p = t.substr(d1 + 1, d2 - d1 - 1);
  s = t.substr(d2 + 1);
  return !h.empty() && !p.empty() && !s.empty();
}

std::optional<json> decode_json(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes)
    return std::nullopt;
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

}  // namespace

std::string base64url_encode(std::string_view in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2)
      v |= uint8_t(in[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (rest == 2)
      out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero (one canonical encoding per byte string: an altered last character that
  // decodes to the same bytes is refused).
  if ((acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

result<signing_key> signing_key::generate() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  EVP_PKEY* p = nullptr;
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &p) == 1;
  EVP_PKEY_CTX_free(ctx);
  std::string kid = "k" + random_hex(8);
  if (!ok || kid.size() != 17) {
    EVP_PKEY_free(p);
    return failure{errc::internal, "cannot generate an Ed25519 key"};
  }
  signing_key k;
  k.kid_ = std::move(kid);
  k.pkey_ = own(p);
  k.has_private_ = true;
  return k;
}

result<signing_key> signing_key::from_private(std::string kid, std::string_view raw) {
  EVP_PKEY* p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (p == nullptr)
    return failure{errc::internal, "signing key " + kid + ": not a raw Ed25519 private key"};
  signing_key k;
  k.kid_ = std::move(kid);
  k.pkey_ = own(p);
  k.has_private_ = true;
  return k;
}

result<signing_key> signing_key::from_public(std::string kid, std::string_view raw) {
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (p == nullptr)
    return failure{errc::internal, "signing key " + kid + ": not a raw Ed25519 public key"};
  signing_key k;
  k.kid_ = std::move(kid);
  k.pkey_ = own(p);
  return k;
}

std::string signing_key::raw_public() const {
  std::string out(32, '\0');
  size_t n = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(out.data()), &n) != 1)
    return {};
  out.resize(n);
  return out;
}

std::string signing_key::raw_private() const {
  if (!has_private_)
    return {};
  std::string out(32, '\0');
  size_t n = out.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), reinterpret_cast<unsigned char*>(out.data()), &n) != 1)
    return {};
  out.resize(n);
  return out;
}

result<std::string> encode_token(const token_claims& c, const signing_key& key) {
  if (!key.can_sign())
    return failure{errc::internal, "the signing key has no private half"};
  json header = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key.kid()}};
  json claims = {{"iss", "caudal"},         {"sub", c.client_id},      {"scope", scope_string(c.scopes)},
                 {"iat", c.issued_at_s},    {"exp", c.expires_at_s},   {"jti", c.token_id}};
  if (c.tenant)
    claims["tenant"] = *c.tenant;
  std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  std::string sig(64, '\0');
  size_t n = sig.size();
  bool ok = md != nullptr && EVP_DigestSignInit(md, nullptr, nullptr, nullptr, key.pkey()) == 1 &&
            EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &n,
                           reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!ok)
    return failure{errc::internal, "Ed25519 signing failed"};
  sig.resize(n);
  return signing_input + "." + base64url_encode(sig);
}

std::optional<std::string> token_kid(std::string_view token) {
  std::string_view h, p, s;
  if (token.size() > max_token_bytes || !split3(token, h, p, s))
    return std::nullopt;
  auto header = decode_json(h);
  if (!header || !header->contains("kid") || !(*header)["kid"].is_string())
    return std::nullopt;
  return (*header)["kid"].get<std::string>();
}

result<token_claims> verify_token(std::string_view token, const key_lookup& keys, int64_t now_s) {
  if (token.empty())
    return refused("empty");
  if (token.size() > max_token_bytes)
    return refused("longer than " + std::to_string(max_token_bytes) + " bytes");
  std::string_view h, p, s;
  if (!split3(token, h, p, s))
    return refused("not three dot-separated parts");
  auto header = decode_json(h);
  if (!header)
    return refused("header is not base64url JSON");
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "EdDSA")
    return refused("algorithm is not EdDSA");
  auto kid = header->find("kid");
  if (kid == header->end() || !kid->is_string())
    return refused("no key id");
  auto key = keys ? keys(kid->get<std::string>()) : nullptr;
  if (!key)
    return refused("unknown or expired signing key");
  auto sig = base64url_decode(s);
  if (!sig || sig->size() != 64)
    return refused("malformed signature");
  const std::string_view signed_part = token.substr(0, h.size() + 1 + p.size());
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool valid = md != nullptr && EVP_DigestVerifyInit(md, nullptr, nullptr, nullptr, key->pkey()) == 1 &&
               EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                                reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!valid)
    return refused("bad signature");
  auto claims = decode_json(p);
  if (!claims)
    return refused("claims are not base64url JSON");
  const json& c = *claims;
  auto str = [&](const char* k) { return c.contains(k) && c[k].is_string(); };
  auto num = [&](const char* k) { return c.contains(k) && c[k].is_number_integer(); };
  if (!str("iss") || c["iss"] != "caudal" || !str("sub") || !str("scope") || !num("iat") || !num("exp") ||
      !str("jti"))
    return refused("claims incomplete");
  if (c.contains("tenant") && !c["tenant"].is_number_unsigned())
    return refused("tenant claim is not a tenant id");
  token_claims out;
  out.client_id = c["sub"].get<std::string>();
  if (c.contains("tenant"))
    out.tenant = c["tenant"].get<uint64_t>();
  auto scopes = parse_scope_string(c["scope"].get<std::string>());
  if (!scopes)
    return refused("unknown scope");
  out.scopes = *scopes;
  out.issued_at_s = c["iat"].get<int64_t>();
  out.expires_at_s = c["exp"].get<int64_t>();
  out.token_id = c["jti"].get<std::string>();
  if (out.expires_at_s <= now_s)
    return refused("expired");
  if (out.issued_at_s > now_s + token_clock_skew_s)
    return refused("issued in the future");
  return out;
}

}  // namespace caudal::security
