#pragma once
// The tenant actor: one per active tenant, its single sequencer (DESIGN.md section 3).
//
// It runs each request, in arrival order, through the pure ledger state machine over the tenant's
// working set (which includes work not yet committed), hands the effects to the node's batch writer
// (group commit with other tenants), and answers only after PostgreSQL committed them. Several units of
// work may be in flight at once (pipelining); answers still leave in arrival order.
//
// When a commit fails, every unit computed on top of it fails with a retryable error, the actor waits
// until the writer has answered all of its units, then rebuilds the working set from PostgreSQL: no
// balance ever reflects work PostgreSQL does not hold.
//
// It supervises the tenant's account actors (committed state, reads): spawns them on demand from
// PostgreSQL, feeds them committed after-states, restarts crashed ones with backoff, passivates idle
// ones, and escalates (exits with an error) when its restart budget is spent.
//
// Owned by the node's tenant_registry, which forwards it the tenant's requests (without the tenant id)
// and restarts it when it crashes. Runs on the CAF scheduler; all database work goes to detached actors.
#include <caf/all.hpp>

#include "actors/node_services.hpp"
#include "base/ids.hpp"
#include "storage/ledger_store.hpp"

namespace caudal::actors {

struct tenant_actor_config {
  tenant_id tenant;
  uint64_t incarnation = 0;  // unique per spawn on this node; part of the working-set generation
  // The lease of the tenant's shard this actor's state was loaded under: every unit it hands the writer
  // carries it, so once the lease is lost nothing computed on this state is written (not_owner).
  std::optional<storage::shard_fence> fence;
  services_ptr services;
  caf::actor registry;  // receives (idle_atom, tenant_id, requests_seen, next_expiry_ns)
};

caf::actor spawn_tenant_actor(caf::local_actor* parent, tenant_actor_config cfg);

}  // namespace caudal::actors
