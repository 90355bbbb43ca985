#include "actors/batch_writer.hpp"

#include <chrono>
#include <thread>
#include <unordered_map>
#include <vector>

#include "actors/protocol.hpp"
#include "storage/ledger_store.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::actors {

namespace {

size_t unit_size(const commit_work& w) {
  const auto& c = w.changes;
  return c.created_accounts.size() + c.created_transfers.size() + c.account_updates.size() + c.failed_transfers.size() +
         c.pending_updates.size() + 1;
}

class writer {
 public:
  writer(caf::blocking_actor* self, batch_writer_config cfg) : self_(self), cfg_(std::move(cfg)) {
    if (cfg_.metrics != nullptr) {
      commit_latency_ = &cfg_.metrics
                             ->add_histogram("caudal_group_commit_duration_seconds",
                                             "Time of one group commit (one PostgreSQL transaction)")
                             .with();
      commit_units_ = &cfg_.metrics
                           ->add_histogram("caudal_group_commit_units", "Tenant units per group commit", {},
                                           metrics::histogram_buckets::sizes())
                           .with();
      commit_rows_ = &cfg_.metrics
                          ->add_histogram("caudal_group_commit_rows", "Created accounts and transfers per group commit",
                                          {}, metrics::histogram_buckets::sizes())
                          .with();
      failures_ = &cfg_.metrics->add_counter("caudal_group_commit_failures_total", "Failed group commits by reason",
                                             {"reason"});
      fenced_units_ = &cfg_.metrics
                           ->add_counter("caudal_fenced_units_total",
                                         "Units of work refused by the group commit: their shard lease was lost")
                           .with();
    }
  }

  void run() {
    connect();
    bool running = true;
    // The handlers, shared by the blocking first receive and the non-blocking drain that follows it.
    auto on_commit = [&](commit_atom, commit_work_ptr& w) {
      items_ += unit_size(*w);
      group_.push_back(std::move(w));
    };
    auto on_barrier = [&](barrier_atom) { barriers_.push_back(self_->make_response_promise()); };
    auto on_delay = [&](writer_delay_atom, uint32_t ms) {
      delay_ms_ = ms;
      cfg_.log->warn("test hook: writer holds each transaction {} ms before COMMIT", ms);
    };
    auto on_exit = [&](caf::exit_msg& m) {
      running = false;
      self_->fail_state(std::move(m.reason));
    };
    auto on_stop = [&](stop_atom) { running = false; };
    while (running) {
      // Block for the first message, then take whatever else is already queued: that is the group.
      self_->receive(on_commit, on_barrier, on_delay, on_exit, on_stop);
      bool drained = false;
      while (running && !drained && items_ < cfg_.max_items)
        self_->receive(
            on_commit, on_barrier, on_delay, on_exit, on_stop,
            caf::after(std::chrono::seconds(0)) >> [&] { drained = true; });
      flush();
    }
  }

 private:
  void connect() {
    auto c = storage::pg_connection::open(cfg_.pg_url, "caudal-writer", storage::writer_session_settings);
    if (cfg_.db_healthy)
      cfg_.db_healthy->store(c.ok());
    if (c) {
      conn_ = std::move(c.value());
    } else {
      cfg_.log->error("writer cannot connect to PostgreSQL: {}", c.error().detail);
    }
  }

  bool ensure_connection() {
    if (conn_ && conn_->healthy())
      return true;
    if (!conn_) {
      connect();
      return conn_ != nullptr;
    }
    auto r = conn_->reconnect();
    if (!r.ok())
      cfg_.log->error("writer reconnect failed: {}", r.error().detail);
    return r.ok();
  }

