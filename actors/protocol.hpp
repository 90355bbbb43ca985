#pragma once
// The messages between the node's actors, gathered in one header so callers depend on protocols, not
// implementations (STYLE 2). Each block names the actor that handles it, what it answers, and who sends it.
//
// All of these are local messages (one process): their payloads are plain C++ structs, and none of these
// types go over the wire. Ledger calls that cross nodes are Cap'n Proto encoded (schemas/internode.capnp)
// by cluster/forwarding, and travel as bytes.
#include <caf/all.hpp>

#include <memory>
#include <string>
#include <vector>

#include "actors/ledger/effects.hpp"
#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/errc.hpp"
#include "base/ids.hpp"
#include "base/result.hpp"
#include "storage/admin_store.hpp"
#include "storage/cluster_store.hpp"
#include "storage/ledger_store.hpp"

// Request-level failures travel between actors as caf::error values of category "caudal".
CAF_ERROR_CODE_ENUM(caudal::errc, "caudal")

namespace caudal::actors {

// --- atoms (at most 10 characters each) ---
using create_accounts_atom = caf::atom_constant<caf::atom("cr_accts")>;
using create_transfers_atom = caf::atom_constant<caf::atom("cr_xfers")>;
using lookup_accounts_atom = caf::atom_constant<caf::atom("lk_accts")>;
using lookup_transfers_atom = caf::atom_constant<caf::atom("lk_xfers")>;
using account_transfers_atom = caf::atom_constant<caf::atom("acct_xfers")>;
using account_balances_atom = caf::atom_constant<caf::atom("acct_bals")>;
using prefetch_atom = caf::atom_constant<caf::atom("prefetch")>;
using load_accounts_atom = caf::atom_constant<caf::atom("ld_accts")>;
using load_tenant_atom = caf::atom_constant<caf::atom("ld_tenant")>;
using load_expiries_atom = caf::atom_constant<caf::atom("ld_expiry")>;
using next_expiries_atom = caf::atom_constant<caf::atom("nx_expiry")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using commit_failed_atom = caf::atom_constant<caf::atom("cmt_failed")>;
using barrier_atom = caf::atom_constant<caf::atom("barrier")>;
using writer_delay_atom = caf::atom_constant<caf::atom("wr_delay")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using expiry_atom = caf::atom_constant<caf::atom("expiry")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using crash_account_atom = caf::atom_constant<caf::atom("crash_acct")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using authenticate_atom = caf::atom_constant<caf::atom("auth")>;
using create_tenant_atom = caf::atom_constant<caf::atom("cr_tenant")>;
using list_tenants_atom = caf::atom_constant<caf::atom("ls_tenants")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using load_keys_atom = caf::atom_constant<caf::atom("ld_keys")>;
using rotate_key_atom = caf::atom_constant<caf::atom("rot_key")>;
using create_client_atom = caf::atom_constant<caf::atom("cr_client")>;
using rotate_secret_atom = caf::atom_constant<caf::atom("rot_secret")>;
using revoke_client_atom = caf::atom_constant<caf::atom("rev_client")>;
using list_clients_atom = caf::atom_constant<caf::atom("ls_clients")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;
using list_audit_atom = caf::atom_constant<caf::atom("ls_audit")>;
using revoked_since_atom = caf::atom_constant<caf::atom("revoked")>;
using client_active_atom = caf::atom_constant<caf::atom("cl_active")>;
using leases_atom = caf::atom_constant<caf::atom("leases")>;
using cluster_status_atom = caf::atom_constant<caf::atom("cl_status")>;
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
using drain_node_atom = caf::atom_constant<caf::atom("drain_node")>;

// --- payloads ---
struct account_batch {
  std::vector<ledger::account> items;
};
struct transfer_batch {
  std::vector<ledger::transfer> items;
};
struct account_results {
  std::vector<ledger::create_account_result> items;
};
struct transfer_results {
  std::vector<ledger::create_transfer_result> items;
};
struct account_ids {
  std::vector<account_id> ids;
};
struct transfer_ids {
  std::vector<transfer_id> ids;
};
struct account_list {
  std::vector<ledger::account> items;
};
struct transfer_list {
  std::vector<ledger::transfer> items;
};
struct balance_list {
  std::vector<ledger::account_balance> items;
};
struct account_rows {
  std::vector<storage::account_row> rows;
};
struct expiry_list {
  std::vector<std::pair<transfer_id, uint64_t>> items;  // (pending transfer, expires_at ns)
};
struct tenant_expiries {
  std::vector<std::pair<tenant_id, uint64_t>> items;  // (tenant, earliest expiry ns)
};

// A tenant's unit of work for the batch writer. Shared, immutable once sent.
struct commit_work {
  tenant_id tenant;
  uint64_t generation = 0;  // the tenant's working-set generation (see batch_writer's poisoning)
  uint64_t seq = 0;         // the tenant's unit sequence number, acknowledged back
  caf::actor reply_to;      // the tenant actor
  std::optional<storage::shard_fence> fence;  // the shard lease the tenant actor runs under (none: unfenced,
                                              // actor tests only); refused with not_owner once it is lost
  ledger::effects changes;
};
using commit_work_ptr = std::shared_ptr<const commit_work>;

// The shard leases this node holds now, with their epochs (ascending by shard): the whole table each time.
struct lease_table {
  std::vector<storage::held_lease> leases;
};
// Shards, ascending (at most the cluster's shard count).
struct shard_list {
  std::vector<uint32_t> shards;
};

struct auth_result {
  std::optional<tenant_id> tenant;  // none: an operator session
  bool admin = false;
  std::string client_id;
  uint32_t scopes = 0;         // security::scope bits granted to this session and its token
  std::string access_token;    // signed JWT; never logged
  int64_t expires_at_s = 0;    // the token's (and the session's) end, Unix seconds
};

// Who a ledger request comes from: the binding of the session that sent it. The tenant registry checks
// it against the request's tenant and operation (the serving side's own check, not only the gateway's),
// so a request forwarded between nodes carries its authority with it.
struct caller {
  std::optional<tenant_id> tenant;  // none: an operator session (moves no money)
  uint32_t scopes = 0;              // security::scope bits
};

struct created_client {
  client_info client;
  std::string client_secret;  // shown once; never logged
};

struct client_list {
  std::vector<client_info> items;
};

struct audit_list {
  std::vector<audit_event> items;
};

struct created_tenant {
  storage::tenant_info tenant;
  std::string client_id;
  std::string client_secret;  // shown once to the operator who created the tenant; never logged
};

struct tenant_list {
  std::vector<storage::tenant_info> items;
};
// The tenants an admin operation covers; empty: all of them.
struct tenant_scope {
  std::vector<tenant_id> tenants;
};

// --- protocols (who handles what, and what it answers) ---
//
// tenant_registry (one per node; the gateway reaches it through cluster/forwarding's router, which takes
// the same ledger messages and sends them here or to the tenant's owner):
//   (create_accounts_atom, caller, tenant_id, account_batch)   -> account_results
//   (create_transfers_atom, caller, tenant_id, transfer_batch) -> transfer_results
//   (lookup_accounts_atom, caller, tenant_id, account_ids)     -> account_list   (found ones, request order)
//   (lookup_transfers_atom, caller, tenant_id, transfer_ids)   -> transfer_list
//   (account_transfers_atom, caller, tenant_id, account_filter)-> transfer_list
//   (account_balances_atom, caller, tenant_id, account_filter) -> balance_list
//   each refused with errc::forbidden unless the caller is bound to that tenant and holds the scope
//   (ledger:write for creates, ledger:read for the others)
//   (crash_atom, tenant_id) / (crash_account_atom, tenant_id, account_id) / (passivate_atom, tenant_id) -> unit
//   (leases_atom, lease_table) from the lease manager: the shards this node owns now (nothing answered)
//   (handoff_atom, shard_list) from the lease manager: the shards to hand over now (replacing the last such
//   list): their tenants get shard_moving from now on -> shard_list of those whose tenants are stopped (no
//   request in progress), which the lease manager may release
//   failures: errc (overloaded, tenant_unavailable, commit_failed, commit_outcome_unknown, timeout, not_owner
//   (the tenant's shard is not this node's), shard_moving (its shard was lost while the request ran)...)
// tenant_actor: the same ledger messages without the tenant_id (the registry strips it).
// account_actor: (get_atom) -> ledger::account; (apply_atom, account_update); (crash_atom).
// batch_writer: (commit_atom, commit_work_ptr) answered later by a message to reply_to:
//   (committed_atom, seq) or (commit_failed_atom, seq, caf::error of an errc); (barrier_atom) -> unit once everything
//   received before it is resolved; (writer_delay_atom, uint32_t ms) test hook.
// db_reader pool: (prefetch_atom, tenant_id, account_ids, transfer_ids) -> storage::prefetch;
//   (load_accounts_atom, tenant_id, account_ids) -> account_rows; (lookup_transfers_atom, tenant_id,
//   transfer_ids) -> transfer_list; (account_transfers_atom, ...), (account_balances_atom, ...);
//   (load_tenant_atom, tenant_id, uint32_t max_expiries) -> storage::tenant_state;
//   (load_expiries_atom, tenant_id, uint64_t from_ns, uint32_t limit) -> expiry_list;
//   (next_expiries_atom) -> tenant_expiries.
// admin_worker pool: (authenticate_atom, std::string client_id, std::string secret, uint32_t requested_scopes)
//   -> auth_result (with a signed token); (load_keys_atom) -> unit (reloads the key ring, making the first
//   key if none); (rotate_key_atom) -> std::string kid; (create_client_atom, uint64_t tenant (0: operator),
//   uint32_t scopes) -> created_client; (rotate_secret_atom, std::string client_id) -> std::string secret;
//   (revoke_client_atom, std::string client_id) -> client_info; (list_clients_atom) -> client_list;
//   (audit_atom, audit_event) -> unit; (list_audit_atom, int64_t since_ms, uint32_t limit) -> audit_list;
//   (revoked_since_atom, int64_t since_ms) -> client_list; (client_active_atom, std::string) -> bool;
//   (create_tenant_atom, std::string name, std::string country) -> created_tenant;
//   (list_tenants_atom) -> tenant_list; (verify_atom, tenant_scope) -> storage::verify_report;
//   (cluster_status_atom) -> caudal::cluster_status; (drain_node_atom, std::string node_id) ->
//   caudal::cluster_node_status (the member right after it was set draining).

// caf::error <-> errc. Errors of other categories (CAF's own) map to the closest errc. A failure's detail
// travels in the error's context (for logs, and for the few codes whose detail a client may see).
caf::error to_error(const failure& f);
errc to_errc(const caf::error& e);
std::string detail_of(const caf::error& e);

}  // namespace caudal::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::tenant_id)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::account_id)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::ledger::account)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::ledger::account_filter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::ledger::account_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::account_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::transfer_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::account_results)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::transfer_results)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::account_ids)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::transfer_ids)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::account_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::transfer_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::balance_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::account_rows)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::expiry_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::tenant_expiries)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::commit_work_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::lease_table)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::shard_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::auth_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::created_tenant)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::tenant_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::caller)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::created_client)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::client_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::audit_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::client_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::audit_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::storage::prefetch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::storage::tenant_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::storage::verify_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actors::tenant_scope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::cluster_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::cluster_node_status)
