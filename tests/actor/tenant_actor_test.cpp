// The tenant sequencer in one process (DESIGN.md sections 3 and 4): the real tenant registry, tenant actors
// and account actors over scripted stand-ins for the batch writer and the database pools
// (tests/actor/fake_services.hpp). Requests go through the registry with their tenant id, as the gateway
// sends them. Time is a manual clock; the actors' own timers (ticks, expiry, restart backoff) run in real
// time, so tests that need them keep them short and poll with generous deadlines.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/actor/fake_services.hpp"

namespace {

using namespace caudal;
using namespace caudal::actor_test;
using actors::account_list;
using actors::account_results;
using actors::transfer_results;
using ledger::create_transfer_result;

const tenant_id t1{1};
const tenant_id t2{2};

// --- readable views, so a failing CHECK prints what differed ---

template <class Results>
std::string codes(const caudal::result<Results>& r) {
  if (!r.ok())
    return "error:" + std::string(errc_name(r.error().code));
  std::string out;
  for (auto& c : r.value().items)
    out += (out.empty() ? "" : ",") + std::string(ledger::result_name(c));
  return out;
}

template <class R>
std::string error_of(const caudal::result<R>& r) {
  return r.ok() ? "ok" : std::string(errc_name(r.error().code));
}

template <class R>
std::string error_of(const outcome_ptr<R>& o) {
  return o->is_done() ? error_of(o->get()) : "pending";
}

std::string balances(const ledger::account& a) {
  return to_decimal(a.id.value) + ":" + std::to_string(a.debits_pending) + "/" + std::to_string(a.debits_posted) + "/" +
         std::to_string(a.credits_pending) + "/" + std::to_string(a.credits_posted);
}

// "id:debits_pending/debits_posted/credits_pending/credits_posted" of each found account, as looked up.
std::string looked_up(harness& h, tenant_id t, std::vector<uint64_t> ids) {
  auto r = h.lookup_accounts(t, ids);
  if (!r.ok())
    return "error:" + std::string(errc_name(r.error().code));
  std::string out;
  for (auto& a : r.value().items)
    out += (out.empty() ? "" : " ") + balances(a);
  return out;
}

// The same, as the database holds them.
std::string in_database(harness& h, tenant_id t, std::vector<uint64_t> ids) {
  std::string out;
  for (auto id : ids)
    if (auto row = h.world().account(t, id))
      out += (out.empty() ? "" : " ") + balances(row->account);
  return out;
}

// Every account looked up equals its database row (all fields, not only balances).
void check_lookup_equals_database(harness& h, tenant_id t, std::vector<uint64_t> ids) {
  auto r = h.lookup_accounts(t, ids);
  REQUIRE(r.ok());
  CHECK(r.value().items.size() == ids.size());
  for (auto& a : r.value().items) {
    auto row = h.world().account(t, a.id.value.lo);
    REQUIRE(row);
    CHECK(balances(a) == balances(row->account));
    CHECK(a == row->account);
  }
}

void check_database_consistent(harness& h, tenant_id t) {
  for (auto& p : h.world().problems())
    FAIL_CHECK("database refused: " << p);
  for (auto& p : h.world().verify(t))
    FAIL_CHECK("ledger check: " << p);
}

std::optional<ledger::pending_state> pending_state_of(harness& h, tenant_id t, uint64_t id) {
  auto row = h.world().transfer(t, id);
  if (!row)
    return std::nullopt;
  return row->state;
}

// A tenant with two accounts, created through the registry (account 2 may not go below zero).
void two_accounts(harness& h, tenant_id t) {
  REQUIRE(codes(h.create_accounts(
              t, {new_account(1), new_account(2, ledger::account_flags::debits_must_not_exceed_credits)})) == "ok,ok");
}

}  // namespace

