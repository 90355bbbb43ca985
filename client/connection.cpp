// Blocking RPC client (see connection.hpp): every call builds a request, races its answer against a kj
// timer on the calling thread's event loop, and turns every exception into an errc.
#include "client/connection.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/timer.h>

#include <cassert>
#include <thread>
#include <utility>

#include "base/limits.hpp"
#include "security/coalescing_stream.hpp"
#include "security/tls.hpp"

namespace caudal::client {

namespace {

// kj allows one event loop per thread, so the connections opened on a thread share it; it lives as long
// as the last of them. This is the only thread-local state of the library (kj's rule forces it).
struct thread_loop {
  kj::AsyncIoContext io;
  thread_loop() : io(kj::setupAsyncIo()) {}
};

std::shared_ptr<thread_loop> acquire_loop() {
  thread_local std::weak_ptr<thread_loop> current;
  auto loop = current.lock();
  if (!loop) {
    loop = std::make_shared<thread_loop>();
    current = loop;
  }
  return loop;
}

failure from_exception(const kj::Exception& e) {
  std::string detail(e.getDescription().cStr());
  switch (e.getType()) {
    case kj::Exception::Type::DISCONNECTED:
      return failure{errc::node_down, std::move(detail)};
    case kj::Exception::Type::OVERLOADED:
      return failure{errc::overloaded, std::move(detail)};
    default:
      return failure{errc::internal, std::move(detail)};
  }
}

// The request-level error of a response: failure{code} unless the code is `none`.
template <class Response>
bool refused(const Response& r, failure& out) {
  const errc code = wire::from_wire(r.getError());
  if (code == errc::none)
    return false;
  const auto detail = r.getError().getDetail();
  out = failure{code, detail.size() == 0 ? std::string("refused by the server")
                                         : "refused by the server: " + std::string(detail.cStr(), detail.size())};
  return true;
}

// A response list converted item by item with the codec.
template <class T, class List>
std::vector<T> from_list(List list) {
  std::vector<T> out;
  out.reserve(list.size());
  for (auto x : list)
    out.push_back(wire::from_wire(x));
  return out;
}

// Per-item result codes, one per item sent. Unknown codes (a newer server) are kept by number.
template <class Code, class List>
result<std::vector<Code>> codes_of(List list, size_t sent) {
  if (list.size() != sent)
    return failure{errc::internal, "result count differs from item count"};
  std::vector<Code> out;
  out.reserve(sent);
  for (auto c : list)
    out.push_back(static_cast<Code>(c));
  return out;
}

// The host part of "host:port", "[v6]:port" or "host": the name the server's certificate must carry.
std::string host_of(const std::string& server) {
  if (!server.empty() && server.front() == '[') {
    auto close = server.find(']');
    return close == std::string::npos ? server : server.substr(1, close - 1);
  }
  auto colon = server.rfind(':');
  return colon == std::string::npos ? server : server.substr(0, colon);
}

template <class Builder, class Item>
void fill_ids(Builder list, const std::vector<Item>& ids) {
  for (unsigned i = 0; i < list.size(); ++i)
    wire::to_wire(ids[i].value, list[i]);
}

}  // namespace

struct connection::impl {
  // Declaration order is destruction order in reverse: capabilities go before the RPC system, the RPC
  // system before its stream, all of them before the loop.
  std::shared_ptr<thread_loop> loop;  // set by open(), on the thread that then owns the connection
  std::thread::id owner;
  uint32_t timeout_ms = 30000;
  std::unique_ptr<security::tls_context> tls;  // outlives the stream it wraps
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> rpc;
  kj::Maybe<api::Session::Client> session;
  kj::Maybe<api::Admin::Client> admin_cap;
  tenant_id tenant;
  bool admin = false;
  std::vector<std::string> scopes;
  std::string access_token;
  int64_t expires_at_ms = 0;

  ~impl() { reset(); }

  void reset() {
    admin_cap = nullptr;
    session = nullptr;
    rpc = nullptr;
    stream = nullptr;
    tls = nullptr;
    tenant = tenant_id{};
    admin = false;
    scopes.clear();
    std::fill(access_token.begin(), access_token.end(), '\0');
    access_token.clear();
    expires_at_ms = 0;
    if (loop) {
      // Let the RPC system's teardown run now, so nothing is left queued on the thread's loop.
      try {
        loop->io.waitScope.poll();
      } catch (...) {
      }
    }
  }

