#pragma once
// OAuth 2.0 scopes of the client API (DESIGN 6 and 9) as a bit set. Pure functions; any thread.
//
//   ledger:read   lookups and history of the session's tenant
//   ledger:write  create accounts and transfers in the session's tenant
//   onboarding    bulk onboarding of the session's tenant (the onboarding issue adds its methods)
//   admin         the operator's scope: tenants, clients, keys, audit, verify. Moves no money: ledger
//                 calls need a tenant's client, whatever its scopes.
// A tenant's client may hold the first three; only an operator client (no tenant) may hold admin.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace caudal::security {

using scope_set = uint32_t;

namespace scope {
constexpr scope_set ledger_read = 1;
constexpr scope_set ledger_write = 2;
constexpr scope_set onboarding = 4;
constexpr scope_set admin = 8;
constexpr scope_set all = ledger_read | ledger_write | onboarding | admin;
constexpr scope_set tenant_all = ledger_read | ledger_write | onboarding;
}  // namespace scope

// "ledger:read" -> scope::ledger_read...; nullopt for an unknown name.
std::optional<scope_set> scope_from_name(std::string_view name);
// The names of the bits set, in the order above.
std::vector<std::string> scope_names(scope_set s);
// Space-separated, as OAuth's "scope" parameter and our JWT's "scope" claim.
std::string scope_string(scope_set s);

// The set named by `names` (duplicates allowed). errc::invalid_request naming the first unknown one.
result<scope_set> parse_scopes(const std::vector<std::string>& names);
// The same from a space-separated string ("" = no scope).
result<scope_set> parse_scope_string(std::string_view text);

// What a client may hold: tenant clients the tenant scopes, operator clients admin only.
// errc::invalid_request when `wanted` is empty or goes beyond that.
result<void> check_client_scopes(scope_set wanted, bool tenant_client);

// The scopes a token or session gets: `requested` (empty = everything the client holds) must be a subset
// of `granted`, else errc::forbidden (OAuth's invalid_scope).
result<scope_set> grant_scopes(scope_set granted, scope_set requested);

inline bool has_scope(scope_set held, scope_set needed) { return (held & needed) == needed; }

}  // namespace caudal::security
