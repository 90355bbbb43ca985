#pragma once
// One active account: holds its committed state (reads never see uncommitted work) and serves reads.
// Spawned and supervised by its tenant actor, which loads the state from PostgreSQL first and sends it
// the account's after-state once each commit touching it succeeded. Passivated (stopped) by the tenant
// when idle; reloaded on demand. Runs on the CAF scheduler; never blocks.
#include <caf/all.hpp>

#include <cstdint>

#include "actors/ledger/types.hpp"

namespace caudal::actors {

struct account_actor_state {
  ledger::account value;
  uint64_t version = 0;  // of the last applied update (timestamp of the last change)
  static inline const char* name = "account_actor";
};

// Protocol: (get_atom) -> ledger::account; (apply_atom, ledger::account_update) applies when newer;
// (crash_atom) test hook: exits with an error. It watches its tenant actor and stops with it.
caf::behavior account_actor(caf::stateful_actor<account_actor_state>* self, caf::actor tenant,
                            ledger::account initial, uint64_t version);

}  // namespace caudal::actors