TEST_CASE("requests for a tenant the database does not know answer tenant_not_found") {
  harness h;
  h.world().add_tenant(t1);
  h.start();
  CHECK(codes(h.create_accounts(tenant_id{9}, {new_account(1)})) == "error:tenant_not_found");
  // The tenant actor stops after answering; a request that reaches it while it stops is bounced as
  // tenant_unavailable (retryable), and the retry is answered by a new one.
  CHECK(eventually(
      [&] { return codes(h.create_transfers(tenant_id{9}, {new_transfer(1, 1, 2, 1)})) == "error:tenant_not_found"; }));
  two_accounts(h, t1);  // others are not affected
  CHECK(h.world().received(tenant_id{9}) == 0);
}

TEST_CASE("the registry serves a request only for the caller's own tenant and with the operation's scope") {
  harness h;
  h.world().add_tenant(t1);
  h.world().add_tenant(t2);
  h.start();
  using security_bits = uint32_t;
  const security_bits read = 1, write = 2;
  auto create_as = [&](actors::caller who, tenant_id t) {
    return error_of(h.call<actors::account_results>(actors::create_accounts_atom::value, who, t,
                                                    actors::account_batch{{new_account(1)}}));
  };
  auto lookup_as = [&](actors::caller who, tenant_id t) {
    return error_of(h.call<actors::account_list>(actors::lookup_accounts_atom::value, who, t,
                                                 actors::account_ids{{acct_id(1)}}));
  };
  // Cross-tenant: a session bound to t2 asking for t1, even with every scope.
  CHECK(create_as(actors::caller{t2, read | write}, t1) == "forbidden");
  CHECK(lookup_as(actors::caller{t2, read | write}, t1) == "forbidden");
  // An operator (no tenant) moves no money and reads no ledger.
  CHECK(create_as(actors::caller{std::nullopt, 0xffffffffu}, t1) == "forbidden");
  // Missing scope.
  CHECK(create_as(actors::caller{t1, read}, t1) == "forbidden");
  CHECK(lookup_as(actors::caller{t1, write}, t1) == "forbidden");
  // The right binding and scope.
  CHECK(create_as(actors::caller{t1, write}, t1) == "ok");
  CHECK(lookup_as(actors::caller{t1, read}, t1) == "ok");
}

TEST_CASE("answers leave in arrival order, each only after its commit") {
  node_limits limits;
  limits.unit_max_items = 1;  // one request per unit: each answer waits for its own commit
  harness h(limits);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);

  h.hold(t1);
  std::vector<outcome_ptr<transfer_results>> sent;
  for (uint64_t i = 0; i < 5; ++i)
    sent.push_back(h.send_transfers(t1, {new_transfer(100 + i, 1, 2, 10 + i)}));
  // All five ran through the state machine and wait at the writer: five units in flight at once.
  REQUIRE(eventually([&] { return h.world().held(t1) == 5; }));
  h.flush(t1);
  for (auto& o : sent)
    CHECK(error_of(o) == "pending");

  // One commit at a time: exactly the committed prefix is answered.
  for (size_t k = 0; k < sent.size(); ++k) {
    h.step(t1, 1);
    REQUIRE(eventually([&] { return sent[k]->is_done(); }));
    CHECK(h.world().transfer(t1, 100 + k));  // answered only once the database holds it
    h.flush(t1);
    for (size_t j = k + 1; j < sent.size(); ++j)
      CHECK(error_of(sent[j]) == "pending");
  }
  for (size_t k = 0; k < sent.size(); ++k) {
    CHECK(codes(sent[k]->get()) == "ok");
    if (k > 0)
      CHECK(sent[k]->arrival() > sent[k - 1]->arrival());
  }
  h.release(t1);
  CHECK(h.world().committed(t1) == 6);  // the accounts, then five transfers
  CHECK(in_database(h, t1, {1, 2}) == "1:0/60/0/0 2:0/0/0/60");
  check_lookup_equals_database(h, t1, {1, 2});
  check_database_consistent(h, t1);
}

