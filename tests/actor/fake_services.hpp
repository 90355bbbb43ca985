#pragma once
// Scripted stand-ins for the node's database-facing actors, so the tenant registry, the tenant actors and
// the account actors run in one process without PostgreSQL or sockets (tests/actor/).
//
//   fake_world   the in-memory "database": exactly what the fake writer committed (rows of accounts,
//                transfers, pending states, failed ids, balance history, tenant clocks), plus what the
//                fakes observed (units held, loads). Shared by the fakes and the test thread: every access
//                takes its mutex.
//   fake writer  the batch_writer protocol: (commit_atom, commit_work_ptr) answered to work->reply_to with
//                committed / commit_failed after applying the unit to the world; (barrier_atom) answered once
//                every unit received before it is answered. Scripted by the test: hold a tenant's units
//                (several in flight at once), let n of them through, fail the nth unit with a code, applied
//                or not. Poisons like the real writer (actors/batch_writer.cpp): after a failure, the
//                tenant's later units of the same generation are refused without being applied.
//   fake reader  the db_reader pool protocol, answered from the world. Scripted: hold the answers of
//                load_accounts (read at once, delivered when released: a read that predates later commits).
//   harness      a real caf::actor_system with a manual clock, the fakes and the real tenant registry; one
//                client actor sends every request (so answers arrive in the order the registry sent them).
//
// Everything here runs on CAF's scheduler except the harness's own methods (the test thread).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "actors/node_services.hpp"
#include "actors/protocol.hpp"
#include "actors/tenant_registry.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace caudal::actor_test {

using namespace std::chrono_literals;
using actors::commit_work_ptr;
using actors::node_limits;
using actors::node_timing;

// --- test-only messages (never sent by the node's own actors) ---
using hold_atom = caf::atom_constant<caf::atom("t_hold")>;
using release_atom = caf::atom_constant<caf::atom("t_release")>;
using step_atom = caf::atom_constant<caf::atom("t_step")>;
using plan_atom = caf::atom_constant<caf::atom("t_plan")>;

// The writer fails the nth unit of `tenant` it processes from now on (1 = the next one) with `code`;
// `apply`: the unit is applied to the world before the failure is answered (an outcome_unknown commit
// that did commit).
struct planned_failure {
  uint64_t tenant = 0;
  uint32_t nth = 1;
  errc code = errc::commit_failed;
  bool apply = false;
};

// A request the client actor sends on the test's behalf.
struct client_job {
  std::function<void(caf::event_based_actor*)> run;
};

}  // namespace caudal::actor_test

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actor_test::planned_failure)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caudal::actor_test::client_job)

namespace caudal::actor_test {

// --- ids and items ---

inline account_id acct_id(uint64_t v) {
  return account_id{u128::from_u64(v)};
}
inline transfer_id xfer_id(uint64_t v) {
  return transfer_id{u128::from_u64(v)};
}

inline ledger::account new_account(uint64_t id, uint16_t flags = 0) {
  ledger::account a;
  a.id = acct_id(id);
  a.ledger = 1;
  a.code = 1;
  a.flags = flags;
  return a;
}

inline ledger::transfer new_transfer(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount, uint16_t flags = 0,
                                     uint32_t timeout = 0, uint64_t pending_id = 0) {
  ledger::transfer t;
  t.id = xfer_id(id);
  t.debit_account_id = acct_id(debit);
  t.credit_account_id = acct_id(credit);
  t.amount = amount;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  t.timeout = timeout;
  t.pending_id = xfer_id(pending_id);
  return t;
}

// Post (or void) a pending transfer, taking every other field from it.
inline ledger::transfer resolve_pending(uint64_t id, uint64_t pending_id, uint16_t flag) {
  ledger::transfer t;
  t.id = xfer_id(id);
  t.pending_id = xfer_id(pending_id);
  t.flags = flag;
  return t;
}

// --- the in-memory database ---

struct tenant_rows {
  uint64_t last_timestamp = 0;
  std::map<u128, storage::account_row> accounts;
  std::map<u128, storage::transfer_row> transfers;
  std::map<u128, ledger::create_transfer_result> failed;
  std::vector<ledger::history_row> history;
};

struct fake_world {
  mutable std::mutex mu;
  std::map<uint64_t, tenant_rows> tenants;  // existing tenants
  std::vector<std::string> violations;      // what PostgreSQL would refuse, or a balance going back in time

