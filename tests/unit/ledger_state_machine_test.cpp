// The ledger state machine, path by path: every result code, linked chains, two-phase transfers,
// balancing, idempotency, timestamps, history and the effects of a unit of work.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "actors/ledger/state_machine.hpp"
#include "base/limits.hpp"
#include "tests/support/ledger_printing.hpp"

using namespace caudal::ledger;
using caudal::account_id;
using caudal::transfer_id;
using caudal::u128;
using caudal::limits::max_amount;

namespace {

constexpr uint64_t sec = 1'000'000'000ull;
constexpr uint64_t t0 = 1'700'000'000 * sec;  // the fixture's clock starts here

account_id aid(uint64_t v) {
  return account_id{u128::from_u64(v)};
}
transfer_id tid(uint64_t v) {
  return transfer_id{u128::from_u64(v)};
}

account acc(uint64_t id, uint32_t ledger = 1, uint16_t flags = 0) {
  account a;
  a.id = aid(id);
  a.ledger = ledger;
  a.code = 10;
  a.flags = flags;
  return a;
}

transfer tr(uint64_t id, uint64_t dr, uint64_t cr, uint64_t amount, uint16_t flags = 0) {
  transfer t;
  t.id = tid(id);
  t.debit_account_id = aid(dr);
  t.credit_account_id = aid(cr);
  t.amount = amount;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  return t;
}

transfer pend(uint64_t id, uint64_t dr, uint64_t cr, uint64_t amount, uint32_t timeout_s = 0) {
  transfer t = tr(id, dr, cr, amount, transfer_flags::pending);
  t.timeout = timeout_s;
  return t;
}

// A post or void leaving debit, credit, ledger and code at zero (taken from the pending transfer).
transfer post(uint64_t id, uint64_t pending_id, uint64_t amount = 0) {
  transfer t;
  t.id = tid(id);
  t.pending_id = tid(pending_id);
  t.amount = amount;
  t.flags = transfer_flags::post_pending_transfer;
  return t;
}

transfer void_(uint64_t id, uint64_t pending_id, uint64_t amount = 0) {
  transfer t = post(id, pending_id, amount);
  t.flags = transfer_flags::void_pending_transfer;
  return t;
}

transfer with_flags(transfer t, uint16_t flags) {
  t.flags = static_cast<uint16_t>(t.flags | flags);
  return t;
}

struct fixture {
  working_set ws;
  state_machine sm{ws};
  effects out;
  uint64_t now = t0;
  uint64_t seq = 1;

