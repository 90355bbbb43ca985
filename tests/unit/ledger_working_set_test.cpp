// The working set's contract with the tenant actor: what a batch needs (missing_for_*), loading without
// overwriting, dirty tracking and bounded eviction.
#include <doctest/doctest.h>

#include <vector>

#include "actors/ledger/state_machine.hpp"
#include "actors/ledger/working_set.hpp"
#include "tests/support/ledger_printing.hpp"

using namespace caudal::ledger;
using caudal::account_id;
using caudal::transfer_id;
using caudal::u128;

namespace {

account_id aid(uint64_t v) {
  return account_id{u128::from_u64(v)};
}
transfer_id tid(uint64_t v) {
  return transfer_id{u128::from_u64(v)};
}
std::vector<account_id> aids(std::initializer_list<uint64_t> v) {
  std::vector<account_id> out;
  for (uint64_t x : v)
    out.push_back(aid(x));
  return out;
}
std::vector<transfer_id> tids(std::initializer_list<uint64_t> v) {
  std::vector<transfer_id> out;
  for (uint64_t x : v)
    out.push_back(tid(x));
  return out;
}

account acc(uint64_t id, uint64_t credits_posted = 0) {
  account a;
  a.id = aid(id);
  a.ledger = 1;
  a.code = 1;
  a.timestamp = 10;
  a.credits_posted = credits_posted;
  return a;
}

transfer tr(uint64_t id, uint64_t dr, uint64_t cr, uint16_t flags = 0, uint64_t pending_id = 0) {
  transfer t;
  t.id = tid(id);
  t.debit_account_id = aid(dr);
  t.credit_account_id = aid(cr);
  t.pending_id = tid(pending_id);
  t.amount = 1;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  t.timestamp = 20;
  return t;
}

}  // namespace

TEST_CASE("missing_for_accounts: absent ids once, sorted; present and impossible ids left out") {
  working_set ws;
  ws.load_account(acc(2), 10);
  std::vector<account> batch;
  for (uint64_t id : {5, 2, 3, 5, 0, 3})
    batch.push_back(acc(id));
  batch.push_back(acc(0));
  batch.back().id = account_id{u128::max()};
  std::vector<account_id> missing;
  ws.missing_for_accounts(batch, missing);
  CHECK(missing == aids({3, 5}));
}

TEST_CASE("missing_for_transfers: ids, accounts, pending transfers and their accounts") {
  working_set ws;
  ws.load_account(acc(1), 10);
  ws.load_transfer(tr(50, 7, 8, transfer_flags::pending), pending_state::pending);  // present, accounts absent
  ws.load_transfer(tr(51, 1, 9), pending_state::none);
  ws.load_failed(tid(60), create_transfer_result::exceeds_credits);
  const std::vector<transfer> batch = {
      tr(100, 1, 2),                                             // 100, account 2
      tr(100, 2, 3),                                             // duplicate id; account 3
      tr(51, 1, 9),                                              // present transfer; 9 still needed
      tr(60, 4, 1),                                              // failed counts as present; account 4
      tr(101, 0, 0, transfer_flags::post_pending_transfer, 50),  // pending present: its accounts 7, 8
      tr(102, 0, 0, transfer_flags::void_pending_transfer, 70),  // pending absent: 70 itself
      tr(103, 0, 0, transfer_flags::post_pending_transfer, 60),  // a failed id as pending: nothing
      tr(104, 1, 2, 0, 71),                                      // not post/void: pending_id unused
      tr(0, 1, 2),                                               // impossible id
  };
  std::vector<account_id> accounts;
  std::vector<transfer_id> transfers;
  ws.missing_for_transfers(batch, accounts, transfers);
  CHECK(accounts == aids({2, 3, 4, 7, 8, 9}));
  CHECK(transfers == tids({70, 100, 101, 102, 103, 104}));

  // Appending to vectors that already hold ids keeps them sets.
  std::vector<account_id> more = aids({9, 2});
  std::vector<transfer_id> more_t = tids({100});
  ws.missing_for_transfers(batch, more, more_t);
  CHECK(more == accounts);
  CHECK(more_t == transfers);
}

TEST_CASE("missing_for_expiry: absent transfers, and the absent accounts of present ones") {
  working_set ws;
  ws.load_account(acc(7), 10);
  ws.load_transfer(tr(50, 7, 8, transfer_flags::pending), pending_state::pending);
  std::vector<account_id> accounts;
  std::vector<transfer_id> transfers;
  ws.missing_for_expiry(tids({52, 50, 51, 52}), accounts, transfers);
  CHECK(accounts == aids({8}));
  CHECK(transfers == tids({51, 52}));
}