  void flush() {
    std::vector<commit_work_ptr> writable;
    std::vector<commit_work_ptr> refused;
    for (auto& w : group_) {
      auto p = poisoned_.find(w->tenant.value);
      if (p != poisoned_.end() && p->second == w->generation) {
        refused.push_back(std::move(w));
        continue;
      }
      if (p != poisoned_.end())
        poisoned_.erase(p);  // a newer generation: the tenant rebuilt
      writable.push_back(std::move(w));
    }
    group_.clear();
    items_ = 0;
    for (auto& w : refused)
      self_->send(w->reply_to, commit_failed_atom::value, w->seq, errc::commit_failed);

    if (!writable.empty()) {
      std::vector<storage::tenant_commit> commits;
      commits.reserve(writable.size());
      for (auto& w : writable)
        commits.push_back({w->tenant, &w->changes, w->fence});
      auto started = std::chrono::steady_clock::now();
      result<storage::group_outcome> r = errc::database_unavailable;
      // database_unavailable means the connection was gone before anything was sent (e.g. the server
      // closed it while we were idle): reconnecting and trying once more is safe.
      for (int attempt = 0; attempt < 2 && !r.ok() && r.error().code == errc::database_unavailable; ++attempt)
        if (ensure_connection())
          r = storage::commit_group(*conn_, commits, delay_ms_);
      record(r, started, writable);
      if (r.ok()) {
        // A fenced unit was not written: this node no longer holds its shard at the unit's epoch. Like a
        // failed commit, its tenant's later units of the same generation were computed on top of it.
        const auto& fenced = r->fenced;
        for (size_t i = 0, f = 0; i < writable.size(); ++i) {
          auto& w = writable[i];
          if (f < fenced.size() && fenced[f] == i) {
            ++f;
            poisoned_[w->tenant.value] = w->generation;
            self_->send(w->reply_to, commit_failed_atom::value, w->seq, errc::not_owner);
          } else {
            self_->send(w->reply_to, committed_atom::value, w->seq);
          }
        }
        if (!fenced.empty()) {
          cfg_.log->warn("group commit: {} of {} units refused, their shard lease is no longer held", fenced.size(),
                         writable.size());
          if (fenced_units_ != nullptr)
            fenced_units_->inc(fenced.size());
        }
      } else {
        cfg_.log->error("group commit of {} units failed ({}): {}", writable.size(), errc_name(r.error().code),
                        r.error().detail);
        for (auto& w : writable) {
          poisoned_[w->tenant.value] = w->generation;
          self_->send(w->reply_to, commit_failed_atom::value, w->seq, r.error().code);
        }
        if (conn_ && !conn_->healthy())
          ensure_connection();
      }
    }
    for (auto& rp : barriers_)
      rp.deliver(caf::unit);
    barriers_.clear();
  }

  void record(const result<storage::group_outcome>& r, std::chrono::steady_clock::time_point started,
              const std::vector<commit_work_ptr>& units) {
    if (cfg_.db_healthy)
      cfg_.db_healthy->store(r.ok() || r.error().code != errc::database_unavailable);
    if (commit_latency_ == nullptr)
      return;
    if (!r.ok()) {
      failures_->with({errc_name(r.error().code)}).inc();
      return;
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    commit_latency_->observe(static_cast<uint64_t>(us.count()));
    commit_units_->observe(units.size());
    uint64_t rows = 0;
    for (auto& w : units)
      rows += w->changes.created_accounts.size() + w->changes.created_transfers.size();
    commit_rows_->observe(rows);
  }

  caf::blocking_actor* self_;
  batch_writer_config cfg_;
  metrics::histogram* commit_latency_ = nullptr;
  metrics::histogram* commit_units_ = nullptr;
  metrics::histogram* commit_rows_ = nullptr;
  metrics::counter_family* failures_ = nullptr;
  metrics::counter* fenced_units_ = nullptr;
  std::unique_ptr<storage::pg_connection> conn_;
  std::vector<commit_work_ptr> group_;
  std::vector<caf::response_promise> barriers_;
  std::unordered_map<uint64_t, uint64_t> poisoned_;  // tenant -> poisoned generation; bounded by tenants
  size_t items_ = 0;
  uint32_t delay_ms_ = 0;
};

}  // namespace

void batch_writer(caf::blocking_actor* self, batch_writer_config cfg) {
  writer w(self, std::move(cfg));
  w.run();
}

}  // namespace caudal::actors
