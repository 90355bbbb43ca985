#include "security/rate_limiter.hpp"

namespace caudal::security {

void failure_limiter::forget(std::unordered_map<std::string, entry>::iterator it) {
  auto range = by_start_.equal_range(it->second.window_start_ms);
  for (auto i = range.first; i != range.second; ++i) {
    if (i->second == it->first) {
      by_start_.erase(i);
      break;
    }
  }
  entries_.erase(it);
}

bool failure_limiter::allowed(const std::string& key, uint64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end())
    return true;
  if (now_ms >= it->second.window_start_ms + policy_.window_ms) {
    forget(it);  // the window is over: a clean slate
    return true;
  }
  return it->second.failures < policy_.max_failures;
}

void failure_limiter::record_failure(const std::string& key, uint64_t now_ms) {
  auto it = entries_.find(key);
  if (it != entries_.end() && now_ms >= it->second.window_start_ms + policy_.window_ms) {
    forget(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    while (!entries_.empty() && entries_.size() >= policy_.max_keys) {
      auto oldest = entries_.find(by_start_.begin()->second);
      forget(oldest);
    }
    it = entries_.emplace(key, entry{now_ms, 0}).first;
    by_start_.emplace(now_ms, key);
  }
  if (it->second.failures < UINT32_MAX)
    ++it->second.failures;
}

}  // namespace caudal::security
