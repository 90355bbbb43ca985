// Command-line values of `caudal`: numbers, flag names, and the batches and filters the options describe.
#include <doctest/doctest.h>

#include <string>

#include "base/limits.hpp"
#include "cli/commands.hpp"
#include "cli/parse.hpp"

using namespace caudal;
using cli::flag_kind;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("numbers: decimal only, within range, errors name the option") {
  CHECK(cli::parse_u128_arg("--id", "340282366920938463463374607431768211455").value() == u128::max());
  CHECK(cli::parse_u64_arg("--amount", "18446744073709551615").value() == UINT64_MAX);
  CHECK(cli::parse_u32_arg("--ledger", "4294967295").value() == UINT32_MAX);
  CHECK(cli::parse_u16_arg("--code", "65535").value() == UINT16_MAX);
  CHECK(cli::parse_u16_arg("--code", "0").value() == 0);
  for (const char* bad : {"", "-1", "+1", "1.0", "1e3", " 1", "0x10", "65536"}) {
    INFO(bad);
    auto r = cli::parse_u16_arg("--code", bad);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().detail, "--code: expected a whole number from 0 to 65535"));
  }
  CHECK_FALSE(cli::parse_u128_arg("--id", "340282366920938463463374607431768211456").ok());
  CHECK_FALSE(cli::parse_u64_arg("--amount", "18446744073709551616").ok());
}

TEST_CASE("flag names: DESIGN.md names, comma lists, repeats, TigerBeetle aliases") {
  using namespace ledger;
  CHECK(cli::parse_flags(flag_kind::account, {"debits_must_not_exceed_credits,history"}).value() ==
        (account_flags::debits_must_not_exceed_credits | account_flags::history));
  CHECK(cli::parse_flags(flag_kind::account, {"linked", "closed", "credits_must_not_exceed_debits"}).value() ==
        (account_flags::linked | account_flags::closed | account_flags::credits_must_not_exceed_debits));
  CHECK(cli::parse_flags(flag_kind::transfer, {"linked,pending", "balancing_debit", "balancing_credit"}).value() ==
        (transfer_flags::linked | transfer_flags::pending | transfer_flags::balancing_debit |
         transfer_flags::balancing_credit));
  CHECK(cli::parse_flags(flag_kind::transfer, {"post_pending"}).value() == transfer_flags::post_pending_transfer);
  CHECK(cli::parse_flags(flag_kind::transfer, {"post_pending_transfer"}).value() ==
        transfer_flags::post_pending_transfer);
  CHECK(cli::parse_flags(flag_kind::transfer, {"void_pending"}).value() == transfer_flags::void_pending_transfer);
  CHECK(cli::parse_flags(flag_kind::transfer, {"void_pending_transfer"}).value() ==
        transfer_flags::void_pending_transfer);
  CHECK(cli::parse_flags(flag_kind::transfer, {}).value() == 0);
  CHECK(cli::parse_flags(flag_kind::transfer, {"", " linked , "}).value() == transfer_flags::linked);

  auto bad = cli::parse_flags(flag_kind::account, {"history,pending"});
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error().detail, "unknown account flag 'pending'"));
  CHECK(contains(bad.error().detail, "debits_must_not_exceed_credits"));  // lists the known ones
  CHECK_FALSE(cli::parse_flags(flag_kind::transfer, {"history"}).ok());
  CHECK_FALSE(cli::parse_flags(flag_kind::transfer, {"Linked"}).ok());

  // Names back, in bit order; every name parses back to its bit.
  CHECK(cli::flag_names(flag_kind::transfer, transfer_flags::all) ==
        std::vector<std::string>{"linked", "pending", "post_pending", "void_pending", "balancing_debit",
                                 "balancing_credit"});
  CHECK(cli::flag_names(flag_kind::account, account_flags::all) ==
        std::vector<std::string>{"linked", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits",
                                 "history", "closed"});
  CHECK(cli::flag_names(flag_kind::account, 1u << 4) == std::vector<std::string>{"bit_4"});
  for (auto kind : {flag_kind::account, flag_kind::transfer}) {
    for (unsigned bit = 0; bit < 16; ++bit) {
      const auto names = cli::flag_names(kind, static_cast<uint16_t>(1u << bit));
      if (names[0].rfind("bit_", 0) == 0)
        continue;
      CHECK(cli::parse_flags(kind, names).value() == (1u << bit));
    }
  }
}

TEST_CASE("account create options make one account; --file makes the batch") {
  cli::account_create_args a;
  a.id = "340282366920938463463374607431768211454";
  a.ledger = "700";
  a.code = "10";
  a.flags = {"history", "debits_must_not_exceed_credits"};
  a.user_data_128 = "1";
  a.user_data_64 = "2";
  a.user_data_32 = "3";
  auto r = cli::accounts_from_args(a);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  const auto& acc = r->front();
  CHECK(acc.id.value == u128{UINT64_MAX, UINT64_MAX - 1});
  CHECK(acc.ledger == 700);
  CHECK(acc.code == 10);
  CHECK(acc.flags == (ledger::account_flags::history | ledger::account_flags::debits_must_not_exceed_credits));
  CHECK(acc.user_data_128 == u128{0, 1});
  CHECK(acc.user_data_64 == 2);
  CHECK(acc.user_data_32 == 3);

  auto missing = a;
  missing.ledger.clear();
  CHECK(contains(cli::accounts_from_args(missing).error().detail, "--ledger is required"));
  auto bad = a;
  bad.code = "70000";
  CHECK(contains(cli::accounts_from_args(bad).error().detail, "--code"));
  auto bad_flag = a;
  bad_flag.flags = {"pending"};
  CHECK(contains(cli::accounts_from_args(bad_flag).error().detail, "unknown account flag"));
  cli::account_create_args from_file;
  from_file.file = "/nonexistent/accounts.json";
  CHECK(contains(cli::accounts_from_args(from_file).error().detail, "/nonexistent/accounts.json"));
}

