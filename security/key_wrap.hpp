#pragma once
// Encryption at rest of the token signing keys stored in PostgreSQL: AES-256-GCM under a key-encryption key
// (KEK) that the nodes read from a file (auth.key_file), never from the database. A dump or backup of the
// database alone then reveals no signing key. The key id is authenticated with each sealed key (AAD), so a
// sealed key cannot be moved to another kid.
//
//   sealed form: "aesgcm1." + base64url(12-byte random nonce || ciphertext || 16-byte tag)
//
// Pure apart from OpenSSL's RNG; any thread. Failures never include key material.
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace caudal::security {

constexpr size_t kek_bytes = 32;

bool is_sealed(std::string_view stored);
// errc::internal if the KEK is not 32 bytes or OpenSSL fails.
result<std::string> seal(std::string_view kek, std::string_view plaintext, std::string_view aad);
// errc::internal when the KEK is wrong, the text was altered, or the aad differs.
result<std::string> unseal(std::string_view kek, std::string_view sealed, std::string_view aad);

// The KEK from its file text: 64 hexadecimal characters (a trailing newline allowed).
result<std::string> parse_kek_hex(std::string_view text);

}  // namespace caudal::security
