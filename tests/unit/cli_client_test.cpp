// The client library (client/connection.hpp) and the `caudal` commands (cli/app.hpp, run in-process)
// against a fake Gateway: a small in-memory Cap'n Proto server on its own thread and kj loop, speaking the
// real schema over real TCP on 127.0.0.1. No node, no database: the ledger's rules are not modelled (the
// lead's integration tests cover those against real nodes); only what the client must get right is.
#include <capnp/rpc-twoparty.h>
#include <doctest/doctest.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "base/limits.hpp"
#include "cli/app.hpp"
#include "client/client_file.hpp"
#include "client/connection.hpp"
#include "schemas/codec.hpp"

using namespace caudal;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Ids with a meaning to the fake server.
constexpr uint64_t hang_id = 999;        // the call is never answered (the client's deadline fires)
constexpr uint64_t throw_id = 666;       // the server method throws (a capnp exception reaches the client)
constexpr uint64_t disconnect_id = 777;  // the server goes away in the middle of the call

// Everything the fake server knows. Touched only on the server thread, except the atomics.
struct fake_world {
  struct client_entry {
    std::string secret;
    uint64_t tenant = 0;
    bool admin = false;
  };
  std::map<std::string, client_entry> clients{{"operator", {"op-secret", 0, true}},
                                              {"tenant-1", {"t1-secret", 1, false}},
                                              {"tenant-2", {"t2-secret", 2, false}}};
  std::map<uint64_t, std::map<u128, ledger::account>> accounts;  // per tenant
  std::map<uint64_t, std::vector<ledger::transfer>> transfers;   // per tenant, in time order
  std::vector<wire::tenant_info> tenants{{tenant_id{1}, "one", "MX", 1700000000000},
                                         {tenant_id{2}, "two", "CO", 1700000001000}};
  uint64_t clock = 1000;
  uint64_t next_tenant = 100;
  bool verify_ok = true;
  std::atomic<int> ledger_calls{0};  // calls that reached a Session's ledger methods
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> stop_now;
};

template <class Results>
bool refuse(Results res, errc e) {
  wire::set_error(res.initError(), e);
  return true;
}

class fake_admin final : public api::Admin::Server {
 public:
  explicit fake_admin(fake_world& w) : w_(w) {}

 protected:
  kj::Promise<void> createTenant(CreateTenantContext ctx) override {
    auto p = ctx.getParams();
    auto res = ctx.getResults();
    const std::string name = p.getName();
    for (const auto& t : w_.tenants) {
      if (t.name == name) {
        refuse(res, errc::tenant_exists);
        return kj::READY_NOW;
      }
    }
    wire::tenant_info t{tenant_id{w_.next_tenant++}, name, p.getCountry(), 1700000002000};
    const std::string id = "client-" + std::to_string(t.id.value);
    const std::string secret = "secret-" + std::to_string(t.id.value);
    w_.clients[id] = {secret, t.id.value, false};
    w_.tenants.push_back(t);
    wire::to_wire(t, res.initTenant());
    res.setClientId(id);
    res.setClientSecret(secret);
    return kj::READY_NOW;
  }

  kj::Promise<void> listTenants(ListTenantsContext ctx) override {
    auto list = ctx.getResults().initTenants(static_cast<unsigned>(w_.tenants.size()));
    for (unsigned i = 0; i < list.size(); ++i)
      wire::to_wire(w_.tenants[i], list[i]);
    return kj::READY_NOW;
  }

  kj::Promise<void> verify(VerifyContext ctx) override {
    wire::verify_report r;
    r.ok = w_.verify_ok;
    if (!r.ok)
      r.violations = {"tenant 1 ledger 700: debits 10 != credits 9"};
    r.tenants_checked = static_cast<uint32_t>(w_.tenants.size());
    r.accounts_checked = 3;
    r.transfers_checked = 4;
    wire::to_wire(r, ctx.getResults().initReport());
    return kj::READY_NOW;
  }

  kj::Promise<void> injectFault(InjectFaultContext ctx) override {
    refuse(ctx.getResults(), errc::not_enabled);
    return kj::READY_NOW;
  }

 private:
  fake_world& w_;
};

class fake_session final : public api::Session::Server {
 public:
  fake_session(fake_world& w, uint64_t tenant, bool admin) : w_(w), tenant_(tenant), admin_(admin) {}

