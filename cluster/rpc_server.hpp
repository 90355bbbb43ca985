#pragma once
// The node's Cap'n Proto RPC listener: accepts client connections on the kj event-loop thread and serves
// the Gateway capability on each, up to a limit. Past the limit a new connection is closed at once (the
// client sees node_down, retryable) so a flood of connections cannot exhaust the node. With a TLS context
// every connection is a TLS 1.3 server stream (security/tls.hpp) before RPC runs on it; without one
// (the node's --insecure development mode) it is plain TCP.
#include <capnp/capability.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace caudal::cluster {

class rpc_server {
 public:
  // The bootstrap capability of one connection, given its peer address ("ip:port").
  using bootstrap_factory = std::function<capnp::Capability::Client(const std::string& peer)>;

  // Listens on `address` ("host:port", port 0 = any free one). Throws on a bad address or a taken port.
  // `tls` (owned by the caller, outliving this server) wraps each connection; null: plain TCP.
  rpc_server(kj::AsyncIoContext& io, const std::string& address, bootstrap_factory bootstrap,
             size_t max_connections, kj::TlsContext* tls);
  ~rpc_server();
  rpc_server(const rpc_server&) = delete;
  rpc_server& operator=(const rpc_server&) = delete;

  uint16_t port() const;
  size_t open_connections() const;
  uint64_t refused_connections() const;
  uint64_t failed_handshakes() const;  // TLS handshakes refused or timed out
  // Resolves only if accepting fails (the caller decides to stop).
  kj::Promise<void> serve();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caudal::cluster