TEST_CASE("load_* never overwrites what is present") {
  working_set ws;
  ws.load_account(acc(1, 5), 11);
  ws.load_account(acc(1, 999), 99);
  CHECK(ws.find_account(aid(1))->value.credits_posted == 5);
  CHECK(ws.find_account(aid(1))->version == 11);
  CHECK(ws.find_account(aid(1))->dirty_seq == 0);

  transfer p = tr(50, 1, 2, transfer_flags::pending);
  p.timeout = 3;
  ws.load_transfer(p, pending_state::pending);
  ws.load_transfer(p, pending_state::posted);
  CHECK(ws.find_transfer(tid(50))->state == pending_state::pending);
  CHECK(ws.find_transfer(tid(50))->expires_at == 20 + 3'000'000'000ull);
  ws.load_failed(tid(60), create_transfer_result::exceeds_credits);
  ws.load_failed(tid(60), create_transfer_result::exceeds_debits);
  CHECK(*ws.find_failed(tid(60)) == create_transfer_result::exceeds_credits);
  CHECK(ws.find_failed(tid(61)) == nullptr);
  CHECK(ws.find_transfer(tid(61)) == nullptr);
  CHECK(ws.find_account(aid(2)) == nullptr);
}

TEST_CASE("evict drops clean entries only, down to the bound") {
  working_set ws;
  state_machine sm(ws);
  for (uint64_t id = 1; id <= 10; ++id)
    ws.load_account(acc(id, 100), 10);
  effects out;
  auto fresh = [](uint64_t id, uint64_t dr, uint64_t cr) {
    transfer t = tr(id, dr, cr);
    t.timestamp = 0;
    return t;
  };
  // Unit 1 changes accounts 1 and 2 and records a failure; unit 2 changes 3 and 4.
  REQUIRE(sm.create_transfers({fresh(100, 1, 2), fresh(101, 1, 99)}, 1000, 1, out) ==
          std::vector<create_transfer_result>{create_transfer_result::ok,
                                              create_transfer_result::credit_account_not_found});
  sm.seal(out);
  REQUIRE(sm.create_transfers({fresh(102, 3, 4)}, 1000, 2, out)[0] == create_transfer_result::ok);
  sm.seal(out);
  CHECK(ws.find_account(aid(1))->dirty_seq == 1);
  CHECK(ws.find_account(aid(3))->dirty_seq == 2);
  CHECK(ws.find_transfer(tid(100))->dirty_seq == 1);

  ws.evict(0);  // nothing committed: only the 6 loaded, untouched accounts go
  CHECK(ws.account_count() == 4);
  CHECK(ws.transfer_count() == 2);
  CHECK(ws.failed_count() == 1);
  for (uint64_t id : {1, 2, 3, 4})
    CHECK(ws.find_account(aid(id)) != nullptr);

  ws.mark_committed(1);
  ws.evict(1);  // unit 1 is clean now; unit 2's entries stay even past the bound
  CHECK(ws.account_count() == 2);
  CHECK(ws.find_account(aid(3)) != nullptr);
  CHECK(ws.find_account(aid(4)) != nullptr);
  CHECK(ws.transfer_count() == 1);
  CHECK(ws.find_transfer(tid(102)) != nullptr);
  CHECK(ws.failed_count() == 1);  // within the bound: kept
  ws.evict(0);
  CHECK(ws.failed_count() == 0);
  CHECK(ws.account_count() == 2);

  ws.mark_committed(0);  // never goes back
  CHECK(ws.committed_seq() == 1);
  ws.mark_committed(2);
  ws.evict(1);
  CHECK(ws.account_count() == 1);
  CHECK(ws.transfer_count() == 1);
  ws.evict(0);
  CHECK(ws.account_count() == 0);
  CHECK(ws.transfer_count() == 0);
}

TEST_CASE("clear forgets every entry and keeps the clock") {
  working_set ws;
  ws.load_account(acc(1), 10);
  ws.load_transfer(tr(50, 1, 2), pending_state::none);
  ws.load_failed(tid(60), create_transfer_result::exceeds_credits);
  ws.last_timestamp = 77;
  ws.clear();
  CHECK(ws.account_count() == 0);
  CHECK(ws.transfer_count() == 0);
  CHECK(ws.failed_count() == 0);
  CHECK(ws.last_timestamp == 77);
}
