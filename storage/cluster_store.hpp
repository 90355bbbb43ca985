#pragma once
// Membership and shard leases in PostgreSQL (schemas/sql/0003_cluster.sql), over one pg_connection
// (blocking: detached actors or the node's start-up thread only).
//
// Every time is judged by PostgreSQL's clock: heartbeats, silence, lease expiry. Nodes only send
// durations (lease_ms, silent_after_ms), so skewed node clocks cannot make two nodes own one shard.
//
// The fencing rule the group commit relies on (storage/ledger_commit.cpp): every change of a lease's
// holder (node id + incarnation) increases its epoch, and a release expires the lease at once. So a
// (shard, epoch) whose lease has not expired names exactly one holder.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/admin_types.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::storage {

// --- the cluster's shape, fixed when it is created ---
struct region_shards {
  std::string region;
  uint32_t first_shard = 0;
  uint32_t shard_count = 0;
  uint32_t number = 0;  // 1..32767, carried in its tenants' ids (0 when wanted: numbered in list order)
};
struct residency_rule {
  std::string country;  // ISO 3166-1 alpha-2, upper case
  std::string region;   // one of the cluster's regions
};
// How nodes talk to each other (schemas/sql/0006_trust_anchor.sql). `unrecorded` only for a cluster created
// before 0006 that no node of this version has started in yet (read_cluster can answer it; ensure_cluster
// never does, and refuses it as `wanted`).
enum class transport_mode { unrecorded, mutual_tls, insecure };
const char* transport_name(transport_mode m);
struct trust_anchor {
  std::string sha256;   // 64 lower-case hex digits: SHA-256 of the CA certificate's DER encoding
  std::string subject;  // for people: "CN=Caudal local CA"
  bool operator==(const trust_anchor& o) const { return sha256 == o.sha256 && subject == o.subject; }
};
struct cluster_trust {
  transport_mode transport = transport_mode::unrecorded;
  std::vector<trust_anchor> anchors;  // mutual_tls: the cluster CA(s), ascending by sha256; insecure: none
};
// "mutual TLS, CA sha256:<hex> (<subject>)", "insecure (plain TCP)" or "not recorded": errors and the audit.
std::string describe_trust(const cluster_trust& t);

struct cluster_shape {
  uint32_t shard_count = 256;
  std::vector<region_shards> regions;     // residency regions (ascending by region); ranges never overlap
  std::vector<residency_rule> residency;  // ascending by country
  cluster_trust trust;                    // who may join (cluster/admission)
};
// Creates the cluster with `wanted` when no cluster exists yet (settings, regions, trust anchors, one free
// lease per shard, and the audit row `config.cluster_created` naming node `node_id`, in one transaction;
// nodes starting together create it once), and returns the cluster's shape: the existing one when it had
// been created before, whatever `wanted` says. A cluster created before 0006 gets `wanted.trust` recorded
// (audited as `config.trust_anchor_recorded`), once. `wanted` is checked (shards 1..65536, region ranges
// inside it and disjoint, residency rules naming its regions, a transport, anchors only with mutual TLS
// and at least one then): invalid_request otherwise. Whether the node may join is the caller's decision
// (cluster/admission), on the shape answered here.
result<cluster_shape> ensure_cluster(pg_connection& c, const cluster_shape& wanted, const std::string& node_id);

// The cluster's shape, or none when no cluster was created yet. Creates nothing.
result<std::optional<cluster_shape>> read_cluster(pg_connection& c);

// An audit row (storage/security_store's audit_events) for something node `node_id` did or was refused at
// start: the actor is the node id, the source its address as PostgreSQL sees this connection ("ip:port" like
// the rows of client connections; "node" over a Unix socket): the node's own configuration cannot forge it.
result<void> audit_node_event(pg_connection& c, const std::string& node_id, const std::string& action,
                              const std::string& outcome, const std::string& detail);

// --- membership ---
enum class member_state { joining, up, draining, down };
const char* member_state_name(member_state s);

