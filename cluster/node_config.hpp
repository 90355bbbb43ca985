#pragma once
// The node's settings (DESIGN 7): defaults, then a TOML file (--config), then one command-line flag per
// setting; later wins. config/node.example.toml documents every key. A value type: the composition root
// (cluster/main.cpp) loads it once and hands the parts what they need.
//
// Validation gives one clear message naming the file, key or flag: malformed TOML (with line and column),
// an unknown section or key, a wrong type, a number out of its range, a bad "host:port", a bad log level.
// Every failure is errc::invalid_request with the text in failure::detail (safe to print: no secrets; the
// PostgreSQL URL may hold a password and is never echoed).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace caudal::cluster {

enum class log_level { trace, debug, info, warn, error };

// "trace", "debug", "info", "warn", "error".
std::string_view log_level_name(log_level l);

// The build's CAUDAL_DEFAULT_SQL_DIR (the source tree's schemas/sql).
std::string default_sql_dir();

struct node_config {
  // [node]
  std::string node_id = "n1";     // --node-id: [A-Za-z0-9_.-]{1,64}, unique in the cluster
  std::string region = "local";   // --region: data-residency region label, same charset
  // [rpc] / [http]: "host:port" ("[::1]:7400" for IPv6); port 0 = pick a free port
  std::string rpc_listen = "127.0.0.1:7400";   // --rpc-listen: Cap'n Proto client API
  uint64_t rpc_max_connections = 1024;         // --rpc-max-connections: more are closed at once
  std::string http_listen = "127.0.0.1:7480";  // --http-listen: /metrics and /healthz
  std::string cluster_listen = "127.0.0.1:7500";  // --cluster-listen: CAF's network layer (BASP, mutual TLS) between nodes
  // [tls]: the client API is TLS 1.3 only and nodes use mutual TLS 1.3 between them; plain TCP (both) needs
  // insecure = true (development only)
  std::string tls_cert_file;              // --tls-cert-file: PEM certificate (chain) of this node
  std::string tls_key_file;               // --tls-key-file: PEM private key (mode 0600)
  std::string tls_ca_file;                // --tls-ca-file: PEM cluster CA: the peers' certificates must be its
  uint64_t tls_handshake_timeout_ms = 10000;  // --tls-handshake-timeout-ms: unfinished handshakes are dropped
  bool insecure = false;                  // --insecure: plain TCP on the client and cluster ports, no TLS files
  // [auth]: OAuth 2.0 client credentials and access tokens
  uint64_t token_ttl_s = 900;                // --token-ttl-s: access token lifetime (sessions end with it)
  uint64_t revocation_poll_ms = 2000;        // --revocation-poll-ms: the net under the push of revocations
  uint64_t auth_max_failures = 5;            // --auth-max-failures: failed authentications per client id / source ...
  uint64_t auth_failure_window_ms = 60000;   // --auth-failure-window-ms: ... within this window, then rate_limited
  std::string auth_key_file;                 // --auth-key-file: 64 hex chars that encrypt the signing keys at rest
  // [postgres]
  std::string pg_url;          // --pg-url; if empty, env CAUDAL_PG_URL; if still empty: an error
  uint64_t pg_readers = 4;     // --pg-readers: read connections, 1..64
  uint64_t pg_writers = 2;     // --pg-writers: batch writers (one connection each), 1..16
  std::string sql_dir = default_sql_dir();  // --sql-dir: migrations (empty: this default)
  // [operator]: the node upserts this admin client at start when secret_file is set
  std::string operator_client_id = "operator";  // --operator-client-id
  std::string operator_secret_file;             // --operator-secret-file (empty: no upsert)
  // [limits]
  uint64_t tenant_queue_items = 65536;         // items queued per tenant before "overloaded"
  uint64_t tenant_requests_in_flight = 1024;   // requests (reads too) in progress per tenant before "overloaded"
  uint64_t max_active_tenants = 10000;         // tenant actors alive on this node
  uint64_t working_set_entries = 200000;       // accounts cached per tenant working set
  uint64_t account_actors_per_tenant = 10000;  // active account actors per tenant
  uint64_t request_timeout_ms = 10000;         // deadline of one client request inside the node
  uint64_t writer_max_items = 65536;           // items in one group commit
  // [timing]
  uint64_t account_idle_ms = 60000;          // idle account actors are passivated after this
  uint64_t tenant_idle_ms = 300000;          // idle tenant actors are passivated after this
  uint64_t restart_backoff_ms = 50;          // first restart delay; doubles per restart
  uint64_t restart_backoff_max_ms = 5000;    // restart delay cap
  uint64_t restart_budget = 5;               // restarts allowed per window before escalating
  uint64_t restart_window_ms = 10000;        // the restart budget's window
  // [cluster]: membership and shard leases (times judged by PostgreSQL's clock)
  uint64_t shard_count = 256;         // shards of a cluster this node creates (an existing one keeps its own)
  uint64_t lease_ms = 5000;           // a shard lease lasts this long past its last renewal
  uint64_t heartbeat_ms = 1000;       // heartbeat (renewing the leases) period; at most lease_ms / 3
  uint64_t silent_after_ms = 5000;    // a node silent this long is declared down; at least lease_ms
  std::string regions;      // residency regions of a cluster this node creates: "eu:32,br:16" (name:shards)
  std::string residency;    // countries whose tenants stay in a region: "DE:eu,FR:eu,BR:br"
  uint64_t peer_heartbeat_ms = 1000;  // heartbeats on the connections between nodes (CAF's middleman)
  uint64_t peer_timeout_ms = 5000;    // a peer connection silent this long is closed: its requests fail at once
  // [log]
  log_level level = log_level::info;  // --log-level
  std::string log_file;               // --log-file (empty: stderr)
  // [testing]
  bool test_hooks = false;  // --test-hooks: enables the fault-injection RPCs (never in production)

