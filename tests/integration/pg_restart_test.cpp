// Invariant 1 (DESIGN.md section 4): acknowledged writes survive a PostgreSQL restart, and the node gets
// back to work by itself (its writer and readers reconnect) without being restarted.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;
using namespace std::chrono_literals;

TEST_CASE("acknowledged transfers survive a PostgreSQL restart and the node reconnects by itself") {
  const char* restart = std::getenv("CAUDAL_TEST_PG_RESTART");
  if (restart == nullptr || *restart == '\0')
    FAIL(
        "CAUDAL_TEST_PG_RESTART is not set: scripts/test sets it for the embedded PostgreSQL; with an "
        "external server, set it to a command that restarts that server");
  ledger_fixture fx("pg_restart");
  auto t = fx.create_tenant("restart");
  auto c = fx.session(t);
  constexpr uint64_t accounts = 50;
  std::vector<ledger::account> accs;
  for (uint64_t i = 1; i <= accounts; ++i)
    accs.push_back(make_account(i));
  REQUIRE(c.create_accounts(accs).ok());

  std::atomic<bool> restarted{false};
  int restart_status = -1;
  std::thread restarter([&] {
    std::this_thread::sleep_for(1s);
    restart_status = std::system((std::string(restart) + " >/dev/null 2>&1").c_str());
    restarted = true;
  });

  std::vector<uint64_t> acked;
  std::vector<std::vector<ledger::transfer>> unknown;
  int failures = 0;
  uint64_t next_id = 1;
  auto give_up = std::chrono::steady_clock::now() + 90s;
  int ok_after_restart = 0;
  // Keep going until the node has served a few requests again after the restart.
  while (ok_after_restart < 5) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < give_up, "the node did not recover after the restart");
    std::vector<ledger::transfer> batch;
    for (uint64_t i = 0; i < 100; ++i, ++next_id)
      batch.push_back(make_transfer(next_id, 1 + next_id % accounts, 1 + (next_id + 7) % accounts, 1 + next_id % 50));
    auto r = c.create_transfers(batch);
    if (r.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        CHECK(r->at(i) == create_transfer_result::ok);
        acked.push_back(batch[i].id.value.lo);
      }
      if (restarted)
        ++ok_after_restart;
    } else {
      ++failures;
      INFO("request failed with " << errc_name(r.error().code));
      CHECK(errc_retryable(r.error().code));
      unknown.push_back(std::move(batch));
      std::this_thread::sleep_for(100ms);
    }
  }
  restarter.join();
  REQUIRE(restart_status == 0);
  REQUIRE(fx.node->running());
  MESSAGE(acked.size() << " transfers acknowledged, " << failures << " requests failed during the restart");

  for (size_t i = 0; i < acked.size(); i += 8000) {
    std::vector<transfer_id> ids;
    for (size_t j = i; j < std::min(acked.size(), i + 8000); ++j)
      ids.push_back(xfer(acked[j]));
    auto found = c.lookup_transfers(ids);
    REQUIRE(found.ok());
    CHECK(found->size() == ids.size());
  }
  // Requests that failed during the restart are safe to retry: applied exactly once.
  for (auto& batch : unknown) {
    auto r = c.create_transfers(batch);
    REQUIRE(r.ok());
    for (auto code : *r)
      CHECK((code == create_transfer_result::ok || code == create_transfer_result::exists));
  }
  fx.require_verify_ok();
}
