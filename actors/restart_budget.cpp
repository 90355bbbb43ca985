#include "actors/restart_budget.hpp"

#include <cassert>

namespace caudal::actors {

restart_budget::restart_budget(uint32_t max_restarts, uint64_t window_ns, uint64_t backoff_base_ns,
                               uint64_t backoff_max_ns)
    : max_restarts_(max_restarts),
      window_ns_(window_ns),
      backoff_base_ns_(backoff_base_ns),
      backoff_max_ns_(backoff_max_ns) {
  assert(backoff_base_ns_ <= backoff_max_ns_);
}

std::optional<uint64_t> restart_budget::on_failure(uint64_t now_ns) {
  while (!failures_.empty() && failures_.front() + window_ns_ <= now_ns)
    failures_.pop_front();
  failures_.push_back(now_ns);
  if (failures_.size() > max_restarts_) {
    failures_.pop_front();  // keep the history bounded; the next failure in the window escalates again
    return std::nullopt;
  }
  uint64_t delay = backoff_base_ns_;
  for (size_t i = 1; i < failures_.size() && delay < backoff_max_ns_; ++i)
    delay *= 2;
  return delay < backoff_max_ns_ ? delay : backoff_max_ns_;
}

}  // namespace caudal::actors
