// Shards move under load (issue 4, point 8): three real nodes on one PostgreSQL, client threads sending
// create_transfers batches for several tenants through every node in turn (most requests are forwarded to
// the owner), with an ack log of every acknowledged transfer id and of every batch whose outcome is unknown
// (tests/support/ack_log_load.hpp). While the load runs, one of:
//   1. a fourth node joins: the others hand it its rendezvous share;
//   2. a node is drained (drainNode through an operator session): it ends with no shard;
//   3. a shard owner is killed (kill -9): the survivors take its shards once its leases expire.
// Then the unknown batches are retried with the same ids until answered, and PostgreSQL must hold exactly
// the acknowledged and retried transfers, each once with the content sent (nothing lost, doubled or
// extra), the accounts' balances must be their sums, and `verify` must pass.
//
// Leases: heartbeat 300 ms, lease and silence 1 s; peer connections: heartbeat 300 ms, timeout 3 s. Every
// wait is a poll with a 60 s deadline (far past 3x any of them); no timing is asserted on, the take-over
// time is only reported. Each load phase lasts 2 s and until at least 20 more batches were acknowledged.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "cluster/placement.hpp"
#include "tests/support/ack_log_load.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/cluster_placement.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using caudal::test::default_placement;
using namespace std::chrono_literals;
using caudal::test::ack_log;
using caudal::test::ack_log_load;
using caudal::test::eventually;
using caudal::test::ledger_fixture;
using caudal::test::load_options;
using caudal::test::node_options;
using caudal::test::node_process;
using caudal::test::scalar;
using caudal::test::tenant_handle;
using caudal::test::until_answered;
using caudal::test::why;
using steady = std::chrono::steady_clock;

namespace {

constexpr uint32_t accounts_per_tenant = 4;
constexpr size_t min_tenants = 8;
constexpr uint64_t phase_batches = 20;  // acknowledged batches each load phase needs at least
constexpr auto phase_time = 2s;

std::vector<std::string> node_args(const std::string& id) {
  auto a = caudal::test::fast_lease_args(id);
  a.insert(a.end(), {"--peer-heartbeat-ms", "300", "--peer-timeout-ms", "3000"});
  return a;
}

std::vector<cluster::placement_node> placement_nodes(const std::vector<std::string>& ids) {
  std::vector<cluster::placement_node> v;
  for (const auto& id : ids)
    v.push_back({id, "local"});
  return v;
}

// The node rendezvous hashing gives tenant t's shard among `live`.
std::string rendezvous_owner(const tenant_handle& t, const std::vector<std::string>& live) {
  const auto nodes = placement_nodes(live);
  const auto owner = default_placement().owners(nodes)[default_placement().shard_of(t.created.tenant.id).value()];
  REQUIRE(owner.has_value());
  return nodes[*owner].node_id;
}

// n1 (the fixture's node) and the nodes added to it, all with fast leases, on one database; the tenants
// the load writes to, each with accounts 1..accounts_per_tenant.
const std::vector<std::string> three = {"n1", "n2", "n3"};

struct cluster_under_load {
  ledger_fixture fx;
  std::unique_ptr<storage::pg_connection> db;
  std::map<std::string, std::unique_ptr<node_process>> added;  // n2, n3, ...
  std::vector<tenant_handle> tenants;

  explicit cluster_under_load(const std::string& label) : fx(label, node_args("n1")), db(fx.db.connect()) {}
  // Stops every node at once: teardown waits for the slowest stop, not for their sum (a node that does not
  // exit on SIGTERM is killed by node_process::stop after its grace period).
  ~cluster_under_load() {
    std::vector<std::thread> stops;
    for (auto& [id, n] : added)
      stops.emplace_back([p = n.get()] { p->stop(); });
    stops.emplace_back([p = fx.node.get()] { p->stop(); });
    for (auto& t : stops)
      t.join();
  }
  cluster_under_load(const cluster_under_load&) = delete;
  cluster_under_load& operator=(const cluster_under_load&) = delete;

  node_process& add_node(const std::string& id) {
    node_options o = fx.node->options();
    o.extra_args = node_args(id);
    auto& n = added[id];
    n = std::make_unique<node_process>(std::move(o));
    return *n;
  }
  node_process& node(const std::string& id) { return id == "n1" ? *fx.node : *added.at(id); }
  std::vector<std::string> rpc_addresses(const std::vector<std::string>& ids) {
    std::vector<std::string> v;
    for (const auto& id : ids)
      v.push_back(node(id).rpc_address());
    return v;
  }

