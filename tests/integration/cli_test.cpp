// The real `caudal` binary against a real node on a real PostgreSQL, through the paths a user takes
// (issue 2, points 8 and 9): tenants and their stored credentials, accounts (single and --file), transfers
// (single, linked chains, two-phase), lookups, paging, balance history, verify, request-level failures,
// usage errors and rights. The JSON shapes are asserted exactly, and PostgreSQL is checked to hold what the
// CLI reported.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client_file.hpp"
#include "storage/pg_codec.hpp"
#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct ran {
  int code = -1;
  std::string out;
  std::string err;
  json j;  // stdout parsed, when it is one JSON object
};

// A temp folder holding the client defaults file (CAUDAL_CLIENT_FILE of every command run) and the
// --file request files. Removed at the end.
struct cli_sandbox {
  fs::path dir;
  fs::path client_file;

  cli_sandbox() {
    std::string tmpl = (fs::temp_directory_path() / "caudal-cli-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    client_file = dir / "client.json";
  }
  ~cli_sandbox() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // The operator's defaults, as scripts/cluster writes them; keeps the tenants already stored.
  void point_at(const node_process& node) {
    auto f = client::load_client_file(client_file);
    REQUIRE(f.ok());
    auto file = std::move(f).value();
    file.server = node.rpc_address();
    file.ca_file = node.ca_file();
    file.client_id = node.options().operator_client_id;
    file.client_secret = node.options().operator_secret;
    REQUIRE(client::save_client_file(client_file, file).ok());
  }

  client::client_file read_client_file() const {
    auto f = client::load_client_file(client_file);
    if (!f.ok())
      FAIL(f.error().detail);  // not REQUIRE_MESSAGE: its message is built even on success (doctest -s)
    return std::move(f).value();
  }

  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }

  // Runs `caudal ARGS` (arguments already shell-quoted where needed).
  ran caudal(const std::string& args) const {
    const fs::path err_file = dir / "stderr.txt";
    const std::string cmd = "CAUDAL_CLIENT_FILE=" + quote(client_file.string()) + " " + quote(CAUDAL_CLI_BINARY) + " " +
                            args + " 2>" + quote(err_file.string());
    ran r;
    r.out = run_command(cmd, &r.code);
    std::stringstream e;
    e << std::ifstream(err_file).rdbuf();
    r.err = e.str();
    if (!r.out.empty())
      r.j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    return r;
  }

  // A --json command expected to print exactly one JSON object on one line and exit with `code`.
  json caudal_json(const std::string& args, int code = 0) const {
    ran r = caudal(args + " --json");
    INFO("caudal " << args << " --json\nexit " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.code == code);
    REQUIRE(r.j.is_object());
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
    return r.j;
  }