  // What the fakes observed, per tenant.
  std::map<uint64_t, size_t> units_received, units_committed, units_failed, units_refused, units_held;
  size_t barriers_waiting = 0;
  std::map<uint64_t, size_t> tenant_loads;      // load_tenant requests answered
  size_t account_loads_held = 0;                // load_accounts answers the reader holds back
  std::map<uint64_t, caf::actor> tenant_actor;  // the actor that loaded the tenant last
  std::map<uint64_t, std::optional<storage::shard_fence>> last_fence;  // of the tenant's last unit received

  void add_tenant(tenant_id t) {
    std::lock_guard<std::mutex> g(mu);
    tenants[t.value];
  }

  // Applies one unit as commit_group would (storage/ledger_commit.cpp), noting what the database would refuse.
  void apply(tenant_id tenant, const ledger::effects& e) {
    std::lock_guard<std::mutex> g(mu);
    auto found = tenants.find(tenant.value);
    if (found == tenants.end()) {
      violations.push_back("commit for a tenant that does not exist");
      return;
    }
    tenant_rows& db = found->second;
    for (const auto& a : e.created_accounts)
      if (!db.accounts.emplace(a.id.value, storage::account_row{a, a.timestamp}).second)
        violations.push_back("duplicate account " + to_decimal(a.id.value));
    for (const auto& t : e.created_transfers) {
      storage::transfer_row row{t, (t.flags & ledger::transfer_flags::pending) != 0 ? ledger::pending_state::pending
                                                                                    : ledger::pending_state::none};
      if (!db.transfers.emplace(t.id.value, row).second)
        violations.push_back("duplicate transfer " + to_decimal(t.id.value));
    }
    for (const auto& u : e.pending_updates) {
      auto it = db.transfers.find(u.id.value);
      if (it == db.transfers.end() || it->second.state != ledger::pending_state::pending)
        violations.push_back("pending update of a transfer not pending " + to_decimal(u.id.value));
      else
        it->second.state = u.state;
    }
    for (const auto& f : e.failed_transfers)
      if (!db.failed.emplace(f.id.value, f.result).second)
        violations.push_back("duplicate failed id " + to_decimal(f.id.value));
    for (const auto& h : e.history)
      db.history.push_back(h);
    for (const auto& u : e.account_updates) {
      auto it = db.accounts.find(u.id.value);
      if (it == db.accounts.end()) {
        violations.push_back("update of a missing account " + to_decimal(u.id.value));
        continue;
      }
      if (u.version < it->second.version)
        violations.push_back("account update older than the stored one " + to_decimal(u.id.value));
      auto& a = it->second.account;
      a.debits_pending = u.debits_pending;
      a.debits_posted = u.debits_posted;
      a.credits_pending = u.credits_pending;
      a.credits_posted = u.credits_posted;
      it->second.version = u.version;
    }
    db.last_timestamp = std::max(db.last_timestamp, e.last_timestamp);
  }

  // --- reads for the fake reader (callers hold no lock) ---

  std::optional<storage::tenant_state> tenant_state_of(tenant_id t, size_t max_expiries) {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    if (it == tenants.end())
      return std::nullopt;
    storage::tenant_state out;
    out.exists = true;
    out.last_timestamp = it->second.last_timestamp;
    out.expiries = expiries_locked(it->second, 0, max_expiries + 1);
    if (out.expiries.size() > max_expiries) {
      out.more_expiries = true;
      out.expiries.resize(max_expiries);
    }
    return out;
  }

