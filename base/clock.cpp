#include "base/clock.hpp"

#include <chrono>

namespace caudal {

uint64_t system_clock::now_ns() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace caudal