  // A usage error: exit 2, nothing on stdout (even with --json), a message on stderr.
  void usage_error(const std::string& args) const {
    ran r = caudal(args);
    INFO("caudal " << args << "\nexit " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
};

// {"results": [{"index": i, "result": codes[i]}...]}
json results(const std::vector<std::string>& codes) {
  json list = json::array();
  for (size_t i = 0; i < codes.size(); ++i)
    list.push_back({{"index", i}, {"result", codes[i]}});
  return json{{"results", list}};
}

json error(const std::string& name, bool retryable) {
  return json{{"error", name}, {"retryable", retryable}};
}

std::string balances_of(const json& a) {
  return a.at("debits_pending").get<std::string>() + "/" + a.at("debits_posted").get<std::string>() + "/" +
         a.at("credits_pending").get<std::string>() + "/" + a.at("credits_posted").get<std::string>();
}

// The one account of `account get --json`, checking the shape: balances are decimal strings.
json one_account(const json& j) {
  REQUIRE(j.contains("accounts"));
  REQUIRE(j.at("accounts").size() == 1);
  const json& a = j.at("accounts").at(0);
  for (const char* key : {"id", "debits_posted", "credits_posted", "debits_pending", "credits_pending"}) {
    INFO(key << " in " << a.dump());
    REQUIRE(a.contains(key));
    REQUIRE(a.at(key).is_string());
    const auto text = a.at(key).get<std::string>();
    CHECK(!text.empty());
    CHECK(text.find_first_not_of("0123456789") == std::string::npos);
  }
  return a;
}

std::string sql_one(storage::pg_connection& c, const std::string& sql) {
  auto r = c.query(sql, {});
  if (!r.ok())
    FAIL(sql << ": " << r.error().detail);
  REQUIRE_MESSAGE(r->size() == 1, sql);
  return r->text(0, 0);
}

std::string uuid(uint64_t n) {
  return storage::codec::uuid_text(u128{0, n});
}

}  // namespace

TEST_CASE("the caudal CLI against a real node: every command, its JSON, exit codes, and what PostgreSQL holds") {
  ledger_fixture fx("cli");
  cli_sandbox cli;
  cli.point_at(*fx.node);

  // ---- Tenants (operator credentials from the client file) ----
  const json created = cli.caudal_json("tenant create --name acme --country MX");
  CHECK(created.size() == 3);
  REQUIRE(created.contains("tenant_id"));
  REQUIRE(created.contains("client_id"));
  REQUIRE(created.contains("client_secret"));
  REQUIRE(created.at("tenant_id").is_string());
  const std::string tenant_id = created.at("tenant_id").get<std::string>();
  CHECK(tenant_id.find_first_not_of("0123456789") == std::string::npos);
  CHECK(!created.at("client_id").get<std::string>().empty());
  CHECK(!created.at("client_secret").get<std::string>().empty());
  {
    // Stored in the client file, so `--tenant acme` finds it; the operator's defaults are kept.
    auto file = cli.read_client_file();
    auto entry = client::find_tenant(file, "acme");
    REQUIRE(entry.has_value());
    CHECK(std::to_string(entry->id) == tenant_id);
    CHECK(entry->credentials->client_id == created.at("client_id").get<std::string>());
    CHECK(entry->credentials->client_secret == created.at("client_secret").get<std::string>());
    CHECK(file.client_id == fx.node->options().operator_client_id);
    CHECK(file.server == fx.node->rpc_address());
    CHECK((fs::status(cli.client_file).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
          fs::perms::none);
  }
  const json globex = cli.caudal_json("tenant create --name globex --country BR");
  CHECK(cli.caudal_json("tenant create --name acme --country MX", 1) == error("tenant_exists", false));

  const json tenants = cli.caudal_json("tenant list");
  REQUIRE(tenants.contains("tenants"));
  std::set<std::string> listed;
  for (const auto& t : tenants.at("tenants")) {
    listed.insert(t.at("name").get<std::string>());
    if (t.at("name") == "acme") {
      CHECK(t.at("id") == tenant_id);
      CHECK(t.at("country") == "MX");
    }
  }
  CHECK(listed == std::set<std::string>{"acme", "globex"});

  // ---- Accounts: one by flags, a batch by --file (with flags), by tenant name or id ----
  CHECK(cli.caudal_json("account create --tenant acme --id 1 --ledger 1 --code 10") == results({"ok"}));
  const auto accounts_file = cli.write("accounts.json", R"([
    {"id": "2", "ledger": 1, "code": 10, "flags": ["history"]},
    {"id": 3, "ledger": 1, "code": 10, "flags": ["debits_must_not_exceed_credits"]},
    {"id": "4", "ledger": 2, "code": 20, "flags": []},
    {"id": "1", "ledger": 1, "code": 10},
    {"id": "1", "ledger": 1, "code": 11}
  ])");
  CHECK(cli.caudal_json("account create --tenant acme --file " + quote(accounts_file.string())) ==
        results({"ok", "ok", "ok", "exists", "exists_with_different_code"}));
  CHECK(cli.caudal_json("account create --tenant " + tenant_id + " --id 5 --ledger 1 --code 10 --flags history") ==
        results({"ok"}));
  {
    const json a3 = one_account(cli.caudal_json("account get --tenant acme --id 3"));
    CHECK(a3.at("flags") == json::array({"debits_must_not_exceed_credits"}));
    CHECK(a3.at("ledger") == 1);
    CHECK(a3.at("code") == 10);
  }

  // ---- Transfers: single, a retry, linked chains ----
  CHECK(
      cli.caudal_json("transfer create --tenant acme --id 100 --debit 1 --credit 2 --amount 500 --ledger 1 --code 1") ==
      results({"ok"}));
  CHECK(
      cli.caudal_json("transfer create --tenant acme --id 100 --debit 1 --credit 2 --amount 500 --ledger 1 --code 1") ==
      results({"exists"}));
  const auto failing_chain = cli.write("chain_fails.json", R"([
    {"id": "101", "debit": "1", "credit": "2", "amount": "10", "ledger": 1, "code": 1, "flags": ["linked"]},
    {"id": "102", "debit": "3", "credit": "2", "amount": "10", "ledger": 1, "code": 1}
  ])");  // 3 must not go below zero, and has nothing
  CHECK(cli.caudal_json("transfer create --tenant acme --file " + quote(failing_chain.string())) ==
        results({"linked_event_failed", "exceeds_credits"}));
  const auto chain = cli.write("chain.json", R"([
    {"id": "103", "debit": "2", "credit": "3", "amount": "50", "ledger": 1, "code": 1, "flags": ["linked"]},
    {"id": "104", "debit": "3", "credit": "1", "amount": 20, "ledger": 1, "code": 1, "flags": ["linked"]},
    {"id": "105", "debit": "5", "credit": "1", "amount": "1", "ledger": 1, "code": 1}
  ])");
  CHECK(cli.caudal_json("transfer create --tenant acme --file " + quote(chain.string())) ==
        results({"ok", "ok", "ok"}));

  // ---- Two-phase: pending, posted in part, a void of the posted one refused; another voided ----
  CHECK(cli.caudal_json("transfer create --tenant acme --id 200 --debit 1 --credit 2 --amount 70 --ledger 1 --code 1 "
                        "--pending --timeout 3600") == results({"ok"}));
  CHECK(balances_of(one_account(cli.caudal_json("account get --tenant acme --id 1"))) == "70/500/0/21");
  CHECK(cli.caudal_json("transfer create --tenant acme --id 201 --post 200 --amount 30") == results({"ok"}));
  CHECK(cli.caudal_json("transfer create --tenant acme --id 202 --void 200") ==
        results({"pending_transfer_already_posted"}));
  CHECK(cli.caudal_json("transfer create --tenant acme --id 210 --debit 1 --credit 2 --amount 40 --ledger 1 --code 1 "
                        "--pending") == results({"ok"}));
  CHECK(cli.caudal_json("transfer create --tenant acme --id 211 --void 210") == results({"ok"}));

  // ---- Lookups ----
  // 1: -500 -30 (posted of 200) +20 +1; 2: +500 -50 +30; 3: +50 -20; 5: -1.
  const json got = cli.caudal_json("account get --tenant acme --id 1 --id 2 --id 3 --id 99");
  REQUIRE(got.at("accounts").size() == 3);  // 99 does not exist
  CHECK(got.at("accounts").at(0).at("id") == "1");
  CHECK(balances_of(got.at("accounts").at(0)) == "0/530/0/21");
  CHECK(balances_of(got.at("accounts").at(1)) == "0/50/0/530");
  CHECK(balances_of(got.at("accounts").at(2)) == "0/20/0/50");
  CHECK(got.at("accounts").at(1).at("flags") == json::array({"history"}));
  {
    const ran text = cli.caudal("account get --tenant acme --id 1");  // the human-readable form
    CHECK(text.code == 0);
    CHECK(text.out.find("DEBITS_POSTED") != std::string::npos);
    CHECK(text.out.find("530") != std::string::npos);
  }

  const json xfers = cli.caudal_json("transfer get --tenant acme --id 100 --id 201 --id 102");
  REQUIRE(xfers.at("transfers").size() == 2);  // 102 failed: never a transfer
  const json& t100 = xfers.at("transfers").at(0);
  CHECK(t100.at("id") == "100");
  CHECK(t100.at("debit_account_id") == "1");
  CHECK(t100.at("credit_account_id") == "2");
  CHECK(t100.at("amount") == "500");
  CHECK(t100.at("ledger") == 1);
  CHECK(t100.at("flags") == json::array());
  CHECK(t100.at("timestamp").is_string());
  const json& t201 = xfers.at("transfers").at(1);
  CHECK(t201.at("id") == "201");
  CHECK(t201.at("pending_id") == "200");
  CHECK(t201.at("amount") == "30");
  CHECK(t201.at("debit_account_id") == "1");  // resolved from the pending transfer
  CHECK(t201.at("flags") == json::array({"post_pending"}));

  // ---- Account transfers, paged: 25 more transfers on account 5, pages of 10 ----
  {
    json batch = json::array();
    for (int i = 0; i < 25; ++i) {
      batch.push_back({{"id", std::to_string(300 + i)},
                       {"debit", i % 2 ? "5" : "2"},
                       {"credit", i % 2 ? "2" : "5"},
                       {"amount", std::to_string(i + 1)},
                       {"ledger", 1},
                       {"code", 2}});
    }
    const auto batch_file = cli.write("batch.json", batch.dump());
    CHECK(cli.caudal_json("transfer create --tenant acme --file " + quote(batch_file.string())) ==
          results(std::vector<std::string>(25, "ok")));
  }
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string after;
  uint64_t last_timestamp = 0;
  for (int page = 0; page < 10; ++page) {
    const json p = cli.caudal_json("account transfers --tenant acme --id 5 --limit 10" +
                                   (after.empty() ? std::string() : " --after " + after));
    REQUIRE(p.contains("transfers"));
    REQUIRE(p.contains("next_after"));
    page_sizes.push_back(p.at("transfers").size());
    if (p.at("transfers").empty()) {
      CHECK(p.at("next_after").is_null());
      break;
    }
    for (const auto& t : p.at("transfers")) {
      const uint64_t ts = std::stoull(t.at("timestamp").get<std::string>());
      CHECK(ts > last_timestamp);  // strictly increasing
      last_timestamp = ts;
      seen.push_back(t.at("id").get<std::string>());
    }
    after = p.at("next_after").get<std::string>();
    CHECK(after == std::to_string(last_timestamp));
  }
  CHECK(page_sizes == std::vector<size_t>{10, 10, 6, 0});  // 105 and 300..324: 26 transfers
  {
    std::vector<std::string> want{"105"};
    for (int i = 0; i < 25; ++i)
      want.push_back(std::to_string(300 + i));
    CHECK(seen == want);
  }
  CHECK(
      cli.caudal_json("account transfers --tenant acme --id 5 --limit 3 --debits --reversed").at("transfers").size() ==
      3);

  // ---- Balance history of account 2 (history flag): 100, 103, 200, 201, 210, 211, then 25 batch items ----
  {
    const json h = cli.caudal_json("account balances --tenant acme --id 2 --limit 4");
    REQUIRE(h.at("balances").size() == 4);
    const json& first = h.at("balances").at(0);
    CHECK(balances_of(first) == "0/0/0/500");                     // transfer 100
    CHECK(balances_of(h.at("balances").at(1)) == "0/50/0/500");   // 103
    CHECK(balances_of(h.at("balances").at(2)) == "0/50/70/500");  // 200 pending
    CHECK(balances_of(h.at("balances").at(3)) == "0/50/0/530");   // 201 posts 30
    const json rest = cli.caudal_json("account balances --tenant acme --id 2 --limit 8190 --after " +
                                      h.at("next_after").get<std::string>());
    REQUIRE(rest.at("balances").size() == 2 + 25);
    CHECK(balances_of(rest.at("balances").at(0)) == "0/50/40/530");  // 210 pending
    CHECK(balances_of(rest.at("balances").at(1)) == "0/50/0/530");   // 211 voids it
    const json a2 = one_account(cli.caudal_json("account get --tenant acme --id 2"));
    const json& last = rest.at("balances").back();
    CHECK(balances_of(last) == balances_of(a2));
  }

  // ---- verify ----
  {
    const json v = cli.caudal_json("verify");
    CHECK(v.at("ok") == true);
    CHECK(v.at("violations") == json::array());
    const ran text = cli.caudal("verify");
    CHECK(text.code == 0);
    // Scoped to tenants, by name or id: only theirs are checked and counted.
    const json acme_only = cli.caudal_json("verify --tenant acme");
    CHECK(acme_only.at("ok") == true);
    CHECK(acme_only.at("counts").at("tenants") == 1);
    CHECK(v.at("counts").at("tenants") == 2);
    CHECK(cli.caudal_json("verify --tenant acme --tenant globex").at("counts").at("tenants") == 2);
    CHECK(cli.caudal_json("verify --tenant " + tenant_id).at("counts").at("tenants") == 1);
    CHECK(cli.caudal_json("verify --tenant nosuch", 1) == error("tenant_not_found", false));
  }

  // ---- PostgreSQL holds what the CLI reported ----
  {
    auto db = fx.db.connect();
    auto sql_balances = [&](uint64_t account) {
      return sql_one(*db,
                     "SELECT debits_pending || '/' || debits_posted || '/' || credits_pending || '/' || "
                     "credits_posted FROM accounts WHERE tenant_id = " +
                         tenant_id + " AND id = '" + uuid(account) + "'");
    };
    for (uint64_t account : {1, 2, 3, 5})
      CHECK(sql_balances(account) ==
            balances_of(one_account(cli.caudal_json("account get --tenant acme --id " + std::to_string(account)))));
    CHECK(sql_one(*db, "SELECT count(*) FROM accounts WHERE tenant_id = " + tenant_id) == "5");
    // 100, 103, 104, 105, 200, 201, 210, 211, 300..324; not 101, 102 (failed) nor 202 (refused).
    CHECK(sql_one(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " + tenant_id) == std::to_string(8 + 25));
    CHECK(sql_one(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " + tenant_id + " AND id IN ('" + uuid(101) +
                           "', '" + uuid(102) + "', '" + uuid(202) + "')") == "0");
    CHECK(sql_one(*db, "SELECT amount FROM transfers WHERE tenant_id = " + tenant_id + " AND id = '" + uuid(201) +
                           "'") == "30");
    CHECK(sql_one(*db, "SELECT state FROM pending_transfers WHERE tenant_id = " + tenant_id + " AND id = '" +
                           uuid(200) + "'") == "2");  // posted
    CHECK(sql_one(*db, "SELECT state FROM pending_transfers WHERE tenant_id = " + tenant_id + " AND id = '" +
                           uuid(210) + "'") == "3");  // voided
    CHECK(sql_one(*db, "SELECT count(*) FROM account_balances WHERE tenant_id = " + tenant_id + " AND account_id = '" +
                           uuid(2) + "'") == std::to_string(6 + 25));
    CHECK(sql_one(*db, "SELECT count(*) FROM accounts WHERE tenant_id = " +
                           globex.at("tenant_id").get<std::string>()) == "0");
  }

  // ---- Rights: a tenant's client cannot administer; credentials of another tenant are refused ----
  {
    const std::string as_acme = "--client-id " + quote(created.at("client_id").get<std::string>()) +
                                " --client-secret " + quote(created.at("client_secret").get<std::string>());
    CHECK(cli.caudal_json(as_acme + " tenant list", 1) == error("forbidden", false));
    CHECK(cli.caudal_json(as_acme + " tenant create --name evil --country MX", 1) == error("forbidden", false));
    CHECK(cli.caudal_json(as_acme + " verify", 1) == error("forbidden", false));
    CHECK(cli.caudal_json("--client-id " + quote(created.at("client_id").get<std::string>()) +
                              " --client-secret wrong-secret account get --tenant acme --id 1",
                          1) == error("unauthenticated", false));
    // acme's credentials, but --tenant globex: refused before anything is sent.
    const ran other = cli.caudal(as_acme + " account get --tenant globex --id 1 --json");
    CHECK(other.code != 0);
    CHECK(other.out.find("accounts") == std::string::npos);
    // globex sees none of acme's accounts.
    CHECK(cli.caudal_json("account get --tenant globex --id 1 --id 2").at("accounts") == json::array());
  }

  // ---- Usage errors: exit 2, nothing sent ----
  cli.usage_error("--json");                                                           // no command
  cli.usage_error("frobnicate --json");                                                // unknown command
  cli.usage_error("account create --tenant acme --id 6 --ledger 1 --json");            // --code missing
  cli.usage_error("account create --tenant acme --id x6 --ledger 1 --code 1 --json");  // not a number
  cli.usage_error("account create --tenant acme --id 6 --ledger 1 --code 1 --flags bogus --json");
  cli.usage_error("transfer create --tenant acme --id 400 --debit 1 --credit 2 --ledger 1 --code 1 --json");
  cli.usage_error("transfer create --tenant acme --id 400 --post 200 --void 200 --json");
  cli.usage_error("account transfers --tenant acme --id 1 --limit 0 --json");
  cli.usage_error("account get --tenant nobody --id 1 --json");  // no credentials for that tenant
  cli.usage_error("account create --tenant acme --file " + quote(accounts_file.string()) + " --id 9 --json");
  {
    const auto bad = cli.write("bad.json", R"([{"id": "6", "ledger": 1, "code": 1, "colour": "red"}])");
    cli.usage_error("account create --tenant acme --file " + quote(bad.string()) + " --json");
    const auto not_json = cli.write("not.json", "[{");
    cli.usage_error("transfer create --tenant acme --file " + quote(not_json.string()) + " --json");
  }
  {
    auto db = fx.db.connect();
    CHECK(sql_one(*db, "SELECT count(*) FROM accounts WHERE tenant_id = " + tenant_id) == "5");
    CHECK(sql_one(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " + tenant_id + " AND id = '" + uuid(400) +
                           "'") == "0");
  }

  // ---- A request-level failure: the node is down ----
  fx.node->stop();
  CHECK(cli.caudal_json("account get --tenant acme --id 1", 1) == error("node_down", true));
  CHECK(cli.caudal_json("transfer create --tenant acme --id 500 --debit 1 --credit 2 --amount 1 --ledger 1 --code 1",
                        1) == error("node_down", true));
  {
    const ran text = cli.caudal("tenant list");
    CHECK(text.code == 1);
    CHECK(text.err.find("node_down") != std::string::npos);
  }

  // ---- Started again (on new ports): the stored credentials still work, balances are intact ----
  fx.node->start();
  cli.point_at(*fx.node);
  CHECK(balances_of(one_account(cli.caudal_json("account get --tenant acme --id 1"))) == "0/530/0/21");
  CHECK(cli.caudal_json("verify").at("ok") == true);
}

TEST_CASE("caudal client, keys and audit commands against a real node") {
  ledger_fixture fx("cli_security");
  cli_sandbox cli;
  cli.point_at(*fx.node);
  const json acme = cli.caudal_json("tenant create --name acme --country MX");
  const std::string tenant_id = acme.at("tenant_id").get<std::string>();

  // client create: by tenant name (from the client file) or id; the secret is printed once.
  const json reader = cli.caudal_json("client create --tenant acme --scopes ledger:read");
  CHECK(reader.at("tenant_id") == tenant_id);
  CHECK(reader.at("scopes") == json::array({"ledger:read"}));
  CHECK(reader.at("revoked") == false);
  const std::string reader_id = reader.at("client_id").get<std::string>();
  const std::string reader_secret = reader.at("client_secret").get<std::string>();
  REQUIRE_FALSE(reader_secret.empty());
  const json writer = cli.caudal_json("client create --tenant " + tenant_id + " --scopes ledger:read,ledger:write");
  CHECK(writer.at("scopes") == json::array({"ledger:read", "ledger:write"}));
  const json op2 = cli.caudal_json("client create --operator --scopes admin");
  CHECK(op2.at("tenant_id") == "");
  CHECK(cli.caudal_json("client create --operator --scopes ledger:write", 1) == error("invalid_request", false));
  cli.usage_error("client create --tenant acme --scopes ledger:delete");
  cli.usage_error("client create --tenant acme --operator --scopes admin");
  cli.usage_error("client create --scopes admin");

  // The read-only client reads but cannot write.
  const std::string as_reader = "--client-id " + reader_id + " --client-secret " + reader_secret;
  CHECK(cli.caudal_json("account get --tenant acme --id 1 " + as_reader).contains("accounts"));
  CHECK(cli.caudal_json("account create --tenant acme --id 1 --ledger 1 --code 1 " + as_reader, 1) ==
        error("forbidden", false));

  // rotate-secret: the old secret stops working.
  const json rotated = cli.caudal_json("client rotate-secret --id " + reader_id);
  const std::string new_secret = rotated.at("client_secret").get<std::string>();
  CHECK(new_secret != reader_secret);
  CHECK(cli.caudal_json("account get --tenant acme --id 1 " + as_reader, 1) == error("unauthenticated", false));
  const std::string as_rotated = "--client-id " + reader_id + " --client-secret " + new_secret;
  CHECK(cli.caudal_json("account get --tenant acme --id 1 " + as_rotated).contains("accounts"));

  // revoke, list.
  const json revoked = cli.caudal_json("client revoke --id " + reader_id);
  CHECK(revoked.at("revoked") == true);
  CHECK(cli.caudal_json("account get --tenant acme --id 1 " + as_rotated, 1) == error("unauthenticated", false));
  const json listed = cli.caudal_json("client list");
  REQUIRE(listed.contains("clients"));
  bool found = false;
  for (const auto& c : listed.at("clients")) {
    CHECK_FALSE(c.contains("client_secret"));
    if (c.at("client_id") == reader_id) {
      found = true;
      CHECK(c.at("revoked") == true);
    }
  }
  CHECK(found);
  CHECK(cli.caudal_json("client revoke --id no-such-client", 1) == error("invalid_request", false));

  // keys rotate; the audit trail (wait for the asynchronous writes of the last actions).
  const json key = cli.caudal_json("keys rotate");
  CHECK(key.at("key_id").get<std::string>().size() == 17);
  json events;
  for (int i = 0; i < 100; ++i) {
    events = cli.caudal_json("audit --since 10m").at("events");
    bool rotated_key = false;
    for (const auto& e : events)
      rotated_key |= e.at("action") == "rotate_signing_key";
    if (rotated_key)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto has = [&](const std::string& action, const std::string& outcome) {
    for (const auto& e : events)
      if (e.at("action") == action && e.at("outcome") == outcome)
        return true;
    return false;
  };
  CHECK(has("create_client", "ok"));
  CHECK(has("create_client", "invalid_request"));
  CHECK(has("rotate_client_secret", "ok"));
  CHECK(has("revoke_client", "ok"));
  CHECK(has("revoke_client", "invalid_request"));
  CHECK(has("list_clients", "ok"));
  CHECK(has("rotate_signing_key", "ok"));
  CHECK(has("authenticate", "unauthenticated"));
  CHECK(has("create_accounts", "forbidden"));
  for (const auto& e : events) {
    CHECK(e.at("source").get<std::string>().rfind("127.0.0.1:", 0) == 0);
    CHECK(e.at("detail").get<std::string>().find(reader_secret) == std::string::npos);
  }
  cli.usage_error("audit --since yesterday");
  cli.usage_error("audit");

  // An access token from `caudal token` opens sessions alone; --auth-scopes narrows what is asked for.
  const json tok = cli.caudal_json("token --tenant acme --auth-scopes ledger:read");
  CHECK(tok.at("scopes") == json::array({"ledger:read"}));
  CHECK(tok.at("tenant_id") == tenant_id);
  const std::string jwt = tok.at("access_token").get<std::string>();
  CHECK(std::count(jwt.begin(), jwt.end(), '.') == 2);
  CHECK(cli.caudal_json("account get --tenant acme --id 1 --access-token " + jwt).contains("accounts"));
  CHECK(cli.caudal_json("account create --tenant acme --id 1 --ledger 1 --code 1 --access-token " + jwt, 1) ==
        error("forbidden", false));
  CHECK(cli.caudal_json("account get --tenant acme --id 1 --access-token " + jwt + "x", 1) ==
        error("unauthenticated", false));
  (void)cli.caudal_json("tenant create --name globex --country BR");
  cli.usage_error("account get --tenant globex --id 1 --access-token " + jwt);  // acme's token, not globex's
  CHECK(cli.caudal_json("token --auth-scopes ledger:write", 1) == error("forbidden", false));  // operator: admin only
  CHECK(cli.caudal_json("token").at("scopes") == json::array({"admin"}));
}

TEST_CASE("ledger commands retry a retryable failure with the same ids") {
  // A crashed tenant restarts after 3 s: until then its requests answer tenant_unavailable (retryable).
  ledger_fixture fx("cli_retry", {"--restart-backoff-ms", "3000", "--restart-backoff-max-ms", "3000"});
  cli_sandbox cli;
  cli.point_at(*fx.node);
  cli.caudal_json("tenant create --name acme --country MX");
  CHECK(cli.caudal_json("account create --tenant acme --id 1 --ledger 1 --code 10") == results({"ok"}));
  CHECK(cli.caudal_json("account create --tenant acme --id 2 --ledger 1 --code 10") == results({"ok"}));
  const auto tenant = client::find_tenant(cli.read_client_file(), "acme");
  REQUIRE(tenant.has_value());

  auto op = fx.operator_session();
  client::fault crash;
  crash.kind = client::fault_kind::crash_tenant;
  crash.tenant = tenant_id{tenant->id};
  REQUIRE(op.inject_fault(crash).ok());
  // Sent while the tenant is down: retried until it is back, then applied once.
  const auto started = std::chrono::steady_clock::now();
  CHECK(cli.caudal_json("transfer create --tenant acme --id 7 --debit 1 --credit 2 --amount 5 --ledger 1 --code 1") ==
        results({"ok"}));
  MESSAGE("answered after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
          << " ms");
  CHECK(sql_one(*fx.db.connect(), "SELECT count(*) FROM transfers") == "1");
}
