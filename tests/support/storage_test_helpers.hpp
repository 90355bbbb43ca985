#pragma once
// Shared by the storage_*_test executables: building ledger values and effects by hand, and small SQL
// helpers. (Only *_test.cpp files become executables; this header is included by them.)
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/ledger/effects.hpp"
#include "storage/admin_store.hpp"
#include "storage/ledger_store.hpp"
#include "storage/pg_codec.hpp"
#include "storage/pg_connection.hpp"
#include "tests/support/test_env.hpp"

namespace caudal::test {

inline account_id acct(uint64_t n) {
  return account_id(u128{0, n});
}
inline transfer_id xfer(uint64_t n) {
  return transfer_id(u128{0, n});
}

inline ledger::account make_account(account_id id, uint64_t ts, uint32_t ledger_id = 700, uint16_t flags = 0) {
  ledger::account a;
  a.id = id;
  a.ledger = ledger_id;
  a.code = 10;
  a.flags = flags;
  a.timestamp = ts;
  return a;
}

inline ledger::transfer make_transfer(transfer_id id, account_id debit, account_id credit, uint64_t amount, uint64_t ts,
                                      uint16_t flags = 0) {
  ledger::transfer t;
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = 700;
  t.code = 1;
  t.flags = flags;
  t.timestamp = ts;
  return t;
}

// Balances of accounts as a test builds effects by hand: transfers move them, the caller emits updates.
struct balances {
  uint64_t dp = 0, dpo = 0, cp = 0, cpo = 0, version = 0;
  ledger::account_update update(account_id id) const { return {id, dp, dpo, cp, cpo, version}; }
  ledger::account_balance point() const { return {version, dp, dpo, cp, cpo}; }
};

// Creates a tenant (tenant rows are needed for the clock) and returns its id.
inline tenant_id new_tenant(storage::pg_connection& c, const std::string& name) {
  auto t = storage::create_tenant(c, name, "AR", name + "-client", "hash");
  REQUIRE_MESSAGE(t.ok(), why(t));
  return t->id;
}

// commit_group's two ways to write (storage/ledger_store.hpp), as types for TEST_CASE_TEMPLATE: a storage
// test of what a commit writes runs on both.
struct pipelined_path {
  static constexpr auto path = storage::write_path::pipelined;
};
struct copied_path {
  static constexpr auto path = storage::write_path::copied;
};

inline void commit_ok(storage::pg_connection& c, const std::vector<storage::tenant_commit>& group,
                      storage::write_path path = storage::write_path::by_size) {
  auto r = storage::commit_group(c, group, 0, path);
  REQUIRE_MESSAGE(r.ok(), why(r));
}

// The single value of a one-row, one-column query, as text.
inline std::string scalar(storage::pg_connection& c, const std::string& sql) {
  auto r = c.query(sql, {});
  REQUIRE_MESSAGE(r.ok(), why(r));
  REQUIRE(r->size() == 1);
  return r->is_null(0, 0) ? std::string("NULL") : std::string(r->text(0, 0));
}

inline void sql_ok(storage::pg_connection& c, const std::string& sql) {
  auto r = c.exec(sql);
  REQUIRE_MESSAGE(r.ok(), why(r));
}

// A tiny hand-driven ledger for building consistent effects without the state machine: each call applies
// one event at the next timestamp and records the rows the writer would persist. take() ends a unit of work.
class ledger_sim {
 public:
  explicit ledger_sim(uint64_t start_ts = 1'000'000'000) : clock_(start_ts) {}

  void create_account(account_id id, uint16_t flags = 0, uint32_t ledger_id = 700) {
    auto a = make_account(id, ++clock_, ledger_id, flags);
    unit_.created_accounts.push_back(a);
    state_[id.value] = {flags, balances{0, 0, 0, 0, a.timestamp}};
  }
  ledger::transfer single(transfer_id id, account_id debit, account_id credit, uint64_t amount, uint16_t code = 1,
                          uint64_t user_data_64 = 0) {
    auto t = make_transfer(id, debit, credit, amount, ++clock_);
    t.code = code;
    t.user_data_64 = user_data_64;
    t.user_data_128 = u128{0, user_data_64 * 3};
    t.user_data_32 = static_cast<uint32_t>(user_data_64 % 7);
    move(debit, t.timestamp, [&](balances& b) { b.dpo += amount; });
    move(credit, t.timestamp, [&](balances& b) { b.cpo += amount; });
    return record(t);
  }
  ledger::transfer pending(transfer_id id, account_id debit, account_id credit, uint64_t amount,
                           uint32_t timeout_s = 0) {
    auto t = make_transfer(id, debit, credit, amount, ++clock_, ledger::transfer_flags::pending);
    t.timeout = timeout_s;
    move(debit, t.timestamp, [&](balances& b) { b.dp += amount; });
    move(credit, t.timestamp, [&](balances& b) { b.cp += amount; });
    pendings_[id.value] = t;
    return record(t);
  }
  // Posts `amount` (<= the pending amount) of a pending transfer.
  ledger::transfer post(transfer_id id, transfer_id pending_id, uint64_t amount) {
    const auto& p = pendings_.at(pending_id.value);
    auto t = make_transfer(id, p.debit_account_id, p.credit_account_id, amount, ++clock_,
                           ledger::transfer_flags::post_pending_transfer);
    t.pending_id = pending_id;
    move(p.debit_account_id, t.timestamp, [&](balances& b) {
      b.dp -= p.amount;
      b.dpo += amount;
    });
    move(p.credit_account_id, t.timestamp, [&](balances& b) {
      b.cp -= p.amount;
      b.cpo += amount;
    });
    unit_.pending_updates.push_back({pending_id, ledger::pending_state::posted});
    return record(t);
  }
  ledger::transfer void_pending(transfer_id id, transfer_id pending_id) {
    const auto& p = pendings_.at(pending_id.value);
    auto t = make_transfer(id, p.debit_account_id, p.credit_account_id, p.amount, ++clock_,
                           ledger::transfer_flags::void_pending_transfer);
    t.pending_id = pending_id;
    move(p.debit_account_id, t.timestamp, [&](balances& b) { b.dp -= p.amount; });
    move(p.credit_account_id, t.timestamp, [&](balances& b) { b.cp -= p.amount; });
    unit_.pending_updates.push_back({pending_id, ledger::pending_state::voided});
    return record(t);
  }
  void expire(transfer_id pending_id) {
    const auto& p = pendings_.at(pending_id.value);
    const uint64_t ts = ++clock_;
    move(p.debit_account_id, ts, [&](balances& b) { b.dp -= p.amount; });
    move(p.credit_account_id, ts, [&](balances& b) { b.cp -= p.amount; });
    unit_.pending_updates.push_back({pending_id, ledger::pending_state::expired});
  }
  void fail(transfer_id id, ledger::create_transfer_result r = ledger::create_transfer_result::exceeds_credits) {
    ++clock_;
    unit_.failed_transfers.push_back({id, r});
  }
  // Ends the unit: one after-state update per account it touched, and the tenant clock.
  ledger::effects take() {
    for (const auto& id : touched_)
      unit_.account_updates.push_back(state_.at(id).b.update(account_id(id)));
    unit_.last_timestamp = clock_;
    touched_.clear();
    ledger::effects out = std::move(unit_);
    unit_ = ledger::effects{};
    return out;
  }
  balances of(account_id id) const { return state_.at(id.value).b; }
  uint64_t now() const { return clock_; }
  void skip_time(uint64_t ns) { clock_ += ns; }

 private:
  struct acct_state {
    uint16_t flags = 0;
    balances b;
  };
  template <class F>
  void move(account_id id, uint64_t ts, F change) {
    auto& s = state_.at(id.value);
    change(s.b);
    s.b.version = ts;
    bool seen = false;
    for (const auto& t : touched_)
      seen = seen || t == id.value;
    if (!seen)
      touched_.push_back(id.value);
    if ((s.flags & ledger::account_flags::history) != 0)
      unit_.history.push_back({id, s.b.point()});
  }
  ledger::transfer record(const ledger::transfer& t) {
    unit_.created_transfers.push_back(t);
    return t;
  }

  uint64_t clock_;
  ledger::effects unit_;
  std::map<u128, acct_state> state_;
  std::map<u128, ledger::transfer> pendings_;
  std::vector<u128> touched_;
};

inline std::string uuid(uint64_t n) {
  return storage::codec::uuid_text(u128{0, n});
}

}  // namespace caudal::test
