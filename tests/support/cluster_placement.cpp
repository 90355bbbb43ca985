#include "tests/support/cluster_placement.hpp"

#include <doctest/doctest.h>

#include "tests/support/storage_test_helpers.hpp"

namespace caudal::test {

const cluster::placement& default_placement() {
  static const cluster::placement p = cluster::placement::make(256, {}).value();
  return p;
}

std::string owner_of(storage::pg_connection& db, tenant_id t) {
  return scalar(db, "SELECT coalesce((SELECT owner_node FROM shard_leases WHERE shard = " +
                        std::to_string(default_placement().shard_of(t).value()) +
                        " AND expires_at > clock_timestamp()), '')");
}

bool settled(storage::pg_connection& db, const std::vector<std::string>& node_ids) {
  std::vector<cluster::placement_node> all;
  for (const auto& id : node_ids)
    all.push_back({id, "local"});
  for (const auto& n : all)
    if (scalar(db, "SELECT count(*) FROM shard_leases WHERE owner_node = '" + n.node_id +
                       "' AND expires_at > clock_timestamp()") !=
        std::to_string(default_placement().shards_of(n.node_id, all).size()))
      return false;
  return true;
}

tenant_handle tenant_owned_by(ledger_fixture& fx, storage::pg_connection& db, const std::string& node_id) {
  for (int i = 0; i < 64; ++i) {
    auto t = fx.create_tenant("on-" + node_id + "-" + std::to_string(i));
    if (owner_of(db, t.created.tenant.id) == node_id)
      return t;
  }
  FAIL("no tenant lands on " << node_id);
  return {};
}

}  // namespace caudal::test
