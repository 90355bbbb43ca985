#include "actors/ledger/state_machine.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>

#include "base/limits.hpp"

namespace caudal::ledger {

namespace {

using limits::max_amount;
constexpr uint64_t ns_per_s = 1'000'000'000ull;

// True when balance + amount would pass max_amount (or wrap). `balance` may be a sum of two balances
// (each <= max_amount, so the sum itself never wraps a uint64_t).
bool overflows(uint64_t balance, uint64_t amount) {
  return balance > max_amount || amount > max_amount - balance;
}

uint64_t sub_sat(uint64_t a, uint64_t b) {
  return a > b ? a - b : 0;
}

// Grows a vector for `more` appends without giving up geometric growth across many small batches.
template <class T>
void reserve_more(std::vector<T>& v, size_t more) {
  const size_t need = v.size() + more;
  if (need > v.capacity())
    v.reserve(std::max(need, 2 * v.capacity()));
}

bool has(uint16_t flags, uint16_t flag) {
  return (flags & flag) != 0;
}

create_transfer_result exists_result(const transfer& t, const transfer& s) {
  using r = create_transfer_result;
  if (t.flags != s.flags)
    return r::exists_with_different_flags;
  if (t.pending_id != s.pending_id)
    return r::exists_with_different_pending_id;
  if (t.timeout != s.timeout)
    return r::exists_with_different_timeout;
  // Post/void may leave these at zero: they were taken from the pending transfer.
  const bool resolved = has(t.flags, transfer_flags::post_pending_transfer | transfer_flags::void_pending_transfer);
  if (!(resolved && t.debit_account_id.value.is_zero()) && t.debit_account_id != s.debit_account_id)
    return r::exists_with_different_debit_account_id;
  if (!(resolved && t.credit_account_id.value.is_zero()) && t.credit_account_id != s.credit_account_id)
    return r::exists_with_different_credit_account_id;
  if (resolved) {
    if (t.amount != 0 && t.amount != s.amount)
      return r::exists_with_different_amount;
  } else if (has(t.flags, transfer_flags::balancing_debit | transfer_flags::balancing_credit)) {
    if (s.amount > t.amount)  // the input amount is a cap; the stored one is what moved
      return r::exists_with_different_amount;
  } else if (t.amount != s.amount) {
    return r::exists_with_different_amount;
  }
  if (t.user_data_128 != s.user_data_128)
    return r::exists_with_different_user_data_128;
  if (t.user_data_64 != s.user_data_64)
    return r::exists_with_different_user_data_64;
  if (t.user_data_32 != s.user_data_32)
    return r::exists_with_different_user_data_32;
  if (!(resolved && t.ledger == 0) && t.ledger != s.ledger)
    return r::exists_with_different_ledger;
  if (!(resolved && t.code == 0) && t.code != s.code)
    return r::exists_with_different_code;
  return r::exists;
}

create_account_result exists_result(const account& a, const account& s) {
  using r = create_account_result;
  if (a.flags != s.flags)
    return r::exists_with_different_flags;
  if (a.user_data_128 != s.user_data_128)
    return r::exists_with_different_user_data_128;
  if (a.user_data_64 != s.user_data_64)
    return r::exists_with_different_user_data_64;
  if (a.user_data_32 != s.user_data_32)
    return r::exists_with_different_user_data_32;
  if (a.ledger != s.ledger)
    return r::exists_with_different_ledger;
  if (a.code != s.code)
    return r::exists_with_different_code;
  return r::exists;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Linked chains

template <class Item, class Result, class CreateOne, class OnFailure>
void state_machine::run_batch(const std::vector<Item>& items, std::vector<Result>& results, effects& out,
                              CreateOne&& create_one, OnFailure&& on_failure) {
  assert(!in_chain_ && undo_.empty());
  constexpr size_t no_chain = SIZE_MAX;
  constexpr uint16_t linked_flag = 1u;  // account_flags::linked == transfer_flags::linked
  static_assert(account_flags::linked == linked_flag && transfer_flags::linked == linked_flag);
  results.assign(items.size(), Result::ok);
  size_t chain_start = no_chain;
  bool chain_broken = false;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    const bool linked = has(item.flags, linked_flag);
    if (linked && chain_start == no_chain) {
      chain_start = i;
      assert(!chain_broken);
      begin_chain(out);
    }
    Result r;
    if (linked && i + 1 == items.size())
      r = Result::linked_event_chain_open;
    else if (chain_broken)
      r = Result::linked_event_failed;
    else
      r = create_one(item);
    if (r != Result::ok) {
      if (chain_start != no_chain && !chain_broken) {
        chain_broken = true;
        rollback_chain(out);
        std::fill(results.begin() + static_cast<std::ptrdiff_t>(chain_start),
                  results.begin() + static_cast<std::ptrdiff_t>(i), Result::linked_event_failed);
      }
      results[i] = r;
      on_failure(item, r);  // after the rollback, so what it records survives the chain
    }
    if (chain_start != no_chain && (!linked || r == Result::linked_event_chain_open)) {
      if (!chain_broken)
        commit_chain();
      chain_start = no_chain;
      chain_broken = false;
    }
  }
  assert(chain_start == no_chain && !in_chain_);
}

void state_machine::begin_chain(const effects& out) {
  assert(!in_chain_ && undo_.empty());
  in_chain_ = true;
  mark_.created_accounts = out.created_accounts.size();
  mark_.created_transfers = out.created_transfers.size();
  mark_.failed_transfers = out.failed_transfers.size();
  mark_.pending_updates = out.pending_updates.size();
  mark_.history = out.history.size();
  mark_.last_timestamp = ws_.last_timestamp;
}

void state_machine::commit_chain() {
  assert(in_chain_);
  in_chain_ = false;
  undo_.clear();
}

void state_machine::rollback_chain(effects& out) {
  assert(in_chain_);
  using k = undo_entry::kind;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->what) {
      case k::account_inserted:
        ws_.erase_account(account_id{it->id});
        break;
      case k::account_changed: {
        account_entry* e = ws_.find_account(account_id{it->id});
        assert(e != nullptr);
        e->value.debits_pending = it->debits_pending;
        e->value.debits_posted = it->debits_posted;
        e->value.credits_pending = it->credits_pending;
        e->value.credits_posted = it->credits_posted;
        e->version = it->version;
        e->dirty_seq = it->dirty_seq;
        break;
      }
      case k::transfer_inserted:
        ws_.erase_transfer(transfer_id{it->id});
        break;
      case k::state_changed: {
        transfer_entry* e = ws_.find_transfer(transfer_id{it->id});
        assert(e != nullptr);
        e->state = it->state;
        e->dirty_seq = it->dirty_seq;
        break;
      }
      case k::touched:
        touched_.erase(account_id{it->id});
        break;
    }
  }
  undo_.clear();
  // Within a chain the effects only grow, so their sizes at the chain's start restore them.
  assert(out.created_accounts.size() >= mark_.created_accounts && out.history.size() >= mark_.history);
  out.created_accounts.resize(mark_.created_accounts);
  out.created_transfers.resize(mark_.created_transfers);
  out.failed_transfers.resize(mark_.failed_transfers);
  out.pending_updates.resize(mark_.pending_updates);
  out.history.resize(mark_.history);
  ws_.last_timestamp = mark_.last_timestamp;
  in_chain_ = false;
}

