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

template <class Results>
void fail(Results res, errc e) {
  wire::set_error(res.initError(), e);
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
    return ask<created_tenant>(*ctx_->system, ctx_->admin, ctx_->timeout, create_tenant_atom::value, name, country)
        .then([context](result<created_tenant> r) mutable {
          auto res = context.getResults();
          if (!r.ok())
            return fail(res, r.error().code);
          wire::set_error(res.initError(), errc::none);
          auto t = res.initTenant();
          t.setId(r->tenant.id.value);
          t.setName(r->tenant.name);
          t.setCountry(r->tenant.country);
          t.setCreatedAtMs(r->tenant.created_at_ms);
          res.setClientId(r->client_id);
          res.setClientSecret(r->client_secret);
        });
  }

  kj::Promise<void> listTenants(ListTenantsContext context) override {
    return ask<tenant_list>(*ctx_->system, ctx_->admin, ctx_->timeout, list_tenants_atom::value)
        .then([context](result<tenant_list> r) mutable {
          auto res = context.getResults();
          if (!r.ok())
            return fail(res, r.error().code);
          wire::set_error(res.initError(), errc::none);
          auto list = res.initTenants(static_cast<unsigned>(r->items.size()));
          for (unsigned i = 0; i < list.size(); ++i) {
            auto& x = r->items[i];
            list[i].setId(x.id.value);
            list[i].setName(x.name);
            list[i].setCountry(x.country);
            list[i].setCreatedAtMs(x.created_at_ms);
          }
        });
  }

  kj::Promise<void> verify(VerifyContext context) override {
    // The checker reads the whole ledger: give it more time than a request.
    return ask<storage::verify_report>(*ctx_->system, ctx_->admin, ctx_->timeout * 10, verify_atom::value)
        .then([context](result<storage::verify_report> r) mutable {
          auto res = context.getResults();
          if (!r.ok())
            return fail(res, r.error().code);
          wire::set_error(res.initError(), errc::none);
          auto rep = res.initReport();
          rep.setOk(r->ok);
          auto v = rep.initViolations(static_cast<unsigned>(r->violations.size()));
          for (unsigned i = 0; i < v.size(); ++i)
            v.set(i, r->violations[i]);
          rep.setTenantsChecked(r->tenants_checked);
          rep.setAccountsChecked(r->accounts_checked);
          rep.setTransfersChecked(r->transfers_checked);
        });
  }

  kj::Promise<void> injectFault(InjectFaultContext context) override {
    auto f = context.getParams().getFault();
    if (!ctx_->test_hooks) {
      fail(context.getResults(), errc::not_enabled);
      return kj::READY_NOW;
    }
    tenant_id t{f.getTenantId()};
    auto& sys = *ctx_->system;
    kj::Promise<result<caf::unit_t>> done = nullptr;
    switch (f.getKind()) {
      case api::FaultKind::CRASH_TENANT:
        done = ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, crash_atom::value, t);
        break;
      case api::FaultKind::CRASH_ACCOUNT:
        done = ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, crash_account_atom::value, t,
                                account_id{u128{f.getAccountIdHi(), f.getAccountIdLo()}});
        break;
      case api::FaultKind::PASSIVATE_TENANT:
        done = ask<caf::unit_t>(sys, ctx_->registry, ctx_->timeout, passivate_atom::value, t);
        break;
      case api::FaultKind::WRITER_DELAY:
        caf::anon_send(ctx_->writer, writer_delay_atom::value, f.getDelayMs());
        done = kj::Promise<result<caf::unit_t>>(result<caf::unit_t>(caf::unit));
        break;
      default:
        done = kj::Promise<result<caf::unit_t>>(result<caf::unit_t>(errc::invalid_request));
    }
    return done.then([context](result<caf::unit_t> r) mutable {
      wire::set_error(context.getResults().initError(), r.ok() ? errc::none : r.error().code);
    });
  }

 private:
  ctx_ptr ctx_;
};

class session_impl final : public api::Session::Server {
 public:
  session_impl(ctx_ptr ctx, auth_result auth) : ctx_(std::move(ctx)), auth_(std::move(auth)) {}

