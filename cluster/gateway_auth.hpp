#pragma once
// The gateway's authentication state (issue 5), one per node, used only on the kj event-loop thread:
//  - the live sessions of each client, so revoking a client closes them at once;
//  - clients revoked here or on other nodes: pushed by the node's revocation listener as each revocation
//    commits (follow()), and read from PostgreSQL every revocation_poll_ms (the safety net) and at once
//    after the listener (re)connects or drops ids past its bounds (catch_up());
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

class revocation_inbox;

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

  // Reads the clients revoked since the last read every revocation_poll_ms, forever (drop the promise).
  kj::Promise<void> poll_revocations();
  // Reads them now (the listener missed some, or may have): at most one read at a time; asked for again
  // meanwhile, one more follows it. A failed read is retried a few times, then left to the poll.
  void catch_up();
  // Takes what the listener pushes into `inbox`, forever (drop the promise): revokes each client, catches
  // up when asked.
  kj::Promise<void> follow(std::shared_ptr<revocation_inbox> inbox);

 private:
  void taskFailed(kj::Exception&& e) override;
  void prune(std::vector<std::weak_ptr<session_state>>& list);
  // One read of the clients revoked since the last successful read (minus a margin); true if it worked.
  kj::Promise<bool> read_revocations(bool catching_up);
  kj::Promise<void> run_catch_up(uint32_t attempt);

  std::shared_ptr<const gateway_context> ctx_;
  kj::Timer& timer_;
  security::failure_limiter by_client_;
  security::failure_limiter by_source_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<session_state>>> sessions_;
  std::unordered_map<std::string, int64_t> revoked_;  // client -> revoked at (s); pruned after a token lifetime
  int64_t polled_since_ms_ = 0;  // start (our clock) of the last successful read of revocations
  bool catch_up_running_ = false;
  bool catch_up_again_ = false;  // asked for while one ran
  uint64_t last_key_reload_ms_ = 0;
  size_t audit_in_flight_ = 0;
  uint64_t audit_dropped_ = 0;
  kj::TaskSet tasks_;
};

}  // namespace caudal::cluster
