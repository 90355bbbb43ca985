#pragma once
// The node's batch writer: folds every tenant's units of work that arrive while it is busy into ONE
// PostgreSQL transaction (group commit), then tells each tenant actor how its units ended.
//
// Runs as a blocking actor on its own thread (libpq blocks). Ordering: units are committed in the order
// they arrive, so a tenant's acknowledgements come back in its seq order.
//
// Stopping: (stop_atom) ends it after the group at hand is written (a blocking actor does not stop on an
// exit message by itself).
//
// Poisoning: when a transaction fails, every tenant in it is poisoned for that working-set generation:
// its later units of the same generation are failed without being written (they were computed on top
// of the failed state). A unit with a newer generation (the tenant rebuilt) lifts the poison.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <string>

#include "base/metrics.hpp"

namespace caudal::actors {

struct batch_writer_config {
  std::string pg_url;
  size_t max_items = 65536;  // rows (created accounts + transfers + updates) per group commit
  std::shared_ptr<spdlog::logger> log;
  metrics::registry* metrics = nullptr;            // group commit latency, sizes, failures
  std::shared_ptr<std::atomic<bool>> db_healthy;  // false while the last commit or connect failed (/healthz)
};

void batch_writer(caf::blocking_actor* self, batch_writer_config cfg);

}  // namespace caudal::actors
