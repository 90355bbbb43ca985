// Node configuration: defaults < file < flags, CAUDAL_PG_URL, validation messages, the example file,
// and the operator secret file reader.
#include "cluster/node_config.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace caudal;
using namespace caudal::cluster;

namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

const env_lookup no_env = env_of({});
const env_lookup pg_env = env_of({{"CAUDAL_PG_URL", "postgresql://env/db"}});

// The failure text of a parse expected to fail.
std::string parse_error(const std::string& toml, const env_lookup& env = pg_env) {
  auto r = parse_node_config(toml, "node.toml", env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::invalid_request);
  return r.error().detail;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// A scratch folder removed at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/caudal_node_config_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
};

// Runs load_node_config on a command line given as strings.
result<node_config> load(std::vector<std::string> args, const env_lookup& env = pg_env) {
  args.insert(args.begin(), "caudal-node");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return load_node_config(static_cast<int>(args.size()), argv.data(), env);
}

}  // namespace

TEST_CASE("defaults, with the PostgreSQL URL from CAUDAL_PG_URL") {
  auto r = parse_node_config("", "node.toml", pg_env);
  REQUIRE(r.ok());
  const node_config& c = *r;
  CHECK(c.node_id == "n1");
  CHECK(c.region == "local");
  CHECK(c.rpc_listen == "127.0.0.1:7400");
  CHECK(c.http_listen == "127.0.0.1:7480");
  CHECK(c.pg_url == "postgresql://env/db");
  CHECK(c.pg_readers == 4);
  CHECK(c.pg_writers == 2);
  CHECK(c.sql_dir == CAUDAL_DEFAULT_SQL_DIR);
  CHECK(c.operator_client_id == "operator");
  CHECK(c.operator_secret_file.empty());
  CHECK(c.tenant_queue_items == 65536);
  CHECK(c.max_active_tenants == 10000);
  CHECK(c.working_set_entries == 200000);
  CHECK(c.account_actors_per_tenant == 10000);
  CHECK(c.request_timeout_ms == 10000);
  CHECK(c.writer_max_items == 65536);
  CHECK(c.account_idle_ms == 60000);
  CHECK(c.tenant_idle_ms == 300000);
  CHECK(c.restart_backoff_ms == 50);
  CHECK(c.restart_backoff_max_ms == 5000);
  CHECK(c.restart_budget == 5);
  CHECK(c.restart_window_ms == 10000);
  CHECK(c.level == log_level::info);
  CHECK(c.log_file.empty());
  CHECK_FALSE(c.test_hooks);
}

TEST_CASE("no PostgreSQL URL anywhere is an error naming the three places") {
  std::string e = parse_error("", no_env);
  CHECK(contains(e, "postgres.url"));
  CHECK(contains(e, "--pg-url"));
  CHECK(contains(e, "CAUDAL_PG_URL"));
  // The file's URL wins over the environment.
  auto r = parse_node_config("[postgres]\nurl = \"postgresql://file/db\"\n", "node.toml", pg_env);
  REQUIRE(r.ok());
  CHECK(r->pg_url == "postgresql://file/db");
}

TEST_CASE("every key of the file is read") {
  auto r = parse_node_config(R"(
[node]
id = "node-7.a"
region = "mx"
[rpc]
listen = "0.0.0.0:0"
[http]
listen = "[::1]:0"
[postgres]
url = "postgresql://u@h/db"
readers = 64
sql_dir = "/opt/sql"
[operator]
client_id = "ops"
secret_file = "/run/secrets/op"
[limits]
tenant_queue_items = 100
max_active_tenants = 2
working_set_entries = 3
account_actors_per_tenant = 4
request_timeout_ms = 5
writer_max_items = 8190
[timing]
account_idle_ms = 6
tenant_idle_ms = 7
restart_backoff_ms = 8
restart_backoff_max_ms = 9
restart_budget = 0
restart_window_ms = 11
[log]
level = "trace"
file = "/var/log/caudal.log"
[testing]
hooks = true
)",
                             "node.toml", no_env);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().detail));
  const node_config& c = *r;
  CHECK(c.node_id == "node-7.a");
  CHECK(c.region == "mx");
  CHECK(c.rpc_listen == "0.0.0.0:0");
  CHECK(c.http_listen == "[::1]:0");
  CHECK(c.pg_url == "postgresql://u@h/db");
  CHECK(c.pg_readers == 64);
  CHECK(c.sql_dir == "/opt/sql");
  CHECK(c.operator_client_id == "ops");
  CHECK(c.operator_secret_file == "/run/secrets/op");
  CHECK(c.tenant_queue_items == 100);
  CHECK(c.max_active_tenants == 2);
  CHECK(c.working_set_entries == 3);
  CHECK(c.account_actors_per_tenant == 4);
  CHECK(c.request_timeout_ms == 5);
  CHECK(c.writer_max_items == 8190);
  CHECK(c.account_idle_ms == 6);
  CHECK(c.tenant_idle_ms == 7);
  CHECK(c.restart_backoff_ms == 8);
  CHECK(c.restart_backoff_max_ms == 9);
  CHECK(c.restart_budget == 0);
  CHECK(c.restart_window_ms == 11);
  CHECK(c.level == log_level::trace);
  CHECK(c.log_file == "/var/log/caudal.log");
  CHECK(c.test_hooks);
}

