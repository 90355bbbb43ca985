// Tenants and API clients (verify() lives in verify.cpp).
#include "storage/admin_store.hpp"

#include "base/limits.hpp"
#include "storage/ledger_rows.hpp"

namespace caudal::storage {

namespace {

constexpr const char* unique_violation = "23505";

constexpr const char* tenant_columns = "tenant_id, name, country, (extract(epoch FROM created_at) * 1000)::bigint";

result<tenant_info> read_tenant(const pg_rows& r, int row) {
  int64_t id = 0;
  int64_t created_ms = 0;
  if (r.is_null(row, 0) || r.is_null(row, 3) || !codec::parse_i64(r.text(row, 0), id) ||
      !codec::parse_i64(r.text(row, 3), created_ms))
    return result<tenant_info>(errc::internal, "tenants: malformed row");
  tenant_info t;
  t.id = tenant_id(static_cast<uint64_t>(id));
  t.name = r.text(row, 1);
  t.country = r.text(row, 2);
  t.created_at_ms = created_ms;
  return t;
}

}  // namespace

result<tenant_info> create_tenant(pg_connection& c, const std::string& name, const std::string& country,
                                  const std::string& client_id, const std::string& secret_hash) {
  if (name.empty() || name.size() > limits::max_name_bytes || client_id.empty() ||
      client_id.size() > limits::max_name_bytes)
    return result<tenant_info>(errc::invalid_request, "tenant name or client id empty or too long");
  if (auto begun = c.exec("BEGIN"); !begun.ok())
    return begun.error();
  auto fail = [&](failure f) -> result<tenant_info> {
    const std::string state = c.last_sqlstate();
    const std::string constraint = c.last_constraint();
    if (c.healthy())
      (void)c.exec("ROLLBACK");
    if (state == unique_violation && constraint == "tenants_name_key")
      return result<tenant_info>(errc::tenant_exists, "tenant name taken");
    if (state == unique_violation && constraint == "clients_pkey")
      return result<tenant_info>(errc::invalid_request, "client id taken");
    return f;
  };
  // A country with a residency rule puts its region's number in bits 48..62 of the id (tenant_region_shift):
  // that is how every node places the tenant in its region's shards (cluster/placement.hpp,
  // schemas/sql/0005_residency.sql).
  static const std::string insert_sql =
      "INSERT INTO tenants (tenant_id, name, country) "
      "VALUES (nextval('tenant_ids') | (COALESCE((SELECT g.region_no "
      "FROM residency_rules r JOIN cluster_regions g USING (region) "
      "WHERE r.country = $2), 0)::bigint << " +
      std::to_string(tenant_region_shift) + "), $1, $2) RETURNING " + tenant_columns;
  auto inserted = c.query(insert_sql, {name.c_str(), country.c_str()});
  if (!inserted.ok())
    return fail(inserted.error());
  auto tenant = read_tenant(inserted.value(), 0);
  if (!tenant.ok())
    return fail(tenant.error());
  const std::string tenant_text = rows::tenant_param(tenant->id);
  auto client = c.query("INSERT INTO clients (client_id, tenant_id, secret_hash, admin) VALUES ($1, $2, $3, false)",
                        {client_id.c_str(), tenant_text.c_str(), secret_hash.c_str()});
  if (!client.ok())
    return fail(client.error());
  if (auto committed = c.exec("COMMIT"); !committed.ok())
    return fail(committed.error());
  return tenant;
}

result<std::vector<tenant_info>> list_tenants(pg_connection& c) {
  auto r = c.query(std::string("SELECT ") + tenant_columns + " FROM tenants ORDER BY tenant_id", {});
  if (!r.ok())
    return r.error();
  std::vector<tenant_info> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    auto t = read_tenant(r.value(), i);
    if (!t.ok())
      return t.error();
    out.push_back(std::move(t.value()));
  }
  return out;
}

result<std::optional<tenant_info>> find_tenant(pg_connection& c, tenant_id t) {
  const std::string id = rows::tenant_param(t);
  auto r = c.query(std::string("SELECT ") + tenant_columns + " FROM tenants WHERE tenant_id = $1", {id.c_str()});
  if (!r.ok())
    return r.error();
  if (r->size() == 0)
    return std::optional<tenant_info>();
  auto found = read_tenant(r.value(), 0);
  if (!found.ok())
    return found.error();
  return std::optional<tenant_info>(std::move(found.value()));
}

result<std::optional<client_record>> find_client(pg_connection& c, const std::string& client_id) {
  auto r = c.query(
      "SELECT client_id, tenant_id, secret_hash, admin, revoked_at IS NOT NULL, scopes FROM clients "
      "WHERE client_id = $1",
      {client_id.c_str()});
  if (!r.ok())
    return r.error();
  if (r->size() == 0)
    return std::optional<client_record>();
  client_record out;
  out.client_id = r->text(0, 0);
  if (!r->is_null(0, 1)) {
    int64_t t = 0;
    if (!codec::parse_i64(r->text(0, 1), t))
      return result<std::optional<client_record>>(errc::internal, "clients: malformed tenant_id");
    out.tenant = tenant_id(static_cast<uint64_t>(t));
  }
  out.secret_hash = r->text(0, 2);
  out.admin = r->text(0, 3)[0] == 't';
  out.revoked = r->text(0, 4)[0] == 't';
  // Scope names as stored (0002_security.sql); unknown names are ignored (they grant nothing).
  const std::string scopes = r->text(0, 5);
  size_t pos = 0;
  while (pos <= scopes.size()) {
    size_t end = scopes.find(' ', pos);
    if (end == std::string::npos)
      end = scopes.size();
    const std::string name = scopes.substr(pos, end - pos);
    out.scopes |= name == "ledger:read"    ? 1u
                  : name == "ledger:write" ? 2u
                  : name == "onboarding"   ? 4u
                  : name == "admin"        ? 8u
                                           : 0u;
    pos = end + 1;
  }
  return std::optional<client_record>(std::move(out));
}

result<void> upsert_admin_client(pg_connection& c, const std::string& client_id, const std::string& secret_hash) {
  // Only an operator client (no tenant) is updated: a tenant's client id never becomes an admin this way.
  auto r = c.query(
      "INSERT INTO clients (client_id, tenant_id, secret_hash, admin, scopes) VALUES ($1, NULL, $2, true, 'admin') "
      "ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, admin = true, scopes = 'admin' "
      "WHERE clients.tenant_id IS NULL",
      {client_id.c_str(), secret_hash.c_str()});
  if (!r.ok())
    return r.error();
  const char* n = PQcmdTuples(r->raw());
  if (n == nullptr || std::string(n) != "1")
    return result<void>(errc::invalid_request, "client id belongs to a tenant");
  return {};
}

}  // namespace caudal::storage
