#include "actors/db_reader.hpp"

#include "actors/protocol.hpp"
#include "base/limits.hpp"
#include "security/secret_hash.hpp"
#include "storage/admin_store.hpp"
#include "storage/cluster_store.hpp"
#include "storage/ledger_store.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::actors {

namespace {

// The connection of one worker: opened lazily, reopened after a failure.
struct db_worker_state {
  std::unique_ptr<storage::pg_connection> conn;

  result<storage::pg_connection*> connection(const db_pool_config& cfg) {
    if (conn && conn->healthy())
      return conn.get();
    if (conn) {
      auto r = conn->reconnect();
      if (!r.ok())
        return r.error();
      return conn.get();
    }
    auto c = storage::pg_connection::open(cfg.pg_url, cfg.application_name);
    if (!c.ok())
      return c.error();
    conn = std::move(c.value());
    return conn.get();
  }
};

using worker = caf::stateful_actor<db_worker_state>;

enum class retry { read_only, never };

// Runs `query` on the worker's connection and turns the storage result into a handler result.
// A connection the server closed while it sat idle (a PostgreSQL restart) only shows when used: a
// read-only query then runs once more on a new connection; a write is never repeated (its outcome may
// be unknown).
template <class T, class Wrap, class Query>
caf::result<T> run(worker* self, const db_pool_config& cfg, Query query, Wrap wrap, retry policy = retry::read_only) {
  auto c = self->state.connection(cfg);
  if (!c.ok()) {
    cfg.log->warn("{}: no database connection: {}", cfg.application_name, c.error().detail);
    return to_error(c.error());
  }
  auto r = query(*c.value());
  if (!r.ok() && r.error().code == errc::database_unavailable && policy == retry::read_only) {
    c = self->state.connection(cfg);
    if (c.ok())
      r = query(*c.value());
  }
  if (!r.ok()) {
    cfg.log->warn("{}: query failed ({}): {}", cfg.application_name, errc_name(r.error().code), r.error().detail);
    return to_error(r.error());
  }
  return wrap(std::move(r.value()));
}

template <class T>
T identity(T x) {
  return x;
}

caf::behavior db_reader(worker* self, db_pool_config cfg) {
  return {
      [=](prefetch_atom, tenant_id t, account_ids& a, transfer_ids& x) -> caf::result<storage::prefetch> {
        return run<storage::prefetch>(
            self, cfg, [&](storage::pg_connection& c) { return storage::load_for_batch(c, t, a.ids, x.ids); },
            identity<storage::prefetch>);
      },
      [=](load_accounts_atom, tenant_id t, account_ids& a) -> caf::result<account_rows> {
        return run<account_rows>(
            self, cfg, [&](storage::pg_connection& c) { return storage::load_accounts(c, t, a.ids); },
            [](std::vector<storage::account_row> rows) { return account_rows{std::move(rows)}; });
      },
      [=](lookup_transfers_atom, tenant_id t, transfer_ids& x) -> caf::result<transfer_list> {
        return run<transfer_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::lookup_transfers(c, t, x.ids); },
            [](std::vector<ledger::transfer> v) { return transfer_list{std::move(v)}; });
      },
      [=](account_transfers_atom, tenant_id t, ledger::account_filter f) -> caf::result<transfer_list> {
        return run<transfer_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::account_transfers(c, t, f); },
            [](std::vector<ledger::transfer> v) { return transfer_list{std::move(v)}; });
      },
      [=](account_balances_atom, tenant_id t, ledger::account_filter f) -> caf::result<balance_list> {
        return run<balance_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::account_balances(c, t, f); },
            [](std::vector<ledger::account_balance> v) { return balance_list{std::move(v)}; });
      },
      [=](load_tenant_atom, tenant_id t, uint32_t max_expiries) -> caf::result<storage::tenant_state> {
        return run<storage::tenant_state>(
            self, cfg, [&](storage::pg_connection& c) { return storage::load_tenant_state(c, t, max_expiries); },
            identity<storage::tenant_state>);
      },
      [=](load_expiries_atom, tenant_id t, uint64_t from_ns, uint32_t limit) -> caf::result<expiry_list> {
        return run<expiry_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::load_expiries(c, t, from_ns, limit); },
            [](std::vector<std::pair<transfer_id, uint64_t>> v) { return expiry_list{std::move(v)}; });
      },
      [=](next_expiries_atom) -> caf::result<tenant_expiries> {
        return run<tenant_expiries>(
            self, cfg, [&](storage::pg_connection& c) { return storage::next_expiry_per_tenant(c); },
            [](std::vector<std::pair<tenant_id, uint64_t>> v) { return tenant_expiries{std::move(v)}; });
      },
  };
}

