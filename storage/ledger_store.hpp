#pragma once
// The ledger's queries and its group commit, over one pg_connection (blocking; detached actors only).
// Every statement is bound to one tenant_id: no query here can read or write another tenant's rows.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "actors/ledger/effects.hpp"
#include "actors/ledger/types.hpp"
#include "base/ids.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::storage {

struct account_row {
  ledger::account account;
  uint64_t version = 0;
};

struct transfer_row {
  ledger::transfer transfer;
  ledger::pending_state state = ledger::pending_state::none;  // from pending_transfers
};

// What a batch needs from PostgreSQL before the sequencer runs it (see working_set's contract).
struct prefetch {
  std::vector<account_row> accounts;            // found among the asked ids, plus the debit and credit accounts of
                                                // every found transfer that is pending
  std::vector<transfer_row> transfers;          // found among the asked ids
  std::vector<ledger::failed_transfer> failed;  // asked ids recorded in failed_transfers
};
result<prefetch> load_for_batch(pg_connection& c, tenant_id t, const std::vector<account_id>& accounts,
                                const std::vector<transfer_id>& transfers);

result<std::vector<account_row>> load_accounts(pg_connection& c, tenant_id t, const std::vector<account_id>& ids);
// Found transfers, in the order of `ids` (missing ones are left out, duplicates answered once each time asked).
result<std::vector<ledger::transfer>> lookup_transfers(pg_connection& c, tenant_id t,
                                                       const std::vector<transfer_id>& ids);
// The filter is valid (account id set, limit 1..max_query_rows, debits and/or credits); time order,
// reversed if asked.
result<std::vector<ledger::transfer>> account_transfers(pg_connection& c, tenant_id t, const ledger::account_filter& f);
// Empty when the account has no history flag (or does not exist).
result<std::vector<ledger::account_balance>> account_balances(pg_connection& c, tenant_id t,
                                                              const ledger::account_filter& f);

// What a tenant actor restores when it starts: its clock and its earliest pending expiries.
struct tenant_state {
  bool exists = false;
  uint64_t last_timestamp = 0;
  std::vector<std::pair<transfer_id, uint64_t>> expiries;  // (id, expires_at) ascending, still pending
  bool more_expiries = false;                              // more than asked were pending
};
result<tenant_state> load_tenant_state(pg_connection& c, tenant_id t, size_t max_expiries);
// Pending expiries with expires_at >= from_ns (ascending), at most `limit`.
result<std::vector<std::pair<transfer_id, uint64_t>>> load_expiries(pg_connection& c, tenant_id t, uint64_t from_ns,
                                                                    size_t limit);
// For the node at start: each tenant's earliest pending expiry.
result<std::vector<std::pair<tenant_id, uint64_t>>> next_expiry_per_tenant(pg_connection& c);

// The shard lease a unit of work was computed under (DESIGN.md section 3, invariant 7): the group commit
// writes the unit only while PostgreSQL still holds that lease at that epoch, unexpired by its clock.
struct shard_fence {
  uint32_t shard = 0;
  uint64_t epoch = 0;
  bool operator==(const shard_fence& o) const { return shard == o.shard && epoch == o.epoch; }
  bool operator<(const shard_fence& o) const { return shard != o.shard ? shard < o.shard : epoch < o.epoch; }
};

// One tenant's unit of work in a group commit.
struct tenant_commit {
  tenant_id tenant;
  const ledger::effects* changes;
  std::optional<shard_fence> fence = std::nullopt;  // none: not checked (storage tests and tools only; a node
                                                    // always fences its units)
};
// What a group commit did besides committing: the units it refused because their fence no longer holds
// (the lease moved to another epoch, was released, or expired). Nothing of theirs was written.
struct group_outcome {
  std::vector<size_t> fenced;  // indexes into the group, ascending
};
// Writes every tenant's effects in ONE transaction (group commit): accounts, transfers, pending states,
// failed ids, history, balances, tenant clocks. Fencing: inside the same transaction, before writing, the
// lease rows of the group's fences are locked FOR SHARE (so no other node can take them until this
// transaction ends) and checked (same epoch, not expired by PostgreSQL's clock); the units whose fence
// fails are left out and reported in group_outcome::fenced while the others commit.
// On failure nothing is written and the answer says how:
//   commit_failed          - the transaction was rolled back (statement error before COMMIT);
//   commit_outcome_unknown - the connection broke during COMMIT: it may or may not have committed;
//   database_unavailable   - no connection to start with, or (pipelined path) it was lost before COMMIT
//                            was sent: nothing written, and the same group may go again on a new one.
// Two ways to write, the same outcome: a small group (at most pipelined_max_rows new rows) sends all its
// statements in one round trip (pipeline mode, INSERT from arrays), a big one COPYs its rows, a round trip
// per statement. `path` forces one (tests cover both); `delay_before_commit_ms` (test hook) holds the
// transaction open before COMMIT.
enum class write_path { by_size, pipelined, copied };
// The session settings of a connection that runs commit_group (pg_connection::open). Every statement of a
// group commit finds its rows by key, but a prepared statement's generic plan is made from the statistics
// of the moment: on a small table (a new cluster's tenants or pending_transfers, shard_leases) the planner
// prefers hashing the arrays and scanning the whole table, and that plan stays until the statistics
// change. Measured: every single-transfer commit read all 1,607 rows of a development database's tenants.
// With these, the plans are index look-ups whatever the tables' sizes.
constexpr const char* writer_session_settings =
    "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off";
// Where the INSERT from arrays stops paying (storage_commit_bench, one tenant, a transfer's two accounts
// updated per row: at 16 and 64 rows pipelined is 4-11% faster than copied, at 128 10% slower, at 256 16%).
constexpr size_t pipelined_max_rows = 64;
result<group_outcome> commit_group(pg_connection& c, const std::vector<tenant_commit>& group,
                                   uint32_t delay_before_commit_ms = 0, write_path path = write_path::by_size);

}  // namespace caudal::storage
