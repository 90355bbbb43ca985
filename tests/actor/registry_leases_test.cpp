// The tenant registry with shard ownership (actors/tenant_registry.cpp): it serves only tenants whose
// shard lease the node holds (not_owner otherwise), every unit of work carries that lease's fence, a lost
// lease revokes the tenant (its requests in progress fail with the retryable shard_moving), and a lease
// held again at a new epoch serves with the new fence. Scripted writer and reader, no PostgreSQL.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "tests/actor/fake_services.hpp"

namespace {

using namespace caudal;
using namespace caudal::actor_test;
using storage::held_lease;
using storage::shard_fence;

std::shared_ptr<const cluster::placement> eight_shards() {
  auto p = cluster::placement::make(8, {});
  REQUIRE(p.ok());
  return std::make_shared<const cluster::placement>(std::move(p).value());
}

template <class R>
std::string error_of(const caudal::result<R>& r) {
  return r.ok() ? "ok" : std::string(errc_name(r.error().code));
}

std::optional<shard_fence> fence_of(harness& h, tenant_id t) {
  std::lock_guard<std::mutex> g(h.world().mu);
  auto it = h.world().last_fence.find(t.value);
  return it == h.world().last_fence.end() ? std::nullopt : it->second;
}

}  // namespace

TEST_CASE("only tenants of held shards are served, each unit fenced with its lease; a lost lease revokes") {
  auto shards = eight_shards();
  const tenant_id mine{1};
  const uint32_t my_shard = shards->shard_of(mine).value();
  tenant_id other{2};
  while (shards->shard_of(other).value() == my_shard)
    other = tenant_id{other.value + 1};
  const uint32_t other_shard = shards->shard_of(other).value();

  harness h({}, {}, shards);
  h.world().add_tenant(mine);
  h.world().add_tenant(other);
  h.start();

  // No lease table yet: nothing is this node's.
  CHECK(error_of(h.create_accounts(mine, {new_account(1), new_account(2)})) == "not_owner");

  h.lease_table({{my_shard, 5}});
  REQUIRE(error_of(h.create_accounts(mine, {new_account(1), new_account(2)})) == "ok");
  CHECK(fence_of(h, mine) == std::optional<shard_fence>(shard_fence{my_shard, 5}));
  CHECK(error_of(h.create_accounts(other, {new_account(1)})) == "not_owner");
  CHECK(h.world().received(other) == 0);

  // A request in progress when the lease goes: answered shard_moving (retryable) at once, the actor stops.
  h.hold(mine);
  auto in_flight = h.send_transfers(mine, {new_transfer(1, 1, 2, 10)});
  REQUIRE(eventually([&] { return h.world().held(mine) == 1; }));
  const caf::actor first_actor = h.world().loader_of(mine);
  REQUIRE(first_actor);
  h.lease_table({{other_shard, 1}});
  REQUIRE(eventually([&] { return in_flight->is_done(); }));
  CHECK(error_of(in_flight->get()) == "shard_moving");
  CHECK(errc_retryable(errc::shard_moving));
  CHECK(h.wait_down(first_actor));
  CHECK(error_of(h.create_transfers(mine, {new_transfer(1, 1, 2, 10)})) == "not_owner");

  // Held again, at a new epoch (another node held it in between): a new actor, loaded afresh, new fence.
  h.release(mine);  // the old actor's unit: its answer goes nowhere (in the node, the fence refuses it)
  h.lease_table({{my_shard, 7}, {other_shard, 1}});
  auto retried = h.create_transfers(mine, {new_transfer(2, 1, 2, 10)});
  REQUIRE(error_of(retried) == "ok");
  CHECK(fence_of(h, mine) == std::optional<shard_fence>(shard_fence{my_shard, 7}));
  CHECK(h.world().loader_of(mine) != first_actor);
  CHECK(error_of(h.create_accounts(other, {new_account(1)})) == "ok");
  CHECK(fence_of(h, other) == std::optional<shard_fence>(shard_fence{other_shard, 1}));
}

TEST_CASE("without placement (no cluster) every tenant is served, unfenced") {
  harness h;
  h.world().add_tenant(tenant_id{1});
  h.start();
  REQUIRE(error_of(h.create_accounts(tenant_id{1}, {new_account(1)})) == "ok");
  CHECK(fence_of(h, tenant_id{1}) == std::nullopt);
}

TEST_CASE("hand-off: a moving shard's new requests get shard_moving; it is quiet once its requests are answered") {
  auto shards = eight_shards();
  const tenant_id mine{1};
  const uint32_t my_shard = shards->shard_of(mine).value();
  harness h({}, {}, shards);
  h.world().add_tenant(mine);
  h.start();
  h.lease_table({{my_shard, 3}});
  REQUIRE(error_of(h.create_accounts(mine, {new_account(1), new_account(2)})) == "ok");
  auto handoff = [&](std::vector<uint32_t> s) {
    auto r = h.call<actors::shard_list>(actors::handoff_atom::value, actors::shard_list{std::move(s)});
    REQUIRE(r.ok());
    return r.value().shards;
  };

  h.hold(mine);
  auto in_flight = h.send_transfers(mine, {new_transfer(1, 1, 2, 10)});
  REQUIRE(eventually([&] { return h.world().held(mine) == 1; }));
  const caf::actor actor = h.world().loader_of(mine);
  // Busy: not quiet yet, and new requests are refused while the one in progress goes on.
  CHECK(handoff({my_shard}).empty());
  CHECK(error_of(h.create_transfers(mine, {new_transfer(2, 1, 2, 10)})) == "shard_moving");
  CHECK_FALSE(in_flight->is_done());

  h.release(mine);
  REQUIRE(eventually([&] { return in_flight->is_done(); }));
  CHECK(error_of(in_flight->get()) == "ok");  // answered normally, after its commit
  CHECK(handoff({my_shard}) == std::vector<uint32_t>{my_shard});
  CHECK(h.wait_down(actor));

  // The hand-off called off (the shard stays): served again, by a new actor.
  CHECK(handoff({}).empty());
  CHECK(error_of(h.create_transfers(mine, {new_transfer(2, 1, 2, 10)})) == "ok");
  CHECK(fence_of(h, mine) == std::optional<shard_fence>(shard_fence{my_shard, 3}));
}
