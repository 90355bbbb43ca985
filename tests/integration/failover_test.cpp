// Two real nodes on one PostgreSQL (issue 4, fail-over; a request sent to the node that does not own the
// tenant's shard is forwarded to the owner). The second node joins, the first hands over its share; the
// tenant under test stays on n1. Then:
// - kill -9 of n1: the survivor declares it down and takes its shards once their leases expire;
//   acknowledged transfers are intact and a retry with the same id commits exactly once;
// - n1 frozen (SIGSTOP) past its lease: n2 takes its shards; resumed (SIGCONT), the request n1 had queued
//   is refused (fenced) and nothing it held is lost; it rejoins as a new incarnation and gets its share back.
//
// Leases: heartbeat 300 ms, lease 1 s, silence 1 s. Every wait is a poll with a 60 s deadline (far past 3x
// any of them); no fixed sleep is asserted on.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cluster/placement.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/cluster_placement.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using caudal::test::default_placement;
using namespace std::chrono_literals;
using caudal::test::fast_lease_args;
using caudal::test::ledger_fixture;
using caudal::test::make_account;
using caudal::test::make_transfer;
using caudal::test::node_options;
using caudal::test::node_process;
using caudal::test::scalar;
using caudal::test::session_on;
using ledger::create_transfer_result;

namespace {

std::unique_ptr<node_process> second_node(const ledger_fixture& fx) {
  node_options o = fx.node->options();
  o.extra_args = fast_lease_args("n2");
  return std::make_unique<node_process>(std::move(o));
}

// Polls (every 50 ms, at most 60 s) until `query` answers `expected`.
bool eventually(storage::pg_connection& db, const std::string& query, const std::string& expected) {
  return caudal::test::eventually([&] { return scalar(db, query) == expected; });
}

// Sends until the node answers anything but a retryable error (at most 60 s); the last answer.
result<client::transfer_results> send_until_answered(client::connection& c, const ledger::transfer& t) {
  return caudal::test::until_answered([&] { return c.create_transfers({t}); });
}

const std::vector<cluster::placement_node> both_nodes = {{"n1", "local"}, {"n2", "local"}};

// A new tenant whose shard rendezvous hashing gives to n1 when both nodes are up (tenant ids are sequential:
// a few tries at most).
caudal::test::tenant_handle tenant_on_n1(ledger_fixture& fx) {
  for (int i = 0; i < 32; ++i) {
    auto t = fx.create_tenant("acme" + std::to_string(i));
    const uint32_t s = default_placement().shard_of(t.created.tenant.id).value();
    auto owners = default_placement().owners(both_nodes);
    if (owners[s] && both_nodes[*owners[s]].node_id == "n1")
      return t;
  }
  FAIL("no tenant placed on n1");
  return {};
}

// Waits until n1 and n2 each hold exactly their rendezvous share (the hand-off finished).
bool balanced(storage::pg_connection& db) {
  const std::string n1 = std::to_string(default_placement().shards_of("n1", both_nodes).size());
  const std::string n2 = std::to_string(default_placement().shards_of("n2", both_nodes).size());
  return eventually(
      db,
      "SELECT (SELECT count(*) FROM shard_leases WHERE owner_node = 'n1' AND expires_at > clock_timestamp()) "
      "|| '/' || (SELECT count(*) FROM shard_leases WHERE owner_node = 'n2' AND expires_at > "
      "clock_timestamp())",
      n1 + "/" + n2);
}

}  // namespace

