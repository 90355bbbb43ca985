#pragma once
// The Cap'n Proto RPC gateway (api.capnp): Gateway, Session and Admin servers.
//
// Runs on the node's kj event-loop thread. It only decodes requests into C++ structs, checks the
// session's rights, and hands them to actors through the bridge; it never does per-item ledger work,
// blocking calls or secret hashing here (authentication runs on the admin workers). Errors sent to
// clients are stable codes, never internal text.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <vector>

#include "base/metrics.hpp"
#include "schemas/api.capnp.h"

namespace caudal::cluster {

struct gateway_context {
  caf::actor_system* system = nullptr;
  caf::actor registry;  // tenant_registry: ledger calls
  caf::actor admin;     // admin_worker pool: authentication, tenants
  caf::actor checker;   // one admin_worker of its own for verify: a long check never delays authentication
  std::vector<caf::actor> writers;  // the batch writers: the writer-delay test hook
  std::chrono::milliseconds timeout{12000};
  bool test_hooks = false;
  std::shared_ptr<spdlog::logger> log;
  metrics::registry* metrics = nullptr;  // request counts and latencies per operation and tenant
};

api::Gateway::Client make_gateway(std::shared_ptr<const gateway_context> ctx);

}  // namespace caudal::cluster
