// The hand-over of pushed revocations from the listener's thread to the kj thread (cluster/revocation_feed):
// another thread's push wakes a waiting next(); the inbox is bounded and, past its bound, asks for a
// catch-up instead of losing or growing; dropping a waiting next() is safe while pushes go on.
#include <doctest/doctest.h>
#include <kj/async-io.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cluster/revocation_feed.hpp"

using namespace caudal;
using caudal::cluster::revocation_inbox;

TEST_CASE("a push from another thread wakes the kj thread; what is queued comes out at once, in order") {
  auto io = kj::setupAsyncIo();
  metrics::registry reg;
  auto& depth = reg.add_gauge("depth", "Depth.").with();
  revocation_inbox inbox(16, &depth);

  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(inbox.push_revoked("client-a"));
  });
  auto first = inbox.next().wait(io.waitScope);
  pusher.join();
  CHECK(first.revoked == std::vector<std::string>{"client-a"});
  CHECK_FALSE(first.catch_up);
  CHECK(depth.value() == 0);

  CHECK(inbox.push_revoked("client-b"));
  CHECK(inbox.push_revoked("client-c"));
  inbox.push_catch_up();
  CHECK(depth.value() == 2);
  auto second = inbox.next().wait(io.waitScope);
  CHECK(second.revoked == std::vector<std::string>{"client-b", "client-c"});
  CHECK(second.catch_up);
  CHECK(depth.value() == 0);

  std::thread asker([&] { inbox.push_catch_up(); });
  auto third = inbox.next().wait(io.waitScope);
  asker.join();
  CHECK(third.revoked.empty());
  CHECK(third.catch_up);
}

TEST_CASE("past its capacity the inbox queues no more ids and asks for a catch-up instead") {
  auto io = kj::setupAsyncIo();
  revocation_inbox inbox(2);
  CHECK(inbox.push_revoked("a"));
  CHECK(inbox.push_revoked("b"));
  CHECK_FALSE(inbox.push_revoked("c"));
  auto b = inbox.next().wait(io.waitScope);
  CHECK(b.revoked == std::vector<std::string>{"a", "b"});
  CHECK(b.catch_up);
  // Emptied: room again.
  CHECK(inbox.push_revoked("d"));
  CHECK(inbox.next().wait(io.waitScope).revoked == std::vector<std::string>{"d"});
}

TEST_CASE("dropping a waiting next() while another thread pushes is safe, and the pushes are kept") {
  auto io = kj::setupAsyncIo();
  revocation_inbox inbox(100000);
  std::atomic<bool> done{false};
  std::thread pusher([&] {
    for (int i = 0; i < 2000; ++i)
      inbox.push_revoked("c" + std::to_string(i));
    done = true;
  });
  size_t taken = 0;
  while (!done.load() || taken < 2000) {
    auto p = inbox.next();
    // Either resolved already or waiting: poll the loop once, then keep or drop the promise.
    if (p.poll(io.waitScope))
      taken += p.wait(io.waitScope).revoked.size();
  }
  pusher.join();
  CHECK(taken == 2000);
}