  bool on_owner_thread() const {
    if (!loop)
      return true;  // not bound to a thread yet (or closed)
    assert(owner == std::this_thread::get_id() && "a connection is used only on the thread that opened it");
    return owner == std::this_thread::get_id();
  }

  // Runs `send` (which returns kj::Promise<result<T>>) to completion or to the deadline, whichever comes
  // first. On the deadline the call is cancelled (capnp sends Finish); the connection stays usable.
  template <class T, class Send>
  result<T> run(Send&& send) {
    if (!on_owner_thread())
      return failure{errc::internal, "connection used on another thread"};
    if (!loop)
      return failure{errc::node_down, "not connected"};
    try {
      kj::Promise<result<T>> answer = send();
      auto deadline = loop->io.provider->getTimer().afterDelay(timeout_ms * kj::MILLISECONDS).then([]() -> result<T> {
        return failure{errc::timeout, "deadline passed"};
      });
      return answer.exclusiveJoin(kj::mv(deadline)).wait(loop->io.waitScope);
    } catch (const kj::Exception& e) {
      return from_exception(e);
    } catch (const std::exception& e) {
      return failure{errc::internal, e.what()};
    }
  }

  // One call: `build(capability)` makes the request, `read(response)` turns an accepted response into the
  // value; the request-level error, the deadline and exceptions are handled here for every call.
  template <class T, class Cap, class Build, class Read>
  result<T> call(result<Cap> cap, Build&& build, Read read) {
    if (!cap)
      return cap.error();
    return run<T>([&] {
      auto req = build(cap.value());
      return req.send().then([read](auto&& resp) -> result<T> {
        failure f;
        if (refused(resp, f))
          return f;
        return read(resp);
      });
    });
  }

  result<api::Session::Client> session_cap() {
    KJ_IF_MAYBE (s, session) {
      return *s;
    }
    return failure{errc::node_down, "not connected"};
  }

