#include <doctest/doctest.h>

#include "actors/expiry_schedule.hpp"

using caudal::transfer_id;
using caudal::u128;
using caudal::actors::expiry_schedule;

namespace {
transfer_id id(uint64_t n) { return transfer_id{u128::from_u64(n)}; }
}  // namespace

TEST_CASE("due expiries come out earliest first, at most as many as asked") {
  expiry_schedule s;
  s.add(id(1), 300);
  s.add(id(2), 100);
  s.add(id(3), 200);
  CHECK(s.next_ns() == 100);
  auto due = s.take_due(250, 10);
  REQUIRE(due.size() == 2);
  CHECK(due[0] == expiry_schedule::entry{id(2), 100});
  CHECK(due[1] == expiry_schedule::entry{id(3), 200});
  CHECK(s.next_ns() == 300);
  CHECK(s.take_due(1000, 0).empty());
  CHECK(s.take_due(299, 10).empty());
  CHECK(s.take_due(300, 10).size() == 1);
  CHECK(s.next_ns() == 0);
}

TEST_CASE("a bounded load asks to read PostgreSQL again from its last expiry") {
  expiry_schedule s;
  s.loaded({{id(1), 10}, {id(2), 20}}, /*more=*/true);
  CHECK(s.reload_from_ns() == 20);
  CHECK(s.next_ns() == 10);
  CHECK_FALSE(s.needs_reload(5, 0));  // what was loaded is not used up
  s.take_due(10, 10);
  CHECK(s.next_ns() == 20);           // the reload point comes before nothing else
  CHECK(s.needs_reload(20, 0));       // the heap's top (20) is at the reload point
  CHECK_FALSE(s.needs_reload(0, 5));  // not due soon enough
  s.loaded({{id(2), 20}, {id(3), 30}}, /*more=*/false);
  CHECK_FALSE(s.needs_reload(1000, 0));
  CHECK(s.size() == 3);  // id 2 twice: harmless, the state machine skips what is no longer pending
}

TEST_CASE("a back-off postpones the next event, not the bookkeeping") {
  expiry_schedule s;
  s.add(id(1), 100);
  s.delay_until(500);
  CHECK(s.delayed(200));
  CHECK(s.next_ns() == 500);
  CHECK_FALSE(s.delayed(500));
  s.clear();
  CHECK(s.next_ns() == 0);
  CHECK_FALSE(s.delayed(0));
}
