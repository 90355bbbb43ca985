// A real node and its shard leases (cluster/lease_manager, the tenant registry, the fenced group commit):
// a node alone holds every shard; when another holder takes one of its shards (as a node would after the
// lease expired), that shard's tenants are refused with a retryable error and nothing of theirs is written,
// while the other shards' tenants go on; when the shard is free again the node takes it back with the next
// epoch and a retry with the same ids commits exactly once.
//
// Waits are polls with a generous deadline (many heartbeats), never a fixed sleep asserted on.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "cluster/placement.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using namespace std::chrono_literals;
using caudal::test::ledger_fixture;
using caudal::test::make_account;
using caudal::test::make_transfer;
using caudal::test::scalar;
using caudal::test::sql_ok;

namespace {

// Heartbeat 300 ms, lease 1 s: the deadlines below are 30 s, far past 3x either.
const std::vector<std::string> fast_leases = {"--heartbeat-ms",    "300", "--lease-ms", "1000",
                                              "--silent-after-ms", "1000"};
constexpr auto deadline = 30s;

uint32_t shard_of(tenant_id t) {
  auto p = cluster::placement::make(256, {});
  REQUIRE(p.ok());
  return p->shard_of(t).value();
}

std::string lease_owner(storage::pg_connection& c, uint32_t shard) {
  return scalar(
      c, "SELECT coalesce(owner_node, '-') || '/' || epoch FROM shard_leases WHERE shard = " + std::to_string(shard));
}

}  // namespace

TEST_CASE(
    "a shard taken from the node: its tenants are refused (retryable), nothing written; taken back: retry commits "
    "once") {
  ledger_fixture fx("shard_lease", fast_leases);
  auto db = fx.db.connect();
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n1' AND expires_at > clock_timestamp()") ==
        "256");
  CHECK(scalar(*db, "SELECT state FROM cluster_members WHERE node_id = 'n1'") == "up");

  // What `caudal cluster status --json` prints comes from here.
  auto status = fx.operator_session().get_cluster_status();
  REQUIRE_MESSAGE(status.ok(), errc_name(status.error().code));
  CHECK(status->shard_count == 256);
  CHECK(status->shards_owned == 256);
  CHECK(status->shards_unowned == 0);
  REQUIRE(status->nodes.size() == 1);
  CHECK(status->nodes[0].id == "n1");
  CHECK(status->nodes[0].state == "up");
  CHECK(status->nodes[0].shards == 256);
  CHECK(status->nodes[0].rpc_address == fx.node->rpc_address());
  CHECK(status->nodes[0].metrics_address == fx.node->http_address());
  CHECK(status->nodes[0].heartbeat_age_ms >= 0);

  auto moved = fx.create_tenant("moved");
  auto staying = fx.create_tenant("staying");
  const uint32_t shard = shard_of(moved.created.tenant.id);
  REQUIRE(shard_of(staying.created.tenant.id) != shard);  // tenant ids 1 and 2: pinned by placement_test
  auto cm = fx.session(moved);
  auto cs = fx.session(staying);
  for (auto* c : {&cm, &cs}) {
    REQUIRE(c->create_accounts({make_account(1), make_account(2)}).ok());
    REQUIRE(c->create_transfers({make_transfer(1, 1, 2, 10)}).ok());
  }
  const std::string epoch_before = lease_owner(*db, shard);
  REQUIRE(epoch_before == "n1/1");

  // Another holder takes the shard (what a node does after the lease expired: next epoch).
  sql_ok(*db,
         "UPDATE shard_leases SET owner_node = 'thief', owner_incarnation = 1, epoch = epoch + 1, "
         "expires_at = clock_timestamp() + interval '1 hour' WHERE shard = " +
             std::to_string(shard));

  // From now on every attempt is refused with a retryable error: fenced at commit (not_owner), refused by
  // the registry once the lease manager noticed (not_owner), or cut off in between (shard_moving).
  const auto until = std::chrono::steady_clock::now() + deadline;
  errc last = errc::none;
  while (std::chrono::steady_clock::now() < until) {
    auto r = cm.create_transfers({make_transfer(2, 1, 2, 5)});
    REQUIRE_FALSE(r.ok());
    last = r.error().code;
    CHECK(errc_retryable(last));
    CHECK((last == errc::not_owner || last == errc::shard_moving));
    if (last == errc::not_owner)
      break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(last == errc::not_owner);
  CHECK(scalar(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " +
                        std::to_string(moved.created.tenant.id.value)) == "1");
  // The other shard's tenant is untouched.
  auto other = cs.create_transfers({make_transfer(2, 1, 2, 5)});
  REQUIRE(other.ok());
  CHECK(other->at(0) == ledger::create_transfer_result::ok);

  // The thief releases it: the node's lease round takes it back (its rendezvous shard) with the next epoch.
  sql_ok(*db,
         "UPDATE shard_leases SET owner_node = NULL, owner_incarnation = NULL, expires_at = clock_timestamp() "
         "WHERE shard = " +
             std::to_string(shard));
  bool committed = false;
  const auto until_back = std::chrono::steady_clock::now() + deadline;
  while (!committed && std::chrono::steady_clock::now() < until_back) {
    auto r = cm.create_transfers({make_transfer(2, 1, 2, 5)});
    if (r.ok()) {
      CHECK(r->at(0) == ledger::create_transfer_result::ok);
      committed = true;
    } else {
      CHECK(errc_retryable(r.error().code));
      std::this_thread::sleep_for(50ms);
    }
  }
  REQUIRE(committed);
  CHECK(lease_owner(*db, shard) == "n1/3");
  // Retried with the same id: exists, not applied twice.
  auto again = cm.create_transfers({make_transfer(2, 1, 2, 5)});
  REQUIRE(again.ok());
  CHECK(again->at(0) == ledger::create_transfer_result::exists);
  CHECK(scalar(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " +
                        std::to_string(moved.created.tenant.id.value)) == "2");
  fx.require_verify_ok();
}

TEST_CASE("a clean stop releases every lease and leaves; a restart joins as the next incarnation") {
  ledger_fixture fx("shard_lease_stop", fast_leases);
  auto db = fx.db.connect();
  CHECK(scalar(*db, "SELECT incarnation FROM cluster_members WHERE node_id = 'n1'") == "1");
  fx.node->stop();
  CHECK(scalar(*db, "SELECT state FROM cluster_members WHERE node_id = 'n1'") == "down");
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node IS NOT NULL") == "0");
  fx.node->start();
  CHECK(scalar(*db, "SELECT incarnation || '/' || state FROM cluster_members WHERE node_id = 'n1'") == "2/up");
  CHECK(scalar(*db, "SELECT count(*) || '/' || min(epoch) FROM shard_leases WHERE owner_node = 'n1'") == "256/2");
}
