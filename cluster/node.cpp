#include "cluster/node.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "actors/batch_writer.hpp"
#include "actors/db_reader.hpp"
#include "actors/node_services.hpp"
#include "actors/protocol.hpp"
#include "actors/tenant_registry.hpp"
#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "cluster/admission.hpp"
#include "cluster/forwarding.hpp"
#include "cluster/gateway.hpp"
#include "cluster/http_endpoint.hpp"
#include "cluster/lease_manager.hpp"
#include "cluster/placement.hpp"
#include "cluster/revocation_feed.hpp"
#include "cluster/rpc_server.hpp"
#include "security/key_wrap.hpp"
#include "security/secret_hash.hpp"
#include "security/tls.hpp"
#include "storage/admin_store.hpp"
#include "storage/cluster_store.hpp"
#include "storage/migrations.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::cluster {

namespace {

// Revocations pushed by the listener and not yet taken by the gateway; past it the gateway catches up
// from PostgreSQL instead (revocation_feed.hpp). Revocations are rare: this is a flood's bound.
constexpr size_t max_pending_revocations = 1024;

// One sink for the whole node; one named logger per subsystem (STYLE 8).
struct loggers {
  std::shared_ptr<spdlog::logger> node, actors, writer, db, gateway, cluster;
};

loggers make_loggers(const node_config& cfg) {
  spdlog::sink_ptr sink;
  if (cfg.log_file.empty())
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  else
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(cfg.log_file);
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [" + cfg.node_id + "] [%n] %v");
  auto make = [&](const char* name) {
    auto l = std::make_shared<spdlog::logger>(name, sink);
    l->set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(cfg.level)));
    l->flush_on(spdlog::level::trace);  // every line at once: logs matter most just before a crash
    return l;
  };
  return {make("node"), make("actors"), make("writer"), make("db"), make("gateway"), make("cluster")};
}

// PostgreSQL may still be starting (scripts start both at once): retry for a while.
result<std::unique_ptr<storage::pg_connection>> connect_with_retry(const node_config& cfg, spdlog::logger& log) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    auto c = storage::pg_connection::open(cfg.pg_url, "caudal-node");
    if (c.ok() || std::chrono::steady_clock::now() > deadline)
      return c;
    log.warn("PostgreSQL not reachable yet ({}); retrying", c.error().detail);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Schema migrations, before anything serves (and before admission, whose tables they make).
result<void> migrate_database(storage::pg_connection& c, const node_config& cfg, spdlog::logger& log) {
  auto applied = storage::migrate(c, cfg.sql_dir);
  if (!applied.ok())
    return applied.error();
  log.info("schema up to date ({} migrations applied now)", applied.value());
  return {};
}

// The operator client, written only once the node was admitted: a node the cluster refuses (another CA)
// must not reset the operator's secret.
result<void> prepare_operator(storage::pg_connection& c, const node_config& cfg, spdlog::logger& log) {
  if (cfg.operator_secret_file.empty())
    return {};
  auto secret = read_secret_file(cfg.operator_secret_file);
  if (!secret.ok())
    return secret.error();
  if (!secret->warning.empty())
    log.warn("{}", secret->warning);
  auto r = storage::upsert_admin_client(c, cfg.operator_client_id, security::hash_secret(secret->secret));
  if (!r.ok())
    return r.error();
  log.info("operator client '{}' ready", cfg.operator_client_id);
  return {};
}

actors::node_limits limits_of(const node_config& cfg) {
  actors::node_limits l;
  l.tenant_queue_items = cfg.tenant_queue_items;
  l.tenant_requests_in_flight = cfg.tenant_requests_in_flight;
  l.max_active_tenants = cfg.max_active_tenants;
  l.working_set_entries = cfg.working_set_entries;
  l.account_actors_per_tenant = cfg.account_actors_per_tenant;
  l.request_timeout_ms = static_cast<uint32_t>(cfg.request_timeout_ms);
  return l;
}

actors::node_timing timing_of(const node_config& cfg) {
  actors::node_timing t;
  t.account_idle_ms = static_cast<uint32_t>(cfg.account_idle_ms);
  t.tenant_idle_ms = static_cast<uint32_t>(cfg.tenant_idle_ms);
  t.restart_backoff_ms = static_cast<uint32_t>(cfg.restart_backoff_ms);
  t.restart_backoff_max_ms = static_cast<uint32_t>(cfg.restart_backoff_max_ms);
  t.restart_budget = static_cast<uint32_t>(cfg.restart_budget);
  t.restart_window_ms = static_cast<uint32_t>(cfg.restart_window_ms);
  return t;
}