 protected:
  kj::Promise<void> createAccounts(CreateAccountsContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    auto in = ctx.getParams().getAccounts();
    auto out = res.initResults(in.size());
    for (unsigned i = 0; i < in.size(); ++i) {
      auto a = wire::from_wire(in[i]);
      if (auto special = react(a.id.value))
        return kj::mv(*special);
      auto& mine = w_.accounts[tenant_];
      if (mine.count(a.id.value)) {
        out.set(i, api::CreateAccountResult::EXISTS);
      } else {
        a.timestamp = ++w_.clock;
        mine[a.id.value] = a;
        out.set(i, api::CreateAccountResult::OK);
      }
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> createTransfers(CreateTransfersContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    auto in = ctx.getParams().getTransfers();
    auto out = res.initResults(in.size());
    auto& accounts = w_.accounts[tenant_];
    for (unsigned i = 0; i < in.size(); ++i) {
      auto t = wire::from_wire(in[i]);
      if (auto special = react(t.id.value))
        return kj::mv(*special);
      auto debit = accounts.find(t.debit_account_id.value);
      auto credit = accounts.find(t.credit_account_id.value);
      if (debit == accounts.end()) {
        out.set(i, api::CreateTransferResult::DEBIT_ACCOUNT_NOT_FOUND);
      } else if (credit == accounts.end()) {
        out.set(i, api::CreateTransferResult::CREDIT_ACCOUNT_NOT_FOUND);
      } else {
        t.timestamp = ++w_.clock;
        debit->second.debits_posted += t.amount;
        credit->second.credits_posted += t.amount;
        w_.transfers[tenant_].push_back(t);
        out.set(i, api::CreateTransferResult::OK);
      }
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> lookupAccounts(LookupAccountsContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    std::vector<ledger::account> found;
    for (auto id : ctx.getParams().getIds()) {
      auto it = w_.accounts[tenant_].find(wire::from_wire(id));
      if (it != w_.accounts[tenant_].end())
        found.push_back(it->second);
    }
    auto list = res.initAccounts(static_cast<unsigned>(found.size()));
    for (unsigned i = 0; i < list.size(); ++i)
      wire::to_wire(found[i], list[i]);
    return kj::READY_NOW;
  }

  kj::Promise<void> lookupTransfers(LookupTransfersContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    std::vector<ledger::transfer> found;
    for (auto id : ctx.getParams().getIds()) {
      if (auto special = react(wire::from_wire(id)))
        return kj::mv(*special);
      for (const auto& t : w_.transfers[tenant_]) {
        if (t.id.value == wire::from_wire(id))
          found.push_back(t);
      }
    }
    auto list = res.initTransfers(static_cast<unsigned>(found.size()));
    for (unsigned i = 0; i < list.size(); ++i)
      wire::to_wire(found[i], list[i]);
    return kj::READY_NOW;
  }

  kj::Promise<void> getAccountTransfers(GetAccountTransfersContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    const auto f = wire::from_wire(ctx.getParams().getFilter());
    if (f.limit == 0 || f.limit > limits::max_query_rows)
      return refused(res, errc::invalid_request);
    std::vector<ledger::transfer> found;
    for (const auto& t : w_.transfers[tenant_]) {
      const bool debit = (f.flags & ledger::account_filter_flags::debits) && t.debit_account_id == f.account;
      const bool credit = (f.flags & ledger::account_filter_flags::credits) && t.credit_account_id == f.account;
      if ((debit || credit) && t.timestamp >= f.timestamp_min && found.size() < f.limit)
        found.push_back(t);
    }
    if (f.flags & ledger::account_filter_flags::reversed)
      std::reverse(found.begin(), found.end());
    auto list = res.initTransfers(static_cast<unsigned>(found.size()));
    for (unsigned i = 0; i < list.size(); ++i)
      wire::to_wire(found[i], list[i]);
    return kj::READY_NOW;
  }

  kj::Promise<void> getAccountBalances(GetAccountBalancesContext ctx) override {
    auto res = ctx.getResults();
    if (admin_)
      return refused(res, errc::forbidden);
    ++w_.ledger_calls;
    auto list = res.initBalances(2);
    wire::to_wire(ledger::account_balance{1001, 0, 5, 0, 0}, list[0]);
    wire::to_wire(ledger::account_balance{1002, 0, 12, 0, 0}, list[1]);
    return kj::READY_NOW;
  }

  kj::Promise<void> admin(AdminContext ctx) override {
    auto res = ctx.getResults();
    if (!admin_)
      return refused(res, errc::forbidden);
    res.setAdmin(kj::heap<fake_admin>(w_));
    return kj::READY_NOW;
  }

 private:
  template <class Results>
  kj::Promise<void> refused(Results res, errc e) {
    refuse(res, e);
    return kj::READY_NOW;
  }

  // The special ids' behaviour, or nullptr for a normal item.
  std::optional<kj::Promise<void>> react(const u128& id) {
    if (id == u128::from_u64(hang_id))
      return kj::Promise<void>(kj::NEVER_DONE);
    if (id == u128::from_u64(throw_id))
      KJ_FAIL_REQUIRE("fake server failure");
    if (id == u128::from_u64(disconnect_id)) {
      KJ_IF_MAYBE (stop, w_.stop_now) {
        (*stop)->fulfill();
      }
      return kj::Promise<void>(kj::NEVER_DONE);
    }
    return std::nullopt;
  }

  fake_world& w_;
  uint64_t tenant_;
  bool admin_;
};

class fake_gateway final : public api::Gateway::Server {
 public:
  explicit fake_gateway(fake_world& w) : w_(w) {}

 protected:
  kj::Promise<void> authenticate(AuthenticateContext ctx) override {
    auto p = ctx.getParams();
    auto res = ctx.getResults();
    auto it = w_.clients.find(p.getClientId());
    if (it == w_.clients.end() || it->second.secret != std::string(p.getClientSecret())) {
      refuse(res, errc::unauthenticated);
      return kj::READY_NOW;
    }
    res.setSession(kj::heap<fake_session>(w_, it->second.tenant, it->second.admin));
    res.setTenantId(it->second.tenant);
    res.setAdmin(it->second.admin);
    return kj::READY_NOW;
  }

 private:
  fake_world& w_;
};

// The fake node: its own thread and kj loop, listening on 127.0.0.1 at a free port.
class fake_server {
 public:
  explicit fake_server(bool verify_ok = true) {
    world_.verify_ok = verify_ok;
    std::promise<unsigned> port;
    auto ready = port.get_future();
    thread_ = std::thread([this, p = std::move(port)]() mutable { serve(p); });
    port_ = ready.get();
  }
  ~fake_server() { stop(); }

  void stop() {
    stop_.store(true);
    if (thread_.joinable())
      thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int ledger_calls() const { return world_.ledger_calls.load(); }

 private:
  kj::Promise<void> watch_stop(kj::Timer& timer) {
    if (stop_.load())
      return kj::READY_NOW;
    return timer.afterDelay(5 * kj::MILLISECONDS).then([this, &timer] { return watch_stop(timer); });
  }

  void serve(std::promise<unsigned>& port) {
    auto io = kj::setupAsyncIo();
    auto stop_now = kj::newPromiseAndFulfiller<void>();
    world_.stop_now = kj::mv(stop_now.fulfiller);
    {
      capnp::TwoPartyServer server(kj::heap<fake_gateway>(world_));
      auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope);
      auto listener = addr->listen();
      port.set_value(listener->getPort());
      auto listening = server.listen(*listener);
      stop_now.promise.exclusiveJoin(watch_stop(io.provider->getTimer())).wait(io.waitScope);
    }  // the server and every connection close here
    world_.stop_now = nullptr;
    io.waitScope.poll();
  }

  fake_world world_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  unsigned port_ = 0;
};

// A port nothing listens on: bound once by us, then closed.
std::string closed_address() {
  auto io = kj::setupAsyncIo();
  auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope);
  auto listener = addr->listen();
  return "127.0.0.1:" + std::to_string(listener->getPort());
}

// Options for the fake server, which speaks plain TCP.
client::options plain(std::string server, std::string id, std::string secret, uint32_t timeout_ms) {
  client::options o;
  o.server = std::move(server);
  o.client_id = std::move(id);
  o.client_secret = std::move(secret);
  o.timeout_ms = timeout_ms;
  o.insecure = true;
  return o;
}

client::options tenant1(const fake_server& s, uint32_t timeout_ms = 10000) {
  return plain(s.address(), "tenant-1", "t1-secret", timeout_ms);  // the fake is plain TCP
}

client::options operator_options(const fake_server& s) {
  return plain(s.address(), "operator", "op-secret", 10000);
}

ledger::account account(uint64_t id) {
  ledger::account a;
  a.id = account_id{u128::from_u64(id)};
  a.ledger = 700;
  a.code = 10;
  return a;
}

ledger::transfer transfer(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount) {
  ledger::transfer t;
  t.id = transfer_id{u128::from_u64(id)};
  t.debit_account_id = account_id{u128::from_u64(debit)};
  t.credit_account_id = account_id{u128::from_u64(credit)};
  t.amount = amount;
  t.ledger = 700;
  t.code = 1;
  return t;
}

}  // namespace

TEST_CASE("open: refused port and unresolvable host answer node_down; bad credentials unauthenticated") {
  client::connection c;
  auto refused = c.open(plain(closed_address(), "x", "y", 5000));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::node_down);
  CHECK_FALSE(c.is_open());
  auto unresolvable = c.open(plain("no-such-host.invalid:7400", "x", "y", 5000));
  REQUIRE_FALSE(unresolvable.ok());
  CHECK((unresolvable.error().code == errc::node_down || unresolvable.error().code == errc::timeout));
  CHECK(c.open(plain("", "x", "y", 5000)).error().code == errc::invalid_request);

  fake_server server;
  auto wrong = c.open(plain(server.address(), "tenant-1", "wrong", 5000));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == errc::unauthenticated);
  CHECK(c.open(plain(server.address(), "nobody", "t1-secret", 5000)).error().code == errc::unauthenticated);
  CHECK_FALSE(c.is_open());
  // Calls on a connection that is not open answer node_down.
  CHECK(c.lookup_accounts({account_id{u128::from_u64(1)}}).error().code == errc::node_down);
}

