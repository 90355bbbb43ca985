#pragma once
// Revocations pushed to this node (issue 5): the listener thread (storage/revocation_listener.hpp) hears
// them from PostgreSQL and queues them in a `revocation_inbox`; the gateway takes them on the kj
// event-loop thread (gateway::follow_revocations) and closes the clients' sessions there.
//
// Both are built by the node's composition root (cluster/node.cpp), which owns them.
#include <kj/async.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/metrics.hpp"
#include "storage/revocation_listener.hpp"

namespace caudal::cluster {

// The hand-over from the listener's thread to the kj thread. push_*() from any thread; next() on the kj
// thread only, one waiter at a time. Held by shared_ptr: the listener's hooks and the gateway's loop
// both keep it alive.
//
// Bounded: at most `capacity` client ids wait. Past it an id is not queued and a catch-up is asked for
// instead (the catch-up read finds that revocation in PostgreSQL), so nothing is lost and nothing grows.
// The kj thread is woken through a cross-thread fulfiller (the bridge of caf_bridge.hpp), never by a
// blocking call: the listener never waits for the kj loop, so neither side's shutdown can wait on the other.
class revocation_inbox {
 public:
  struct batch {
    std::vector<std::string> revoked;  // clients PostgreSQL says are revoked, in arrival order
    bool catch_up = false;             // read what was revoked lately (a reconnect, or ids dropped)
  };

  explicit revocation_inbox(size_t capacity = 1024, metrics::gauge* depth = nullptr);
  revocation_inbox(const revocation_inbox&) = delete;
  revocation_inbox& operator=(const revocation_inbox&) = delete;

  // false: full, not queued (a catch-up is asked for instead).
  bool push_revoked(std::string client_id);
  void push_catch_up();
  // Resolves, once anything is queued, with all of it (the inbox empties). The inbox must outlive the
  // promise.
  kj::Promise<batch> next();

 private:
  void wake_locked();

  const size_t capacity_;
  metrics::gauge* depth_;  // ids waiting (the node's /metrics); may be null
  std::mutex mutex_;
  batch pending_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> waiter_;  // set while next() waits
};

// The listener of node `node_id`, started: it reports to `inbox`, logs what an operator must see
// (listening, a lost connection, a catch-up asked for; never an URL, a secret or a malformed payload) and
// counts notifications by outcome in `metrics` (may be null). Its application_name is
// "caudal-revocations-<node_id>" (pg_stat_activity tells the nodes' listeners apart). Null when the thread
// cannot start (logged); the node then relies on the revocation poll.
std::unique_ptr<storage::revocation_listener> start_revocation_listener(const std::string& pg_url,
                                                                        const std::string& node_id,
                                                                        std::shared_ptr<revocation_inbox> inbox,
                                                                        std::shared_ptr<spdlog::logger> log,
                                                                        metrics::registry* metrics);

}  // namespace caudal::cluster