TEST_CASE("the example file documents every key with its default") {
  std::ifstream in(std::string(CAUDAL_DEFAULT_SQL_DIR) + "/../../config/node.example.toml");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  auto r = parse_node_config(text.str(), "node.example.toml", pg_env);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().detail));
  auto d = parse_node_config("", "empty", pg_env);
  REQUIRE(d.ok());
  CHECK(r->node_id == d->node_id);
  CHECK(r->rpc_listen == d->rpc_listen);
  CHECK(r->sql_dir == d->sql_dir);
  CHECK(r->writer_max_items == d->writer_max_items);
  CHECK(r->restart_window_ms == d->restart_window_ms);
  CHECK(r->level == d->level);
  CHECK(r->shard_count == d->shard_count);
  CHECK(r->lease_ms == d->lease_ms);
  CHECK(r->heartbeat_ms == d->heartbeat_ms);
  CHECK(r->silent_after_ms == d->silent_after_ms);
  // Every flag named in --help appears in the example file.
  std::string usage = node_config_usage();
  for (const char* flag : {"--node-id", "--region", "--rpc-listen", "--http-listen", "--pg-url", "--pg-readers",
                           "--sql-dir", "--operator-client-id", "--operator-secret-file", "--tenant-queue-items",
                           "--max-active-tenants", "--working-set-entries", "--account-actors-per-tenant",
                           "--request-timeout-ms", "--writer-max-items", "--account-idle-ms", "--tenant-idle-ms",
                           "--restart-backoff-ms", "--restart-backoff-max-ms", "--restart-budget",
                           "--restart-window-ms", "--shard-count", "--lease-ms", "--heartbeat-ms",
                           "--silent-after-ms", "--log-level", "--log-file", "--test-hooks", "--config"}) {
    std::string flag_text = flag;
    CAPTURE(flag_text);
    CHECK(contains(usage, flag));
    if (std::string_view(flag) != "--config") CHECK(contains(text.str(), std::string("# ") + flag + ":"));
  }
}

TEST_CASE("unknown sections and keys are errors naming them") {
  CHECK(contains(parse_error("[limits]\ntenant_queue_item = 5\n"), "unknown key 'limits.tenant_queue_item'"));
  CHECK(contains(parse_error("[limits]\ntenant_queue_item = 5\n"), "node.toml:2"));
  CHECK(contains(parse_error("[limit]\nx = 1\n"), "unknown section [limit]"));
  CHECK(contains(parse_error("readers = 4\n"), "unknown key 'readers'"));
  CHECK(contains(parse_error("[postgres.extra]\na = 1\n"), "unknown key 'postgres.extra'"));
}

TEST_CASE("wrong types are errors naming the key") {
  CHECK(contains(parse_error("[postgres]\nreaders = \"4\"\n"), "postgres.readers: expected a non-negative integer"));
  CHECK(contains(parse_error("[postgres]\nreaders = -1\n"), "postgres.readers: expected a non-negative integer"));
  CHECK(contains(parse_error("[postgres]\nreaders = 1.5\n"), "postgres.readers: expected a non-negative integer"));
  CHECK(contains(parse_error("[node]\nid = 7\n"), "node.id: expected a string"));
  CHECK(contains(parse_error("[testing]\nhooks = \"yes\"\n"), "testing.hooks: expected true or false"));
  CHECK(contains(parse_error("[log]\nlevel = \"loud\"\n"), "log.level: expected"));
  CHECK(contains(parse_error("[log]\nlevel = \"warning\"\n"), "log.level: expected"));
}

TEST_CASE("malformed TOML reports line and column") {
  std::string e = parse_error("[node]\nid = \"n1\"\nregion = \n");
  CHECK(contains(e, "node.toml:3:"));
}

