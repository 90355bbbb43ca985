#pragma once
// Who may join the cluster (issue 5: "a node without a valid certificate cannot join"). Peers refuse the
// TLS links of a node whose certificate another CA signed, but PostgreSQL does not know TLS: such a node used
// to register and take its shards' leases, and those shards became unreachable from every other node. So the
// cluster records its trust anchor when it is created (schemas/sql/0006_trust_anchor.sql: mutual TLS and the
// SHA-256 fingerprints of the cluster CA, or insecure), and a node is admitted only when
//   1. its transport is the cluster's: a TLS node never joins an insecure cluster, nor an insecure node a
//      TLS one (never silently mixed);
//   2. its tls.ca_file holds exactly the cluster's CA certificates (fewer: it would refuse its peers; more:
//      it would accept peers of another CA);
//   3. its own certificate verifies against them as TLS server and TLS client (security/trust_anchor);
//   4. when live peers exist, it opens a link to one of them over the cluster port before it takes a lease
//      (prove_peer_link): what the files cannot show (a peer's view of its certificate, the network).
// 1 to 3 run before the node registers as a member or takes a lease, and before it writes anything else (the
// operator client); 4 before join_cluster. A refusal is a clear error naming both sides, exit status 1, and
// an audit row `cluster.join_refused` (actor: the node id).
//
// Everything here runs on the node's start thread (blocking libpq and a scoped actor), before it serves.
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <string>

#include "cluster/lease_manager.hpp"
#include "cluster/node_config.hpp"
#include "storage/cluster_store.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::cluster {

// What a node brings: its transport and, with TLS, its CA file's certificates and its certificate's check.
struct node_credentials {
  std::string node_id;
  storage::cluster_trust trust;   // transport; anchors = tls.ca_file's CA certificates (ascending by sha256)
  std::string ca_file;            // for messages
  std::string cert_file;
  std::string cert_subject;
  std::string cert_error;         // empty: the certificate verifies against tls.ca_file (both TLS purposes)
};

// Reads the node's TLS files (nothing when insecure). invalid_request naming the file when one cannot be read
// or parsed (a local mistake, refused before the database is touched).
result<node_credentials> read_credentials(const node_config& cfg);

// Pure: whether a node with `node` may join a cluster recorded with `cluster` (1 to 3 above). forbidden with
// a text naming the cluster's and the node's transport and CA fingerprints otherwise.
result<void> check_admission(const storage::cluster_trust& cluster, const node_credentials& node);

// Creates the cluster with `wanted` (its trust taken from `node`) when none exists and the node's certificate
// verifies, or reads it; then admits the node or refuses it (forbidden, audited as cluster.join_refused).
// A node whose certificate does not verify against its own CA file never creates a cluster.
result<storage::cluster_shape> admit_node(storage::pg_connection& c, storage::cluster_shape wanted,
                                          const node_credentials& node, spdlog::logger& log);

// Opens (or reuses) the link to the peer at `cluster_address`; any failure is an answer.
using peer_probe = std::function<result<void>(const storage::member& peer)>;

// Point 4: when live peers exist (members other than `node_id`, not down, heartbeat younger than
// silent_after_ms), `probe` must reach one of them. Peers are re-read every heartbeat_ms, so peers that
// crashed drop out once silent; a peer that stays live but unreachable for `limit` (at least 3 x
// silent_after_ms) refuses the node (forbidden, audited as cluster.join_refused). Answers the peer reached,
// empty when there was none to reach.
result<std::string> prove_peer_link(storage::pg_connection& c, const std::string& node_id, const lease_timing& timing,
                                    const peer_probe& probe, spdlog::logger& log);

// The wait of prove_peer_link for `timing`: 3 x silent_after_ms, and at least 10 s (a peer's first TLS
// handshake on a busy machine).
std::chrono::milliseconds peer_link_limit(const lease_timing& timing);

}  // namespace caudal::cluster