  static std::vector<std::pair<transfer_id, uint64_t>> expiries_locked(const tenant_rows& db, uint64_t from_ns,
                                                                       size_t limit) {
    std::vector<std::pair<uint64_t, u128>> due;
    for (const auto& [id, row] : db.transfers) {
      uint64_t at = ledger::expires_at(row.transfer);
      if (row.state == ledger::pending_state::pending && at > 0 && at >= from_ns)
        due.emplace_back(at, id);
    }
    std::sort(due.begin(), due.end());
    std::vector<std::pair<transfer_id, uint64_t>> out;
    for (size_t i = 0; i < due.size() && i < limit; ++i)
      out.emplace_back(transfer_id{due[i].second}, due[i].first);
    return out;
  }

  // --- what the test checks ---

  std::optional<storage::account_row> account(tenant_id t, uint64_t id) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    if (it == tenants.end())
      return std::nullopt;
    auto a = it->second.accounts.find(u128::from_u64(id));
    if (a == it->second.accounts.end())
      return std::nullopt;
    return a->second;
  }
  std::optional<storage::transfer_row> transfer(tenant_id t, uint64_t id) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    if (it == tenants.end())
      return std::nullopt;
    auto x = it->second.transfers.find(u128::from_u64(id));
    if (x == it->second.transfers.end())
      return std::nullopt;
    return x->second;
  }
  std::optional<ledger::create_transfer_result> failed_id(tenant_id t, uint64_t id) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    if (it == tenants.end())
      return std::nullopt;
    auto f = it->second.failed.find(u128::from_u64(id));
    if (f == it->second.failed.end())
      return std::nullopt;
    return f->second;
  }
  size_t transfer_count(tenant_id t) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    return it == tenants.end() ? 0 : it->second.transfers.size();
  }
  uint64_t last_timestamp(tenant_id t) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenants.find(t.value);
    return it == tenants.end() ? 0 : it->second.last_timestamp;
  }
  size_t get(const std::map<uint64_t, size_t>& m, tenant_id t) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = m.find(t.value);
    return it == m.end() ? 0 : it->second;
  }
  size_t held(tenant_id t) const { return get(units_held, t); }
  size_t received(tenant_id t) const { return get(units_received, t); }
  size_t committed(tenant_id t) const { return get(units_committed, t); }
  size_t loads(tenant_id t) const { return get(tenant_loads, t); }
  size_t account_loads_held_now() const {
    std::lock_guard<std::mutex> g(mu);
    return account_loads_held;
  }
  size_t barriers() const {
    std::lock_guard<std::mutex> g(mu);
    return barriers_waiting;
  }
  caf::actor loader_of(tenant_id t) const {
    std::lock_guard<std::mutex> g(mu);
    auto it = tenant_actor.find(t.value);
    return it == tenant_actor.end() ? caf::actor{} : it->second;
  }
  std::vector<std::string> problems() const {
    std::lock_guard<std::mutex> g(mu);
    return violations;
  }

  // The ledger checker's invariants (storage/verify.cpp) over the tenant's rows: double entry per ledger,
  // and every account's balances equal to the sum of its transfers. Empty when all hold.
  std::vector<std::string> verify(tenant_id t) const {
    std::lock_guard<std::mutex> g(mu);
    std::vector<std::string> out;
    auto it = tenants.find(t.value);
    if (it == tenants.end())
      return out;
    const tenant_rows& db = it->second;
    struct sums {
      uint64_t dp = 0, dpo = 0, cp = 0, cpo = 0;
    };
    std::map<u128, sums> from_transfers;
    for (const auto& [id, row] : db.transfers) {
      const auto& x = row.transfer;
      auto& d = from_transfers[x.debit_account_id.value];
      auto& c = from_transfers[x.credit_account_id.value];
      const bool pending = (x.flags & ledger::transfer_flags::pending) != 0;
      const bool voiding = (x.flags & ledger::transfer_flags::void_pending_transfer) != 0;
      if (!pending && !voiding) {
        d.dpo += x.amount;
        c.cpo += x.amount;
      } else if (pending && row.state == ledger::pending_state::pending) {
        d.dp += x.amount;
        c.cp += x.amount;
      }
    }
    std::map<uint32_t, sums> per_ledger;
    for (const auto& [id, row] : db.accounts) {
      const auto& a = row.account;
      sums s = from_transfers.count(id) != 0 ? from_transfers.at(id) : sums{};
      if (a.debits_pending != s.dp || a.debits_posted != s.dpo || a.credits_pending != s.cp ||
          a.credits_posted != s.cpo)
        out.push_back("account " + to_decimal(id) + " balances differ from its transfers");
      auto& l = per_ledger[a.ledger];
      l.dp += a.debits_pending;
      l.dpo += a.debits_posted;
      l.cp += a.credits_pending;
      l.cpo += a.credits_posted;
    }
    for (const auto& [ledger_id, s] : per_ledger)
      if (s.dp != s.cp || s.dpo != s.cpo)
        out.push_back("ledger " + std::to_string(ledger_id) + " does not balance");
    return out;
  }
};
using world_ptr = std::shared_ptr<fake_world>;

