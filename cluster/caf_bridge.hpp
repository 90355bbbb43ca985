#pragma once
// The bridge from the kj event loop (RPC thread) to CAF actors (DESIGN.md section 11): a request built
// on the kj thread is sent by a short-lived actor, and its answer comes back to the kj loop through a
// cross-thread fulfiller. Nothing blocks either side; every request has a deadline.
#include <caf/all.hpp>
#include <kj/async.h>

#include <chrono>
#include <memory>
#include <tuple>
#include <type_traits>

#include "actors/protocol.hpp"
#include "base/result.hpp"

namespace caudal::cluster {

// Sends (xs...) to `dest` and resolves with its answer of type R, or with the failure it answered
// (errc), or with errc::timeout after `timeout`. R = caf::unit_t for answers without a value.
template <class R, class... Ts>
kj::Promise<result<R>> ask(caf::actor_system& sys, caf::actor dest, std::chrono::milliseconds timeout, Ts... xs) {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<result<R>>();
  auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<result<R>>>>(kj::mv(paf.fulfiller));
  auto args = std::make_shared<std::tuple<Ts...>>(std::move(xs)...);
  sys.spawn([dest, timeout, fulfiller, args](caf::event_based_actor* self) {
    auto on_error = [fulfiller](caf::error& e) {
      (*fulfiller)->fulfill(result<R>(failure{actors::to_errc(e), actors::detail_of(e)}));
    };
    auto sent = std::apply(
        [&](auto&... a) { return self->request(dest, timeout, std::move(a)...); }, *args);
    if constexpr (std::is_same_v<R, caf::unit_t>)
      sent.then([fulfiller]() { (*fulfiller)->fulfill(result<R>(caf::unit)); }, on_error);
    else
      sent.then([fulfiller](R& r) { (*fulfiller)->fulfill(result<R>(std::move(r))); }, on_error);
  });
  return kj::mv(paf.promise);
}

}  // namespace caudal::cluster
