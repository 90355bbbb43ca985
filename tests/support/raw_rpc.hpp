#pragma once
// A raw Cap'n Proto connection to a test node over TLS, below the client library: for tests of what the
// server does with requests the library would never send. Call on a thread whose kj loop is `io`'s.
#include <doctest/doctest.h>
#include <kj/async-io.h>

#include <memory>
#include <string>

#include "security/tls.hpp"
#include "tests/support/node_process.hpp"

namespace caudal::test {

// The TLS stream to `node`'s RPC address, verified against the test CA; the test fails if that is
// impossible. `tls` must outlive the stream.
inline kj::Own<kj::AsyncIoStream> raw_tls_stream(kj::AsyncIoContext& io, const node_process& node,
                                                 std::unique_ptr<security::tls_context>& tls) {
  const std::string& address = node.rpc_address();
  const auto colon = address.rfind(':');
  auto addr = io.provider->getNetwork()
                  .parseAddress(address.substr(0, colon), static_cast<uint>(std::stoi(address.substr(colon + 1))))
                  .wait(io.waitScope);
  auto made = security::make_client_tls(node.ca_file());
  REQUIRE(made.ok());
  tls = std::move(made.value());
  return tls->context->wrapClient(addr->connect().wait(io.waitScope), "127.0.0.1").wait(io.waitScope);
}

}  // namespace caudal::test
