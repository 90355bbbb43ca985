// The revocation listener's thread (see revocation_listener.hpp).
#include "storage/revocation_listener.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include "storage/pg_connection.hpp"
#include "storage/security_store.hpp"

namespace caudal::storage {

namespace {

// The thread wakes at least this often even when nothing arrives: a backstop for the stop flag (the
// wake-up pipe is what makes stop() prompt).
constexpr int idle_wake_ms = 1000;

struct notify_deleter {
  void operator()(PGnotify* n) const { PQfreemem(n); }
};

}  // namespace

// One connection's life: LISTEN, then wait and handle notifications until it breaks or stop() is called.
// Lives on the listener's thread only.
class revocation_listener::session {
 public:
  session(revocation_listener& owner, pg_connection& c) : owner_(owner), c_(c) {}

  result<void> listen() { return c_.exec(std::string("LISTEN ") + revocation_channel); }

  // Returns why the connection ended (or a failure saying it stopped, when stop() was called).
  failure serve() {
    while (!owner_.stopping_.load()) {
      // Notifications that libpq read while a query ran are already in its buffer: the socket will not
      // say so, so they are handled before the wait. Each round is bounded by max_batch.
      for (bool more = true; more && !owner_.stopping_.load();) {
        auto handled = handle_notifications();
        if (!handled.ok())
          return handled.error();
        more = handled.value();
      }
      if (!c_.healthy())
        return c_.failure_from(nullptr, "listen");
      pollfd p[2] = {{PQsocket(c_.raw()), POLLIN, 0}, {owner_.wake_[0], POLLIN, 0}};
      const int n = ::poll(p, 2, idle_wake_ms);
      if (n < 0 && errno != EINTR)
        return failure{errc::database_unavailable, std::string("listen: poll: ") + std::strerror(errno)};
      if (p[1].revents != 0)
        break;
      // Readable, or hung up (POLLHUP/POLLERR): libpq reads what came, or finds the connection gone.
      if (p[0].revents != 0 && (PQconsumeInput(c_.raw()) == 0 || !c_.healthy()))
        return c_.failure_from(nullptr, "listen");
    }
    return failure{errc::database_unavailable, "stopping"};
  }

 private:
  // Takes every notification libpq holds; true when there were any (there may be more now).
  result<bool> handle_notifications() {
    std::vector<std::string> ids;
    size_t malformed = 0, dropped = 0, seen = 0;
    while (auto n = std::unique_ptr<PGnotify, notify_deleter>(PQnotifies(c_.raw()))) {
      ++seen;
      // One LISTEN, one channel; anything else is not ours to judge.
      if (std::strcmp(n->relname, revocation_channel) != 0)
        continue;
      std::string_view id = n->extra != nullptr ? std::string_view(n->extra) : std::string_view();
      if (!well_formed_client_id(id)) {
        ++malformed;
        continue;
      }
      if (std::find(ids.begin(), ids.end(), id) != ids.end())
        continue;  // the same client announced twice (revoked through two nodes): one check
      if (ids.size() >= owner_.cfg_.max_batch) {
        ++dropped;
        continue;
      }
      ids.emplace_back(id);
    }
    if (seen == 0)
      return false;
    size_t not_revoked = 0;
    if (!ids.empty()) {
      // On a failure these ids are not lost: the connection is dropped, and the catch-up read after the
      // reconnect covers every revocation since the owner's last read.
      auto confirmed = revoked_among(c_, ids);
      if (!confirmed.ok())
        return confirmed.error();
      not_revoked = ids.size() - confirmed->size();
      if (!confirmed->empty() && owner_.hooks_.revoked)
        owner_.hooks_.revoked(std::move(confirmed.value()));
    }
    if ((malformed > 0 || not_revoked > 0) && owner_.hooks_.ignored)
      owner_.hooks_.ignored(malformed, not_revoked);
    if (dropped > 0 && owner_.hooks_.overflow)
      owner_.hooks_.overflow(dropped);
    return true;
  }

  revocation_listener& owner_;
  pg_connection& c_;
};

revocation_listener::revocation_listener(revocation_listener_config cfg, revocation_listener_hooks hooks)
    : cfg_(std::move(cfg)), hooks_(std::move(hooks)) {
  cfg_.retry_min_ms = std::max<uint32_t>(cfg_.retry_min_ms, 1);
  cfg_.retry_max_ms = std::max(cfg_.retry_max_ms, cfg_.retry_min_ms);
  cfg_.max_batch = std::clamp<size_t>(cfg_.max_batch, 1, 1000);  // revoked_among's limit
}

revocation_listener::~revocation_listener() {
  stop();
}

result<void> revocation_listener::start() {
  if (thread_.joinable() || wake_[0] >= 0)
    return failure{errc::internal, "revocation listener: started twice"};
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return failure{errc::internal, std::string("revocation listener: pipe: ") + std::strerror(errno)};
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "caudal-revoke");
  return {};
}

void revocation_listener::stop() {
  stopping_.store(true);
  if (wake_[1] >= 0) {
    const char byte = 1;
    // Non-blocking: a full pipe already holds a wake-up. The thread never reads it, so it stays readable.
    [[maybe_unused]] auto n = ::write(wake_[1], &byte, 1);
  }
  if (thread_.joinable())
    thread_.join();
  for (int& fd : wake_) {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
}

bool revocation_listener::wait_stop(uint32_t ms) {
  pollfd p{wake_[0], POLLIN, 0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stopping_.load()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    ::poll(&p, 1, static_cast<int>(left.count()));  // EINTR or a timeout: the loop decides
  }
  return true;
}

void revocation_listener::run() {
  uint32_t next_wait_ms = cfg_.retry_min_ms;
  while (!stopping_.load()) {
    bool listened = false;
    failure why{errc::database_unavailable, ""};
    if (auto c = pg_connection::open_interruptible(cfg_.pg_url, cfg_.application_name, wake_[0]); !c.ok()) {
      why = c.error();
    } else {
      session s(*this, *c.value());
      if (auto l = s.listen(); !l.ok()) {
        why = l.error();
      } else {
        listened = true;
        if (hooks_.listening)
          hooks_.listening();
        why = s.serve();
      }
    }
    if (stopping_.load())
      break;
    // After a connection that worked, the first retry comes soon; while attempts fail, ever less often.
    const uint32_t wait_ms = listened ? cfg_.retry_min_ms : next_wait_ms;
    next_wait_ms = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{wait_ms} * 2, cfg_.retry_max_ms));
    if (hooks_.lost)
      hooks_.lost(why, wait_ms);
    if (wait_stop(wait_ms))
      break;
  }
}

}  // namespace caudal::storage