TEST_CASE("numbers out of range are errors with the range") {
  CHECK(contains(parse_error("[postgres]\nreaders = 0\n"), "postgres.readers (--pg-readers) must be in 1..64, got 0"));
  CHECK(contains(parse_error("[postgres]\nreaders = 65\n"), "must be in 1..64, got 65"));
  CHECK(contains(parse_error("[limits]\nwriter_max_items = 8189\n"), "limits.writer_max_items"));
  CHECK(contains(parse_error("[limits]\ntenant_queue_items = 0\n"), "limits.tenant_queue_items"));
  CHECK(contains(parse_error("[limits]\nrequest_timeout_ms = 600001\n"), "limits.request_timeout_ms"));
  CHECK(contains(parse_error("[timing]\nrestart_budget = 1001\n"), "timing.restart_budget"));
  CHECK(contains(parse_error("[timing]\nrestart_backoff_ms = 100\nrestart_backoff_max_ms = 99\n"),
                 "restart_backoff_max_ms (99) is below timing.restart_backoff_ms (100)"));
  CHECK(contains(parse_error("[limits]\nmax_active_tenants = 9223372036854775807\n"), "limits.max_active_tenants"));
}

TEST_CASE("names and addresses are checked") {
  CHECK(contains(parse_error("[node]\nid = \"\"\n"), "node.id"));
  CHECK(contains(parse_error("[node]\nid = \"has space\"\n"), "node.id"));
  CHECK(contains(parse_error("[node]\nregion = \"a/b\"\n"), "node.region"));
  CHECK(contains(parse_error("[operator]\nclient_id = \"\"\n"), "operator.client_id"));
  CHECK(contains(parse_error("[rpc]\nlisten = \"localhost\"\n"), "rpc.listen (--rpc-listen): 'localhost' is not"));
  CHECK(contains(parse_error("[http]\nlisten = \":7480\"\n"), "empty host"));
  CHECK(contains(parse_error("[http]\nlisten = \"h:70000\"\n"), "0..65535"));
  CHECK(contains(parse_error("[http]\nlisten = \"h:-1\"\n"), "decimal"));
  CHECK(contains(parse_error("[http]\nlisten = \"h:\"\n"), "decimal"));
  CHECK(contains(parse_error("[http]\nlisten = \"::1:7480\"\n"), "brackets"));
  CHECK(contains(parse_error("[http]\nlisten = \"[::1\"\n"), "unclosed"));
  CHECK(contains(parse_error("[http]\nlisten = \"127.0.0.1:7400\"\n"), "same address"));
  // Both on port 0 is fine: each picks its own free port.
  CHECK(parse_node_config("[rpc]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n", "t", pg_env).ok());
}

TEST_CASE("parse_host_port") {
  auto a = parse_host_port("127.0.0.1:7400");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 7400);
  auto b = parse_host_port("[::1]:0");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->port == 0);
  auto c = parse_host_port("*:65535");
  REQUIRE(c.ok());
  CHECK(c->host == "*");
  CHECK(c->port == 65535);
  CHECK_FALSE(parse_host_port("host:123456").ok());
  CHECK_FALSE(parse_host_port("host:+80").ok());
  CHECK_FALSE(parse_host_port("ho st:80").ok());
  CHECK_FALSE(parse_host_port("[::1]7400").ok());
  CHECK_FALSE(parse_host_port("").ok());
}

TEST_CASE("load_node_config: flags override the file, the file overrides defaults") {
  temp_dir dir;
  std::string file = dir.write("node.toml",
                               "[node]\nid = \"from-file\"\nregion = \"file-region\"\n"
                               "[postgres]\nreaders = 8\n[limits]\nrequest_timeout_ms = 2000\n");
  auto r = load({"--config", file, "--node-id", "from-flag", "--pg-readers", "16", "--test-hooks", "--log-level",
                 "debug", "--http-listen", "127.0.0.1:0"});
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().detail));
  CHECK(r->config_file == file);
  CHECK(r->node_id == "from-flag");        // flag over file
  CHECK(r->region == "file-region");       // file over default
  CHECK(r->pg_readers == 16);              // flag over file
  CHECK(r->request_timeout_ms == 2000);    // file over default
  CHECK(r->tenant_idle_ms == 300000);      // default
  CHECK(r->test_hooks);
  CHECK(r->level == log_level::debug);
  CHECK(r->http_listen == "127.0.0.1:0");
  CHECK(r->pg_url == "postgresql://env/db");  // from the environment

  auto no_file = load({"--pg-url", "postgresql://flag/db", "--writer-max-items", "10000"}, no_env);
  REQUIRE(no_file.ok());
  CHECK(no_file->pg_url == "postgresql://flag/db");
  CHECK(no_file->writer_max_items == 10000);
  CHECK(no_file->config_file.empty());
  CHECK_FALSE(no_file->test_hooks);
}