  result<api::Admin::Client> admin_client() {
    KJ_IF_MAYBE (a, admin_cap) {
      return *a;
    }
    auto s = session_cap();
    if (!s)
      return s.error();
    auto r = run<api::Admin::Client>([&] {
      return s->adminRequest().send().then(
          [](capnp::Response<api::Session::AdminResults>&& resp) -> result<api::Admin::Client> {
            failure f;
            if (refused(resp, f))
              return f;
            return resp.getAdmin();
          });
    });
    if (r)
      admin_cap = r.value();
    return r;
  }
};

connection::connection() : impl_(std::make_unique<impl>()) {}
connection::~connection() = default;
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;

result<void> connection::open(const options& o) {
  if (!impl_)
    impl_ = std::make_unique<impl>();
  auto& m = *impl_;
  if (!m.on_owner_thread())
    return failure{errc::internal, "connection used on another thread"};
  m.reset();
  m.timeout_ms = o.timeout_ms == 0 ? 1 : o.timeout_ms;
  if (o.server.empty())
    return failure{errc::invalid_request, "no server address"};
  if (!o.insecure) {
    if (o.ca_file.empty())
      return failure{errc::invalid_request,
                     "no CA file to verify the node's TLS certificate (or insecure for a plain-TCP node)"};
    auto made = security::make_client_tls(o.ca_file);
    if (!made)
      return made.error();
    m.tls = std::move(made.value());
  }
  try {
    if (!m.loop) {
      m.loop = acquire_loop();
      m.owner = std::this_thread::get_id();
    }
  } catch (const kj::Exception& e) {
    return failure{errc::internal, std::string("cannot set up a kj event loop: ") + e.getDescription().cStr()};
  }

  // 1. TCP, then TLS 1.3 unless insecure (which is why this is not EzRpc). The handshake verifies the
  // server's certificate against the CA and the host we dialled.
  const std::string host = host_of(o.server);
  kj::TlsContext* tls = m.tls ? m.tls->context.get() : nullptr;
  auto stream = m.run<kj::Own<kj::AsyncIoStream>>([&] {
    return m.loop->io.provider->getNetwork()
        .parseAddress(kj::StringPtr(o.server.c_str(), o.server.size()), default_port)
        .then([](kj::Own<kj::NetworkAddress>&& addr) {
          auto connected = addr->connect();
          return connected.attach(kj::mv(addr));
        })
        .then([tls, host](kj::Own<kj::AsyncIoStream>&& s) -> kj::Promise<kj::Own<kj::AsyncIoStream>> {
          if (tls == nullptr)
            return kj::mv(s);
          return tls->wrapClient(kj::mv(s), kj::StringPtr(host.c_str(), host.size()))
              .then([](kj::Own<kj::AsyncIoStream>&& secure) -> kj::Own<kj::AsyncIoStream> {
                // One TLS record per RPC message, small reads served from one TLS read
                // (security/coalescing_stream.hpp).
                return kj::heap<security::coalescing_stream>(kj::mv(secure));
              });
        })
        .then([](kj::Own<kj::AsyncIoStream>&& s) -> result<kj::Own<kj::AsyncIoStream>> { return kj::mv(s); });
  });
  if (!stream) {
    // Unreachable, refused, unresolvable: all mean "no node there" to the caller.
    const auto& f = stream.error();
    return failure{f.code == errc::timeout ? errc::timeout : errc::node_down, f.detail};
  }
  m.stream = kj::mv(stream).value();
  m.rpc = kj::heap<capnp::TwoPartyClient>(*m.stream);

  // 2. Authenticate (client credentials, or an access token): the Session capability is the authority.
  struct authenticated {
    api::Session::Client session;
    tenant_id tenant;
    bool admin;
    std::vector<std::string> scopes;
    std::string token;
    int64_t expires_at_ms;
  };
  auto names = [](capnp::List<capnp::Text>::Reader list) {
    std::vector<std::string> out;
    for (auto n : list)
      out.emplace_back(n.cStr(), n.size());
    return out;
  };
  auto gateway = m.rpc->bootstrap().castAs<api::Gateway>();
  auto auth = m.run<authenticated>([&]() -> kj::Promise<result<authenticated>> {
    if (!o.access_token.empty()) {
      auto req = gateway.openSessionRequest();
      req.setAccessToken(kj::StringPtr(o.access_token.c_str(), o.access_token.size()));
      return req.send().then(
          [names](capnp::Response<api::Gateway::OpenSessionResults>&& resp) -> result<authenticated> {
            failure f;
            if (refused(resp, f))
              return f;
            return authenticated{resp.getSession(), tenant_id{resp.getTenantId()}, resp.getAdmin(),
                                 names(resp.getScopes()), std::string(), resp.getExpiresAtMs()};
          });
    }
    auto req = gateway.authenticateRequest();
    req.setClientId(kj::StringPtr(o.client_id.c_str(), o.client_id.size()));
    req.setClientSecret(kj::StringPtr(o.client_secret.c_str(), o.client_secret.size()));
    auto scopes = req.initScopes(static_cast<unsigned>(o.scopes.size()));
    for (unsigned i = 0; i < scopes.size(); ++i)
      scopes.set(i, kj::StringPtr(o.scopes[i].c_str(), o.scopes[i].size()));
    return req.send().then(
        [names](capnp::Response<api::Gateway::AuthenticateResults>&& resp) -> result<authenticated> {
          failure f;
          if (refused(resp, f))
            return f;
          auto token = resp.getAccessToken();
          return authenticated{resp.getSession(), tenant_id{resp.getTenantId()}, resp.getAdmin(),
                               names(resp.getScopes()), std::string(token.cStr(), token.size()),
                               resp.getExpiresAtMs()};
        });
  });
  if (!auth) {
    m.reset();
    return auth.error();
  }
  m.session = auth->session;
  m.tenant = auth->tenant;
  m.admin = auth->admin;
  m.scopes = std::move(auth->scopes);
  m.access_token = std::move(auth->token);
  m.expires_at_ms = auth->expires_at_ms;
  return {};
}

void connection::close() {
  if (!impl_ || !impl_->on_owner_thread())
    return;
  impl_->reset();
  impl_->loop = nullptr;  // unbound: the next open() may be on another thread
}

bool connection::is_open() const {
  return impl_ && impl_->session != nullptr;
}

tenant_id connection::tenant() const {
  return impl_ ? impl_->tenant : tenant_id{};
}

bool connection::is_admin() const {
  return impl_ && impl_->admin;
}

const std::vector<std::string>& connection::scopes() const {
  static const std::vector<std::string> none;
  return impl_ ? impl_->scopes : none;
}

const std::string& connection::access_token() const {
  static const std::string none;
  return impl_ ? impl_->access_token : none;
}

int64_t connection::expires_at_ms() const {
  return impl_ ? impl_->expires_at_ms : 0;
}

result<account_results> connection::create_accounts(const std::vector<ledger::account>& accounts) {
  if (accounts.size() > limits::max_batch_items)
    return failure{errc::batch_too_large, "too many accounts"};
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<account_results>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.createAccountsRequest();
        auto list = req.initAccounts(static_cast<unsigned>(accounts.size()));
        for (unsigned i = 0; i < list.size(); ++i)
          wire::to_wire(accounts[i], list[i]);
        return req;
      },
      [n = accounts.size()](auto& resp) {
        return codes_of<ledger::create_account_result>(resp.getResults(), n);
      });
}

