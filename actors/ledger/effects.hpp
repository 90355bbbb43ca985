#pragma once
// What one unit of the tenant sequencer's work changes: the rows the batch writer persists in one group
// commit, and the committed state the account actors apply once that commit succeeded.
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"

namespace caudal::ledger {

struct failed_transfer {
  transfer_id id;
  create_transfer_result result;  // always is_transient(result)
};

struct pending_update {
  transfer_id id;  // a pending transfer
  pending_state state;  // posted, voided or expired
};

// An account's balances after the unit of work (absolute values, so applying twice is harmless).
struct account_update {
  account_id id;
  uint64_t debits_pending = 0;
  uint64_t debits_posted = 0;
  uint64_t credits_pending = 0;
  uint64_t credits_posted = 0;
  uint64_t version = 0;  // timestamp of the last event that changed the account; orders updates
};

struct history_row {
  account_id account;
  account_balance balance;
};

struct effects {
  std::vector<account> created_accounts;     // zero balances; their later changes are in account_updates
  std::vector<transfer> created_transfers;   // as stored: post/void with fields resolved, balancing amount actual
  std::vector<failed_transfer> failed_transfers;
  std::vector<pending_update> pending_updates;
  std::vector<account_update> account_updates;  // one per account touched in the unit, after-state
  std::vector<history_row> history;             // accounts with the history flag, one row per change
  uint64_t last_timestamp = 0;                  // the tenant clock after the unit (0: unchanged)

  bool empty() const {
    return created_accounts.empty() && created_transfers.empty() && failed_transfers.empty() &&
           pending_updates.empty() && account_updates.empty() && history.empty();
  }
  void clear() { *this = effects{}; }
};

// Pending transfers expire at timestamp + timeout seconds (ns); 0 when timeout is 0 (never).
inline uint64_t expires_at(const transfer& t) {
  return t.timeout == 0 ? 0 : t.timestamp + uint64_t{t.timeout} * 1'000'000'000ull;
}

}  // namespace caudal::ledger
