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
  working_set& ws_;
  std::unordered_set<account_id, id_hash> touched_;  // accounts changed since the last seal
};

}  // namespace caudal::ledger
