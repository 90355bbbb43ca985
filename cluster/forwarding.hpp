#pragma once
// Any node serves any request (DESIGN.md sections 3 and 4): the gateway hands every ledger call to this
// node's router, which sends it to the local tenant registry when this node owns the tenant's shard, and
// otherwise forwards it to the owner over CAF's network layer (BASP), encoded with schemas/internode.capnp.
//
//   gateway -> router --(owner is this node)--> tenant_registry
//                     --(owner is node X)-----> peer link X ==BASP==> X's forward endpoint -> X's registry
//
// - The router learns who owns which shard from the lease manager (a route table read from PostgreSQL every
//   heartbeat). A shard without a live owner goes to the local registry, which serves it if it just took
//   the lease and answers not_owner (retryable) otherwise; a residency region with no live node answers
//   region_unavailable.
// - One peer link per remote node (incarnation): it connects on first use, keeps a bounded queue while
//   connecting, gives every forwarded request a timeout, and fails every request pending on the peer with
//   node_down (retryable) the moment the connection is lost; a hung peer is detected by the middleman's
//   heartbeat and connection timeout (node_config: cluster.peer_heartbeat_ms / peer_timeout_ms).
// - The owner's forward endpoint decodes the request and asks its registry, which checks the caller's
//   tenant and scope itself (authority travels with the request) and whether it owns the shard; it never
//   forwards again, so a stale route costs one retryable answer, never a loop.
// Retrying with the same ids is safe (the ledger's exactly-once ids), which is what clients do.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "storage/cluster_store.hpp"

namespace caudal::cluster {

using forward_atom = caf::atom_constant<caf::atom("forward")>;
using routes_atom = caf::atom_constant<caf::atom("routes")>;

// Who owns which shard, as the lease manager last read it.
struct route_node {
  std::string node_id;
  uint64_t incarnation = 0;
  std::string cluster_address;  // host:port of its forward endpoint; empty: not reachable (yet)
  std::string region;
  bool operator==(const route_node& o) const {
    return node_id == o.node_id && incarnation == o.incarnation && cluster_address == o.cluster_address &&
           region == o.region;
  }
};
struct route_table {
  std::vector<route_node> nodes;    // the live members (joining, up, draining), ascending by node id
  std::vector<int32_t> owner;       // per shard: index into nodes of its unexpired holder, -1: none
  bool operator==(const route_table& o) const { return nodes == o.nodes && owner == o.owner; }
};

// The route table of `members` and `leases` (storage::list_members / list_leases): a shard's owner is the
// holder of its unexpired lease when that holder is a live member of the same incarnation.
route_table make_route_table(const std::vector<storage::member>& members,
                             const std::vector<storage::shard_lease>& leases, uint32_t shard_count);

// The same, read from PostgreSQL (two small queries).
result<route_table> read_route_table(storage::pg_connection& c, uint32_t shard_count);

struct forwarding_config {
  std::string node_id;                         // this node: its shards go to the local registry
  std::shared_ptr<const placement> shards;
  caf::actor registry;                         // this node's tenant registry
  std::chrono::milliseconds request_timeout{10000};  // the node's own deadline for a request
  size_t max_queued_per_peer = 1024;           // requests waiting for a peer's connection
  size_t max_in_flight_per_peer = 16384;       // forwarded requests awaiting a peer's answer
  std::shared_ptr<spdlog::logger> log;
};

// The router: takes the registry's ledger messages (actors/protocol.hpp, the six Session calls with their
// caller) and answers them like the registry, wherever the tenant lives. Also takes (routes_atom,
// route_table) from the lease manager.
caf::actor spawn_router(caf::actor_system& sys, forwarding_config cfg);

// The endpoint other nodes forward to: (forward_atom, std::string request) -> std::string reply. Publish it
// on the node's cluster port.
caf::actor spawn_forward_endpoint(caf::actor_system& sys, forwarding_config cfg);

// Opens the link to the node whose cluster port is `cluster_address` (mutual TLS when the node loaded CAF's
// OpenSSL module, as the peer links do) and checks that it publishes an endpoint; node_down with CAF's
// reason otherwise. Blocking (a scoped actor, at most `timeout`): the node's start thread only, where
// cluster/admission proves a link before taking leases. The middleman keeps the connection, and the
// router's peer link to that address uses it later.
result<void> open_peer_link(caf::actor_system& sys, const std::string& cluster_address,
                            std::chrono::milliseconds timeout);

}  // namespace caudal::cluster

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::cluster::route_table)
