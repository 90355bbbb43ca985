#pragma once
// The ledger rules (DESIGN.md section 5) as a pure state machine over a working_set: no CAF, libpq,
// clock or socket. The tenant actor calls it; tests drive it directly against a reference model.
//
// Determinism: results depend only on the working set, the items and `now_ns` (the caller's clock).
// Every successful event gets the timestamp max(now_ns, last_timestamp + 1), so timestamps are strictly
// increasing per tenant. Failed events consume no timestamp.
//
// Linked chains: consecutive items whose linked flag is set, closed by the first item without it, succeed
// or fail together; a failed chain leaves the working set and `out` exactly as before the chain (the
// failing item's transient id, if any, is still recorded). `exists` fails a chain, as in TigerBeetle.
#include <cstdint>
#include <unordered_set>
#include <vector>

#include "actors/ledger/effects.hpp"
#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "actors/ledger/working_set.hpp"

namespace caudal::ledger {

class state_machine {
 public:
  explicit state_machine(working_set& ws) : ws_(ws) {}

  // Runs one request's items in order; results[i] answers items[i]; effects are appended to `out`.
  // `seq` names the unit of work the changes belong to (dirty tracking in the working set).
  std::vector<create_account_result> create_accounts(const std::vector<account>& items, uint64_t now_ns,
                                                     uint64_t seq, effects& out);
  std::vector<create_transfer_result> create_transfers(const std::vector<transfer>& items, uint64_t now_ns,
                                                       uint64_t seq, effects& out);
  // Expires the given pending transfers whose expiry is at or before now_ns and that are still pending
  // (others are skipped): releases their reserved amounts; one event (timestamp) each.
  // Returns how many expired.
  size_t expire_pending(const std::vector<transfer_id>& due, uint64_t now_ns, uint64_t seq, effects& out);

  // Closes a unit of work: appends the after-state of every account changed since the last seal to
  // out.account_updates (one row each) and sets out.last_timestamp.
  void seal(effects& out);

 private:
  // One change a linked chain made to the working set, undone (last first) when the chain fails. Effects
  // are append-only within a chain, so they roll back by truncating to the sizes saved at its start.
  struct undo_entry {
    enum class kind : uint8_t { account_inserted, account_changed, transfer_inserted, state_changed, touched };
    kind what = kind::touched;
    pending_state state = pending_state::none;  // state_changed: the state before
    u128 id;                                    // account or transfer id
    uint64_t debits_pending = 0;                // account_changed: the balances, version and dirty_seq before
    uint64_t debits_posted = 0;
    uint64_t credits_pending = 0;
    uint64_t credits_posted = 0;
    uint64_t version = 0;
    uint64_t dirty_seq = 0;  // account_changed, state_changed
  };
  struct chain_mark {
    size_t created_accounts = 0;
    size_t created_transfers = 0;
    size_t failed_transfers = 0;
    size_t pending_updates = 0;
    size_t history = 0;
    uint64_t last_timestamp = 0;
  };

  // The linked-chain driver shared by create_accounts and create_transfers (TigerBeetle's rules).
  template <class Item, class Result, class CreateOne, class OnFailure>
  void run_batch(const std::vector<Item>& items, std::vector<Result>& results, effects& out, CreateOne&& create_one,
                 OnFailure&& on_failure);
  void begin_chain(const effects& out);
  void commit_chain();
  void rollback_chain(effects& out);

  create_account_result create_account(const account& a, uint64_t now_ns, uint64_t seq, effects& out);
  create_transfer_result create_transfer(const transfer& t, uint64_t now_ns, uint64_t seq, effects& out);
  create_transfer_result post_or_void(const transfer& t, uint64_t ts, uint64_t seq, effects& out);
  create_transfer_result single_or_pending(const transfer& t, uint64_t ts, uint64_t seq, effects& out);
  void record_failed(transfer_id id, create_transfer_result r, uint64_t seq, effects& out);

  uint64_t next_timestamp(uint64_t now_ns) const;
  void advance_clock(uint64_t ts);
  // Bracket every balance change: before_change logs the old state (in a chain), after_change stamps the
  // version and dirty seq, marks the account touched and appends its history row.
  void before_change(const account_entry& e);
  void after_change(account_entry& e, uint64_t ts, uint64_t seq, effects& out);
  void set_state(transfer_entry& e, pending_state state, uint64_t seq, effects& out);

  working_set& ws_;
  std::unordered_set<account_id, id_hash> touched_;  // accounts changed since the last seal
  std::vector<undo_entry> undo_;                     // changes of the open chain (empty outside chains)
  chain_mark mark_;
  bool in_chain_ = false;
};

}  // namespace caudal::ledger
