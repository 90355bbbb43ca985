#include "actors/tenant_registry.hpp"

#include "security/scopes.hpp"

#include <functional>
#include <set>
#include <unordered_map>

#include "actors/protocol.hpp"
#include "actors/restart_budget.hpp"
#include "actors/tenant_actor.hpp"

namespace caudal::actors {

namespace {

struct tenant_entry {
  caf::actor handle;          // null while down (crashed and waiting for its restart, or passivated)
  uint64_t forwarded = 0;     // requests forwarded to the current incarnation
  std::unordered_map<uint64_t, std::function<void(errc)>> outstanding;  // request id -> fail it
  std::optional<restart_budget> restarts;
  uint64_t down_until_ns = 0;  // crashed: no restart before this
  uint64_t last_request_ns = 0;  // for choosing whom to passivate when the node is full
  bool passivation_asked = false;
  std::optional<storage::shard_fence> fence;  // the lease the live actor runs under
};

struct registry_state {
  static inline const char* name = "tenant_registry";
  services_ptr services;
  std::unordered_map<uint64_t, tenant_entry> tenants;  // bounded by limits.max_active_tenants live ones
  std::unordered_map<caf::actor_addr, uint64_t> tenant_by_addr;
  size_t live = 0;
  uint64_t next_request_id = 1;
  uint64_t next_incarnation = 1;
  // Per shard: the epoch of this node's lease, none when not held (empty until the lease manager's first
  // table; bounded by the cluster's shard count). Used only with services->placement.
  std::vector<std::optional<uint64_t>> held_epochs;
  // Shards being handed over (the lease manager's last list; bounded by the shard count): their tenants'
  // new requests get shard_moving while the requests in progress finish.
  std::set<uint32_t> moving;
};

using registry_self = caf::stateful_actor<registry_state>;

const node_services& svc(registry_self* self) { return *self->state.services; }
uint64_t now_ns(registry_self* self) { return svc(self).clock->now_ns(); }

tenant_entry& entry_for(registry_self* self, tenant_id t) {
  auto& e = self->state.tenants[t.value];
  if (!e.restarts) {
    const auto& tm = svc(self).timing;
    e.restarts.emplace(tm.restart_budget, uint64_t{tm.restart_window_ms} * ns_per_ms,
                       uint64_t{tm.restart_backoff_ms} * ns_per_ms, uint64_t{tm.restart_backoff_max_ms} * ns_per_ms);
  }
  return e;
}

// The node is full of live tenants: ask the least recently used one that has nothing in progress to
// passivate now (it still runs the idle handshake, so nothing in flight is lost). Linear in the number of
// live tenants, and only when the node is full.
void make_room(registry_self* self) {
  tenant_entry* lru = nullptr;
  for (auto& [t, e] : self->state.tenants)
    if (e.handle && e.outstanding.empty() && !e.passivation_asked &&
        (lru == nullptr || e.last_request_ns < lru->last_request_ns))
      lru = &e;
  if (lru == nullptr)
    return;
  lru->passivation_asked = true;
  ++lru->forwarded;  // the tenant counts it like any request (its idle report must match our count)
  self->request(lru->handle, svc(self).request_timeout(), passivate_atom::value).then([] {}, [](caf::error&) {});
}

// The lease tenant t's actor must run under: none without placement (unfenced); not_owner when this node
// does not hold the tenant's shard (the router sent it here on stale routes: the client retries, and the
// router sends it to the owner once its routes are fresh).
result<std::optional<storage::shard_fence>> fence_for(registry_self* self, tenant_id t) {
  const auto* p = svc(self).placement.get();
  if (p == nullptr)
    return std::optional<storage::shard_fence>{};
  auto shard = p->shard_of(t);  // its residency region is in the id
  if (!shard.ok())
    return shard.error();
  const auto& held = self->state.held_epochs;
  if (shard.value() >= held.size() || !held[shard.value()])
    return failure{errc::not_owner, {}};
  if (self->state.moving.count(shard.value()) != 0)
    return failure{errc::shard_moving, {}};
  return std::optional<storage::shard_fence>(storage::shard_fence{shard.value(), *held[shard.value()]});
}

// The live actor of tenant t, spawning it when needed; an errc when it cannot take requests now.
result<caf::actor> tenant_actor_of(registry_self* self, tenant_id t) {
  auto fence = fence_for(self, t);
  if (!fence.ok())
    return fence.error();
  auto& st = self->state;
  auto& e = entry_for(self, t);
  if (e.handle)
    return e.handle;
  if (e.down_until_ns > now_ns(self))
    return errc::tenant_unavailable;
  if (st.live >= svc(self).limits.max_active_tenants) {
    make_room(self);
    return errc::overloaded;  // retryable: room is being made
  }
  tenant_actor_config cfg;
  cfg.tenant = t;
  cfg.incarnation = st.next_incarnation++;
  cfg.services = st.services;
  cfg.registry = caf::actor_cast<caf::actor>(self);
  cfg.fence = fence.value();
  e.fence = fence.value();
  e.handle = spawn_tenant_actor(self, std::move(cfg));
  e.forwarded = 0;
  e.passivation_asked = false;
  self->monitor(e.handle);
  st.tenant_by_addr[e.handle.address()] = t.value;
  ++st.live;
  return e.handle;
}

// The serving side's own check of a ledger request (the gateway checks too, but requests may come from
// elsewhere, e.g. forwarded by another node): the caller must be bound to the request's tenant and hold
// the operation's scope. Operators (no tenant) move no money and read no ledger.
errc authorize(const caller& who, tenant_id t, security::scope_set needed) {
  if (!who.tenant || *who.tenant != t)
    return errc::forbidden;
  return security::has_scope(who.scopes, needed) ? errc::none : errc::forbidden;
}

// Forwards a request to the tenant's actor and answers the caller with its result, or with a retryable
// error as soon as the tenant actor goes down.
template <class R, class... Ts>
caf::result<R> forward(registry_self* self, tenant_id t, Ts&&... xs) {
  // Also with a live actor: the lease may be gone (its actor is stopped when the table says so).
  if (auto fence = fence_for(self, t); !fence.ok())
    return caf::make_error(fence.error().code);
  auto target = tenant_actor_of(self, t);
  if (!target.ok())
    return caf::make_error(target.error().code);
  auto& e = entry_for(self, t);
  // Every request of a tenant, reads included, counts against its limit: a flood of one tenant's lookups
  // cannot occupy the database readers the other tenants need.
  if (e.outstanding.size() >= svc(self).limits.tenant_requests_in_flight)
    return caf::make_error(errc::overloaded);
  uint64_t id = self->state.next_request_id++;
  ++e.forwarded;
  e.last_request_ns = now_ns(self);
  auto rp = self->make_response_promise();
  e.outstanding.emplace(id, [rp](errc code) mutable { rp.deliver(caf::make_error(code)); });
  // Whichever comes first answers: the tenant's result, its failure, or its death (down handler).
  auto take = [self, t, id]() -> bool {
    auto it = self->state.tenants.find(t.value);
    return it != self->state.tenants.end() && it->second.outstanding.erase(id) > 0;
  };
  auto on_error = [rp, take](caf::error& err) mutable {
    if (take())
      rp.deliver(caf::make_error(to_errc(err)));
  };
  auto sent = self->request(target.value(), svc(self).request_timeout(), std::forward<Ts>(xs)...);
  if constexpr (std::is_same_v<R, caf::unit_t>) {
    // An empty answer: CAF delivers it to a handler without arguments.
    sent.then(
        [rp, take]() mutable {
          if (take())
            rp.deliver(caf::unit);
        },
        on_error);
  } else {
    sent.then(
        [rp, take](R& r) mutable {
          if (take())
            rp.deliver(std::move(r));
        },
        on_error);
  }
  return caf::delegated<R>();
}

void on_tenant_down(registry_self* self, const caf::down_msg& m) {
  auto& st = self->state;
  auto by = st.tenant_by_addr.find(m.source);
  if (by == st.tenant_by_addr.end())
    return;
  uint64_t t = by->second;
  st.tenant_by_addr.erase(by);
  --st.live;
  auto& e = st.tenants[t];
  if (e.handle.address() == m.source)
    e.handle = nullptr;
  // Requests the dead actor held will never be answered by it: fail them now (retry is safe).
  auto pending = std::move(e.outstanding);
  e.outstanding.clear();
  for (auto& [id, fail] : pending)
    fail(errc::tenant_unavailable);
  if (m.reason == caf::exit_reason::normal || m.reason == caf::exit_reason::user_shutdown) {
    if (e.outstanding.empty() && !e.handle)
      st.tenants.erase(t);
    return;
  }
  auto delay = e.restarts->on_failure(now_ns(self));
  uint64_t wait_ns = delay ? *delay : uint64_t{svc(self).timing.restart_backoff_max_ms} * ns_per_ms;
  e.down_until_ns = now_ns(self) + wait_ns;
  if (delay)
    svc(self).log->warn("tenant {} actor failed ({}); restarting in {} ms", t, caf::to_string(m.reason),
                        wait_ns / ns_per_ms);
  else
    svc(self).log->error("tenant {} actor keeps failing ({}): restart budget spent, tenant down for {} ms", t,
                         caf::to_string(m.reason), wait_ns / ns_per_ms);
  // Restart eagerly (its pending transfers may be due to expire); new requests also restart it.
  self->delayed_send(self, std::chrono::nanoseconds(wait_ns), wake_atom::value, tenant_id{t});
}

void on_idle(registry_self* self, tenant_id t, uint64_t requests_seen, uint64_t next_expiry_ns) {
  auto& st = self->state;
  auto it = st.tenants.find(t.value);
  if (it == st.tenants.end() || !it->second.handle)
    return;
  auto& e = it->second;
  // Only when nothing is on its way to the tenant or back: the tenant saw every request we forwarded.
  if (e.forwarded != requests_seen || !e.outstanding.empty() ||
      self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(e.handle))
    return;
  self->send(e.handle, stop_atom::value);
  svc(self).log->debug("tenant {} passivated{}", t.value, next_expiry_ns != 0 ? " (woken for its next expiry)" : "");
  st.tenant_by_addr.erase(e.handle.address());
  --st.live;
  e.handle = nullptr;
  if (next_expiry_ns != 0) {
    uint64_t now = now_ns(self);
    uint64_t delay = next_expiry_ns > now ? next_expiry_ns - now : 0;
    self->delayed_send(self, std::chrono::nanoseconds(delay), wake_atom::value, t);
  }
  st.tenants.erase(it);
}

// Pending transfers of tenants that are not active must still expire on time, also after a restart: wakes
// each tenant at its earliest expiry (tenants of shards this node does not own are not woken).
void schedule_expiries(registry_self* self) {
  self->request(svc(self).readers, std::chrono::seconds(60), next_expiries_atom::value)
      .then(
          [=](tenant_expiries& x) {
            uint64_t now = now_ns(self);
            for (auto& [t, at] : x.items)
              if (fence_for(self, t).ok())
                self->delayed_send(self, std::chrono::nanoseconds(at > now ? at - now : 0), wake_atom::value, t);
          },
          [=](caf::error& e) {
            svc(self).log->error("cannot read pending expiries ({}); tenants expire when next used",
                                 errc_name(to_errc(e)));
          });
}

// A tenant whose lease is gone: its requests in progress fail with a retryable error now (their outcome is
// decided by the fencing commit, and retries with the same ids are safe), and its actor stops. Nothing it
// computed can be written any more: its units carry the lost lease's epoch.
void revoke(registry_self* self, uint64_t t) {
  auto& st = self->state;
  auto it = st.tenants.find(t);
  if (it == st.tenants.end())
    return;
  auto& e = it->second;
  auto pending = std::move(e.outstanding);
  if (e.handle) {
    st.tenant_by_addr.erase(e.handle.address());
    --st.live;
    self->demonitor(e.handle);
    self->send_exit(e.handle, caf::exit_reason::user_shutdown);
  }
  st.tenants.erase(it);
  for (auto& [id, fail] : pending)
    fail(errc::shard_moving);
}

// The lease manager's table of the shards this node holds: tenants of lost (or re-taken, new epoch)
// shards are revoked; gained shards' tenants get their expiries scheduled.
void on_leases(registry_self* self, const lease_table& table) {
  const auto* p = svc(self).placement.get();
  if (p == nullptr)
    return;
  auto& st = self->state;
  std::vector<std::optional<uint64_t>> next(p->shard_count());
  for (const auto& l : table.leases)
    if (l.shard < next.size())
      next[l.shard] = l.epoch;
  bool gained = false;
  for (size_t s = 0; s < next.size(); ++s)
    gained = gained || (next[s] && (s >= st.held_epochs.size() || st.held_epochs[s] != next[s]));
  st.held_epochs = std::move(next);
  for (auto it = st.moving.begin(); it != st.moving.end();)
    it = st.held_epochs[*it] ? std::next(it) : st.moving.erase(it);  // handed over: no longer ours at all
  std::vector<uint64_t> lost;
  for (const auto& [t, e] : st.tenants)
    if (e.fence && (e.fence->shard >= st.held_epochs.size() || st.held_epochs[e.fence->shard] != e.fence->epoch))
      lost.push_back(t);
  for (uint64_t t : lost)
    revoke(self, t);
  svc(self).log->info("shard leases: {} held; {} tenants revoked", table.leases.size(), lost.size());
  if (gained)
    schedule_expiries(self);
}

// Hand-off, the old owner's side: from now on `shards` are moving (new requests: shard_moving). Answers the
// shards whose tenants have no request in progress, after stopping those tenants: nothing of theirs is
// being computed any more, so the lease manager may release the lease. Units still in the writer (a
// pending expiry's) are refused by the fence once the lease is released; the new owner redoes them.
shard_list on_handoff(registry_self* self, const shard_list& asked) {
  auto& st = self->state;
  const auto* p = svc(self).placement.get();
  st.moving = std::set<uint32_t>(asked.shards.begin(), asked.shards.end());
  if (p == nullptr || st.moving.empty())
    return {};
  std::set<uint32_t> busy;
  std::vector<uint64_t> stopping;
  for (const auto& [t, e] : st.tenants) {
    if (!e.fence || st.moving.count(e.fence->shard) == 0)
      continue;
    if (e.outstanding.empty())
      stopping.push_back(t);
    else
      busy.insert(e.fence->shard);
  }
  for (uint64_t t : stopping)
    if (busy.count(st.tenants[t].fence->shard) == 0)
      revoke(self, t);  // nothing outstanding: nobody is answered shard_moving
  shard_list quiet;
  for (uint32_t s : st.moving)
    if (busy.count(s) == 0)
      quiet.shards.push_back(s);
  return quiet;
}

caf::behavior tenant_registry(registry_self* self, services_ptr services) {
  self->state.services = services;
  self->set_down_handler([=](caf::down_msg& m) { on_tenant_down(self, m); });
  // The registry owns the tenant actors: they stop with it (node shutdown).
  self->set_exit_handler([=](caf::exit_msg& m) {
    for (auto& [t, e] : self->state.tenants)
      if (e.handle)
        self->send_exit(e.handle, m.reason);
    self->quit(m.reason);
  });
  // With placement, expiries are scheduled when shards are gained (the lease manager's tables).
  if (services->placement == nullptr)
    schedule_expiries(self);
  return {
      [=](create_accounts_atom a, const caller& who, tenant_id t, account_batch& b) -> caf::result<account_results> {
        if (auto e = authorize(who, t, security::scope::ledger_write); e != errc::none)
          return caf::make_error(e);
        return forward<account_results>(self, t, a, std::move(b));
      },
      [=](create_transfers_atom a, const caller& who, tenant_id t, transfer_batch& b) -> caf::result<transfer_results> {
        if (auto e = authorize(who, t, security::scope::ledger_write); e != errc::none)
          return caf::make_error(e);
        return forward<transfer_results>(self, t, a, std::move(b));
      },
      [=](lookup_accounts_atom a, const caller& who, tenant_id t, account_ids& ids) -> caf::result<account_list> {
        if (auto e = authorize(who, t, security::scope::ledger_read); e != errc::none)
          return caf::make_error(e);
        return forward<account_list>(self, t, a, std::move(ids));
      },
      [=](lookup_transfers_atom a, const caller& who, tenant_id t, transfer_ids& ids) -> caf::result<transfer_list> {
        if (auto e = authorize(who, t, security::scope::ledger_read); e != errc::none)
          return caf::make_error(e);
        return forward<transfer_list>(self, t, a, std::move(ids));
      },
      [=](account_transfers_atom a, const caller& who, tenant_id t, ledger::account_filter f)
          -> caf::result<transfer_list> {
        if (auto e = authorize(who, t, security::scope::ledger_read); e != errc::none)
          return caf::make_error(e);
        return forward<transfer_list>(self, t, a, f);
      },
      [=](account_balances_atom a, const caller& who, tenant_id t, ledger::account_filter f)
          -> caf::result<balance_list> {
        if (auto e = authorize(who, t, security::scope::ledger_read); e != errc::none)
          return caf::make_error(e);
        return forward<balance_list>(self, t, a, f);
      },
      [=](idle_atom, tenant_id t, uint64_t requests_seen, uint64_t next_expiry_ns) {
        on_idle(self, t, requests_seen, next_expiry_ns);
      },
      [=](wake_atom, tenant_id t) {
        // A pending transfer is due (or a crashed tenant's backoff passed): make sure the tenant runs.
        auto it = self->state.tenants.find(t.value);
        if (it != self->state.tenants.end() && it->second.handle)
          return;
        if (!fence_for(self, t).ok())
          return;  // not this node's tenant (any more): its owner wakes it
        auto r = tenant_actor_of(self, t);
        if (!r.ok())
          self->delayed_send(self, std::chrono::milliseconds(svc(self).timing.restart_backoff_ms), wake_atom::value,
                             t);
      },
      // Test hooks (the gateway refuses them unless the node runs with --test-hooks).
      [=](crash_atom a, tenant_id t) -> caf::result<caf::unit_t> {
        auto it = self->state.tenants.find(t.value);
        if (it == self->state.tenants.end() || !it->second.handle)
          return caf::make_error(errc::invalid_request);  // not active: nothing to crash
        self->send(it->second.handle, a);
        return caf::unit;
      },
      [=](crash_account_atom a, tenant_id t, account_id id) { return forward<caf::unit_t>(self, t, a, id); },
      [=](passivate_atom a, tenant_id t) { return forward<caf::unit_t>(self, t, a); },
      [=](leases_atom, const lease_table& table) { on_leases(self, table); },
      [=](handoff_atom, const shard_list& shards) { return on_handoff(self, shards); },
  };
}

}  // namespace

caf::actor spawn_tenant_registry(caf::actor_system& sys, services_ptr services) {
  return sys.spawn(tenant_registry, std::move(services));
}

}  // namespace caudal::actors