  std::vector<create_account_result> accounts(const std::vector<account>& items) {
    return sm.create_accounts(items, now, seq, out);
  }
  std::vector<create_transfer_result> transfers(const std::vector<transfer>& items) {
    return sm.create_transfers(items, now, seq, out);
  }
  create_transfer_result transfer1(const transfer& t) { return transfers({t}).at(0); }
  const account& a(uint64_t id) const {
    const account_entry* e = ws.find_account(aid(id));
    REQUIRE(e != nullptr);
    return e->value;
  }
  const transfer_entry& t(uint64_t id) const {
    const transfer_entry* e = ws.find_transfer(tid(id));
    REQUIRE(e != nullptr);
    return *e;
  }
  // Closes the unit of work and starts the next one; returns its effects.
  effects seal() {
    sm.seal(out);
    effects done = out;
    out.clear();
    ++seq;
    return done;
  }
};

// Accounts 1, 2, 7, 8, 9, 10, 11 plain-ish on ledger 1; 3 on ledger 2; 4 debits_must_not_exceed_credits;
// 5 credits_must_not_exceed_debits; 6 closed; 7 history.
// Transfers: 100 pending 1->2 100 (no timeout); 101 pending 50 posted by 201; 102 pending 50 voided by
// 202; 103 pending 50 timeout 1 s, expired; 104 single-phase 1->2 10 with user data; 105 pending 70
// timeout 5 s, still pending.
void standard_world(fixture& f) {
  const auto ar =
      f.accounts({acc(1), acc(2), acc(3, 2), acc(4, 1, account_flags::debits_must_not_exceed_credits),
                  acc(5, 1, account_flags::credits_must_not_exceed_debits), acc(6, 1, account_flags::closed),
                  acc(7, 1, account_flags::history), acc(8), acc(9), acc(10), acc(11)});
  for (auto r : ar)
    REQUIRE(r == create_account_result::ok);
  transfer t104 = tr(104, 1, 2, 10);
  t104.user_data_128 = u128{1, 2};
  t104.user_data_64 = 64;
  t104.user_data_32 = 32;
  const auto tr_results = f.transfers({pend(100, 1, 2, 100), pend(101, 1, 2, 50), post(201, 101), pend(102, 1, 2, 50),
                                       void_(202, 102), pend(103, 1, 2, 50, 1), t104, pend(105, 1, 2, 70, 5)});
  for (auto r : tr_results)
    REQUIRE(r == create_transfer_result::ok);
  f.now += 2 * sec;
  REQUIRE(f.sm.expire_pending({tid(103)}, f.now, f.seq, f.out) == 1);
  f.seal();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Every result code, one row each (the precedence paths are the rows' names).

TEST_CASE("every create_transfer_result is reached (table)") {
  using r = create_transfer_result;
  struct row {
    const char* name;
    std::function<void(fixture&)> setup;  // beyond the standard world
    std::vector<transfer> batch;
    size_t index;  // the item whose result is checked
    r expected;
  };
  const auto none = [](fixture&) {};
  transfer t104 = tr(104, 1, 2, 10);
  t104.user_data_128 = u128{1, 2};
  t104.user_data_64 = 64;
  t104.user_data_32 = 32;
  auto changed = [&](std::function<void(transfer&)> change) {
    transfer t = t104;
    change(t);
    return t;
  };
  const auto big_pending_8_to_9 = [](fixture& f) { REQUIRE(f.transfer1(pend(400, 8, 9, max_amount)) == r::ok); };
  const auto big_posted_8_to_9 = [](fixture& f) { REQUIRE(f.transfer1(tr(400, 8, 9, max_amount)) == r::ok); };
  // A closed account with a reservation, loaded from "PostgreSQL" (accounts are closed outside this API).
  // 410 is pending 20 -> 21, 411 pending 21 -> 20, both 5.
  const auto closed_with_pending = [](fixture& f) {
    account c = acc(20, 1, account_flags::closed);
    c.timestamp = t0;
    c.debits_pending = 5;
    c.credits_pending = 5;
    f.ws.load_account(c, t0);
    account o = acc(21);
    o.timestamp = t0;
    o.debits_pending = 5;
    o.credits_pending = 5;
    f.ws.load_account(o, t0);
    transfer p = pend(410, 20, 21, 5);
    p.timestamp = t0;
    f.ws.load_transfer(p, pending_state::pending);
    transfer q = pend(411, 21, 20, 5);
    q.timestamp = t0;
    f.ws.load_transfer(q, pending_state::pending);
  };
  const std::vector<row> rows = {
      {"ok", none, {tr(300, 1, 2, 10)}, 0, r::ok},
      {"linked_event_failed",
       none,
       {tr(300, 1, 2, 10, transfer_flags::linked), tr(301, 1, 2, 0)},
       0,
       r::linked_event_failed},
      {"linked_event_chain_open", none, {tr(300, 1, 2, 10, transfer_flags::linked)}, 0, r::linked_event_chain_open},
      {"timestamp_must_be_zero",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.timestamp = 1;
       })},
       0,
       r::timestamp_must_be_zero},
      {"reserved_flag", none, {tr(300, 1, 2, 10, 1u << 6)}, 0, r::reserved_flag},
      {"id_must_not_be_zero", none, {tr(0, 1, 2, 10)}, 0, r::id_must_not_be_zero},
      {"id_must_not_be_int_max",
       none,
       {changed([](transfer& t) { t.id = transfer_id{u128::max()}; })},
       0,
       r::id_must_not_be_int_max},
      {"exists_with_different_flags",
       none,
       {changed([](transfer& t) { t.flags = transfer_flags::pending; })},
       0,
       r::exists_with_different_flags},
      {"exists_with_different_pending_id",
       none,
       {changed([](transfer& t) { t.pending_id = tid(5); })},
       0,
       r::exists_with_different_pending_id},
      {"exists_with_different_timeout",
       none,
       {changed([](transfer& t) { t.timeout = 1; })},
       0,
       r::exists_with_different_timeout},
      {"exists_with_different_debit_account_id",
       none,
       {changed([](transfer& t) { t.debit_account_id = aid(8); })},
       0,
       r::exists_with_different_debit_account_id},
      {"exists_with_different_credit_account_id",
       none,
       {changed([](transfer& t) { t.credit_account_id = aid(8); })},
       0,
       r::exists_with_different_credit_account_id},
      {"exists_with_different_amount",
       none,
       {changed([](transfer& t) { t.amount = 11; })},
       0,
       r::exists_with_different_amount},
      {"exists_with_different_user_data_128",
       none,
       {changed([](transfer& t) { t.user_data_128 = u128{}; })},
       0,
       r::exists_with_different_user_data_128},
      {"exists_with_different_user_data_64",
       none,
       {changed([](transfer& t) { t.user_data_64 = 1; })},
       0,
       r::exists_with_different_user_data_64},
      {"exists_with_different_user_data_32",
       none,
       {changed([](transfer& t) { t.user_data_32 = 1; })},
       0,
       r::exists_with_different_user_data_32},
      {"exists_with_different_ledger",
       none,
       {changed([](transfer& t) { t.ledger = 2; })},
       0,
       r::exists_with_different_ledger},
      {"exists_with_different_code",
       none,
       {changed([](transfer& t) { t.code = 2; })},
       0,
       r::exists_with_different_code},
      {"exists", none, {t104}, 0, r::exists},
      {"id_already_failed", none, {tr(300, 1, 999, 10), tr(300, 1, 999, 10)}, 1, r::id_already_failed},
      {"flags_are_mutually_exclusive (pending+post)",
       none,
       {with_flags(post(300, 100), transfer_flags::pending)},
       0,
       r::flags_are_mutually_exclusive},
      {"flags_are_mutually_exclusive (balancing+void)",
       none,
       {with_flags(void_(300, 100), transfer_flags::balancing_credit)},
       0,
       r::flags_are_mutually_exclusive},
      {"debit_account_id_must_not_be_zero", none, {tr(300, 0, 2, 10)}, 0, r::debit_account_id_must_not_be_zero},
      {"debit_account_id_must_not_be_int_max",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.debit_account_id = account_id{u128::max()};
       })},
       0,
       r::debit_account_id_must_not_be_int_max},
      {"credit_account_id_must_not_be_zero", none, {tr(300, 1, 0, 10)}, 0, r::credit_account_id_must_not_be_zero},
      {"credit_account_id_must_not_be_int_max",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.credit_account_id = account_id{u128::max()};
       })},
       0,
       r::credit_account_id_must_not_be_int_max},
      {"accounts_must_be_different", none, {tr(300, 1, 1, 10)}, 0, r::accounts_must_be_different},
      {"pending_id_must_be_zero",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.pending_id = tid(100);
       })},
       0,
       r::pending_id_must_be_zero},
      {"pending_id_must_not_be_zero", none, {post(300, 0)}, 0, r::pending_id_must_not_be_zero},
      {"pending_id_must_not_be_int_max",
       none,
       {[] {
         transfer t = post(300, 0);
         t.pending_id = transfer_id{u128::max()};
         return t;
       }()},
       0,
       r::pending_id_must_not_be_int_max},
      {"pending_id_must_be_different", none, {post(300, 300)}, 0, r::pending_id_must_be_different},
      {"timeout_reserved_for_pending_transfer",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.timeout = 1;
       })},
       0,
       r::timeout_reserved_for_pending_transfer},
      {"amount_must_not_be_zero", none, {tr(300, 1, 2, 0)}, 0, r::amount_must_not_be_zero},
      {"ledger_must_not_be_zero",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.ledger = 0;
       })},
       0,
       r::ledger_must_not_be_zero},
      {"code_must_not_be_zero",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.code = 0;
       })},
       0,
       r::code_must_not_be_zero},
      {"debit_account_not_found", none, {tr(300, 999, 2, 10)}, 0, r::debit_account_not_found},
      {"credit_account_not_found", none, {tr(300, 1, 999, 10)}, 0, r::credit_account_not_found},
      {"accounts_must_have_the_same_ledger", none, {tr(300, 1, 3, 10)}, 0, r::accounts_must_have_the_same_ledger},
      {"transfer_must_have_the_same_ledger_as_accounts",
       none,
       {changed([](transfer& t) {
         t.id = tid(300);
         t.ledger = 2;
       })},
       0,
       r::transfer_must_have_the_same_ledger_as_accounts},
      {"pending_transfer_not_found", none, {post(300, 999)}, 0, r::pending_transfer_not_found},
      {"pending_transfer_not_pending", none, {post(300, 104)}, 0, r::pending_transfer_not_pending},
      {"pending_transfer_has_different_debit_account_id",
       none,
       {[] {
         transfer t = post(300, 100);
         t.debit_account_id = aid(2);
         return t;
       }()},
       0,
       r::pending_transfer_has_different_debit_account_id},
      {"pending_transfer_has_different_credit_account_id",
       none,
       {[] {
         transfer t = post(300, 100);
         t.credit_account_id = aid(1);
         return t;
       }()},
       0,
       r::pending_transfer_has_different_credit_account_id},
      {"pending_transfer_has_different_ledger",
       none,
       {[] {
         transfer t = void_(300, 100);
         t.ledger = 2;
         return t;
       }()},
       0,
       r::pending_transfer_has_different_ledger},
      {"pending_transfer_has_different_code",
       none,
       {[] {
         transfer t = post(300, 100);
         t.code = 2;
         return t;
       }()},
       0,
       r::pending_transfer_has_different_code},
      {"exceeds_pending_transfer_amount", none, {post(300, 100, 101)}, 0, r::exceeds_pending_transfer_amount},
      {"pending_transfer_has_different_amount",
       none,
       {void_(300, 100, 99)},
       0,
       r::pending_transfer_has_different_amount},
      {"pending_transfer_already_posted", none, {post(300, 101)}, 0, r::pending_transfer_already_posted},
      {"pending_transfer_already_voided", none, {void_(300, 102)}, 0, r::pending_transfer_already_voided},
      {"pending_transfer_expired (released)", none, {post(300, 103)}, 0, r::pending_transfer_expired},
      {"pending_transfer_expired (due, not yet released)",
       [](fixture& f) { f.now += 10 * sec; },
       {post(300, 105)},
       0,
       r::pending_transfer_expired},
      {"debit_account_already_closed", none, {tr(300, 6, 1, 10)}, 0, r::debit_account_already_closed},
      {"credit_account_already_closed", none, {tr(300, 1, 6, 10)}, 0, r::credit_account_already_closed},
      {"debit_account_already_closed (post)",
       closed_with_pending,
       {post(300, 410)},
       0,
       r::debit_account_already_closed},
      {"credit_account_already_closed (post)",
       closed_with_pending,
       {post(300, 411)},
       0,
       r::credit_account_already_closed},
      {"overflows_debits_pending", big_pending_8_to_9, {pend(300, 8, 1, 1)}, 0, r::overflows_debits_pending},
      {"overflows_credits_pending", big_pending_8_to_9, {pend(300, 1, 9, 1)}, 0, r::overflows_credits_pending},
      {"overflows_debits_posted", big_posted_8_to_9, {tr(300, 8, 1, 1)}, 0, r::overflows_debits_posted},
      {"overflows_credits_posted", big_posted_8_to_9, {tr(300, 1, 9, 1)}, 0, r::overflows_credits_posted},
      {"overflows_debits_posted (amount past 2^63)",
       none,
       {tr(300, 1, 2, max_amount + 1)},
       0,
       r::overflows_debits_posted},
      {"overflows_debits_pending (amount 2^64-1)", none, {pend(300, 1, 2, UINT64_MAX)}, 0, r::overflows_debits_pending},
      {"overflows_debits", big_pending_8_to_9, {tr(300, 8, 1, 1)}, 0, r::overflows_debits},
      {"overflows_credits", big_pending_8_to_9, {tr(300, 1, 9, 1)}, 0, r::overflows_credits},
      {"overflows_timeout",
       [](fixture& f) { f.now = max_amount - sec; },
       {pend(300, 1, 2, 1, 2)},
       0,
       r::overflows_timeout},
      {"exceeds_credits", none, {tr(300, 4, 1, 1)}, 0, r::exceeds_credits},
      {"exceeds_credits (balancing, nothing to move)",
       none,
       {tr(300, 4, 1, 1, transfer_flags::balancing_debit)},
       0,
       r::exceeds_credits},
      {"exceeds_debits", none, {tr(300, 1, 5, 1)}, 0, r::exceeds_debits},
      {"exceeds_debits (balancing, nothing to move)",
       none,
       {tr(300, 1, 5, 1, transfer_flags::balancing_credit)},
       0,
       r::exceeds_debits},
  };
  std::set<r> reached;
  for (const row& x : rows) {
    CAPTURE(x.name);
    fixture f;
    standard_world(f);
    x.setup(f);
    const auto results = f.transfers(x.batch);
    REQUIRE(results.size() == x.batch.size());
    CHECK(result_name(results.at(x.index)) == result_name(x.expected));
    if (results.at(x.index) == x.expected)
      reached.insert(x.expected);
  }
  for (uint16_t i = 0; i <= create_transfer_result_max; ++i) {
    CAPTURE(result_name(static_cast<r>(i)));
    CHECK(reached.count(static_cast<r>(i)) == 1);
  }
}

