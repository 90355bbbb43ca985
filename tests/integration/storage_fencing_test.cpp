// Fencing in the group commit (DESIGN.md invariant 7): a unit of work is written only while its shard lease
// is held at the unit's epoch, unexpired by PostgreSQL's clock; a fenced unit writes nothing while the
// other shards' units of the same group commit; and a lease cannot change hands while a commit that checked
// it is still open. No timing: leases expire by SQL, and the concurrent case waits on lock states.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "storage/cluster_store.hpp"
#include "storage/ledger_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using namespace caudal::test;
using storage::held_lease;
using storage::shard_fence;

namespace {

constexpr uint32_t lease_ms = 60000;  // long: a lease only expires when a test says so

struct two_shards {
  storage::member_identity a, b;
  tenant_id one, two;
  ledger_sim sim_one{1'000'000'000}, sim_two{2'000'000'000};
  std::vector<ledger::effects> kept;

  explicit two_shards(storage::pg_connection& c) {
    storage::cluster_shape s;
    s.shard_count = 8;
    s.trust.transport = storage::transport_mode::insecure;
    REQUIRE(storage::ensure_cluster(c, s, "a").ok());
    auto ja = storage::join(c, "a", {"", "rpc-a", "http-a"}, "us");
    auto jb = storage::join(c, "b", {"", "rpc-b", "http-b"}, "us");
    REQUIRE(ja.ok());
    REQUIRE(jb.ok());
    a = ja.value();
    b = jb.value();
    auto got = storage::acquire_leases(c, a, {0, 1}, lease_ms);
    REQUIRE(got.ok());
    REQUIRE(got.value() == std::vector<held_lease>{{0, 1}, {1, 1}});
    one = new_tenant(c, "one");
    two = new_tenant(c, "two");
    kept.reserve(16);
    for (auto* s2 : {&sim_one, &sim_two}) {
      s2->create_account(acct(1));
      s2->create_account(acct(2));
      s2->single(xfer(1), acct(1), acct(2), 10);
    }
    kept.push_back(sim_one.take());
    kept.push_back(sim_two.take());
    auto r = storage::commit_group(c, {{one, &kept[0], shard_fence{0, 1}}, {two, &kept[1], shard_fence{1, 1}}});
    REQUIRE_MESSAGE(r.ok(), why(r));
    REQUIRE(r->fenced.empty());
  }
  // The next unit of a tenant: one more transfer.
  ledger::effects* next(ledger_sim& sim, uint64_t id) {
    sim.single(xfer(id), acct(1), acct(2), 3);
    kept.push_back(sim.take());
    return &kept.back();
  }
};

std::string transfers_of(storage::pg_connection& c, tenant_id t) {
  return scalar(c, "SELECT count(*) || '/' || coalesce(sum(amount), 0) FROM transfers WHERE tenant_id = " +
                       std::to_string(t.value));
}

std::string clock_of(storage::pg_connection& c, tenant_id t) {
  return scalar(c, "SELECT last_timestamp FROM tenants WHERE tenant_id = " + std::to_string(t.value));
}

void require_consistent(storage::pg_connection& c) {
  auto report = storage::verify(c);
  REQUIRE_MESSAGE(report.ok(), why(report));
  CHECK_MESSAGE(report->ok, (report->violations.empty() ? std::string() : report->violations[0]));
}

// "state:wait_event_type" of a backend (ask from a session outside any transaction: statistics are a
// snapshot within one), e.g. "active:Lock" while it waits for a row lock.
std::string backend_wait(storage::pg_connection& admin, int pid) {
  const std::string p = std::to_string(pid);
  auto r = admin.query("SELECT state || ':' || coalesce(wait_event_type, '') FROM pg_stat_activity WHERE pid = $1::int",
                       {p.c_str()});
  return r.ok() && r->size() == 1 ? std::string(r->text(0, 0)) : std::string();
}

// Waits (bounded: 60 s, only reached when the awaited state never comes) until the backend waits on a lock.
bool wait_until_blocked(storage::pg_connection& admin, int pid) {
  for (int i = 0; i < 6000; ++i) {
    if (backend_wait(admin, pid) == "active:Lock")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE_TEMPLATE("one group, two shards, one of them taken over: the other commits, the fenced one writes nothing", P,
                   pipelined_path, copied_path) {
  test_database db("fence_group");
  auto c = db.connect();
  two_shards l(*c);
  const std::string two_before = transfers_of(*c, l.two), two_clock = clock_of(*c, l.two);
  const std::string one_before = transfers_of(*c, l.one);

  // b takes shard 1 over after a's lease expired: epoch 2.
  sql_ok(*c, "UPDATE shard_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE shard = 1");
  auto taken = storage::acquire_leases(*c, l.b, {1}, lease_ms);
  REQUIRE(taken.ok());
  REQUIRE(taken.value() == std::vector<held_lease>{{1, 2}});

  auto* u1 = l.next(l.sim_one, 10);
  auto* u2 = l.next(l.sim_two, 10);
  auto r = storage::commit_group(*c, {{l.one, u1, shard_fence{0, 1}}, {l.two, u2, shard_fence{1, 1}}}, 0, P::path);
  REQUIRE_MESSAGE(r.ok(), why(r));
  CHECK(r->fenced == std::vector<size_t>{1});
  CHECK(transfers_of(*c, l.one) != one_before);
  CHECK(transfers_of(*c, l.two) == two_before);
  CHECK(clock_of(*c, l.two) == two_clock);
  require_consistent(*c);

  // The new holder's epoch is the one that writes now.
  auto again = storage::commit_group(*c, {{l.two, u2, shard_fence{1, 2}}}, 0, P::path);
  REQUIRE_MESSAGE(again.ok(), why(again));
  CHECK(again->fenced.empty());
  CHECK(transfers_of(*c, l.two) != two_before);
  require_consistent(*c);
}

TEST_CASE_TEMPLATE("expired or released leases fence; a lease renewed by its holder writes again at the same epoch", P,
                   pipelined_path, copied_path) {
  test_database db("fence_expiry");
  auto c = db.connect();
  two_shards l(*c);
  const std::string before = transfers_of(*c, l.one);
  auto* u = l.next(l.sim_one, 10);

  SUBCASE("expired, nobody took it") {
    sql_ok(*c, "UPDATE shard_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE shard = 0");
    auto r = storage::commit_group(*c, {{l.one, u, shard_fence{0, 1}}}, 0, P::path);
    REQUIRE(r.ok());
    CHECK(r->fenced == std::vector<size_t>{0});
    CHECK(transfers_of(*c, l.one) == before);
    // The holder's heartbeat renews it (nobody else held it in between): the same epoch writes again.
    auto beat = storage::heartbeat(*c, l.a, lease_ms);
    REQUIRE(beat.ok());
    auto r2 = storage::commit_group(*c, {{l.one, u, shard_fence{0, 1}}}, 0, P::path);
    REQUIRE(r2.ok());
    CHECK(r2->fenced.empty());
    CHECK(transfers_of(*c, l.one) != before);
  }
  SUBCASE("released by its holder") {
    REQUIRE(storage::release_leases(*c, l.a, {0}).ok());
    auto r = storage::commit_group(*c, {{l.one, u, shard_fence{0, 1}}}, 0, P::path);
    REQUIRE(r.ok());
    CHECK(r->fenced == std::vector<size_t>{0});
    CHECK(transfers_of(*c, l.one) == before);
  }
  SUBCASE("a stale epoch of a lease held again") {
    REQUIRE(storage::release_leases(*c, l.a, {0}).ok());
    REQUIRE(storage::acquire_leases(*c, l.a, {0}, lease_ms).value() == std::vector<held_lease>{{0, 2}});
    auto r = storage::commit_group(*c, {{l.one, u, shard_fence{0, 1}}}, 0, P::path);
    REQUIRE(r.ok());
    CHECK(r->fenced == std::vector<size_t>{0});
    CHECK(transfers_of(*c, l.one) == before);
  }
  SUBCASE("every unit of the group fenced: nothing written, no error") {
    sql_ok(*c, "UPDATE shard_leases SET expires_at = clock_timestamp() - interval '1 second'");
    auto* u2 = l.next(l.sim_two, 10);
    auto r = storage::commit_group(*c, {{l.one, u, shard_fence{0, 1}}, {l.two, u2, shard_fence{1, 1}}}, 0, P::path);
    REQUIRE(r.ok());
    CHECK(r->fenced == std::vector<size_t>{0, 1});
    CHECK(transfers_of(*c, l.one) == before);
  }
  require_consistent(*c);
}

TEST_CASE_TEMPLATE("a lease cannot change hands while a commit that checked it is open: the release waits for COMMIT",
                   P, pipelined_path, copied_path) {
  test_database db("fence_lock");
  auto admin = db.connect("caudal-test-admin");
  auto w = db.connect("caudal-writer-fence");
  auto releaser = db.connect("caudal-releaser");
  // pg_stat_activity is read from its own session: inside admin's open transaction it would be a snapshot.
  auto observer = db.connect("caudal-observer");
  two_shards l(*admin);
  const std::string before = transfers_of(*admin, l.one);
  auto* u = l.next(l.sim_one, 10);

  // Holds the writer's transaction open after its fence check: the test locks the tenant's row, which the
  // group commit updates (its clock) after checking the fences.
  sql_ok(*admin, "BEGIN");
  sql_ok(*admin, "SELECT 1 FROM tenants WHERE tenant_id = " + std::to_string(l.one.value) + " FOR UPDATE");

  result<storage::group_outcome> written = errc::internal;
  std::thread writer([&] { written = storage::commit_group(*w, {{l.one, u, shard_fence{0, 1}}}, 0, P::path); });
  const bool writer_blocked = wait_until_blocked(*observer, w->backend_pid());

  // A renewal by the holder does not wait for the open commit (FOR NO KEY UPDATE against FOR KEY SHARE):
  // heartbeats never stall commits. Were it to wait, this call would hang until the COMMIT below.
  auto renewer = db.connect("caudal-renewer");
  sql_ok(*renewer, "SET statement_timeout = '20s'");
  const auto renewed = storage::heartbeat(*renewer, l.a, lease_ms);
  REQUIRE_MESSAGE(renewed.ok(), why(renewed));
  CHECK(renewed->size() == 2);  // both of a's leases, shard 0 (checked by the open commit) among them

  result<size_t> released = errc::internal;
  std::thread release([&] { released = storage::release_leases(*releaser, l.a, {0}); });
  const bool release_blocked = wait_until_blocked(*observer, releaser->backend_pid());

  sql_ok(*admin, "COMMIT");  // the writer goes on and commits; only then the release gets the lease row
  writer.join();
  release.join();
  REQUIRE(writer_blocked);
  CHECK(release_blocked);
  REQUIRE_MESSAGE(written.ok(), why(written));
  CHECK(written->fenced.empty());
  REQUIRE_MESSAGE(released.ok(), why(released));
  CHECK(released.value() == 1);
  CHECK(transfers_of(*admin, l.one) != before);

  // From now on the old fence writes nothing.
  auto* u2 = l.next(l.sim_one, 11);
  const std::string after = transfers_of(*admin, l.one);
  auto r = storage::commit_group(*w, {{l.one, u2, shard_fence{0, 1}}}, 0, P::path);
  REQUIRE(r.ok());
  CHECK(r->fenced == std::vector<size_t>{0});
  CHECK(transfers_of(*admin, l.one) == after);
  require_consistent(*admin);
}

TEST_CASE("units without a fence are not checked (storage tests and tools); the cluster tables may be empty") {
  test_database db("fence_none");
  auto c = db.connect();
  auto t = new_tenant(*c, "plain");
  ledger_sim sim;
  sim.create_account(acct(1));
  auto e = sim.take();
  auto r = storage::commit_group(*c, {{t, &e}});
  REQUIRE_MESSAGE(r.ok(), why(r));
  CHECK(r->fenced.empty());
}
