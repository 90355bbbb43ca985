#include "actors/db_reader.hpp"

#include "actors/protocol.hpp"
#include "base/limits.hpp"
#include "security/secret_hash.hpp"
#include "security/jwt.hpp"
#include "security/key_wrap.hpp"
#include "security/scopes.hpp"
#include "storage/admin_store.hpp"
#include "storage/security_store.hpp"
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

int64_t now_s(const db_pool_config& cfg) {
  return static_cast<int64_t>((cfg.clock ? cfg.clock->now_ns() : system_clock().now_ns()) / ns_per_s);
}

// A new key as stored: its private half sealed under the node's key-encryption key when it has one.
result<storage::stored_key> to_stored(const db_pool_config& cfg, const security::signing_key& k) {
  std::string raw = k.raw_private();
  result<std::string> priv = cfg.key_encryption_key.empty() ? result<std::string>(security::base64url_encode(raw))
                                                             : security::seal(cfg.key_encryption_key, raw, k.kid());
  std::fill(raw.begin(), raw.end(), '\0');
  if (!priv)
    return priv.error();
  return storage::stored_key{k.kid(), security::base64url_encode(k.raw_public()), std::move(priv.value()), 0, 0};
}

// A stored key back in memory (the private half only for the active key, which signs).
result<security::signing_key> from_stored(const db_pool_config& cfg, const storage::stored_key& k, bool with_private) {
  if (!with_private)
    return security::key_from_stored(k.kid, k.public_b64, {});
  if (!security::is_sealed(k.private_b64))
    return security::key_from_stored(k.kid, k.public_b64, k.private_b64);
  if (cfg.key_encryption_key.empty())
    return failure{errc::internal, "signing key " + k.kid + " is encrypted but this node has no auth.key_file"};
  auto raw = security::unseal(cfg.key_encryption_key, k.private_b64, k.kid);
  if (!raw)
    return raw.error();
  auto key = security::signing_key::from_private(k.kid, raw.value());
  std::fill(raw->begin(), raw->end(), '\0');
  return key;
}

// Reloads the key ring from PostgreSQL: the active key signs, keys retired less than a token lifetime ago
// still verify. Makes the first key when there is none (several nodes at once: one wins).
result<void> reload_keys(storage::pg_connection& c, const db_pool_config& cfg) {
  if (!cfg.keys)
    return failure{errc::internal, "no key ring"};
  const int64_t now = now_s(cfg);
  auto load = [&] { return storage::load_signing_keys(c, (now - cfg.token_ttl_s) * 1000); };
  auto stored = load();
  if (!stored)
    return stored.error();
  bool has_active = false;
  for (auto& k : stored.value())
    has_active |= k.retired_at_ms == 0;
  if (!has_active) {
    auto fresh = security::signing_key::generate();
    if (!fresh)
      return fresh.error();
    auto row = to_stored(cfg, fresh.value());
    if (!row)
      return row.error();
    auto inserted = storage::insert_first_signing_key(c, row.value());
    if (!inserted)
      return inserted.error();
    if (*inserted)
      cfg.log->info("token signing key {} created", row->kid);
    stored = load();
    if (!stored)
      return stored.error();
  }
  std::shared_ptr<const security::signing_key> active;
  std::vector<security::ring_key> ring;
  for (auto& k : stored.value()) {
    auto key = from_stored(cfg, k, k.retired_at_ms == 0);
    std::fill(k.private_b64.begin(), k.private_b64.end(), '\0');
    if (!key)
      return key.error();
    auto shared = std::make_shared<const security::signing_key>(std::move(key.value()));
    if (k.retired_at_ms == 0 && !active)
      active = shared;  // newest active key (the query orders newest first)
    ring.push_back({shared, k.retired_at_ms == 0 ? 0 : k.retired_at_ms / 1000 + cfg.token_ttl_s});
  }
  cfg.keys->replace(std::move(active), std::move(ring));
  return {};
}

template <class T>
caf::result<T> to_caf(result<T> r, const db_pool_config& cfg, const char* what) {
  if (r.ok())
    return std::move(r.value());
  if (r.error().code == errc::internal || r.error().code == errc::database_unavailable)
    cfg.log->warn("{} failed ({}): {}", what, errc_name(r.error().code), r.error().detail);
  return to_error(r.error());
}

