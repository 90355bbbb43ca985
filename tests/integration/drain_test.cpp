// Draining a node (issue 4): the operator sets a member draining through the Admin RPC (drainNode); its
// lease manager hands every shard it holds to the other live node (the registry quiesces the shard's
// tenants, the lease is released, the other node takes it with the next epoch). The drained node stays
// draining through its heartbeats and takes nothing back; the tenants it served are served by the other
// node with their data intact; a restart rejoins it as up. Refusals: unknown node, node down, a session
// without the admin scope. `caudal cluster drain --wait` waits for the hand-over, or times out saying why.
//
// Leases: heartbeat 300 ms (a hand-over takes a round or two of it), lease and silence 3 s (10x the
// heartbeat, so a node slowed by a busy machine is not declared down mid-test). Every wait is a poll with a
// 60 s deadline; no fixed sleep is asserted on.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cluster/placement.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/cluster_placement.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using caudal::test::default_placement;
using namespace std::chrono_literals;
using caudal::test::eventually;
using caudal::test::ledger_fixture;
using caudal::test::make_account;
using caudal::test::make_transfer;
using caudal::test::node_options;
using caudal::test::node_process;
using caudal::test::scalar;
using caudal::test::session_on;
using ledger::create_transfer_result;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lease_args(const std::string& node_id) {
  return {"--node-id", node_id, "--heartbeat-ms", "300", "--lease-ms", "3000", "--silent-after-ms", "3000"};
}

std::unique_ptr<node_process> second_node(const ledger_fixture& fx) {
  node_options o = fx.node->options();
  o.extra_args = lease_args("n2");
  return std::make_unique<node_process>(std::move(o));
}

// Sends until the node answers anything but a retryable error (at most 60 s); the last answer.
result<client::transfer_results> send_until_answered(client::connection& c, const ledger::transfer& t) {
  return caudal::test::until_answered([&] { return c.create_transfers({t}); });
}

std::string unexpired_leases(storage::pg_connection& db, const std::string& node) {
  return scalar(
      db, "SELECT count(*) FROM shard_leases WHERE owner_node = '" + node + "' AND expires_at > clock_timestamp()");
}

std::string owner_of(storage::pg_connection& db, const caudal::test::tenant_handle& t) {
  const uint32_t s = default_placement().shard_of(t.created.tenant.id).value();
  return scalar(db, "SELECT coalesce(owner_node, '') FROM shard_leases WHERE shard = " + std::to_string(s) +
                        " AND expires_at > clock_timestamp()");
}

const client::cluster_node_status* member(const client::cluster_status& s, const std::string& id) {
  for (const auto& n : s.nodes)
    if (n.id == id)
      return &n;
  return nullptr;
}