// --- the fake batch writer ---

struct fake_writer_state {
  static inline const char* name = "fake_writer";
  struct entry {
    commit_work_ptr work;  // null: a barrier
    caf::response_promise barrier;
  };
  world_ptr world;
  std::deque<entry> queue;              // arrival order
  std::set<uint64_t> held;              // tenants whose units wait for the test
  std::map<uint64_t, uint32_t> passes;  // held tenant -> units let through anyway
  std::vector<planned_failure> plans;
  std::map<uint64_t, uint64_t> poisoned;  // tenant -> poisoned generation (as the real writer)
};
using fake_writer_self = caf::stateful_actor<fake_writer_state>;

inline void writer_process(fake_writer_self* self, const commit_work_ptr& w) {
  auto& st = self->state;
  const uint64_t t = w->tenant.value;
  {
    std::lock_guard<std::mutex> g(st.world->mu);
    st.world->last_fence[t] = w->fence;
  }
  auto p = st.poisoned.find(t);
  if (p != st.poisoned.end() && p->second == w->generation) {
    {
      std::lock_guard<std::mutex> g(st.world->mu);
      ++st.world->units_refused[t];
    }
    self->send(w->reply_to, actors::commit_failed_atom::value, w->seq, caf::make_error(errc::commit_failed));
    return;
  }
  if (p != st.poisoned.end())
    st.poisoned.erase(p);  // a newer generation: the tenant rebuilt
  for (auto it = st.plans.begin(); it != st.plans.end(); ++it) {
    if (it->tenant != t || --it->nth != 0)
      continue;
    planned_failure f = *it;
    st.plans.erase(it);
    if (f.apply)
      st.world->apply(w->tenant, w->changes);
    st.poisoned[t] = w->generation;
    {
      std::lock_guard<std::mutex> g(st.world->mu);
      ++st.world->units_failed[t];
    }
    self->send(w->reply_to, actors::commit_failed_atom::value, w->seq, caf::make_error(f.code));
    return;
  }
  st.world->apply(w->tenant, w->changes);
  {
    std::lock_guard<std::mutex> g(st.world->mu);
    ++st.world->units_committed[t];
  }
  self->send(w->reply_to, actors::committed_atom::value, w->seq);
}

