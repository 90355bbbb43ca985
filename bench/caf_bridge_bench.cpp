// Micro-benchmark of the kj -> CAF -> kj bridge (a tool, not a test): the CPU, wall time and context switches
// of one round trip from the kj event loop to an actor and back, for
// - ask:       cluster::ask<> as the gateway uses it (one spawned actor per request, CAF request timeout);
// - companion: a PROTOTYPE bridge measured for comparison, not used by the node: one caf::actor_companion
//              bound to the kj loop sends the request itself and receives the answer on the kj thread; the
//              deadline is a kj timer (no CAF clock entry: CAF 0.17.6 wakes its clock thread for every
//              request timeout set, and does not cancel it when the answer comes, so it fires later anyway);
// - direct:    the lower bound, a message carrying a cross-thread fulfiller the actor fulfills itself.
//
//   build/bench/caf_bridge_bench [calls=20000] [rounds=3] [max_threads=0 (CAF's default)]
//
// The actor system is configured as the node's (scheduler.policy = sharing). Figures are per call, for the
// whole process (getrusage: every thread's CPU and context switches).
#include <kj/async-io.h>
#include <sys/resource.h>

#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "cluster/caf_bridge.hpp"

namespace {

using namespace caudal;
using echo_atom = caf::atom_constant<caf::atom("echo")>;
using direct_atom = caf::atom_constant<caf::atom("direct")>;
using direct_reply = std::shared_ptr<kj::Own<kj::CrossThreadPromiseFulfiller<int>>>;

}  // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(direct_reply)

namespace {

caf::behavior echo(caf::event_based_actor*) {
  return {[](echo_atom, int x) { return x; }, [](direct_atom, int x, direct_reply& f) { (*f)->fulfill(kj::mv(x)); }};
}

// Never answers (keeps the promises it makes), so a caller's deadline must end the wait.
caf::behavior silent(caf::event_based_actor* self) {
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  return {[self, kept](echo_atom, int) -> caf::result<int> {
    kept->push_back(self->make_response_promise());
    return caf::delegated<int>();
  }};
}

// PROTOTYPE (see the file comment). Lives on the kj thread; only push() runs on other threads.
class companion_bridge : private kj::TaskSet::ErrorHandler {
 public:
  companion_bridge(caf::actor_system& sys, kj::Timer& timer)
      : timer_(timer), inbox_(std::make_shared<inbox>()), unit_(&sys), tasks_(*this) {
    handle_ = caf::actor_cast<caf::strong_actor_ptr>(sys.spawn<caf::actor_companion, caf::hidden>());
    self()->context(&unit_);
    self()->become(caf::behavior{[](caf::unit_t) {}});  // with no behavior it would end at its first message
    auto in = inbox_;
    self()->on_enqueue([in](caf::mailbox_element_ptr ptr) { in->push(std::move(ptr)); });
    arm();
  }
  ~companion_bridge() {
    self()->on_enqueue(nullptr);
    self()->cleanup(caf::error{}, &unit_);
  }

  template <class R, class... Ts>
  kj::Promise<result<R>> ask(const caf::actor& dest, std::chrono::milliseconds timeout, Ts... xs) {
    auto paf = kj::newPromiseAndFulfiller<result<R>>();
    auto f = std::make_shared<kj::Own<kj::PromiseFulfiller<result<R>>>>(kj::mv(paf.fulfiller));
    auto* me = self();
    const auto id = me->new_request_id(caf::message_priority::normal);
    me->add_multiplexed_response_handler(
        id.response_id(), caf::behavior{[f](R& r) { (*f)->fulfill(result<R>(std::move(r))); },
                                        [f](caf::error& e) { (*f)->fulfill(result<R>(actors::to_errc(e))); }});
    dest->enqueue(caf::make_mailbox_element(me->ctrl(), id, {}, std::move(xs)...), me->context());
    auto deadline = timer_.afterDelay(timeout.count() * kj::MILLISECONDS).then([this, id]() -> result<R> {
      // As CAF's clock would: the handler sees request_timeout and is removed.
      auto timeout_msg = caf::make_mailbox_element(nullptr, id.response_id(), {}, caf::sec::request_timeout);
      self()->activate(&unit_, *timeout_msg);
      return failure{errc::timeout, "deadline passed"};
    });
    return paf.promise.exclusiveJoin(kj::mv(deadline));
  }