TEST_CASE("kill -9 of the owner: the other node takes its shards after the lease, acknowledged data intact") {
  ledger_fixture fx("failover_kill", fast_lease_args("n1"));
  auto db = fx.db.connect();
  auto t = tenant_on_n1(fx);
  auto c1 = fx.session(t);
  REQUIRE(c1.create_accounts({make_account(1), make_account(2)}).ok());
  for (uint64_t id = 1; id <= 20; ++id) {
    auto r = c1.create_transfers({make_transfer(id, 1, 2, id)});
    REQUIRE(r.ok());
    REQUIRE(r->at(0) == create_transfer_result::ok);
  }

  auto n2 = second_node(fx);
  CHECK(scalar(*db, "SELECT state FROM cluster_members WHERE node_id = 'n2'") == "up");
  REQUIRE(balanced(*db));
  // The tenant stays with n1: n2 forwards to it.
  auto c2 = session_on(*n2, t);
  auto forwarded = send_until_answered(c2, make_transfer(21, 1, 2, 21));
  REQUIRE_MESSAGE(forwarded.ok(), errc_name(forwarded.error().code));
  CHECK(forwarded->at(0) == create_transfer_result::ok);

  fx.node->kill9();
  CHECK(eventually(*db, "SELECT state FROM cluster_members WHERE node_id = 'n1'", "down"));
  CHECK(eventually(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n2'", "256"));
  CHECK(scalar(*db, "SELECT min(epoch) FROM shard_leases") == "2");  // every shard changed holder once

  auto r = send_until_answered(c2, make_transfer(22, 1, 2, 22));
  REQUIRE_MESSAGE(r.ok(), errc_name(r.error().code));
  CHECK(r->at(0) == create_transfer_result::ok);
  // Every acknowledged transfer is there, once.
  CHECK(scalar(*db, "SELECT count(*) || '/' || sum(amount) FROM transfers") == "22/253");
  auto again = c2.create_transfers({make_transfer(5, 1, 2, 5)});
  REQUIRE(again.ok());
  CHECK(again->at(0) == create_transfer_result::exists);
  client::options oo = fx.operator_options();
  oo.server = n2->rpc_address();
  client::connection opc;
  REQUIRE(opc.open(oo).ok());
  auto status = opc.get_cluster_status();
  REQUIRE(status.ok());
  REQUIRE(status->nodes.size() == 2);
  CHECK(status->nodes[0].id == "n1");
  CHECK(status->nodes[0].state == "down");
  CHECK(status->nodes[0].shards == 0);
  CHECK(status->nodes[1].state == "up");
  CHECK(status->nodes[1].shards == 256);
  auto rep = opc.verify();
  REQUIRE(rep.ok());
  CHECK(rep->ok);
}

TEST_CASE("the owner frozen past its lease: taken over; resumed, its queued request is refused and it rejoins") {
  ledger_fixture fx("failover_stop", fast_lease_args("n1"));
  auto db = fx.db.connect();
  auto t = tenant_on_n1(fx);
  auto c1 = fx.session(t);
  REQUIRE(c1.create_accounts({make_account(1), make_account(2)}).ok());
  REQUIRE(c1.create_transfers({make_transfer(1, 1, 2, 10)}).ok());
  auto n2 = second_node(fx);
  REQUIRE(balanced(*db));
  const std::string n1_incarnation = scalar(*db, "SELECT incarnation FROM cluster_members WHERE node_id = 'n1'");

  // The sender's own connection (a client connection belongs to the thread that opened it), opened while
  // n1 runs; its request is sent once n1 is frozen and waits in n1's socket until n1 resumes.
  std::atomic<int> stage{0};  // 1: connected (or failed), 2: n1 frozen, send now
  result<client::transfer_results> queued = errc::internal;
  std::thread sender([&] {
    auto o = t.opts;
    o.server = fx.node->rpc_address();
    client::connection c;
    auto opened = c.open(o);
    stage = 1;
    while (stage.load() != 2)
      std::this_thread::sleep_for(5ms);
    queued = opened.ok() ? c.create_transfers({make_transfer(2, 1, 2, 20)})
                         : result<client::transfer_results>(opened.error());
  });
  while (stage.load() != 1)
    std::this_thread::sleep_for(5ms);
  REQUIRE(kill(fx.node->pid(), SIGSTOP) == 0);
  stage = 2;
  const bool taken = eventually(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n2'", "256");
  const bool declared_down = eventually(*db, "SELECT state FROM cluster_members WHERE node_id = 'n1'", "down");
  REQUIRE(kill(fx.node->pid(), SIGCONT) == 0);
  sender.join();
  REQUIRE(taken);
  CHECK(declared_down);

  // The resumed node's registry or its fenced commit refuses: nothing written.
  REQUIRE_FALSE(queued.ok());
  CHECK_MESSAGE(errc_retryable(queued.error().code), errc_name(queued.error().code));
  CHECK((queued.error().code == errc::not_owner || queued.error().code == errc::shard_moving));
  CHECK(scalar(*db, "SELECT count(*) FROM transfers") == "1");

  // It rejoins as a new incarnation, and n2 hands its share back.
  CHECK(eventually(*db,
                   "SELECT (incarnation > " + n1_incarnation +
                       ")::text || state FROM cluster_members "
                       "WHERE node_id = 'n1'",
                   "trueup"));
  REQUIRE(balanced(*db));

  auto again = session_on(*fx.node, t);
  auto r = send_until_answered(again, make_transfer(2, 1, 2, 20));
  REQUIRE_MESSAGE(r.ok(), errc_name(r.error().code));
  CHECK(r->at(0) == create_transfer_result::ok);
  CHECK(scalar(*db, "SELECT count(*) || '/' || sum(amount) FROM transfers") == "2/30");
}
