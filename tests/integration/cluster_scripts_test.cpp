// scripts/cluster as an operator runs it (issue 4, point 7): `up --nodes 2`, `add`, `status`, `drain`,
// `remove` (and its refusal to remove the last running node), `down`, with real node processes on a
// PostgreSQL of the test's own (CAUDAL_PG_URL: the scripts start none) and a temporary CAUDAL_STATE, so the
// developer's .caudal/ is never touched. The CLI's defaults file the scripts write must always name a
// running node.
//
// The nodes run the default timings (heartbeat 1 s, lease 5 s): a drain takes a few heartbeats. Every wait
// is the scripts' own (health 60 s, drain 60 s) or a poll with a 60 s deadline.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/cluster_helpers.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/test_database.hpp"

using namespace caudal;
using caudal::test::eventually;
using caudal::test::run_command;
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
  std::string out;  // stdout and stderr
};

// A temporary state folder for scripts/cluster; `down` (and removal of the folder) when the test ends,
// whatever happened.
class scripts_sandbox {
 public:
  explicit scripts_sandbox(const std::string& pg_url) : pg_url_(pg_url) {
    std::string tmpl = (fs::temp_directory_path() / "caudal-scripts-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
  }
  ~scripts_sandbox() {
    int code = 0;
    run_command(env() + quote(std::string(CAUDAL_SCRIPTS_DIR) + "/cluster") + " down >/dev/null 2>&1", &code);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  scripts_sandbox(const scripts_sandbox&) = delete;
  scripts_sandbox& operator=(const scripts_sandbox&) = delete;

  const fs::path& state() const { return dir_; }

  // `scripts/cluster ARGS`.
  ran cluster(const std::string& args) const {
    ran r;
    r.out = run_command(env() + quote(std::string(CAUDAL_SCRIPTS_DIR) + "/cluster") + " " + args + " 2>&1", &r.code);
    return r;
  }

  // `caudal ARGS --json` with the defaults file the scripts wrote (no other flag: it must name a running node).
  json cli_json(const std::string& args) const {
    int code = -1;
    const std::string out = run_command("CAUDAL_CLIENT_FILE=" + quote((dir_ / "client.json").string()) + " " +
                                            quote(CAUDAL_CLI_BINARY) + " " + args + " --json 2>&1",
                                        &code);
    INFO("caudal " << args << ": exit " << code << ": " << out);
    REQUIRE(code == 0);
    auto j = json::parse(out, nullptr, false);
    REQUIRE(j.is_object());
    return j;
  }

  std::string rpc_of(const std::string& node) const { return toml_value(node, "rpc", "listen"); }

  // `key` of `[section]` in the node's config (the scripts write simple quoted values).
  std::string toml_value(const std::string& node, const std::string& section, const std::string& key) const {
    std::ifstream in(dir_ / "nodes" / (node + ".toml"));
    std::string line, current;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] == '[') {
        current = line.substr(0, line.find(']') + 1);
        continue;
      }
      if (current == "[" + section + "]" && line.rfind(key + " = \"", 0) == 0) {
        auto start = key.size() + 4;
        return line.substr(start, line.find('"', start) - start);
      }
    }
    return "";
  }

 private:
  std::string env() const {
    return "CAUDAL_STATE=" + quote(dir_.string()) + " CAUDAL_PG_URL=" + quote(pg_url_) +
           " CAUDAL_NODE_BIN=" + quote(CAUDAL_NODE_BINARY) + " CAUDAL_CLI_BIN=" + quote(CAUDAL_CLI_BINARY) +
           " CAUDAL_HEALTH_TIMEOUT_S=60 CAUDAL_DRAIN_TIMEOUT_S=60 ";
  }

  std::string pg_url_;
  fs::path dir_;
};

// node id -> {state, shards} from `caudal cluster status --json`.
std::map<std::string, std::pair<std::string, int>> members(const json& status) {
  std::map<std::string, std::pair<std::string, int>> out;
  for (const auto& n : status.at("nodes"))
    out[n.at("id").get<std::string>()] = {n.at("state").get<std::string>(), n.at("shards").get<int>()};
  return out;
}

