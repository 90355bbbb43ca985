// `caudal bench` against a real node on a real PostgreSQL (issue 3, points 1 and 6): it runs briefly, its
// JSON line holds the figures and settings, every transfer it counts is in the database, verify passes,
// and bad options are usage errors. No figure is asserted against a target: the benchmark is a tool.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "client/client_file.hpp"
#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct bench_run {
  int code = -1;
  std::string out;
  json line;  // the last line of stdout, parsed
};

class bench_sandbox {
 public:
  explicit bench_sandbox(const node_process& node) {
    std::string tmpl = (fs::temp_directory_path() / "caudal-bench-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    client::client_file file;
    file.server = node.rpc_address();
    file.client_id = node.options().operator_client_id;
    file.client_secret = node.options().operator_secret;
    file.ca_file = node.ca_file();
    REQUIRE(client::save_client_file(dir_ / "client.json", file).ok());
  }
  ~bench_sandbox() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  bench_run run(const std::string& args) const {
    bench_run r;
    r.out = run_command(
        "CAUDAL_CLIENT_FILE='" + (dir_ / "client.json").string() + "' '" CAUDAL_CLI_BINARY "' bench " + args + " 2>&1",
        &r.code);
    const auto end = r.out.find_last_not_of('\n');
    const auto start = end == std::string::npos ? std::string::npos : r.out.rfind('\n', end);
    const std::string last = end == std::string::npos ? "" : r.out.substr(start == std::string::npos ? 0 : start + 1);
    r.line = json::parse(last, nullptr, /*allow_exceptions=*/false);
    return r;
  }

 private:
  fs::path dir_;
};

int64_t count_of(storage::pg_connection& c, const std::string& sql) {
  auto r = c.query(sql, {});
  if (!r.ok())
    FAIL(sql << ": " << r.error().detail);
  return std::stoll(r->text(0, 0));
}

}  // namespace

TEST_CASE("bench: closed loop, batches, several tenants: figures, settings, every counted transfer stored") {
  ledger_fixture f("bench_closed");
  bench_sandbox box(*f.node);
  const auto r = box.run("--tenants 3 --accounts 40 --clients 2 --batch 50 --seconds 1.5 --warmup 0.3 --hot 0.5");
  INFO(r.out);
  REQUIRE(r.code == 0);
  REQUIRE(r.line.is_object());
  for (const char* key : {"transfers_per_sec", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "batch", "clients",
                          "tenants", "accounts", "hot", "verify_ok", "transfers", "requests"}) {
    INFO(key);
    CHECK(r.line.contains(key));
  }
  CHECK(r.line.at("errors") == 0);
  CHECK(r.line.at("verify_ok") == true);
  CHECK(r.line.at("batch") == 50);
  CHECK(r.line.at("clients") == 2);
  CHECK(r.line.at("tenants") == 3);
  CHECK(r.line.at("accounts") == 40);
  CHECK(r.line.at("hot") == 0.5);
  const auto transfers = r.line.at("transfers").get<int64_t>();
  const auto requests = r.line.at("requests").get<int64_t>();
  CHECK(transfers > 0);
  CHECK(transfers == requests * 50);  // only whole acknowledged batches are counted
  CHECK(r.line.at("p50_ms").get<double>() <= r.line.at("p99_ms").get<double>());
  CHECK(r.line.at("p99_ms").get<double>() <= r.line.at("max_ms").get<double>());
  CHECK(r.out.find("transfers/s") != std::string::npos);  // the text figures come before the JSON line

  // The run's tenants and accounts exist; the database holds at least every transfer counted (the warmup
  // and the requests finishing after the window are stored but not counted).
  auto c = f.db.connect();
  CHECK(count_of(*c, "SELECT count(*) FROM tenants WHERE name LIKE 'bench-%'") == 3);
  CHECK(count_of(*c, "SELECT count(*) FROM accounts") == 3 * 40);
  CHECK(count_of(*c, "SELECT count(*) FROM transfers") >= transfers);
}

TEST_CASE("bench: open loop at a fixed rate sends no more than the schedule") {
  ledger_fixture f("bench_open");
  bench_sandbox box(*f.node);
  const auto r = box.run("--tenants 2 --accounts 10 --clients 2 --batch 1 --rate 40 --seconds 1 --warmup 0.5 --json");
  INFO(r.out);
  REQUIRE(r.code == 0);
  REQUIRE(r.line.is_object());
  CHECK(r.out.find('\n') == r.out.size() - 1);  // --json: the JSON line only
  CHECK(r.line.at("rate") == 40.0);
  CHECK(r.line.at("errors") == 0);
  CHECK(r.line.at("verify_ok") == true);
  const auto requests = r.line.at("requests").get<int64_t>();
  CHECK(requests > 0);
  CHECK(requests <= 41);  // 40/s over a 1 s window, one more at its edge at most
  auto c = f.db.connect();
  CHECK(count_of(*c, "SELECT count(*) FROM transfers") <= 61);  // warmup + window: 1.5 s at 40/s, plus the edge
}

TEST_CASE("bench: bad options are usage errors and nothing is created") {
  ledger_fixture f("bench_usage");
  bench_sandbox box(*f.node);
  for (const char* args : {"--batch 9000", "--hot 2", "--clients 0", "--accounts 5 --hot 0.5", "--seconds abc"}) {
    const auto r = box.run(args);
    INFO(args << "\n" << r.out);
    CHECK(r.code == 2);
    CHECK(r.out.find("caudal: --") != std::string::npos);
  }
  auto c = f.db.connect();
  CHECK(count_of(*c, "SELECT count(*) FROM tenants WHERE name LIKE 'bench-%'") == 0);
}

TEST_CASE("bench: a run longer than an access token signs in again and loses nothing") {
  // Sessions end with their token (10 s here, the node's minimum): the run outlives it.
  ledger_fixture f("bench_relogin", {"--token-ttl-s", "10"});
  bench_sandbox box(*f.node);
  const auto r = box.run("--tenants 1 --accounts 10 --clients 1 --batch 10 --rate 20 --seconds 11 --warmup 1 --json");
  INFO(r.out);
  REQUIRE(r.code == 0);
  REQUIRE(r.line.is_object());
  CHECK(r.line.at("errors") == 0);
  CHECK(r.line.at("retries").get<int64_t>() >= 1);  // at least one request met the expired session
  CHECK(r.line.at("verify_ok") == true);
}
