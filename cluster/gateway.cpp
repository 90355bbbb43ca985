#include "cluster/gateway.hpp"

#include <capnp/message.h>

#include "actors/protocol.hpp"
#include "base/limits.hpp"
#include "cluster/caf_bridge.hpp"
#include "schemas/codec.hpp"

namespace caudal::cluster {

namespace {

using namespace caudal::actors;
using ctx_ptr = std::shared_ptr<const gateway_context>;
using steady = std::chrono::steady_clock;

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

  void record(const char* operation, uint64_t tenant, steady::time_point start, errc outcome, size_t n) const {
    if (requests == nullptr)
      return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start).count();
    requests->with({operation, outcome == errc::none ? std::string_view("ok") : errc_name(outcome)}).inc();
    latency->with({operation, std::to_string(tenant)}).observe(static_cast<uint64_t>(us));
    if (n > 0)
      items->with({operation}).inc(n);
  }
};

template <class Results>
void fail(Results res, errc e) {
  wire::set_error(res.initError(), e);
}

// Answers a call when its actor reply arrives: the error field always, the payload (`fill`) on success,
// then `done` (metrics) with the outcome.
template <class Context, class T, class Fill>
kj::Promise<void> respond(kj::Promise<result<T>> reply, Context context, Fill fill,
                          std::function<void(errc)> done = {}) {
  return reply.then([context, fill, done](result<T> r) mutable {
    auto out = context.getResults();
    errc code = r.ok() ? errc::none : r.error().code;
    wire::set_error(out.initError(), code);
    if (r.ok())
      fill(out, r.value());
    if (done)
      done(code);
  });
}

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

class admin_impl final : public api::Admin::Server {
 public:
  explicit admin_impl(ctx_ptr ctx) : ctx_(std::move(ctx)) {}

  kj::Promise<void> createTenant(CreateTenantContext context) override {
    auto p = context.getParams();
    std::string name = p.getName();
    std::string country = p.getCountry();
    return respond(
        ask<created_tenant>(*ctx_->system, ctx_->admin, ctx_->timeout, create_tenant_atom::value, name, country),
        context, [](auto out, created_tenant& c) {
          wire::to_wire(c.tenant, out.initTenant());
          out.setClientId(c.client_id);
          out.setClientSecret(c.client_secret);
        });
  }

  kj::Promise<void> listTenants(ListTenantsContext context) override {
    return respond(ask<tenant_list>(*ctx_->system, ctx_->admin, ctx_->timeout, list_tenants_atom::value), context,
                   [](auto out, tenant_list& ts) {
                     auto list = out.initTenants(static_cast<unsigned>(ts.items.size()));
                     for (unsigned i = 0; i < list.size(); ++i)
                       wire::to_wire(ts.items[i], list[i]);
                   });
  }

  kj::Promise<void> verify(VerifyContext context) override {
    // The checker reads the whole ledger: give it more time than a request.
    return respond(
        ask<storage::verify_report>(*ctx_->system, ctx_->admin, ctx_->timeout * 10, verify_atom::value), context,
        [](auto out, storage::verify_report& r) { wire::to_wire(r, out.initReport()); });
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
        caf::anon_send(ctx_->writer, writer_delay_atom::value, f.getDelayMs());
        wire::set_error(context.getResults().initError(), errc::none);
        return kj::READY_NOW;
      default:
        fail(context.getResults(), errc::invalid_request);
        return kj::READY_NOW;
    }
  }

 private:
  ctx_ptr ctx_;
};

class session_impl final : public api::Session::Server {
 public:
  session_impl(ctx_ptr ctx, std::shared_ptr<const request_metrics> metrics, auth_result auth)
      : ctx_(std::move(ctx)), metrics_(std::move(metrics)), auth_(std::move(auth)) {}

