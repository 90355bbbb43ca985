#pragma once
// Access tokens: JWTs (RFC 7519) signed with Ed25519 ("alg": "EdDSA", RFC 8037) through OpenSSL's EVP API.
//
//   header  {"alg":"EdDSA","typ":"JWT","kid":"<signing key id>"}
//   claims  {"iss":"caudal","sub":"<client id>","tenant":<id, absent for operators>,"scope":"ledger:read ...",
//            "iat":<s>,"exp":<s>,"jti":"<random>"}
//
// Verification is strict: exactly three base64url parts without padding, at most max_token_bytes, alg
// EdDSA only (never "none" or anything else), a known kid, a valid signature over the first two parts,
// then the claims: types, iss, exp > now, iat not in the future (a little clock skew allowed). Every
// failure is errc::unauthenticated; the detail (for the node's log) says which check failed, never the
// token. Pure apart from OpenSSL (time is a parameter); any thread. Cost: unit.security_tokens_test prints
// it (on the busy 2-core test machine: ~170 us to sign, ~330 us to verify).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "security/scopes.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace caudal::security {

constexpr size_t max_token_bytes = 4096;
constexpr int64_t token_clock_skew_s = 60;

// An Ed25519 key: the private half only where tokens are signed.
class signing_key {
 public:
  // A fresh key with a random id ("k" + 16 hex characters).
  static result<signing_key> generate();
  // From the 32-byte raw private key (which implies the public one).
  static result<signing_key> from_private(std::string kid, std::string_view raw_private);
  // Verification only.
  static result<signing_key> from_public(std::string kid, std::string_view raw_public);

  const std::string& kid() const { return kid_; }
  bool can_sign() const { return has_private_; }
  std::string raw_public() const;
  std::string raw_private() const;  // secret: store encrypted, never log
  EVP_PKEY* pkey() const { return pkey_.get(); }

 private:
  std::string kid_;
  std::shared_ptr<EVP_PKEY> pkey_;
  bool has_private_ = false;
};

struct token_claims {
  std::string client_id;             // sub
  std::optional<uint64_t> tenant;    // none: an operator's token
  scope_set scopes = 0;
  int64_t issued_at_s = 0;
  int64_t expires_at_s = 0;
  std::string token_id;              // jti
};

// The signed token. errc::internal if OpenSSL fails or the key cannot sign.
result<std::string> encode_token(const token_claims& claims, const signing_key& key);

// The key for a kid, or null when unknown (the verifier then refuses the token).
using key_lookup = std::function<std::shared_ptr<const signing_key>(const std::string& kid)>;

// The claims of a valid token (see the rules above). `now_s`: Unix seconds.
result<token_claims> verify_token(std::string_view token, const key_lookup& keys, int64_t now_s);

// The kid in a token's header without verifying anything (to decide whether to reload keys); nullopt
// when the header cannot be read.
std::optional<std::string> token_kid(std::string_view token);

// base64url without padding (exposed for tests).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace caudal::security
