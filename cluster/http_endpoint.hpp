#pragma once
// The node's HTTP endpoint (DESIGN 8): GET /metrics (Prometheus text 0.0.4) and GET /healthz, served by
// kj-http on an existing kj event loop (the node's RPC thread), next to the Cap'n Proto gateway.
//
//   GET /healthz  -> 200 "ok\n" when healthy(), else 503 "unavailable\n"   (text/plain; charset=utf-8)
//   GET /metrics  -> 200 render_metrics()                                   (text/plain; version=0.0.4)
//   HEAD          -> as GET, without the body
//   other paths   -> 404;  other methods -> 405 (Allow: GET, HEAD);  a query string is ignored
//
// Threads: created, used and destroyed on the thread that runs the kj event loop it was given; the
// callbacks run on that thread too, so they must be quick and must not block (read atomics: e.g. a
// metrics::registry::render(), a health flag the node sets). A callback that throws gives 500 (metrics)
// or 503 (health).
//
// Bounds (a slow or hostile client cannot hold the node): everything is asynchronous, so a slow client
// never blocks another; a request's headers must arrive within header_timeout_ms and stay within about
// max_header_bytes, or the connection is closed; an idle keep-alive connection is closed after
// idle_timeout_ms; any connection is closed after max_connection_ms; at most max_connections are open
// (further ones are closed at once). Request bodies are not read (nothing here takes one).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace kj {
class Network;
class Timer;
struct AsyncIoContext;
}  // namespace kj

namespace caudal::cluster {

struct http_handlers {
  std::function<bool()> healthy;                  // true: GET /healthz answers 200
  std::function<std::string()> render_metrics;   // the body of GET /metrics
};

struct http_endpoint_limits {
  size_t max_header_bytes = 16 * 1024;     // request line + headers of one request
  size_t max_connections = 64;             // open at once
  uint64_t header_timeout_ms = 10'000;     // to receive one request's headers
  uint64_t idle_timeout_ms = 5'000;        // between requests on a keep-alive connection
  uint64_t max_connection_ms = 60'000;     // a connection's whole life
};

class http_endpoint {
 public:
  // Binds `listen` ("host:port", port 0 = a free port; "*" = every interface; hostnames are resolved
  // here, blocking, so give an address or call this at start-up) and starts serving on the calling
  // thread's kj event loop, which must be running (being waited on) for requests to be served.
  // Fails with errc::invalid_request for a bad address or missing handler and errc::internal when the
  // bind fails (e.g. the port is taken); the detail says which.
  static result<std::unique_ptr<http_endpoint>> start(kj::Network& network, kj::Timer& timer,
                                                      std::string_view listen, http_handlers handlers,
                                                      http_endpoint_limits limits = {});
  // The same with io.provider's network and timer.
  static result<std::unique_ptr<http_endpoint>> start(kj::AsyncIoContext& io, std::string_view listen,
                                                      http_handlers handlers, http_endpoint_limits limits = {});

  // As start(), for a composition root that handles start-up failures as exceptions: throws
  // std::runtime_error with the same detail.
  http_endpoint(kj::AsyncIoContext& io, std::string_view listen, std::function<bool()> healthy,
                std::function<std::string()> render_metrics, http_endpoint_limits limits = {});

  // Stops listening and closes every connection (on the loop thread).
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  // The bound port (the picked one when asked for port 0).
  uint16_t port() const;
  // Connections open now, and connections refused because max_connections were open.
  size_t open_connections() const;
  uint64_t refused_connections() const;

  class impl;

 private:
  explicit http_endpoint(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace caudal::cluster