TEST_CASE("a failed commit fails its unit and every unit computed on top of it; the tenant rebuilds") {
  node_limits limits;
  limits.unit_max_items = 1;
  limits.max_units_in_flight = 4;  // a fifth request waits in the queue, computed on nothing yet
  harness h(limits);
  h.world().add_tenant(t1);
  h.start();
  REQUIRE(codes(h.create_accounts(
              t1, {new_account(1), new_account(2, ledger::account_flags::debits_must_not_exceed_credits),
                   new_account(3)})) == "ok,ok,ok");
  check_lookup_equals_database(h, t1, {1, 2, 3});  // account actors up, holding committed state

  h.hold(t1);
  h.fail_unit(t1, 1, errc::commit_failed, false);
  auto funding = h.send_transfers(t1, {new_transfer(10, 1, 2, 100)});
  auto dependent = h.send_transfers(t1, {new_transfer(11, 2, 3, 60)});   // needs the funding
  auto independent = h.send_transfers(t1, {new_transfer(12, 1, 3, 5)});  // fine on its own
  auto retry = h.send_transfers(t1, {new_transfer(10, 1, 2, 100)});      // `exists`, on uncommitted state
  auto queued = h.send_transfers(t1, {new_transfer(14, 2, 3, 60)});      // still queued when the commit fails
  REQUIRE(eventually([&] { return h.world().held(t1) == 3; }));          // the retry wrote nothing: no unit
  h.flush(t1);
  CHECK(error_of(funding) == "pending");
  CHECK(error_of(retry) == "pending");
  CHECK(error_of(queued) == "pending");

  h.release(t1);
  REQUIRE(eventually([&] { return retry->is_done(); }));
  CHECK(error_of(funding) == "commit_failed");
  CHECK(error_of(dependent) == "commit_failed");
  CHECK(error_of(independent) == "commit_failed");
  CHECK(error_of(retry) == "commit_failed");  // its `exists` relied on the failed unit
  CHECK(funding->arrival() < dependent->arrival());
  CHECK(dependent->arrival() < independent->arrival());
  CHECK(independent->arrival() < retry->arrival());
  CHECK_FALSE(h.world().transfer(t1, 10));
  CHECK_FALSE(h.world().transfer(t1, 11));
  CHECK_FALSE(h.world().transfer(t1, 12));
  // The request that waited in the queue runs on the rebuilt working set: no funding there.
  REQUIRE(eventually([&] { return queued->is_done(); }));
  CHECK(codes(queued->get()) == "exceeds_credits");
  CHECK(queued->arrival() > retry->arrival());

  // The rebuilt tenant sees exactly what the database holds: no funding, so the dependent transfer fails.
  CHECK(codes(h.create_transfers(t1, {new_transfer(11, 2, 3, 60)})) == "exceeds_credits");
  CHECK(h.world().failed_id(t1, 11) == create_transfer_result::exceeds_credits);
  CHECK(h.world().loads(t1) == 2);  // loaded at start, then again to rebuild
  CHECK(codes(h.create_transfers(t1, {new_transfer(10, 1, 2, 100), new_transfer(13, 2, 3, 60)})) == "ok,ok");
  CHECK(in_database(h, t1, {1, 2, 3}) == "1:0/100/0/0 2:0/60/0/100 3:0/0/0/60");
  check_lookup_equals_database(h, t1, {1, 2, 3});
  check_database_consistent(h, t1);
}

