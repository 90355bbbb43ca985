#pragma once
// The node's ear on PostgreSQL for revocations (issue 5): one dedicated connection that LISTENs on
// revocation_channel (security_store.hpp), on a thread of its own, so a client revoked through any node
// closes its sessions on this one as soon as the revoking transaction commits.
//
// Owned by the node's composition root; start() and stop() on the owner's thread. Its thread blocks in
// libpq and poll() only (STYLE 9) and reports through `revocation_listener_hooks`, called on that thread.
//
// What it promises, and what it leaves to its owner:
//  - A notification is a hint, never trusted alone: its payload must be a well-formed client id, and the
//    clients table must say that client is revoked (anyone connected to the database may NOTIFY).
//    Malformed payloads and ids of clients that are not revoked are counted (`ignored`) and dropped.
//  - Notifications sent while it is not listening are lost (PostgreSQL keeps none for absent listeners).
//    After every (re)connect, once LISTEN is in force, it calls `listening`: the owner then reads what
//    was revoked meanwhile (the gateway's catch-up read). Revocations committed after LISTEN arrive as
//    notifications, those before it are in that read: none falls between.
//  - Bounded: at most max_batch distinct ids are checked and reported per wake-up; past that the rest
//    are dropped, and `overflow` tells the owner to catch up instead (one read covers them all).
//  - A lost connection is retried after retry_min_ms, doubling up to retry_max_ms while attempts fail.
//  - stop() returns promptly: the thread waits on a wake-up pipe beside the socket, also while it
//    connects (pg_connection::open_interruptible) or waits to retry.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"

namespace caudal::storage {

struct revocation_listener_config {
  std::string pg_url;
  std::string application_name = "caudal-revocations";  // names the backend in pg_stat_activity
  uint32_t retry_min_ms = 100;                          // first wait after a lost connection or a failed attempt
  uint32_t retry_max_ms = 5000;                         // the wait doubles up to this while attempts fail
  size_t max_batch = 256;                               // distinct client ids checked and reported per wake-up
};

// Called on the listener's thread; each must return quickly (queue, count, log) and may be empty.
struct revocation_listener_hooks {
  std::function<void()> listening;                                 // (re)connected, LISTEN in force: catch up
  std::function<void(const failure&, uint32_t retry_in_ms)> lost;  // a failed attempt or a lost connection
  std::function<void(std::vector<std::string>)> revoked;           // client ids the clients table says are revoked
  std::function<void(size_t malformed, size_t not_revoked)> ignored;
  std::function<void(size_t dropped)> overflow;  // past max_batch in one wake-up: catch up
};

class revocation_listener {
 public:
  revocation_listener(revocation_listener_config cfg, revocation_listener_hooks hooks);
  ~revocation_listener();  // stop()
  revocation_listener(const revocation_listener&) = delete;
  revocation_listener& operator=(const revocation_listener&) = delete;

  // Starts the thread (errc::internal when the wake-up pipe cannot be made). Once only.
  result<void> start();
  // Wakes the thread and joins it; idempotent.
  void stop();

 private:
  class session;
  void run();
  bool wait_stop(uint32_t ms);  // sleeps up to ms; true when stop() was called

  revocation_listener_config cfg_;
  revocation_listener_hooks hooks_;
  int wake_[2] = {-1, -1};  // pipe: stop() writes one byte, the thread polls the read end
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace caudal::storage