// ---------------------------------------------------------------------------------------------------------
// Shared steps

uint64_t state_machine::next_timestamp(uint64_t now_ns) const {
  return std::max(now_ns, ws_.last_timestamp + 1);
}

void state_machine::advance_clock(uint64_t ts) {
  assert(ts > ws_.last_timestamp);
  ws_.last_timestamp = ts;
}

void state_machine::before_change(const account_entry& e) {
  if (!in_chain_)
    return;
  undo_entry u;
  u.what = undo_entry::kind::account_changed;
  u.id = e.value.id.value;
  u.debits_pending = e.value.debits_pending;
  u.debits_posted = e.value.debits_posted;
  u.credits_pending = e.value.credits_pending;
  u.credits_posted = e.value.credits_posted;
  u.version = e.version;
  u.dirty_seq = e.dirty_seq;
  undo_.push_back(u);
}

void state_machine::after_change(account_entry& e, uint64_t ts, uint64_t seq, effects& out) {
  const account& a = e.value;
  assert(a.debits_pending <= max_amount && a.debits_posted <= max_amount && a.credits_pending <= max_amount &&
         a.credits_posted <= max_amount);
  assert(ts >= e.version);
  e.version = ts;
  e.dirty_seq = seq;
  if (touched_.insert(a.id).second && in_chain_) {
    undo_entry u;
    u.what = undo_entry::kind::touched;
    u.id = a.id.value;
    undo_.push_back(u);
  }
  if (has(a.flags, account_flags::history))
    out.history.push_back(
        history_row{a.id, account_balance{ts, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted}});
}