TEST_CASE("commit_outcome_unknown that did commit: after the rebuild a retry answers exists, exactly once") {
  node_limits limits;
  limits.unit_max_items = 1;
  harness h(limits);
  h.world().add_tenant(t1);
  h.start();
  REQUIRE(codes(h.create_accounts(
              t1, {new_account(1), new_account(2, ledger::account_flags::debits_must_not_exceed_credits),
                   new_account(3)})) == "ok,ok,ok");
  check_lookup_equals_database(h, t1, {1, 2, 3});  // account actors up, holding committed state

  SUBCASE("the unit was applied") {
    h.hold(t1);
    h.fail_unit(t1, 1, errc::commit_outcome_unknown, true);
    auto funding = h.send_transfers(t1, {new_transfer(20, 1, 2, 50)});
    auto dependent = h.send_transfers(t1, {new_transfer(21, 2, 3, 30)});
    REQUIRE(eventually([&] { return h.world().held(t1) == 2; }));
    h.release(t1);
    REQUIRE(eventually([&] { return dependent->is_done(); }));
    CHECK(error_of(funding) == "commit_outcome_unknown");
    CHECK(error_of(dependent) == "commit_failed");  // refused by the writer: computed on top of the failure
    CHECK(h.world().transfer(t1, 20));
    CHECK_FALSE(h.world().transfer(t1, 21));

    // The rebuilt working set holds the funding: the retry answers exists and the dependent one succeeds.
    CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50), new_transfer(21, 2, 3, 30)})) == "exists,ok");
    CHECK(h.world().transfer_count(t1) == 2);
    CHECK(in_database(h, t1, {1, 2, 3}) == "1:0/50/0/0 2:0/30/0/50 3:0/0/0/30");
    // Reads agree with the database, also for accounts whose actors were up before the unknown commit.
    CHECK(looked_up(h, t1, {1, 2, 3}) == in_database(h, t1, {1, 2, 3}));
    check_lookup_equals_database(h, t1, {1, 2, 3});
  }
  SUBCASE("the unit was not applied") {
    h.fail_unit(t1, 1, errc::commit_outcome_unknown, false);
    CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50)})) == "error:commit_outcome_unknown");
    CHECK_FALSE(h.world().transfer(t1, 20));
    CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50)})) == "ok");
    CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50)})) == "exists");
    CHECK(h.world().transfer_count(t1) == 1);
    check_lookup_equals_database(h, t1, {1, 2, 3});
  }
  check_database_consistent(h, t1);
}

TEST_CASE("commit_outcome_unknown while an account's actor is being loaded: the load is read again") {
  harness h;
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);  // no account actors yet

  // A read of the accounts taken before the commit, answered after it.
  h.hold_account_loads();
  auto read = h.send<account_list>(actors::lookup_accounts_atom::value, harness::as_tenant(t1), t1,
                                   actors::account_ids{{acct_id(1), acct_id(2)}});
  REQUIRE(eventually([&] { return h.world().account_loads_held_now() == 1; }));
  h.fail_unit(t1, 1, errc::commit_outcome_unknown, true);
  CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50)})) == "error:commit_outcome_unknown");
  h.release_account_loads();
  REQUIRE(eventually([&] { return read->is_done(); }));
  CHECK(error_of(read) == "ok");

  // The account actors hold what the database holds, not the older read.
  CHECK(in_database(h, t1, {1, 2}) == "1:0/50/0/0 2:0/0/0/50");
  CHECK(looked_up(h, t1, {1, 2}) == in_database(h, t1, {1, 2}));
  CHECK(codes(h.create_transfers(t1, {new_transfer(20, 1, 2, 50)})) == "exists");
  check_lookup_equals_database(h, t1, {1, 2});
  check_database_consistent(h, t1);
}

