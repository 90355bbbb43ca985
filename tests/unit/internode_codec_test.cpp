// The inter-node codec (schemas/internode_codec.hpp): every operation both ways, and what a bad peer sends
// (garbage, oversize batches, answers to another operation, unknown codes) refused, never trusted.
#include "schemas/internode_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include "base/limits.hpp"
#include "schemas/internode.capnp.h"

using namespace caudal;
using namespace caudal::wire;

namespace {

ledger::account an_account(uint64_t n) {
  ledger::account a;
  a.id = account_id{u128{n, n + 1}};
  a.user_data_128 = u128{n + 2, n + 3};
  a.user_data_64 = n + 4;
  a.user_data_32 = static_cast<uint32_t>(n + 5);
  a.ledger = 700;
  a.code = 10;
  a.flags = 2;
  a.credits_posted = n * 7;
  a.timestamp = n * 11;
  return a;
}

ledger::transfer a_transfer(uint64_t n) {
  ledger::transfer t;
  t.id = transfer_id{u128{n, 1}};
  t.debit_account_id = account_id{u128{n, 2}};
  t.credit_account_id = account_id{u128{n, 3}};
  t.amount = n * 100;
  t.pending_id = transfer_id{u128{n, 4}};
  t.user_data_128 = u128{n, 5};
  t.user_data_64 = n + 6;
  t.user_data_32 = 7;
  t.timeout = 8;
  t.ledger = 700;
  t.code = 9;
  t.flags = 2;
  t.timestamp = n * 13;
  return t;
}

forwarded_request base_request(forward_op op) {
  forwarded_request r;
  r.op = op;
  r.tenant = tenant_id{42};
  r.caller_tenant = tenant_id{42};
  r.caller_scopes = 0x5;
  return r;
}

std::string bytes_of(capnp::MessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  return std::string(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size());
}

}  // namespace

TEST_CASE("every forwarded request decodes to what was encoded, caller included") {
  for (auto op : {forward_op::create_accounts, forward_op::create_transfers, forward_op::lookup_accounts,
                  forward_op::lookup_transfers, forward_op::account_transfers, forward_op::account_balances}) {
    CAPTURE(forward_op_name(op));
    auto r = base_request(op);
    r.accounts = {an_account(1), an_account(20)};
    r.transfers = {a_transfer(3), a_transfer(40)};
    r.ids = {u128{1, 2}, u128{3, 4}, u128::max()};
    r.filter.account = account_id{u128{9, 9}};
    r.filter.user_data_128 = u128{8, 8};
    r.filter.user_data_64 = 7;
    r.filter.user_data_32 = 6;
    r.filter.code = 5;
    r.filter.timestamp_min = 4;
    r.filter.timestamp_max = 3;
    r.filter.limit = 2;
    r.filter.flags = 1;
    auto back = decode_request(encode(r));
    REQUIRE(back.ok());
    CHECK(back->op == op);
    CHECK(back->tenant == tenant_id{42});
    REQUIRE(back->caller_tenant.has_value());
    CHECK(*back->caller_tenant == tenant_id{42});
    CHECK(back->caller_scopes == 0x5);
    // Only the operation's own payload travels.
    CHECK(back->accounts == (op == forward_op::create_accounts ? r.accounts : std::vector<ledger::account>{}));
    CHECK(back->transfers == (op == forward_op::create_transfers ? r.transfers : std::vector<ledger::transfer>{}));
    const bool lookup = op == forward_op::lookup_accounts || op == forward_op::lookup_transfers;
    CHECK(back->ids == (lookup ? r.ids : std::vector<u128>{}));
    if (op == forward_op::account_transfers || op == forward_op::account_balances) {
      CHECK(back->filter.account == r.filter.account);
      CHECK(back->filter.user_data_128 == r.filter.user_data_128);
      CHECK(back->filter.user_data_64 == 7);
      CHECK(back->filter.user_data_32 == 6);
      CHECK(back->filter.code == 5);
      CHECK(back->filter.timestamp_min == 4);
      CHECK(back->filter.timestamp_max == 3);
      CHECK(back->filter.limit == 2);
      CHECK(back->filter.flags == 1);
    }
  }
}

