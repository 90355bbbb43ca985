// OAuth 2.0 client credentials, access tokens, scopes, client management, revocation, key rotation, rate
// limits and the audit table (issue 5), against a real node over TLS.
#include <capnp/rpc-twoparty.h>
#include <doctest/doctest.h>
#include <kj/async-io.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "schemas/api.capnp.h"
#include "security/jwt.hpp"
#include "security/key_ring.hpp"
#include "security/key_wrap.hpp"
#include "security/tls.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/raw_rpc.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

errc code_of(const result<void>& r) {
  return r.ok() ? errc::none : r.error().code;
}
template <class T>
errc code_of(const result<T>& r) {
  return r.ok() ? errc::none : r.error().code;
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Opens a session from an access token alone.
result<void> open_with_token(client::connection& c, const ledger_fixture& fx, const std::string& token) {
  client::options o;
  o.server = fx.node->rpc_address();
  o.ca_file = fx.node->ca_file();
  o.access_token = token;
  o.timeout_ms = 30000;
  return c.open(o);
}

// The node's active signing key, read from PostgreSQL (as an attacker with the key could: to make tokens
// the node must refuse for other reasons than their signature).
security::signing_key active_key(const ledger_fixture& fx) {
  auto conn = fx.db.connect();
  auto r = conn->query("SELECT kid, public_key, private_key FROM signing_keys WHERE retired_at IS NULL", {});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  // Stored encrypted under the node's key-encryption key (auth.key_file), bound to its kid.
  const std::string kid = r->text(0, 0);
  const std::string sealed = r->text(0, 2);
  REQUIRE(security::is_sealed(sealed));
  auto kek = security::parse_kek_hex(fx.node->options().key_encryption_key_hex);
  REQUIRE(kek.ok());
  CHECK_FALSE(security::unseal(kek.value(), sealed, "another-kid").ok());
  auto raw = security::unseal(kek.value(), sealed, kid);
  REQUIRE(raw.ok());
  auto key = security::signing_key::from_private(kid, raw.value());
  REQUIRE(key.ok());
  CHECK(security::base64url_encode(key->raw_public()) == r->text(0, 1));
  return key.value();
}

bool audited(const std::vector<client::audit_event>& events, const std::string& action, const std::string& outcome,
             const std::string& client_id = {}) {
  return std::any_of(events.begin(), events.end(), [&](const client::audit_event& e) {
    return e.action == action && e.outcome == outcome && (client_id.empty() || e.client_id == client_id);
  });
}

std::string file_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("client credentials, tokens, scopes, revocation, key rotation and the audit trail") {
  // Many refusals on purpose below: a generous failure limit (the limiter has its own test case).
  ledger_fixture fx("auth", {"--auth-max-failures", "1000"});
  const int64_t started_ms = now_s() * 1000 - 1000;
  auto op = fx.operator_session();
  auto a = fx.create_tenant("auth-a");
  auto b = fx.create_tenant("auth-b");

  // 1. Client credentials give a session and a signed token; the token alone opens another session.
  auto sa = fx.session(a);
  REQUIRE(sa.tenant() == a.created.tenant.id);
  CHECK(sa.scopes() == std::vector<std::string>{"ledger:read", "ledger:write", "onboarding"});
  const std::string token = sa.access_token();
  REQUIRE_FALSE(token.empty());
  CHECK(std::count(token.begin(), token.end(), '.') == 2);
  CHECK(sa.expires_at_ms() > now_s() * 1000);
  CHECK(sa.expires_at_ms() <= (now_s() + 900 + 5) * 1000);  // default lifetime: 15 minutes
  REQUIRE(sa.create_accounts({make_account(1), make_account(2)}).ok());
  client::connection by_token;
  REQUIRE(open_with_token(by_token, fx, token).ok());
  CHECK(by_token.tenant() == a.created.tenant.id);
  auto found = by_token.lookup_accounts({acct(1)});
  REQUIRE(found.ok());
  CHECK(found->size() == 1);
  CHECK(op.is_admin());
  CHECK(op.scopes() == std::vector<std::string>{"admin"});

  // 2. Forged, altered and expired tokens are refused.
  {
    client::connection c;
    std::string altered = token;
    size_t mid = token.find('.') + 5;
    altered[mid] = altered[mid] == 'A' ? 'B' : 'A';
    CHECK(code_of(open_with_token(c, fx, altered)) == errc::unauthenticated);
    CHECK(code_of(open_with_token(c, fx, "not-a-token")) == errc::unauthenticated);
    // Claims for tenant B under A's signature.
    security::token_claims claims;
    claims.client_id = b.created.client_id;
    claims.tenant = b.created.tenant.id.value;
    claims.scopes = security::scope::tenant_all;
    claims.issued_at_s = now_s();
    claims.expires_at_s = now_s() + 600;
    claims.token_id = "forged";
    auto stranger = security::signing_key::generate().value();
    CHECK(code_of(open_with_token(c, fx, security::encode_token(claims, stranger).value())) == errc::unauthenticated);
    auto impostor = security::signing_key::from_private(security::token_kid(token).value(), stranger.raw_private());
    CHECK(code_of(open_with_token(c, fx, security::encode_token(claims, impostor.value()).value())) ==
          errc::unauthenticated);
    // The node's own key, but expired: refused; the same claims unexpired: accepted (the control).
    auto real = active_key(fx);
    claims.issued_at_s = now_s() - 1000;
    claims.expires_at_s = now_s() - 10;
    CHECK(code_of(open_with_token(c, fx, security::encode_token(claims, real).value())) == errc::unauthenticated);
    claims.expires_at_s = now_s() + 600;
    CHECK(open_with_token(c, fx, security::encode_token(claims, real).value()).ok());
  }

  // 3. Scopes: a read-only client reads but cannot write; it cannot ask for more than it holds; an
  //    operator moves no money; a tenant's session gets no admin interface.
  auto reader = op.create_client(a.created.tenant.id.value, {"ledger:read"});
  REQUIRE(reader.ok());
  CHECK(reader->client.scopes == security::scope::ledger_read);
  client::options ro = a.opts;
  ro.server = fx.node->rpc_address();
  ro.client_id = reader->client.client_id;
  ro.client_secret = reader->client_secret;
  client::connection rc;
  REQUIRE(rc.open(ro).ok());
  CHECK(rc.lookup_accounts({acct(1)}).ok());
  CHECK(code_of(rc.create_accounts({make_account(3)})) == errc::forbidden);
  ro.scopes = {"ledger:write"};
  client::connection more;
  CHECK(code_of(more.open(ro)) == errc::forbidden);
  CHECK(code_of(op.create_transfers({make_transfer(1, 1, 2, 5)})) == errc::forbidden);
  CHECK(code_of(sa.list_tenants()) == errc::forbidden);
  CHECK(code_of(op.create_client(a.created.tenant.id.value, {"admin"})) == errc::invalid_request);
  CHECK(code_of(op.create_client(0, {"ledger:write"})) == errc::invalid_request);
  // A session narrowed to ledger:read by the client itself.
  client::options narrow = a.opts;
  narrow.server = fx.node->rpc_address();
  narrow.scopes = {"ledger:read"};
  client::connection nc;
  REQUIRE(nc.open(narrow).ok());
  CHECK(code_of(nc.create_accounts({make_account(4)})) == errc::forbidden);

  // 4. Cross-tenant: B's session never sees A's accounts (bound to B, checked again by the registry).
  auto sb = fx.session(b);
  auto b_sees = sb.lookup_accounts({acct(1), acct(2)});
  REQUIRE(b_sees.ok());
  CHECK(b_sees->empty());

  // 5. Secret rotation: the old secret stops working, the new one works.
  auto rotated = op.rotate_client_secret(reader->client.client_id);
  REQUIRE(rotated.ok());
  ro.scopes.clear();
  client::connection old_secret;
  CHECK(code_of(old_secret.open(ro)) == errc::unauthenticated);
  ro.client_secret = rotated.value();
  client::connection new_secret;
  REQUIRE(new_secret.open(ro).ok());

  // 6. Key rotation: tokens of the previous key keep working until they expire; new ones use the new key.
  auto kid = op.rotate_signing_key();
  REQUIRE(kid.ok());
  CHECK(kid.value() != security::token_kid(token).value());
  client::connection after_rotation;
  REQUIRE(open_with_token(after_rotation, fx, token).ok());
  auto fresh = fx.session(a);
  CHECK(security::token_kid(fresh.access_token()).value() == kid.value());

  // 7. Revocation: the open sessions close at once, the tokens and the secret stop working.
  REQUIRE(sa.lookup_accounts({acct(1)}).ok());
  auto revoked = op.revoke_client(a.created.client_id);
  REQUIRE(revoked.ok());
  CHECK(revoked->revoked_at_ms != 0);
  CHECK(code_of(sa.lookup_accounts({acct(1)})) == errc::unauthenticated);
  CHECK(code_of(by_token.create_accounts({make_account(9)})) == errc::unauthenticated);
  client::connection again;
  CHECK(code_of(open_with_token(again, fx, token)) == errc::unauthenticated);
  CHECK(code_of(again.open(a.opts)) == errc::unauthenticated);
  // Other clients of the tenant are not affected.
  CHECK(new_secret.lookup_accounts({acct(1)}).ok());
  auto clients = op.list_clients();
  REQUIRE(clients.ok());
  auto listed = std::find_if(clients->begin(), clients->end(),
                             [&](const client::client_info& c) { return c.client_id == a.created.client_id; });
  REQUIRE(listed != clients->end());
  CHECK(listed->revoked_at_ms != 0);

  // 8. The audit trail has a row for each of these (audit writes are asynchronous: wait for the last one).
  std::vector<client::audit_event> events;
  for (int i = 0; i < 100; ++i) {
    auto r = op.list_audit(started_ms, 8190);
    REQUIRE(r.ok());
    events = r.value();
    if (audited(events, "revoke_client", "ok") && audited(events, "authenticate", "unauthenticated") &&
        audited(events, "lookup_accounts", "unauthenticated"))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(audited(events, "authenticate", "ok", a.created.client_id));
  CHECK(audited(events, "authenticate", "ok", fx.node->options().operator_client_id));
  CHECK(audited(events, "authenticate", "unauthenticated", reader->client.client_id));  // old secret
  CHECK(audited(events, "authenticate", "forbidden", reader->client.client_id));        // scope not held
  CHECK(audited(events, "open_session", "ok", a.created.client_id));
  CHECK(audited(events, "open_session", "unauthenticated"));                         // forged, altered, expired
  CHECK(audited(events, "create_accounts", "forbidden", reader->client.client_id));  // missing scope
  CHECK(audited(events, "create_transfers", "forbidden", fx.node->options().operator_client_id));
  CHECK(audited(events, "admin", "forbidden", a.created.client_id));
  CHECK(audited(events, "create_client", "ok"));
  CHECK(audited(events, "create_client", "invalid_request"));
  CHECK(audited(events, "rotate_client_secret", "ok"));
  CHECK(audited(events, "rotate_signing_key", "ok"));
  CHECK(audited(events, "revoke_client", "ok"));
  CHECK(audited(events, "lookup_accounts", "unauthenticated", a.created.client_id));  // revoked session
  CHECK(audited(events, "create_tenant", "ok"));
  for (const auto& e : events)
    CHECK(e.source.find("127.0.0.1:") == 0);

  // 9. No secret, token or key in the node's log.
  const std::string log = file_text(fx.node->log_path());
  CHECK(log.find(a.created.client_secret) == std::string::npos);
  CHECK(log.find(reader->client_secret) == std::string::npos);
  CHECK(log.find(rotated.value()) == std::string::npos);
  CHECK(log.find(fx.node->options().operator_secret) == std::string::npos);
  CHECK(log.find(token.substr(token.rfind('.') + 1)) == std::string::npos);
  CHECK(log.find(security::base64url_encode(active_key(fx).raw_private())) == std::string::npos);
  fx.require_verify_ok();
}

TEST_CASE("failed authentications are rate limited per client id and per source address") {
  ledger_fixture fx("auth_limit", {"--auth-max-failures", "3", "--auth-failure-window-ms", "600000"});
  auto a = fx.create_tenant("limited");
  client::options wrong = a.opts;
  wrong.server = fx.node->rpc_address();
  wrong.client_secret = "wrong-secret";
  for (int i = 0; i < 3; ++i) {
    client::connection c;
    CHECK(code_of(c.open(wrong)) == errc::unauthenticated);
  }
  // The right secret now answers rate_limited (the client id and this address failed 3 times)...
  client::connection c;
  auto limited = c.open(a.opts);
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().code == errc::rate_limited);
  CHECK(errc_retryable(errc::rate_limited));
  // ...and so does any client from this address.
  client::connection op;
  CHECK(code_of(op.open(fx.operator_options())) == errc::rate_limited);
}

TEST_CASE("an exception in a call reaches the client without its text") {
  ledger_fixture fx("auth_errors");
  // A raw client (its own thread: this one's event loop belongs to the client library) calls a method
  // the node's Session does not have: capnp would answer "... not implemented" with interface names.
  std::string description;
  bool unimplemented = false;
  std::thread raw([&] {
    auto io = kj::setupAsyncIo();
    std::unique_ptr<security::tls_context> tls;
    auto stream = test::raw_tls_stream(io, *fx.node, tls);
    capnp::TwoPartyClient rpc(*stream);
    auto gateway = rpc.bootstrap().castAs<api::Gateway>();
    auto auth = gateway.authenticateRequest();
    auth.setClientId(fx.node->options().operator_client_id);
    auth.setClientSecret(fx.node->options().operator_secret);
    auto session = auth.send().wait(io.waitScope).getSession();
    // The Session capability called as if it were a Gateway.
    auto wrong = session.castAs<api::Gateway>().openSessionRequest();
    wrong.setAccessToken("x");
    try {
      wrong.send().wait(io.waitScope);
    } catch (const kj::Exception& e) {
      description = e.getDescription().cStr();
      unimplemented = e.getType() == kj::Exception::Type::UNIMPLEMENTED;
    }
  });
  raw.join();
  CHECK(unimplemented);
  CHECK_MESSAGE(description.find("not implemented") != std::string::npos, description);
  CHECK_MESSAGE(description.find("caudal::api") == std::string::npos, description);
  CHECK_MESSAGE(description.find("Session") == std::string::npos, description);
  CHECK_MESSAGE(description.find(".c++") == std::string::npos, description);
}