TEST_CASE("load_node_config: bad flags, files and --help") {
  auto neg = load({"--pg-readers", "-5"});
  REQUIRE_FALSE(neg.ok());
  CHECK(contains(neg.error().detail, "--pg-readers: expected a non-negative decimal integer, got '-5'"));
  auto octal = load({"--pg-readers", "0x10"});
  REQUIRE_FALSE(octal.ok());
  auto range = load({"--pg-readers", "100"});
  REQUIRE_FALSE(range.ok());
  CHECK(contains(range.error().detail, "must be in 1..64, got 100"));
  auto level = load({"--log-level", "verbose"});
  REQUIRE_FALSE(level.ok());
  CHECK(contains(level.error().detail, "--log-level"));
  auto unknown = load({"--no-such-flag", "1"});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == errc::invalid_request);
  CHECK(contains(unknown.error().detail, "--help"));
  auto missing = load({"--config", "/nonexistent/node.toml"});
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().detail, "/nonexistent/node.toml"));
  temp_dir dir;
  auto bad_file = load({"--config", dir.write("bad.toml", "[limits]\nbogus = 1\n")});
  REQUIRE_FALSE(bad_file.ok());
  CHECK(contains(bad_file.error().detail, "bad.toml:2: unknown key 'limits.bogus'"));
  auto no_pg = load({}, no_env);
  REQUIRE_FALSE(no_pg.ok());
  CHECK(contains(no_pg.error().detail, "CAUDAL_PG_URL"));
  std::ostringstream printed;
  auto* saved = std::cout.rdbuf(printed.rdbuf());
  auto help = load({"--help"});
  std::cout.rdbuf(saved);
  CHECK(contains(printed.str(), "--pg-readers"));
  REQUIRE_FALSE(help.ok());
  CHECK(help.error().code == errc::none);
  CHECK(contains(node_config_usage(), "tenant_queue_items"));
}

TEST_CASE("read_secret_file: trims the newline, warns on open modes, never echoes the secret") {
  temp_dir dir;
  auto a = read_secret_file(dir.write("a", "s3cr3t-value\n"));
  REQUIRE(a.ok());
  CHECK(a->secret == "s3cr3t-value");
  CHECK(a->warning.empty());
  auto b = read_secret_file(dir.write("b", "s3cr3t-value\r\n", 0644));
  REQUIRE(b.ok());
  CHECK(b->secret == "s3cr3t-value");
  CHECK(contains(b->warning, "644"));
  CHECK_FALSE(contains(b->warning, "s3cr3t"));
  auto c = read_secret_file(dir.write("c", "no-newline"));
  REQUIRE(c.ok());
  CHECK(c->secret == "no-newline");

  auto empty = read_secret_file(dir.write("empty", "\n"));
  REQUIRE_FALSE(empty.ok());
  CHECK(contains(empty.error().detail, "empty"));
  auto two_lines = read_secret_file(dir.write("two", "top-secret\nmore\n"));
  REQUIRE_FALSE(two_lines.ok());
  CHECK_FALSE(contains(two_lines.error().detail, "top-secret"));
  CHECK_FALSE(read_secret_file(dir.write("long", std::string(1025, 'x'))).ok());
  CHECK(read_secret_file(dir.write("longest", std::string(1024, 'x') + "\n")).ok());
  CHECK_FALSE(read_secret_file(dir.path).ok());  // a directory
  auto missing = read_secret_file(dir.path + "/missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().detail, "missing"));
  CHECK_FALSE(read_secret_file("").ok());
}

TEST_CASE("TLS settings: required unless insecure (the cluster CA too), never both, cert and key together") {
  auto defaults = parse_node_config("", "node.toml", pg_env);
  REQUIRE(defaults.ok());
  auto none = check_transport_security(*defaults);
  REQUIRE_FALSE(none.ok());
  CHECK(contains(none.error().detail, "TLS 1.3 only"));
  CHECK(contains(none.error().detail, "--insecure"));

  auto tls = parse_node_config("[tls]\ncert_file = \"n.pem\"\nkey_file = \"n.key\"\nca_file = \"ca.pem\"\n",
                               "node.toml", pg_env);
  REQUIRE(tls.ok());
  CHECK(tls->tls_cert_file == "n.pem");
  CHECK(tls->tls_key_file == "n.key");
  CHECK(tls->tls_ca_file == "ca.pem");
  CHECK(tls->tls_handshake_timeout_ms == 10000);
  CHECK(check_transport_security(*tls).ok());

  // Nodes authenticate each other with the cluster CA: a TLS node without it does not start.
  auto no_ca = parse_node_config("[tls]\ncert_file = \"n.pem\"\nkey_file = \"n.key\"\n", "node.toml", pg_env);
  REQUIRE(no_ca.ok());
  auto refused = check_transport_security(*no_ca);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::invalid_request);
  CHECK(contains(refused.error().detail, "tls.ca_file (--tls-ca-file)"));
  CHECK(contains(refused.error().detail, "mutual TLS 1.3"));
  auto flags_no_ca = load({"--tls-cert-file", "n.pem", "--tls-key-file", "n.key"});
  REQUIRE(flags_no_ca.ok());
  CHECK_FALSE(check_transport_security(*flags_no_ca).ok());
  auto flags_ca = load({"--tls-cert-file", "n.pem", "--tls-key-file", "n.key", "--tls-ca-file", "ca.pem"});
  REQUIRE(flags_ca.ok());
  CHECK(check_transport_security(*flags_ca).ok());

  auto insecure = parse_node_config("[tls]\ninsecure = true\n", "node.toml", pg_env);
  REQUIRE(insecure.ok());
  CHECK(check_transport_security(*insecure).ok());

  CHECK(contains(parse_error("[tls]\ninsecure = true\ncert_file = \"n.pem\"\nkey_file = \"n.key\"\n"),
                 "choose TLS or plain TCP"));
  CHECK(contains(parse_error("[tls]\ncert_file = \"n.pem\"\n"), "go together"));
}