  // Unexpired leases per holder: "n1:0,4,9 n2:1,2 ..." (holders in order, shards ascending).
  std::string lease_holders() {
    auto r = db->query(
        "SELECT owner_node || ':' || string_agg(shard::text, ',' ORDER BY shard) FROM shard_leases "
        "WHERE owner_node IS NOT NULL AND expires_at > clock_timestamp() GROUP BY owner_node ORDER BY owner_node",
        {});
    REQUIRE_MESSAGE(r.ok(), why(r));
    std::string s;
    for (int i = 0; i < r->size(); ++i)
      s += (i ? " " : "") + std::string(r->text(i, 0));
    return s;
  }
  // The same, as rendezvous hashing places every shard among `live` (every shard is global).
  static std::string rendezvous_holders(const std::vector<std::string>& live) {
    std::set<std::string> sorted(live.begin(), live.end());
    std::string s;
    for (const auto& id : sorted) {
      std::string list;
      for (uint32_t shard : default_placement().shards_of(id, placement_nodes(live)))
        list += (list.empty() ? "" : ",") + std::to_string(shard);
      if (!list.empty())
        s += (s.empty() ? "" : " ") + id + ":" + list;
    }
    return s;
  }
  // Every shard held, unexpired, by the node rendezvous hashing gives it among `live`; nobody else holds one.
  bool settled(const std::vector<std::string>& live) { return lease_holders() == rendezvous_holders(live); }
  bool eventually_settled(const std::vector<std::string>& live) {
    const bool ok = eventually([&] { return settled(live); });
    if (!ok)
      MESSAGE("leases not settled: held " << lease_holders() << "\nexpected " << rendezvous_holders(live));
    return ok;
  }

  std::string owner_of(const tenant_handle& t) {
    return scalar(*db, "SELECT coalesce(owner_node, '') FROM shard_leases WHERE shard = " +
                           std::to_string(default_placement().shard_of(t.created.tenant.id).value()) +
                           " AND expires_at > clock_timestamp()");
  }

  // At least min_tenants tenants, more until `enough` holds of them (tenant ids are sequential and the
  // placement deterministic: a few at most); each with its accounts, created through n1.
  template <class Pred>
  void create_tenants(Pred enough) {
    while (tenants.size() < min_tenants || !enough(tenants)) {
      REQUIRE_MESSAGE(tenants.size() < 32, "no tenant set of at most 32 fits the scenario");
      tenants.push_back(fx.create_tenant("load" + std::to_string(tenants.size())));
      auto s = caudal::test::session_on(*fx.node, tenants.back());
      std::vector<ledger::account> accounts;
      for (uint64_t a = 1; a <= accounts_per_tenant; ++a)
        accounts.push_back(caudal::test::make_account(a));
      auto r = until_answered([&] { return s.create_accounts(accounts); });
      REQUIRE_MESSAGE(r.ok(), why(r));
      for (auto code : *r)
        REQUIRE(code == ledger::create_account_result::ok);
    }
  }

  // Every scenario's start: n1..n3 up with their shares, and tenants of which at least two are on `node`
  // when rendezvous hashing runs over `live` (the node the scenario joins, drains or kills).
  void three_nodes_with_tenants_on(const std::string& node, const std::vector<std::string>& live) {
    add_node("n2");
    add_node("n3");
    REQUIRE(eventually_settled(three));
    create_tenants([&](const std::vector<tenant_handle>& ts) {
      size_t on_node = 0;
      for (const auto& t : ts)
        on_node += rendezvous_owner(t, live) == node ? 1 : 0;
      return on_node >= 2;
    });
  }

