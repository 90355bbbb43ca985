#pragma once
// Where tenants live in a test cluster of the default shape (256 shards, no residency regions): the
// helpers the multi-node tests share to find a tenant's owner and to wait until shards have settled.
#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "storage/pg_connection.hpp"
#include "tests/support/ledger_fixture.hpp"

namespace caudal::test {

// The placement of a default cluster (what the nodes of these tests compute).
const cluster::placement& default_placement();

// The node holding tenant t's shard lease now (unexpired), or "" when none does.
std::string owner_of(storage::pg_connection& db, tenant_id t);

// Every node of `node_ids` (region "local") holds exactly the number of unexpired leases rendezvous hashing
// gives it among them.
bool settled(storage::pg_connection& db, const std::vector<std::string>& node_ids);

// A new tenant whose shard `node_id` owns (tenant ids are sequential: a few tries); fails the test if none
// lands there within 64.
tenant_handle tenant_owned_by(ledger_fixture& fx, storage::pg_connection& db, const std::string& node_id);

}  // namespace caudal::test
