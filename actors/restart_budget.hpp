#pragma once
// Supervision policy (CAF 0.17 has no supervisors): restart a failed child after an exponential backoff,
// at most `max_restarts` times within `window`; past that the budget is spent and the supervisor escalates.
// Pure logic with injected time, so it is unit-tested on its own.
#include <cstdint>
#include <deque>
#include <optional>

namespace caudal::actors {

class restart_budget {
 public:
  restart_budget(uint32_t max_restarts, uint64_t window_ns, uint64_t backoff_base_ns, uint64_t backoff_max_ns);

  // Records a failure at now_ns. Returns the delay (ns) to wait before restarting, or nullopt when the
  // budget is spent (more than max_restarts failures within the window): escalate.
  std::optional<uint64_t> on_failure(uint64_t now_ns);
  uint32_t failures_in_window() const { return static_cast<uint32_t>(failures_.size()); }

 private:
  uint32_t max_restarts_;
  uint64_t window_ns_;
  uint64_t backoff_base_ns_;
  uint64_t backoff_max_ns_;
  std::deque<uint64_t> failures_;  // bounded by max_restarts_ + 1
};

}  // namespace caudal::actors
