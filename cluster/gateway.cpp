#include "cluster/gateway.hpp"

#include <capnp/message.h>

#include "actors/protocol.hpp"
#include "base/limits.hpp"
#include "cluster/caf_bridge.hpp"
#include "cluster/gateway_auth.hpp"
#include "schemas/codec.hpp"
#include "security/scopes.hpp"

namespace caudal::cluster {

// Request metrics: counts by operation and outcome, latency by operation and tenant (p95/p99 per tenant
// and operation come from the histogram). Resolved once per request; recording itself is lock-free.
struct request_metrics {
  metrics::counter_family* requests = nullptr;
  metrics::histogram_family* latency = nullptr;
  metrics::counter_family* items = nullptr;

  explicit request_metrics(metrics::registry* r) {
    if (r == nullptr)
      return;
    requests = &r->add_counter("caudal_requests_total", "Client requests by operation and outcome",
                               {"operation", "outcome"});
    latency = &r->add_histogram("caudal_request_duration_seconds",
                                "Client request latency at the gateway, by operation and tenant",
                                {"operation", "tenant"});
    items = &r->add_counter("caudal_request_items_total", "Items in client requests by operation", {"operation"});
  }

  void record(const char* operation, uint64_t tenant, std::chrono::steady_clock::time_point start, errc outcome, size_t n) const {
    if (requests == nullptr)
      return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    requests->with({operation, outcome == errc::none ? std::string_view("ok") : errc_name(outcome)}).inc();
    latency->with({operation, std::to_string(tenant)}).observe(static_cast<uint64_t>(us));
    if (n > 0)
      items->with({operation}).inc(n);
  }
};


namespace {

using namespace caudal::actors;
using ctx_ptr = std::shared_ptr<const gateway_context>;
using auth_ptr = std::shared_ptr<gateway_auth>;
using state_ptr = std::shared_ptr<session_state>;
using steady = std::chrono::steady_clock;

template <class Results>
void fail(Results res, errc e) {
  wire::set_error(res.initError(), e);
}

// Answers a call when its actor reply arrives: the error field always, the payload (`fill`) on success,
// then `done` (metrics) with the outcome.
template <class Context, class T, class Fill>
kj::Promise<void> respond(kj::Promise<result<T>> reply, Context context, Fill fill,
                          std::function<void(errc)> done = {}) {
  return reply
      .then([context, fill, done](result<T> r) mutable {
        auto out = context.getResults();
        errc code = r.ok() ? errc::none : r.error().code;
        auto error = out.initError();
        wire::set_error(error, code);
        // Which residency region has no node up is the client's business; every other detail is internal.
        if (code == errc::region_unavailable && !r.error().detail.empty())
          error.setDetail(r.error().detail);
        if (r.ok())
          fill(out, r.value());
        if (done)
          done(code);
      })
      .catch_([context, done](kj::Exception&&) mutable {
        // capnp would send the exception's text to the caller: answer the stable code instead (no internal
        // detail leaves the node).
        wire::set_error(context.getResults().initError(), errc::internal);
        if (done)
          done(errc::internal);
      });
}

// capnp sends an exception's description to the caller. Every call of our servers passes through here:
// an exception that escapes a method (ours, or capnp's while reading a malformed request, or a call of a
// method this server does not have) reaches the client with its type kept (a DISCONNECTED stays
// retryable) but a fixed text; the original text goes only to the node's log.
kj::Exception sanitize(const kj::Exception& e, const std::shared_ptr<spdlog::logger>& log) {
  if (log)
    log->warn("call failed with an exception (the client sees only its type): {}", e.getDescription().cStr());
  const char* text = e.getType() == kj::Exception::Type::UNIMPLEMENTED ? "not implemented" : "internal error";
  return kj::Exception(e.getType(), "caudal", 0, kj::str(text));
}

template <class Base>
class sanitized : public Base {
 public:
  explicit sanitized(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  capnp::Capability::Server::DispatchCallResult dispatchCall(
      uint64_t interface_id, uint16_t method_id,
      capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    auto log = log_;
    try {
      auto r = Base::dispatchCall(interface_id, method_id, context);
      return {r.promise.catch_([log](kj::Exception&& e) -> kj::Promise<void> { return sanitize(e, log); }),
              r.isStreaming};
    } catch (const kj::Exception& e) {
      return {kj::Promise<void>(sanitize(e, log)), false};
    }
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
};

bool valid_filter(const ledger::account_filter& f) {
  using namespace ledger::account_filter_flags;
  if (f.account.value.is_zero() || f.account.value.is_max())
    return false;
  if (f.limit == 0 || f.limit > limits::max_query_rows)
    return false;
  if ((f.flags & (debits | credits)) == 0 || (f.flags & ~(debits | credits | reversed)) != 0)
    return false;
  return f.timestamp_max == 0 || f.timestamp_min <= f.timestamp_max;
}

// The operator's interface. Every call checks the session is still live (not revoked, not expired) and
// leaves an audit row with its outcome.
class admin_impl final : public sanitized<api::Admin::Server> {
 public:
  admin_impl(ctx_ptr ctx, auth_ptr auth, state_ptr session)
      : sanitized(ctx->log), ctx_(std::move(ctx)), auth_(std::move(auth)), session_(std::move(session)) {}

  kj::Promise<void> createTenant(CreateTenantContext context) override {
    auto p = context.getParams();
    std::string name = p.getName();
    std::string country = p.getCountry();
    if (auto e = live(); e != errc::none)
      return refuse(context, "create_tenant", e);
    return respond(
        ask<created_tenant>(*ctx_->system, ctx_->admin, ctx_->timeout, create_tenant_atom::value, name, country),
        context,
        [](auto out, created_tenant& c) {
          wire::to_wire(c.tenant, out.initTenant());
          out.setClientId(c.client_id);
          out.setClientSecret(c.client_secret);
        },
        audited("create_tenant", "tenant " + name.substr(0, 128)));
  }

  kj::Promise<void> listTenants(ListTenantsContext context) override {
    if (auto e = live(); e != errc::none)
      return refuse(context, "list_tenants", e);
    return respond(ask<tenant_list>(*ctx_->system, ctx_->admin, ctx_->timeout, list_tenants_atom::value), context,
                   [](auto out, tenant_list& ts) {
                     auto list = out.initTenants(static_cast<unsigned>(ts.items.size()));
                     for (unsigned i = 0; i < list.size(); ++i)
                       wire::to_wire(ts.items[i], list[i]);
                   },
                   audited("list_tenants"));
  }

  kj::Promise<void> verify(VerifyContext context) override {
    if (auto e = live(); e != errc::none)
      return refuse(context, "verify", e);
    const auto ids = context.getParams().getTenants();
    if (ids.size() > limits::max_batch_items) {
      fail(context.getResults(), errc::batch_too_large);
      return kj::READY_NOW;
    }
    tenant_scope scope;
    scope.tenants.reserve(ids.size());
    for (auto id : ids)
      scope.tenants.push_back(tenant_id{id});
    // The checker reads the whole ledger (or whole tenants): give it more time than a request.
    return respond(
        ask<storage::verify_report>(*ctx_->system, ctx_->checker, ctx_->timeout * 10, verify_atom::value,
                                    std::move(scope)),
        context, [](auto out, storage::verify_report& r) { wire::to_wire(r, out.initReport()); }, audited("verify"));
  }

  kj::Promise<void> clusterStatus(ClusterStatusContext context) override {
    return respond(ask<caudal::cluster_status>(*ctx_->system, ctx_->admin, ctx_->timeout, cluster_status_atom::value),
                   context, [](auto out, caudal::cluster_status& s) { wire::to_wire(s, out.initStatus()); });
  }

  kj::Promise<void> injectFault(InjectFaultContext context) override {
    auto f = context.getParams().getFault();
    if (!ctx_->test_hooks) {
      fail(context.getResults(), errc::not_enabled);
      return kj::READY_NOW;
    }
    if (auto e = live(); e != errc::none)
      return refuse(context, "inject_fault", e);
    tenant_id t{f.getTenantId()};
    auto& sys = *ctx_->system;
    auto nothing = [](auto, caf::unit_t&) {};
    switch (f.getKind()) {
      case api::FaultKind::CRASH_TENANT:
        return respond(ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, crash_atom::value, t), context, nothing);
      case api::FaultKind::CRASH_ACCOUNT:
        return respond(ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, crash_account_atom::value, t,
                                        account_id{u128{f.getAccountIdHi(), f.getAccountIdLo()}}),
                       context, nothing);
      case api::FaultKind::PASSIVATE_TENANT:
        return respond(ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, passivate_atom::value, t), context,
                       nothing);
      case api::FaultKind::WRITER_DELAY:
        for (const auto& w : ctx_->writers)
          caf::anon_send(w, writer_delay_atom::value, f.getDelayMs());
        wire::set_error(context.getResults().initError(), errc::none);
        return kj::READY_NOW;
      default:
        fail(context.getResults(), errc::invalid_request);
        return kj::READY_NOW;
    }
  }