// Answers every unit that may go (in arrival order, held tenants' units stay) and every barrier with no
// unanswered unit before it.
inline void writer_drain(fake_writer_self* self) {
  auto& st = self->state;
  bool unit_before = false;
  for (auto it = st.queue.begin(); it != st.queue.end();) {
    if (!it->work) {
      if (unit_before) {
        ++it;
        continue;
      }
      it->barrier.deliver(caf::unit);
      it = st.queue.erase(it);
      continue;
    }
    const uint64_t t = it->work->tenant.value;
    if (st.held.count(t) != 0) {
      if (st.passes[t] == 0) {
        unit_before = true;
        ++it;
        continue;
      }
      --st.passes[t];
    }
    auto w = it->work;
    it = st.queue.erase(it);
    writer_process(self, w);
  }
  std::lock_guard<std::mutex> g(st.world->mu);
  st.world->units_held.clear();
  st.world->barriers_waiting = 0;
  for (auto& e : st.queue) {
    if (e.work)
      ++st.world->units_held[e.work->tenant.value];
    else
      ++st.world->barriers_waiting;
  }
}

inline caf::behavior fake_writer(fake_writer_self* self, world_ptr world) {
  self->state.world = std::move(world);
  return {
      [=](actors::commit_atom, commit_work_ptr& w) {
        {
          std::lock_guard<std::mutex> g(self->state.world->mu);
          ++self->state.world->units_received[w->tenant.value];
        }
        self->state.queue.push_back({std::move(w), {}});
        writer_drain(self);
      },
      [=](actors::barrier_atom) -> caf::result<caf::unit_t> {
        auto rp = self->make_response_promise();
        self->state.queue.push_back({nullptr, rp});
        writer_drain(self);
        return caf::delegated<caf::unit_t>();
      },
      [=](hold_atom, uint64_t t) -> caf::unit_t {
        self->state.held.insert(t);
        return caf::unit;
      },
      [=](release_atom, uint64_t t) -> caf::unit_t {
        self->state.held.erase(t);
        self->state.passes.erase(t);
        writer_drain(self);
        return caf::unit;
      },
      [=](step_atom, uint64_t t, uint32_t n) -> caf::unit_t {
        self->state.passes[t] += n;
        writer_drain(self);
        return caf::unit;
      },
      [=](planned_failure& f) -> caf::unit_t {
        self->state.plans.push_back(f);
        return caf::unit;
      },
  };
}

// --- the fake reader pool ---

