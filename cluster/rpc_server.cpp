#include "cluster/rpc_server.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/compat/tls.h>
#include <arpa/inet.h>
#include <kj/debug.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdexcept>

#include "cluster/node_config.hpp"
#include "security/coalescing_stream.hpp"

namespace caudal::cluster {

struct rpc_server::impl : private kj::TaskSet::ErrorHandler {
  using bootstrap_factory = rpc_server::bootstrap_factory;

  impl(kj::AsyncIoContext& io, const std::string& address, bootstrap_factory bootstrap, size_t max,
       kj::TlsContext* tls_context)
      : make_bootstrap(std::move(bootstrap)), max_connections(max), tls(tls_context), tasks(*this) {
    auto hp = parse_host_port(address, "rpc.listen");
    if (!hp.ok())
      throw std::runtime_error(hp.error().detail);
    auto addr = io.provider->getNetwork().parseAddress(hp->host, hp->port).wait(io.waitScope);
    listener = addr->listen();
  }

  kj::Promise<void> accept_loop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
      if (open >= max_connections) {
        ++refused;  // dropping the stream closes it
      } else {
        // The slot is taken from accept on, so connections stuck in their handshake count too (the TLS
        // context drops handshakes that do not finish within its accept timeout).
        ++open;
        auto release = kj::defer([this] { --open; });
        // Each connection gets its own server and bootstrap capability, which knows the peer's address.
        auto server = kj::heap<capnp::TwoPartyServer>(make_bootstrap(peer_of(*stream)));
        if (tls == nullptr) {
          auto served = server->accept(*stream);
          tasks.add(served.attach(kj::mv(stream), kj::mv(server), kj::mv(release)));
        } else {
          // A peer that cannot do TLS 1.3 with our certificate (plain TCP, TLS 1.2, a client that does not
          // trust our CA) fails here: its connection is closed, nothing else happens.
          auto served = tls->wrapServer(kj::mv(stream))
                            .then(
                                [server = kj::mv(server)](kj::Own<kj::AsyncIoStream>&& secure) mutable
                                -> kj::Promise<void> {
                                  // One TLS record per RPC message, and Cap'n Proto's small reads
                                  // served from one TLS read (security/coalescing_stream.hpp).
                                  auto joined = kj::heap<security::coalescing_stream>(kj::mv(secure));
                                  auto rpc = server->accept(*joined);
                                  return rpc.attach(kj::mv(joined), kj::mv(server));
                                },
                                [this](kj::Exception&&) -> kj::Promise<void> {
                                  ++handshake_failures;
                                  return kj::READY_NOW;
                                });
          tasks.add(served.attach(kj::mv(release)));
        }
      }
      return accept_loop();
    });
  }

  void taskFailed(kj::Exception&& e) override {
    // One connection's RPC failed (client vanished mid-call...): nothing to do for the others.
    (void)e;
  }

  // "ip:port" of the connection's peer (before TLS wraps it); "unknown" if the socket cannot say.
  static std::string peer_of(kj::AsyncIoStream& stream) {
    sockaddr_storage addr{};
    kj::uint len = sizeof addr;
    try {
      stream.getpeername(reinterpret_cast<sockaddr*>(&addr), &len);
    } catch (const kj::Exception&) {
      return "unknown";
    }
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
      return std::string(host) + ":" + std::to_string(port);
    }
    if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
      return "[" + std::string(host) + "]:" + std::to_string(port);
    }
    return "unknown";
  }

  bootstrap_factory make_bootstrap;
  kj::Own<kj::ConnectionReceiver> listener;
  size_t max_connections;
  kj::TlsContext* tls;  // null: plain TCP (--insecure)
  size_t open = 0;
  uint64_t refused = 0;
  uint64_t handshake_failures = 0;
  kj::TaskSet tasks;  // one per open connection; destroyed first, so it never touches a dead member
};

rpc_server::rpc_server(kj::AsyncIoContext& io, const std::string& address, bootstrap_factory bootstrap,
                       size_t max_connections, kj::TlsContext* tls)
    : impl_(std::make_unique<impl>(io, address, std::move(bootstrap), max_connections, tls)) {}

rpc_server::~rpc_server() = default;

uint16_t rpc_server::port() const { return static_cast<uint16_t>(impl_->listener->getPort()); }
size_t rpc_server::open_connections() const { return impl_->open; }
uint64_t rpc_server::refused_connections() const { return impl_->refused; }
uint64_t rpc_server::failed_handshakes() const { return impl_->handshake_failures; }
kj::Promise<void> rpc_server::serve() { return impl_->accept_loop(); }

}  // namespace caudal::cluster