TEST_CASE("past tenant_queue_items the excess is refused with overloaded; nothing else is lost") {
  node_limits limits;
  limits.tenant_queue_items = 14;  // a request weighs its items + 1 (so empty requests count too)
  limits.max_units_in_flight = 1;  // while the first unit waits, everything else queues
  harness h(limits);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);

  h.hold(t1);
  auto first = h.send_transfers(t1, {new_transfer(1, 1, 2, 1)});
  REQUIRE(eventually([&] { return h.world().held(t1) == 1; }));
  auto three = [](uint64_t id) {
    return std::vector<ledger::transfer>{new_transfer(id, 1, 2, 1), new_transfer(id + 1, 1, 2, 1),
                                         new_transfer(id + 2, 1, 2, 1)};
  };
  std::vector<outcome_ptr<transfer_results>> queued;
  queued.push_back(h.send_transfers(t1, three(10)));                    // weight 4
  queued.push_back(h.send_transfers(t1, three(20)));                    // 8
  queued.push_back(h.send_transfers(t1, three(30)));                    // 12
  auto too_many = h.send_transfers(t1, three(40));                      // 16 > 14: refused
  queued.push_back(h.send_transfers(t1, {new_transfer(50, 1, 2, 1)}));  // 14: fits exactly
  auto one_more = h.send_transfers(t1, {new_transfer(60, 1, 2, 1)});    // 16: refused
  auto empty = h.send_transfers(t1, {});                                // 15: refused, empty or not

  // Refusals are answered at once, while the queue still waits.
  REQUIRE(eventually([&] { return too_many->is_done() && one_more->is_done() && empty->is_done(); }));
  CHECK(error_of(too_many) == "overloaded");
  CHECK(error_of(one_more) == "overloaded");
  CHECK(error_of(empty) == "overloaded");
  h.flush(t1);
  CHECK(error_of(first) == "pending");
  for (auto& o : queued)
    CHECK(error_of(o) == "pending");

  h.release(t1);
  REQUIRE(eventually([&] { return queued.back()->is_done(); }));
  CHECK(codes(first->get()) == "ok");
  CHECK(codes(queued[0]->get()) == "ok,ok,ok");
  CHECK(codes(queued[1]->get()) == "ok,ok,ok");
  CHECK(codes(queued[2]->get()) == "ok,ok,ok");
  CHECK(codes(queued[3]->get()) == "ok");
  CHECK(h.world().transfer_count(t1) == 11);
  CHECK_FALSE(h.world().transfer(t1, 40));
  CHECK_FALSE(h.world().transfer(t1, 60));
  // Refused means nothing written: the ids are free.
  CHECK(codes(h.create_transfers(t1, three(40))) == "ok,ok,ok");
  CHECK(in_database(h, t1, {1, 2}) == "1:0/14/0/0 2:0/0/0/14");
  check_database_consistent(h, t1);
}

TEST_CASE("past tenant_requests_in_flight a tenant's requests are refused; another tenant is served") {
  node_limits limits;
  limits.tenant_requests_in_flight = 3;
  harness h(limits);
  h.world().add_tenant(t1);
  h.world().add_tenant(t2);
  h.start();
  two_accounts(h, t1);
  two_accounts(h, t2);

  h.hold(t1);
  std::vector<outcome_ptr<transfer_results>> in_flight;
  for (uint64_t i = 0; i < 3; ++i)
    in_flight.push_back(h.send_transfers(t1, {new_transfer(100 + i, 1, 2, 1)}));
  REQUIRE(eventually([&] { return h.world().held(t1) >= 1; }));
  auto refused = h.send_transfers(t1, {new_transfer(200, 1, 2, 1)});
  REQUIRE(eventually([&] { return refused->is_done(); }));
  CHECK(error_of(refused) == "overloaded");
  CHECK(codes(h.create_transfers(t2, {new_transfer(1, 1, 2, 1)})) == "ok");  // t2 has its own budget

  h.release(t1);
  REQUIRE(eventually([&] { return in_flight.back()->is_done(); }));
  for (auto& o : in_flight)
    CHECK(codes(o->get()) == "ok");
  CHECK(codes(h.create_transfers(t1, {new_transfer(200, 1, 2, 1)})) == "ok");  // the refused id was free
  check_database_consistent(h, t1);
}