TEST_CASE("every create_account_result is reached (table)") {
  using r = create_account_result;
  account a1 = acc(1);
  a1.user_data_128 = u128{3, 4};
  a1.user_data_64 = 64;
  a1.user_data_32 = 32;
  auto changed = [&](std::function<void(account&)> change) {
    account a = a1;
    change(a);
    return a;
  };
  auto fresh = [&](std::function<void(account&)> change) {
    account a = acc(50);
    change(a);
    return a;
  };
  struct row {
    const char* name;
    std::vector<account> batch;
    size_t index;
    r expected;
  };
  const std::vector<row> rows = {
      {"ok", {acc(50)}, 0, r::ok},
      {"linked_event_failed", {acc(50, 1, account_flags::linked), acc(0)}, 0, r::linked_event_failed},
      {"linked_event_chain_open", {acc(50, 1, account_flags::linked)}, 0, r::linked_event_chain_open},
      {"timestamp_must_be_zero", {fresh([](account& a) { a.timestamp = 5; })}, 0, r::timestamp_must_be_zero},
      {"reserved_flag", {acc(50, 1, 1u << 4)}, 0, r::reserved_flag},
      {"reserved_flag (high bit)", {acc(50, 1, 1u << 15)}, 0, r::reserved_flag},
      {"id_must_not_be_zero", {acc(0)}, 0, r::id_must_not_be_zero},
      {"id_must_not_be_int_max",
       {fresh([](account& a) { a.id = account_id{u128::max()}; })},
       0,
       r::id_must_not_be_int_max},
      {"exists_with_different_flags",
       {changed([](account& a) { a.flags = account_flags::history; })},
       0,
       r::exists_with_different_flags},
      {"exists_with_different_user_data_128",
       {changed([](account& a) { a.user_data_128 = u128{}; })},
       0,
       r::exists_with_different_user_data_128},
      {"exists_with_different_user_data_64",
       {changed([](account& a) { a.user_data_64 = 0; })},
       0,
       r::exists_with_different_user_data_64},
      {"exists_with_different_user_data_32",
       {changed([](account& a) { a.user_data_32 = 0; })},
       0,
       r::exists_with_different_user_data_32},
      {"exists_with_different_ledger", {changed([](account& a) { a.ledger = 2; })}, 0, r::exists_with_different_ledger},
      {"exists_with_different_code", {changed([](account& a) { a.code = 11; })}, 0, r::exists_with_different_code},
      {"exists", {a1}, 0, r::exists},
      {"exists (same batch)", {acc(50), acc(50)}, 1, r::exists},
      {"exists_with_different_ledger (same batch)", {acc(50), acc(50, 2)}, 1, r::exists_with_different_ledger},
      {"flags_are_mutually_exclusive",
       {acc(50, 1, account_flags::debits_must_not_exceed_credits | account_flags::credits_must_not_exceed_debits)},
       0,
       r::flags_are_mutually_exclusive},
      {"debits_pending_must_be_zero",
       {fresh([](account& a) { a.debits_pending = 1; })},
       0,
       r::debits_pending_must_be_zero},
      {"debits_posted_must_be_zero",
       {fresh([](account& a) { a.debits_posted = 1; })},
       0,
       r::debits_posted_must_be_zero},
      {"credits_pending_must_be_zero",
       {fresh([](account& a) { a.credits_pending = 1; })},
       0,
       r::credits_pending_must_be_zero},
      {"credits_posted_must_be_zero",
       {fresh([](account& a) { a.credits_posted = 1; })},
       0,
       r::credits_posted_must_be_zero},
      {"ledger_must_not_be_zero", {acc(50, 0)}, 0, r::ledger_must_not_be_zero},
      {"code_must_not_be_zero", {fresh([](account& a) { a.code = 0; })}, 0, r::code_must_not_be_zero},
  };
  std::set<r> reached;
  for (const row& x : rows) {
    CAPTURE(x.name);
    fixture f;
    REQUIRE(f.accounts({a1}).at(0) == r::ok);
    const auto results = f.accounts(x.batch);
    REQUIRE(results.size() == x.batch.size());
    CHECK(result_name(results.at(x.index)) == result_name(x.expected));
    if (results.at(x.index) == x.expected)
      reached.insert(x.expected);
  }
  for (uint16_t i = 0; i <= create_account_result_max; ++i) {
    CAPTURE(result_name(static_cast<r>(i)));
    CHECK(reached.count(static_cast<r>(i)) == 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Linked chains

namespace {

struct balances {
  uint64_t dp, dpo, cp, cpo;
  friend bool operator==(const balances& a, const balances& b) {
    return a.dp == b.dp && a.dpo == b.dpo && a.cp == b.cp && a.cpo == b.cpo;
  }
};
balances bal(const fixture& f, uint64_t id) {
  const account& a = f.a(id);
  return {a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted};
}

using tr_r = create_transfer_result;
using ac_r = create_account_result;

}  // namespace

TEST_CASE("linked chain: every item succeeds together") {
  fixture f;
  standard_world(f);
  const auto results = f.transfers({tr(300, 1, 2, 10, transfer_flags::linked), pend(301, 2, 7, 5),
                                    with_flags(post(302, 100, 40), transfer_flags::linked), tr(303, 7, 1, 1)});
  CHECK(results == std::vector<tr_r>{tr_r::ok, tr_r::ok, tr_r::ok, tr_r::ok});
  CHECK(f.out.created_transfers.size() == 4);
  CHECK(f.t(100).state == pending_state::posted);
  CHECK(bal(f, 7) == balances{0, 1, 5, 0});
}

TEST_CASE("linked chain: a failure in the middle rolls the whole chain back") {
  fixture f;
  standard_world(f);
  const std::vector<uint64_t> ids = {1, 2, 4, 7};
  std::vector<balances> before;
  for (uint64_t id : ids)
    before.push_back(bal(f, id));
  const uint64_t clock = f.ws.last_timestamp;
  const uint64_t dirty_7 = f.ws.find_account(aid(7))->dirty_seq, dirty_100 = f.t(100).dirty_seq;
  REQUIRE(dirty_7 < f.seq);
  REQUIRE(f.transfer1(tr(299, 8, 9, 3)) == tr_r::ok);  // in the unit before the chain: survives
  const effects out_before = f.out;

  const auto results = f.transfers({
      with_flags(pend(300, 1, 7, 10), transfer_flags::linked),  // ok, rolled back
      with_flags(post(301, 100), transfer_flags::linked),       // ok, rolled back (100 pending again)
      tr(302, 4, 1, 1, transfer_flags::linked),                 // exceeds_credits: transient, recorded
      tr(0, 1, 2, 5, transfer_flags::linked),                   // never evaluated
      tr(304, 1, 999, 5),                                       // closes the chain; never evaluated
      tr(305, 1, 2, 5),                                         // after the chain: runs
  });
  CHECK(results == std::vector<tr_r>{tr_r::linked_event_failed, tr_r::linked_event_failed, tr_r::exceeds_credits,
                                     tr_r::linked_event_failed, tr_r::linked_event_failed, tr_r::ok});
  // Balances as before the chain, apart from 305's 5 from 1 to 2.
  CHECK(bal(f, 1) == balances{before[0].dp, before[0].dpo + 5, before[0].cp, before[0].cpo});
  CHECK(bal(f, 2) == balances{before[1].dp, before[1].dpo, before[1].cp, before[1].cpo + 5});
  CHECK(bal(f, 4) == before[2]);
  CHECK(bal(f, 7) == before[3]);
  CHECK(f.t(100).state == pending_state::pending);
  CHECK(f.t(100).dirty_seq == dirty_100);  // as before, down to the dirty marks
  CHECK(f.ws.find_account(aid(7))->dirty_seq == dirty_7);
  CHECK(f.ws.find_account(aid(7))->version == f.a(7).timestamp);
  CHECK(f.ws.find_transfer(tid(300)) == nullptr);
  CHECK(f.ws.find_transfer(tid(301)) == nullptr);
  REQUIRE(f.ws.find_failed(tid(302)) != nullptr);
  CHECK(*f.ws.find_failed(tid(302)) == tr_r::exceeds_credits);
  CHECK(f.ws.find_failed(tid(304)) == nullptr);  // not evaluated, not recorded
  // Effects: what was there, then 302's failure, then 305.
  CHECK(f.out.created_accounts == out_before.created_accounts);
  REQUIRE(f.out.created_transfers.size() == out_before.created_transfers.size() + 1);
  CHECK(f.out.created_transfers.back().id == tid(305));
  CHECK(f.out.created_transfers.back().timestamp == clock + 2);  // 299 took clock + 1; the chain none
  REQUIRE(f.out.failed_transfers.size() == 1);
  CHECK(f.out.failed_transfers[0].id == tid(302));
  CHECK(f.out.failed_transfers[0].result == tr_r::exceeds_credits);
  CHECK(f.out.pending_updates.empty());
  CHECK(f.out.history.empty());  // account 7 changed only inside the chain
  // Accounts touched only by the failed chain (4, 7) get no update; 1, 2 (305) and 8, 9 (299) do.
  const effects done = f.seal();
  std::vector<account_id> updated;
  for (const account_update& u : done.account_updates)
    updated.push_back(u.id);
  CHECK(updated == std::vector<account_id>{aid(1), aid(2), aid(8), aid(9)});
}

TEST_CASE("linked chain: the batch's last item open answers linked_event_chain_open") {
  fixture f;
  standard_world(f);
  SUBCASE("the chain succeeded so far") {
    const auto results = f.transfers(
        {tr(300, 1, 2, 1), tr(301, 1, 2, 1, transfer_flags::linked), tr(302, 1, 2, 1, transfer_flags::linked)});
    CHECK(results == std::vector<tr_r>{tr_r::ok, tr_r::linked_event_failed, tr_r::linked_event_chain_open});
    CHECK(f.ws.find_transfer(tid(300)) != nullptr);
    CHECK(f.ws.find_transfer(tid(301)) == nullptr);
    CHECK(f.ws.find_transfer(tid(302)) == nullptr);
  }
  SUBCASE("the chain had already failed") {
    const auto results =
        f.transfers({tr(300, 1, 999, 1, transfer_flags::linked), tr(301, 1, 2, 1, transfer_flags::linked),
                     tr(302, 1, 2, 1, transfer_flags::linked)});
    CHECK(results ==
          std::vector<tr_r>{tr_r::credit_account_not_found, tr_r::linked_event_failed, tr_r::linked_event_chain_open});
    CHECK(f.ws.find_failed(tid(300)) != nullptr);
  }
  SUBCASE("a batch of one open item") {
    CHECK(f.transfers({tr(300, 1, 2, 1, transfer_flags::linked)}) == std::vector<tr_r>{tr_r::linked_event_chain_open});
    CHECK(f.out.created_transfers.empty());
  }
  CHECK(f.ws.find_transfer(tid(302)) == nullptr);
}

TEST_CASE("linked chain: exists inside a chain fails it (and is not recorded)") {
  fixture f;
  standard_world(f);
  transfer t104 = tr(104, 1, 2, 10);
  t104.user_data_128 = u128{1, 2};
  t104.user_data_64 = 64;
  t104.user_data_32 = 32;
  const auto results = f.transfers({tr(300, 1, 2, 1, transfer_flags::linked), t104});
  CHECK(results == std::vector<tr_r>{tr_r::linked_event_failed, tr_r::exists});
  CHECK(f.ws.find_transfer(tid(300)) == nullptr);
  CHECK(f.out.failed_transfers.empty());
  // A repeated id inside one chain: the second sees the first, then both are undone.
  CHECK(f.transfers({tr(301, 1, 2, 1, transfer_flags::linked), tr(301, 1, 2, 1)}) ==
        std::vector<tr_r>{tr_r::linked_event_failed, tr_r::exists_with_different_flags});
  CHECK(f.ws.find_transfer(tid(301)) == nullptr);
}

TEST_CASE("linked chain: items after the failure are not evaluated, so not recorded") {
  fixture f;
  standard_world(f);
  const auto results = f.transfers({tr(300, 1, 2, 0, transfer_flags::linked), tr(301, 999, 2, 1)});
  CHECK(results == std::vector<tr_r>{tr_r::amount_must_not_be_zero, tr_r::linked_event_failed});
  CHECK(f.ws.find_failed(tid(300)) == nullptr);  // not transient
  CHECK(f.ws.find_failed(tid(301)) == nullptr);  // not evaluated
  CHECK(f.out.failed_transfers.empty());
  CHECK(f.transfer1(tr(301, 999, 2, 1)) == tr_r::debit_account_not_found);
  CHECK(f.transfer1(tr(300, 1, 2, 1)) == tr_r::ok);
}

TEST_CASE("linked chain: account chains succeed and roll back alike") {
  fixture f;
  const uint64_t clock = f.ws.last_timestamp;
  CHECK(f.accounts({acc(50, 1, account_flags::linked), acc(51, 1, account_flags::linked), acc(50)}) ==
        std::vector<ac_r>{ac_r::linked_event_failed, ac_r::linked_event_failed, ac_r::exists_with_different_flags});
  CHECK(f.ws.find_account(aid(50)) == nullptr);
  CHECK(f.ws.find_account(aid(51)) == nullptr);
  CHECK(f.out.created_accounts.empty());
  CHECK(f.ws.last_timestamp == clock);
  CHECK(f.accounts({acc(50, 1, account_flags::linked), acc(51), acc(52, 1, account_flags::linked)}) ==
        std::vector<ac_r>{ac_r::ok, ac_r::ok, ac_r::linked_event_chain_open});
  REQUIRE(f.out.created_accounts.size() == 2);
  CHECK(f.out.created_accounts[0].flags == account_flags::linked);  // stored as given
  CHECK(f.a(50).flags == account_flags::linked);
  CHECK(f.accounts({acc(50, 1, account_flags::linked), acc(53)}) ==
        std::vector<ac_r>{ac_r::exists, ac_r::linked_event_failed});
  CHECK(f.ws.find_account(aid(53)) == nullptr);
}

// ---------------------------------------------------------------------------------------------------------
// Two-phase transfers

TEST_CASE("pending reserves; post with amount 0 posts the full amount, fields from the pending") {
  fixture f;
  standard_world(f);
  const balances b1 = bal(f, 1), b2 = bal(f, 2);
  transfer p = post(300, 100);
  p.user_data_64 = 77;
  REQUIRE(f.transfer1(p) == tr_r::ok);
  CHECK(bal(f, 1) == balances{b1.dp - 100, b1.dpo + 100, b1.cp, b1.cpo});
  CHECK(bal(f, 2) == balances{b2.dp, b2.dpo, b2.cp - 100, b2.cpo + 100});
  CHECK(f.t(100).state == pending_state::posted);
  REQUIRE(f.out.created_transfers.size() == 1);
  const transfer& s = f.out.created_transfers[0];
  CHECK(s.debit_account_id == aid(1));
  CHECK(s.credit_account_id == aid(2));
  CHECK(s.ledger == 1);
  CHECK(s.code == 1);
  CHECK(s.amount == 100);
  CHECK(s.pending_id == tid(100));
  CHECK(s.user_data_64 == 77);
  CHECK(s.flags == transfer_flags::post_pending_transfer);
  CHECK(s.timestamp == f.ws.last_timestamp);
  CHECK(f.t(300).value == s);
  CHECK(f.t(300).state == pending_state::none);
  REQUIRE(f.out.pending_updates.size() == 1);
  CHECK(f.out.pending_updates[0].id == tid(100));
  CHECK(f.out.pending_updates[0].state == pending_state::posted);
  CHECK(f.transfer1(void_(301, 100)) == tr_r::pending_transfer_already_posted);
}

TEST_CASE("partial post posts the amount and releases the rest") {
  fixture f;
  standard_world(f);
  const balances b1 = bal(f, 1), b2 = bal(f, 2);
  REQUIRE(f.transfer1(post(300, 100, 30)) == tr_r::ok);
  CHECK(bal(f, 1) == balances{b1.dp - 100, b1.dpo + 30, b1.cp, b1.cpo});
  CHECK(bal(f, 2) == balances{b2.dp, b2.dpo, b2.cp - 100, b2.cpo + 30});
  CHECK(f.out.created_transfers.at(0).amount == 30);
  CHECK(f.transfer1(post(301, 100, 30)) == tr_r::pending_transfer_already_posted);
}

TEST_CASE("post with the explicit full amount and matching fields") {
  fixture f;
  standard_world(f);
  transfer p = tr(300, 1, 2, 100, transfer_flags::post_pending_transfer);
  p.pending_id = tid(100);
  REQUIRE(f.transfer1(p) == tr_r::ok);
  CHECK(f.out.created_transfers.at(0).amount == 100);
  CHECK(f.t(100).state == pending_state::posted);
}

TEST_CASE("void releases the reservation and stores the pending amount") {
  fixture f;
  standard_world(f);
  const balances b1 = bal(f, 1), b2 = bal(f, 2);
  REQUIRE(f.transfer1(void_(300, 100)) == tr_r::ok);
  CHECK(bal(f, 1) == balances{b1.dp - 100, b1.dpo, b1.cp, b1.cpo});
  CHECK(bal(f, 2) == balances{b2.dp, b2.dpo, b2.cp - 100, b2.cpo});
  CHECK(f.out.created_transfers.at(0).amount == 100);
  CHECK(f.out.pending_updates.at(0).state == pending_state::voided);
  CHECK(f.transfer1(post(301, 100)) == tr_r::pending_transfer_already_voided);
  CHECK(f.transfer1(void_(302, 100, 100)) == tr_r::pending_transfer_already_voided);
}

TEST_CASE("expiry releases pending transfers when their time has come, once") {
  fixture f;
  standard_world(f);
  REQUIRE(f.transfer1(pend(300, 1, 2, 40, 2)) == tr_r::ok);
  const uint64_t created = f.t(300).value.timestamp;
  CHECK(f.t(300).expires_at == created + 2 * sec);
  const balances b1 = bal(f, 1);
  const std::vector<transfer_id> due = {tid(999), tid(100), tid(104), tid(101), tid(300), tid(105)};
  CHECK(f.sm.expire_pending(due, created + 2 * sec - 1, f.seq, f.out) == 0);  // not yet
  CHECK(f.out.pending_updates.empty());

  SUBCASE("a post after the expiry time but before the release: expired, and nothing moves") {
    f.now = created + 2 * sec;
    CHECK(f.transfer1(post(301, 300)) == tr_r::pending_transfer_expired);
    CHECK(bal(f, 1) == b1);
    CHECK(f.t(300).state == pending_state::pending);
  }
  SUBCASE("released") {
    const uint64_t clock = f.ws.last_timestamp;
    // 105 (5 s timeout, created in the standard world) is due too: one event each.
    CHECK(f.sm.expire_pending(due, created + 5 * sec, f.seq, f.out) == 2);
    CHECK(bal(f, 1) == balances{b1.dp - 40 - 70, b1.dpo, b1.cp, b1.cpo});
    CHECK(f.t(300).state == pending_state::expired);
    CHECK(f.t(105).state == pending_state::expired);
    REQUIRE(f.out.pending_updates.size() == 2);
    CHECK(f.out.pending_updates[0].id == tid(300));  // in the order asked
    CHECK(f.out.pending_updates[0].state == pending_state::expired);
    CHECK(f.ws.last_timestamp == std::max(clock + 2, created + 5 * sec + 1));
    CHECK(f.sm.expire_pending(due, created + 9 * sec, f.seq, f.out) == 0);  // once
    CHECK(f.transfer1(post(301, 300)) == tr_r::pending_transfer_expired);
    CHECK(f.transfer1(void_(302, 300)) == tr_r::pending_transfer_expired);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Balancing

TEST_CASE("balancing_debit moves at most what the debit account's credits allow") {
  fixture f;
  standard_world(f);
  REQUIRE(f.transfer1(tr(300, 1, 4, 50)) == tr_r::ok);  // 4 may now owe 50
  REQUIRE(f.transfer1(pend(301, 4, 1, 20)) == tr_r::ok);
  REQUIRE(f.transfer1(tr(302, 4, 1, 5, transfer_flags::balancing_debit)) == tr_r::ok);  // cap below room
  CHECK(f.t(302).value.amount == 5);
  REQUIRE(f.transfer1(tr(303, 4, 1, 100, transfer_flags::balancing_debit)) == tr_r::ok);
  CHECK(f.t(303).value.amount == 25);
  CHECK(f.out.created_transfers.back().amount == 25);
  CHECK(bal(f, 4) == balances{20, 30, 0, 50});
  CHECK(f.transfer1(tr(304, 4, 1, 100, transfer_flags::balancing_debit)) == tr_r::exceeds_credits);
  CHECK(f.ws.find_failed(tid(304)) != nullptr);
  // A retry: the input amount is a cap, so a cap at or above what moved is the same transfer.
  CHECK(f.transfer1(tr(303, 4, 1, 100, transfer_flags::balancing_debit)) == tr_r::exists);
  CHECK(f.transfer1(tr(303, 4, 1, 25, transfer_flags::balancing_debit)) == tr_r::exists);
  CHECK(f.transfer1(tr(303, 4, 1, 24, transfer_flags::balancing_debit)) == tr_r::exists_with_different_amount);
  // Voiding the reservation gives room again.
  REQUIRE(f.transfer1(void_(305, 301)) == tr_r::ok);
  REQUIRE(f.transfer1(with_flags(pend(306, 4, 1, 100), transfer_flags::balancing_debit)) == tr_r::ok);
  CHECK(f.t(306).value.amount == 20);
  CHECK(bal(f, 4) == balances{20, 30, 0, 50});
}

TEST_CASE("balancing_credit moves at most what the credit account's debits allow") {
  fixture f;
  standard_world(f);
  REQUIRE(f.transfer1(tr(300, 5, 1, 40)) == tr_r::ok);
  REQUIRE(f.transfer1(tr(301, 1, 5, 100, transfer_flags::balancing_credit)) == tr_r::ok);
  CHECK(f.t(301).value.amount == 40);
  CHECK(bal(f, 5) == balances{0, 40, 0, 40});
  CHECK(f.transfer1(tr(302, 1, 5, 1, transfer_flags::balancing_credit)) == tr_r::exceeds_debits);
}

TEST_CASE("balancing applies TigerBeetle's rule on any account, and both flags take the smaller room") {
  fixture f;
  standard_world(f);
  // Account 8 has no balance flag, but balancing_debit still bounds by its credits (0 here).
  CHECK(f.transfer1(tr(300, 8, 9, 10, transfer_flags::balancing_debit)) == tr_r::exceeds_credits);
  REQUIRE(f.transfer1(tr(301, 9, 8, 30)) == tr_r::ok);     // 8 credited 30
  REQUIRE(f.transfer1(tr(302, 10, 11, 12)) == tr_r::ok);   // 10: 12 debits over 0 credits
  REQUIRE(f.transfer1(tr(303, 11, 10, 100)) == tr_r::ok);  // 10 now 100 credits, 12 debits
  // 8 -> 10: 8 may owe 30, 10 may receive... debits 12 - credits 100 = 0 -> exceeds_debits.
  CHECK(f.transfer1(tr(304, 8, 10, 100, transfer_flags::balancing_debit | transfer_flags::balancing_credit)) ==
        tr_r::exceeds_debits);
  REQUIRE(f.transfer1(tr(305, 10, 11, 200)) == tr_r::ok);  // 10: 212 debits, 100 credits: 112 room
  REQUIRE(f.transfer1(tr(306, 8, 10, 100, transfer_flags::balancing_debit | transfer_flags::balancing_credit)) ==
          tr_r::ok);
  CHECK(f.t(306).value.amount == 30);
}

// ---------------------------------------------------------------------------------------------------------
// Idempotency

TEST_CASE("a retried post or void answers exists; zero fields match the stored ones") {
  fixture f;
  standard_world(f);
  REQUIRE(f.transfer1(post(300, 100, 0)) == tr_r::ok);
  const effects before = f.out;
  const uint64_t clock = f.ws.last_timestamp;
  auto variant = [](std::function<void(transfer&)> change) {
    transfer t = post(300, 100, 0);
    change(t);
    return t;
  };
  CHECK(f.transfer1(post(300, 100, 0)) == tr_r::exists);
  CHECK(f.transfer1(post(300, 100, 100)) == tr_r::exists);
  CHECK(f.transfer1(post(300, 100, 99)) == tr_r::exists_with_different_amount);
  CHECK(f.transfer1(variant([](transfer& t) { t.debit_account_id = aid(1); })) == tr_r::exists);
  CHECK(f.transfer1(variant([](transfer& t) { t.debit_account_id = aid(2); })) ==
        tr_r::exists_with_different_debit_account_id);
  CHECK(f.transfer1(variant([](transfer& t) { t.credit_account_id = aid(2); })) == tr_r::exists);
  CHECK(f.transfer1(variant([](transfer& t) { t.credit_account_id = aid(1); })) ==
        tr_r::exists_with_different_credit_account_id);
  CHECK(f.transfer1(variant([](transfer& t) { t.ledger = 1; })) == tr_r::exists);
  CHECK(f.transfer1(variant([](transfer& t) { t.ledger = 2; })) == tr_r::exists_with_different_ledger);
  CHECK(f.transfer1(variant([](transfer& t) { t.code = 1; })) == tr_r::exists);
  CHECK(f.transfer1(variant([](transfer& t) { t.code = 3; })) == tr_r::exists_with_different_code);
  CHECK(f.transfer1(variant([](transfer& t) { t.pending_id = tid(101); })) == tr_r::exists_with_different_pending_id);
  CHECK(f.transfer1(variant([](transfer& t) { t.flags = transfer_flags::void_pending_transfer; })) ==
        tr_r::exists_with_different_flags);
  CHECK(f.transfer1(pend(100, 1, 2, 100)) == tr_r::exists);  // the pending one itself, though posted
  // Nothing of that changed anything, and no timestamp was used.
  CHECK(f.out.created_transfers == before.created_transfers);
  CHECK(f.out.failed_transfers.empty());
  CHECK(f.ws.last_timestamp == clock);
}

TEST_CASE("id_already_failed after a transient failure, not after a non-transient one") {
  fixture f;
  standard_world(f);
  CHECK(f.transfer1(tr(300, 4, 1, 10)) == tr_r::exceeds_credits);
  REQUIRE(f.out.failed_transfers.size() == 1);
  CHECK(f.out.failed_transfers[0].id == tid(300));
  CHECK(f.out.failed_transfers[0].result == tr_r::exceeds_credits);
  REQUIRE(f.transfer1(tr(301, 1, 4, 10)) == tr_r::ok);               // now it would pass,
  CHECK(f.transfer1(tr(300, 4, 1, 10)) == tr_r::id_already_failed);  // but its id failed for good
  CHECK(f.transfer1(tr(300, 1, 2, 1)) == tr_r::id_already_failed);   // whatever it carries
  CHECK(f.out.failed_transfers.size() == 1);
  // Non-transient failures leave no trace: the corrected retry succeeds.
  CHECK(f.transfer1(tr(302, 1, 2, 0)) == tr_r::amount_must_not_be_zero);
  CHECK(f.transfer1(tr(302, 1, 2, 1)) == tr_r::ok);
  CHECK(f.transfer1(post(303, 105, 71)) == tr_r::exceeds_pending_transfer_amount);
  CHECK(f.transfer1(post(303, 105, 70)) == tr_r::ok);
  // pending_transfer_not_found is transient: the pending transfer may have been unknown at the time.
  CHECK(f.transfer1(post(304, 998)) == tr_r::pending_transfer_not_found);
  CHECK(f.transfer1(post(304, 105)) == tr_r::id_already_failed);
  CHECK(f.out.failed_transfers.size() == 2);
}

// ---------------------------------------------------------------------------------------------------------
// Timestamps, history, effects

TEST_CASE("timestamps strictly increase, even when the clock goes backwards; failures use none") {
  fixture f;
  f.now = 5000;
  REQUIRE(f.accounts({acc(1), acc(2)}) == std::vector<ac_r>{ac_r::ok, ac_r::ok});
  CHECK(f.out.created_accounts[0].timestamp == 5000);
  CHECK(f.out.created_accounts[1].timestamp == 5001);
  f.now = 100;  // backwards
  REQUIRE(f.transfer1(tr(10, 1, 2, 1)) == tr_r::ok);
  CHECK(f.t(10).value.timestamp == 5002);
  CHECK(f.transfer1(tr(11, 1, 2, 0)) == tr_r::amount_must_not_be_zero);
  CHECK(f.transfer1(tr(12, 1, 999, 1)) == tr_r::credit_account_not_found);
  CHECK(f.accounts({acc(0)}).at(0) == ac_r::id_must_not_be_zero);
  CHECK(f.ws.last_timestamp == 5002);
  REQUIRE(f.transfer1(tr(13, 1, 2, 1)) == tr_r::ok);
  CHECK(f.t(13).value.timestamp == 5003);
  f.now = 9000;  // forwards again
  REQUIRE(f.transfer1(tr(14, 2, 1, 1)) == tr_r::ok);
  CHECK(f.t(14).value.timestamp == 9000);
  f.now = 9000;  // the same instant twice
  REQUIRE(f.transfers({tr(15, 2, 1, 1), tr(16, 2, 1, 1)}) == std::vector<tr_r>{tr_r::ok, tr_r::ok});
  CHECK(f.t(15).value.timestamp == 9001);
  CHECK(f.t(16).value.timestamp == 9002);
  const effects done = f.seal();
  CHECK(done.last_timestamp == 9002);
  REQUIRE(done.account_updates.size() == 2);
  CHECK(done.account_updates[0].version == 9002);  // the last event that changed the account
  CHECK(done.account_updates[1].version == 9002);
  CHECK(f.ws.find_account(aid(1))->version == 9002);
}

TEST_CASE("history rows for accounts with the history flag, one per change, with the event's timestamp") {
  fixture f;
  standard_world(f);
  REQUIRE(f.transfers({tr(300, 7, 1, 5), pend(301, 1, 7, 20, 3), pend(302, 1, 7, 30), post(303, 301, 15)}) ==
          std::vector<tr_r>(4, tr_r::ok));
  REQUIRE(f.transfers({void_(304, 302)}) == std::vector<tr_r>{tr_r::ok});
  REQUIRE(f.transfer1(pend(305, 7, 2, 4, 1)) == tr_r::ok);
  const uint64_t due = f.t(305).expires_at;
  REQUIRE(f.sm.expire_pending({tid(305)}, due, f.seq, f.out) == 1);
  // Rolled-back changes leave no history.
  REQUIRE(f.transfers({tr(306, 7, 1, 1, transfer_flags::linked), tr(307, 4, 1, 1)}) ==
          std::vector<tr_r>{tr_r::linked_event_failed, tr_r::exceeds_credits});
  const auto ts = [&](uint64_t id) { return f.t(id).value.timestamp; };
  const std::vector<history_row> want = {
      {aid(7), {ts(300), 0, 5, 0, 0}},
      {aid(7), {ts(301), 0, 5, 20, 0}},
      {aid(7), {ts(302), 0, 5, 50, 0}},
      {aid(7), {ts(303), 0, 5, 30, 15}},
      {aid(7), {ts(304), 0, 5, 0, 15}},
      {aid(7), {ts(305), 4, 5, 0, 15}},
      {aid(7), {f.ws.last_timestamp, 0, 5, 0, 15}},
  };
  REQUIRE(f.out.history.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(f.out.history[i].account == want[i].account);
    CHECK(f.out.history[i].balance == want[i].balance);
  }
}

TEST_CASE("effects of a unit: rows as stored, pending updates, one account update per touched account") {
  fixture f;
  standard_world(f);
  REQUIRE(f.accounts({acc(60), acc(61)}) == std::vector<ac_r>{ac_r::ok, ac_r::ok});
  REQUIRE(f.transfers({tr(300, 2, 1, 7), tr(301, 1, 2, 3), pend(302, 60, 2, 4), post(303, 100, 10)}) ==
          std::vector<tr_r>(4, tr_r::ok));
  CHECK(f.out.created_accounts.size() == 2);
  CHECK(f.out.created_accounts[0].timestamp != 0);
  CHECK(f.out.created_accounts[0].debits_posted == 0);
  REQUIRE(f.out.created_transfers.size() == 4);
  for (const transfer& t : f.out.created_transfers)
    CHECK(f.t(t.id.value.lo).value == t);
  CHECK(f.t(302).state == pending_state::pending);
  CHECK(f.out.pending_updates.size() == 1);  // 100 posted; a new pending transfer is a created row
  const uint64_t clock = f.ws.last_timestamp;
  const effects done = f.seal();
  // 61 was created and never changed: its created row says it all.
  REQUIRE(done.account_updates.size() == 3);
  const std::vector<uint64_t> ids = {1, 2, 60};
  for (size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(ids[i]);
    const account_update& u = done.account_updates[i];
    const account_entry* e = f.ws.find_account(aid(ids[i]));
    CHECK(u.id == aid(ids[i]));
    CHECK(u.debits_pending == e->value.debits_pending);
    CHECK(u.debits_posted == e->value.debits_posted);
    CHECK(u.credits_pending == e->value.credits_pending);
    CHECK(u.credits_posted == e->value.credits_posted);
    CHECK(u.version == e->version);
    CHECK(e->dirty_seq == f.seq - 1);  // changed in the sealed unit
  }
  CHECK(done.account_updates[0].version == clock);  // 1 changed last by 303
  CHECK(done.account_updates[2].version == f.t(302).value.timestamp);
  CHECK(done.last_timestamp == clock);
  // A unit with nothing in it.
  const effects empty = f.seal();
  CHECK(empty.empty());
  CHECK(empty.last_timestamp == clock);
}
