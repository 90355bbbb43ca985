// Clients, signing keys and audit rows (see security_store.hpp).
#include "storage/security_store.hpp"

#include <algorithm>

#include "storage/ledger_rows.hpp"

namespace caudal::storage {

namespace {

constexpr const char* unique_violation = "23505";
constexpr const char* foreign_key_violation = "23503";

constexpr const char* client_columns =
    "client_id, tenant_id, scopes, (extract(epoch FROM created_at) * 1000)::bigint, "
    "COALESCE((extract(epoch FROM revoked_at) * 1000)::bigint, 0)";

// Scope names are kept as text in the table (readable with psql); the bits are security::scope's.
uint32_t scope_bits(const std::string& text) {
  uint32_t bits = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string name = text.substr(pos, end - pos);
    if (name == "ledger:read")
      bits |= 1;
    if (name == "ledger:write")
      bits |= 2;
    if (name == "onboarding")
      bits |= 4;
    if (name == "admin")
      bits |= 8;
    pos = end + 1;
  }
  return bits;
}

std::string scope_text(uint32_t bits) {
  std::string out;
  const char* names[] = {"ledger:read", "ledger:write", "onboarding", "admin"};
  for (int i = 0; i < 4; ++i)
    if (bits & (1u << i))
      out += (out.empty() ? "" : " ") + std::string(names[i]);
  return out;
}

bool read_i64(const pg_rows& r, int row, int col, int64_t& out) {
  return !r.is_null(row, col) && codec::parse_i64(r.text(row, col), out);
}

result<client_info> read_client(const pg_rows& r, int row) {
  client_info ci;
  ci.client_id = r.text(row, 0);
  if (!r.is_null(row, 1)) {
    int64_t t = 0;
    if (!codec::parse_i64(r.text(row, 1), t))
      return failure{errc::internal, "clients: malformed tenant_id"};
    ci.tenant = tenant_id(static_cast<uint64_t>(t));
  }
  ci.scopes = scope_bits(r.text(row, 2));
  if (!read_i64(r, row, 3, ci.created_at_ms) || !read_i64(r, row, 4, ci.revoked_at_ms))
    return failure{errc::internal, "clients: malformed times"};
  return ci;
}

result<std::vector<client_info>> read_clients(const pg_rows& r) {
  std::vector<client_info> out;
  for (int i = 0; i < r.size(); ++i) {
    auto ci = read_client(r, i);
    if (!ci)
      return ci.error();
    out.push_back(std::move(ci.value()));
  }
  return out;
}

}  // namespace

result<client_info> create_client(pg_connection& c, const std::string& client_id, std::optional<tenant_id> t,
                                  uint32_t scopes, const std::string& secret_hash) {
  const std::string tenant_text = t ? rows::tenant_param(*t) : std::string();
  const std::string scopes_text = scope_text(scopes);
  auto r = c.query(std::string("INSERT INTO clients (client_id, tenant_id, secret_hash, admin, scopes) "
                               "VALUES ($1, $2, $3, $4, $5) RETURNING ") +
                       client_columns,
                   {client_id.c_str(), t ? tenant_text.c_str() : nullptr, secret_hash.c_str(), t ? "false" : "true",
                    scopes_text.c_str()});
  if (!r.ok()) {
    if (c.last_sqlstate() == unique_violation)
      return failure{errc::invalid_request, "client id taken"};
    if (c.last_sqlstate() == foreign_key_violation)
      return failure{errc::tenant_not_found, "no such tenant"};
    return r.error();
  }
  return read_client(r.value(), 0);
}

result<void> set_client_secret(pg_connection& c, const std::string& client_id, const std::string& secret_hash) {
  auto r = c.query(
      "UPDATE clients SET secret_hash = $2, secret_rotated_at = now() WHERE client_id = $1 AND revoked_at IS NULL",
      {client_id.c_str(), secret_hash.c_str()});
  if (!r.ok())
    return r.error();
  const char* n = PQcmdTuples(r->raw());
  if (n == nullptr || std::string(n) != "1")
    return failure{errc::invalid_request, "no such active client"};
  return {};
}