TEST_CASE("a full node passivates its least recently used tenant to make room") {
  node_limits limits;
  limits.max_active_tenants = 1;
  harness h(limits);
  h.world().add_tenant(t1);
  h.world().add_tenant(t2);
  h.start();
  two_accounts(h, t1);
  // t2 finds the node full: refused (retryable) while t1 is asked to passivate; then served.
  auto first = h.create_transfers(t2, {new_transfer(1, 1, 2, 1)});
  CHECK(codes(first) == "error:overloaded");
  bool served = false;
  REQUIRE(eventually([&] {
    served = codes(h.create_accounts(t2, {new_account(1), new_account(2)})) == "ok,ok";
    return served;
  }));
  CHECK(codes(h.create_transfers(t2, {new_transfer(1, 1, 2, 1)})) == "ok");
  check_database_consistent(h, t1);
  check_database_consistent(h, t2);
}

TEST_CASE("a tenant crash fails its in-flight requests at once; it restarts after the writer barrier") {
  node_limits limits;
  limits.unit_max_items = 1;
  harness h(limits);
  h.world().add_tenant(t1);
  h.world().add_tenant(t2);
  h.start();
  two_accounts(h, t1);
  two_accounts(h, t2);  // both tenants loaded (past their start barrier) before t1's units are held

  h.hold(t1);
  std::vector<outcome_ptr<transfer_results>> in_flight;
  for (uint64_t i = 0; i < 3; ++i)
    in_flight.push_back(h.send_transfers(t1, {new_transfer(30 + i, 1, 2, 1)}));
  REQUIRE(eventually([&] { return h.world().held(t1) == 3; }));
  caf::actor crashed = h.world().loader_of(t1);
  REQUIRE(crashed);

  REQUIRE(error_of(h.call<caf::unit_t>(actors::crash_atom::value, t1)) == "ok");
  REQUIRE(eventually([&] { return in_flight.back()->is_done(); }, 2000ms));
  for (auto& o : in_flight)
    CHECK(error_of(o) == "tenant_unavailable");
  CHECK(h.wait_down(crashed));
  // The other tenant is served throughout.
  CHECK(codes(h.create_transfers(t2, {new_transfer(1, 1, 2, 1)})) == "ok");

  // Down until its backoff has passed (on the node's clock).
  CHECK(codes(h.create_transfers(t1, {new_transfer(33, 1, 2, 1)})) == "error:tenant_unavailable");
  h.clock().advance_ns(ns_per_s);
  // The registry restarts it; the new incarnation first waits for the writer to answer what the dead one
  // sent (still held), so it cannot read the tenant back while those units may still commit.
  REQUIRE(eventually([&] { return h.world().barriers() == 1; }));
  auto waiting = h.send_transfers(t1, {new_transfer(33, 1, 2, 1)});
  h.flush(t1);
  CHECK(error_of(waiting) == "pending");
  CHECK(h.world().loads(t1) == 1);
  CHECK(codes(h.create_transfers(t2, {new_transfer(2, 1, 2, 1)})) == "ok");

  h.release(t1);
  REQUIRE(eventually([&] { return waiting->is_done(); }));
  CHECK(codes(waiting->get()) == "ok");
  CHECK(h.world().loads(t1) == 2);
  caf::actor restarted = h.world().loader_of(t1);
  CHECK(restarted != crashed);
  // The dead incarnation's units did commit: their retries answer exists (exactly once).
  CHECK(codes(h.create_transfers(t1, {new_transfer(30, 1, 2, 1), new_transfer(31, 1, 2, 1),
                                      new_transfer(32, 1, 2, 1)})) == "exists,exists,exists");
  CHECK(h.world().transfer_count(t1) == 4);
  check_lookup_equals_database(h, t1, {1, 2});
  check_lookup_equals_database(h, t2, {1, 2});
  check_database_consistent(h, t1);
  check_database_consistent(h, t2);
}

