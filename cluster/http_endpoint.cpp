#include "cluster/http_endpoint.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>
#include <kj/async-io.h>
#include <kj/compat/http.h>
#include <kj/debug.h>

#include "cluster/node_config.hpp"

namespace caudal::cluster {
namespace {

// A connection's stream that fails reads once more than `budget` bytes arrived since the last request
// began: with the service resetting it per request, it bounds the size of one request's headers
// (kj-http's own limit is far larger). Owned by the connection's promise; runs on the loop thread.
class limited_stream final : public kj::AsyncIoStream {
 public:
  limited_stream(kj::Own<kj::AsyncIoStream> inner, size_t budget) : inner_(kj::mv(inner)), budget_(budget) {}

  void reset_budget() { used_ = 0; }

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override {
    if (used_ >= budget_) return KJ_EXCEPTION(DISCONNECTED, "HTTP request headers too large");
    max_bytes = std::min(max_bytes, budget_ - used_);
    min_bytes = std::min(min_bytes, max_bytes);
    return inner_->tryRead(buffer, min_bytes, max_bytes).then([this](size_t n) {
      used_ += n;
      return n;
    });
  }
  kj::Promise<void> write(const void* buffer, size_t size) override { return inner_->write(buffer, size); }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    return inner_->write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override { return inner_->whenWriteDisconnected(); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void abortRead() override { inner_->abortRead(); }
  void getsockopt(int level, int option, void* value, kj::uint* length) override {
    inner_->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, kj::uint length) override {
    inner_->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override { inner_->getsockname(addr, length); }
  void getpeername(struct sockaddr* addr, kj::uint* length) override { inner_->getpeername(addr, length); }
  kj::Maybe<int> getFd() const override { return inner_->getFd(); }

 private:
  kj::Own<kj::AsyncIoStream> inner_;
  size_t budget_;
  size_t used_ = 0;
};

constexpr const char* metrics_content_type = "text/plain; version=0.0.4";
constexpr const char* text_content_type = "text/plain; charset=utf-8";

}  // namespace

// Everything kj: the listening socket, the kj-http server, the open connections. Lives and dies on the
// loop thread; the http_endpoint wrapper keeps kj out of the public header.
class http_endpoint::impl final : private kj::TaskSet::ErrorHandler {
 public:
  impl(kj::Timer& timer, kj::Own<kj::ConnectionReceiver> receiver, http_handlers handlers,
       http_endpoint_limits limits)
      : timer_(timer), handlers_(std::move(handlers)), limits_(limits), receiver_(kj::mv(receiver)) {
    kj::HttpHeaderTable::Builder builder;
    allow_ = builder.add("Allow");
    table_ = builder.build();
    port_ = static_cast<uint16_t>(receiver_->getPort());
    kj::HttpServerSettings settings;
    settings.headerTimeout = limits_.header_timeout_ms * kj::MILLISECONDS;
    settings.pipelineTimeout = limits_.idle_timeout_ms * kj::MILLISECONDS;
    settings.canceledUploadGracePeriod = 100 * kj::MILLISECONDS;
    settings.canceledUploadGraceBytes = 1024;
    server_ = kj::heap<kj::HttpServer>(
        timer_, *table_,
        [this](kj::AsyncIoStream& stream) -> kj::Own<kj::HttpService> {
          return kj::heap<connection_service>(*this, dynamic_cast<limited_stream*>(&stream));
        },
        settings);
    accept_loop_ = accept_loop().eagerlyEvaluate(nullptr);
  }

  uint16_t port() const { return port_; }
  size_t open_connections() const { return open_; }
  uint64_t refused_connections() const { return refused_; }

 private:
  // One per connection: resets the header budget as each request begins, then answers it.
  class connection_service final : public kj::HttpService {
   public:
    connection_service(impl& owner, limited_stream* stream) : owner_(owner), stream_(stream) {}
    kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders&,
                              kj::AsyncInputStream&, Response& response) override {
      if (stream_ != nullptr) stream_->reset_budget();
      return owner_.respond(method, url, response);
    }

   private:
    impl& owner_;
    limited_stream* stream_;  // null only if kj handed the factory another stream than ours
  };

  kj::Promise<void> accept_loop() {
    return receiver_->accept().then(
        [this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
          serve(kj::mv(stream));
          return accept_loop();
        },
        [this](kj::Exception&&) -> kj::Promise<void> {
          // Out of descriptors or the like: try again shortly rather than stop serving for good.
          return timer_.afterDelay(100 * kj::MILLISECONDS).then([this] { return accept_loop(); });
        });
  }

  void serve(kj::Own<kj::AsyncIoStream> stream) {
    if (open_ >= limits_.max_connections) {
      ++refused_;
      return;  // dropping the stream closes it
    }
    ++open_;
    auto limited = kj::heap<limited_stream>(kj::mv(stream), limits_.max_header_bytes);
    connections_.add(server_->listenHttp(kj::mv(limited))
                         .exclusiveJoin(timer_.afterDelay(limits_.max_connection_ms * kj::MILLISECONDS))
                         .attach(kj::defer([this] { --open_; })));
  }