TEST_CASE("boolean flags are independent (--insecure does not set --test-hooks)") {
  auto only_insecure = load({"--insecure"});
  REQUIRE(only_insecure.ok());
  CHECK(only_insecure->insecure);
  CHECK_FALSE(only_insecure->test_hooks);
  auto only_hooks = load({"--test-hooks"});
  REQUIRE(only_hooks.ok());
  CHECK(only_hooks->test_hooks);
  CHECK_FALSE(only_hooks->insecure);
}

TEST_CASE("cluster timing: a lease outlives three heartbeats; a node is not declared down before its lease ends") {
  auto ok = parse_node_config("[cluster]\nlease_ms = 3000\nheartbeat_ms = 1000\nsilent_after_ms = 3000\n", "node.toml",
                              pg_env);
  REQUIRE(ok.ok());
  CHECK(ok->lease_ms == 3000);
  CHECK(ok->shard_count == 256);
  CHECK(contains(parse_error("[cluster]\nlease_ms = 2999\nheartbeat_ms = 1000\nsilent_after_ms = 5000\n"),
                 "cluster.heartbeat_ms (1000) must be at most lease_ms / 3"));
  CHECK(contains(parse_error("[cluster]\nsilent_after_ms = 4000\n"), "cluster.silent_after_ms (4000) must be at least"));
  CHECK(contains(parse_error("[cluster]\nshard_count = 0\n"), "cluster.shard_count"));
}

TEST_CASE("cluster.regions and cluster.residency: parsed, and bad entries named") {
  auto r = parse_regions("eu:32, br:16");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK(r->at(0).region == "eu");
  CHECK(r->at(0).shards == 32);
  CHECK(r->at(1).region == "br");
  CHECK(parse_regions("").value().empty());
  CHECK(contains(parse_regions("eu").error().detail, "'eu'"));
  CHECK(contains(parse_regions("eu:0").error().detail, "'eu:0'"));
  CHECK(contains(parse_regions("eu:3x").error().detail, "'eu:3x'"));
  CHECK(contains(parse_regions("eu:1,eu:2").error().detail, "named twice"));

  auto c = parse_residency("DE:eu,FR:eu");
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  CHECK(c->at(1).country == "FR");
  CHECK(c->at(1).region == "eu");
  CHECK(contains(parse_residency("de:eu").error().detail, "'de:eu'"));
  CHECK(contains(parse_residency("DEU:eu").error().detail, "'DEU:eu'"));
  CHECK(contains(parse_residency("DE:eu,DE:br").error().detail, "given twice"));

  // A rule naming a region the cluster does not get is a configuration error.
  CHECK(contains(parse_error("[cluster]\nregions = \"eu:8\"\nresidency = \"BR:br\"\n"), "not in cluster.regions"));
  CHECK(load({"--regions", "eu:8", "--residency", "DE:eu"}).ok());
}