void state_machine::set_state(transfer_entry& e, pending_state state, uint64_t seq, effects& out) {
  assert(e.state == pending_state::pending);
  assert(state == pending_state::posted || state == pending_state::voided || state == pending_state::expired);
  if (in_chain_) {
    undo_entry u;
    u.what = undo_entry::kind::state_changed;
    u.id = e.value.id.value;
    u.state = e.state;
    u.dirty_seq = e.dirty_seq;
    undo_.push_back(u);
  }
  e.state = state;
  e.dirty_seq = seq;
  out.pending_updates.push_back(pending_update{e.value.id, state});
}

void state_machine::record_failed(transfer_id id, create_transfer_result r, uint64_t seq, effects& out) {
  assert(is_transient(r));
  assert(!in_chain_);  // recorded after a chain's rollback, so the record survives it
  ws_.insert_failed(id, r, seq);
  out.failed_transfers.push_back(failed_transfer{id, r});
}

// ---------------------------------------------------------------------------------------------------------
// Accounts

std::vector<create_account_result> state_machine::create_accounts(const std::vector<account>& items, uint64_t now_ns,
                                                                  uint64_t seq, effects& out) {
  assert(seq > ws_.committed_seq());
  std::vector<create_account_result> results;
  reserve_more(out.created_accounts, items.size());
  run_batch(
      items, results, out, [&](const account& a) { return create_account(a, now_ns, seq, out); },
      [](const account&, create_account_result) {});
  assert(results.size() == items.size());
  return results;
}

create_account_result state_machine::create_account(const account& a, uint64_t now_ns, uint64_t seq, effects& out) {
  using r = create_account_result;
  if (a.timestamp != 0)
    return r::timestamp_must_be_zero;
  if ((a.flags & ~account_flags::all) != 0)
    return r::reserved_flag;
  if (a.id.value.is_zero())
    return r::id_must_not_be_zero;
  if (a.id.value.is_max())
    return r::id_must_not_be_int_max;
  if (const account_entry* e = ws_.find_account(a.id))
    return exists_result(a, e->value);
  if (has(a.flags, account_flags::debits_must_not_exceed_credits) &&
      has(a.flags, account_flags::credits_must_not_exceed_debits))
    return r::flags_are_mutually_exclusive;
  if (a.debits_pending != 0)
    return r::debits_pending_must_be_zero;
  if (a.debits_posted != 0)
    return r::debits_posted_must_be_zero;
  if (a.credits_pending != 0)
    return r::credits_pending_must_be_zero;
  if (a.credits_posted != 0)
    return r::credits_posted_must_be_zero;
  if (a.ledger == 0)
    return r::ledger_must_not_be_zero;
  if (a.code == 0)
    return r::code_must_not_be_zero;

  const uint64_t ts = next_timestamp(now_ns);
  advance_clock(ts);
  account stored = a;
  stored.timestamp = ts;
  ws_.insert_account(stored, seq);
  if (in_chain_) {
    undo_entry u;
    u.what = undo_entry::kind::account_inserted;
    u.id = a.id.value;
    undo_.push_back(u);
  }
  out.created_accounts.push_back(stored);
  return r::ok;
}

// ---------------------------------------------------------------------------------------------------------
// Transfers

std::vector<create_transfer_result> state_machine::create_transfers(const std::vector<transfer>& items, uint64_t now_ns,
                                                                    uint64_t seq, effects& out) {
  assert(seq > ws_.committed_seq());
  std::vector<create_transfer_result> results;
  reserve_more(out.created_transfers, items.size());
  run_batch(
      items, results, out, [&](const transfer& t) { return create_transfer(t, now_ns, seq, out); },
      [&](const transfer& t, create_transfer_result r) {
        if (is_transient(r))
          record_failed(t.id, r, seq, out);
      });
  assert(results.size() == items.size());
  return results;
}