  kj::Promise<void> createClient(CreateClientContext context) override {
    auto p = context.getParams();
    uint64_t tenant = p.getTenantId();
    auto scopes = wire::scopes_from_wire(p.getScopes());
    if (auto e = live(); e != errc::none)
      return refuse(context, "create_client", e);
    std::string what = tenant == 0 ? std::string("operator client") : "client of tenant " + std::to_string(tenant);
    if (!scopes) {
      audit("create_client", errc::invalid_request, what);
      return fail(context.getResults(), errc::invalid_request), kj::READY_NOW;
    }
    auto auth = auth_;
    auto who = session_;
    return respond(
        ask<created_client>(*ctx_->system, ctx_->admin, ctx_->timeout, create_client_atom::value, tenant, *scopes),
        context,
        [auth, who, what](auto out, created_client& c) {
          wire::to_wire(c.client, out.initClient());
          out.setClientSecret(c.client_secret);
          auth->audit(who->client_id, who->source, "create_client", errc::none,
                      what + ": " + c.client.client_id + " (" + security::scope_string(c.client.scopes) + ")");
        },
        [auth, who, what](errc e) {
          if (e != errc::none)
            auth->audit(who->client_id, who->source, "create_client", e, what);
        });
  }

  kj::Promise<void> rotateClientSecret(RotateClientSecretContext context) override {
    std::string client_id = context.getParams().getClientId();
    if (auto e = live(); e != errc::none)
      return refuse(context, "rotate_client_secret", e);
    return respond(ask<std::string>(*ctx_->system, ctx_->admin, ctx_->timeout, rotate_secret_atom::value, client_id),
                   context, [](auto out, std::string& secret) { out.setClientSecret(secret); },
                   audited("rotate_client_secret", "client " + client_id.substr(0, 128)));
  }

