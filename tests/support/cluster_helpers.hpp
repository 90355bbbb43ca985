#pragma once
// Helpers of the tests that run several nodes: short lease timings and polling for a state to arrive.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/errc.hpp"

namespace caudal::test {

// Node flags for a node id with short lease timings (heartbeat 300 ms, lease and silence 1 s): fail-over
// and hand-off tests wait seconds, not the default lease's multiples. Test margins stay >= 3x these.
inline std::vector<std::string> fast_lease_args(const std::string& node_id) {
  return {"--node-id", node_id, "--heartbeat-ms", "300", "--lease-ms", "1000", "--silent-after-ms", "1000"};
}

// Polls `done` every 50 ms until it holds or `limit` passes (a generous bound, not a timing assertion);
// true if it held.
template <class Pred>
bool eventually(Pred done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Calls `call` (answering a result<T>) until it answers anything but a retryable error, or `limit` passes;
// the last answer. Retrying is what clients do (the same ids make it safe).
template <class Call>
auto until_answered(Call call, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto r = call();
    if (r.ok() || !errc_retryable(r.error().code) || std::chrono::steady_clock::now() >= until)
      return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace caudal::test