create_transfer_result state_machine::create_transfer(const transfer& t, uint64_t now_ns, uint64_t seq, effects& out) {
  using r = create_transfer_result;
  if (t.timestamp != 0)
    return r::timestamp_must_be_zero;
  if ((t.flags & ~transfer_flags::all) != 0)
    return r::reserved_flag;
  if (t.id.value.is_zero())
    return r::id_must_not_be_zero;
  if (t.id.value.is_max())
    return r::id_must_not_be_int_max;
  if (const transfer_entry* e = ws_.find_transfer(t.id))
    return exists_result(t, e->value);
  if (ws_.find_failed(t.id) != nullptr)
    return r::id_already_failed;

  const bool pending = has(t.flags, transfer_flags::pending);
  const bool post = has(t.flags, transfer_flags::post_pending_transfer);
  const bool void_ = has(t.flags, transfer_flags::void_pending_transfer);
  const bool balancing = has(t.flags, transfer_flags::balancing_debit | transfer_flags::balancing_credit);
  if (int{pending} + int{post} + int{void_} > 1 || (balancing && (post || void_)))
    return r::flags_are_mutually_exclusive;

  const uint64_t ts = next_timestamp(now_ns);
  return post || void_ ? post_or_void(t, ts, seq, out) : single_or_pending(t, ts, seq, out);
}

create_transfer_result state_machine::post_or_void(const transfer& t, uint64_t ts, uint64_t seq, effects& out) {
  using r = create_transfer_result;
  const bool post = has(t.flags, transfer_flags::post_pending_transfer);
  // Debit, credit, amount, ledger and code may be zero: they are taken from the pending transfer.
  if (t.debit_account_id.value.is_max())
    return r::debit_account_id_must_not_be_int_max;
  if (t.credit_account_id.value.is_max())
    return r::credit_account_id_must_not_be_int_max;
  if (t.pending_id.value.is_zero())
    return r::pending_id_must_not_be_zero;
  if (t.pending_id.value.is_max())
    return r::pending_id_must_not_be_int_max;
  if (t.pending_id == t.id)
    return r::pending_id_must_be_different;
  if (t.timeout != 0)
    return r::timeout_reserved_for_pending_transfer;

  transfer_entry* p = ws_.find_transfer(t.pending_id);
  if (p == nullptr)
    return r::pending_transfer_not_found;
  const transfer& pt = p->value;
  if (!has(pt.flags, transfer_flags::pending))
    return r::pending_transfer_not_pending;
  if (!t.debit_account_id.value.is_zero() && t.debit_account_id != pt.debit_account_id)
    return r::pending_transfer_has_different_debit_account_id;
  if (!t.credit_account_id.value.is_zero() && t.credit_account_id != pt.credit_account_id)
    return r::pending_transfer_has_different_credit_account_id;
  if (t.ledger != 0 && t.ledger != pt.ledger)
    return r::pending_transfer_has_different_ledger;
  if (t.code != 0 && t.code != pt.code)
    return r::pending_transfer_has_different_code;
  if (post && t.amount > pt.amount)
    return r::exceeds_pending_transfer_amount;
  if (!post && t.amount != 0 && t.amount != pt.amount)
    return r::pending_transfer_has_different_amount;
  switch (p->state) {
    case pending_state::posted:
      return r::pending_transfer_already_posted;
    case pending_state::voided:
      return r::pending_transfer_already_voided;
    case pending_state::expired:
      return r::pending_transfer_expired;
    case pending_state::pending:
      break;
    case pending_state::none:
      assert(false && "a pending transfer without a pending state");
      return r::pending_transfer_not_pending;
  }
  // Due but not yet released by expire_pending: too late all the same.
  if (p->expires_at != 0 && ts >= p->expires_at)
    return r::pending_transfer_expired;

  // The tenant actor loads a pending transfer's accounts with it (missing_for_transfers).
  account_entry* dr = ws_.find_account(pt.debit_account_id);
  account_entry* cr = ws_.find_account(pt.credit_account_id);
  assert(dr != nullptr && cr != nullptr);
  if (dr == nullptr)
    return r::debit_account_not_found;
  if (cr == nullptr)
    return r::credit_account_not_found;
  const uint64_t amount = post ? (t.amount == 0 ? pt.amount : t.amount) : pt.amount;
  if (post) {
    if (has(dr->value.flags, account_flags::closed))
      return r::debit_account_already_closed;
    if (has(cr->value.flags, account_flags::closed))
      return r::credit_account_already_closed;
    if (overflows(dr->value.debits_posted, amount))
      return r::overflows_debits_posted;
    if (overflows(cr->value.credits_posted, amount))
      return r::overflows_credits_posted;
  }

  // Apply: release the reservation, post what was asked for, close the pending transfer.
  assert(dr->value.debits_pending >= pt.amount && cr->value.credits_pending >= pt.amount);
  advance_clock(ts);
  before_change(*dr);
  dr->value.debits_pending -= pt.amount;
  if (post)
    dr->value.debits_posted += amount;
  after_change(*dr, ts, seq, out);
  before_change(*cr);
  cr->value.credits_pending -= pt.amount;
  if (post)
    cr->value.credits_posted += amount;
  after_change(*cr, ts, seq, out);
  set_state(*p, post ? pending_state::posted : pending_state::voided, seq, out);

  transfer stored = t;
  stored.debit_account_id = pt.debit_account_id;
  stored.credit_account_id = pt.credit_account_id;
  stored.ledger = pt.ledger;
  stored.code = pt.code;
  stored.amount = amount;
  stored.timestamp = ts;
  ws_.insert_transfer(transfer_entry{stored, pending_state::none, 0, seq});
  if (in_chain_) {
    undo_entry u;
    u.what = undo_entry::kind::transfer_inserted;
    u.id = t.id.value;
    undo_.push_back(u);
  }
  out.created_transfers.push_back(stored);
  return r::ok;
}

