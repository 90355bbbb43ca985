#pragma once
// The gateway's authentication state (issue 5), one per node, used only on the kj event-loop thread:
//  - the live sessions of each client, so revoking a client closes them at once;
//  - clients revoked here or (read every revocation_poll_ms from PostgreSQL) on other nodes;
//  - failed-authentication limiters per client id and per source address (bounded tables);
//  - audit writes, sent to the admin workers without waiting (bounded: past max_audit_in_flight they are
//    dropped and counted, and the node logs it);
//  - access-token verification against the key ring, with a rate-limited key reload for unknown kids.
#include <kj/async.h>
#include <kj/timer.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/protocol.hpp"
#include "base/result.hpp"
#include "cluster/gateway.hpp"
#include "security/jwt.hpp"
#include "security/rate_limiter.hpp"

namespace caudal::cluster {

// What a session is bound to; shared between the session capability and the registry below.
struct session_state {
  std::string client_id;
  std::optional<tenant_id> tenant;
  uint32_t scopes = 0;
  int64_t expires_at_s = 0;
  std::string source;
  bool revoked = false;
};

class gateway_auth : private kj::TaskSet::ErrorHandler {
 public:
  gateway_auth(std::shared_ptr<const gateway_context> ctx, kj::Timer& timer);

  int64_t now_s() const;
  uint64_t now_ms() const;

  // Rate limits: false when the client id or the source has failed too often lately.
  bool may_try(const std::string& client_id, const std::string& source);
  void failed(const std::string& client_id, const std::string& source);

  // A live session for `a` (errc::overloaded past max_sessions_per_client).
  result<std::shared_ptr<session_state>> add_session(const actors::auth_result& a, const std::string& source);
  // errc::none while the session may call: not revoked, not expired.
  errc live(const session_state& s) const;

  // Revokes locally: the client's sessions close now, its tokens are refused from now on.
  void revoke(const std::string& client_id);
  bool revoked(const std::string& client_id) const;

  // Verifies an access token; unknown kid: reloads the keys (at most once a second) and tries again.
  kj::Promise<result<security::token_claims>> verify(std::string token);

  // Fire-and-forget audit row.
  void audit(const std::string& client_id, const std::string& source, const std::string& action, errc outcome,
             const std::string& detail = {});

  kj::Promise<void> poll_revocations();

 private:
  void taskFailed(kj::Exception&& e) override;
  void prune(std::vector<std::weak_ptr<session_state>>& list);

  std::shared_ptr<const gateway_context> ctx_;
  kj::Timer& timer_;
  security::failure_limiter by_client_;
  security::failure_limiter by_source_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<session_state>>> sessions_;
  std::unordered_map<std::string, int64_t> revoked_;  // client -> revoked at (s); pruned after a token lifetime
  int64_t polled_since_ms_ = 0;
  uint64_t last_key_reload_ms_ = 0;
  size_t audit_in_flight_ = 0;
  uint64_t audit_dropped_ = 0;
  kj::TaskSet tasks_;
};

}  // namespace caudal::cluster