TEST_CASE("transfer create options: shortcuts set flags and pending_id") {
  cli::transfer_create_args t;
  t.id = "5";
  t.debit = "1";
  t.credit = "2";
  t.amount = "100";
  t.ledger = "700";
  t.code = "1";
  t.pending = true;
  t.linked = true;
  t.timeout = "30";
  auto r = cli::transfers_from_args(t);
  REQUIRE(r.ok());
  const auto& x = r->front();
  CHECK(x.id.value == u128{0, 5});
  CHECK(x.debit_account_id.value == u128{0, 1});
  CHECK(x.credit_account_id.value == u128{0, 2});
  CHECK(x.amount == 100);
  CHECK(x.ledger == 700);
  CHECK(x.code == 1);
  CHECK(x.timeout == 30);
  CHECK(x.flags == (ledger::transfer_flags::pending | ledger::transfer_flags::linked));

  // --post P needs nothing but the id: the rest comes from the pending transfer.
  cli::transfer_create_args post;
  post.id = "6";
  post.post = "5";
  auto p = cli::transfers_from_args(post);
  REQUIRE(p.ok());
  CHECK(p->front().flags == ledger::transfer_flags::post_pending_transfer);
  CHECK(p->front().pending_id.value == u128{0, 5});
  CHECK(p->front().amount == 0);
  cli::transfer_create_args void_;
  void_.id = "7";
  void_.void_ = "5";
  void_.amount = "3";
  auto v = cli::transfers_from_args(void_);
  REQUIRE(v.ok());
  CHECK(v->front().flags == ledger::transfer_flags::void_pending_transfer);
  CHECK(v->front().amount == 3);
  cli::transfer_create_args by_flags;
  by_flags.id = "8";
  by_flags.flags = {"post_pending"};
  by_flags.pending_id = "5";
  CHECK(cli::transfers_from_args(by_flags)->front().pending_id.value == u128{0, 5});

  cli::transfer_create_args balancing = t;
  balancing.pending = balancing.linked = false;
  balancing.balancing_debit = balancing.balancing_credit = true;
  CHECK(cli::transfers_from_args(balancing)->front().flags ==
        (ledger::transfer_flags::balancing_debit | ledger::transfer_flags::balancing_credit));

  auto both = post;
  both.void_ = "5";
  CHECK(contains(cli::transfers_from_args(both).error().detail, "--post and --void"));
  auto missing = t;
  missing.amount.clear();
  CHECK(contains(cli::transfers_from_args(missing).error().detail, "--amount is required"));
  cli::transfer_create_args no_id;
  CHECK(contains(cli::transfers_from_args(no_id).error().detail, "--id is required"));
  auto bad_amount = t;
  bad_amount.amount = "-1";
  CHECK(contains(cli::transfers_from_args(bad_amount).error().detail, "--amount"));
}

TEST_CASE("lookup ids and query filters") {
  auto ids = cli::ids_from_args({"1", "340282366920938463463374607431768211455"});
  REQUIRE(ids.ok());
  CHECK(ids->at(1).value == u128::max());
  CHECK_FALSE(cli::ids_from_args({"1", "x"}).ok());
  CHECK_FALSE(cli::ids_from_args({}).ok());

  cli::query_args q;
  q.id = "9";
  auto f = cli::filter_from_args(q);
  REQUIRE(f.ok());
  CHECK(f->account.value == u128{0, 9});
  CHECK(f->limit == 100);  // the default
  CHECK(f->timestamp_min == 0);
  CHECK(f->flags == (ledger::account_filter_flags::debits | ledger::account_filter_flags::credits));

  q.after = "1000";
  q.limit = "8190";
  q.credits = true;
  q.reversed = true;
  f = cli::filter_from_args(q);
  REQUIRE(f.ok());
  CHECK(f->timestamp_min == 1001);
  CHECK(f->limit == limits::max_query_rows);
  CHECK(f->flags == (ledger::account_filter_flags::credits | ledger::account_filter_flags::reversed));

  for (const char* bad_limit : {"0", "8191", "x"}) {
    auto b = q;
    b.limit = bad_limit;
    CHECK_FALSE(cli::filter_from_args(b).ok());
  }
  auto last = q;
  last.after = "18446744073709551615";
  CHECK_FALSE(cli::filter_from_args(last).ok());
}

TEST_CASE("audit --since: epoch ms, ISO time, or a duration ago") {
  const int64_t now = 1'800'000'000'000;
  CHECK(cli::parse_since("1700000000000", now).value() == 1'700'000'000'000);
  CHECK(cli::parse_since("15m", now).value() == now - 15 * 60'000);
  CHECK(cli::parse_since("2h", now).value() == now - 2 * 3'600'000);
  CHECK(cli::parse_since("1d", now).value() == now - 86'400'000);
  CHECK(cli::parse_since("30s", now).value() == now - 30'000);
  CHECK(cli::parse_since("2026-11-28T18:00:00Z", now).value() == 1'795'888'800'000);
  CHECK_FALSE(cli::parse_since("", now).ok());
  CHECK_FALSE(cli::parse_since("yesterday", now).ok());
  CHECK_FALSE(cli::parse_since("-5m", now).ok());
  CHECK_FALSE(cli::parse_since("2026-11-28T18:00:00+02:00", now).ok());
}