  kj::Promise<void> createAccounts(CreateAccountsContext context) override {
    auto res = context.getResults();
    auto list = context.getParams().getAccounts();
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    account_batch batch;
    batch.items.reserve(list.size());
    for (auto a : list)
      batch.items.push_back(wire::from_wire(a));
    return ask<account_results>(*ctx_->system, ctx_->registry, ctx_->timeout, create_accounts_atom::value,
                                *auth_.tenant, std::move(batch))
        .then([context](result<account_results> r) mutable {
          auto out = context.getResults();
          if (!r.ok())
            return fail(out, r.error().code);
          wire::set_error(out.initError(), errc::none);
          auto l = out.initResults(static_cast<unsigned>(r->items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            l.set(i, wire::to_wire(r->items[i]));
        });
  }

  kj::Promise<void> createTransfers(CreateTransfersContext context) override {
    auto res = context.getResults();
    auto list = context.getParams().getTransfers();
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    transfer_batch batch;
    batch.items.reserve(list.size());
    for (auto t : list)
      batch.items.push_back(wire::from_wire(t));
    return ask<transfer_results>(*ctx_->system, ctx_->registry, ctx_->timeout, create_transfers_atom::value,
                                 *auth_.tenant, std::move(batch))
        .then([context](result<transfer_results> r) mutable {
          auto out = context.getResults();
          if (!r.ok())
            return fail(out, r.error().code);
          wire::set_error(out.initError(), errc::none);
          auto l = out.initResults(static_cast<unsigned>(r->items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            l.set(i, wire::to_wire(r->items[i]));
        });
  }

  kj::Promise<void> lookupAccounts(LookupAccountsContext context) override {
    auto res = context.getResults();
    auto list = context.getParams().getIds();
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    account_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(account_id{wire::from_wire(id)});
    return ask<account_list>(*ctx_->system, ctx_->registry, ctx_->timeout, lookup_accounts_atom::value,
                             *auth_.tenant, std::move(ids))
        .then([context](result<account_list> r) mutable {
          auto out = context.getResults();
          if (!r.ok())
            return fail(out, r.error().code);
          wire::set_error(out.initError(), errc::none);
          auto l = out.initAccounts(static_cast<unsigned>(r->items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            wire::to_wire(r->items[i], l[i]);
        });
  }

  kj::Promise<void> lookupTransfers(LookupTransfersContext context) override {
    auto res = context.getResults();
    auto list = context.getParams().getIds();
    if (auto e = check_ledger_call(list.size()); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    transfer_ids ids;
    ids.ids.reserve(list.size());
    for (auto id : list)
      ids.ids.push_back(transfer_id{wire::from_wire(id)});
    return ask<transfer_list>(*ctx_->system, ctx_->registry, ctx_->timeout, lookup_transfers_atom::value,
                              *auth_.tenant, std::move(ids))
        .then([context](result<transfer_list> r) mutable { write_transfers(context.getResults(), r); });
  }

  kj::Promise<void> getAccountTransfers(GetAccountTransfersContext context) override {
    auto res = context.getResults();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_ledger_call(0); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    if (!valid_filter(filter))
      return fail(res, errc::invalid_request), kj::READY_NOW;
    return ask<transfer_list>(*ctx_->system, ctx_->registry, ctx_->timeout, account_transfers_atom::value,
                              *auth_.tenant, filter)
        .then([context](result<transfer_list> r) mutable { write_transfers(context.getResults(), r); });
  }

  kj::Promise<void> getAccountBalances(GetAccountBalancesContext context) override {
    auto res = context.getResults();
    auto filter = wire::from_wire(context.getParams().getFilter());
    if (auto e = check_ledger_call(0); e != errc::none)
      return fail(res, e), kj::READY_NOW;
    if (!valid_filter(filter))
      return fail(res, errc::invalid_request), kj::READY_NOW;
    return ask<balance_list>(*ctx_->system, ctx_->registry, ctx_->timeout, account_balances_atom::value,
                             *auth_.tenant, filter)
        .then([context](result<balance_list> r) mutable {
          auto out = context.getResults();
          if (!r.ok())
            return fail(out, r.error().code);
          wire::set_error(out.initError(), errc::none);
          auto l = out.initBalances(static_cast<unsigned>(r->items.size()));
          for (unsigned i = 0; i < l.size(); ++i)
            wire::to_wire(r->items[i], l[i]);
        });
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

  template <class Results>
  static void write_transfers(Results out, result<transfer_list>& r) {
    if (!r.ok())
      return fail(out, r.error().code);
    wire::set_error(out.initError(), errc::none);
    auto l = out.initTransfers(static_cast<unsigned>(r->items.size()));
    for (unsigned i = 0; i < l.size(); ++i)
      wire::to_wire(r->items[i], l[i]);
  }

  ctx_ptr ctx_;
  auth_result auth_;
};

class gateway_impl final : public api::Gateway::Server {
 public:
  explicit gateway_impl(ctx_ptr ctx) : ctx_(std::move(ctx)) {}

  kj::Promise<void> authenticate(AuthenticateContext context) override {
    auto p = context.getParams();
    std::string client_id = p.getClientId();
    std::string secret = p.getClientSecret();
    auto ctx = ctx_;
    return ask<auth_result>(*ctx_->system, ctx_->admin, ctx_->timeout, authenticate_atom::value, client_id,
                            std::move(secret))
        .then([context, ctx](result<auth_result> r) mutable {
          auto res = context.getResults();
          if (!r.ok())
            return fail(res, r.error().code);
          wire::set_error(res.initError(), errc::none);
          res.setTenantId(r->tenant ? r->tenant->value : 0);
          res.setAdmin(r->admin);
          res.setSession(kj::heap<session_impl>(ctx, std::move(r.value())));
        });
  }

 private:
  ctx_ptr ctx_;
};

}  // namespace

api::Gateway::Client make_gateway(std::shared_ptr<const gateway_context> ctx) {
  return kj::heap<gateway_impl>(std::move(ctx));
}

}  // namespace caudal::cluster