  kj::Promise<void> revokeClient(RevokeClientContext context) override {
    std::string client_id = context.getParams().getClientId();
    if (auto e = live(); e != errc::none)
      return refuse(context, "revoke_client", e);
    auto auth = auth_;
    return respond(ask<client_info>(*ctx_->system, ctx_->admin, ctx_->timeout, revoke_client_atom::value, client_id),
                   context,
                   [auth](auto out, client_info& c) {
                     // Its sessions on this node close now and its tokens stop working here at once.
                     auth->revoke(c.client_id);
                     wire::to_wire(c, out.initClient());
                   },
                   audited("revoke_client", "client " + client_id.substr(0, 128)));
  }

  kj::Promise<void> listClients(ListClientsContext context) override {
    if (auto e = live(); e != errc::none)
      return refuse(context, "list_clients", e);
    return respond(ask<client_list>(*ctx_->system, ctx_->admin, ctx_->timeout, list_clients_atom::value), context,
                   [](auto out, client_list& cs) {
                     auto list = out.initClients(static_cast<unsigned>(cs.items.size()));
                     for (unsigned i = 0; i < list.size(); ++i)
                       wire::to_wire(cs.items[i], list[i]);
                   },
                   audited("list_clients"));
  }

  kj::Promise<void> rotateSigningKey(RotateSigningKeyContext context) override {
    if (auto e = live(); e != errc::none)
      return refuse(context, "rotate_signing_key", e);
    auto auth = auth_;
    auto who = session_;
    return respond(ask<std::string>(*ctx_->system, ctx_->admin, ctx_->timeout, rotate_key_atom::value), context,
                   [auth, who](auto out, std::string& kid) {
                     out.setKeyId(kid);
                     auth->audit(who->client_id, who->source, "rotate_signing_key", errc::none, "new key " + kid);
                   },
                   [auth, who](errc e) {
                     if (e != errc::none)
                       auth->audit(who->client_id, who->source, "rotate_signing_key", e);
                   });
  }

