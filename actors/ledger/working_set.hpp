#pragma once
// The tenant sequencer's view of its ledger: every account, transfer and failed id it has loaded from
// PostgreSQL or created, including effects not yet committed. Owned by one tenant actor; single-threaded.
//
// Contract with the caller (the tenant actor):
//   - Before a batch runs, the caller asks `missing_for_*` what the batch needs that is not here, loads
//     those ids from PostgreSQL with `load_*`, and only then runs the batch. An id that is still absent
//     after that load does not exist (the tenant is the only writer of its ledger).
//   - `load_*` never overwrites an entry that is present: in-memory state is always at least as new.
//   - Entries touched by a unit of work are dirty until `mark_committed(seq)` for that unit's seq;
//     `evict` drops only clean entries, and is never called between a batch's load and its run.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "actors/ledger/effects.hpp"
#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"

namespace caudal::ledger {

struct transfer_entry {
  transfer value;
  pending_state state = pending_state::none;
  uint64_t expires_at = 0;  // pending transfers with a timeout; 0 otherwise
  uint64_t dirty_seq = 0;   // unit of work that last changed it (0: clean since loaded)
};

struct account_entry {
  account value;
  uint64_t version = 0;    // timestamp of the last event that changed it (the creation timestamp at first)
  uint64_t dirty_seq = 0;
};

class working_set {
 public:
  // --- what a batch needs (appends ids that are neither present nor known failed) ---
  // Accounts: ids of the accounts to create.
  void missing_for_accounts(const std::vector<account>& batch, std::vector<account_id>& accounts) const;
  // Transfers: the transfers' own ids and pending_ids (exists / id_already_failed / post-void), their
  // debit and credit accounts, and the accounts of pending transfers they post or void that are present.
  void missing_for_transfers(const std::vector<transfer>& batch, std::vector<account_id>& accounts,
                             std::vector<transfer_id>& transfers) const;
  // Expiry: the pending transfers and their accounts.
  void missing_for_expiry(const std::vector<transfer_id>& due, std::vector<account_id>& accounts,
                          std::vector<transfer_id>& transfers) const;

  // --- loading committed state from PostgreSQL (ignored when the entry is present) ---
  void load_account(const account& a, uint64_t version);
  void load_transfer(const transfer& t, pending_state state);
  void load_failed(transfer_id id, create_transfer_result result);

  // --- lookups (nullptr: not here) ---
  const account_entry* find_account(account_id id) const;
  const transfer_entry* find_transfer(transfer_id id) const;
  const create_transfer_result* find_failed(transfer_id id) const;
  account_entry* find_account(account_id id);
  transfer_entry* find_transfer(transfer_id id);

  // --- used by the state machine ---
  void insert_account(const account& a, uint64_t dirty_seq);
  void insert_transfer(const transfer_entry& t);
  void insert_failed(transfer_id id, create_transfer_result result, uint64_t dirty_seq);
  void erase_account(account_id id);    // chain rollback of an insert
  void erase_transfer(transfer_id id);  // chain rollback of an insert
  void erase_failed(transfer_id id);

  // --- commit tracking and bounds ---
  // Everything changed by units up to and including seq is in PostgreSQL now.
  void mark_committed(uint64_t seq) { committed_seq_ = seq > committed_seq_ ? seq : committed_seq_; }
  uint64_t committed_seq() const { return committed_seq_; }
  // Drops clean entries until at most `max_entries` of each kind remain (or only dirty ones are left).
  void evict(size_t max_entries);
  // Forgets everything (after a failed commit: the caller rebuilds from PostgreSQL).
  void clear();

  size_t account_count() const { return accounts_.size(); }
  size_t transfer_count() const { return transfers_.size(); }
  size_t failed_count() const { return failed_.size(); }

  // The tenant clock: the last timestamp handed out (restored from PostgreSQL when the tenant loads).
  uint64_t last_timestamp = 0;

 private:
  struct failed_entry {
    create_transfer_result result;
    uint64_t dirty_seq;
  };
  std::unordered_map<account_id, account_entry, id_hash> accounts_;
  std::unordered_map<transfer_id, transfer_entry, id_hash> transfers_;
  std::unordered_map<transfer_id, failed_entry, id_hash> failed_;
  uint64_t committed_seq_ = 0;
};

}  // namespace caudal::ledger