caf::behavior admin_worker(worker* self, db_pool_config cfg) {
  return {
      [=](authenticate_atom, const std::string& client_id, const std::string& secret,
          uint32_t requested) -> caf::result<auth_result> {
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
                // The id comes from the wire: printable characters only in the log.
                std::string shown = client_id;
                for (char& ch : shown)
                  if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
                    ch = '?';
                cfg.log->info("authentication refused for client '{}'", shown);
                return caf::make_error(errc::unauthenticated);
              }
              auto granted = security::grant_scopes(rec->scopes, requested);
              if (!granted)
                return caf::make_error(granted.error().code);
              auto key = cfg.keys ? cfg.keys->active() : nullptr;
              if (!key) {
                // No key yet (the node's start loads one; PostgreSQL may have been away): load now.
                auto c = self->state.connection(cfg);
                if (c.ok()) {
                  if (auto r = reload_keys(*c.value(), cfg); !r)
                    cfg.log->warn("cannot load token signing keys: {}", r.error().detail);
                }
                key = cfg.keys ? cfg.keys->active() : nullptr;
                if (!key)
                  return caf::make_error(errc::database_unavailable);
              }
              security::token_claims claims;
              claims.client_id = rec->client_id;
              if (rec->tenant)
                claims.tenant = rec->tenant->value;
              claims.scopes = *granted;
              claims.issued_at_s = now_s(cfg);
              claims.expires_at_s = claims.issued_at_s + cfg.token_ttl_s;
              claims.token_id = security::generate_secret(12);
              auto token = security::encode_token(claims, *key);
              if (!token)
                return to_caf(result<auth_result>(token.error()), cfg, "token signing");
              auth_result out{rec->tenant, rec->admin, rec->client_id, *granted, std::move(token.value()),
                              claims.expires_at_s};
              return out;
            });
      },
      [=](load_keys_atom) -> caf::result<caf::unit_t> {
        return run<caf::unit_t>(
            self, cfg,
            [&](storage::pg_connection& c) -> result<caf::unit_t> {
              if (auto r = reload_keys(c, cfg); !r)
                return r.error();
              return caf::unit;
            },
            identity<caf::unit_t>);
      },
      [=](rotate_key_atom) -> caf::result<std::string> {
        auto fresh = security::signing_key::generate();
        if (!fresh)
          return to_caf(result<std::string>(fresh.error()), cfg, "key generation");
        auto sealed = to_stored(cfg, fresh.value());
        if (!sealed)
          return to_caf(result<std::string>(sealed.error()), cfg, "key sealing");
        storage::stored_key row = std::move(sealed.value());
        return run<std::string>(
            self, cfg,
            [&](storage::pg_connection& c) -> result<std::string> {
              if (auto r = storage::rotate_signing_key(c, row); !r)
                return r.error();
              if (auto r = reload_keys(c, cfg); !r)
                return r.error();
              return row.kid;
            },
            [&](std::string kid) {
              cfg.log->info("token signing key rotated: {} signs now", kid);
              return kid;
            },
            retry::never);
      },
      [=](create_client_atom, uint64_t tenant, uint32_t scopes) -> caf::result<created_client> {
        std::optional<tenant_id> t;
        if (tenant != 0)
          t = tenant_id(tenant);
        if (auto ok = security::check_client_scopes(scopes, t.has_value()); !ok)
          return caf::make_error(ok.error().code);
        std::string client_id = security::generate_client_id(t ? "t" + std::to_string(tenant) : "operator");
        std::string secret = security::generate_secret();
        std::string hash = security::hash_secret(secret);
        return run<created_client>(
            self, cfg, [&](storage::pg_connection& c) { return storage::create_client(c, client_id, t, scopes, hash); },
            [&](client_info info) {
              cfg.log->info("client '{}' created (scopes: {})", info.client_id, security::scope_string(info.scopes));
              return created_client{std::move(info), secret};
            },
            retry::never);
      },
      [=](rotate_secret_atom, const std::string& client_id) -> caf::result<std::string> {
        std::string secret = security::generate_secret();
        std::string hash = security::hash_secret(secret);
        return run<std::string>(
            self, cfg,
            [&](storage::pg_connection& c) -> result<std::string> {
              if (auto r = storage::set_client_secret(c, client_id, hash); !r)
                return r.error();
              return secret;
            },
            [&](std::string s) {
              cfg.log->info("client '{}': secret rotated", client_id);
              return s;
            },
            retry::never);
      },
      [=](revoke_client_atom, const std::string& client_id) -> caf::result<client_info> {
        return run<client_info>(
            self, cfg, [&](storage::pg_connection& c) { return storage::revoke_client(c, client_id); },
            [&](client_info info) {
              cfg.log->info("client '{}' revoked", info.client_id);
              return info;
            },
            retry::never);
      },
      [=](list_clients_atom) -> caf::result<client_list> {
        return run<client_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::list_clients(c, limits::max_query_rows); },
            [](std::vector<client_info> v) { return client_list{std::move(v)}; });
      },
      [=](audit_atom, const audit_event& e) -> caf::result<caf::unit_t> {
        return run<caf::unit_t>(
            self, cfg,
            [&](storage::pg_connection& c) -> result<caf::unit_t> {
              if (auto r = storage::insert_audit(c, e); !r)
                return r.error();
              return caf::unit;
            },
            identity<caf::unit_t>, retry::never);
      },
      [=](list_audit_atom, int64_t since_ms, uint32_t limit) -> caf::result<audit_list> {
        size_t n = std::min<size_t>(limit == 0 ? limits::max_query_rows : limit, limits::max_query_rows);
        return run<audit_list>(
            self, cfg, [&](storage::pg_connection& c) { return storage::list_audit(c, since_ms, n); },
            [](std::vector<audit_event> v) { return audit_list{std::move(v)}; });
      },
      [=](revoked_since_atom, int64_t since_ms) -> caf::result<client_list> {
        return run<client_list>(
            self, cfg,
            [&](storage::pg_connection& c) { return storage::clients_revoked_since(c, since_ms, 10000); },
            [](std::vector<client_info> v) { return client_list{std::move(v)}; });
      },
      [=](client_active_atom, const std::string& client_id) -> caf::result<bool> {
        return run<bool>(
            self, cfg, [&](storage::pg_connection& c) { return storage::client_active(c, client_id); },
            identity<bool>);
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
      [=](verify_atom, const tenant_scope& scope) -> caf::result<storage::verify_report> {
        return run<storage::verify_report>(
            self, cfg, [&](storage::pg_connection& c) { return storage::verify(c, scope.tenants); },
            identity<storage::verify_report>);
      },
      [=](cluster_status_atom) -> caf::result<caudal::cluster_status> {
        return run<caudal::cluster_status>(
            self, cfg, [&](storage::pg_connection& c) { return storage::cluster_status(c); },
            identity<caudal::cluster_status>);
      },
      [=](drain_node_atom, const std::string& node_id) -> caf::result<caudal::cluster_node_status> {
        if (node_id.empty() || node_id.size() > limits::max_name_bytes)
          return caf::make_error(errc::invalid_request);
        return run<caudal::cluster_node_status>(
            self, cfg,
            [&](storage::pg_connection& c) -> result<caudal::cluster_node_status> {
              auto drained = storage::drain_member(c, node_id);
              if (!drained)
                return drained.error();
              // The member as the status shows it (its shards fall to 0 as its lease rounds hand them over).
              auto status = storage::cluster_status(c);
              if (!status)
                return status.error();
              for (auto& n : status->nodes)
                if (n.id == node_id) {
                  if (drained->was != storage::member_state::draining)
                    cfg.log->info("cluster: {} (incarnation {}) set draining (was {}); it holds {} shards", n.id,
                                  n.incarnation, storage::member_state_name(drained->was), n.shards);
                  return std::move(n);
                }
              return failure{errc::node_not_found, "cluster: member " + node_id + " vanished"};
            },
            identity<caudal::cluster_node_status>, retry::never);
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
