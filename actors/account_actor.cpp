#include "actors/account_actor.hpp"

#include "actors/protocol.hpp"

namespace caudal::actors {

caf::behavior account_actor(caf::stateful_actor<account_actor_state>* self, caf::actor tenant,
                            ledger::account initial, uint64_t version) {
  // Committed state only makes sense under the sequencer that feeds it: stop with it.
  self->monitor(tenant);
  self->set_down_handler([=](caf::down_msg&) { self->quit(); });
  self->state.value = initial;
  self->state.version = version;
  return {
      [=](get_atom) -> ledger::account { return self->state.value; },
      [=](apply_atom, const ledger::account_update& u) {
        auto& s = self->state;
        // Updates carry absolute balances; an older one (already covered by the loaded state) is ignored.
        if (u.version <= s.version)
          return;
        s.value.debits_pending = u.debits_pending;
        s.value.debits_posted = u.debits_posted;
        s.value.credits_pending = u.credits_pending;
        s.value.credits_posted = u.credits_posted;
        s.version = u.version;
      },
      [=](crash_atom) { self->quit(caf::sec::runtime_error); },
  };
}

}  // namespace caudal::actors
