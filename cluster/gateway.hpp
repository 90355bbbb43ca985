#pragma once
// The Cap'n Proto RPC gateway (api.capnp): Gateway, Session and Admin servers.
//
// Runs on the node's kj event-loop thread. It only decodes requests into C++ structs, checks the
// session's rights, and hands them to actors through the bridge; it never does per-item ledger work,
// blocking calls or secret hashing here (authentication runs on the admin workers). Errors sent to
// clients are stable codes, never internal text.
#include <caf/all.hpp>
#include <kj/timer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <vector>

#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "schemas/api.capnp.h"
#include "security/key_ring.hpp"
#include "security/rate_limiter.hpp"

namespace caudal::cluster {

struct gateway_context {
  caf::actor_system* system = nullptr;
  caf::actor registry;  // tenant_registry: test-hook faults of this node's tenants
  caf::actor router;    // ledger calls: to the local registry or forwarded to the tenant's owner (forwarding.hpp)
  caf::actor admin;     // admin_worker pool: authentication, tenants
  caf::actor checker;   // one admin_worker of its own for verify: a long check never delays authentication
  std::vector<caf::actor> writers;  // the batch writers: the writer-delay test hook
  std::chrono::milliseconds timeout{12000};
  bool test_hooks = false;
  std::shared_ptr<spdlog::logger> log;
  metrics::registry* metrics = nullptr;  // request counts and latencies per operation and tenant
  // Authentication (issue 5): the token keys (shared with the admin workers), time, limits.
  std::shared_ptr<security::key_ring> keys;
  const caudal::clock* clock = nullptr;
  security::rate_limit_policy auth_failures;  // failed authentications per client id and per source address
  uint32_t revocation_poll_ms = 2000;         // how often revocations are read from PostgreSQL (the net under the push)
  size_t max_audit_in_flight = 1024;          // audit writes queued to the admin workers; past it: dropped, logged
  size_t max_sessions_per_client = 10000;     // live sessions of one client on this node
  uint32_t token_ttl_s = 900;                 // access token lifetime (bounds how long revocations are kept)
};

class gateway_auth;
class revocation_inbox;
struct request_metrics;

// One per node, on the kj thread: the shared authentication state (sessions by client, failed-attempt
// limiters, revocations, audit writes) and a Gateway capability per connection, which knows its peer.
class gateway {
 public:
  explicit gateway(std::shared_ptr<const gateway_context> ctx, kj::Timer& timer);
  ~gateway();
  // The bootstrap capability of a connection from `peer` ("ip:port").
  api::Gateway::Client connect(const std::string& peer);
  // Reads clients revoked on any node every revocation_poll_ms and closes their sessions here; runs until
  // cancelled (drop the promise). The safety net under follow_revocations.
  kj::Promise<void> poll_revocations();
  // Closes the sessions of each client the revocation listener pushes into `inbox` (within milliseconds of
  // the revocation's commit), and reads the recent revocations when it asks to catch up; runs until
  // cancelled (drop the promise).
  kj::Promise<void> follow_revocations(std::shared_ptr<revocation_inbox> inbox);

 private:
  std::shared_ptr<const gateway_context> ctx_;
  std::shared_ptr<gateway_auth> auth_;
  std::shared_ptr<const request_metrics> metrics_;
};

}  // namespace caudal::cluster