TEST_CASE("tenant session: create, look up, query; admin calls forbidden") {
  fake_server server;
  client::connection c;
  auto opened = c.open(tenant1(server));
  REQUIRE_MESSAGE(opened.ok(), opened.error().detail);
  CHECK(c.is_open());
  CHECK(c.tenant() == tenant_id{1});
  CHECK_FALSE(c.is_admin());

  auto big = account(2);
  big.id = account_id{u128::max()};
  big.user_data_128 = u128::max();
  auto created = c.create_accounts({account(1), big, account(1)});
  REQUIRE(created.ok());
  CHECK(created.value() == client::account_results{ledger::create_account_result::ok, ledger::create_account_result::ok,
                                                   ledger::create_account_result::exists});
  auto moved = c.create_transfers({transfer(10, 1, 340282366920938463ull, 5), transfer(11, 1, 1, 7)});
  REQUIRE(moved.ok());
  CHECK(moved.value() == client::transfer_results{ledger::create_transfer_result::credit_account_not_found,
                                                  ledger::create_transfer_result::ok});

  auto found =
      c.lookup_accounts({account_id{u128::max()}, account_id{u128::from_u64(5)}, account_id{u128::from_u64(1)}});
  REQUIRE(found.ok());
  REQUIRE(found->size() == 2);
  CHECK(found->at(0).id.value == u128::max());
  CHECK(found->at(0).user_data_128 == u128::max());
  CHECK(found->at(1).debits_posted == 7);
  CHECK(found->at(1).credits_posted == 7);

  auto t = c.lookup_transfers({transfer_id{u128::from_u64(11)}});
  REQUIRE(t.ok());
  REQUIRE(t->size() == 1);
  CHECK(t->at(0).amount == 7);
  CHECK(t->at(0).timestamp != 0);

  ledger::account_filter f;
  f.account = account_id{u128::from_u64(1)};
  f.limit = 10;
  f.flags = ledger::account_filter_flags::debits | ledger::account_filter_flags::credits;
  auto history = c.account_transfers(f);
  REQUIRE(history.ok());
  CHECK(history->size() == 1);
  f.limit = 0;
  CHECK(c.account_transfers(f).error().code == errc::invalid_request);  // the server's answer, passed on
  f.limit = 10;
  auto balances = c.account_balances(f);
  REQUIRE(balances.ok());
  CHECK(balances->size() == 2);

  CHECK(c.list_tenants().error().code == errc::forbidden);
  CHECK(c.create_tenant("x", "MX").error().code == errc::forbidden);
  CHECK(c.verify().error().code == errc::forbidden);
}