  kj::Promise<void> respond(kj::HttpMethod method, kj::StringPtr url, kj::HttpService::Response& response) {
    std::string_view path(url.cStr(), url.size());
    path = path.substr(0, path.find('?'));
    bool known = path == "/healthz" || path == "/metrics";
    if (!known) return send(response, 404, "Not Found", text_content_type, "not found\n");
    if (method != kj::HttpMethod::GET && method != kj::HttpMethod::HEAD) {
      return send(response, 405, "Method Not Allowed", text_content_type, "method not allowed\n");
    }
    if (path == "/healthz") {
      bool healthy = false;
      try {
        healthy = handlers_.healthy();
      } catch (...) {
        healthy = false;
      }
      return healthy ? send(response, 200, "OK", text_content_type, "ok\n")
                     : send(response, 503, "Service Unavailable", text_content_type, "unavailable\n");
    }
    std::string body;
    try {
      body = handlers_.render_metrics();
    } catch (...) {
      return send(response, 500, "Internal Server Error", text_content_type, "metrics unavailable\n");
    }
    return send(response, 200, "OK", metrics_content_type, std::move(body));
  }

  kj::Promise<void> send(kj::HttpService::Response& response, kj::uint status, kj::StringPtr status_text,
                         kj::StringPtr content_type, std::string body) {
    kj::HttpHeaders headers(*table_);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, content_type);
    if (status == 405) headers.set(allow_, "GET, HEAD");
    // The body moves to the heap: the write completes later, and a short std::string keeps its bytes inline.
    auto owned = kj::heap<std::string>(std::move(body));
    auto out = response.send(status, status_text, headers, owned->size());
    if (owned->empty()) return kj::READY_NOW;
    auto written = out->write(owned->data(), owned->size());
    return written.attach(kj::mv(out), kj::mv(owned));
  }

  // A connection failed: the client went away, sent too large headers, or timed out. Nothing to do.
  void taskFailed(kj::Exception&&) override {}

  kj::Timer& timer_;
  http_handlers handlers_;
  http_endpoint_limits limits_;
  kj::Own<kj::HttpHeaderTable> table_;
  kj::HttpHeaderId allow_ = kj::HttpHeaderId::HOST;  // set in the constructor
  kj::Own<kj::ConnectionReceiver> receiver_;
  uint16_t port_ = 0;
  size_t open_ = 0;
  uint64_t refused_ = 0;
  kj::Own<kj::HttpServer> server_;
  // Destroyed before the server they use (members are destroyed in reverse order).
  kj::TaskSet connections_{*this};
  kj::Promise<void> accept_loop_ = nullptr;
};

http_endpoint::http_endpoint(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_endpoint::~http_endpoint() = default;

uint16_t http_endpoint::port() const { return impl_->port(); }
size_t http_endpoint::open_connections() const { return impl_->open_connections(); }
uint64_t http_endpoint::refused_connections() const { return impl_->refused_connections(); }

namespace {

result<std::unique_ptr<http_endpoint::impl>> open_endpoint(kj::Network& network, kj::Timer& timer,
                                                           std::string_view listen, http_handlers handlers,
                                                           http_endpoint_limits limits) {
  if (!handlers.healthy || !handlers.render_metrics) {
    return failure{errc::invalid_request, "http endpoint: both handlers (healthy, render_metrics) are required"};
  }
  if (limits.max_header_bytes == 0 || limits.max_connections == 0) {
    return failure{errc::invalid_request, "http endpoint: limits must be positive"};
  }
  auto hp = parse_host_port(listen, "http listen address");
  if (!hp) return hp.error();

  // Resolve synchronously (an address literal resolves at once), then bind through kj.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(hp->port);
  int rc = ::getaddrinfo(hp->host == "*" ? nullptr : hp->host.c_str(), port_text.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return failure{errc::invalid_request,
                   "http endpoint: cannot resolve '" + std::string(listen) + "': " + ::gai_strerror(rc)};
  }
  kj::Own<kj::ConnectionReceiver> receiver;
  kj::Maybe<kj::Exception> error = kj::runCatchingExceptions([&] {
    receiver = network.getSockaddr(found->ai_addr, static_cast<kj::uint>(found->ai_addrlen))->listen();
  });
  ::freeaddrinfo(found);
  KJ_IF_MAYBE(e, error) {
    return failure{errc::internal, "http endpoint: cannot listen on '" + std::string(listen) +
                                       "': " + std::string(e->getDescription().cStr())};
  }
  return std::make_unique<http_endpoint::impl>(timer, kj::mv(receiver), std::move(handlers), limits);
}

}  // namespace

result<std::unique_ptr<http_endpoint>> http_endpoint::start(kj::Network& network, kj::Timer& timer,
                                                            std::string_view listen, http_handlers handlers,
                                                            http_endpoint_limits limits) {
  auto p = open_endpoint(network, timer, listen, std::move(handlers), limits);
  if (!p) return p.error();
  return std::unique_ptr<http_endpoint>(new http_endpoint(std::move(p).value()));
}

result<std::unique_ptr<http_endpoint>> http_endpoint::start(kj::AsyncIoContext& io, std::string_view listen,
                                                            http_handlers handlers, http_endpoint_limits limits) {
  return start(io.provider->getNetwork(), io.provider->getTimer(), listen, std::move(handlers), limits);
}

http_endpoint::http_endpoint(kj::AsyncIoContext& io, std::string_view listen, std::function<bool()> healthy,
                             std::function<std::string()> render_metrics, http_endpoint_limits limits) {
  auto p = open_endpoint(io.provider->getNetwork(), io.provider->getTimer(), listen,
                         http_handlers{std::move(healthy), std::move(render_metrics)}, limits);
  if (!p) throw std::runtime_error(p.error().detail);
  impl_ = std::move(p).value();
}

}  // namespace caudal::cluster