std::string server_in_client_file(const scripts_sandbox& sb) {
  std::ifstream in(sb.state() / "client.json");
  auto j = json::parse(in, nullptr, false);
  return j.is_object() && j.contains("server") ? j.at("server").get<std::string>() : std::string();
}

}  // namespace

TEST_CASE("scripts/cluster: up --nodes 2, add, status, drain, remove (never the last node), down") {
  caudal::test::test_database db("cluster_scripts", /*migrate=*/false);  // the nodes migrate it
  scripts_sandbox sb(db.url());

  ran r = sb.cluster("up --nodes 2");
  INFO("up: " << r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("n1: up") != std::string::npos);
  CHECK(r.out.find("n2: up") != std::string::npos);
  // Each node its own ports, the cluster (CAF) port among them.
  const std::string c1 = sb.toml_value("n1", "cluster", "listen"), c2 = sb.toml_value("n2", "cluster", "listen");
  CHECK(c1.rfind("127.0.0.1:", 0) == 0);
  CHECK(c2.rfind("127.0.0.1:", 0) == 0);
  CHECK(c1 != c2);
  CHECK(sb.rpc_of("n1") != sb.rpc_of("n2"));
  CHECK(server_in_client_file(sb) == sb.rpc_of("n1"));

  r = sb.cluster("add");
  INFO("add: " << r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("n3: up") != std::string::npos);
  CHECK(r.out.find("rpc " + sb.rpc_of("n3")) != std::string::npos);
  CHECK(sb.toml_value("n3", "node", "region") == "local");

  r = sb.cluster("status");
  INFO("status: " << r.out);
  REQUIRE(r.code == 0);
  for (const char* node : {"n1:", "n2:", "n3:"}) {
    const auto at = r.out.find(node);
    REQUIRE(at != std::string::npos);
    const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
    CHECK(line.find("up") != std::string::npos);
    CHECK(line.find("health ok") != std::string::npos);
  }
  // Three members up, sharing the 256 shards once the hand-offs to the newer nodes are done.
  json status;
  REQUIRE(eventually([&] {
    status = sb.cli_json("cluster status");
    auto m = members(status);
    int total = 0;
    for (const auto& [id, s] : m)
      total += s.first == "up" && s.second > 0 ? s.second : 0;
    return m.size() == 3 && total == 256;
  }));

  r = sb.cluster("drain n2");
  INFO("drain: " << r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("holds no shard") != std::string::npos);
  auto m = members(sb.cli_json("cluster status"));
  CHECK(m["n2"] == std::make_pair(std::string("draining"), 0));

  // n1 (which the CLI's defaults name) goes: its shards to n3, the defaults to another running node.
  r = sb.cluster("remove n1");
  INFO("remove n1: " << r.out);
  REQUIRE(r.code == 0);
  CHECK_FALSE(fs::exists(sb.state() / "nodes" / "n1.toml"));
  const std::string server = server_in_client_file(sb);
  CHECK((server == sb.rpc_of("n2") || server == sb.rpc_of("n3")));
  // Through the defaults (they name a running node); the shards n1 released are taken on n3's next heartbeat.
  CHECK(eventually([&] {
    m = members(sb.cli_json("cluster status"));
    return m["n3"] == std::make_pair(std::string("up"), 256);
  }));
  CHECK(m["n1"] == std::make_pair(std::string("down"), 0));

  r = sb.cluster("remove n2");
  INFO("remove n2: " << r.out);
  REQUIRE(r.code == 0);
  CHECK(server_in_client_file(sb) == sb.rpc_of("n3"));

  // The last running node stays.
  r = sb.cluster("remove n3");
  INFO("remove n3: " << r.out);
  CHECK(r.code == 1);
  CHECK(r.out.find("last running node") != std::string::npos);
  CHECK(fs::exists(sb.state() / "nodes" / "n3.toml"));
  m = members(sb.cli_json("cluster status"));
  CHECK(m["n3"] == std::make_pair(std::string("up"), 256));

  r = sb.cluster("down");
  INFO("down: " << r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("n3: stopped") != std::string::npos);
  r = sb.cluster("status");
  const auto at = r.out.find("n3:");
  REQUIRE(at != std::string::npos);
  CHECK(r.out.substr(at, r.out.find('\n', at) - at).find(" down ") != std::string::npos);
}