 private:
  struct inbox {
    std::mutex mutex;
    std::deque<caf::mailbox_element_ptr> queue;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> wake;  // set while the kj thread waits for mail
    void push(caf::mailbox_element_ptr ptr) {
      std::lock_guard<std::mutex> guard(mutex);
      queue.push_back(std::move(ptr));
      if (wake) {
        wake->fulfill();
        wake = nullptr;
      }
    }
  };

  void taskFailed(kj::Exception&&) override {}
  caf::actor_companion* self() {
    return static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(handle_));
  }

  void arm() {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    {
      std::lock_guard<std::mutex> guard(inbox_->mutex);
      if (inbox_->queue.empty())
        inbox_->wake = kj::mv(paf.fulfiller);
      else
        paf.fulfiller->fulfill();
    }
    tasks_.add(paf.promise.then([this] {
      std::deque<caf::mailbox_element_ptr> mail;
      {
        std::lock_guard<std::mutex> guard(inbox_->mutex);
        mail.swap(inbox_->queue);
      }
      for (auto& ptr : mail)
        self()->activate(&unit_, *ptr);
      arm();
    }));
  }

  kj::Timer& timer_;
  std::shared_ptr<inbox> inbox_;
  caf::strong_actor_ptr handle_;
  caf::scoped_execution_unit unit_;
  kj::TaskSet tasks_;
};

struct usage {
  double cpu_us;
  double switches;
};

usage now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto us = [](timeval t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return {us(r.ru_utime) + us(r.ru_stime), static_cast<double>(r.ru_nvcsw + r.ru_nivcsw)};
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const int max_threads = argc > 3 ? std::atoi(argv[3]) : 0;
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  if (max_threads > 0)
    cfg.set("scheduler.max-threads", static_cast<size_t>(max_threads));
  caf::actor_system sys{cfg};
  auto io = kj::setupAsyncIo();
  auto dest = sys.spawn(echo);
  const auto timeout = std::chrono::milliseconds(10000);
  int failures = 0;
  {
    companion_bridge bridge(sys, io.provider->getTimer());
    auto measure = [&](const char* name, auto one) {
      for (int i = 0; i < calls / 10; ++i)
        one(i);
      const auto u0 = now();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < calls; ++i)
        one(i);
      const auto t1 = std::chrono::steady_clock::now();
      const auto u1 = now();
      std::printf("%-10s wall %6.1f us   process CPU %6.1f us   context switches %5.2f   per call\n", name,
                  std::chrono::duration<double, std::micro>(t1 - t0).count() / calls, (u1.cpu_us - u0.cpu_us) / calls,
                  (u1.switches - u0.switches) / calls);
    };
    {  // Both bridges end a call that is never answered at its deadline with errc::timeout.
      auto mute = sys.spawn(silent);
      const auto short_wait = std::chrono::milliseconds(50);
      auto a = cluster::ask<int>(sys, mute, short_wait, echo_atom::value, 1).wait(io.waitScope);
      auto b = bridge.ask<int>(mute, short_wait, echo_atom::value, 1).wait(io.waitScope);
      const bool ok = !a && a.error().code == errc::timeout && !b && b.error().code == errc::timeout;
      std::printf("deadline check: %s\n", ok ? "both time out" : "FAILED");
      failures += ok ? 0 : 1;
      caf::anon_send_exit(mute, caf::exit_reason::user_shutdown);
    }
    for (int r = 0; r < rounds; ++r) {
      measure("ask", [&](int i) {
        auto got = cluster::ask<int>(sys, dest, timeout, echo_atom::value, i).wait(io.waitScope);
        failures += got && got.value() == i ? 0 : 1;
      });
      measure("companion", [&](int i) {
        auto got = bridge.ask<int>(dest, timeout, echo_atom::value, i).wait(io.waitScope);
        failures += got && got.value() == i ? 0 : 1;
      });
      measure("direct", [&](int i) {
        auto paf = kj::newPromiseAndCrossThreadFulfiller<int>();
        caf::anon_send(dest, direct_atom::value, i,
                       std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<int>>>(kj::mv(paf.fulfiller)));
        failures += paf.promise.wait(io.waitScope) == i ? 0 : 1;
      });
    }
  }
  caf::anon_send_exit(dest, caf::exit_reason::user_shutdown);
  if (failures != 0)
    std::fprintf(stderr, "%d calls answered wrongly\n", failures);
  return failures == 0 ? 0 : 1;
}