result<transfer_results> connection::create_transfers(const std::vector<ledger::transfer>& transfers) {
  if (transfers.size() > limits::max_batch_items)
    return failure{errc::batch_too_large, "too many transfers"};
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<transfer_results>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.createTransfersRequest();
        auto list = req.initTransfers(static_cast<unsigned>(transfers.size()));
        for (unsigned i = 0; i < list.size(); ++i)
          wire::to_wire(transfers[i], list[i]);
        return req;
      },
      [n = transfers.size()](auto& resp) {
        return codes_of<ledger::create_transfer_result>(resp.getResults(), n);
      });
}

result<std::vector<ledger::account>> connection::lookup_accounts(const std::vector<account_id>& ids) {
  if (ids.size() > limits::max_batch_items)
    return failure{errc::batch_too_large, "too many ids"};
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<ledger::account>>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.lookupAccountsRequest();
        fill_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
        return req;
      },
      [](auto& resp) { return from_list<ledger::account>(resp.getAccounts()); });
}

result<std::vector<ledger::transfer>> connection::lookup_transfers(const std::vector<transfer_id>& ids) {
  if (ids.size() > limits::max_batch_items)
    return failure{errc::batch_too_large, "too many ids"};
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<ledger::transfer>>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.lookupTransfersRequest();
        fill_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
        return req;
      },
      [](auto& resp) { return from_list<ledger::transfer>(resp.getTransfers()); });
}

result<std::vector<ledger::transfer>> connection::account_transfers(const ledger::account_filter& filter) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<ledger::transfer>>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.getAccountTransfersRequest();
        wire::to_wire(filter, req.initFilter());
        return req;
      },
      [](auto& resp) { return from_list<ledger::transfer>(resp.getTransfers()); });
}

result<std::vector<ledger::account_balance>> connection::account_balances(const ledger::account_filter& filter) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<ledger::account_balance>>(
      impl_->session_cap(),
      [&](api::Session::Client& s) {
        auto req = s.getAccountBalancesRequest();
        wire::to_wire(filter, req.initFilter());
        return req;
      },
      [](auto& resp) { return from_list<ledger::account_balance>(resp.getBalances()); });
}

result<new_tenant> connection::create_tenant(const std::string& name, const std::string& country) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<new_tenant>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.createTenantRequest();
        req.setName(kj::StringPtr(name.c_str(), name.size()));
        req.setCountry(kj::StringPtr(country.c_str(), country.size()));
        return req;
      },
      [](auto& resp) {
        new_tenant out;
        out.tenant = wire::from_wire(resp.getTenant());
        auto id = resp.getClientId();
        auto secret = resp.getClientSecret();
        out.client_id.assign(id.begin(), id.size());
        out.client_secret.assign(secret.begin(), secret.size());
        return out;
      });
}