inline caf::behavior fake_reader(caf::event_based_actor* self, world_ptr world) {
  using namespace actors;
  struct held_loads {
    bool holding = false;
    std::vector<std::pair<caf::response_promise, account_rows>> answers;
  };
  auto held = std::make_shared<held_loads>();  // touched by this actor only
  auto rows_of = [world](tenant_id t) -> const tenant_rows* {
    auto it = world->tenants.find(t.value);
    return it == world->tenants.end() ? nullptr : &it->second;
  };
  return {
      [=](prefetch_atom, tenant_id t, account_ids& a, transfer_ids& x) -> storage::prefetch {
        std::lock_guard<std::mutex> g(world->mu);
        storage::prefetch out;
        const tenant_rows* db = rows_of(t);
        if (db == nullptr)
          return out;
        std::set<u128> accounts;
        for (auto& id : a.ids)
          accounts.insert(id.value);
        std::set<u128> asked;
        for (auto& id : x.ids)
          asked.insert(id.value);
        for (auto& id : asked) {
          auto it = db->transfers.find(id);
          if (it != db->transfers.end()) {
            out.transfers.push_back(it->second);
            if ((it->second.transfer.flags & ledger::transfer_flags::pending) != 0) {
              accounts.insert(it->second.transfer.debit_account_id.value);
              accounts.insert(it->second.transfer.credit_account_id.value);
            }
          }
          auto f = db->failed.find(id);
          if (f != db->failed.end())
            out.failed.push_back({transfer_id{id}, f->second});
        }
        for (auto& id : accounts) {
          auto it = db->accounts.find(id);
          if (it != db->accounts.end())
            out.accounts.push_back(it->second);
        }
        return out;
      },
      [=](load_accounts_atom, tenant_id t, account_ids& a) -> caf::result<account_rows> {
        std::lock_guard<std::mutex> g(world->mu);
        account_rows out;
        if (const tenant_rows* db = rows_of(t))
          for (auto& id : a.ids) {
            auto it = db->accounts.find(id.value);
            if (it != db->accounts.end())
              out.rows.push_back(it->second);
          }
        if (!held->holding)
          return out;
        held->answers.emplace_back(self->make_response_promise(), std::move(out));
        world->account_loads_held = held->answers.size();
        return caf::delegated<account_rows>();
      },
      [=](hold_atom) -> caf::unit_t {
        held->holding = true;
        return caf::unit;
      },
      [=](release_atom) -> caf::unit_t {
        held->holding = false;
        for (auto& [rp, rows] : held->answers)
          rp.deliver(std::move(rows));
        held->answers.clear();
        std::lock_guard<std::mutex> g(world->mu);
        world->account_loads_held = 0;
        return caf::unit;
      },
      [=](lookup_transfers_atom, tenant_id t, transfer_ids& x) -> transfer_list {
        std::lock_guard<std::mutex> g(world->mu);
        transfer_list out;
        if (const tenant_rows* db = rows_of(t))
          for (auto& id : x.ids) {
            auto it = db->transfers.find(id.value);
            if (it != db->transfers.end())
              out.items.push_back(it->second.transfer);
          }
        return out;
      },
      [=](account_transfers_atom, tenant_id t, ledger::account_filter f) -> transfer_list {
        std::lock_guard<std::mutex> g(world->mu);
        transfer_list out;
        if (const tenant_rows* db = rows_of(t)) {
          for (auto& [id, row] : db->transfers) {
            const auto& x = row.transfer;
            bool debit = (f.flags & ledger::account_filter_flags::debits) != 0 && x.debit_account_id == f.account;
            bool credit = (f.flags & ledger::account_filter_flags::credits) != 0 && x.credit_account_id == f.account;
            if (debit || credit)
              out.items.push_back(x);
          }
          std::sort(out.items.begin(), out.items.end(),
                    [](const ledger::transfer& a, const ledger::transfer& b) { return a.timestamp < b.timestamp; });
          if (f.limit != 0 && out.items.size() > f.limit)
            out.items.resize(f.limit);
        }
        return out;
      },
      [=](account_balances_atom, tenant_id t, ledger::account_filter f) -> balance_list {
        std::lock_guard<std::mutex> g(world->mu);
        balance_list out;
        if (const tenant_rows* db = rows_of(t))
          for (auto& h : db->history)
            if (h.account == f.account && (f.limit == 0 || out.items.size() < f.limit))
              out.items.push_back(h.balance);
        return out;
      },
      [=](load_tenant_atom, tenant_id t, uint32_t max_expiries) -> storage::tenant_state {
        auto s = world->tenant_state_of(t, max_expiries);
        std::lock_guard<std::mutex> g(world->mu);
        ++world->tenant_loads[t.value];
        world->tenant_actor[t.value] = caf::actor_cast<caf::actor>(self->current_sender());
        return s ? *s : storage::tenant_state{};
      },
      [=](load_expiries_atom, tenant_id t, uint64_t from_ns, uint32_t limit) -> expiry_list {
        std::lock_guard<std::mutex> g(world->mu);
        expiry_list out;
        if (const tenant_rows* db = rows_of(t))
          out.items = fake_world::expiries_locked(*db, from_ns, limit);
        return out;
      },
      [=](next_expiries_atom) -> tenant_expiries {
        std::lock_guard<std::mutex> g(world->mu);
        tenant_expiries out;
        for (auto& [t, db] : world->tenants) {
          auto e = fake_world::expiries_locked(db, 0, 1);
          if (!e.empty())
            out.items.emplace_back(tenant_id{t}, e.front().second);
        }
        return out;
      },
  };
}

// --- answers as the client saw them ---

template <class R>
struct outcome {
  std::mutex mu;
  bool done = false;
  int order = 0;  // 1 for the first answer the client received, 2 for the next...
  errc error = errc::none;
  R value{};