  kj::Promise<void> listAudit(ListAuditContext context) override {
    auto p = context.getParams();
    int64_t since = p.getSinceMs();
    uint32_t limit = p.getLimit();
    if (auto e = live(); e != errc::none)
      return refuse(context, "list_audit", e);
    return respond(
        ask<audit_list>(*ctx_->system, ctx_->admin, ctx_->timeout, list_audit_atom::value, since, limit), context,
        [](auto out, audit_list& events) {
          auto list = out.initEvents(static_cast<unsigned>(events.items.size()));
          for (unsigned i = 0; i < list.size(); ++i)
            wire::to_wire(events.items[i], list[i]);
        },
        audited("list_audit"));
  }

  kj::Promise<void> drainNode(DrainNodeContext context) override {
    std::string node_id = context.getParams().getNodeId();
    const std::string what = "node " + node_id.substr(0, 128);
    if (auto e = live(); e != errc::none) {
      audit("drain_node", e, what);
      return fail(context.getResults(), e), kj::READY_NOW;
    }
    auto auth = auth_;
    auto who = session_;
    return respond(
        ask<caudal::cluster_node_status>(*ctx_->system, ctx_->admin, ctx_->timeout, drain_node_atom::value, node_id),
        context,
        [auth, who, what](auto out, caudal::cluster_node_status& n) {
          wire::to_wire(n, out.initNode());
          auth->audit(who->client_id, who->source, "drain_node", errc::none,
                      what + " incarnation " + std::to_string(n.incarnation) + " draining, holding " +
                          std::to_string(n.shards) + " shards");
        },
        [auth, who, what](errc e) {
          if (e != errc::none)
            auth->audit(who->client_id, who->source, "drain_node", e, what);
        });
  }

 private:
  errc live() const { return auth_->live(*session_); }

  void audit(const char* action, errc outcome, const std::string& detail = {}) const {
    auth_->audit(session_->client_id, session_->source, action, outcome, detail);
  }

  std::function<void(errc)> audited(const char* action, std::string detail = {}) const {
    return [auth = auth_, who = session_, action, detail](errc e) {
      auth->audit(who->client_id, who->source, action, e, detail);
    };
  }

  template <class Context>
  kj::Promise<void> refuse(Context& context, const char* action, errc e) {
    audit(action, e);
    fail(context.getResults(), e);
    return kj::READY_NOW;
  }

  ctx_ptr ctx_;
  auth_ptr auth_;
  state_ptr session_;
};

class session_impl final : public sanitized<api::Session::Server> {
 public:
  session_impl(ctx_ptr ctx, std::shared_ptr<const request_metrics> metrics, auth_ptr auth, state_ptr state)
      : sanitized(ctx->log),
        ctx_(std::move(ctx)),
        metrics_(std::move(metrics)),
        auth_(std::move(auth)),
        state_(std::move(state)) {}

