#pragma once
// The node's membership and shard leases (DESIGN.md section 3): joins the cluster at start, then
// heartbeats, renews its leases, declares silent nodes down, takes the free or expired shards rendezvous
// hashing gives it, and tells the tenant registry which shards it holds (with their epochs) whenever that
// changes. On a clean stop it releases its leases and leaves (state down).
//
// Start-up (join_cluster) runs on the node's start thread, before anything is served, so a node answers
// its first request already holding its shards. The lease_manager actor then runs detached, on its own
// thread with its own PostgreSQL connection (libpq blocks).
//
// Hand-off (old owner's side): a held shard that rendezvous hashing gives to another live node (it joined,
// or this node is draining) is announced to the registry, which refuses its tenants' new requests
// (shard_moving) and stops them once their requests in progress are answered; then the lease is released
// and the new owner takes it on its next round (next epoch). Every round it also tells the router who owns
// which shard (cluster/forwarding.hpp), so requests reach the new owner from any node.
#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cluster/forwarding.hpp"
#include "cluster/placement.hpp"
#include "storage/cluster_store.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::cluster {

struct lease_timing {
  uint32_t lease_ms = 5000;         // a lease lasts this long past its last renewal (PostgreSQL's clock)
  uint32_t heartbeat_ms = 1000;     // heartbeat + renewal period (at most lease_ms / 3)
  uint32_t silent_after_ms = 5000;  // a member silent this long is declared down
};

struct membership {
  storage::member_identity me;
  std::string region;
  storage::member_addresses addresses;
};

// The cluster as this node starts in it: its identity, and the leases it took.
struct cluster_start {
  membership self;
  std::vector<storage::held_lease> leases;
};

// Joins (a new incarnation), becomes up, declares silent members down, and takes the shards rendezvous
// hashing gives it among the live members that are free, expired, or its own previous incarnation's.
result<cluster_start> join_cluster(storage::pg_connection& c, const placement& p, const std::string& node_id,
                                   const std::string& region, const storage::member_addresses& addresses,
                                   const lease_timing& timing, spdlog::logger& log);

// One round of the lease manager (also what join_cluster ends with): heartbeat (rejoining when this
// incarnation was declared down), silent members declared down, then acquisition of this node's
// rendezvous shards. Returns the leases held afterwards (ascending by shard); `to_hand_off` (when given)
// receives the held shards rendezvous hashing now gives to another live node (ascending).
// `members_seen`, when given, receives the members as the round read them (the route table reuses them).
result<std::vector<storage::held_lease>> lease_round(storage::pg_connection& c, const placement& p, membership& m,
                                                     const lease_timing& timing, spdlog::logger& log,
                                                     std::vector<uint32_t>* to_hand_off = nullptr,
                                                     std::vector<storage::member>* members_seen = nullptr);

struct lease_manager_config {
  std::string pg_url;
  std::shared_ptr<const placement> shards;
  cluster_start start;  // from join_cluster
  lease_timing timing;
  caf::actor registry;  // receives (leases_atom, lease_table) whenever the held leases change
  caf::actor router;    // receives (routes_atom, route_table) whenever who owns which shard changes
  std::shared_ptr<spdlog::logger> log;
};

// A blocking actor (spawn it detached). Stops on (stop_atom), releasing its leases and leaving.
void lease_manager(caf::blocking_actor* self, lease_manager_config cfg);

}  // namespace caudal::cluster
