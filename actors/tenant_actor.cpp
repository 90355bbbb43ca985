#include "actors/tenant_actor.hpp"

#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "actors/account_actor.hpp"
#include "actors/expiry_schedule.hpp"
#include "actors/ledger/state_machine.hpp"
#include "actors/ledger/working_set.hpp"
#include "actors/protocol.hpp"
#include "actors/restart_budget.hpp"
#include "base/limits.hpp"

namespace caudal::actors {

namespace {

// A request waiting in the tenant's queue (arrival order), or an expiry the tenant's clock raised.
struct work_item {
  enum class kind : uint8_t { accounts, transfers, expiry };
  kind k = kind::transfers;
  std::vector<ledger::account> accounts;
  std::vector<ledger::transfer> transfers;
  std::vector<transfer_id> expiring;
  std::vector<uint64_t> expiring_at;  // expires_at of each, to put them back if the unit cannot run
  caf::response_promise rp;  // not used for expiry items
  size_t size() const { return accounts.size() + transfers.size() + expiring.size(); }
  // What it costs in the tenant's queue limit: its items, and never nothing (empty requests queue too).
  size_t weight() const { return size() + 1; }
};

using item_results = std::variant<account_results, transfer_results>;

struct pending_reply {
  caf::response_promise rp;
  item_results results;
};

// A unit of work that ran through the state machine and waits for its commit (or, when it wrote
// nothing, for every unit before it).
struct unit {
  uint64_t seq = 0;
  std::shared_ptr<commit_work> work;  // null: nothing to write
  std::vector<pending_reply> replies;
  bool done = false;
  errc failure = errc::none;
};

// Gathers the answers of several account actors into one lookup answer, in request order.
struct account_gather {
  std::vector<std::optional<ledger::account>> found;
  size_t remaining = 0;
  caf::response_promise rp;
  bool finished = false;

  void set(size_t i, std::optional<ledger::account> a) {
    if (finished)
      return;
    found[i] = std::move(a);
    if (--remaining == 0)
      finish();
  }
  void fail(errc e) {
    if (finished)
      return;
    finished = true;
    rp.deliver(caf::make_error(e));
  }
  void finish() {
    finished = true;
    account_list out;
    for (auto& a : found)
      if (a)
        out.items.push_back(*a);
    rp.deliver(std::move(out));
  }
};
using gather_ptr = std::shared_ptr<account_gather>;

struct account_slot {
  caf::actor handle;  // null while loading
  uint64_t last_used_ns = 0;
  std::optional<ledger::account_update> update_while_loading;
  std::vector<std::pair<gather_ptr, size_t>> waiters;
  bool stale = false;  // loading, and a commit of unknown outcome touched it meanwhile: read it again
};

enum class phase : uint8_t { loading, running, rebuilding };

struct tenant_state {
  static inline const char* name = "tenant_actor";

  tenant_actor_config cfg;
  phase ph = phase::loading;
  ledger::working_set ws;
  ledger::state_machine sm{ws};
  uint64_t generation = 0;
  uint64_t next_seq = 1;

  std::deque<work_item> queue;
  size_t queued_items = 0;  // sum of the queued items' weight(), bounded by limits.tenant_queue_items
  bool preparing = false;
  std::vector<work_item> prepared;  // taken from the queue, waiting for its prefetch
  std::deque<unit> units;           // in flight, in seq order
  size_t writes_outstanding = 0;    // units sent to the writer and not answered

  expiry_schedule expiries;
  uint64_t expiry_timer_ns = 0;  // when the scheduled expiry message fires (0: none)
  bool reloading_expiries = false;

  std::unordered_map<account_id, account_slot, id_hash> accounts;
  std::unordered_map<caf::actor_addr, account_id> account_by_addr;
  std::optional<restart_budget> account_restarts;

