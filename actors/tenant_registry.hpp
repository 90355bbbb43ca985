#pragma once
// The tenant registry: one per node, the entry point of every ledger request (the gateway sends here).
//
// It routes each request to the tenant's actor (spawning it on first use), and supervises the tenant
// actors: it keeps the requests it forwarded to each one, so when a tenant actor crashes they are failed
// at once with a retryable `tenant_unavailable` instead of waiting for their deadline; it restarts a
// crashed tenant after a backoff within a restart budget (past it the tenant stays down for the longest
// backoff, isolating it); it passivates idle tenants after a handshake that proves no request is on its
// way; it wakes passivated tenants when one of their pending transfers is due to expire, also after a
// node restart. One tenant's failure never touches another's actor or requests.
//
// Runs on the CAF scheduler; never blocks.
#include <caf/all.hpp>

#include "actors/node_services.hpp"

namespace caudal::actors {

caf::actor spawn_tenant_registry(caf::actor_system& sys, services_ptr services);

}  // namespace caudal::actors