bool valid_tenant_name(const std::string& name) {
  if (name.empty() || name.size() > limits::max_name_bytes)
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

bool valid_country(const std::string& cc) {
  return cc.size() == 2 && std::isupper(static_cast<unsigned char>(cc[0])) &&
         std::isupper(static_cast<unsigned char>(cc[1]));
}

caf::behavior admin_worker(worker* self, db_pool_config cfg) {
  return {
      [=](authenticate_atom, const std::string& client_id, const std::string& secret) -> caf::result<auth_result> {
        if (client_id.empty() || client_id.size() > limits::max_name_bytes || secret.size() > 1024)
          return caf::make_error(errc::unauthenticated);
        return run<auth_result>(
            self, cfg, [&](storage::pg_connection& c) { return storage::find_client(c, client_id); },
            [&](std::optional<storage::client_record> rec) -> caf::result<auth_result> {
              // Same work whether or not the client exists, so timing does not reveal client ids.
              static const std::string dummy = security::hash_secret("caudal-no-such-client");
              const std::string& hash = rec ? rec->secret_hash : dummy;
              bool ok = security::verify_secret(secret, hash) && rec && !rec->revoked;
              if (!ok) {
                cfg.log->info("authentication refused for client '{}'", client_id);
                return caf::make_error(errc::unauthenticated);
              }
              return auth_result{rec->tenant, rec->admin, rec->client_id};
            });
      },
      [=](create_tenant_atom, const std::string& name, const std::string& country) -> caf::result<created_tenant> {
        if (!valid_tenant_name(name) || !valid_country(country))
          return caf::make_error(errc::invalid_request);
        std::string client_id = security::generate_client_id(name);
        std::string secret = security::generate_secret();
        std::string hash = security::hash_secret(secret);
        return run<created_tenant>(
            self, cfg,
            [&](storage::pg_connection& c) { return storage::create_tenant(c, name, country, client_id, hash); },
            [&](storage::tenant_info info) {
              cfg.log->info("tenant {} '{}' ({}) created with client '{}'", info.id.value, info.name, info.country,
                            client_id);
              return created_tenant{std::move(info), client_id, secret};
            },
            retry::never);
      },
      [=](list_tenants_atom) -> caf::result<tenant_list> {
        return run<tenant_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::list_tenants(c); },
            [](std::vector<storage::tenant_info> v) { return tenant_list{std::move(v)}; });
      },
      [=](verify_atom) -> caf::result<storage::verify_report> {
        return run<storage::verify_report>(
            self, cfg, [&](storage::pg_connection& c) { return storage::verify(c); },
            identity<storage::verify_report>);
      },
      [=](cluster_status_atom) -> caf::result<caudal::cluster_status> {
        return run<caudal::cluster_status>(
            self, cfg, [&](storage::pg_connection& c) { return storage::cluster_status(c); },
            identity<caudal::cluster_status>);
      },
  };
}

template <class Fn>
caf::actor spawn_pool(caf::actor_system& sys, const db_pool_config& cfg, Fn fn) {
  auto factory = [&sys, cfg, fn] { return sys.spawn<caf::detached>(fn, cfg); };
  return caf::actor_pool::make(sys.dummy_execution_unit(), cfg.size, factory, caf::actor_pool::round_robin());
}

}  // namespace

caf::actor spawn_db_readers(caf::actor_system& sys, const db_pool_config& cfg) {
  return spawn_pool(sys, cfg, db_reader);
}

caf::actor spawn_admin_workers(caf::actor_system& sys, const db_pool_config& cfg) {
  return spawn_pool(sys, cfg, admin_worker);
}

}  // namespace caudal::actors
