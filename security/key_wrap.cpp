#include "security/key_wrap.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "security/jwt.hpp"

namespace caudal::security {

namespace {

constexpr std::string_view prefix = "aesgcm1.";
constexpr size_t nonce_bytes = 12;
constexpr size_t tag_bytes = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

bool is_sealed(std::string_view stored) { return stored.substr(0, prefix.size()) == prefix; }

result<std::string> seal(std::string_view kek, std::string_view plaintext, std::string_view aad) {
  if (kek.size() != kek_bytes)
    return failure{errc::internal, "key-encryption key must be 32 bytes"};
  std::string out(nonce_bytes + plaintext.size() + tag_bytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, nonce_bytes) != 1)
    return failure{errc::internal, "no randomness for the nonce"};
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(kek), o) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), o + nonce_bytes, &len, bytes(plaintext), static_cast<int>(plaintext.size())) ==
                1 &&
            EVP_EncryptFinal_ex(ctx.get(), o + nonce_bytes + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_bytes, o + nonce_bytes + plaintext.size()) == 1;
  if (!ok)
    return failure{errc::internal, "AES-256-GCM encryption failed"};
  return std::string(prefix) + base64url_encode(out);
}

result<std::string> unseal(std::string_view kek, std::string_view sealed, std::string_view aad) {
  if (kek.size() != kek_bytes)
    return failure{errc::internal, "key-encryption key must be 32 bytes"};
  if (!is_sealed(sealed))
    return failure{errc::internal, "not a sealed key"};
  auto raw = base64url_decode(sealed.substr(prefix.size()));
  if (!raw || raw->size() < nonce_bytes + tag_bytes)
    return failure{errc::internal, "malformed sealed key"};
  const size_t n = raw->size() - nonce_bytes - tag_bytes;
  auto* r = reinterpret_cast<unsigned char*>(raw->data());
  std::string out(n, '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(kek), r) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, r + nonce_bytes,
                              static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_bytes, r + nonce_bytes + n) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  std::fill(raw->begin(), raw->end(), '\0');
  if (!ok) {
    std::fill(out.begin(), out.end(), '\0');
    return failure{errc::internal, "a sealed signing key does not open with this node's key-encryption key"};
  }
  return out;
}

result<std::string> parse_kek_hex(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  if (text.size() != kek_bytes * 2)
    return failure{errc::invalid_request, "the key file must hold 64 hexadecimal characters (32 bytes)"};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(kek_bytes, '\0');
  for (size_t i = 0; i < kek_bytes; ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return failure{errc::invalid_request, "the key file must hold 64 hexadecimal characters (32 bytes)"};
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace caudal::security
