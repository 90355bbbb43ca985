// What `caudal` prints: the JSON shapes of issue 2 point 8 and the human tables (cli/render.hpp).
#include <doctest/doctest.h>

#include <sstream>

#include "cli/render.hpp"

using namespace caudal;
using cli::json;

namespace {

ledger::account sample_account() {
  ledger::account a;
  a.id = account_id{u128::max()};
  a.ledger = 700;
  a.code = 10;
  a.flags = ledger::account_flags::history | ledger::account_flags::debits_must_not_exceed_credits;
  a.debits_pending = 1;
  a.debits_posted = 2;
  a.credits_pending = 3;
  a.credits_posted = 9223372036854775807ull;
  a.user_data_128 = u128{1, 0};
  a.user_data_64 = UINT64_MAX;
  a.user_data_32 = 7;
  a.timestamp = 1700000000000000001ull;
  return a;
}

ledger::transfer sample_transfer(uint64_t id, uint64_t ts) {
  ledger::transfer t;
  t.id = transfer_id{u128::from_u64(id)};
  t.debit_account_id = account_id{u128::from_u64(1)};
  t.credit_account_id = account_id{u128::from_u64(2)};
  t.amount = 500;
  t.pending_id = transfer_id{u128::from_u64(4)};
  t.ledger = 700;
  t.code = 1;
  t.flags = ledger::transfer_flags::post_pending_transfer | ledger::transfer_flags::linked;
  t.timeout = 0;
  t.timestamp = ts;
  return t;
}

}  // namespace

TEST_CASE("create results: every item in order, snake_case names, unknown codes by number") {
  const client::transfer_results r = {
      ledger::create_transfer_result::ok, ledger::create_transfer_result::exceeds_credits,
      ledger::create_transfer_result::linked_event_failed, static_cast<ledger::create_transfer_result>(200)};
  const json j = cli::results_json(r);
  CHECK(j == json::parse(R"({"results": [{"index": 0, "result": "ok"}, {"index": 1, "result": "exceeds_credits"},
                                          {"index": 2, "result": "linked_event_failed"},
                                          {"index": 3, "result": "unknown_200"}]})"));
  const client::account_results a = {ledger::create_account_result::exists,
                                     ledger::create_account_result::exists_with_different_user_data_128};
  CHECK(cli::results_json(a) == json::parse(R"({"results": [{"index": 0, "result": "exists"},
                                                {"index": 1, "result": "exists_with_different_user_data_128"}]})"));
  CHECK(cli::results_json(client::account_results{}) == json::parse(R"({"results": []})"));
}

TEST_CASE("accounts: ids, amounts, timestamps and wide user data as decimal strings") {
  const json j = cli::accounts_json({sample_account()});
  CHECK(j == json::parse(R"({"accounts": [{
      "id": "340282366920938463463374607431768211455", "ledger": 700, "code": 10,
      "flags": ["debits_must_not_exceed_credits", "history"],
      "debits_pending": "1", "debits_posted": "2", "credits_pending": "3", "credits_posted": "9223372036854775807",
      "user_data_128": "18446744073709551616", "user_data_64": "18446744073709551615", "user_data_32": 7,
      "timestamp": "1700000000000000001"}]})"));
}

TEST_CASE("transfers, pages and balances") {
  const auto t = sample_transfer(3, 55);
  CHECK(cli::transfer_json(t) == json::parse(R"({"id": "3", "debit_account_id": "1", "credit_account_id": "2",
      "amount": "500", "pending_id": "4", "ledger": 700, "code": 1, "flags": ["linked", "post_pending"],
      "timeout": 0, "user_data_128": "0", "user_data_64": "0", "user_data_32": 0, "timestamp": "55"})"));
  const json page = cli::transfer_page_json({sample_transfer(3, 55), sample_transfer(4, 66)});
  CHECK(page["transfers"].size() == 2);
  CHECK(page["next_after"] == "66");
  CHECK(cli::transfer_page_json({}) == json::parse(R"({"transfers": [], "next_after": null})"));
  CHECK(cli::transfers_json({t}) == json{{"transfers", {cli::transfer_json(t)}}});

  const json b = cli::balance_page_json({ledger::account_balance{10, 1, 2, 3, 4}});
  CHECK(b == json::parse(R"({"balances": [{"timestamp": "10", "debits_pending": "1", "debits_posted": "2",
                             "credits_pending": "3", "credits_posted": "4"}], "next_after": "10"})"));
}