create_transfer_result state_machine::single_or_pending(const transfer& t, uint64_t ts, uint64_t seq, effects& out) {
  using r = create_transfer_result;
  const bool pending = has(t.flags, transfer_flags::pending);
  if (t.debit_account_id.value.is_zero())
    return r::debit_account_id_must_not_be_zero;
  if (t.debit_account_id.value.is_max())
    return r::debit_account_id_must_not_be_int_max;
  if (t.credit_account_id.value.is_zero())
    return r::credit_account_id_must_not_be_zero;
  if (t.credit_account_id.value.is_max())
    return r::credit_account_id_must_not_be_int_max;
  if (t.debit_account_id == t.credit_account_id)
    return r::accounts_must_be_different;
  if (!t.pending_id.value.is_zero())
    return r::pending_id_must_be_zero;
  if (!pending && t.timeout != 0)
    return r::timeout_reserved_for_pending_transfer;
  if (t.amount == 0)
    return r::amount_must_not_be_zero;
  if (t.ledger == 0)
    return r::ledger_must_not_be_zero;
  if (t.code == 0)
    return r::code_must_not_be_zero;
  account_entry* dr = ws_.find_account(t.debit_account_id);
  if (dr == nullptr)
    return r::debit_account_not_found;
  account_entry* cr = ws_.find_account(t.credit_account_id);
  if (cr == nullptr)
    return r::credit_account_not_found;
  const account& d = dr->value;
  const account& c = cr->value;
  if (d.ledger != c.ledger)
    return r::accounts_must_have_the_same_ledger;
  if (t.ledger != d.ledger)
    return r::transfer_must_have_the_same_ledger_as_accounts;
  if (has(d.flags, account_flags::closed))
    return r::debit_account_already_closed;
  if (has(c.flags, account_flags::closed))
    return r::credit_account_already_closed;

  // Balancing: move at most what keeps the account within its credits (debits), as TigerBeetle does.
  // Balances are <= 2^63 - 1 each, so a sum of two never wraps a uint64_t.
  uint64_t amount = t.amount;
  if (has(t.flags, transfer_flags::balancing_debit)) {
    amount = std::min(amount, sub_sat(d.credits_posted, d.debits_posted + d.debits_pending));
    if (amount == 0)
      return r::exceeds_credits;
  }
  if (has(t.flags, transfer_flags::balancing_credit)) {
    amount = std::min(amount, sub_sat(c.debits_posted, c.credits_posted + c.credits_pending));
    if (amount == 0)
      return r::exceeds_debits;
  }
  if (pending) {
    if (overflows(d.debits_pending, amount))
      return r::overflows_debits_pending;
    if (overflows(c.credits_pending, amount))
      return r::overflows_credits_pending;
  }
  if (overflows(d.debits_posted, amount))
    return r::overflows_debits_posted;
  if (overflows(c.credits_posted, amount))
    return r::overflows_credits_posted;
  if (overflows(d.debits_pending + d.debits_posted, amount))
    return r::overflows_debits;
  if (overflows(c.credits_pending + c.credits_posted, amount))
    return r::overflows_credits;
  if (t.timeout != 0 && (ts > max_amount || uint64_t{t.timeout} * ns_per_s > max_amount - ts))
    return r::overflows_timeout;
  // No wrap below: the overflow checks bound every sum by max_amount.
  if (has(d.flags, account_flags::debits_must_not_exceed_credits) &&
      d.debits_pending + d.debits_posted + amount > d.credits_posted)
    return r::exceeds_credits;
  if (has(c.flags, account_flags::credits_must_not_exceed_debits) &&
      c.credits_pending + c.credits_posted + amount > c.debits_posted)
    return r::exceeds_debits;

  // Apply.
  advance_clock(ts);
  before_change(*dr);
  if (pending)
    dr->value.debits_pending += amount;
  else
    dr->value.debits_posted += amount;
  after_change(*dr, ts, seq, out);
  before_change(*cr);
  if (pending)
    cr->value.credits_pending += amount;
  else
    cr->value.credits_posted += amount;
  after_change(*cr, ts, seq, out);

  transfer stored = t;
  stored.amount = amount;
  stored.timestamp = ts;
  ws_.insert_transfer(transfer_entry{stored, pending ? pending_state::pending : pending_state::none,
                                     pending ? expires_at(stored) : 0, seq});
  if (in_chain_) {
    undo_entry u;
    u.what = undo_entry::kind::transfer_inserted;
    u.id = t.id.value;
    undo_.push_back(u);
  }
  out.created_transfers.push_back(stored);
  return r::ok;
}