result<std::vector<tenant_info>> connection::list_tenants() {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<tenant_info>>(
      impl_->admin_client(), [](api::Admin::Client& a) { return a.listTenantsRequest(); },
      [](auto& resp) { return from_list<tenant_info>(resp.getTenants()); });
}

result<verify_report> connection::verify(const std::vector<tenant_id>& tenants) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  if (tenants.size() > limits::max_batch_items)
    return failure{errc::batch_too_large, "too many tenants"};
  return impl_->call<verify_report>(
      impl_->admin_client(),
      [&tenants](api::Admin::Client& a) {
        auto req = a.verifyRequest();
        auto list = req.initTenants(static_cast<unsigned>(tenants.size()));
        for (unsigned i = 0; i < list.size(); ++i)
          list.set(i, tenants[i].value);
        return req;
      },
      [](auto& resp) { return wire::from_wire(resp.getReport()); });
}

result<cluster_status> connection::get_cluster_status() {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<cluster_status>(
      impl_->admin_client(), [](api::Admin::Client& a) { return a.clusterStatusRequest(); },
      [](auto& resp) { return wire::from_wire(resp.getStatus()); });
}

result<cluster_node_status> connection::drain_node(const std::string& node_id) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<cluster_node_status>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.drainNodeRequest();
        req.setNodeId(kj::StringPtr(node_id.c_str(), node_id.size()));
        return req;
      },
      [](auto& resp) { return wire::from_wire(resp.getNode()); });
}

result<void> connection::inject_fault(const fault& flt) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  struct done {};  // call<T> needs a value type; an empty struct stands in for void
  auto r = impl_->call<done>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.injectFaultRequest();
        wire::to_wire(flt, req.initFault());
        return req;
      },
      [](auto&) { return done{}; });
  if (!r)
    return r.error();
  return {};
}

result<new_client> connection::create_client(uint64_t tenant, const std::vector<std::string>& scopes) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<new_client>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.createClientRequest();
        req.setTenantId(tenant);
        auto list = req.initScopes(static_cast<unsigned>(scopes.size()));
        for (unsigned i = 0; i < list.size(); ++i)
          list.set(i, kj::StringPtr(scopes[i].c_str(), scopes[i].size()));
        return req;
      },
      [](auto& resp) {
        new_client out;
        out.client = wire::from_wire(resp.getClient());
        auto secret = resp.getClientSecret();
        out.client_secret.assign(secret.begin(), secret.size());
        return out;
      });
}

result<std::string> connection::rotate_client_secret(const std::string& client_id) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::string>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.rotateClientSecretRequest();
        req.setClientId(kj::StringPtr(client_id.c_str(), client_id.size()));
        return req;
      },
      [](auto& resp) {
        auto secret = resp.getClientSecret();
        return std::string(secret.begin(), secret.size());
      });
}

result<client_info> connection::revoke_client(const std::string& client_id) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<client_info>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.revokeClientRequest();
        req.setClientId(kj::StringPtr(client_id.c_str(), client_id.size()));
        return req;
      },
      [](auto& resp) { return wire::from_wire(resp.getClient()); });
}

result<std::vector<client_info>> connection::list_clients() {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<client_info>>(
      impl_->admin_client(), [](api::Admin::Client& a) { return a.listClientsRequest(); },
      [](auto& resp) { return from_list<client_info>(resp.getClients()); });
}

result<std::string> connection::rotate_signing_key() {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::string>(
      impl_->admin_client(), [](api::Admin::Client& a) { return a.rotateSigningKeyRequest(); },
      [](auto& resp) {
        auto kid = resp.getKeyId();
        return std::string(kid.begin(), kid.size());
      });
}

result<std::vector<audit_event>> connection::list_audit(int64_t since_ms, uint32_t limit) {
  if (!impl_)
    return failure{errc::node_down, "not connected"};
  return impl_->call<std::vector<audit_event>>(
      impl_->admin_client(),
      [&](api::Admin::Client& a) {
        auto req = a.listAuditRequest();
        req.setSinceMs(since_ms);
        req.setLimit(limit);
        return req;
      },
      [](auto& resp) { return from_list<audit_event>(resp.getEvents()); });
}

}  // namespace caudal::client