bool well_formed_client_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
           ch == '-';
  });
}

result<client_info> revoke_client(pg_connection& c, const std::string& client_id) {
  // One statement, so one transaction: the notification is delivered when the UPDATE commits, and not at
  // all when it does not. pg_notify runs once per updated row (at most one: the primary key).
  auto r = c.query(std::string("WITH revoked AS (UPDATE clients SET revoked_at = COALESCE(revoked_at, now()) "
                               "WHERE client_id = $1 RETURNING *) SELECT ") +
                       client_columns + ", pg_notify('" + revocation_channel + "', client_id) FROM revoked",
                   {client_id.c_str()});
  if (!r.ok())
    return r.error();
  if (r->size() == 0)
    return failure{errc::invalid_request, "no such client"};
  return read_client(r.value(), 0);
}

result<std::vector<client_info>> list_clients(pg_connection& c, size_t limit) {
  const std::string n = std::to_string(limit);
  auto r = c.query(std::string("SELECT ") + client_columns + " FROM clients ORDER BY created_at, client_id LIMIT $1",
                   {n.c_str()});
  if (!r.ok())
    return r.error();
  return read_clients(r.value());
}

result<std::vector<client_info>> clients_revoked_since(pg_connection& c, int64_t since_ms, size_t limit) {
  const std::string since = std::to_string(since_ms);
  const std::string n = std::to_string(limit);
  auto r = c.query(std::string("SELECT ") + client_columns +
                       " FROM clients WHERE revoked_at >= to_timestamp($1::bigint / 1000.0) "
                       "ORDER BY revoked_at LIMIT $2",
                   {since.c_str(), n.c_str()});
  if (!r.ok())
    return r.error();
  return read_clients(r.value());
}

result<std::vector<std::string>> revoked_among(pg_connection& c, const std::vector<std::string>& client_ids) {
  if (client_ids.size() > 1000)
    return failure{errc::invalid_request, "too many client ids"};
  // A text[] literal; every element quoted (an unquoted NULL would be a null), which is safe because a
  // well-formed id holds no quote, backslash, comma or brace.
  std::string ids = "{";
  for (const auto& id : client_ids) {
    if (!well_formed_client_id(id))
      return failure{errc::invalid_request, "malformed client id"};
    ids += (ids.size() > 1 ? ",\"" : "\"") + id + "\"";
  }
  ids += "}";
  auto r = c.query("SELECT client_id FROM clients WHERE client_id = ANY($1::text[]) AND revoked_at IS NOT NULL",
                   {ids.c_str()});
  if (!r.ok())
    return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->size(); ++i)
    out.emplace_back(r->text(i, 0));
  return out;
}

result<bool> client_active(pg_connection& c, const std::string& client_id) {
  auto r = c.query("SELECT 1 FROM clients WHERE client_id = $1 AND revoked_at IS NULL", {client_id.c_str()});
  if (!r.ok())
    return r.error();
  return r->size() == 1;
}

result<std::vector<stored_key>> load_signing_keys(pg_connection& c, int64_t retired_after_ms) {
  const std::string after = std::to_string(retired_after_ms);
  auto r = c.query(
      "SELECT kid, public_key, private_key, (extract(epoch FROM created_at) * 1000)::bigint, "
      "COALESCE((extract(epoch FROM retired_at) * 1000)::bigint, 0) FROM signing_keys "
      "WHERE retired_at IS NULL OR retired_at >= to_timestamp($1::bigint / 1000.0) ORDER BY created_at DESC LIMIT 100",
      {after.c_str()});
  if (!r.ok())
    return r.error();
  std::vector<stored_key> out;
  for (int i = 0; i < r->size(); ++i) {
    stored_key k;
    k.kid = r->text(i, 0);
    k.public_b64 = r->text(i, 1);
    k.private_b64 = r->text(i, 2);
    if (!read_i64(r.value(), i, 3, k.created_at_ms) || !read_i64(r.value(), i, 4, k.retired_at_ms))
      return failure{errc::internal, "signing_keys: malformed times"};
    out.push_back(std::move(k));
  }
  return out;
}

