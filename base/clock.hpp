#pragma once
// Time comes through an injected clock so the ledger and the actors replay deterministically in tests.
#include <atomic>
#include <cstdint>

namespace caudal {

// Wall-clock nanoseconds since the Unix epoch. Thread-safe implementations only.
class clock {
 public:
  virtual ~clock() = default;
  virtual uint64_t now_ns() const = 0;
};

class system_clock final : public clock {
 public:
  uint64_t now_ns() const override;
};

// Test clock: moves only when told to.
class manual_clock final : public clock {
 public:
  explicit manual_clock(uint64_t start_ns = 1'000'000'000ull) : now_(start_ns) {}
  uint64_t now_ns() const override { return now_.load(); }
  void advance_ns(uint64_t d) { now_.fetch_add(d); }
  void set_ns(uint64_t t) { now_.store(t); }

 private:
  std::atomic<uint64_t> now_;
};

constexpr uint64_t ns_per_s = 1'000'000'000ull;
constexpr uint64_t ns_per_ms = 1'000'000ull;

}  // namespace caudal
