#include "security/scopes.hpp"

namespace caudal::security {

namespace {

struct named_scope {
  std::string_view name;
  scope_set bit;
};

constexpr named_scope names[] = {{"ledger:read", scope::ledger_read},
                                 {"ledger:write", scope::ledger_write},
                                 {"onboarding", scope::onboarding},
                                 {"admin", scope::admin}};

}  // namespace

std::optional<scope_set> scope_from_name(std::string_view name) {
  for (const auto& n : names)
    if (n.name == name)
      return n.bit;
  return std::nullopt;
}

std::vector<std::string> scope_names(scope_set s) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (s & n.bit)
      out.emplace_back(n.name);
  return out;
}

std::string scope_string(scope_set s) {
  std::string out;
  for (const auto& n : scope_names(s))
    out += (out.empty() ? "" : " ") + n;
  return out;
}

result<scope_set> parse_scopes(const std::vector<std::string>& list) {
  scope_set s = 0;
  for (const auto& name : list) {
    auto bit = scope_from_name(name);
    if (!bit)
      return failure{errc::invalid_request,
                     "unknown scope '" + name.substr(0, 64) + "' (known: ledger:read ledger:write onboarding admin)"};
    s |= *bit;
  }
  return s;
}

result<scope_set> parse_scope_string(std::string_view text) {
  std::vector<std::string> list;
  size_t pos = 0;
  while (pos < text.size() && list.size() <= 16) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > pos)
      list.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (list.size() > 16)
    return failure{errc::invalid_request, "too many scopes"};
  return parse_scopes(list);
}

result<void> check_client_scopes(scope_set wanted, bool tenant_client) {
  if (wanted == 0)
    return failure{errc::invalid_request, "a client needs at least one scope"};
  scope_set allowed = tenant_client ? scope::tenant_all : scope::admin;
  if ((wanted & ~allowed) != 0)
    return failure{errc::invalid_request, tenant_client ? "a tenant's client cannot hold the admin scope"
                                                        : "an operator client holds the admin scope only"};
  return {};
}

result<scope_set> grant_scopes(scope_set granted, scope_set requested) {
  if (requested == 0)
    return granted;
  if ((requested & ~granted) != 0)
    return failure{errc::forbidden, "scope not granted to this client"};
  return requested;
}

}  // namespace caudal::security