  kj::Promise<void> createAccounts(CreateAccountsContext context) override {
    auto start = steady::now();
    auto list = context.getParams().getAccounts();
    if (auto e = check_ledger_call(list.size(), security::scope::ledger_write); e != errc::none)
      return refuse(context, "create_accounts", start, e);
    account_batch batch;
    batch.items.reserve(list.size());
    for (auto a : list)
      batch.items.push_back(wire::from_wire(a));
    return respond(
        ask<account_results>(*ctx_->system, ctx_->router, ctx_->timeout, create_accounts_atom::value,
                             who(), *state_->tenant, std::move(batch)),
        context,
        [](auto out, account_results& r) {
          auto l = out.initResults(static_cast<unsigned>(r.items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            l.set(i, wire::to_wire(r.items[i]));
        },
        done("create_accounts", start, list.size()));
  }

  kj::Promise<void> createTransfers(CreateTransfersContext context) override {
    auto start = steady::now();
    auto list = context.getParams().getTransfers();
    if (auto e = check_ledger_call(list.size(), security::scope::ledger_write); e != errc::none)
      return refuse(context, "create_transfers", start, e);
    transfer_batch batch;
    batch.items.reserve(list.size());
    for (auto t : list)
      batch.items.push_back(wire::from_wire(t));
    return respond(
        ask<transfer_results>(*ctx_->system, ctx_->router, ctx_->timeout, create_transfers_atom::value,
                              who(), *state_->tenant, std::move(batch)),
        context,
        [](auto out, transfer_results& r) {
          auto l = out.initResults(static_cast<unsigned>(r.items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            l.set(i, wire::to_wire(r.items[i]));
        },
        done("create_transfers", start, list.size()));
  }

  kj::Promise<void> lookupAccounts(LookupAccountsContext context) override {
    auto start = steady::now();
    auto list = context.getParams().getIds();
    if (auto e = check_ledger_call(list.size(), security::scope::ledger_read); e != errc::none)
      return refuse(context, "lookup_accounts", start, e);
    account_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(account_id{wire::from_wire(id)});
    return respond(ask<account_list>(*ctx_->system, ctx_->router, ctx_->timeout, lookup_accounts_atom::value,
                                     who(), *state_->tenant, std::move(ids)),
                   context,
                   [](auto out, account_list& r) {
                     auto l = out.initAccounts(static_cast<unsigned>(r.items.size()));
                     for (unsigned i = 0; i < l.size(); ++i)
                       wire::to_wire(r.items[i], l[i]);
                   },
                   done("lookup_accounts", start, list.size()));
  }

  kj::Promise<void> lookupTransfers(LookupTransfersContext context) override {
    auto start = steady::now();
    auto list = context.getParams().getIds();
    if (auto e = check_ledger_call(list.size(), security::scope::ledger_read); e != errc::none)
      return refuse(context, "lookup_transfers", start, e);
    transfer_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(transfer_id{wire::from_wire(id)});
    return respond(ask<transfer_list>(*ctx_->system, ctx_->router, ctx_->timeout, lookup_transfers_atom::value,
                                      who(), *state_->tenant, std::move(ids)),
                   context, fill_transfers, done("lookup_transfers", start, list.size()));
  }

  kj::Promise<void> getAccountTransfers(GetAccountTransfersContext context) override {
    auto start = steady::now();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_query(filter); e != errc::none)
      return refuse(context, "account_transfers", start, e);
    return respond(ask<transfer_list>(*ctx_->system, ctx_->router, ctx_->timeout, account_transfers_atom::value,
                                      who(), *state_->tenant, filter),
                   context, fill_transfers, done("account_transfers", start, 0));
  }

  kj::Promise<void> getAccountBalances(GetAccountBalancesContext context) override {
    auto start = steady::now();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_query(filter); e != errc::none)
      return refuse(context, "account_balances", start, e);
    return respond(ask<balance_list>(*ctx_->system, ctx_->router, ctx_->timeout, account_balances_atom::value,
                                     who(), *state_->tenant, filter),
                   context,
                   [](auto out, balance_list& r) {
                     auto l = out.initBalances(static_cast<unsigned>(r.items.size()));
                     for (unsigned i = 0; i < l.size(); ++i)
                       wire::to_wire(r.items[i], l[i]);
                   },
                   done("account_balances", start, 0));
  }

  kj::Promise<void> admin(AdminContext context) override {
    auto res = context.getResults();
    errc e = auth_->live(*state_);
    if (e == errc::none && !security::has_scope(state_->scopes, security::scope::admin))
      e = errc::forbidden;
    if (e != errc::none) {
      auth_->audit(state_->client_id, state_->source, "admin", e);
      return fail(res, e), kj::READY_NOW;
    }
    wire::set_error(res.initError(), errc::none);
    res.setAdmin(kj::heap<admin_impl>(ctx_, auth_, state_));
    return kj::READY_NOW;
  }

 private:
  // Ledger calls need a live session (not revoked, not expired), a tenant's session (operators move no
  // money), the operation's scope and a bounded batch. The tenant registry checks tenant and scope again.
  errc check_ledger_call(size_t items, security::scope_set needed) const {
    if (errc e = auth_->live(*state_); e != errc::none)
      return e;
    if (!state_->tenant || !security::has_scope(state_->scopes, needed))
      return errc::forbidden;
    if (items > limits::max_batch_items)
      return errc::batch_too_large;
    return errc::none;
  }

  errc check_query(const ledger::account_filter& f) const {
    errc e = check_ledger_call(0, security::scope::ledger_read);
    return e != errc::none ? e : valid_filter(f) ? errc::none : errc::invalid_request;
  }

  actors::caller who() const { return actors::caller{state_->tenant, state_->scopes}; }

  template <class Context>
  kj::Promise<void> refuse(Context& context, const char* operation, steady::time_point start, errc e) {
    fail(context.getResults(), e);
    metrics_->record(operation, tenant_label(), start, e, 0);
    audit_refusal(auth_, state_, operation, e);
    return kj::READY_NOW;
  }

  // Refusals for want of authority are audited (not every ledger call: their volume is the metrics' job).
  static void audit_refusal(const auth_ptr& auth, const state_ptr& state, const char* operation, errc e) {
    if (e == errc::forbidden || e == errc::unauthenticated)
      auth->audit(state->client_id, state->source, operation, e,
                  state->tenant ? "tenant " + std::to_string(state->tenant->value) : std::string("operator"));
  }

  std::function<void(errc)> done(const char* operation, steady::time_point start, size_t items) const {
    return [m = metrics_, auth = auth_, state = state_, operation, tenant = tenant_label(), start, items](errc e) {
      m->record(operation, tenant, start, e, items);
      audit_refusal(auth, state, operation, e);
    };
  }

  uint64_t tenant_label() const { return state_->tenant ? state_->tenant->value : 0; }

  // Both transfer queries answer a `transfers` list.
  static constexpr auto fill_transfers = [](auto out, transfer_list& r) {
    auto l = out.initTransfers(static_cast<unsigned>(r.items.size()));
    for (unsigned i = 0; i < l.size(); ++i)
      wire::to_wire(r.items[i], l[i]);
  };

  ctx_ptr ctx_;
  std::shared_ptr<const request_metrics> metrics_;
  auth_ptr auth_;
  state_ptr state_;
};

// The bootstrap capability of one connection: it knows the connection's peer address (audit, limits).
class gateway_impl final : public sanitized<api::Gateway::Server> {
 public:
  gateway_impl(ctx_ptr ctx, std::shared_ptr<const request_metrics> metrics, auth_ptr auth, std::string peer)
      : sanitized(ctx->log),
        ctx_(std::move(ctx)),
        metrics_(std::move(metrics)),
        auth_(std::move(auth)),
        peer_(std::move(peer)) {}

  kj::Promise<void> authenticate(AuthenticateContext context) override {
    auto start = steady::now();
    auto p = context.getParams();
    std::string client_id = p.getClientId();
    std::string secret = p.getClientSecret();
    auto requested = wire::scopes_from_wire(p.getScopes());
    auto metrics = metrics_;
    auto auth = auth_;
    auto ctx = ctx_;
    std::string peer = peer_;
    if (!requested) {
      auth->audit(client_id, peer, "authenticate", errc::invalid_request, "unknown scope");
      fail(context.getResults(), errc::invalid_request);
      return kj::READY_NOW;
    }
    // Refused before any hashing: too many failures lately for this client id or this source address.
    if (!auth->may_try(client_id, peer)) {
      auth->audit(client_id, peer, "authenticate", errc::rate_limited);
      metrics->record("authenticate", 0, start, errc::rate_limited, 0);
      fail(context.getResults(), errc::rate_limited);
      return kj::READY_NOW;
    }
    return respond(
        ask<auth_result>(*ctx_->system, ctx_->admin, ctx_->timeout, authenticate_atom::value, client_id,
                         std::move(secret), *requested),
        context,
        [ctx, metrics, auth, peer](auto out, auth_result& a) {
          auto state = auth->add_session(a, peer);
          if (!state) {
            wire::set_error(out.initError(), state.error().code);
            return;
          }
          out.setTenantId(a.tenant ? a.tenant->value : 0);
          out.setAdmin(security::has_scope(a.scopes, security::scope::admin));
          wire::scopes_to_wire(a.scopes, out.initScopes(wire::scope_count(a.scopes)));
          out.setAccessToken(a.access_token);
          out.setExpiresAtMs(a.expires_at_s * 1000);
          out.setSession(kj::heap<session_impl>(ctx, metrics, auth, kj::mv(state.value())));
        },
        [metrics, auth, start, client_id, peer](errc e) {
          metrics->record("authenticate", 0, start, e, 0);
          if (e == errc::unauthenticated)
            auth->failed(client_id, peer);
          auth->audit(client_id, peer, "authenticate", e);
        });
  }

  kj::Promise<void> openSession(OpenSessionContext context) override {
    auto start = steady::now();
    std::string token = context.getParams().getAccessToken();
    auto metrics = metrics_;
    auto auth = auth_;
    auto ctx = ctx_;
    std::string peer = peer_;
    if (!auth->may_try("", peer)) {
      auth->audit("", peer, "open_session", errc::rate_limited);
      fail(context.getResults(), errc::rate_limited);
      return kj::READY_NOW;
    }
    return auth->verify(std::move(token))
        .then([ctx, auth, peer](result<security::token_claims> claims) -> kj::Promise<result<auth_result>> {
          if (!claims) {
            if (ctx->log)
              ctx->log->info("session refused from {}: {}", peer, claims.error().detail);
            return result<auth_result>(errc::unauthenticated);
          }
          auth_result a;
          a.client_id = claims->client_id;
          if (claims->tenant)
            a.tenant = tenant_id{*claims->tenant};
          a.scopes = claims->scopes;
          a.admin = security::has_scope(a.scopes, security::scope::admin);
          a.expires_at_s = claims->expires_at_s;
          if (auth->revoked(a.client_id))
            return result<auth_result>(failure{errc::unauthenticated, a.client_id});
          // Revoked on another node since the last poll? One indexed lookup per session opened (never per
          // call) makes a revocation anywhere stop new sessions at once.
          return ask<bool>(*ctx->system, ctx->admin, ctx->timeout, client_active_atom::value, a.client_id)
              .then([a](result<bool> active) mutable -> result<auth_result> {
                if (!active)
                  return failure{active.error().code, a.client_id};
                if (!active.value())
                  return failure{errc::unauthenticated, a.client_id};
                return std::move(a);
              });
        })
        .then([context, ctx, metrics, auth, peer, start](result<auth_result> a) mutable {
          auto out = context.getResults();
          errc code = a.ok() ? errc::none : a.error().code;
          std::string client = a.ok() ? a.value().client_id : a.error().detail;
          if (a.ok()) {
            auto state = auth->add_session(a.value(), peer);
            if (!state) {
              code = state.error().code;
            } else {
              auto& v = a.value();
              out.setTenantId(v.tenant ? v.tenant->value : 0);
              out.setAdmin(v.admin);
              wire::scopes_to_wire(v.scopes, out.initScopes(wire::scope_count(v.scopes)));
              out.setExpiresAtMs(v.expires_at_s * 1000);
              out.setSession(kj::heap<session_impl>(ctx, metrics, auth, kj::mv(state.value())));
            }
          }
          wire::set_error(out.initError(), code);
          metrics->record("open_session", 0, start, code, 0);
          if (code == errc::unauthenticated)
            auth->failed("", peer);
          auth->audit(client, peer, "open_session", code);
        });
  }

 private:
  ctx_ptr ctx_;
  std::shared_ptr<const request_metrics> metrics_;
  auth_ptr auth_;
  std::string peer_;
};

}  // namespace

gateway::gateway(std::shared_ptr<const gateway_context> ctx, kj::Timer& timer)
    : ctx_(ctx),
      auth_(std::make_shared<gateway_auth>(ctx, timer)),
      metrics_(std::make_shared<const request_metrics>(ctx->metrics)) {}

gateway::~gateway() = default;

api::Gateway::Client gateway::connect(const std::string& peer) {
  return kj::heap<gateway_impl>(ctx_, metrics_, auth_, peer);
}

kj::Promise<void> gateway::poll_revocations() { return auth_->poll_revocations(); }

kj::Promise<void> gateway::follow_revocations(std::shared_ptr<revocation_inbox> inbox) {
  return auth_->follow(std::move(inbox));
}

}  // namespace caudal::cluster