TEST_CASE("an operator caller stays an operator caller") {
  auto r = base_request(forward_op::lookup_accounts);
  r.caller_tenant.reset();
  auto back = decode_request(encode(r));
  REQUIRE(back.ok());
  CHECK_FALSE(back->caller_tenant.has_value());
}

TEST_CASE("every reply decodes to what was encoded") {
  forwarded_reply r;
  r.account_results = {ledger::create_account_result::ok, ledger::create_account_result::exists};
  r.transfer_results = {ledger::create_transfer_result::ok, ledger::create_transfer_result::exceeds_credits};
  r.accounts = {an_account(5)};
  r.transfers = {a_transfer(6), a_transfer(7)};
  ledger::account_balance b;
  b.timestamp = 1;
  b.debits_pending = 2;
  b.debits_posted = 3;
  b.credits_pending = 4;
  b.credits_posted = 5;
  r.balances = {b, b};
  for (auto op : {forward_op::create_accounts, forward_op::create_transfers, forward_op::lookup_accounts,
                  forward_op::lookup_transfers, forward_op::account_transfers, forward_op::account_balances}) {
    CAPTURE(forward_op_name(op));
    r.op = op;
    auto back = decode_reply(encode(r), op);
    REQUIRE(back.ok());
    CHECK(back->error == errc::none);
    switch (op) {
      case forward_op::create_accounts: CHECK(back->account_results == r.account_results); break;
      case forward_op::create_transfers: CHECK(back->transfer_results == r.transfer_results); break;
      case forward_op::lookup_accounts: CHECK(back->accounts == r.accounts); break;
      case forward_op::lookup_transfers:
      case forward_op::account_transfers: CHECK(back->transfers == r.transfers); break;
      case forward_op::account_balances: CHECK(back->balances == r.balances); break;
    }
  }
}

TEST_CASE("an error reply keeps its code, for every code") {
  for (uint8_t v = 1; v <= errc_max; ++v) {
    forwarded_reply r;
    r.op = forward_op::create_transfers;
    r.error = static_cast<errc>(v);
    auto back = decode_reply(encode(r), forward_op::create_transfers);
    REQUIRE(back.ok());
    CHECK(back->error == static_cast<errc>(v));
  }
}

TEST_CASE("a reply to another operation is a peer bug: internal") {
  forwarded_reply r;
  r.op = forward_op::lookup_accounts;
  r.accounts = {an_account(1)};
  auto back = decode_reply(encode(r), forward_op::create_transfers);
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == errc::internal);
}

TEST_CASE("an unknown error code from a newer peer is internal, not guessed") {
  capnp::MallocMessageBuilder m;
  m.initRoot<internode::ForwardedReply>().setError(static_cast<api::ErrorCode>(200));
  auto back = decode_reply(bytes_of(m), forward_op::create_accounts);
  REQUIRE(back.ok());
  CHECK(back->error == errc::internal);
}

TEST_CASE("garbage, empty and misaligned bytes are refused") {
  CHECK(decode_request("").error().code == errc::invalid_request);
  CHECK(decode_request("abc").error().code == errc::invalid_request);
  CHECK(decode_request(std::string(64, '\xff')).error().code == errc::invalid_request);
  CHECK(decode_reply(std::string(16, '\x7f'), forward_op::create_accounts).error().code == errc::internal);
}

TEST_CASE("a forwarded batch larger than the client API allows is refused") {
  auto r = base_request(forward_op::lookup_transfers);
  r.ids.assign(limits::max_batch_items, u128{1, 1});
  CHECK(decode_request(encode(r)).ok());
  r.ids.push_back(u128{2, 2});
  auto back = decode_request(encode(r));
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == errc::invalid_request);
}
