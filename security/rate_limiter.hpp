#pragma once
// Failed-authentication limiter: per key (a client id, or a source address), at most `max_failures` failures
// within `window_ms`; past that, attempts with the key are refused (errc::rate_limited, retryable later)
// until the window that began with its first counted failure ends. Success does not reset the count (an
// attacker who knows one valid secret gains nothing for others). Time is a parameter (injected clock).
//
// Bounded: at most `max_keys` keys are tracked; when full, the entry whose window started first is
// dropped (an attacker flooding with fresh keys can only free the oldest slots, never grow the table).
// Not thread-safe: owned by the gateway, used on the kj event-loop thread only.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

namespace caudal::security {

struct rate_limit_policy {
  uint32_t max_failures = 5;
  uint64_t window_ms = 60000;
  size_t max_keys = 10000;
};

class failure_limiter {
 public:
  explicit failure_limiter(rate_limit_policy p) : policy_(p) {}

  // True when `key` may try now (fewer than max_failures failures in its current window).
  bool allowed(const std::string& key, uint64_t now_ms);
  // Counts a failed attempt of `key`.
  void record_failure(const std::string& key, uint64_t now_ms);

  size_t tracked() const { return entries_.size(); }

 private:
  struct entry {
    uint64_t window_start_ms = 0;
    uint32_t failures = 0;
  };
  void forget(std::unordered_map<std::string, entry>::iterator it);

  rate_limit_policy policy_;
  std::unordered_map<std::string, entry> entries_;
  std::multimap<uint64_t, std::string> by_start_;  // window start -> key, to evict the oldest
};

}  // namespace caudal::security