// The cluster's shape (created with this node's shard count and trust when it is the first), this node's
// admission to it (cluster/admission), and its placement.
result<std::shared_ptr<const placement>> prepare_cluster(storage::pg_connection& c, const node_config& cfg,
                                                         const node_credentials& credentials, spdlog::logger& log) {
  storage::cluster_shape wanted;
  wanted.shard_count = static_cast<uint32_t>(cfg.shard_count);
  // Residency regions take the last shards, in the order given; the shards before them stay global.
  auto regions = parse_regions(cfg.regions);
  auto residency = parse_residency(cfg.residency);
  if (!regions.ok())
    return regions.error();
  if (!residency.ok())
    return residency.error();
  uint64_t regional = 0;
  for (const auto& r : regions.value())
    regional += r.shards;
  if (regional >= wanted.shard_count)
    return failure{errc::invalid_request, "cluster.regions take every shard: leave some global ones"};
  uint32_t next = wanted.shard_count - static_cast<uint32_t>(regional);
  for (const auto& r : regions.value()) {
    wanted.regions.push_back({r.region, next, r.shards, 0});
    next += r.shards;
  }
  for (const auto& r : residency.value())
    wanted.residency.push_back({r.country, r.region});
  auto shape = admit_node(c, std::move(wanted), credentials, log);
  if (!shape.ok())
    return shape.error();
  std::vector<region_range> ranges;
  for (const auto& r : shape->regions)
    ranges.push_back({r.region, r.first_shard, r.shard_count, r.number});
  auto p = placement::make(shape->shard_count, std::move(ranges));
  if (!p.ok())
    return p.error();
  return std::make_shared<const placement>(std::move(p).value());
}

lease_timing lease_timing_of(const node_config& cfg) {
  lease_timing t;
  t.lease_ms = static_cast<uint32_t>(cfg.lease_ms);
  t.heartbeat_ms = static_cast<uint32_t>(cfg.heartbeat_ms);
  t.silent_after_ms = static_cast<uint32_t>(cfg.silent_after_ms);
  return t;
}

std::string host_of(const std::string& address) {
  auto hp = parse_host_port(address);
  return hp.ok() ? hp->host : std::string("127.0.0.1");
}

}  // namespace

