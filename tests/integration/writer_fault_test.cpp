// A failed or uncertain group commit (DESIGN.md section 3): the writer's PostgreSQL connection is killed
// in the middle of commits (pg_terminate_backend). Every acknowledged id must be present, no balance may
// reflect unacknowledged work, and the ledger must stay exact (verify) while work continues afterwards.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;
using namespace std::chrono_literals;
namespace af = ledger::account_flags;

TEST_CASE("killing the writer's connection mid-commit loses nothing acknowledged and invents nothing") {
  ledger_fixture fx("writer_fault");
  auto t = fx.create_tenant("faulty");
  auto c = fx.session(t);
  auto op = fx.operator_session();
  // Account 1 funds; accounts 2..21 may not go below zero: a phantom balance would let them.
  std::vector<ledger::account> accs{make_account(1)};
  for (uint64_t i = 2; i <= 21; ++i)
    accs.push_back(make_account(i, 1, 1, af::debits_must_not_exceed_credits));
  REQUIRE(c.create_accounts(accs).ok());

  client::fault delay;
  delay.kind = client::fault_kind::writer_delay;
  delay.delay_ms = 150;
  REQUIRE(op.inject_fault(delay).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    auto conn = fx.db.connect("caudal-test-killer");
    std::string sql =
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
        "'caudal-writer' AND datname = '" +
        fx.db.name() + "'";
    while (!stop) {
      std::this_thread::sleep_for(600ms);
      auto r = conn->query(sql, {});
      if (r.ok() && r->size() > 0)
        ++kills;
    }
  });

  // Two clients at once: one funds the spenders, the other spends what they hold. The sequencer runs a
  // spend on funding that may not be committed yet: when that commit fails, the spend must fail with it.
  std::mutex mu;
  std::vector<uint64_t> acked;
  std::atomic<int> failures{0};
  std::atomic<uint64_t> next_id{1};
  auto until = std::chrono::steady_clock::now() + 6s;
  auto client_loop = [&](bool funder) {
    auto conn = fx.session(t);
    uint64_t seed = funder ? 7 : 11;
    while (std::chrono::steady_clock::now() < until) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      uint64_t spender = 2 + (seed >> 33) % 20;
      uint64_t id = next_id++;
      auto tr = funder ? make_transfer(id, 1, spender, 10) : make_transfer(id, spender, 1, 10);
      auto r = conn.create_transfers({tr});
      if (r.ok()) {
        if (r->at(0) == create_transfer_result::ok) {
          std::lock_guard<std::mutex> lock(mu);
          acked.push_back(id);
        }
      } else {
        ++failures;
        if (!errc_retryable(r.error().code)) {
          std::lock_guard<std::mutex> lock(mu);
          FAIL_CHECK("not retryable: " << errc_name(r.error().code));
        }
      }
    }
  };
  std::thread funder(client_loop, true);
  client_loop(false);
  funder.join();
  stop = true;
  killer.join();
  delay.delay_ms = 0;
  REQUIRE(op.inject_fault(delay).ok());
  MESSAGE("writer connection killed " << kills.load() << " times; " << failures.load() << " requests failed; "
                                      << acked.size() << " transfers acknowledged");
  CHECK(kills.load() > 0);
  CHECK(failures.load() > 0);

  // Work continues on a rebuilt working set.
  auto more = c.create_transfers({make_transfer(1'000'000, 1, 2, 5), make_transfer(1'000'001, 2, 1, 5)});
  INFO("after the faults: " << (more.ok() ? "ok" : errc_name(more.error().code)) << "\n" << fx.node->log_tail());
  REQUIRE(more.ok());
  CHECK(more->at(0) == create_transfer_result::ok);
  CHECK(more->at(1) == create_transfer_result::ok);

  for (size_t i = 0; i < acked.size(); i += 8000) {
    std::vector<transfer_id> ids;
    for (size_t j = i; j < std::min(acked.size(), i + 8000); ++j)
      ids.push_back(xfer(acked[j]));
    auto found = c.lookup_transfers(ids);
    REQUIRE(found.ok());
    CHECK(found->size() == ids.size());
  }
  // Balance constraints held in what PostgreSQL holds.
  auto conn = fx.db.connect();
  auto over = conn->query(
      "SELECT count(*) FROM accounts WHERE flags & 2 <> 0 AND "
      "debits_posted + debits_pending > credits_posted",
      {});
  REQUIRE(over.ok());
  CHECK(std::string(over->text(0, 0)) == "0");
  fx.require_verify_ok();
}