  client::connection operator_at(const std::string& id) {
    client::options o = fx.operator_options();
    o.server = node(id).rpc_address();
    client::connection c;
    auto r = c.open(o);
    REQUIRE_MESSAGE(r.ok(), why(r));
    return c;
  }
};

load_options load_of(const cluster_under_load& c, uint64_t seed) {
  load_options o;
  o.tenants = c.tenants;
  o.accounts_per_tenant = accounts_per_tenant;
  o.threads = 3;
  o.max_batch = 20;
  o.timeout_ms = 10000;
  o.seed = seed;
  return o;
}

// Lets the load run phase_time and until phase_batches more batches were acknowledged (at most 60 s).
bool load_phase(const ack_log_load& load, const std::string& name) {
  const uint64_t from = load.acked_batches();
  std::this_thread::sleep_for(phase_time);
  const bool ok = eventually([&] { return load.acked_batches() >= from + phase_batches; });
  MESSAGE("phase '" << name << "': " << load.acked_batches() - from << " batches acknowledged (" << load.sent_batches()
                    << " sent so far)");
  return ok;
}

// Stops the load, retries its unknown batches through `live`, checks the database and the balances
// against the ack log, and runs the ledger checker; the number of acknowledged transfers.
size_t finish(cluster_under_load& c, ack_log_load& load, const std::vector<std::string>& live) {
  const ack_log log = load.stop();
  MESSAGE("load (seed " << load.options().seed << "): " << log.summary());
  for (const auto& [name, n] : log.open_errors)
    MESSAGE("connections not opened: " << name << " " << n);
  std::string listed;
  for (const auto& m : log.non_retryable)
    listed += m + "\n";
  CHECK_MESSAGE(log.non_retryable.empty(), "non-retryable errors under load:\n" << listed);
  listed.clear();
  for (const auto& m : log.refusals)
    listed += m + "\n";
  CHECK_MESSAGE(log.refusals.empty(), "items refused under load:\n" << listed);

  const auto entry = c.rpc_addresses(live);
  const auto t0 = steady::now();
  load.settle(log, entry);
  MESSAGE("retried " << log.unknown_batches << " unknown batches in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count() << " ms");
  const size_t acked = load.check_against_database(log, *c.db, entry.front());
  CHECK(acked > 0);

  auto op = c.operator_at(live.front());
  auto rep = op.verify();
  REQUIRE_MESSAGE(rep.ok(), why(rep));
  std::string violations;
  for (const auto& v : rep->violations)
    violations += v + "\n";
  CHECK_MESSAGE(rep->ok, "ledger violations:\n" << violations);
  return acked;
}

const client::cluster_node_status* member(const client::cluster_status& s, const std::string& id) {
  for (const auto& n : s.nodes)
    if (n.id == id)
      return &n;
  return nullptr;
}

// Shard -> epoch of the unexpired leases `node` holds.
std::map<uint32_t, uint64_t> leases_of(storage::pg_connection& db, const std::string& node) {
  auto r = db.query("SELECT shard, epoch FROM shard_leases WHERE owner_node = $1 AND expires_at > clock_timestamp()",
                    {node.c_str()});
  REQUIRE_MESSAGE(r.ok(), why(r));
  std::map<uint32_t, uint64_t> m;
  for (int i = 0; i < r->size(); ++i)
    m[static_cast<uint32_t>(std::stoul(r->text(i, 0)))] = std::stoull(r->text(i, 1));
  return m;
}

// Of `shards` (shard -> epoch then), how many are now held, unexpired, by another node than `from` with a
// higher epoch.
size_t moved_on(storage::pg_connection& db, const std::map<uint32_t, uint64_t>& from_leases, const std::string& from) {
  auto r = db.query("SELECT shard, epoch, owner_node FROM shard_leases WHERE expires_at > clock_timestamp()", {});
  REQUIRE_MESSAGE(r.ok(), why(r));
  size_t n = 0;
  for (int i = 0; i < r->size(); ++i) {
    auto it = from_leases.find(static_cast<uint32_t>(std::stoul(r->text(i, 0))));
    if (it != from_leases.end() && std::string(r->text(i, 2)) != from && std::stoull(r->text(i, 1)) > it->second)
      ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a fourth node joins under load: it gets its rendezvous share, no acknowledged transfer lost or doubled") {
  const auto started = steady::now();
  cluster_under_load c("load_join");
  const std::vector<std::string> four = {"n1", "n2", "n3", "n4"};
  // Some tenants move to n4 when it joins (placement is deterministic: checked, not hoped for).
  c.three_nodes_with_tenants_on("n4", four);

  ack_log_load load(load_of(c, 101), c.rpc_addresses(three));
  load.start();
  CHECK(load_phase(load, "three nodes"));

  const auto joined_at = steady::now();
  auto& n4 = c.add_node("n4");
  load.add_entry_point(n4.rpc_address());
  const bool settled = c.eventually_settled(four);
  const auto settle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - joined_at).count();
  CHECK(load_phase(load, "after the join"));
  const size_t acked = finish(c, load, four);
  REQUIRE(settled);

  // n4 holds exactly its rendezvous share (settled compares every holder's shard list), each taken from
  // another holder (the next epoch), and the tenants placed there are served there.
  const auto n4_leases = leases_of(*c.db, "n4");
  CHECK(n4_leases.size() == default_placement().shards_of("n4", placement_nodes(four)).size());
  for (const auto& [shard, epoch] : n4_leases)
    CHECK(epoch >= 2);
  size_t on_n4 = 0;
  for (const auto& t : c.tenants)
    on_n4 += c.owner_of(t) == "n4" ? 1 : 0;
  CHECK(on_n4 >= 2);
  MESSAGE("join: n4 took " << n4_leases.size() << " shards (" << on_n4 << " of " << c.tenants.size() << " tenants) in "
                           << settle_ms << " ms; " << acked << " transfers acknowledged; "
                           << std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started).count()
                           << " s in all");
}

TEST_CASE("a node drained under load: it ends with no shard, no acknowledged transfer lost or doubled") {
  const auto started = steady::now();
  cluster_under_load c("load_drain");
  c.three_nodes_with_tenants_on("n2", three);
  const auto before = leases_of(*c.db, "n2");
  REQUIRE(!before.empty());

  ack_log_load load(load_of(c, 202), c.rpc_addresses(three));
  load.start();
  CHECK(load_phase(load, "three nodes"));

  // Drained through another node's Admin interface; n2 keeps serving (forwarding) as an entry point.
  auto op = c.operator_at("n1");
  const auto drained_at = steady::now();
  auto d = op.drain_node("n2");
  REQUIRE_MESSAGE(d.ok(), why(d));
  CHECK(d->state == "draining");
  const std::vector<std::string> rest = {"n1", "n3"};
  const bool settled = c.eventually_settled(rest);
  const auto settle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - drained_at).count();
  CHECK(load_phase(load, "after the drain"));
  const size_t acked = finish(c, load, three);
  REQUIRE(settled);