result<bool> insert_first_signing_key(pg_connection& c, const stored_key& fresh) {
  if (auto b = c.exec("BEGIN"); !b.ok())
    return b.error();
  auto rollback = [&](failure f) -> result<bool> {
    if (c.healthy())
      (void)c.exec("ROLLBACK");
    return f;
  };
  // Several nodes starting at once: the transaction-scoped lock makes the check and the insert one step.
  if (auto l = c.exec("SELECT pg_advisory_xact_lock(108936652956013)"); !l.ok())
    return rollback(l.error());
  auto active = c.query("SELECT 1 FROM signing_keys WHERE retired_at IS NULL", {});
  if (!active.ok())
    return rollback(active.error());
  bool inserted = false;
  if (active->size() == 0) {
    auto ins = c.query("INSERT INTO signing_keys (kid, public_key, private_key) VALUES ($1, $2, $3)",
                       {fresh.kid.c_str(), fresh.public_b64.c_str(), fresh.private_b64.c_str()});
    if (!ins.ok())
      return rollback(ins.error());
    inserted = true;
  }
  if (auto done = c.exec("COMMIT"); !done.ok())
    return rollback(done.error());
  return inserted;
}

result<void> rotate_signing_key(pg_connection& c, const stored_key& fresh) {
  if (auto b = c.exec("BEGIN"); !b.ok())
    return b.error();
  auto rollback = [&](failure f) -> result<void> {
    if (c.healthy())
      (void)c.exec("ROLLBACK");
    return f;
  };
  if (auto l = c.exec("SELECT pg_advisory_xact_lock(108936652956013)"); !l.ok())
    return rollback(l.error());
  if (auto u = c.exec("UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL"); !u.ok())
    return rollback(u.error());
  auto ins = c.query("INSERT INTO signing_keys (kid, public_key, private_key) VALUES ($1, $2, $3)",
                     {fresh.kid.c_str(), fresh.public_b64.c_str(), fresh.private_b64.c_str()});
  if (!ins.ok())
    return rollback(ins.error());
  if (auto done = c.exec("COMMIT"); !done.ok())
    return rollback(done.error());
  return {};
}

result<void> insert_audit(pg_connection& c, const audit_event& e) {
  auto r = c.query("INSERT INTO audit_events (client_id, source, action, outcome, detail) VALUES ($1, $2, $3, $4, $5)",
                   {e.client_id.c_str(), e.source.c_str(), e.action.c_str(), e.outcome.c_str(), e.detail.c_str()});
  if (!r.ok())
    return r.error();
  return {};
}

result<std::vector<audit_event>> list_audit(pg_connection& c, int64_t since_ms, size_t limit) {
  const std::string since = std::to_string(since_ms);
  const std::string n = std::to_string(limit);
  auto r = c.query(
      "SELECT id, (extract(epoch FROM at) * 1000)::bigint, client_id, source, action, outcome, detail "
      "FROM audit_events WHERE at >= to_timestamp($1::bigint / 1000.0) ORDER BY id LIMIT $2",
      {since.c_str(), n.c_str()});
  if (!r.ok())
    return r.error();
  std::vector<audit_event> out;
  for (int i = 0; i < r->size(); ++i) {
    audit_event e;
    if (!read_i64(r.value(), i, 0, e.id) || !read_i64(r.value(), i, 1, e.at_ms))
      return failure{errc::internal, "audit_events: malformed row"};
    e.client_id = r->text(i, 2);
    e.source = r->text(i, 3);
    e.action = r->text(i, 4);
    e.outcome = r->text(i, 5);
    e.detail = r->text(i, 6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace caudal::storage
