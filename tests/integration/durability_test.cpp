// Invariant 1 (DESIGN.md section 4): an acknowledged write survives kill -9 of the node. A load runs
// while the node is killed; every acknowledged transfer must be there after the restart, exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;
using namespace std::chrono_literals;

TEST_CASE("every acknowledged transfer survives kill -9 and restart") {
  ledger_fixture fx("durability");
  auto t = fx.create_tenant("durable");
  auto c = fx.session(t);
  constexpr uint64_t accounts = 200;
  std::vector<ledger::account> accs;
  for (uint64_t i = 1; i <= accounts; ++i)
    accs.push_back(make_account(i));
  REQUIRE(c.create_accounts(accs).ok());

  std::vector<uint64_t> acked;
  std::vector<std::vector<ledger::transfer>> unknown;  // batches whose outcome we do not know
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(1500ms);
    fx.node->kill9();
    killed = true;
  });
  uint64_t next_id = 1;
  uint64_t seed = 42;
  auto rnd = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  while (!killed) {
    std::vector<ledger::transfer> batch;
    for (int i = 0; i < 300; ++i) {
      uint64_t d = 1 + rnd() % accounts, cr = 1 + rnd() % accounts;
      if (cr == d)
        cr = d % accounts + 1;
      batch.push_back(make_transfer(next_id++, d, cr, 1 + rnd() % 1000));
    }
    auto r = c.create_transfers(batch);
    if (r.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        REQUIRE(r->at(i) == create_transfer_result::ok);
        acked.push_back(batch[i].id.value.lo);
      }
    } else {
      CHECK(errc_retryable(r.error().code));
      unknown.push_back(std::move(batch));
      break;
    }
  }
  killer.join();
  REQUIRE(acked.size() > 0);

  fx.node->start();
  auto c2 = fx.session_retrying(t);
  // Every acknowledged transfer is there.
  for (size_t i = 0; i < acked.size(); i += 8000) {
    std::vector<transfer_id> ids;
    for (size_t j = i; j < std::min(acked.size(), i + 8000); ++j)
      ids.push_back(xfer(acked[j]));
    auto found = c2.lookup_transfers(ids);
    REQUIRE(found.ok());
    CHECK(found->size() == ids.size());
  }
  // The batch in flight at the kill either committed or not: its retry applies it exactly once.
  for (auto& batch : unknown) {
    auto r = c2.create_transfers(batch);
    REQUIRE(r.ok());
    for (auto code : *r)
      CHECK((code == create_transfer_result::ok || code == create_transfer_result::exists));
  }
  fx.require_verify_ok();
  MESSAGE("acknowledged before the kill: " << acked.size());
}