struct member_identity {
  std::string node_id;
  uint64_t incarnation = 0;
  bool operator==(const member_identity& o) const { return node_id == o.node_id && incarnation == o.incarnation; }
};
struct member_addresses {
  std::string cluster;  // CAF network layer (BASP); may be empty until it listens
  std::string rpc;
  std::string metrics;
};
struct member {
  member_identity id;
  member_addresses addresses;
  std::string region;
  member_state state = member_state::down;
  int64_t heartbeat_age_ms = 0;  // by the database clock, when listed
};

// Registers the node (or re-registers it after a restart or after it was declared down) with the next
// incarnation, state `joining`, heartbeat now. Only its leases of older incarnations stay as they are
// (they expire; a new holder takes them with the next epoch).
result<member_identity> join(pg_connection& c, const std::string& node_id, const member_addresses& addresses,
                             const std::string& region);

// Moves the node to `state` (up, draining, down). Refused with node_down when this incarnation is no
// longer the member's current one or it was declared down (down is final for an incarnation). Draining is
// final too, but for down: `up` leaves a draining incarnation draining (an operator's drain that came
// while the node was still joining is kept); only a new incarnation (a restart) is up again.
result<void> set_state(pg_connection& c, const member_identity& me, member_state state);

// The operator's drain: sets the current incarnation of member `node_id` draining (from joining or up; a
// draining one stays as it is). A draining member acquires no lease and is no rendezvous owner, so its
// lease manager hands over what it holds, round by round, to the live members (cluster/lease_manager).
// Heartbeats leave the state alone; a restart rejoins as up. Refused with node_not_found (no member with
// that id) or node_down (its current incarnation is down: it holds nothing it renews). Returns the
// member's incarnation and the state it was in before.
struct drained_member {
  member_identity id;
  member_state was = member_state::up;
};
result<drained_member> drain_member(pg_connection& c, const std::string& node_id);

struct held_lease {
  uint32_t shard = 0;
  uint64_t epoch = 0;
  bool operator==(const held_lease& o) const { return shard == o.shard && epoch == o.epoch; }
};
// Records a heartbeat and, in the same statement, renews every lease this incarnation still holds to
// expire `lease_ms` from now (database clock). Returns the leases renewed (ascending by shard): a lease the
// node believed it held and that is missing here was taken over. Refused with node_down (nothing renewed)
// when this incarnation was declared down or superseded: the node must stop serving its shards and rejoin.
result<std::vector<held_lease>> heartbeat(pg_connection& c, const member_identity& me, uint32_t lease_ms);

// Declares down every member not down whose last heartbeat is older than `silent_after_ms` (database
// clock). Returns who was declared down. Their leases are left to expire on their own.
result<std::vector<member_identity>> declare_silent_down(pg_connection& c, uint32_t silent_after_ms);

// Every member (ascending by node id), with its heartbeat age by the database clock.
result<std::vector<member>> list_members(pg_connection& c);

// --- shard leases ---
// Takes the leases of `shards` that are free, released, expired, already this incarnation's, or held by an
// earlier incarnation of this node (a restarted node takes its shards back at once: the old process, if it
// still runs, is fenced by the new epoch), for `lease_ms` from now; a lease changing holder (node id or
// incarnation) gets the next epoch, one already held keeps its epoch.
// Only a member that is joining or up acquires (draining or down: none). Returns the leases granted
// (ascending by shard); the others are held by someone else. Two nodes racing for a shard: one gets it.
result<std::vector<held_lease>> acquire_leases(pg_connection& c, const member_identity& me,
                                               const std::vector<uint32_t>& shards, uint32_t lease_ms);

// Gives up this incarnation's leases of `shards` (expired at once, no holder; the epoch stays, so the
// next holder's is higher). Returns how many it released (leases held by others are left alone).
result<size_t> release_leases(pg_connection& c, const member_identity& me, const std::vector<uint32_t>& shards);

struct shard_lease {
  uint32_t shard = 0;
  std::optional<member_identity> owner;  // none: free
  uint64_t epoch = 0;
  int64_t expires_in_ms = 0;  // by the database clock; <= 0: expired
};
// Every lease, ascending by shard.
result<std::vector<shard_lease>> list_leases(pg_connection& c);

// Members with their unexpired lease counts, and the shard summary, from one snapshot (REPEATABLE READ).
// An empty cluster (never created): shard_count 0, no nodes.
result<caudal::cluster_status> cluster_status(pg_connection& c);

}  // namespace caudal::storage