  // Where the file settings came from ("" when no --config); for the start-up log line.
  std::string config_file;
};

// Reads an environment variable; nullptr when unset. Injected so tests do not touch the process env.
using env_lookup = std::function<const char*(const char*)>;
// std::getenv.
env_lookup process_env();

// Defaults, then `toml_text` (named `source` in messages), then CAUDAL_PG_URL from `env` if pg_url is
// still empty; validated. Pure apart from `env`: no files are read.
result<node_config> parse_node_config(std::string_view toml_text, std::string_view source = "<config>",
                                      const env_lookup& env = process_env());

// The node's command line: --config FILE, then one flag per setting (see --help); flags override the
// file, the file overrides defaults, CAUDAL_PG_URL fills an empty pg_url. `--help` prints the usage to
// stdout and returns a failure whose code is errc::none: the caller then exits with status 0.
result<node_config> load_node_config(int argc, char** argv, const env_lookup& env = process_env());

// The usage text --help prints (flags, defaults and the file keys they override).
std::string node_config_usage();

// Checks every field (ranges, addresses, names) as parse/load do; for configs built in code (tests).
result<void> validate_node_config(const node_config& c);

// The node refuses to serve without TLS files (its certificate and key, and the cluster CA for mutual TLS
// between nodes) unless insecure is set explicitly (plain TCP is a development mode). Kept apart from
// validate_node_config so configs built for other uses (tests of other settings, tools) need no
// certificates; run_node calls it before it listens.
result<void> check_transport_security(const node_config& c);

// "host:port" split and checked: host non-empty (IPv6 in brackets, given here without them), port
// 0..65535 in decimal. "*:port" means every interface. `what` names the setting in the message.
struct host_port {
  std::string host;
  uint16_t port = 0;
};
result<host_port> parse_host_port(std::string_view text, std::string_view what = "address");

// cluster.regions / cluster.residency: "name:shards,..." and "CC:region,..." (empty: none). invalid_request
// naming the bad entry. Region names as node ids; countries two capitals; each named once.
struct region_setting {
  std::string region;
  uint32_t shards = 0;
};
result<std::vector<region_setting>> parse_regions(std::string_view text);
struct residency_setting {
  std::string country;
  std::string region;
};
result<std::vector<residency_setting>> parse_residency(std::string_view text);

// The operator's secret from `path`: trailing "\n" / "\r\n" removed; must be non-empty, at most 1024
// bytes, a regular file. `warning` is set (and the secret still returned) when the file is readable by
// group or others; the node should log it. Error texts name the path, never the content.
struct secret_file {
  std::string secret;
  std::string warning;
};
result<secret_file> read_secret_file(const std::string& path);

}  // namespace caudal::cluster