TEST_CASE("operator session: tenants, verify, faults; ledger calls forbidden") {
  fake_server server;
  client::connection c;
  REQUIRE(c.open(operator_options(server)).ok());
  CHECK(c.is_admin());
  CHECK(c.tenant() == tenant_id{0});
  auto created = c.create_tenant("acme", "MX");
  REQUIRE(created.ok());
  CHECK(created->tenant.id == tenant_id{100});
  CHECK(created->tenant.name == "acme");
  CHECK(created->tenant.country == "MX");
  CHECK(created->client_id == "client-100");
  CHECK(created->client_secret == "secret-100");
  CHECK(c.create_tenant("acme", "MX").error().code == errc::tenant_exists);
  auto tenants = c.list_tenants();
  REQUIRE(tenants.ok());
  CHECK(tenants->size() == 3);
  auto report = c.verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->transfers_checked == 4);
  auto fault = c.inject_fault({client::fault_kind::crash_tenant, tenant_id{1}, {}, 0});
  REQUIRE_FALSE(fault.ok());
  CHECK(fault.error().code == errc::not_enabled);
  CHECK(c.create_accounts({account(1)}).error().code == errc::forbidden);

  // The new tenant's client works at once.
  client::connection t;
  REQUIRE(t.open(plain(server.address(), "client-100", "secret-100", 5000)).ok());
  CHECK(t.tenant() == tenant_id{100});
}

