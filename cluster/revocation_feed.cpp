// The revocation inbox and the wiring of the node's listener (see revocation_feed.hpp).
#include "cluster/revocation_feed.hpp"

#include <algorithm>
#include <chrono>

#include "storage/security_store.hpp"

namespace caudal::cluster {

revocation_inbox::revocation_inbox(size_t capacity, metrics::gauge* depth)
    : capacity_(std::max<size_t>(capacity, 1)), depth_(depth) {}

bool revocation_inbox::push_revoked(std::string client_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool queued = pending_.revoked.size() < capacity_;
  if (queued)
    pending_.revoked.push_back(std::move(client_id));
  else
    pending_.catch_up = true;
  if (depth_ != nullptr)
    depth_->set(static_cast<int64_t>(pending_.revoked.size()));
  wake_locked();
  return queued;
}

void revocation_inbox::push_catch_up() {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.catch_up = true;
  wake_locked();
}

void revocation_inbox::wake_locked() {
  if (waiter_.get() != nullptr) {
    waiter_->fulfill();
    waiter_ = nullptr;
  }
}

kj::Promise<revocation_inbox::batch> revocation_inbox::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!pending_.revoked.empty() || pending_.catch_up) {
    batch out = std::move(pending_);
    pending_ = batch{};
    if (depth_ != nullptr)
      depth_->set(0);
    return out;
  }
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  waiter_ = kj::mv(paf.fulfiller);
  lock.unlock();
  return paf.promise.then([this] { return next(); });
}

namespace {

// The listener's view for the log, touched only by its hooks, hence only on the listener's thread.
struct listener_log_state {
  bool ever_listened = false;
  bool offline = false;  // a loss was logged and no LISTEN has succeeded since
  uint32_t failed_attempts = 0;
  uint64_t ignored_reports = 0;
  std::chrono::steady_clock::time_point offline_since{};
};

}  // namespace

std::unique_ptr<storage::revocation_listener> start_revocation_listener(const std::string& pg_url,
                                                                        const std::string& node_id,
                                                                        std::shared_ptr<revocation_inbox> inbox,
                                                                        std::shared_ptr<spdlog::logger> log,
                                                                        metrics::registry* metrics) {
  metrics::gauge* up = nullptr;
  metrics::counter_family* events = nullptr;
  metrics::counter_family* notifications = nullptr;
  if (metrics != nullptr) {
    up = &metrics
              ->add_gauge("caudal_revocation_listener_up",
                          "1 while the node LISTENs for revocations on PostgreSQL, 0 while it reconnects")
              .with();
    events = &metrics->add_counter("caudal_revocation_listener_events_total",
                                   "Revocation listener connections made (listening) and lost (lost)", {"event"});
    notifications = &metrics->add_counter(
        "caudal_revocation_notifications_total",
        "Revocation notifications by outcome: revoked (sessions closed), not_revoked and malformed (ignored), "
        "overflow (dropped past the per-wake-up or inbox bound; a catch-up read covers them)",
        {"outcome"});
  }
  auto count = [notifications](const char* outcome, size_t n) {
    if (notifications != nullptr && n > 0)
      notifications->with({outcome}).inc(n);
  };
  auto state = std::make_shared<listener_log_state>();

  storage::revocation_listener_hooks hooks;
  hooks.listening = [inbox, log, state, up, events] {
    // Notifications sent while nobody listened are gone: the gateway reads what was revoked meanwhile.
    inbox->push_catch_up();
    if (up != nullptr)
      up->set(1);
    if (events != nullptr)
      events->with({"listening"}).inc();
    if (!state->ever_listened) {
      log->info("revocation listener: listening on PostgreSQL channel '{}'; catching up", storage::revocation_channel);
    } else {
      const auto gap_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - state->offline_since)
              .count();
      log->info("revocation listener: listening again after {} ms without ({} failed attempt(s)); catching up", gap_ms,
                state->failed_attempts);
    }
    state->ever_listened = true;
    state->offline = false;
    state->failed_attempts = 0;
  };
  hooks.lost = [log, state, up, events](const failure& why, uint32_t retry_in_ms) {
    if (up != nullptr)
      up->set(0);
    if (events != nullptr)
      events->with({"lost"}).inc();
    // The detail is libpq's or the server's message: host, port and user at most, never the URL.
    if (!state->offline) {
      state->offline = true;
      state->offline_since = std::chrono::steady_clock::now();
      log->warn("revocation listener: {} ({}); retrying in {} ms (the revocation poll still runs meanwhile)",
                state->ever_listened ? "connection lost" : "cannot connect", why.detail, retry_in_ms);
    } else {
      ++state->failed_attempts;
      log->debug("revocation listener: attempt failed ({}); retrying in {} ms", why.detail, retry_in_ms);
    }
  };
  hooks.revoked = [inbox, log, count](std::vector<std::string> ids) {
    size_t queued = 0;
    for (auto& id : ids)
      queued += inbox->push_revoked(std::move(id)) ? 1 : 0;
    count("revoked", queued);
    if (queued < ids.size()) {
      count("overflow", ids.size() - queued);
      log->warn("revocation inbox full: {} revocation(s) not queued; the gateway catches up instead",
                ids.size() - queued);
    }
  };
  hooks.ignored = [log, count, state](size_t malformed, size_t not_revoked) {
    count("malformed", malformed);
    count("not_revoked", not_revoked);
    // Never the payloads: they are whatever someone sent. The first time and every 100th after, so a
    // flood of forged notifications cannot flood the log too (the counters have every one).
    if (state->ignored_reports++ % 100 == 0)
      log->warn(
          "revocation listener: ignored {} malformed notification(s) and {} naming no revoked client "
          "(caudal_revocation_notifications_total counts them all)",
          malformed, not_revoked);
  };
  hooks.overflow = [inbox, log, count](size_t dropped) {
    inbox->push_catch_up();
    count("overflow", dropped);
    log->warn("revocation listener: {} notification(s) past the per-wake-up bound; catching up instead", dropped);
  };

  storage::revocation_listener_config cfg;
  cfg.pg_url = pg_url;
  cfg.application_name = "caudal-revocations-" + node_id;
  auto listener = std::make_unique<storage::revocation_listener>(std::move(cfg), std::move(hooks));
  if (auto started = listener->start(); !started.ok()) {
    log->error("revocation listener not started ({}): other nodes' revocations arrive by the poll only",
               started.error().detail);
    return nullptr;
  }
  return listener;
}

}  // namespace caudal::cluster