  bool is_done() {
    std::lock_guard<std::mutex> g(mu);
    return done;
  }
  // The answer (call only once done).
  caudal::result<R> get() {
    std::lock_guard<std::mutex> g(mu);
    if (error != errc::none)
      return error;
    return value;
  }
  int arrival() {
    std::lock_guard<std::mutex> g(mu);
    return order;
  }
};
template <class R>
using outcome_ptr = std::shared_ptr<outcome<R>>;

// Polls `pred` until it holds or `timeout` passes (the actors run on other threads).
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// --- the harness ---

inline caf::behavior client_actor(caf::event_based_actor* self) {
  return {[=](client_job& j) { j.run(self); }};
}

class harness {
 public:
  // `shards`: the registry serves only tenants of shards in the lease tables the test sends (lease_table);
  // none: every tenant, unfenced.
  explicit harness(node_limits limits = {}, node_timing timing = {},
                   std::shared_ptr<const cluster::placement> shards = nullptr)
      : sys_(configure(cfg_)) {
    world_ = std::make_shared<fake_world>();
    auto services = std::make_shared<actors::node_services>();
    services->clock = &clock_;
    services->limits = limits;
    services->timing = timing;
    services->log = make_logger();
    services->placement = std::move(shards);
    services->writers = {sys_.spawn(fake_writer, world_)};
    services->readers = sys_.spawn(fake_reader, world_);
    services->admin = sys_.spawn([](caf::event_based_actor*) -> caf::behavior { return {[](actors::stop_atom) {}}; });
    services_ = services;
    client_ = sys_.spawn(client_actor);
  }

  // Starts the registry (after the test put its tenants into the world: it reads their expiries at start).
  void start() { registry_ = actors::spawn_tenant_registry(sys_, services_); }

  ~harness() {
    if (registry_)
      caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
    for (auto& a : {client_, services_->writers.front(), services_->readers, services_->admin})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    {
      std::lock_guard<std::mutex> g(world_->mu);
      world_->tenant_actor.clear();
    }
    sys_.await_all_actors_done();
  }

  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  fake_world& world() { return *world_; }
  manual_clock& clock() { return clock_; }
  caf::actor_system& sys() { return sys_; }
  const caf::actor& registry() const { return registry_; }

  // Sends a request to the registry through the client actor; the outcome fills in when it is answered.
  template <class R, class... Ts>
  outcome_ptr<R> send(Ts... xs) {
    auto out = std::make_shared<outcome<R>>();
    auto counter = answers_;
    auto target = registry_;
    auto timeout = services_->request_timeout();
    auto record = [out, counter](errc e, R* value) {
      std::lock_guard<std::mutex> g(out->mu);
      out->done = true;
      out->order = ++*counter;
      out->error = e;
      if (value != nullptr)
        out->value = std::move(*value);
    };
    caf::anon_send(client_, client_job{[=](caf::event_based_actor* self) {
                     auto h = self->request(target, timeout, xs...);
                     auto on_error = [record](caf::error& e) { record(actors::to_errc(e), nullptr); };
                     if constexpr (std::is_same_v<R, caf::unit_t>)
                       h.then([record]() { record(errc::none, nullptr); }, on_error);
                     else
                       h.then([record](R& r) { record(errc::none, &r); }, on_error);
                   }});
    return out;
  }

  // Sends and waits for the answer.
  template <class R, class... Ts>
  caudal::result<R> call(Ts... xs) {
    auto o = send<R>(xs...);
    if (!eventually([&] { return o->is_done(); }, 15000ms))
      return caudal::result<R>(errc::timeout, "no answer in the test's time");
    return o->get();
  }