// ---------------------------------------------------------------------------------------------------------
// Expiry and sealing

size_t state_machine::expire_pending(const std::vector<transfer_id>& due, uint64_t now_ns, uint64_t seq, effects& out) {
  assert(!in_chain_ && undo_.empty());
  assert(seq > ws_.committed_seq());
  size_t expired = 0;
  for (transfer_id id : due) {
    transfer_entry* p = ws_.find_transfer(id);
    if (p == nullptr || p->state != pending_state::pending || p->expires_at == 0 || p->expires_at > now_ns)
      continue;
    const transfer& pt = p->value;
    account_entry* dr = ws_.find_account(pt.debit_account_id);
    account_entry* cr = ws_.find_account(pt.credit_account_id);
    assert(dr != nullptr && cr != nullptr);  // loaded with it (missing_for_expiry)
    if (dr == nullptr || cr == nullptr)
      continue;  // not released now; it stays due
    assert(dr->value.debits_pending >= pt.amount && cr->value.credits_pending >= pt.amount);
    const uint64_t ts = next_timestamp(now_ns);
    advance_clock(ts);
    dr->value.debits_pending -= pt.amount;
    after_change(*dr, ts, seq, out);
    cr->value.credits_pending -= pt.amount;
    after_change(*cr, ts, seq, out);
    set_state(*p, pending_state::expired, seq, out);
    ++expired;
  }
  return expired;
}

void state_machine::seal(effects& out) {
  assert(!in_chain_ && undo_.empty());
  const size_t first = out.account_updates.size();
  reserve_more(out.account_updates, touched_.size());
  for (account_id id : touched_) {
    // Absent only after working_set::clear() (a failed commit): nothing of that unit is kept.
    const account_entry* e = ws_.find_account(id);
    if (e == nullptr)
      continue;
    const account& a = e->value;
    out.account_updates.push_back(
        account_update{id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, e->version});
  }
  // Ascending ids: a deterministic order, and the order PostgreSQL locks the rows in.
  std::sort(out.account_updates.begin() + static_cast<std::ptrdiff_t>(first), out.account_updates.end(),
            [](const account_update& a, const account_update& b) { return a.id < b.id; });
  out.last_timestamp = ws_.last_timestamp;
  touched_.clear();
  assert(out.account_updates.size() - first <= ws_.account_count());
}

}  // namespace caudal::ledger
