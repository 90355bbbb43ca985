// `--file F` items of `caudal account create` / `transfer create` (cli/items_file.hpp).
#include <doctest/doctest.h>

#include <string>

#include "cli/items_file.hpp"

using namespace caudal;

namespace {

// The usage error's message, or "" when parsing succeeded.
template <class R>
std::string error_of(const R& r) {
  return r.ok() ? std::string() : r.error().detail;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("account items: every key, numbers as JSON numbers or decimal strings") {
  auto r = cli::parse_account_items(R"([
    {"id": 1, "ledger": 700, "code": 10, "flags": ["history", "debits_must_not_exceed_credits"]},
    {"id": "340282366920938463463374607431768211455", "ledger": "4294967295", "code": 65535,
     "user_data_128": "18446744073709551616", "user_data_64": 18446744073709551615, "user_data_32": 4294967295,
     "flags": []}
  ])");
  REQUIRE_MESSAGE(r.ok(), error_of(r));
  REQUIRE(r->size() == 2);
  const auto& a = (*r)[0];
  CHECK(a.id.value == u128{0, 1});
  CHECK(a.ledger == 700);
  CHECK(a.code == 10);
  CHECK(a.flags == (ledger::account_flags::history | ledger::account_flags::debits_must_not_exceed_credits));
  const auto& b = (*r)[1];
  CHECK(b.id.value == u128::max());
  CHECK(b.ledger == UINT32_MAX);
  CHECK(b.code == UINT16_MAX);
  CHECK(b.user_data_128 == u128{1, 0});
  CHECK(b.user_data_64 == UINT64_MAX);
  CHECK(b.user_data_32 == UINT32_MAX);
  CHECK(b.flags == 0);
  CHECK(b.timestamp == 0);
}

TEST_CASE("transfer items: a linked chain, a pending one, a post, big ids as strings") {
  auto r = cli::parse_transfer_items(R"([
    {"id": 10, "debit": 1, "credit": 2, "amount": 500, "ledger": 700, "code": 1, "flags": ["linked"]},
    {"id": 11, "debit": 1, "credit": 3, "amount": "9223372036854775807", "ledger": 700, "code": 1,
     "flags": ["pending"], "timeout": 60, "user_data_128": 5, "user_data_64": 6, "user_data_32": 7},
    {"id": "340282366920938463463374607431768211454", "pending_id": "340282366920938463463374607431768211455",
     "flags": ["post_pending_transfer"]},
    {"id": 13, "pending_id": 11, "flags": ["void_pending", "linked"]}
  ])");
  REQUIRE_MESSAGE(r.ok(), error_of(r));
  REQUIRE(r->size() == 4);
  const auto& t0 = (*r)[0];
  CHECK(t0.id.value == u128{0, 10});
  CHECK(t0.debit_account_id.value == u128{0, 1});
  CHECK(t0.credit_account_id.value == u128{0, 2});
  CHECK(t0.amount == 500);
  CHECK(t0.ledger == 700);
  CHECK(t0.code == 1);
  CHECK(t0.flags == ledger::transfer_flags::linked);
  const auto& t1 = (*r)[1];
  CHECK(t1.amount == 9223372036854775807ull);
  CHECK(t1.flags == ledger::transfer_flags::pending);
  CHECK(t1.timeout == 60);
  CHECK(t1.user_data_128 == u128{0, 5});
  CHECK(t1.user_data_64 == 6);
  CHECK(t1.user_data_32 == 7);
  const auto& t2 = (*r)[2];
  CHECK(t2.id.value == u128{UINT64_MAX, UINT64_MAX - 1});
  CHECK(t2.pending_id.value == u128::max());
  CHECK(t2.flags == ledger::transfer_flags::post_pending_transfer);
  CHECK(t2.amount == 0);
  CHECK((*r)[3].flags == (ledger::transfer_flags::void_pending_transfer | ledger::transfer_flags::linked));
}

TEST_CASE("items errors name the item index and the key; nothing is returned") {
  struct bad {
    const char* text;
    const char* expect;
  };
  const bad transfers[] = {
      {R"([{"id": 1}, {"id": 2, "amuont": 5}])", R"(item 1, key "amuont": unknown key)"},
      {R"([{"id": 1, "amount": -5}])", R"(item 0, key "amount": must not be negative)"},
      {R"([{"id": 1, "amount": 1.5}])", R"(item 0, key "amount": expected a whole number)"},
      {R"([{"id": 1, "amount": "12x"}])", R"(item 0, key "amount": expected a whole number from 0 to)"},
      {R"([{"id": 1, "amount": "18446744073709551616"}])", R"(item 0, key "amount": expected a whole number)"},
      {R"([{"id": 1, "ledger": 4294967296}])", R"(item 0, key "ledger": expected a whole number from 0 to 4294967295)"},
      {R"([{"id": 1, "code": 65536}])", R"(item 0, key "code": expected a whole number from 0 to 65535)"},
      {R"([{"id": 340282366920938463463374607431768211455}])", R"(item 0, key "id": expected a whole number)"},
      {R"([{"id": "340282366920938463463374607431768211456"}])", R"(item 0, key "id")"},
      {R"([{"id": true}])", R"(item 0, key "id": expected a whole number)"},
      {R"([{"id": null}])", R"(item 0, key "id")"},
      {R"([{}, {}, {"flags": ["linked", "pendng"]}])", R"(item 2, key "flags": unknown transfer flag 'pendng')"},
      {R"([{"flags": [1]}])", R"(item 0, key "flags": expected a list of flag names)"},
      {R"([{"flags": {"linked": true}}])", R"(item 0, key "flags": expected a list of flag names)"},
      {R"([{"id": 1}, 5])", "item 1: expected a JSON object"},
      {R"({"id": 1})", "expected a JSON array of items"},
      {R"([])", "the array has no items"},
      {R"([{"id": 1},])", "not valid JSON"},
      {"", "not valid JSON"},
  };
  for (const auto& b : transfers) {
    INFO(b.text);
    auto r = cli::parse_transfer_items(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::invalid_request);
    CHECK_MESSAGE(contains(r.error().detail, b.expect), r.error().detail);
  }
  const bad accounts[] = {
      {R"([{"id": 1, "debit": 2}])", R"(item 0, key "debit": unknown key)"},
      {R"([{"id": 1}, {"id": 2, "flags": ["pending"]}])", R"(item 1, key "flags": unknown account flag 'pending')"},
      {R"([{"id": 1, "timestamp": 5}])", R"(item 0, key "timestamp": unknown key)"},
      {R"([{"id": 1, "user_data_32": 4294967296}])", R"(item 0, key "user_data_32")"},
  };
  for (const auto& b : accounts) {
    INFO(b.text);
    auto r = cli::parse_account_items(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(contains(r.error().detail, b.expect), r.error().detail);
  }
}

TEST_CASE("an unreadable items file is a usage error") {
  auto r = cli::read_items_file("/nonexistent/items.json");
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error().detail, "/nonexistent/items.json"));
}