int run_node(const node_config& cfg) {
  auto log = make_loggers(cfg);
  log.node->info("caudal-node {} starting (region {}, config {})", cfg.node_id, cfg.region,
                 cfg.config_file.empty() ? "defaults and flags" : cfg.config_file);
  if (auto r = check_transport_security(cfg); !r.ok()) {
    log.node->critical("{}", r.error().detail);
    return 1;
  }
  // What the node's TLS files say, before the database is touched: an unreadable file is a local mistake.
  auto credentials = read_credentials(cfg);
  if (!credentials.ok()) {
    log.node->critical("{}", credentials.error().detail);
    return 1;
  }
  if (cfg.insecure)
    log.node->info("transport between nodes: insecure (plain TCP)");
  else
    log.node->info("transport between nodes: {}; certificate {} ({})", storage::describe_trust(credentials->trust),
                   cfg.tls_cert_file, credentials->cert_subject);

  // The key that encrypts the token signing keys at rest.
  std::string kek;
  if (cfg.auth_key_file.empty()) {
    log.node->warn("auth.key_file is not set: token signing keys are stored unencrypted in PostgreSQL");
  } else {
    auto text = read_secret_file(cfg.auth_key_file);
    auto parsed = text.ok() ? security::parse_kek_hex(text->secret) : result<std::string>(text.error());
    if (!parsed.ok()) {
      log.node->critical("auth.key_file '{}': {}", cfg.auth_key_file, parsed.error().detail);
      return 1;
    }
    if (!text->warning.empty())
      log.node->warn("{}", text->warning);
    kek = std::move(parsed.value());
  }

  // One connection for the start: migrations, admission, membership and leases (the lease manager opens its
  // own once the node joined).
  auto cluster_conn = connect_with_retry(cfg, *log.node);
  if (!cluster_conn.ok()) {
    log.node->critical("cannot reach PostgreSQL: {}", cluster_conn.error().detail);
    return 1;
  }
  if (auto r = migrate_database(*cluster_conn.value(), cfg, *log.node); !r.ok()) {
    log.node->critical("cannot prepare the database: {}", r.error().detail);
    return 1;
  }
  // Admitted (or refused) before the node writes anything else, registers or takes a lease.
  auto shards = prepare_cluster(*cluster_conn.value(), cfg, credentials.value(), *log.cluster);
  if (!shards.ok()) {
    if (shards.error().code == errc::forbidden)
      log.node->critical("refused to join the cluster: {}", shards.error().detail);
    else
      log.node->critical("cannot prepare the cluster: {}", shards.error().detail);
    return 1;
  }
  if (auto r = prepare_operator(*cluster_conn.value(), cfg, *log.node); !r.ok()) {
    log.node->critical("cannot prepare the database: {}", r.error().detail);
    return 1;
  }

  // Signals are captured before any thread exists (CAF's scheduler), so only the kj loop receives them.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  auto io = kj::setupAsyncIo();

  // TLS 1.3 on the client API; plain TCP only when asked for explicitly.
  std::unique_ptr<security::tls_context> tls;
  if (cfg.insecure) {
    log.node->warn("insecure: the client API is plain TCP without TLS (development only; never in production)");
  } else {
    auto made = security::make_server_tls({cfg.tls_cert_file, cfg.tls_key_file, cfg.tls_ca_file},
                                          io.provider->getTimer(),
                                          static_cast<uint32_t>(cfg.tls_handshake_timeout_ms));
    if (!made.ok()) {
      log.node->critical("cannot set up TLS: {}", made.error().detail);
      return 1;
    }
    tls = std::move(made.value());
    log.node->info("client API: TLS 1.3 only, certificate {}", cfg.tls_cert_file);
  }

  system_clock clock;
  metrics::registry metrics;
  caf::actor_system_config caf_cfg;
  // Latency: the default work-stealing scheduler sleeps idle workers (DESIGN.md section 11).
  caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  // One worker per core (CAF's default is at least 4): nothing blocks on the workers (blocking work runs
  // on detached actors), and fewer workers than 4 on 2 cores cut context switches per single-transfer
  // request from 15-18 to 9-10 and ~40 us of CPU (measured with perf stat at 1,000 requests/s).
  caf_cfg.set("scheduler.max-threads", static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  // The network layer between nodes (BASP): forwarded requests. Heartbeats on every connection, and a
  // connection silent past peer_timeout_ms is closed, so requests pending on a hung peer fail at once.
  caf_cfg.load<caf::io::middleman>();
  caf_cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(cfg.peer_heartbeat_ms)});
  caf_cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(cfg.peer_timeout_ms)});
  // Mutual TLS between nodes: the node's certificate both ways, peers accepted only when the cluster CA
  // signed theirs; TLS 1.3 minimum by the process-wide OpenSSL policy (security/openssl_policy.hpp).
  if (!cfg.insecure) {
    caf_cfg.load<caf::openssl::manager>();
    caf_cfg.openssl_certificate = cfg.tls_cert_file;
    caf_cfg.openssl_key = cfg.tls_key_file;
    caf_cfg.openssl_cafile = cfg.tls_ca_file;
  }
  caf::actor_system sys{caf_cfg};

  auto services = std::make_shared<actors::node_services>();
  services->clock = &clock;
  services->limits = limits_of(cfg);
  services->timing = timing_of(cfg);
  services->log = log.actors;
  // One health flag per writer: the node is healthy while every writer reaches PostgreSQL.
  std::vector<std::shared_ptr<std::atomic<bool>>> writer_healthy;
  for (uint64_t i = 0; i < cfg.pg_writers; ++i) {
    writer_healthy.push_back(std::make_shared<std::atomic<bool>>(true));
    services->writers.push_back(sys.spawn<caf::detached>(
        actors::batch_writer,
        actors::batch_writer_config{cfg.pg_url, cfg.writer_max_items, log.writer, &metrics, writer_healthy.back()}));
  }
  actors::db_pool_config reader_cfg;
  reader_cfg.pg_url = cfg.pg_url;
  reader_cfg.application_name = "caudal-reader";
  reader_cfg.size = cfg.pg_readers;
  reader_cfg.log = log.db;
  services->readers = actors::spawn_db_readers(sys, reader_cfg);
  auto keys = std::make_shared<security::key_ring>();
  actors::db_pool_config admin_cfg;
  admin_cfg.pg_url = cfg.pg_url;
  admin_cfg.application_name = "caudal-admin";
  admin_cfg.size = 2;
  admin_cfg.log = log.db;
  admin_cfg.key_encryption_key = std::move(kek);
  admin_cfg.keys = keys;
  admin_cfg.token_ttl_s = static_cast<uint32_t>(cfg.token_ttl_s);
  admin_cfg.clock = &clock;
  services->admin = actors::spawn_admin_workers(sys, admin_cfg);
  // verify reads whole tenants or the whole ledger: on its own connection, so authentication never waits
  // behind it; verifies queue there one at a time. It only ever verifies (no keys).
  actors::db_pool_config checker_cfg;
  checker_cfg.pg_url = cfg.pg_url;
  checker_cfg.application_name = "caudal-verify";
  checker_cfg.size = 1;
  checker_cfg.log = log.db;
  auto checker = actors::spawn_admin_workers(sys, checker_cfg);
  {
    // The token keys before serving (the first node makes the first key). Not fatal: authentication loads
    // them itself when they are missing.
    caf::scoped_actor self{sys};
    self->request(services->admin, std::chrono::seconds(30), actors::load_keys_atom::value)
        .receive([&] { log.node->info("token signing keys loaded ({} usable)", keys->size()); },
                 [&](caf::error& e) {
                   log.node->warn("cannot load token signing keys yet ({})", errc_name(actors::to_errc(e)));
                 });
  }
  services->placement = shards.value();
  auto registry = actors::spawn_tenant_registry(sys, services);

  // Any node serves any request: ledger calls go through the router (local registry or the owner), and
  // other nodes forward to this node's endpoint, published on the cluster port.
  forwarding_config fwd;
  fwd.node_id = cfg.node_id;
  fwd.shards = shards.value();
  fwd.registry = registry;
  fwd.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
  fwd.log = log.cluster;
  auto router = spawn_router(sys, fwd);
  auto endpoint = spawn_forward_endpoint(sys, fwd);

  auto gw = std::make_shared<gateway_context>();
  gw->system = &sys;
  gw->registry = registry;
  gw->router = router;
  gw->admin = services->admin;
  gw->checker = checker;
  gw->writers = services->writers;
  // A little longer than the node's own deadline, so the node's answer (e.g. timeout) arrives first.
  gw->timeout = std::chrono::milliseconds(cfg.request_timeout_ms + 2000);
  gw->test_hooks = cfg.test_hooks;
  gw->log = log.gateway;
  gw->metrics = &metrics;
  gw->keys = keys;
  gw->clock = &clock;
  gw->auth_failures.max_failures = static_cast<uint32_t>(cfg.auth_max_failures);
  gw->auth_failures.window_ms = cfg.auth_failure_window_ms;
  gw->revocation_poll_ms = static_cast<uint32_t>(cfg.revocation_poll_ms);
  gw->token_ttl_s = static_cast<uint32_t>(cfg.token_ttl_s);
  if (cfg.test_hooks)
    log.node->warn("test hooks are enabled: fault injection is possible (never use in production)");

  int status = 0;
  caf::actor leases;  // the lease manager, once the node joined
  try {
    gateway api(gw, io.provider->getTimer());
    rpc_server rpc(
        io, cfg.rpc_listen, [&api](const std::string& peer) { return api.connect(peer); }, cfg.rpc_max_connections,
        tls ? tls->context.get() : nullptr);
    auto serving = rpc.serve();
    auto polling = api.poll_revocations().eagerlyEvaluate([&log](kj::Exception&& e) {
      log.node->error("revocation poll stopped: {}", e.getDescription().cStr());
    });
    // Revocations made through any node, pushed as they commit: the listener's thread hears them on
    // PostgreSQL and hands them to this (kj) thread through the bounded inbox; the poll above stays as
    // the net for a lost channel. Destroyed in reverse order: the listener stops (joins) first.
    auto revocations = std::make_shared<revocation_inbox>(
        max_pending_revocations,
        &metrics.add_gauge("caudal_revocation_inbox_depth", "Pushed revocations waiting for the gateway").with());
    auto following = api.follow_revocations(revocations).eagerlyEvaluate([&log](kj::Exception&& e) {
      log.node->error("revocation push stopped: {}", e.getDescription().cStr());
    });
    auto listener = start_revocation_listener(cfg.pg_url, cfg.node_id, revocations, log.db, &metrics);

    // Healthy while the batch writers can reach PostgreSQL: without them nothing can be acknowledged.
    auto healthy = [writer_healthy] {
      for (const auto& h : writer_healthy)
        if (!h->load())
          return false;
      return true;
    };
    http_endpoint http(io, cfg.http_listen, healthy, [&metrics] { return metrics.render(); });
    std::string rpc_addr = host_of(cfg.rpc_listen) + ":" + std::to_string(rpc.port());
    std::string http_addr = host_of(cfg.http_listen) + ":" + std::to_string(http.port());
    auto cluster_listen = parse_host_port(cfg.cluster_listen, "cluster.listen");
    if (!cluster_listen.ok())
      throw std::runtime_error(cluster_listen.error().detail);
    auto cluster_port =
        cfg.insecure ? sys.middleman().publish(endpoint, cluster_listen->port, cluster_listen->host.c_str(), true)
                     : caf::openssl::publish(endpoint, cluster_listen->port, cluster_listen->host.c_str(), true);
    if (!cluster_port)
      throw std::runtime_error("cannot listen on cluster.listen " + cfg.cluster_listen + ": " +
                               sys.render(cluster_port.error()));
    std::string cluster_addr = cluster_listen->host + ":" + std::to_string(*cluster_port);
    // Defence in depth (cluster/admission): a live peer must accept a link from this node before it takes
    // shards the others could then not reach. Peers publish their cluster port before they join, so every
    // live member listed is reachable unless something is wrong.
    auto proven = prove_peer_link(
        *cluster_conn.value(), cfg.node_id, lease_timing_of(cfg),
        [&sys](const storage::member& peer) {
          return open_peer_link(sys, peer.addresses.cluster, std::chrono::milliseconds(2000));
        },
        *log.cluster);
    if (!proven.ok())
      throw std::runtime_error(proven.error().code == errc::forbidden
                                   ? "refused to join the cluster: " + proven.error().detail
                                   : "cannot check the links to the other nodes: " + proven.error().detail);
    // Joined and holding its shards before it says it serves: its first request finds its tenants owned.
    auto joined = join_cluster(*cluster_conn.value(), *shards.value(), cfg.node_id, cfg.region,
                               {cluster_addr, rpc_addr, http_addr}, lease_timing_of(cfg), *log.cluster);
    if (!joined.ok())
      throw std::runtime_error("cannot join the cluster: " + joined.error().detail);
    caf::anon_send(registry, actors::leases_atom::value, actors::lease_table{joined->leases});
    // The routes as of joining; the lease manager sends fresh ones every heartbeat.
    if (auto routes = read_route_table(*cluster_conn.value(), shards.value()->shard_count()); routes.ok())
      caf::anon_send(router, routes_atom::value, std::move(routes.value()));
    cluster_conn.value().reset();
    leases = sys.spawn<caf::detached>(lease_manager,
                                      lease_manager_config{cfg.pg_url, shards.value(), joined.value(),
                                                           lease_timing_of(cfg), registry, router, log.cluster});
    log.node->info("serving: rpc={} http={} cluster={}", rpc_addr, http_addr, cluster_addr);
    if (const char* ready = std::getenv("CAUDAL_READY_FILE")) {
      std::ofstream f(ready);
      f << "rpc=" << rpc_addr << " http=" << http_addr << " cluster=" << cluster_addr << "\n";
    }

    auto sig = io.unixEventPort.onSignal(SIGTERM).exclusiveJoin(io.unixEventPort.onSignal(SIGINT));
    auto info = sig.exclusiveJoin(kj::mv(serving).then([]() -> siginfo_t { return {}; })).wait(io.waitScope);
    log.node->info("signal {} received: shutting down", info.si_signo);
  } catch (const kj::Exception& e) {
    log.node->critical("cannot serve: {}", e.getDescription().cStr());
    status = 1;
  } catch (const std::exception& e) {
    log.node->critical("cannot serve: {}", e.what());
    status = 1;
  }

  // Tenants first (their requests fail with retryable errors), then the writer and the pools.
  caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  for (const auto& w : services->writers)
    caf::anon_send(w, actors::stop_atom::value);
  // After the writers' stop: their last groups are written, or fenced once the leases are released.
  if (leases)
    caf::anon_send(leases, actors::stop_atom::value);
  caf::anon_send_exit(services->readers, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(services->admin, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(checker, caf::exit_reason::user_shutdown);
  log.node->info("stopped");
  return status;
}

}  // namespace caudal::cluster