template <class T>
errc code_of(const result<T>& r) {
  return r.ok() ? errc::none : r.error().code;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct ran {
  int code = -1;
  std::string out, err;
};

// `caudal ARGS` as the operator at `node` (flags only: CAUDAL_CLIENT_FILE names a file that does not exist).
ran caudal_cli(const node_process& node, const std::string& args) {
  char tmpl[] = "/tmp/caudal-drain-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const fs::path dir(tmpl);
  const std::string cmd = "CAUDAL_CLIENT_FILE=" + quote((dir / "none.json").string()) + " " + quote(CAUDAL_CLI_BINARY) +
                          " --server " + node.rpc_address() + " --ca-file " + quote(node.ca_file()) + " --client-id " +
                          quote(node.options().operator_client_id) + " --client-secret " +
                          quote(node.options().operator_secret) + " " + args + " 2>" + quote((dir / "err").string());
  ran r;
  r.out = caudal::test::run_command(cmd, &r.code);
  std::stringstream e;
  e << std::ifstream(dir / "err").rdbuf();
  r.err = e.str();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

}  // namespace

TEST_CASE("drain: the node hands every shard to the other, stays draining, and its tenants are served there") {
  ledger_fixture fx("drain", lease_args("n1"));
  auto db = fx.db.connect();
  // Tenants with accounts and a committed transfer, all on n1 (the only node yet).
  constexpr int tenants = 6;
  std::vector<caudal::test::tenant_handle> ts;
  for (int i = 0; i < tenants; ++i) {
    ts.push_back(fx.create_tenant("d" + std::to_string(i)));
    auto c = fx.session(ts.back());
    REQUIRE(c.create_accounts({make_account(1), make_account(2)}).ok());
    auto r = c.create_transfers({make_transfer(1, 1, 2, 100)});
    REQUIRE_MESSAGE(r.ok(), errc_name(code_of(r)));
    CHECK(r->at(0) == create_transfer_result::ok);
  }

  // n2 joins and takes its share; a second transfer per tenant at its owner.
  auto n2 = second_node(fx);
  const std::vector<cluster::placement_node> both = {{"n1", "local"}, {"n2", "local"}};
  const std::string n2_share = std::to_string(default_placement().shards_of("n2", both).size());
  REQUIRE(eventually([&] { return unexpired_leases(*db, "n2") == n2_share; }));
  size_t on_n1 = 0;
  for (const auto& t : ts) {
    const bool mine = owner_of(*db, t) == "n1";
    on_n1 += mine ? 1 : 0;
    auto c = session_on(mine ? *fx.node : *n2, t);
    auto r = send_until_answered(c, make_transfer(2, 1, 2, 10));
    REQUIRE_MESSAGE(r.ok(), errc_name(code_of(r)));
    CHECK(r->at(0) == create_transfer_result::ok);
  }
  REQUIRE(on_n1 > 0);  // deterministic placement: tenants 1..6 are not all n2's

  // Drain n1, through n1 itself (a draining node still serves the Admin interface).
  auto op = fx.operator_session();
  auto drained = op.drain_node("n1");
  REQUIRE_MESSAGE(drained.ok(), errc_name(code_of(drained)));
  CHECK(drained->id == "n1");
  CHECK(drained->state == "draining");
  CHECK(drained->incarnation == 1);

  REQUIRE(eventually([&] { return unexpired_leases(*db, "n1") == "0" && unexpired_leases(*db, "n2") == "256"; }));
  // Every shard came to n2 from n1 (epoch 1) as a new holder: the next epoch.
  CHECK(scalar(*db, "SELECT min(epoch) || '/' || max(epoch) FROM shard_leases WHERE owner_node = 'n2'") == "2/2");

  // As the operator sees it; and again several heartbeats later: n1 stays draining and takes nothing back.
  for (int round = 0; round < 2; ++round) {
    auto st = op.get_cluster_status();
    REQUIRE_MESSAGE(st.ok(), errc_name(code_of(st)));
    const auto* n1 = member(st.value(), "n1");
    const auto* m2 = member(st.value(), "n2");
    REQUIRE(n1 != nullptr);
    REQUIRE(m2 != nullptr);
    CHECK(n1->state == "draining");
    CHECK(n1->incarnation == 1);
    CHECK(n1->shards == 0);
    CHECK(m2->state == "up");
    CHECK(m2->shards == 256);
    CHECK(st->shards_owned == 256);
    if (round == 0)
      std::this_thread::sleep_for(1500ms);  // 5 heartbeats of n1 (nothing timed is asserted)
  }

  // Draining again changes nothing.
  auto again = op.drain_node("n1");
  REQUIRE_MESSAGE(again.ok(), errc_name(code_of(again)));
  CHECK(again->state == "draining");
  CHECK(again->incarnation == 1);
  CHECK(again->shards == 0);

  // Every tenant is served by n2, with what was committed before the drain.
  for (size_t i = 0; i < ts.size(); ++i) {
    auto c = session_on(*n2, ts[i]);
    auto r = send_until_answered(c, make_transfer(3, 1, 2, 1));
    REQUIRE_MESSAGE(r.ok(), errc_name(code_of(r)));
    CHECK(r->at(0) == create_transfer_result::ok);
    auto accounts = c.lookup_accounts({account_id(u128{0, 1}), account_id(u128{0, 2})});
    REQUIRE_MESSAGE(accounts.ok(), errc_name(code_of(accounts)));
    REQUIRE(accounts->size() == 2);
    CHECK(accounts->at(0).debits_posted == 111);
    CHECK(accounts->at(1).credits_posted == 111);
  }

  // The drain is in the audit trail, with who asked and what happened.
  auto events = op.list_audit(0, 1000);
  REQUIRE_MESSAGE(events.ok(), errc_name(code_of(events)));
  int drains = 0;
  for (const auto& e : events.value())
    if (e.action == "drain_node" && e.outcome == "ok") {
      ++drains;
      CHECK(e.client_id == "operator");
      CHECK(e.detail.find("node n1 incarnation 1 draining") == 0);
    }
  CHECK(drains == 2);
  fx.require_verify_ok();
}

TEST_CASE("drain: refusals (unknown node, node down, no admin scope), --wait and its timeout, restart rejoins up") {
  ledger_fixture fx("drain_cli", lease_args("n1"));
  auto db = fx.db.connect();
  auto n2 = second_node(fx);
  const std::vector<cluster::placement_node> both = {{"n1", "local"}, {"n2", "local"}};
  const std::string n2_share = std::to_string(default_placement().shards_of("n2", both).size());
  REQUIRE(eventually([&] { return unexpired_leases(*db, "n2") == n2_share; }));
  auto op = fx.operator_session();

  auto unknown = op.drain_node("n9");
  CHECK(code_of(unknown) == errc::node_not_found);
  CHECK_FALSE(errc_retryable(errc::node_not_found));
  CHECK(code_of(op.drain_node("")) == errc::invalid_request);

  // A tenant's session has no admin scope: no Admin interface, so no drain.
  auto t = fx.create_tenant("nodrain");
  auto tc = fx.session(t);
  CHECK(code_of(tc.drain_node("n1")) == errc::forbidden);

  // The CLI: --wait until n2 holds nothing.
  ran r = caudal_cli(*fx.node, "cluster drain n2 --wait --timeout 60 --json");
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["drained"] == true);
  CHECK(j["node"]["id"] == "n2");
  CHECK(j["node"]["state"] == "draining");
  CHECK(j["node"]["shards"] == 0);
  REQUIRE(eventually([&] { return unexpired_leases(*db, "n1") == "256"; }));

  // n1 is now the only node up: drained too, its shards have nowhere to go; --wait says so when it gives up.
  r = caudal_cli(*fx.node, "cluster drain n1 --wait --timeout 2");
  CHECK(r.code == 1);
  CHECK(r.err.find("timeout: node n1 still holds 256 shards") != std::string::npos);
  CHECK(r.err.find("no other node is up") != std::string::npos);
  CHECK(unexpired_leases(*db, "n1") == "256");  // kept (and renewed), not dropped

  r = caudal_cli(*fx.node, "cluster drain n9");
  CHECK(r.code == 1);
  CHECK(r.err.find("node_not_found: no cluster member is called 'n9'") != std::string::npos);

  // n2 stopped (a clean stop leaves the cluster: state down): nothing to drain.
  n2->stop();
  CHECK(code_of(op.drain_node("n2")) == errc::node_down);
  r = caudal_cli(*fx.node, "cluster drain n2 --json");
  CHECK(r.code == 1);
  CHECK(nlohmann::json::parse(r.out, nullptr, false) == nlohmann::json{{"error", "node_down"}, {"retryable", true}});

  // A restart rejoins as up (a new incarnation) and takes the shards again.
  fx.node->restart();
  REQUIRE(eventually([&] { return unexpired_leases(*db, "n1") == "256"; }));
  auto op2 = fx.operator_session();
  auto st = op2.get_cluster_status();
  REQUIRE_MESSAGE(st.ok(), errc_name(code_of(st)));
  const auto* n1 = member(st.value(), "n1");
  REQUIRE(n1 != nullptr);
  CHECK(n1->state == "up");
  CHECK(n1->incarnation == 2);

  // Refusals are audited too.
  auto events = op2.list_audit(0, 1000);
  REQUIRE_MESSAGE(events.ok(), errc_name(code_of(events)));
  bool not_found = false, down = false, forbidden = false;
  for (const auto& e : events.value()) {
    not_found |= e.action == "drain_node" && e.outcome == "node_not_found" && e.detail == "node n9";
    down |= e.action == "drain_node" && e.outcome == "node_down" && e.detail == "node n2";
    forbidden |= e.action == "admin" && e.outcome == "forbidden" && e.client_id == t.created.client_id;
  }
  CHECK(not_found);
  CHECK(down);
  CHECK(forbidden);
}
