// Supervision (DESIGN.md section 3): crashed account and tenant actors come back from PostgreSQL with their
// balances intact; their in-flight requests get a retryable error; other tenants keep flowing meanwhile.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;
using namespace std::chrono_literals;

namespace {

client::fault fault_of(client::fault_kind k, tenant_id t, uint64_t account = 0, uint32_t delay_ms = 0) {
  client::fault f;
  f.kind = k;
  f.tenant = t;
  f.account = acct(account);
  f.delay_ms = delay_ms;
  return f;
}

// Looks account `id` up until it answers (retryable errors are expected while it restarts).
ledger::account lookup_until_ok(client::connection& c, uint64_t id) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (true) {
    auto r = c.lookup_accounts({acct(id)});
    if (r.ok()) {
      REQUIRE(r->size() == 1);
      return r->front();
    }
    INFO("lookup failed with " << errc_name(r.error().code));
    REQUIRE(errc_retryable(r.error().code));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

TEST_CASE("a crashed account actor is restarted from PostgreSQL with its balances") {
  ledger_fixture fx("sup_account");
  auto t = fx.create_tenant("sup-acct");
  auto c = fx.session(t);
  REQUIRE(c.create_accounts({make_account(1), make_account(2)}).ok());
  REQUIRE(c.create_transfers({make_transfer(1, 1, 2, 40), make_transfer(2, 2, 1, 15)}).ok());
  auto before = lookup_until_ok(c, 1);  // the account actor is active now
  CHECK(before.debits_posted == 40);

  auto op = fx.operator_session();
  for (int round = 0; round < 3; ++round) {
    REQUIRE(op.inject_fault(fault_of(client::fault_kind::crash_account, t.created.tenant.id, 1)).ok());
    // Reads queued behind the crash are refused with a retryable error, never a wrong answer.
    auto during = c.lookup_accounts({acct(1)});
    if (during.ok()) {
      REQUIRE(during->size() == 1);
      CHECK(during->front() == before);
    } else {
      CHECK(errc_retryable(during.error().code));
    }
    auto after = lookup_until_ok(c, 1);
    CHECK(after == before);
    // Writes keep working and the restarted actor sees them.
    REQUIRE(c.create_transfers({make_transfer(100 + round, 1, 2, 1)}).ok());
    before = lookup_until_ok(c, 1);
    CHECK(before.debits_posted == 41 + static_cast<uint64_t>(round));
  }
  CHECK(fx.node->log_tail(200).find("restarting from PostgreSQL") != std::string::npos);
  fx.require_verify_ok();
}

TEST_CASE("a crashed tenant actor fails its in-flight work retryably while other tenants keep flowing") {
  ledger_fixture fx("sup_tenant");
  auto a = fx.create_tenant("crashing");
  auto b = fx.create_tenant("bystander");
  auto ca = fx.session(a);
  auto cb = fx.session(b);
  REQUIRE(ca.create_accounts({make_account(1), make_account(2)}).ok());
  REQUIRE(cb.create_accounts({make_account(1), make_account(2)}).ok());
  REQUIRE(ca.create_transfers({make_transfer(1, 1, 2, 10)}).ok());

  auto op = fx.operator_session();
  // Hold commits open so that A's next request is in flight when A's actor crashes.
  REQUIRE(op.inject_fault(fault_of(client::fault_kind::writer_delay, tenant_id{}, 0, 2000)).ok());
  auto in_flight = std::async(std::launch::async, [&fx, &a] {
    auto c = fx.session(a);
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.create_transfers({make_transfer(2, 1, 2, 5)});
    return std::make_pair(std::move(r), std::chrono::steady_clock::now() - t0);
  });
  std::this_thread::sleep_for(500ms);
  REQUIRE(op.inject_fault(fault_of(client::fault_kind::crash_tenant, a.created.tenant.id)).ok());
  auto [r, took] = in_flight.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::tenant_unavailable);
  CHECK(errc_retryable(r.error().code));
  CHECK(took < 8s);  // failed when the actor went down, not at the request deadline

  REQUIRE(op.inject_fault(fault_of(client::fault_kind::writer_delay, tenant_id{}, 0, 0)).ok());
  // B is unaffected: its requests keep succeeding while A restarts.
  for (int i = 0; i < 20; ++i) {
    auto rb = cb.create_transfers({make_transfer(1000 + i, 1, 2, 1)});
    REQUIRE(rb.ok());
    CHECK(rb->at(0) == create_transfer_result::ok);
  }
  // A comes back; the retry with the same id is safe: it either applies now or answers exists.
  std::optional<ledger::create_transfer_result> retried;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!retried) {
    auto rr = ca.create_transfers({make_transfer(2, 1, 2, 5)});
    if (rr.ok()) {
      retried = rr->at(0);
    } else {
      REQUIRE(errc_retryable(rr.error().code));
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK((*retried == create_transfer_result::ok || *retried == create_transfer_result::exists));
  auto a1 = lookup_until_ok(ca, 1);
  CHECK(a1.debits_posted == 15);  // exactly once
  auto b1 = lookup_until_ok(cb, 1);
  CHECK(b1.debits_posted == 20);
  fx.require_verify_ok();
}