TEST_CASE("account actors answer committed state only, and come back after a crash") {
  harness h;
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  REQUIRE(codes(h.create_transfers(t1, {new_transfer(40, 1, 2, 10)})) == "ok");
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/10/0/0 2:0/0/0/10");

  // Work the writer holds is not visible to reads.
  h.hold(t1);
  auto held = h.send_transfers(t1, {new_transfer(41, 1, 2, 5)});
  REQUIRE(eventually([&] { return h.world().held(t1) == 1; }));
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/10/0/0 2:0/0/0/10");
  CHECK(looked_up(h, t1, {2, 1, 9}) == "2:0/0/0/10 1:0/10/0/0");  // request order; unknown ids left out
  h.release(t1);
  REQUIRE(eventually([&] { return held->is_done(); }));
  CHECK(codes(held->get()) == "ok");
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/15/0/0 2:0/0/0/15");  // visible once answered

  // A crashed account actor: reads answer a retryable error or the right state, then the right state.
  CHECK(error_of(h.call<caf::unit_t>(actors::crash_account_atom::value, t1, acct_id(1))) == "ok");
  std::string first = looked_up(h, t1, {1, 2});
  CHECK((first == "1:0/15/0/0 2:0/0/0/15" || first == "error:tenant_unavailable"));
  CHECK(eventually([&] { return looked_up(h, t1, {1, 2}) == "1:0/15/0/0 2:0/0/0/15"; }));
  // The restarted actor keeps receiving committed state.
  CHECK(codes(h.create_transfers(t1, {new_transfer(42, 1, 2, 1)})) == "ok");
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/16/0/0 2:0/0/0/16");
  // Crashing an account without an actor is refused.
  CHECK(error_of(h.call<caf::unit_t>(actors::crash_account_atom::value, t1, acct_id(7))) == "invalid_request");
  check_lookup_equals_database(h, t1, {1, 2});
  check_database_consistent(h, t1);
}

