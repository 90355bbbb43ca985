#pragma once
// Operator-facing value types shared by the storage layer (which produces them), the gateway and the
// client library (which move them over the wire through schemas/codec).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.hpp"

namespace caudal {

struct tenant_info {
  tenant_id id;
  std::string name;
  std::string country;  // ISO 3166-1 alpha-2
  int64_t created_at_ms = 0;

  friend bool operator==(const tenant_info& a, const tenant_info& b) {
    return a.id == b.id && a.name == b.name && a.country == b.country && a.created_at_ms == b.created_at_ms;
  }
};

// What `caudal verify` found (see storage::verify).
struct verify_report {
  bool ok = true;
  std::vector<std::string> violations;  // at most 100
  uint32_t tenants_checked = 0;
  uint64_t accounts_checked = 0;
  uint64_t transfers_checked = 0;
};

// An API client as the operator sees it (never its secret or hash).
struct client_info {
  std::string client_id;
  std::optional<tenant_id> tenant;  // none: an operator client
  uint32_t scopes = 0;              // security::scope bits
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0: active
};

// One row of the audit table (issue 5): who did or tried what, from where, and how it went.
struct audit_event {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string client_id;
  std::string source;   // peer address "ip:port", or "node"
  std::string action;   // authenticate, open_session, create_client, revoke_client, rotate_key...
  std::string outcome;  // "ok" or an errc name
  std::string detail;   // what was acted on; never a secret, hash or token
};

// `caudal cluster status`: the members and how the shards are held (see storage::cluster_status).
struct cluster_node_status {
  std::string id;
  uint64_t incarnation = 0;
  std::string rpc_address, cluster_address, metrics_address;
  std::string region;
  std::string state;              // joining, up, draining, down
  int64_t heartbeat_age_ms = 0;   // by PostgreSQL's clock
  uint32_t shards = 0;            // unexpired leases it holds
};
struct cluster_status {
  uint32_t shard_count = 0;
  std::vector<cluster_node_status> nodes;  // ascending by id
  uint32_t shards_owned = 0;               // unexpired leases
  uint32_t shards_unowned = 0;             // free, released or expired
};

}  // namespace caudal