  CHECK(leases_of(*c.db, "n2").empty());
  CHECK(moved_on(*c.db, before, "n2") == before.size());
  auto st = op.get_cluster_status();
  REQUIRE_MESSAGE(st.ok(), why(st));
  const auto* m2 = member(*st, "n2");
  REQUIRE(m2 != nullptr);
  CHECK(m2->state == "draining");
  CHECK(m2->shards == 0);
  for (const auto& t : c.tenants)
    CHECK(c.owner_of(t) != "n2");
  MESSAGE("drain: n2's " << before.size() << " shards moved in " << settle_ms << " ms; " << acked
                         << " transfers acknowledged; "
                         << std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started).count()
                         << " s in all");
}

TEST_CASE("a shard owner killed under load: its shards taken over, the ack log matches the database") {
  const auto started = steady::now();
  cluster_under_load c("load_kill");
  c.three_nodes_with_tenants_on("n2", three);
  const auto before = leases_of(*c.db, "n2");
  REQUIRE(!before.empty());

  // The load keeps n2 among its entry points: its clients find it gone and go to the next node.
  ack_log_load load(load_of(c, 303), c.rpc_addresses(three));
  load.start();
  CHECK(load_phase(load, "three nodes"));

  const auto killed_at = steady::now();
  c.node("n2").kill9();
  const std::vector<std::string> rest = {"n1", "n3"};
  const bool taken = c.eventually_settled(rest);
  const auto takeover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - killed_at).count();
  CHECK(load_phase(load, "after the kill"));
  const size_t acked = finish(c, load, rest);
  REQUIRE(taken);

  CHECK(moved_on(*c.db, before, "n2") == before.size());
  CHECK(scalar(*c.db, "SELECT state FROM cluster_members WHERE node_id = 'n2'") == "down");
  for (const auto& t : c.tenants)
    CHECK(c.owner_of(t) != "n2");
  MESSAGE("kill -9: n2's " << before.size() << " shards taken over in " << takeover_ms
                           << " ms (lease 1 s, silence 1 s, heartbeat 300 ms); " << acked << " transfers acknowledged; "
                           << std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started).count()
                           << " s in all");
}