  // --- ledger requests, as the gateway sends them (with the caller: a session of tenant t, all scopes) ---
  static actors::caller as_tenant(tenant_id t) { return actors::caller{t, 0xffffffffu}; }
  caudal::result<actors::account_results> create_accounts(tenant_id t, std::vector<ledger::account> items) {
    return call<actors::account_results>(actors::create_accounts_atom::value, as_tenant(t), t, actors::account_batch{items});
  }
  outcome_ptr<actors::transfer_results> send_transfers(tenant_id t, std::vector<ledger::transfer> items) {
    return send<actors::transfer_results>(actors::create_transfers_atom::value, as_tenant(t), t, actors::transfer_batch{items});
  }
  caudal::result<actors::transfer_results> create_transfers(tenant_id t, std::vector<ledger::transfer> items) {
    return call<actors::transfer_results>(actors::create_transfers_atom::value, as_tenant(t), t, actors::transfer_batch{items});
  }
  caudal::result<actors::account_list> lookup_accounts(tenant_id t, std::vector<uint64_t> ids) {
    actors::account_ids req;
    for (auto id : ids)
      req.ids.push_back(acct_id(id));
    return call<actors::account_list>(actors::lookup_accounts_atom::value, as_tenant(t), t, req);
  }
  caudal::result<actors::transfer_list> lookup_transfers(tenant_id t, std::vector<uint64_t> ids) {
    actors::transfer_ids req;
    for (auto id : ids)
      req.ids.push_back(xfer_id(id));
    return call<actors::transfer_list>(actors::lookup_transfers_atom::value, as_tenant(t), t, req);
  }
  // The lease manager's message: the shards this node holds now. Requests the test sends afterwards reach
  // the registry's mailbox after it.
  void lease_table(std::vector<storage::held_lease> leases) {
    caf::anon_send(registry_, actors::leases_atom::value, actors::lease_table{std::move(leases)});
  }
  // A round trip through the tenant actor: every answer it sent before has reached the client after this.
  void flush(tenant_id t) { (void)lookup_accounts(t, {}); }

  // --- scripting the writer ---
  void hold(tenant_id t) { control(hold_atom::value, t.value); }
  void release(tenant_id t) { control(release_atom::value, t.value); }
  void step(tenant_id t, uint32_t n = 1) { control(step_atom::value, t.value, n); }
  void fail_unit(tenant_id t, uint32_t nth, errc code, bool apply) {
    control(planned_failure{t.value, nth, code, apply});
  }
  // --- scripting the reader ---
  void hold_account_loads() { control_reader(hold_atom::value); }
  void release_account_loads() { control_reader(release_atom::value); }

  // Watches an actor; true once it terminated (within timeout).
  bool wait_down(const caf::actor& a, std::chrono::milliseconds timeout = 5000ms) {
    if (!a)
      return false;
    caf::scoped_actor self{sys_};
    self->monitor(a);
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; }, caf::after(timeout) >> [] {});
    return down;
  }

 private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  static std::shared_ptr<spdlog::logger> make_logger() {
    // Quiet unless asked: CAUDAL_TEST_LOG=1 shows the actors' log on stderr.
    const char* env = std::getenv("CAUDAL_TEST_LOG");
    if (env != nullptr && env[0] == '1') {
      auto l = std::make_shared<spdlog::logger>("actors", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      l->set_level(spdlog::level::debug);
      return l;
    }
    return std::make_shared<spdlog::logger>("actors", std::make_shared<spdlog::sinks::null_sink_mt>());
  }

  template <class... Ts>
  void control(Ts... xs) {
    caf::scoped_actor self{sys_};
    self->request(services_->writers.front(), caf::infinite, xs...).receive([]() {}, [](caf::error&) {});
  }
  template <class... Ts>
  void control_reader(Ts... xs) {
    caf::scoped_actor self{sys_};
    self->request(services_->readers, caf::infinite, xs...).receive([]() {}, [](caf::error&) {});
  }

  caf::actor_system_config cfg_;
  manual_clock clock_;
  caf::actor_system sys_;
  world_ptr world_;
  actors::services_ptr services_;
  caf::actor client_;
  caf::actor registry_;
  std::shared_ptr<std::atomic<int>> answers_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace caudal::actor_test
