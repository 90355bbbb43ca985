#pragma once
// The node's Cap'n Proto RPC listener: accepts client connections on the kj event-loop thread and serves
// the Gateway capability on each, up to a limit. Past the limit a new connection is closed at once (the
// client sees node_down, retryable) so a flood of connections cannot exhaust the node. The place where a
// transport wrapper (TLS) goes.
#include <capnp/capability.h>
#include <kj/async-io.h>

#include <cstddef>
#include <memory>
#include <string>

namespace caudal::cluster {

class rpc_server {
 public:
  // Listens on `address` ("host:port", port 0 = any free one). Throws on a bad address or a taken port.
  rpc_server(kj::AsyncIoContext& io, const std::string& address, capnp::Capability::Client bootstrap,
             size_t max_connections);
  ~rpc_server();
  rpc_server(const rpc_server&) = delete;
  rpc_server& operator=(const rpc_server&) = delete;

  uint16_t port() const;
  size_t open_connections() const;
  uint64_t refused_connections() const;
  // Resolves only if accepting fails (the caller decides to stop).
  kj::Promise<void> serve();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caudal::cluster
