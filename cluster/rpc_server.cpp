#include "cluster/rpc_server.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/debug.h>

#include <stdexcept>

#include "cluster/node_config.hpp"

namespace caudal::cluster {

struct rpc_server::impl : private kj::TaskSet::ErrorHandler {
  impl(kj::AsyncIoContext& io, const std::string& address, capnp::Capability::Client bootstrap, size_t max)
      : server(kj::mv(bootstrap)), max_connections(max), tasks(*this) {
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
        ++open;
        auto served = server.accept(*stream);
        tasks.add(served.attach(kj::mv(stream), kj::defer([this] { --open; })));
      }
      return accept_loop();
    });
  }

  void taskFailed(kj::Exception&& e) override {
    // One connection's RPC failed (client vanished mid-call...): nothing to do for the others.
    (void)e;
  }

  capnp::TwoPartyServer server;
  kj::Own<kj::ConnectionReceiver> listener;
  size_t max_connections;
  size_t open = 0;
  uint64_t refused = 0;
  kj::TaskSet tasks;  // one per open connection; destroyed first, so it never touches a dead member
};

rpc_server::rpc_server(kj::AsyncIoContext& io, const std::string& address, capnp::Capability::Client bootstrap,
                       size_t max_connections)
    : impl_(std::make_unique<impl>(io, address, kj::mv(bootstrap), max_connections)) {}

rpc_server::~rpc_server() = default;

uint16_t rpc_server::port() const { return static_cast<uint16_t>(impl_->listener->getPort()); }
size_t rpc_server::open_connections() const { return impl_->open; }
uint64_t rpc_server::refused_connections() const { return impl_->refused; }
kj::Promise<void> rpc_server::serve() { return impl_->accept_loop(); }

}  // namespace caudal::cluster