TEST_CASE("oversize batches are refused without sending") {
  fake_server server;
  client::connection c;
  REQUIRE(c.open(tenant1(server)).ok());
  const std::vector<ledger::account> accounts(limits::max_batch_items + 1, account(1));
  const std::vector<ledger::transfer> transfers(limits::max_batch_items + 1, transfer(1, 1, 2, 1));
  const std::vector<account_id> ids(limits::max_batch_items + 1);
  const std::vector<transfer_id> tids(limits::max_batch_items + 1);
  CHECK(c.create_accounts(accounts).error().code == errc::batch_too_large);
  CHECK(c.create_transfers(transfers).error().code == errc::batch_too_large);
  CHECK(c.lookup_accounts(ids).error().code == errc::batch_too_large);
  CHECK(c.lookup_transfers(tids).error().code == errc::batch_too_large);
  CHECK(server.ledger_calls() == 0);
  // The largest allowed batch goes through (about 1 MB of transfers in one message).
  std::vector<ledger::account> full;
  for (uint64_t i = 1; i <= limits::max_batch_items; ++i)
    full.push_back(account(10000 + i));  // no special ids
  auto created = c.create_accounts(full);
  REQUIRE_MESSAGE(created.ok(), errc_name(created.error().code), " ", created.error().detail);
  CHECK(created->size() == limits::max_batch_items);
  CHECK(server.ledger_calls() == 1);
}

TEST_CASE("a deadline passed answers timeout, and the connection stays usable") {
  fake_server server;
  client::connection c;
  REQUIRE(c.open(tenant1(server, 300)).ok());
  const auto start = std::chrono::steady_clock::now();
  auto hung = c.create_accounts({account(hang_id)});
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(hung.ok());
  CHECK(hung.error().code == errc::timeout);
  CHECK(errc_retryable(hung.error().code));
  CHECK(waited >= std::chrono::milliseconds(290));
  CHECK(waited < std::chrono::seconds(20));
  auto after = c.create_accounts({account(1)});
  REQUIRE(after.ok());
  CHECK(after->at(0) == ledger::create_account_result::ok);
}

TEST_CASE("a server exception becomes internal; no exception escapes") {
  fake_server server;
  client::connection c;
  REQUIRE(c.open(tenant1(server)).ok());
  result<client::account_results> r = errc::none;
  CHECK_NOTHROW(r = c.create_accounts({account(throw_id)}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::internal);
  CHECK(c.create_accounts({account(1)}).ok());  // still usable
}

TEST_CASE("a connection lost in the middle of a call answers node_down; open() reconnects") {
  auto server = std::make_unique<fake_server>();
  client::connection c;
  REQUIRE(c.open(tenant1(*server)).ok());
  REQUIRE(c.create_accounts({account(1), account(2)}).ok());
  auto lost = c.create_transfers({transfer(disconnect_id, 1, 2, 5)});
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code == errc::node_down);
  CHECK(c.lookup_accounts({account_id{u128::from_u64(1)}}).error().code == errc::node_down);
  server = std::make_unique<fake_server>();  // "the node restarted" (elsewhere)
  REQUIRE(c.open(tenant1(*server)).ok());
  CHECK(c.create_accounts({account(1)}).ok());
}