  uint64_t requests_seen = 0;
  uint64_t last_activity_ns = 0;
  bool passivate_requested = false;
};

using tenant_self = caf::stateful_actor<tenant_state>;

uint64_t now_ns(tenant_self* self) { return self->state.cfg.services->clock->now_ns(); }
const node_services& svc(tenant_self* self) { return *self->state.cfg.services; }

void pump(tenant_self* self);
void load_tenant(tenant_self* self);
void passivate_account(tenant_self* self, account_id id);

// --- expiries ---

// Keeps one timer message armed for the schedule's next event (an earlier one replaces it).
void schedule_expiry(tenant_self* self) {
  auto& st = self->state;
  uint64_t next = st.expiries.next_ns();
  if (next == 0 || (st.expiry_timer_ns != 0 && st.expiry_timer_ns <= next))
    return;
  st.expiry_timer_ns = next;
  uint64_t now = now_ns(self);
  uint64_t delay_ns = next > now ? next - now : 0;
  self->delayed_send(self, std::chrono::nanoseconds(delay_ns) + std::chrono::milliseconds(1), expiry_atom::value,
                     next);
}

void reload_expiries(tenant_self* self) {
  auto& st = self->state;
  if (st.reloading_expiries)
    return;
  st.reloading_expiries = true;
  uint32_t limit = svc(self).limits.max_expiries_loaded;
  auto gen = st.generation;
  self->request(svc(self).readers, svc(self).request_timeout(), load_expiries_atom::value, st.cfg.tenant,
                st.expiries.reload_from_ns(), limit)
      .then(
          [=](expiry_list& l) {
            auto& s = self->state;
            s.reloading_expiries = false;
            if (gen != s.generation)
              return;  // a rebuild reloads everything
            s.expiries.loaded(l.items, l.items.size() >= limit);
            schedule_expiry(self);
          },
          [=](caf::error&) {
            // Try again a little later; expiries are late, never lost.
            self->state.reloading_expiries = false;
            self->state.expiries.delay_until(now_ns(self) + ns_per_s);
            schedule_expiry(self);
          });
}

void on_expiry_timer(tenant_self* self, uint64_t armed_for) {
  auto& st = self->state;
  if (armed_for == st.expiry_timer_ns)
    st.expiry_timer_ns = 0;  // (a replaced, earlier-armed message changes nothing)
  if (st.ph != phase::running)
    return;  // load/rebuild schedules again
  uint64_t now = now_ns(self);
  if (!st.expiries.delayed(now)) {
    work_item item;
    item.k = work_item::kind::expiry;
    for (auto& [id, at] : st.expiries.take_due(now, caudal::limits::max_batch_items)) {
      item.expiring.push_back(id);
      item.expiring_at.push_back(at);
    }
    if (!item.expiring.empty()) {
      st.queued_items += item.weight();
      st.queue.push_back(std::move(item));
    }
    if (st.expiries.needs_reload(now, ns_per_s))
      reload_expiries(self);
  }
  schedule_expiry(self);
  pump(self);
}

// --- answering ---

void deliver(pending_reply& r) {
  std::visit([&](auto& results) { r.rp.deliver(std::move(results)); }, r.results);
}

// Answers a request that cannot run with `e`; an expiry that cannot run goes back to the heap and is
// tried again a second later (expiries are late, never lost).
void fail_item(tenant_self* self, work_item& item, errc e) {
  if (item.k != work_item::kind::expiry) {
    item.rp.deliver(caf::make_error(e));
    return;
  }
  auto& st = self->state;
  for (size_t i = 0; i < item.expiring.size(); ++i)
    st.expiries.add(item.expiring[i], item.expiring_at[i]);
  st.expiries.delay_until(now_ns(self) + ns_per_s);
  schedule_expiry(self);
}

void send_committed_state(tenant_self* self, const ledger::effects& changes) {
  auto& st = self->state;
  for (auto& u : changes.account_updates) {
    auto it = st.accounts.find(u.id);
    if (it == st.accounts.end())
      continue;
    if (it->second.handle)
      self->send(it->second.handle, apply_atom::value, u);
    else if (!it->second.update_while_loading || it->second.update_while_loading->version < u.version)
      it->second.update_while_loading = u;
  }
}

void finish_rebuild_if_quiet(tenant_self* self);

// Answers every finished unit at the front, in order.
void complete_units(tenant_self* self) {
  auto& st = self->state;
  while (!st.units.empty()) {
    unit& u = st.units.front();
    if (u.work && !u.done)
      break;
    if (u.failure != errc::none) {
      for (auto& r : u.replies)
        r.rp.deliver(caf::make_error(u.failure));
    } else {
      st.ws.mark_committed(u.seq);
      if (u.work)
        send_committed_state(self, u.work->changes);
      for (auto& r : u.replies)
        deliver(r);
    }
    st.units.pop_front();
  }
  finish_rebuild_if_quiet(self);
}

// --- running units of work ---

void execute(tenant_self* self, std::vector<work_item>& group) {
  auto& st = self->state;
  unit u;
  u.seq = st.next_seq++;
  auto work = std::make_shared<commit_work>();
  work->tenant = st.cfg.tenant;
  work->generation = st.generation;
  work->seq = u.seq;
  work->fence = st.cfg.fence;
  work->reply_to = caf::actor_cast<caf::actor>(self);
  for (auto& item : group) {
    uint64_t now = now_ns(self);
    switch (item.k) {
      case work_item::kind::accounts:
        u.replies.push_back(
            {std::move(item.rp), account_results{st.sm.create_accounts(item.accounts, now, u.seq, work->changes)}});
        break;
      case work_item::kind::transfers:
        u.replies.push_back({std::move(item.rp),
                             transfer_results{st.sm.create_transfers(item.transfers, now, u.seq, work->changes)}});
        break;
      case work_item::kind::expiry:
        st.sm.expire_pending(item.expiring, now, u.seq, work->changes);
        break;
    }
  }
  st.sm.seal(work->changes);
  for (auto& t : work->changes.created_transfers)
    if ((t.flags & ledger::transfer_flags::pending) != 0 && t.timeout != 0)
      st.expiries.add(t.id, ledger::expires_at(t));
  if (!work->changes.empty()) {
    u.work = work;
    ++st.writes_outstanding;
    self->send(svc(self).writer_for(st.cfg.tenant), commit_atom::value, commit_work_ptr(work));
  }
  st.units.push_back(std::move(u));
  complete_units(self);
  schedule_expiry(self);
}

void missing_for(tenant_self* self, const std::vector<work_item>& group, std::vector<account_id>& accounts,
                 std::vector<transfer_id>& transfers) {
  auto& ws = self->state.ws;
  for (auto& item : group) {
    switch (item.k) {
      case work_item::kind::accounts: ws.missing_for_accounts(item.accounts, accounts); break;
      case work_item::kind::transfers: ws.missing_for_transfers(item.transfers, accounts, transfers); break;
      case work_item::kind::expiry: ws.missing_for_expiry(item.expiring, accounts, transfers); break;
    }
  }
}

void requeue_front(tenant_self* self, std::vector<work_item>& group) {
  auto& st = self->state;
  for (auto it = group.rbegin(); it != group.rend(); ++it) {
    st.queued_items += it->weight();
    st.queue.push_front(std::move(*it));
  }
  group.clear();
}

void pump(tenant_self* self) {
  auto& st = self->state;
  const auto& lim = svc(self).limits;
  while (st.ph == phase::running && !st.preparing && !st.queue.empty() && st.units.size() < lim.max_units_in_flight) {
    // Evict only here: between a group's prefetch and its run the working set must keep what it loaded.
    st.ws.evict(lim.working_set_entries);
    std::vector<work_item> group;
    size_t items = 0;
    size_t weight = 0;
    while (!st.queue.empty() && (group.empty() || items + st.queue.front().size() <= lim.unit_max_items)) {
      items += st.queue.front().size();
      weight += st.queue.front().weight();
      group.push_back(std::move(st.queue.front()));
      st.queue.pop_front();
    }
    st.queued_items -= weight;
    std::vector<account_id> accounts;
    std::vector<transfer_id> transfers;
    missing_for(self, group, accounts, transfers);
    if (accounts.empty() && transfers.empty()) {
      execute(self, group);
      continue;
    }
    st.preparing = true;
    st.prepared = std::move(group);
    auto gen = st.generation;
    self->request(svc(self).readers, svc(self).request_timeout(), prefetch_atom::value, st.cfg.tenant,
                  account_ids{std::move(accounts)}, transfer_ids{std::move(transfers)})
        .then(
            [self, gen](storage::prefetch& p) {
              auto& s = self->state;
              s.preparing = false;
              auto ready = std::move(s.prepared);
              s.prepared.clear();
              if (gen != s.generation || s.ph != phase::running) {
                requeue_front(self, ready);  // the working set is being rebuilt: prepare again later
                finish_rebuild_if_quiet(self);
              } else {
                for (auto& a : p.accounts)
                  s.ws.load_account(a.account, a.version);
                for (auto& t : p.transfers)
                  s.ws.load_transfer(t.transfer, t.state);
                for (auto& f : p.failed)
                  s.ws.load_failed(f.id, f.result);
                execute(self, ready);
              }
              pump(self);
            },
            [self](caf::error& e) {
              auto& s = self->state;
              s.preparing = false;
              auto ready = std::move(s.prepared);
              s.prepared.clear();
              errc code = to_errc(e);
              svc(self).log->warn("tenant {}: prefetch failed ({}); failing {} requests", s.cfg.tenant.value,
                                  errc_name(code), ready.size());
              for (auto& item : ready)
                fail_item(self, item, code);
              finish_rebuild_if_quiet(self);
              pump(self);
            });
    return;
  }
}

// --- commit outcomes ---

unit* find_unit(tenant_self* self, uint64_t seq) {
  for (auto& u : self->state.units)
    if (u.seq == seq)
      return &u;
  return nullptr;
}

void on_committed(tenant_self* self, uint64_t seq) {
  auto& st = self->state;
  --st.writes_outstanding;
  if (unit* u = find_unit(self, seq))
    u->done = true;
  complete_units(self);
  pump(self);
}

// A unit whose commit outcome is unknown may be in PostgreSQL although its accounts' actors never got its
// after-states: they would answer older balances than the database holds (a retry answers `exists`, the
// balances would not show it). Stop those actors (the next read reloads them from PostgreSQL) and read
// again those being loaded, whose read may predate the commit.
void forget_committed_state(tenant_self* self, const ledger::effects& changes) {
  auto& st = self->state;
  auto forget = [&](account_id id) {
    auto it = st.accounts.find(id);
    if (it == st.accounts.end())
      return;
    if (it->second.handle)
      passivate_account(self, id);
    else
      it->second.stale = true;
  };
  for (auto& a : changes.created_accounts)
    forget(a.id);
  for (auto& u : changes.account_updates)
    forget(u.id);
}

void on_commit_failed(tenant_self* self, uint64_t seq, errc code) {
  auto& st = self->state;
  --st.writes_outstanding;
  if (code == errc::commit_outcome_unknown)
    if (unit* u = find_unit(self, seq); u != nullptr && u->work)
      forget_committed_state(self, u->work->changes);
  if (st.ph == phase::running) {
    svc(self).log->warn("tenant {}: commit of unit {} failed ({}); rebuilding from PostgreSQL", st.cfg.tenant.value,
                        seq, errc_name(code));
    st.ph = phase::rebuilding;
    // Units computed on this working set can no longer be trusted: the writer refuses the rest of them
    // (same generation), and the next generation starts from PostgreSQL.
    ++st.generation;
  }
  for (auto& u : st.units) {
    if (u.seq == seq) {
      u.done = true;
      u.failure = code;
    } else if (u.seq > seq && u.failure == errc::none) {
      u.failure = errc::commit_failed;  // computed on top of the failed unit
      if (!u.work)
        u.done = true;
    }
  }
  complete_units(self);
}

void finish_rebuild_if_quiet(tenant_self* self) {
  auto& st = self->state;
  if (st.ph != phase::rebuilding || !st.units.empty() || st.writes_outstanding != 0 || st.preparing)
    return;
  st.ph = phase::loading;
  st.ws.clear();
  st.expiries.clear();
  load_tenant(self);
}

// --- loading ---

void load_tenant(tenant_self* self) {
  auto& st = self->state;
  auto gen = st.generation;
  // The barrier makes sure no unit of an earlier incarnation or generation is still on its way to
  // PostgreSQL before we read the tenant back.
  self->request(svc(self).writer_for(st.cfg.tenant), svc(self).request_timeout(), barrier_atom::value)
      .then(
          [=]() {
            self->request(svc(self).readers, svc(self).request_timeout(), load_tenant_atom::value,
                          self->state.cfg.tenant, svc(self).limits.max_expiries_loaded)
                .then(
                    [=](storage::tenant_state& ts) {
                      auto& s = self->state;
                      if (gen != s.generation)
                        return;
                      if (!ts.exists) {
                        for (auto& item : s.queue)
                          fail_item(self, item, errc::tenant_not_found);
                        s.queue.clear();
                        s.queued_items = 0;
                        self->quit();
                        return;
                      }
                      // Strictly increasing timestamps: never go below what this actor handed out.
                      s.ws.last_timestamp = std::max(s.ws.last_timestamp, ts.last_timestamp);
                      s.expiries.loaded(ts.expiries, ts.more_expiries);
                      s.ph = phase::running;
                      s.expiry_timer_ns = 0;
                      schedule_expiry(self);
                      pump(self);
                    },
                    [=](caf::error& e) {
                      svc(self).log->warn("tenant {}: loading failed ({}); retrying", self->state.cfg.tenant.value,
                                          errc_name(to_errc(e)));
                      self->delayed_send(self, std::chrono::milliseconds(200), restart_atom::value);
                    });
          },
          [=](caf::error& e) {
            svc(self).log->warn("tenant {}: writer barrier failed ({}); retrying", self->state.cfg.tenant.value,
                                errc_name(to_errc(e)));
            self->delayed_send(self, std::chrono::milliseconds(200), restart_atom::value);
          });
}

// --- requests ---

void enqueue(tenant_self* self, work_item item) {
  auto& st = self->state;
  if (st.queued_items + item.weight() > svc(self).limits.tenant_queue_items) {
    fail_item(self, item, errc::overloaded);
    return;
  }
  st.queued_items += item.weight();
  st.queue.push_back(std::move(item));
  pump(self);
}

void note_request(tenant_self* self) {
  ++self->state.requests_seen;
  self->state.last_activity_ns = now_ns(self);
}

// --- account actors ---

void ask_account(tenant_self* self, const caf::actor& handle, const gather_ptr& g, size_t i) {
  self->request(handle, svc(self).request_timeout(), get_atom::value)
      .then([g, i](ledger::account& a) { g->set(i, std::move(a)); },
            [g](caf::error& e) {
              // The account actor died while the read waited: its supervisor restarts it; retry is safe.
              errc code = to_errc(e);
              g->fail(code == errc::internal ? errc::tenant_unavailable : code);
            });
}

void spawn_account(tenant_self* self, const storage::account_row& row) {
  auto& st = self->state;
  auto& slot = st.accounts[row.account.id];
  ledger::account a = row.account;
  uint64_t version = row.version;
  if (slot.update_while_loading && slot.update_while_loading->version > version) {
    auto& u = *slot.update_while_loading;
    a.debits_pending = u.debits_pending;
    a.debits_posted = u.debits_posted;
    a.credits_pending = u.credits_pending;
    a.credits_posted = u.credits_posted;
    version = u.version;
  }
  slot.update_while_loading.reset();
  slot.handle = self->spawn(account_actor, caf::actor_cast<caf::actor>(self), a, version);
  slot.last_used_ns = now_ns(self);
  self->monitor(slot.handle);
  st.account_by_addr[slot.handle.address()] = row.account.id;
  for (auto& [g, i] : slot.waiters)
    ask_account(self, slot.handle, g, i);
  slot.waiters.clear();
}

void passivate_account(tenant_self* self, account_id id) {
  auto& st = self->state;
  auto it = st.accounts.find(id);
  if (it == st.accounts.end() || !it->second.handle)
    return;
  st.account_by_addr.erase(it->second.handle.address());
  self->send_exit(it->second.handle, caf::exit_reason::user_shutdown);
  st.accounts.erase(it);
}

// Keeps the number of account actors within its limit by passivating the least recently used.
void bound_account_actors(tenant_self* self) {
  auto& st = self->state;
  size_t limit = svc(self).limits.account_actors_per_tenant;
  if (st.accounts.size() <= limit)
    return;
  std::vector<std::pair<uint64_t, account_id>> idle;
  for (auto& [id, slot] : st.accounts)
    if (slot.handle)
      idle.emplace_back(slot.last_used_ns, id);
  std::sort(idle.begin(), idle.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < idle.size() && st.accounts.size() > limit; ++i)
    passivate_account(self, idle[i].second);
}

// Loads the given accounts from PostgreSQL and spawns their actors; waiters are served as they come up.
void load_accounts(tenant_self* self, std::vector<account_id> ids) {
  auto& st = self->state;
  self->request(svc(self).readers, svc(self).request_timeout(), load_accounts_atom::value, st.cfg.tenant,
                account_ids{ids})
      .then(
          [=](account_rows& rows) {
            auto& s = self->state;
            // Marked stale while this read was on its way (see forget_committed_state): read them again.
            std::unordered_set<account_id, id_hash> again;
            for (auto& id : ids) {
              auto it = s.accounts.find(id);
              if (it != s.accounts.end() && !it->second.handle && it->second.stale) {
                it->second.stale = false;
                again.insert(id);
              }
            }
            for (auto& row : rows.rows) {
              auto it = s.accounts.find(row.account.id);
              if (it != s.accounts.end() && !it->second.handle && again.count(row.account.id) == 0)
                spawn_account(self, row);
            }
            // Those still loading were not found: the account does not exist (as of the read).
            for (auto& id : ids) {
              auto it = s.accounts.find(id);
              if (it == s.accounts.end() || it->second.handle || again.count(id) != 0)
                continue;
              for (auto& [g, i] : it->second.waiters)
                g->set(i, std::nullopt);
              s.accounts.erase(it);
            }
            if (!again.empty())
              load_accounts(self, std::vector<account_id>(again.begin(), again.end()));
            bound_account_actors(self);
          },
          [=](caf::error& e) {
            auto& s = self->state;
            errc code = to_errc(e);
            for (auto& id : ids) {
              auto it = s.accounts.find(id);
              if (it == s.accounts.end() || it->second.handle)
                continue;
              for (auto& [g, i] : it->second.waiters)
                g->fail(code);
              s.accounts.erase(it);
            }
          });
}

caf::result<account_list> lookup_accounts(tenant_self* self, account_ids& req) {
  auto& st = self->state;
  if (req.ids.empty())
    return account_list{};
  auto g = std::make_shared<account_gather>();
  g->found.resize(req.ids.size());
  g->remaining = req.ids.size();
  g->rp = self->make_response_promise();
  std::vector<account_id> to_load;
  uint64_t now = now_ns(self);
  for (size_t i = 0; i < req.ids.size(); ++i) {
    auto id = req.ids[i];
    auto [it, inserted] = st.accounts.try_emplace(id);
    auto& slot = it->second;
    slot.last_used_ns = now;
    if (slot.handle) {
      ask_account(self, slot.handle, g, i);
    } else {
      slot.waiters.emplace_back(g, i);
      if (inserted)
        to_load.push_back(id);
    }
  }
  if (!to_load.empty())
    load_accounts(self, std::move(to_load));
  return caf::delegated<account_list>();
}

void on_account_down(tenant_self* self, const caf::down_msg& m) {
  auto& st = self->state;
  auto by = st.account_by_addr.find(m.source);
  if (by == st.account_by_addr.end())
    return;  // passivated on purpose
  account_id id = by->second;
  st.account_by_addr.erase(by);
  st.accounts.erase(id);
  if (m.reason == caf::exit_reason::normal || m.reason == caf::exit_reason::user_shutdown)
    return;
  auto delay = st.account_restarts->on_failure(now_ns(self));
  if (!delay) {
    svc(self).log->error("tenant {}: account actors keep failing; escalating to the tenant's supervisor",
                         st.cfg.tenant.value);
    self->quit(caf::make_error(errc::internal));
    return;
  }
  svc(self).log->warn("tenant {}: account actor {} failed ({}); restarting from PostgreSQL in {} ms",
                      st.cfg.tenant.value, to_decimal(id.value), caf::to_string(m.reason), *delay / ns_per_ms);
  self->delayed_send(self, std::chrono::nanoseconds(*delay), restart_atom::value, id);
}

// --- passivation ---


bool quiet(tenant_self* self) {
  auto& st = self->state;
  if (st.ph != phase::running || !st.queue.empty() || !st.units.empty() || st.preparing)
    return false;
  for (auto& [id, slot] : st.accounts)
    if (!slot.handle)
      return false;  // loading
  return true;
}

void on_tick(tenant_self* self) {
  auto& st = self->state;
  const auto& timing = svc(self).timing;
  uint64_t now = now_ns(self);
  uint64_t idle_ns = uint64_t{timing.account_idle_ms} * ns_per_ms;
  std::vector<account_id> idle;
  for (auto& [id, slot] : st.accounts)
    if (slot.handle && (st.passivate_requested || slot.last_used_ns + idle_ns <= now))
      idle.push_back(id);
  for (auto& id : idle)
    passivate_account(self, id);
  bool tenant_idle = st.last_activity_ns + uint64_t{timing.tenant_idle_ms} * ns_per_ms <= now;
  if (quiet(self) && (st.passivate_requested || tenant_idle))
    self->send(st.cfg.registry, idle_atom::value, st.cfg.tenant, st.requests_seen, st.expiries.next_ns());
}

std::chrono::milliseconds tick_interval(const node_timing& t) {
  uint32_t ms = std::min(t.account_idle_ms, t.tenant_idle_ms) / 2;
  return std::chrono::milliseconds(std::clamp<uint32_t>(ms, 20, 5000));
}

caf::behavior tenant_actor(tenant_self* self, tenant_actor_config cfg) {
  auto& st = self->state;
  st.cfg = cfg;
  const auto& t = cfg.services->timing;
  st.account_restarts.emplace(t.restart_budget, uint64_t{t.restart_window_ms} * ns_per_ms,
                              uint64_t{t.restart_backoff_ms} * ns_per_ms, uint64_t{t.restart_backoff_max_ms} * ns_per_ms);
  st.generation = cfg.incarnation << 24;
  st.last_activity_ns = now_ns(self);
  self->set_down_handler([=](caf::down_msg& m) { on_account_down(self, m); });
  load_tenant(self);
  self->delayed_send(self, tick_interval(t), tick_atom::value);
  return {
      [=](create_accounts_atom, account_batch& b) -> caf::result<account_results> {
        note_request(self);
        work_item item;
        item.k = work_item::kind::accounts;
        item.accounts = std::move(b.items);
        item.rp = self->make_response_promise();
        enqueue(self, std::move(item));
        return caf::delegated<account_results>();
      },
      [=](create_transfers_atom, transfer_batch& b) -> caf::result<transfer_results> {
        note_request(self);
        work_item item;
        item.k = work_item::kind::transfers;
        item.transfers = std::move(b.items);
        item.rp = self->make_response_promise();
        enqueue(self, std::move(item));
        return caf::delegated<transfer_results>();
      },
      [=](lookup_accounts_atom, account_ids& ids) -> caf::result<account_list> {
        note_request(self);
        return lookup_accounts(self, ids);
      },
      [=](lookup_transfers_atom, transfer_ids& ids) {
        note_request(self);
        // Committed rows only: PostgreSQL holds exactly what was acknowledged.
        return self->delegate(svc(self).readers, lookup_transfers_atom::value, self->state.cfg.tenant,
                              std::move(ids));
      },
      [=](account_transfers_atom, ledger::account_filter f) {
        note_request(self);
        return self->delegate(svc(self).readers, account_transfers_atom::value, self->state.cfg.tenant, f);
      },
      [=](account_balances_atom, ledger::account_filter f) {
        note_request(self);
        return self->delegate(svc(self).readers, account_balances_atom::value, self->state.cfg.tenant, f);
      },
      [=](committed_atom, uint64_t seq) { on_committed(self, seq); },
      // The writer sends an errc; CAF turns error-code enums into caf::error on the way.
      [=](commit_failed_atom, uint64_t seq, caf::error& e) { on_commit_failed(self, seq, to_errc(e)); },
      [=](expiry_atom, uint64_t armed_for) { on_expiry_timer(self, armed_for); },
      [=](restart_atom) {
        // Loading the tenant failed: try again.
        if (self->state.ph == phase::loading)
          load_tenant(self);
      },
      [=](restart_atom, account_id id) {
        // A crashed account actor's backoff has passed: bring it back from PostgreSQL.
        auto [it, inserted] = self->state.accounts.try_emplace(id);
        if (inserted)
          load_accounts(self, {id});
      },
      [=](tick_atom) {
        on_tick(self);
        self->delayed_send(self, tick_interval(svc(self).timing), tick_atom::value);
      },
      [=](stop_atom) {
        // The registry agreed that we are idle: stop (account actors follow, they monitor us).
        self->quit();
      },
      [=](passivate_atom) -> caf::result<caf::unit_t> {
        // Counted like every request the registry forwards: its idle handshake compares the counts.
        note_request(self);
        self->state.passivate_requested = true;
        // Answered before the idle report, so the registry has nothing outstanding when it reads that.
        auto rp = self->make_response_promise();
        rp.deliver(caf::unit);
        on_tick(self);
        return caf::delegated<caf::unit_t>();
      },
      [=](crash_atom) -> caf::unit_t {
        svc(self).log->warn("test hook: tenant {} actor crashes", self->state.cfg.tenant.value);
        self->quit(caf::sec::runtime_error);
        return caf::unit;
      },
      [=](crash_account_atom, account_id id) -> caf::result<caf::unit_t> {
        note_request(self);  // forwarded by the registry: counted for its idle handshake
        auto it = self->state.accounts.find(id);
        if (it == self->state.accounts.end() || !it->second.handle)
          return caf::make_error(errc::invalid_request);
        self->send(it->second.handle, crash_atom::value);
        return caf::unit;
      },
  };
}

}  // namespace

caf::actor spawn_tenant_actor(caf::local_actor* parent, tenant_actor_config cfg) {
  return parent->spawn(tenant_actor, std::move(cfg));
}

}  // namespace caudal::actors
