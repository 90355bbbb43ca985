#include <doctest/doctest.h>

#include "actors/restart_budget.hpp"

using caudal::actors::restart_budget;

TEST_CASE("restart budget backs off exponentially and escalates past its budget") {
  restart_budget b(3, 10'000, 100, 1'000);
  CHECK(b.on_failure(0) == std::optional<uint64_t>(100));
  CHECK(b.on_failure(1) == std::optional<uint64_t>(200));
  CHECK(b.on_failure(2) == std::optional<uint64_t>(400));
  CHECK_FALSE(b.on_failure(3).has_value());  // fourth failure within the window: escalate
}

TEST_CASE("failures older than the window are forgotten") {
  restart_budget b(2, 1'000, 10, 10'000);
  CHECK(b.on_failure(0).has_value());
  CHECK(b.on_failure(500).has_value());
  CHECK_FALSE(b.on_failure(900).has_value());
  // Everything before 2'000 - 1'000 has left the window.
  CHECK(b.on_failure(5'000) == std::optional<uint64_t>(10));
}

TEST_CASE("backoff is capped") {
  restart_budget b(100, 1'000'000, 100, 350);
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i)
    last = *b.on_failure(static_cast<uint64_t>(i));
  CHECK(last == 350);
}
