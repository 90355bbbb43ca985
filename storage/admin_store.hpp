#pragma once
// Tenants, API clients and the ledger checker, over one pg_connection (blocking; detached actors only).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/admin_types.hpp"
#include "base/ids.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::storage {

using caudal::tenant_info;

// Creates the tenant and its first client in one transaction. errc::tenant_exists if the name is taken.
result<tenant_info> create_tenant(pg_connection& c, const std::string& name, const std::string& country,
                                  const std::string& client_id, const std::string& secret_hash);
result<std::vector<tenant_info>> list_tenants(pg_connection& c);
result<std::optional<tenant_info>> find_tenant(pg_connection& c, tenant_id t);

struct client_record {
  std::string client_id;
  std::optional<tenant_id> tenant;  // none: an operator client
  std::string secret_hash;
  bool admin = false;
  bool revoked = false;
  uint32_t scopes = 0;  // security::scope bits the client holds
};
result<std::optional<client_record>> find_client(pg_connection& c, const std::string& client_id);
// Creates the operator client if absent, or sets its hash if present (the scripts own its secret).
result<void> upsert_admin_client(pg_connection& c, const std::string& client_id, const std::string& secret_hash);

using caudal::verify_report;
// Recomputes, in one REPEATABLE READ READ ONLY snapshot: per tenant and ledger, debits = credits (posted
// and pending); every account's four balances equal the sums of its transfers (posted: single-phase and
// post rows; pending: pending rows still pending); every pending_transfers row has its transfer.
result<verify_report> verify(pg_connection& c, const std::vector<tenant_id>& tenants = {});

}  // namespace caudal::storage
