#pragma once
// Request-level failures: one stable enum shared by the node, the client library and the CLI.
// The numbers are the wire values of api.capnp's ErrorCode (append only, never renumber).
// Per-item outcomes are not errors: they are the ledger's result codes (actors/ledger/result_codes.hpp).
#include <cstdint>
#include <string_view>

namespace caudal {

enum class errc : uint8_t {
  none = 0,
  overloaded = 1,              // a queue is full; retry later (retryable)
  batch_too_large = 2,         // more items than limits::max_batch_items
  invalid_request = 3,         // malformed request (e.g. bad filter); nothing written
  unauthenticated = 4,         // unknown client or wrong secret
  forbidden = 5,               // the session lacks the right (admin vs tenant)
  tenant_not_found = 6,
  tenant_unavailable = 7,      // the tenant's actor is restarting (retryable)
  commit_failed = 8,           // the group commit failed and was rolled back (retryable)
  commit_outcome_unknown = 9,  // the connection died during COMMIT: retry with the same ids (retryable)
  database_unavailable = 10,   // PostgreSQL cannot be reached (retryable)
  timeout = 11,                // the request's deadline passed (retryable: outcome unknown, ids make it safe)
  internal = 12,               // a bug; details are in the node's log, never in the answer
  shard_moving = 13,           // the tenant's shard is being handed over (retryable)
  node_down = 14,              // the node owning the tenant went down (retryable)
  region_unavailable = 15,     // no node of the tenant's residency region is up (retryable)
  rate_limited = 16,           // too many failed authentications (retryable, later)
  tenant_exists = 17,          // a tenant with that name exists already
  not_enabled = 18,            // a feature the node was not started with (test hooks)
  not_owner = 19,              // this node does not hold the tenant's shard lease (lost, moved or not yet
                               // taken): nothing was written; retry (retryable)
  node_not_found = 20,         // no cluster member has that node id (operator commands)
};

// snake_case name, as printed by the CLI (`{"error": "overloaded", "retryable": true}`).
std::string_view errc_name(errc e);
// A retryable failure may be retried with the same ids: exactly-once effect makes it safe.
bool errc_retryable(errc e);
// The highest valid value, for range checks when decoding.
constexpr uint8_t errc_max = static_cast<uint8_t>(errc::node_not_found);

}  // namespace caudal
