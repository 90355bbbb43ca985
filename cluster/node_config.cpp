#include "cluster/node_config.hpp"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <toml++/toml.h>
#include <variant>
#include <vector>

#include "base/limits.hpp"

namespace caudal::cluster {
namespace {

constexpr size_t max_config_file_bytes = 1 << 20;
constexpr size_t max_secret_file_bytes = 1024;
constexpr const char* pg_url_env = "CAUDAL_PG_URL";

// One setting: where it lives in the file, its flag, its field and (numbers) its range.
// The table drives the file parser, the flags, --help and the range checks, so they cannot drift apart.
using field_ptr = std::variant<std::string node_config::*, uint64_t node_config::*, bool node_config::*,
                               log_level node_config::*>;

struct setting {
  std::string_view section;
  std::string_view key;
  std::string_view flag;  // without the leading "--"
  std::string_view help;
  field_ptr field;
  uint64_t min = 0;
  uint64_t max = 0;
};

const std::vector<setting>& settings() {
  static const std::vector<setting> table = {
      {"node", "id", "node-id", "node id, unique in the cluster ([A-Za-z0-9_.-], up to 64)", &node_config::node_id},
      {"node", "region", "region", "data-residency region label", &node_config::region},
      {"rpc", "listen", "rpc-listen", "client API address host:port (port 0: pick a free one)",
       &node_config::rpc_listen},
      {"rpc", "max_connections", "rpc-max-connections", "client connections served at once (more are closed)",
       &node_config::rpc_max_connections, 1, 1u << 20},
      {"http", "listen", "http-listen", "/metrics and /healthz address host:port (port 0: pick a free one)",
       &node_config::http_listen},
      {"cluster", "listen", "cluster-listen",
       "address other nodes forward requests to, host:port (CAF's network layer, mutual TLS; port 0: pick a free one)",
       &node_config::cluster_listen},
      {"tls", "cert_file", "tls-cert-file", "PEM certificate (chain, leaf first) the client API presents",
       &node_config::tls_cert_file},
      {"tls", "key_file", "tls-key-file", "PEM private key of that certificate (mode 600)", &node_config::tls_key_file},
      {"tls", "ca_file", "tls-ca-file", "PEM CA certificate of the cluster: nodes accept only peers it signed",
       &node_config::tls_ca_file},
      {"tls", "handshake_timeout_ms", "tls-handshake-timeout-ms", "TLS handshakes not done by then are dropped",
       &node_config::tls_handshake_timeout_ms, 100, 600'000},
      {"tls", "insecure", "insecure", "plain TCP on the client API and between nodes, no TLS (development only; never in production)",
       &node_config::insecure},
      {"auth", "token_ttl_s", "token-ttl-s", "access token lifetime in seconds (sessions end with their token)",
       &node_config::token_ttl_s, 10, 86'400},
      {"auth", "revocation_poll_ms", "revocation-poll-ms",
       "how often revocations are read from PostgreSQL (the net under their push by LISTEN/NOTIFY)",
       &node_config::revocation_poll_ms, 100, 600'000},
      {"auth", "max_failures", "auth-max-failures",
       "failed authentications allowed per client id and per source address within the window",
       &node_config::auth_max_failures, 1, 1'000'000},
      {"auth", "failure_window_ms", "auth-failure-window-ms", "the window of auth.max_failures",
       &node_config::auth_failure_window_ms, 1000, 86'400'000},
      {"auth", "key_file", "auth-key-file",
       "file with 64 hex characters: the key that encrypts token signing keys in PostgreSQL (same on every node)",
       &node_config::auth_key_file},
      {"postgres", "url", "pg-url", "PostgreSQL connection URL (empty: env CAUDAL_PG_URL)", &node_config::pg_url},
      {"postgres", "readers", "pg-readers", "PostgreSQL read connections", &node_config::pg_readers, 1, 64},
      {"postgres", "writers", "pg-writers", "batch writers, one PostgreSQL connection each (tenants split among them)",
       &node_config::pg_writers, 1, 16},
      {"postgres", "sql_dir", "sql-dir", "folder of the SQL migrations", &node_config::sql_dir},
      {"operator", "client_id", "operator-client-id", "operator (admin) client id upserted at start",
       &node_config::operator_client_id},
      {"operator", "secret_file", "operator-secret-file",
       "file holding the operator client's secret (empty: no operator upsert)", &node_config::operator_secret_file},
      {"limits", "tenant_queue_items", "tenant-queue-items", "items queued per tenant before 'overloaded'",
       &node_config::tenant_queue_items, 1, 1u << 24},
      {"limits", "tenant_requests_in_flight", "tenant-requests-in-flight",
       "requests (reads too) in progress per tenant before 'overloaded'", &node_config::tenant_requests_in_flight, 1,
       1u << 20},
      {"limits", "max_active_tenants", "max-active-tenants", "tenant actors alive on this node",
       &node_config::max_active_tenants, 1, 1'000'000},
      {"limits", "working_set_entries", "working-set-entries", "accounts cached per tenant working set",
       &node_config::working_set_entries, 1, 100'000'000},
      {"limits", "account_actors_per_tenant", "account-actors-per-tenant", "active account actors per tenant",
       &node_config::account_actors_per_tenant, 1, 1'000'000},
      {"limits", "request_timeout_ms", "request-timeout-ms", "deadline of one client request in the node",
       &node_config::request_timeout_ms, 1, 600'000},
      {"limits", "writer_max_items", "writer-max-items",
       "items in one group commit (at least one full request batch, 8190)", &node_config::writer_max_items,
       limits::max_batch_items, 1u << 20},
      {"timing", "account_idle_ms", "account-idle-ms", "idle account actors are passivated after this",
       &node_config::account_idle_ms, 1, 86'400'000},
      {"timing", "tenant_idle_ms", "tenant-idle-ms", "idle tenant actors are passivated after this",
       &node_config::tenant_idle_ms, 1, 86'400'000},
      {"timing", "restart_backoff_ms", "restart-backoff-ms", "first restart delay (doubles per restart)",
       &node_config::restart_backoff_ms, 1, 60'000},
      {"timing", "restart_backoff_max_ms", "restart-backoff-max-ms", "restart delay cap",
       &node_config::restart_backoff_max_ms, 1, 600'000},
      {"timing", "restart_budget", "restart-budget", "restarts per window before escalating (0: escalate at once)",
       &node_config::restart_budget, 0, 1000},
      {"timing", "restart_window_ms", "restart-window-ms", "the restart budget's window",
       &node_config::restart_window_ms, 1, 3'600'000},
      {"cluster", "shard_count", "shard-count", "shards of a new cluster (an existing cluster keeps its own)",
       &node_config::shard_count, 1, 65536},
      {"cluster", "lease_ms", "lease-ms", "shard lease time past the last renewal (PostgreSQL's clock)",
       &node_config::lease_ms, 300, 600'000},
      {"cluster", "heartbeat_ms", "heartbeat-ms", "heartbeat and lease renewal period (at most lease_ms / 3)",
       &node_config::heartbeat_ms, 100, 200'000},
      {"cluster", "silent_after_ms", "silent-after-ms", "a node silent this long is declared down (>= lease_ms)",
       &node_config::silent_after_ms, 300, 3'600'000},
      {"cluster", "regions", "regions",
       "residency regions of a cluster this node creates, name:shards,... (an existing cluster keeps its own)",
       &node_config::regions},
      {"cluster", "residency", "residency",
       "countries whose tenants' data stays in a region, CC:region,... (with regions, at cluster creation)",
       &node_config::residency},
      {"cluster", "peer_heartbeat_ms", "peer-heartbeat-ms", "heartbeat period on the connections between nodes",
       &node_config::peer_heartbeat_ms, 50, 60'000},
      {"cluster", "peer_timeout_ms", "peer-timeout-ms",
       "a connection to another node silent this long is closed and its forwarded requests fail (>= 2 heartbeats)",
       &node_config::peer_timeout_ms, 100, 600'000},
      {"log", "level", "log-level", "trace, debug, info, warn or error", &node_config::level},
      {"log", "file", "log-file", "log file (empty: stderr)", &node_config::log_file},
      {"testing", "hooks", "test-hooks", "enable the fault-injection test RPCs (never in production)",
       &node_config::test_hooks},
  };
  return table;
}

std::string where(const setting& s) {
  return std::string(s.section) + "." + std::string(s.key) + " (--" + std::string(s.flag) + ")";
}

failure invalid(std::string detail) { return failure{errc::invalid_request, std::move(detail)}; }

std::optional<log_level> parse_log_level(std::string_view s) {
  for (log_level l : {log_level::trace, log_level::debug, log_level::info, log_level::warn, log_level::error}) {
    if (log_level_name(l) == s) return l;
  }
  return std::nullopt;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool valid_name(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

// Sets one setting from a flag's text.
result<void> apply_text(node_config& c, const setting& s, const std::string& text) {
  return std::visit(
      [&](auto member) -> result<void> {
        using T = std::decay_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*member = text;
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (!parse_decimal(text, c.*member)) {
            return invalid("--" + std::string(s.flag) + ": expected a non-negative decimal integer, got '" + text +
                           "'");
          }
        } else if constexpr (std::is_same_v<T, log_level>) {
          auto l = parse_log_level(text);
          if (!l) return invalid("--" + std::string(s.flag) + ": expected trace, debug, info, warn or error, got '" +
                                 text + "'");
          c.*member = *l;
        } else {
          c.*member = text == "true";  // flags are handled by CLI11; kept for completeness
        }
        return {};
      },
      s.field);
}

// Sets one setting from a TOML value, checking its type.
result<void> apply_toml_value(node_config& c, const setting& s, const toml::node& v, std::string_view source) {
  auto at = [&] {
    return std::string(source) + ":" + std::to_string(v.source().begin.line) + ": " + std::string(s.section) + "." +
           std::string(s.key);
  };
  return std::visit(
      [&](auto member) -> result<void> {
        using T = std::decay_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!v.is_string()) return invalid(at() + ": expected a string");
          c.*member = v.as_string()->get();
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (!v.is_integer() || v.as_integer()->get() < 0) return invalid(at() + ": expected a non-negative integer");
          c.*member = static_cast<uint64_t>(v.as_integer()->get());
        } else if constexpr (std::is_same_v<T, log_level>) {
          auto l = v.is_string() ? parse_log_level(v.as_string()->get()) : std::nullopt;
          if (!l) return invalid(at() + ": expected \"trace\", \"debug\", \"info\", \"warn\" or \"error\"");
          c.*member = *l;
        } else {
          if (!v.is_boolean()) return invalid(at() + ": expected true or false");
          c.*member = v.as_boolean()->get();
        }
        return {};
      },
      s.field);
}

const setting* find_setting(std::string_view section, std::string_view key) {
  for (const setting& s : settings()) {
    if (s.section == section && s.key == key) return &s;
  }
  return nullptr;
}

bool known_section(std::string_view section) {
  const auto& t = settings();
  return std::any_of(t.begin(), t.end(), [&](const setting& s) { return s.section == section; });
}

result<void> apply_toml(node_config& c, std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return invalid(std::string(source) + ":" + std::to_string(e.source().begin.line) + ":" +
                   std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  for (auto&& [section, node] : root) {
    std::string name(section.str());
    auto line = std::to_string(node.source().begin.line);
    if (!node.is_table()) {
      return invalid(std::string(source) + ":" + line + ": unknown key '" + name + "' (settings live in sections)");
    }
    if (!known_section(name)) return invalid(std::string(source) + ":" + line + ": unknown section [" + name + "]");
    for (auto&& [key, value] : *node.as_table()) {
      const setting* s = find_setting(name, key.str());
      if (s == nullptr) {
        return invalid(std::string(source) + ":" + std::to_string(value.source().begin.line) + ": unknown key '" +
                       name + "." + std::string(key.str()) + "'");
      }
      if (auto r = apply_toml_value(c, *s, value, source); !r) return r;
    }
  }
  return {};
}

// Fills an empty sql_dir with the build's default and an empty pg_url from the environment, then validates.
result<node_config> finish(node_config c, const env_lookup& env) {
  if (c.sql_dir.empty()) c.sql_dir = default_sql_dir();
  if (c.pg_url.empty() && env) {
    if (const char* v = env(pg_url_env); v != nullptr) c.pg_url = v;
  }
  if (auto r = validate_node_config(c); !r) return r.error();
  return c;
}

result<std::string> read_file_bounded(const std::string& path, size_t max_bytes, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid("cannot open " + std::string(what) + " '" + path + "': " + std::strerror(errno));
  std::string data;
  data.resize(max_bytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return invalid("cannot read " + std::string(what) + " '" + path + "'");
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_bytes) {
    return invalid(std::string(what) + " '" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

// The command line, its flags bound to strings so that numbers are parsed (and refused) by us, in decimal.
struct cli {
  CLI::App app{"caudal-node: one node of the Caudal ledger cluster.\n"
               "Settings come from defaults, then --config FILE (TOML, see config/node.example.toml), then the\n"
               "flags below; later wins. An empty postgres.url is taken from env CAUDAL_PG_URL.",
               "caudal-node"};
  std::string config_path;
  std::vector<std::string> texts;  // one per setting, in table order
  std::unique_ptr<bool[]> flags;   // one per setting (bool settings only are used)
  std::vector<CLI::Option*> options;

  cli() {
    const node_config defaults;
    app.add_option("--config", config_path, "TOML settings file")->type_name("FILE");
    texts.resize(settings().size());
    flags.reset(new bool[settings().size()]());
    for (size_t i = 0; i < settings().size(); ++i) {
      const setting& s = settings()[i];
      std::string name = "--" + std::string(s.flag);
      std::string help = std::string(s.help) + " [file: " + std::string(s.section) + "." + std::string(s.key) + "]";
      CLI::Option* o = nullptr;
      if (std::holds_alternative<bool node_config::*>(s.field)) {
        o = app.add_flag(name, flags[i], help);
      } else {
        o = app.add_option(name, texts[i], help);
        std::visit(
            [&](auto member) {
              using T = std::decay_t<decltype(defaults.*member)>;
              if constexpr (std::is_same_v<T, std::string>) {
                o->type_name("TEXT")->default_str(defaults.*member);
              } else if constexpr (std::is_same_v<T, uint64_t>) {
                o->type_name("UINT")->default_str(std::to_string(defaults.*member) + ", " + std::to_string(s.min) +
                                                  ".." + std::to_string(s.max));
              } else if constexpr (std::is_same_v<T, log_level>) {
                o->type_name("LEVEL")->default_str(std::string(log_level_name(defaults.*member)));
              }
            },
            s.field);
      }
      options.push_back(o);
    }
  }
};

}  // namespace

std::string_view log_level_name(log_level l) {
  switch (l) {
    case log_level::trace: return "trace";
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

std::string default_sql_dir() { return CAUDAL_DEFAULT_SQL_DIR; }

env_lookup process_env() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

result<host_port> parse_host_port(std::string_view text, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return invalid(std::string(what) + ": '" + std::string(text) + "' is not host:port (" + std::string(why) + ")");
  };
  host_port hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    hp.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing ':port' after ']'");
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':port'");
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return bad("IPv6 addresses go in brackets: [::1]:7400");
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("empty host");
  if (std::any_of(hp.host.begin(), hp.host.end(), [](char c) { return c <= ' ' || c == '/' || c == '\x7f'; })) {
    return bad("invalid character in host");
  }
  uint64_t port = 0;
  if (port_text.size() > 5 || !parse_decimal(port_text, port)) return bad("port must be a decimal number");
  if (port > 65535) return bad("port must be 0..65535");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

result<void> validate_node_config(const node_config& c) {
  for (const setting& s : settings()) {
    if (auto m = std::get_if<uint64_t node_config::*>(&s.field)) {
      uint64_t v = c.**m;
      if (v < s.min || v > s.max) {
        return invalid(where(s) + " must be in " + std::to_string(s.min) + ".." + std::to_string(s.max) + ", got " +
                       std::to_string(v));
      }
    }
  }
  if (!valid_name(c.node_id, 64)) {
    return invalid("node.id (--node-id) must be 1 to 64 characters of [A-Za-z0-9_.-], got '" + c.node_id + "'");
  }
  if (!valid_name(c.region, 64)) {
    return invalid("node.region (--region) must be 1 to 64 characters of [A-Za-z0-9_.-], got '" + c.region + "'");
  }
  auto rpc = parse_host_port(c.rpc_listen, "rpc.listen (--rpc-listen)");
  if (!rpc) return rpc.error();
  auto http = parse_host_port(c.http_listen, "http.listen (--http-listen)");
  if (!http) return http.error();
  auto inter = parse_host_port(c.cluster_listen, "cluster.listen (--cluster-listen)");
  if (!inter) return inter.error();
  const std::pair<const host_port*, const char*> listeners[] = {
      {&rpc.value(), "rpc.listen"}, {&http.value(), "http.listen"}, {&inter.value(), "cluster.listen"}};
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = i + 1; j < 3; ++j)
      if (listeners[i].first->port != 0 && listeners[i].first->port == listeners[j].first->port &&
          listeners[i].first->host == listeners[j].first->host)
        return invalid(std::string(listeners[i].second) + " and " + listeners[j].second + " are the same address");
  auto regions = parse_regions(c.regions);
  if (!regions.ok()) return regions.error();
  auto residency = parse_residency(c.residency);
  if (!residency.ok()) return residency.error();
  for (const auto& r : residency.value())
    if (std::none_of(regions->begin(), regions->end(), [&](const region_setting& g) { return g.region == r.region; }))
      return invalid("cluster.residency: " + r.country + " names region '" + r.region + "', not in cluster.regions");
  if (c.peer_timeout_ms < 2 * c.peer_heartbeat_ms) {
    return invalid("cluster.peer_timeout_ms must be at least twice cluster.peer_heartbeat_ms");
  }
  if (c.pg_url.empty()) {
    return invalid("postgres.url is empty: set it in the file, with --pg-url, or in env CAUDAL_PG_URL");
  }
  if (c.sql_dir.empty()) return invalid("postgres.sql_dir (--sql-dir) is empty");
  if (!valid_name(c.operator_client_id, 128)) {
    return invalid("operator.client_id (--operator-client-id) must be 1 to 128 characters of [A-Za-z0-9_.-], got '" +
                   c.operator_client_id + "'");
  }
  if (c.insecure && (!c.tls_cert_file.empty() || !c.tls_key_file.empty())) {
    return invalid("tls.insecure (--insecure) and tls.cert_file/key_file are both set: choose TLS or plain TCP");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return invalid("tls.cert_file and tls.key_file (--tls-cert-file, --tls-key-file) go together: set both");
  }
  // A lease must survive two late heartbeats on a busy machine; a node is not declared down while its
  // leases may still be valid (declaring it down earlier would only make it rejoin needlessly).
  if (c.heartbeat_ms * 3 > c.lease_ms)
    return invalid("cluster.heartbeat_ms (" + std::to_string(c.heartbeat_ms) + ") must be at most lease_ms / 3 (" +
                   std::to_string(c.lease_ms) + " / 3)");
  if (c.silent_after_ms < c.lease_ms)
    return invalid("cluster.silent_after_ms (" + std::to_string(c.silent_after_ms) + ") must be at least lease_ms (" +
                   std::to_string(c.lease_ms) + ")");
  if (c.restart_backoff_max_ms < c.restart_backoff_ms) {
    return invalid("timing.restart_backoff_max_ms (" + std::to_string(c.restart_backoff_max_ms) +
                   ") is below timing.restart_backoff_ms (" + std::to_string(c.restart_backoff_ms) + ")");
  }
  return {};
}

result<void> check_transport_security(const node_config& c) {
  if (!c.insecure && (c.tls_cert_file.empty() || c.tls_key_file.empty())) {
    return invalid("the client API is TLS 1.3 only: set tls.cert_file and tls.key_file (--tls-cert-file, "
                   "--tls-key-file), or tls.insecure = true (--insecure) for a plain-TCP development node");
  }
  if (!c.insecure && c.tls_ca_file.empty()) {
    return invalid("nodes talk to each other over mutual TLS 1.3: set tls.ca_file (--tls-ca-file), the CA that "
                   "signed every node's certificate, or tls.insecure = true (--insecure) for a plain-TCP "
                   "development node");
  }
  return {};
}

result<node_config> parse_node_config(std::string_view toml_text, std::string_view source, const env_lookup& env) {
  node_config c;
  if (auto r = apply_toml(c, toml_text, source); !r) return r.error();
  return finish(std::move(c), env);
}

std::string node_config_usage() {
  cli cmd;
  return cmd.app.help();
}

result<node_config> load_node_config(int argc, char** argv, const env_lookup& env) {
  cli cmd;
  try {
    cmd.app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cmd.app.help() << std::flush;
    return failure{errc::none, "help printed"};
  } catch (const CLI::ParseError& e) {
    return invalid(std::string(e.what()) + " (see --help)");
  }
  node_config c;
  if (!cmd.config_path.empty()) {
    auto text = read_file_bounded(cmd.config_path, max_config_file_bytes, "config file");
    if (!text) return text.error();
    if (auto r = apply_toml(c, *text, cmd.config_path); !r) return r.error();
    c.config_file = cmd.config_path;
  }
  for (size_t i = 0; i < settings().size(); ++i) {
    if (cmd.options[i]->count() == 0) continue;
    const setting& s = settings()[i];
    if (auto m = std::get_if<bool node_config::*>(&s.field)) {
      c.**m = cmd.flags[i];
    } else if (auto r = apply_text(c, s, cmd.texts[i]); !r) {
      return r.error();
    }
  }
  return finish(std::move(c), env);
}

result<secret_file> read_secret_file(const std::string& path) {
  if (path.empty()) return invalid("operator secret file: empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return invalid("operator secret file '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return invalid("operator secret file '" + path + "' is not a regular file");
  auto data = read_file_bounded(path, max_secret_file_bytes + 2, "operator secret file");
  if (!data) return data.error();
  secret_file out;
  out.secret = std::move(*data);
  while (!out.secret.empty() && (out.secret.back() == '\n' || out.secret.back() == '\r')) out.secret.pop_back();
  if (out.secret.empty()) return invalid("operator secret file '" + path + "' is empty");
  if (out.secret.size() > max_secret_file_bytes) {
    return invalid("operator secret file '" + path + "': the secret is longer than 1024 bytes");
  }
  if (out.secret.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
    return invalid("operator secret file '" + path + "' must hold one line");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    out.warning = "operator secret file '" + path + "' is accessible to group or others (mode " + mode +
                  "); chmod 600 it";
  }
  return out;
}

namespace {

// Splits "a,b,c" (spaces around items allowed); an empty text gives nothing.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::string cur;
  auto flush = [&] {
    const auto b = cur.find_first_not_of(' ');
    const auto e = cur.find_last_not_of(' ');
    items.push_back(b == std::string::npos ? std::string() : cur.substr(b, e - b + 1));
    cur.clear();
  };
  if (text.find_first_not_of(' ') == std::string_view::npos)
    return items;
  for (char ch : text) {
    if (ch == ',')
      flush();
    else
      cur += ch;
  }
  flush();
  return items;
}

}  // namespace

result<std::vector<region_setting>> parse_regions(std::string_view text) {
  std::vector<region_setting> out;
  for (const auto& item : split_list(text)) {
    const auto colon = item.find(':');
    const std::string name = item.substr(0, colon);
    const std::string count = colon == std::string::npos ? std::string() : item.substr(colon + 1);
    if (!valid_name(name, 64) || count.empty() || count.size() > 5 ||
        count.find_first_not_of("0123456789") != std::string::npos || std::stoul(count) == 0)
      return invalid("cluster.regions: '" + item + "' is not name:shards (e.g. eu:32)");
    for (const auto& r : out)
      if (r.region == name)
        return invalid("cluster.regions: region '" + name + "' named twice");
    out.push_back({name, static_cast<uint32_t>(std::stoul(count))});
  }
  return out;
}

result<std::vector<residency_setting>> parse_residency(std::string_view text) {
  std::vector<residency_setting> out;
  for (const auto& item : split_list(text)) {
    const auto colon = item.find(':');
    const std::string country = item.substr(0, colon);
    const std::string region = colon == std::string::npos ? std::string() : item.substr(colon + 1);
    const bool country_ok = country.size() == 2 && std::isupper(static_cast<unsigned char>(country[0])) &&
                            std::isupper(static_cast<unsigned char>(country[1]));
    if (!country_ok || !valid_name(region, 64))
      return invalid("cluster.residency: '" + item + "' is not COUNTRY:region (e.g. DE:eu)");
    for (const auto& r : out)
      if (r.country == country)
        return invalid("cluster.residency: " + country + " given twice");
    out.push_back({country, region});
  }
  return out;
}

}  // namespace caudal::cluster
