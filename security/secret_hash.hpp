#pragma once
// Client secrets: generated from OpenSSL's CSPRNG, stored only as Argon2id hashes (DESIGN 9), verified in
// constant time by libargon2. Stateless free functions, safe to call from any thread.
//
// Cost: one hash_secret or verify_secret with the default parameters takes tens of milliseconds of CPU
// and 19 MiB of memory (measured figure in secret_hash_test's output). Never call them on the kj event
// loop thread or a CAF scheduler worker (DESIGN 11): use a detached actor or a dedicated thread.
//
// Secrets never appear in logs, exception texts or error details. The failures below are resource
// exhaustion (OpenSSL's RNG or argon2's 19 MiB allocation failing), reported by std::runtime_error as
// std::bad_alloc would be; a secret longer than max_secret_bytes is a caller's bug (std::invalid_argument).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace caudal::security {

// Argon2id cost: OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1) for interactive logins.
struct argon2_params {
  uint32_t t_cost = 2;             // iterations
  uint32_t m_cost_kib = 19 * 1024;  // memory in KiB
  uint32_t parallelism = 1;        // lanes (1: the hash takes one core)
};

// Longest secret accepted; generated ones are 43 characters. The operator's secret file is bounded too.
constexpr size_t max_secret_bytes = 1024;

// Argon2id PHC string ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>") of `secret`, with a fresh random
// 16-byte salt and a 32-byte hash. Throws std::invalid_argument when secret.size() > max_secret_bytes.
std::string hash_secret(std::string_view secret, const argon2_params& params = {});

// True when `encoded` is an Argon2id string produced for `secret`. The comparison is constant-time
// (libargon2). False, never an exception, for a wrong secret, a secret longer than max_secret_bytes, or
// an encoding that is malformed, not Argon2id, or asks for more than 256 MiB, 16 iterations or 8 lanes
// (so a tampered row cannot make the node burn memory or CPU).
bool verify_secret(std::string_view secret, std::string_view encoded);

// True when `encoded` was made with other parameters than `params` (or is not a valid Argon2id string):
// after a successful verify, the caller may store hash_secret(secret) to upgrade it.
bool needs_rehash(std::string_view encoded, const argon2_params& params = {});

// `bytes` random bytes (1..1024) as URL-safe base64 without padding: 32 bytes -> 43 characters of
// [A-Za-z0-9_-]. Throws std::invalid_argument for 0 or more than 1024 bytes.
std::string generate_secret(size_t bytes = 32);

// A new client id: the prefix made safe (lower case letters and digits kept, every other run of
// characters becomes one '-', trimmed, at most 32 characters), then '_' and 24 random hex digits
// (96 bits): "Acme Ltd." -> "acme-ltd_3f9a0c...". An empty safe prefix gives only the hex digits.
// The result matches [a-z0-9_-]+, so it is safe in logs, URLs and metric labels.
std::string generate_client_id(std::string_view prefix);

}  // namespace caudal::security
