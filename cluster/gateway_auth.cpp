#include "cluster/gateway_auth.hpp"

#include <algorithm>

#include "cluster/caf_bridge.hpp"
#include "cluster/revocation_feed.hpp"

namespace caudal::cluster {

namespace {

// Client ids come from the wire: bounded and printable before they reach logs and the audit table.
std::string safe_id(const std::string& id) {
  std::string out;
  for (char c : id.substr(0, 128))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}


// The address part of "ip:port" / "[v6]:port": limits apply per source address, not per connection.
std::string host_part(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace

gateway_auth::gateway_auth(std::shared_ptr<const gateway_context> ctx, kj::Timer& timer)
    : ctx_(std::move(ctx)),
      timer_(timer),
      by_client_(ctx_->auth_failures),
      by_source_(ctx_->auth_failures),
      tasks_(*this) {
  polled_since_ms_ = static_cast<int64_t>(now_ms());
}

int64_t gateway_auth::now_s() const { return static_cast<int64_t>(now_ms() / 1000); }

uint64_t gateway_auth::now_ms() const {
  return (ctx_->clock ? ctx_->clock->now_ns() : system_clock().now_ns()) / ns_per_ms;
}

bool gateway_auth::may_try(const std::string& client_id, const std::string& source) {
  const uint64_t now = now_ms();
  return (client_id.empty() || by_client_.allowed(safe_id(client_id), now)) && by_source_.allowed(host_part(source), now);
}

void gateway_auth::failed(const std::string& client_id, const std::string& source) {
  const uint64_t now = now_ms();
  if (!client_id.empty())
    by_client_.record_failure(safe_id(client_id), now);
  by_source_.record_failure(host_part(source), now);
}

void gateway_auth::prune(std::vector<std::weak_ptr<session_state>>& list) {
  list.erase(std::remove_if(list.begin(), list.end(), [](const auto& w) { return w.expired(); }), list.end());
}

result<std::shared_ptr<session_state>> gateway_auth::add_session(const actors::auth_result& a,
                                                                 const std::string& source) {
  auto& list = sessions_[a.client_id];
  prune(list);
  if (list.size() >= ctx_->max_sessions_per_client)
    return failure{errc::overloaded, "too many sessions for one client"};
  auto s = std::make_shared<session_state>();
  s->client_id = a.client_id;
  s->tenant = a.tenant;
  s->scopes = a.scopes;
  s->expires_at_s = a.expires_at_s;
  s->source = source;
  s->revoked = revoked(a.client_id);
  list.push_back(s);
  return s;
}

errc gateway_auth::live(const session_state& s) const {
  if (s.revoked)
    return errc::unauthenticated;
  if (now_s() >= s.expires_at_s)
    return errc::unauthenticated;
  return errc::none;
}

void gateway_auth::revoke(const std::string& client_id) {
  const int64_t now = now_s();
  revoked_[client_id] = now;
  auto it = sessions_.find(client_id);
  size_t closed = 0;
  if (it != sessions_.end()) {
    for (auto& w : it->second) {
      if (auto s = w.lock()) {
        closed += s->revoked ? 0 : 1;
        s->revoked = true;
      }
    }
    sessions_.erase(it);
  }
  if (closed > 0 && ctx_->log)
    ctx_->log->info("client '{}' revoked: {} open session(s) closed on this node", safe_id(client_id), closed);
  // Forget revocations older than any token could be (bounded by revocations per token lifetime).
  for (auto r = revoked_.begin(); r != revoked_.end();) {
    if (now - r->second > static_cast<int64_t>(ctx_->token_ttl_s) * 2 + 60)
      r = revoked_.erase(r);
    else
      ++r;
  }
}

bool gateway_auth::revoked(const std::string& client_id) const { return revoked_.count(client_id) > 0; }

kj::Promise<result<security::token_claims>> gateway_auth::verify(std::string token) {
  auto keys = ctx_->keys;
  auto lookup = [keys, this](const std::string& kid) { return keys ? keys->find(kid, now_s()) : nullptr; };
  auto first = security::verify_token(token, lookup, now_s());
  if (first.ok() || !keys)
    return first;
  auto kid = security::token_kid(token);
  // Only a kid this node does not know yet (a key rotated on another node) is worth a reload; at most one
  // reload a second, so forged kids cannot make the node hammer PostgreSQL.
  if (!kid || keys->find(*kid, now_s()) != nullptr || now_ms() < last_key_reload_ms_ + 1000)
    return first;
  last_key_reload_ms_ = now_ms();
  return ask<caf::unit_t>(*ctx_->system, ctx_->admin, ctx_->timeout, actors::load_keys_atom::value)
      .then([this, token = std::move(token), lookup](result<caf::unit_t>) {
        return security::verify_token(token, lookup, now_s());
      });
}

void gateway_auth::audit(const std::string& client_id, const std::string& source, const std::string& action,
                         errc outcome, const std::string& detail) {
  if (audit_in_flight_ >= ctx_->max_audit_in_flight) {
    // Bounded: a flood of refused requests cannot queue audit writes without limit. Said in the log.
    if (audit_dropped_++ % 1000 == 0 && ctx_->log)
      ctx_->log->warn("audit writes backlogged: {} event(s) dropped so far", audit_dropped_);
    return;
  }
  audit_event e;
  e.client_id = safe_id(client_id);
  e.source = source;
  e.action = action;
  e.outcome = outcome == errc::none ? std::string("ok") : std::string(errc_name(outcome));
  e.detail = detail.substr(0, 256);
  ++audit_in_flight_;
  tasks_.add(ask<caf::unit_t>(*ctx_->system, ctx_->admin, ctx_->timeout, actors::audit_atom::value, std::move(e))
                 .then([this](result<caf::unit_t> r) {
                   --audit_in_flight_;
                   if (!r.ok() && ctx_->log)
                     ctx_->log->warn("audit write failed ({})", errc_name(r.error().code));
                 }));
}

kj::Promise<bool> gateway_auth::read_revocations(bool catching_up) {
  const char* why = catching_up ? "catch-up" : "poll";
  // Overlap the window by a second: revoked_at comes from PostgreSQL's clock, not ours.
  const int64_t since = polled_since_ms_ - 1000;
  const int64_t started = static_cast<int64_t>(now_ms());
  return ask<actors::client_list>(*ctx_->system, ctx_->admin, ctx_->timeout, actors::revoked_since_atom::value, since)
      .then([this, started, why, catching_up](result<actors::client_list> r) {
        if (!r.ok()) {
          if (ctx_->log)
            ctx_->log->warn("revocations: {} read failed ({})", why, errc_name(r.error().code));
          return false;
        }
        size_t fresh = 0;
        for (auto& c : r.value().items) {
          if (!revoked(c.client_id)) {
            revoke(c.client_id);
            ++fresh;
          }
        }
        // A catch-up and a poll may overlap: the window only moves forward.
        polled_since_ms_ = std::max(polled_since_ms_, started);
        if (ctx_->log && (fresh > 0 || catching_up))
          ctx_->log->info("revocations: {} read found {} client(s) newly revoked", why, fresh);
        return true;
      });
}

kj::Promise<void> gateway_auth::poll_revocations() {
  return timer_.afterDelay(ctx_->revocation_poll_ms * kj::MILLISECONDS)
      .then([this] { return read_revocations(false); })
      .then([this](bool) { return poll_revocations(); });
}

void gateway_auth::catch_up() {
  if (catch_up_running_) {
    catch_up_again_ = true;
    return;
  }
  catch_up_running_ = true;
  catch_up_again_ = false;
  tasks_.add(run_catch_up(0));
}

kj::Promise<void> gateway_auth::run_catch_up(uint32_t attempt) {
  // Bounded retries: the admin workers may still be reconnecting when the listener already has. Past
  // them the poll, which retries forever, is the net.
  constexpr uint32_t max_attempts = 5;
  constexpr uint32_t retry_ms = 1000;
  return read_revocations(true).then([this, attempt](bool ok) -> kj::Promise<void> {
    if (!ok && attempt + 1 < max_attempts)
      return timer_.afterDelay(retry_ms * kj::MILLISECONDS).then([this, attempt] {
        return run_catch_up(attempt + 1);
      });
    if (catch_up_again_) {
      catch_up_again_ = false;
      return run_catch_up(0);
    }
    catch_up_running_ = false;
    return kj::READY_NOW;
  });
}

kj::Promise<void> gateway_auth::follow(std::shared_ptr<revocation_inbox> inbox) {
  auto next = inbox->next();
  return next.then([this, inbox = std::move(inbox)](revocation_inbox::batch b) mutable {
    for (const auto& id : b.revoked) {
      if (ctx_->log && !revoked(id))
        ctx_->log->debug("revocation of client '{}' pushed by PostgreSQL", safe_id(id));
      revoke(id);
    }
    if (b.catch_up)
      catch_up();
    return follow(std::move(inbox));
  });
}

void gateway_auth::taskFailed(kj::Exception&& e) {
  if (ctx_->log)
    ctx_->log->warn("background task failed (audit write or revocation catch-up): {}", e.getDescription().cStr());
}

}  // namespace caudal::cluster
