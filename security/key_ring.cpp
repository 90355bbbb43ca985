#include "security/key_ring.hpp"

namespace caudal::security {

void key_ring::replace(std::shared_ptr<const signing_key> active, std::vector<ring_key> keys) {
  std::map<std::string, ring_key> next;
  for (auto& k : keys)
    if (k.key)
      next[k.key->kid()] = std::move(k);
  std::lock_guard<std::mutex> lock(mutex_);
  active_ = std::move(active);
  keys_ = std::move(next);
}

std::shared_ptr<const signing_key> key_ring::active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_;
}

std::shared_ptr<const signing_key> key_ring::find(const std::string& kid, int64_t now_s) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = keys_.find(kid);
  if (it == keys_.end())
    return nullptr;
  if (it->second.accept_until_s != 0 && now_s >= it->second.accept_until_s)
    return nullptr;
  return it->second.key;
}

size_t key_ring::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return keys_.size();
}

result<signing_key> key_from_stored(const std::string& kid, const std::string& public_b64,
                                    const std::string& private_b64) {
  if (!private_b64.empty()) {
    auto raw = base64url_decode(private_b64);
    if (!raw)
      return failure{errc::internal, "signing key " + kid + ": malformed private key"};
    auto k = signing_key::from_private(kid, *raw);
    std::fill(raw->begin(), raw->end(), '\0');
    return k;
  }
  auto raw = base64url_decode(public_b64);
  if (!raw)
    return failure{errc::internal, "signing key " + kid + ": malformed public key"};
  return signing_key::from_public(kid, *raw);
}

}  // namespace caudal::security