TEST_CASE("tenants, verify and errors") {
  client::new_tenant created{{tenant_id{42}, "acme", "MX", 1700000000000}, "t42-client", "s3cret"};
  CHECK(cli::tenant_created_json(created) ==
        json::parse(R"({"tenant_id": "42", "client_id": "t42-client", "client_secret": "s3cret"})"));
  CHECK(cli::tenants_json({created.tenant}) == json::parse(R"({"tenants": [{"id": "42", "name": "acme", "country": "MX",
                                     "created_at_ms": "1700000000000"}]})"));
  client::verify_report bad;
  bad.ok = false;
  bad.violations = {"tenant 1 ledger 700: debits 5 != credits 4"};
  bad.tenants_checked = 1;
  bad.accounts_checked = 2;
  bad.transfers_checked = 3;
  CHECK(cli::verify_json(bad) == json::parse(R"({"ok": false,
      "violations": ["tenant 1 ledger 700: debits 5 != credits 4"],
      "counts": {"tenants": 1, "accounts": 2, "transfers": 3}})"));
  CHECK(cli::error_json(errc::node_down) == json::parse(R"({"error": "node_down", "retryable": true})"));
  CHECK(cli::error_json(errc::forbidden) == json::parse(R"({"error": "forbidden", "retryable": false})"));
  CHECK(cli::dump(cli::error_json(errc::timeout)) == R"({"error":"timeout","retryable":true})");
  // Bytes that are not UTF-8 (a name from a server) are replaced, never fatal.
  CHECK_NOTHROW(cli::dump(json{{"name", std::string("a\xff")}}));
}

TEST_CASE("cluster status JSON: nodes with the fields operators script against, and the shard summary") {
  client::cluster_status s;
  s.shard_count = 256;
  s.shards_owned = 200;
  s.shards_unowned = 56;
  cluster_node_status n;
  n.id = "n1";
  n.incarnation = 3;
  n.rpc_address = "127.0.0.1:7400";
  n.cluster_address = "";
  n.metrics_address = "127.0.0.1:7480";
  n.region = "local";
  n.state = "up";
  n.heartbeat_age_ms = 120;
  n.shards = 200;
  s.nodes.push_back(n);
  CHECK(cli::cluster_status_json(s) == json::parse(R"({"nodes": [{"id": "n1", "incarnation": 3,
      "rpc_address": "127.0.0.1:7400", "cluster_address": "", "metrics_address": "127.0.0.1:7480",
      "region": "local", "state": "up", "shards": 200, "heartbeat_age_ms": 120}],
      "shards": {"count": 256, "owned": 200, "unowned": 56}})"));
  CHECK(cli::cluster_node_json(n) == cli::cluster_status_json(s).at("nodes").at(0));  // `cluster drain`'s node
  std::ostringstream out;
  cli::print_cluster_status(out, s);
  CHECK(out.str().find("n1") != std::string::npos);
  CHECK(out.str().find("shards: 256, owned 200, unowned 56") != std::string::npos);
}

TEST_CASE("human output: aligned tables") {
  std::ostringstream out;
  cli::print_table(out, {"ID", "NAME"}, {{"1", "acme"}, {"12345", "b"}});
  CHECK(out.str() == "ID     NAME\n1      acme\n12345  b\n");

  std::ostringstream accounts;
  cli::print_accounts(accounts, {sample_account()});
  CHECK(accounts.str().find("340282366920938463463374607431768211455") != std::string::npos);
  CHECK(accounts.str().find("debits_must_not_exceed_credits,history") != std::string::npos);

  std::ostringstream results;
  cli::print_results(results, client::transfer_results{ledger::create_transfer_result::exceeds_credits},
                     {sample_transfer(9, 0)});
  CHECK(results.str() == "INDEX  ID  RESULT\n0      9   exceeds_credits\n");

  std::ostringstream tenants;
  cli::print_tenants(tenants, {{tenant_id{42}, "acme", "MX", 0}});
  CHECK(tenants.str().find("1970-01-01T00:00:00Z") != std::string::npos);
}