TEST_CASE("a pending transfer expires when the tenant's clock passes its timeout") {
  harness h;
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  REQUIRE(codes(h.create_transfers(t1, {new_transfer(50, 1, 2, 100, ledger::transfer_flags::pending, 1)})) == "ok");
  CHECK(looked_up(h, t1, {1, 2}) == "1:100/0/0/0 2:0/0/100/0");
  CHECK(pending_state_of(h, t1, 50) == ledger::pending_state::pending);

  // The tenant's timer (real time, about the 1 s timeout) finds the clock past the expiry.
  h.clock().advance_ns(2 * ns_per_s);
  REQUIRE(eventually([&] { return pending_state_of(h, t1, 50) == ledger::pending_state::expired; }));
  CHECK(eventually([&] { return looked_up(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0"; }));
  CHECK(codes(h.create_transfers(t1, {resolve_pending(51, 50, ledger::transfer_flags::post_pending_transfer)})) ==
        "pending_transfer_expired");
  check_lookup_equals_database(h, t1, {1, 2});
  check_database_consistent(h, t1);
}

TEST_CASE("more pending expiries than max_expiries_loaded: all expire after the tenant reloads") {
  node_limits limits;
  limits.max_expiries_loaded = 2;  // the tenant keeps two in memory and reads on from the database
  harness h(limits);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  std::vector<ledger::transfer> pending;
  for (uint64_t i = 0; i < 5; ++i)
    pending.push_back(new_transfer(80 + i, 1, 2, 10, ledger::transfer_flags::pending, 1));
  REQUIRE(codes(h.create_transfers(t1, pending)) == "ok,ok,ok,ok,ok");
  caf::actor first = h.world().loader_of(t1);
  REQUIRE(first);
  CHECK(error_of(h.call<caf::unit_t>(actors::passivate_atom::value, t1)) == "ok");
  REQUIRE(h.wait_down(first));

  // The next incarnation loads two of the five; the rest come from the database as those go.
  h.clock().advance_ns(2 * ns_per_s);
  CHECK(looked_up(h, t1, {1, 2}) == "1:50/0/0/0 2:0/0/50/0");
  REQUIRE(eventually([&] {
    for (uint64_t i = 0; i < 5; ++i)
      if (pending_state_of(h, t1, 80 + i) != ledger::pending_state::expired)
        return false;
    return true;
  }));
  CHECK(eventually([&] { return looked_up(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0"; }));
  check_database_consistent(h, t1);
}

TEST_CASE("an idle tenant is passivated and comes back with its state from the database") {
  node_timing timing;
  timing.tenant_idle_ms = 100;  // ticks every 50 ms; idleness is measured on the manual clock
  harness h({}, timing);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  REQUIRE(codes(h.create_transfers(t1, {new_transfer(60, 1, 2, 10)})) == "ok");
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/10/0/0 2:0/0/0/10");
  caf::actor first = h.world().loader_of(t1);
  REQUIRE(first);

  h.clock().advance_ns(ns_per_s);
  CHECK(h.wait_down(first));

  // The next request brings it back, from the database.
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/10/0/0 2:0/0/0/10");
  CHECK(codes(h.create_transfers(t1, {new_transfer(60, 1, 2, 10), new_transfer(61, 1, 2, 1)})) == "exists,ok");
  CHECK(h.world().loads(t1) == 2);
  CHECK(h.world().loader_of(t1) != first);
  // Its clock came back too: timestamps stay strictly increasing across incarnations.
  CHECK(h.world().transfer(t1, 61)->transfer.timestamp > h.world().transfer(t1, 60)->transfer.timestamp);
  check_lookup_equals_database(h, t1, {1, 2});
  check_database_consistent(h, t1);
}

TEST_CASE("the passivate hook passivates the tenant now") {
  harness h;  // default timing: the tenant is not idle and ticks only every 5 s
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0");
  caf::actor first = h.world().loader_of(t1);
  REQUIRE(first);

  CHECK(error_of(h.call<caf::unit_t>(actors::passivate_atom::value, t1)) == "ok");
  CHECK(h.wait_down(first, 2000ms));
  CHECK(codes(h.create_transfers(t1, {new_transfer(1, 1, 2, 1)})) == "ok");
  CHECK(h.world().loads(t1) == 2);
  check_database_consistent(h, t1);
}

TEST_CASE("a tenant whose account actor was crashed still passivates when idle") {
  node_timing timing;
  timing.tenant_idle_ms = 100;
  harness h({}, timing);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  CHECK(looked_up(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0");
  caf::actor first = h.world().loader_of(t1);
  REQUIRE(first);
  CHECK(error_of(h.call<caf::unit_t>(actors::crash_account_atom::value, t1, acct_id(1))) == "ok");
  CHECK(eventually([&] { return looked_up(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0"; }));

  h.clock().advance_ns(ns_per_s);
  CHECK(h.wait_down(first, 3000ms));
}

TEST_CASE("a passivated tenant is woken when its pending transfer is due, and expires it") {
  node_timing timing;
  timing.tenant_idle_ms = 100;
  harness h({}, timing);
  h.world().add_tenant(t1);
  h.start();
  two_accounts(h, t1);
  REQUIRE(codes(h.create_transfers(t1, {new_transfer(70, 1, 2, 100, ledger::transfer_flags::pending, 1)})) == "ok");
  caf::actor first = h.world().loader_of(t1);
  REQUIRE(first);

  h.clock().advance_ns(200 * ns_per_ms);  // idle, but the transfer is not due yet
  REQUIRE(h.wait_down(first));
  CHECK(pending_state_of(h, t1, 70) == ledger::pending_state::pending);
  h.clock().advance_ns(2 * ns_per_s);
  // Nobody sends the tenant anything: the registry wakes it for the expiry.
  REQUIRE(eventually([&] { return pending_state_of(h, t1, 70) == ledger::pending_state::expired; }));
  CHECK(h.world().loads(t1) == 2);
  CHECK(in_database(h, t1, {1, 2}) == "1:0/0/0/0 2:0/0/0/0");
  check_database_consistent(h, t1);
}
