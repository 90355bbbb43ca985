#pragma once
// What every actor of a node may use, built once by the node's composition root (cluster/node.cpp) and
// shared read-only: handles of the node-wide actors, the clock, the limits and the loggers.
// No global state: actors receive this at spawn.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/ids.hpp"
#include "cluster/placement.hpp"

namespace caudal::actors {

struct node_limits {
  size_t tenant_queue_items = 65536;       // items queued per tenant before `overloaded`
  size_t tenant_requests_in_flight = 1024; // requests per tenant in progress (reads too) before `overloaded`
  size_t max_active_tenants = 10000;       // tenant actors alive on the node
  size_t working_set_entries = 200000;     // per tenant and kind (accounts, transfers, failed ids)
  size_t account_actors_per_tenant = 10000;
  size_t unit_max_items = 16384;           // items the sequencer folds into one unit of work
  size_t max_units_in_flight = 8;          // units per tenant handed to the writer, not yet committed
  uint32_t request_timeout_ms = 10000;     // every request between actors has a deadline
  uint32_t max_expiries_loaded = 10000;    // pending expiries a tenant keeps in memory at once
};

struct node_timing {
  uint32_t account_idle_ms = 60000;
  uint32_t tenant_idle_ms = 300000;
  uint32_t restart_backoff_ms = 50;
  uint32_t restart_backoff_max_ms = 5000;
  uint32_t restart_budget = 5;
  uint32_t restart_window_ms = 10000;
};

struct node_services {
  // The batch writers: one PostgreSQL connection each, so commits of different tenants run on several
  // server cores at once. A tenant always commits through the same one (writer_for): its units stay in
  // order, and its failures poison only its own later units.
  std::vector<caf::actor> writers;
  caf::actor readers;  // pool of db_reader
  caf::actor admin;    // pool of admin_worker
  const caudal::clock* clock = nullptr;
  // Tenant -> shard. Set: the registry serves only tenants whose shard lease this node holds (the lease
  // manager tells it which) and every unit of work carries that lease's fence. Null: every tenant is
  // served, unfenced (actor tests with scripted stand-ins only).
  std::shared_ptr<const cluster::placement> placement;
  node_limits limits;
  node_timing timing;
  std::shared_ptr<spdlog::logger> log;  // "actors"

  std::chrono::milliseconds request_timeout() const { return std::chrono::milliseconds(limits.request_timeout_ms); }
  const caf::actor& writer_for(tenant_id t) const { return writers[t.value % writers.size()]; }
};
using services_ptr = std::shared_ptr<const node_services>;

}  // namespace caudal::actors
