#pragma once
// The node's token keys in memory: the active Ed25519 key that signs new access tokens, and every key
// whose tokens may still be valid (the active one, and retired ones until retired_at + the token lifetime).
//
// Shared by the admin workers (they sign tokens at authentication and reload keys from PostgreSQL) and
// the gateway on the kj thread (it verifies tokens without a database round trip): a mutex guards it;
// lookups copy a shared_ptr and never block on I/O.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "security/jwt.hpp"

namespace caudal::security {

struct ring_key {
  std::shared_ptr<const signing_key> key;
  int64_t accept_until_s = 0;  // 0: no end (the active key)
};

class key_ring {
 public:
  // Replaces everything: `active` signs (may be null: then no token can be issued), `keys` verify.
  void replace(std::shared_ptr<const signing_key> active, std::vector<ring_key> keys);
  std::shared_ptr<const signing_key> active() const;
  // The key for `kid` while its tokens are acceptable at `now_s`; null otherwise.
  std::shared_ptr<const signing_key> find(const std::string& kid, int64_t now_s) const;
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const signing_key> active_;
  std::map<std::string, ring_key> keys_;
};

// A key from its stored form (base64url of the raw bytes); `private_b64` empty: verification only.
result<signing_key> key_from_stored(const std::string& kid, const std::string& public_b64,
                                    const std::string& private_b64);

}  // namespace caudal::security