TEST_CASE("several connections on one thread share its loop; other threads have their own") {
  fake_server server;
  client::connection a, b;
  REQUIRE(a.open(tenant1(server)).ok());
  REQUIRE(b.open(plain(server.address(), "tenant-2", "t2-secret", 5000)).ok());
  REQUIRE(a.create_accounts({account(1)}).ok());
  // Tenant 2 does not see tenant 1's account (the fake keeps tenants apart as the node must).
  CHECK(b.lookup_accounts({account_id{u128::from_u64(1)}})->empty());
  CHECK(a.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
  std::thread other([&] {
    client::connection c;
    REQUIRE(c.open(tenant1(server)).ok());
    CHECK(c.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
  });
  other.join();
  // Made on this thread, opened and used on another, closed there, then reopened here.
  client::connection roaming;
  std::thread([&] {
    REQUIRE(roaming.open(tenant1(server)).ok());
    CHECK(roaming.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
    roaming.close();
  }).join();
  REQUIRE(roaming.open(tenant1(server)).ok());
  CHECK(roaming.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
  b.close();
  CHECK_FALSE(b.is_open());
  CHECK(a.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
  client::connection moved = std::move(a);
  CHECK(moved.lookup_accounts({account_id{u128::from_u64(1)}})->size() == 1);
}

// ---- The commands, run in-process against the fake node ----

namespace {

struct cli_env {
  fs::path dir;
  fs::path file;
  std::string old_file = std::getenv("CAUDAL_CLIENT_FILE") ? std::getenv("CAUDAL_CLIENT_FILE") : "";

  explicit cli_env(const fake_server& server) {
    std::string tmpl = (fs::temp_directory_path() / "caudal-cli-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    file = dir / "client.json";
    setenv("CAUDAL_CLIENT_FILE", file.c_str(), 1);
    client::client_file f;
    f.server = server.address();
    f.insecure = true;  // the fake server is plain TCP
    f.client_id = "operator";
    f.client_secret = "op-secret";
    client::add_tenant(f, 1, {"one", "tenant-1", "t1-secret"});
    REQUIRE(client::save_client_file(file, f).ok());
  }
  ~cli_env() {
    if (old_file.empty()) {
      unsetenv("CAUDAL_CLIENT_FILE");
    } else {
      setenv("CAUDAL_CLIENT_FILE", old_file.c_str(), 1);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

struct ran {
  int code = -1;
  std::string out;
  std::string err;
  json j() const { return json::parse(out); }
};

ran caudal_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "caudal");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  std::ostringstream out, err;
  ran r;
  r.code = cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace

TEST_CASE("caudal: tenant create stores the credentials; --tenant NAME then works") {
  fake_server server;
  cli_env env(server);
  auto created = caudal_cli({"tenant", "create", "--name", "acme", "--country", "MX", "--json"});
  REQUIRE_MESSAGE(created.code == 0, created.err);
  CHECK(created.j() == json::parse(R"({"tenant_id": "100", "client_id": "client-100",
                                       "client_secret": "secret-100"})"));
  auto file = client::load_client_file(env.file);
  REQUIRE(file.ok());
  REQUIRE(file->tenants.count(100));
  CHECK(file->tenants.at(100).name == "acme");
  CHECK(file->tenants.at(100).client_secret == "secret-100");
  CHECK(file->tenants.count(1));  // kept

  auto again = caudal_cli({"--json", "tenant", "create", "--name", "acme", "--country", "MX"});
  CHECK(again.code == 1);
  CHECK(again.j() == json::parse(R"({"error": "tenant_exists", "retryable": false})"));

  auto acc = caudal_cli({"account", "create", "--tenant", "acme", "--id", "1", "--ledger", "700", "--code", "10",
                         "--flags", "history", "--json"});
  REQUIRE_MESSAGE(acc.code == 0, acc.err);
  CHECK(acc.j() == json::parse(R"({"results": [{"index": 0, "result": "ok"}]})"));
  auto by_id = caudal_cli({"account", "get", "--tenant", "100", "--id", "1", "--json"});
  REQUIRE(by_id.code == 0);
  CHECK(by_id.j()["accounts"][0]["flags"] == json::parse(R"(["history"])"));

  auto list = caudal_cli({"tenant", "list", "--json"});
  REQUIRE(list.code == 0);
  CHECK(list.j()["tenants"].size() == 3);
  CHECK(list.out.find("secret") == std::string::npos);
  auto human = caudal_cli({"tenant", "list"});
  CHECK(human.code == 0);
  CHECK(human.out.find("acme") != std::string::npos);
}

TEST_CASE("caudal: accounts, transfers (single and --file), lookups, history, verify") {
  fake_server server;
  cli_env env(server);
  const fs::path accounts = env.dir / "accounts.json";
  std::ofstream(accounts) << R"([{"id": 1, "ledger": 700, "code": 10},
                                 {"id": "2", "ledger": 700, "code": 10, "flags": ["history"]},
                                 {"id": 1, "ledger": 700, "code": 10}])";
  auto made = caudal_cli({"account", "create", "--tenant", "one", "--file", accounts.string(), "--json"});
  REQUIRE_MESSAGE(made.code == 0, made.err);
  CHECK(made.j() == json::parse(R"({"results": [{"index": 0, "result": "ok"}, {"index": 1, "result": "ok"},
                                                {"index": 2, "result": "exists"}]})"));

  auto single = caudal_cli({"transfer", "create", "--tenant", "1", "--id", "10", "--debit", "1", "--credit", "2",
                            "--amount", "5", "--ledger", "700", "--code", "1", "--json"});
  REQUIRE_MESSAGE(single.code == 0, single.err);
  CHECK(single.j() == json::parse(R"({"results": [{"index": 0, "result": "ok"}]})"));
  const fs::path chain = env.dir / "chain.json";
  std::ofstream(chain) << R"([{"id": 11, "debit": 1, "credit": 2, "amount": 7, "ledger": 700, "code": 1,
                               "flags": ["linked"]},
                              {"id": 12, "debit": 1, "credit": 3, "amount": "8", "ledger": 700, "code": 1}])";
  auto batch = caudal_cli({"transfer", "create", "--tenant", "one", "--file", chain.string(), "--json"});
  REQUIRE(batch.code == 0);  // processed: the item results say how each went
  CHECK(batch.j() == json::parse(R"({"results": [{"index": 0, "result": "ok"},
                                                 {"index": 1, "result": "credit_account_not_found"}]})"));

  auto got = caudal_cli({"account", "get", "--tenant", "one", "--id", "1", "--id", "2", "--id", "3", "--json"});
  REQUIRE(got.code == 0);
  const json j = got.j();
  REQUIRE(j["accounts"].size() == 2);
  CHECK(j["accounts"][0]["id"] == "1");
  CHECK(j["accounts"][0]["debits_posted"] == "12");
  CHECK(j["accounts"][1]["credits_posted"] == "12");
  CHECK(j["accounts"][0]["debits_pending"] == "0");
  CHECK(j["accounts"][1]["credits_pending"] == "0");
  auto human = caudal_cli({"account", "get", "--tenant", "one", "--id", "1", "--id", "3"});
  CHECK(human.code == 0);
  CHECK(human.out.find("DEBITS_POSTED") != std::string::npos);
  CHECK(human.out.find("1 not found") != std::string::npos);

  auto tget = caudal_cli({"transfer", "get", "--tenant", "one", "--id", "11", "--json"});
  REQUIRE(tget.code == 0);
  CHECK(tget.j()["transfers"][0]["flags"] == json::parse(R"(["linked"])"));

  auto page1 = caudal_cli({"account", "transfers", "--tenant", "one", "--id", "1", "--limit", "1", "--json"});
  REQUIRE(page1.code == 0);
  REQUIRE(page1.j()["transfers"].size() == 1);
  CHECK(page1.j()["transfers"][0]["id"] == "10");
  const std::string next = page1.j()["next_after"];
  auto page2 = caudal_cli({"account", "transfers", "--tenant", "one", "--id", "1", "--after", next, "--json"});
  REQUIRE(page2.code == 0);
  REQUIRE(page2.j()["transfers"].size() == 1);
  CHECK(page2.j()["transfers"][0]["id"] == "11");
  auto page3 = caudal_cli({"account", "transfers", "--tenant", "one", "--id", "1", "--after",
                           std::string(page2.j()["next_after"]), "--json"});
  CHECK(page3.j() == json::parse(R"({"transfers": [], "next_after": null})"));
  auto credits = caudal_cli({"account", "transfers", "--tenant", "one", "--id", "1", "--credits", "--json"});
  CHECK(credits.j()["transfers"].empty());

  auto balances = caudal_cli({"account", "balances", "--tenant", "one", "--id", "2", "--json"});
  REQUIRE(balances.code == 0);
  CHECK(balances.j()["balances"].size() == 2);
  CHECK(balances.j()["next_after"] == "1002");

  auto ok = caudal_cli({"verify", "--json"});
  CHECK(ok.code == 0);
  CHECK(ok.j() == json::parse(R"({"ok": true, "violations": [],
                                  "counts": {"tenants": 2, "accounts": 3, "transfers": 4}})"));
  // Nothing above printed a secret.
  for (const auto* r : {&made, &single, &batch, &got, &human, &tget, &page1, &balances, &ok}) {
    CHECK(r->out.find("secret") == std::string::npos);
    CHECK(r->err.find("secret") == std::string::npos);
  }
}

TEST_CASE("caudal: verify exits 1 on a violation") {
  fake_server server(/*verify_ok=*/false);
  cli_env env(server);
  auto r = caudal_cli({"verify", "--json"});
  CHECK(r.code == 1);
  CHECK(r.j()["ok"] == false);
  CHECK(r.j()["violations"].size() == 1);
  auto human = caudal_cli({"verify"});
  CHECK(human.code == 1);
  CHECK(human.out.find("VIOLATIONS") != std::string::npos);
}

TEST_CASE("caudal: credentials and request failures") {
  fake_server server;
  cli_env env(server);
  auto unknown = caudal_cli({"account", "get", "--tenant", "nope", "--id", "1", "--json"});
  CHECK(unknown.code == 2);
  CHECK(unknown.out.empty());
  CHECK(unknown.err.find("no credentials for tenant 'nope'") != std::string::npos);

  auto wrong = caudal_cli({"--client-secret", "bad", "verify", "--json"});
  CHECK(wrong.code == 1);
  CHECK(wrong.j() == json::parse(R"({"error": "unauthenticated", "retryable": false})"));
  CHECK(wrong.err.find("bad") == std::string::npos);

  // Explicit credentials win over the file's; a tenant id that does not match them is a usage error.
  auto explicit_creds = caudal_cli({"account", "get", "--tenant", "2", "--client-id", "tenant-2", "--client-secret",
                                    "t2-secret", "--id", "1", "--json"});
  CHECK(explicit_creds.code == 0);
  auto mismatch = caudal_cli(
      {"account", "get", "--tenant", "one", "--client-id", "tenant-2", "--client-secret", "t2-secret", "--id", "1"});
  CHECK(mismatch.code == 2);
  CHECK(mismatch.err.find("belong to tenant 2") != std::string::npos);

  // Operator credentials do not move money.
  auto op = caudal_cli({"account", "create", "--tenant", "1", "--client-id", "operator", "--client-secret", "op-secret",
                        "--id", "1", "--ledger", "1", "--code", "1", "--json"});
  CHECK(op.code == 2);

  auto down = caudal_cli({"--server", closed_address(), "account", "get", "--tenant", "one", "--id", "1", "--json"});
  CHECK(down.code == 1);
  CHECK(down.out == "{\"error\":\"node_down\",\"retryable\":true}\n");
  auto down_human = caudal_cli({"--server", closed_address(), "tenant", "list"});
  CHECK(down_human.code == 1);
  CHECK(down_human.out.empty());
  CHECK(down_human.err.find("node_down (retryable): cannot reach the node at 127.0.0.1:") != std::string::npos);

  // Usage errors send nothing.
  const int before = server.ledger_calls();
  CHECK(caudal_cli({"account", "create", "--tenant", "one", "--id", "1", "--ledger", "1"}).code == 2);
  CHECK(caudal_cli({"transfer", "create", "--tenant", "one", "--id", "1", "--flags", "bogus", "--debit", "1",
                    "--credit", "2", "--amount", "1", "--ledger", "1", "--code", "1"})
            .code == 2);
  CHECK(server.ledger_calls() == before);
}

TEST_CASE("caudal: a broken client file is a usage error only when it is needed") {
  fake_server server;
  cli_env env(server);
  std::ofstream(env.file) << "{not json";
  auto r = caudal_cli({"verify", "--json"});
  CHECK(r.code == 2);
  CHECK(r.err.find("not valid JSON") != std::string::npos);
  auto explicit_all = caudal_cli(
      {"--server", server.address(), "--insecure", "--client-id", "operator", "--client-secret", "op-secret", "verify",
       "--json"});
  CHECK(explicit_all.code == 0);
}
