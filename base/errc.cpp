#include "base/errc.hpp"

namespace caudal {

std::string_view errc_name(errc e) {
  switch (e) {
    case errc::none: return "none";
    case errc::overloaded: return "overloaded";
    case errc::batch_too_large: return "batch_too_large";
    case errc::invalid_request: return "invalid_request";
    case errc::unauthenticated: return "unauthenticated";
    case errc::forbidden: return "forbidden";
    case errc::tenant_not_found: return "tenant_not_found";
    case errc::tenant_unavailable: return "tenant_unavailable";
    case errc::commit_failed: return "commit_failed";
    case errc::commit_outcome_unknown: return "commit_outcome_unknown";
    case errc::database_unavailable: return "database_unavailable";
    case errc::timeout: return "timeout";
    case errc::internal: return "internal";
    case errc::shard_moving: return "shard_moving";
    case errc::node_down: return "node_down";
    case errc::region_unavailable: return "region_unavailable";
    case errc::rate_limited: return "rate_limited";
    case errc::tenant_exists: return "tenant_exists";
    case errc::not_enabled: return "not_enabled";
    case errc::not_owner: return "not_owner";
    case errc::node_not_found: return "node_not_found";
  }
  return "internal";
}

bool errc_retryable(errc e) {
  switch (e) {
    case errc::overloaded:
    case errc::tenant_unavailable:
    case errc::commit_failed:
    case errc::commit_outcome_unknown:
    case errc::database_unavailable:
    case errc::timeout:
    case errc::shard_moving:
    case errc::node_down:
    case errc::region_unavailable:
    case errc::rate_limited:
    case errc::not_owner:
      return true;
    default:
      return false;
  }
}

}  // namespace caudal