  kj::Promise<void> createAccounts(CreateAccountsContext context) override {
    auto start = steady::now();
    auto list = context.getParams().getAccounts();
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return refuse(context, "create_accounts", start, e);
    account_batch batch;
    batch.items.reserve(list.size());
    for (auto a : list)
      batch.items.push_back(wire::from_wire(a));
    return respond(
        ask<account_results>(*ctx_->system, ctx_->registry, ctx_->timeout, create_accounts_atom::value,
                             *auth_.tenant, std::move(batch)),
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
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return refuse(context, "create_transfers", start, e);
    transfer_batch batch;
    batch.items.reserve(list.size());
    for (auto t : list)
      batch.items.push_back(wire::from_wire(t));
    return respond(
        ask<transfer_results>(*ctx_->system, ctx_->registry, ctx_->timeout, create_transfers_atom::value,
                              *auth_.tenant, std::move(batch)),
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
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return refuse(context, "lookup_accounts", start, e);
    account_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(account_id{wire::from_wire(id)});
    return respond(ask<account_list>(*ctx_->system, ctx_->registry, ctx_->timeout, lookup_accounts_atom::value,
                                     *auth_.tenant, std::move(ids)),
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
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return refuse(context, "lookup_transfers", start, e);
    transfer_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(transfer_id{wire::from_wire(id)});
    return respond(ask<transfer_list>(*ctx_->system, ctx_->registry, ctx_->timeout, lookup_transfers_atom::value,
                                      *auth_.tenant, std::move(ids)),
                   context, fill_transfers, done("lookup_transfers", start, list.size()));
  }

  kj::Promise<void> getAccountTransfers(GetAccountTransfersContext context) override {
    auto start = steady::now();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_query(filter); e != errc::none)
      return refuse(context, "account_transfers", start, e);
    return respond(ask<transfer_list>(*ctx_->system, ctx_->registry, ctx_->timeout, account_transfers_atom::value,
                                      *auth_.tenant, filter),
                   context, fill_transfers, done("account_transfers", start, 0));
  }

  kj::Promise<void> getAccountBalances(GetAccountBalancesContext context) override {
    auto start = steady::now();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_query(filter); e != errc::none)
      return refuse(context, "account_balances", start, e);
    return respond(ask<balance_list>(*ctx_->system, ctx_->registry, ctx_->timeout, account_balances_atom::value,
                                     *auth_.tenant, filter),
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
    if (!auth_.admin)
      return fail(res, errc::forbidden), kj::READY_NOW;
    wire::set_error(res.initError(), errc::none);
    res.setAdmin(kj::heap<admin_impl>(ctx_));
    return kj::READY_NOW;
  }

 private:
  // Ledger calls need a tenant's session (operators move no money) and a bounded batch.
  errc check_ledger_call(size_t items) const {
    if (!auth_.tenant)
      return errc::forbidden;
    if (items > limits::max_batch_items)
      return errc::batch_too_large;
    return errc::none;
  }

  errc check_query(const ledger::account_filter& f) const {
    errc e = check_ledger_call(0);
    return e != errc::none ? e : valid_filter(f) ? errc::none : errc::invalid_request;
  }

  template <class Context>
  kj::Promise<void> refuse(Context& context, const char* operation, steady::time_point start, errc e) {
    fail(context.getResults(), e);
    metrics_->record(operation, tenant_label(), start, e, 0);
    return kj::READY_NOW;
  }

  std::function<void(errc)> done(const char* operation, steady::time_point start, size_t items) const {
    return [m = metrics_, operation, tenant = tenant_label(), start, items](errc e) {
      m->record(operation, tenant, start, e, items);
    };
  }

  uint64_t tenant_label() const { return auth_.tenant ? auth_.tenant->value : 0; }

  // Both transfer queries answer a `transfers` list.
  static constexpr auto fill_transfers = [](auto out, transfer_list& r) {
    auto l = out.initTransfers(static_cast<unsigned>(r.items.size()));
    for (unsigned i = 0; i < l.size(); ++i)
      wire::to_wire(r.items[i], l[i]);
  };

  ctx_ptr ctx_;
  std::shared_ptr<const request_metrics> metrics_;
  auth_result auth_;
};

class gateway_impl final : public api::Gateway::Server {
 public:
  explicit gateway_impl(ctx_ptr ctx)
      : ctx_(std::move(ctx)), metrics_(std::make_shared<const request_metrics>(ctx_->metrics)) {}

  kj::Promise<void> authenticate(AuthenticateContext context) override {
    auto start = steady::now();
    auto p = context.getParams();
    std::string client_id = p.getClientId();
    std::string secret = p.getClientSecret();
    auto ctx = ctx_;
    auto metrics = metrics_;
    return respond(
        ask<auth_result>(*ctx_->system, ctx_->admin, ctx_->timeout, authenticate_atom::value, client_id,
                         std::move(secret)),
        context,
        [ctx, metrics](auto out, auth_result& a) {
          out.setTenantId(a.tenant ? a.tenant->value : 0);
          out.setAdmin(a.admin);
          out.setSession(kj::heap<session_impl>(ctx, metrics, std::move(a)));
        },
        [metrics, start](errc e) { metrics->record("authenticate", 0, start, e, 0); });
  }

 private:
  ctx_ptr ctx_;
  std::shared_ptr<const request_metrics> metrics_;
};

}  // namespace

api::Gateway::Client make_gateway(std::shared_ptr<const gateway_context> ctx) {
  return kj::heap<gateway_impl>(std::move(ctx));
}

}  // namespace caudal::cluster
