// The node's HTTP endpoint on a real loopback socket: the endpoint runs on its own kj event loop thread
// (as on the node's RPC thread); the test talks to it with raw blocking sockets (exact bytes on the wire)
// and with a kj-http client. Covers /healthz, /metrics, 404, 405, HEAD, keep-alive, slow and oversized
// clients, the connection cap, timeouts and start-up failures.
#include "cluster/http_endpoint.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <kj/async-io.h>
#include <kj/compat/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "base/metrics.hpp"

using namespace caudal;
using namespace caudal::cluster;
using namespace std::chrono_literals;

namespace {

// An endpoint on 127.0.0.1:0 served by a kj loop on its own thread, stopped by the destructor.
class served_endpoint {
 public:
  explicit served_endpoint(http_endpoint_limits limits = {}) {
    requests_ = &metrics_.add_counter("test_requests_total", "Requests.", {"operation"});
    requests_->with({"create_transfers"}).inc(7);
    loop_ = std::thread([this, limits] { run(limits); });
    auto ready = ready_.get_future();
    REQUIRE(ready.wait_for(10s) == std::future_status::ready);
    REQUIRE_MESSAGE(start_error_.empty(), start_error_);
  }
  ~served_endpoint() {
    if (stop_)
      stop_->fulfill();
    loop_.join();
  }

  uint16_t port() const { return port_; }
  std::string expected_metrics() const { return metrics_.render(); }
  // Reads the endpoint's counters on its own thread.
  size_t open_connections() {
    return executor_->executeSync([this] { return endpoint_->open_connections(); });
  }
  uint64_t refused_connections() {
    return executor_->executeSync([this] { return endpoint_->refused_connections(); });
  }

  std::atomic<bool> healthy{true};
  std::atomic<bool> metrics_throw{false};

 private:
  void run(http_endpoint_limits limits) {
    auto io = kj::setupAsyncIo();
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    auto started = http_endpoint::start(io, "127.0.0.1:0",
                                        {[this] { return healthy.load(); },
                                         [this] {
                                           if (metrics_throw)
                                             throw std::runtime_error("no metrics");
                                           return metrics_.render();
                                         }},
                                        limits);
    if (!started.ok()) {
      start_error_ = started.error().detail;
      ready_.set_value();
      return;
    }
    endpoint_ = std::move(started).value();
    port_ = endpoint_->port();
    executor_ = &kj::getCurrentThreadExecutor();
    stop_ = kj::mv(paf.fulfiller);
    ready_.set_value();
    paf.promise.wait(io.waitScope);
    endpoint_.reset();  // on the loop thread, as required
  }

  metrics::registry metrics_;
  metrics::counter_family* requests_ = nullptr;
  std::thread loop_;
  std::promise<void> ready_;
  std::string start_error_;
  std::unique_ptr<http_endpoint> endpoint_;
  uint16_t port_ = 0;
  const kj::Executor* executor_ = nullptr;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
};

// A blocking loopback socket with a receive timeout, closed on destruction.
class client_socket {
 public:
  explicit client_socket(uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~client_socket() { ::close(fd_); }
  client_socket(const client_socket&) = delete;
  client_socket& operator=(const client_socket&) = delete;

  bool send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Appends what arrives to buffer_; false on EOF, error or timeout.
  bool receive_more() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0)
      return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  // True when the server closed the connection (EOF or reset) before the timeout, discarding any bytes.
  bool closed_by_server() {
    for (;;) {
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0)
        return true;
      if (n < 0)
        return errno == ECONNRESET;
    }
  }

  struct reply {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
  };
  // Reads one response (Content-Length framed); status 0 when the connection ended first.
  reply read_reply(bool head_request = false) {
    reply r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!receive_more())
        return r;
    }
    r.head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t length = 0;
    if (auto p = r.head.find("Content-Length: "); p != std::string::npos)
      length = std::stoul(r.head.substr(p + 16));
    if (head_request)
      return r;
    while (buffer_.size() < length) {
      if (!receive_more())
        return reply{};
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

client_socket::reply fetch(uint16_t port, const std::string& method, const std::string& path,
                           const std::string& extra = {}) {
  client_socket s(port);
  REQUIRE(s.send(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n"));
  return s.read_reply(method == "HEAD");
}

bool has_header(const client_socket::reply& r, const std::string& line) {
  return r.head.find("\r\n" + line + "\r\n") != std::string::npos;
}

}  // namespace

TEST_CASE("GET /healthz answers 200 ok, or 503 when unhealthy") {
  served_endpoint ep;
  REQUIRE(ep.port() != 0);
  auto ok = fetch(ep.port(), "GET", "/healthz");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  CHECK(has_header(ok, "Content-Type: text/plain; charset=utf-8"));
  ep.healthy = false;
  auto down = fetch(ep.port(), "GET", "/healthz");
  CHECK(down.status == 503);
  CHECK(down.body == "unavailable\n");
  ep.healthy = true;
  CHECK(fetch(ep.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("GET /metrics answers the rendered registry as Prometheus text 0.0.4") {
  served_endpoint ep;
  auto r = fetch(ep.port(), "GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(has_header(r, "Content-Type: text/plain; version=0.0.4"));
  CHECK(r.body == ep.expected_metrics());
  CHECK(r.body.find("test_requests_total{operation=\"create_transfers\"} 7\n") != std::string::npos);
  // A query string is ignored.
  CHECK(fetch(ep.port(), "GET", "/metrics?format=text").status == 200);
  // A failing renderer gives 500, not a dead endpoint.
  ep.metrics_throw = true;
  CHECK(fetch(ep.port(), "GET", "/metrics").status == 500);
  ep.metrics_throw = false;
  CHECK(fetch(ep.port(), "GET", "/metrics").status == 200);
}

TEST_CASE("other paths 404, other methods 405, HEAD without a body") {
  served_endpoint ep;
  CHECK(fetch(ep.port(), "GET", "/").status == 404);
  CHECK(fetch(ep.port(), "GET", "/metricsx").status == 404);
  CHECK(fetch(ep.port(), "GET", "/healthz/").status == 404);
  auto post = fetch(ep.port(), "POST", "/metrics", "Content-Length: 0\r\n");
  CHECK(post.status == 405);
  CHECK(has_header(post, "Allow: GET, HEAD"));
  CHECK(fetch(ep.port(), "DELETE", "/healthz").status == 405);
  CHECK(fetch(ep.port(), "PUT", "/healthz", "Content-Length: 5\r\n\r\nhello").status == 405);

  client_socket s(ep.port());
  REQUIRE(s.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = s.read_reply(true);
  CHECK(head.status == 200);
  // The connection stays usable: the next response follows at once, so HEAD sent no body.
  REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto next = s.read_reply();
  CHECK(next.status == 200);
  CHECK(next.body == "ok\n");
}

TEST_CASE("keep-alive: several requests on one connection, pipelined too") {
  served_endpoint ep;
  client_socket s(ep.port());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(s.read_reply().status == 200);
  }
  REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(s.read_reply().body == "ok\n");
  CHECK(s.read_reply().body == ep.expected_metrics());
}

TEST_CASE("a slow client does not block others, and is dropped at the header timeout") {
  http_endpoint_limits limits;
  limits.header_timeout_ms = 2000;
  served_endpoint ep(limits);
  client_socket slow(ep.port());
  REQUIRE(slow.send("GET /healthz HTTP/1.1\r\nHo"));  // and nothing more
  auto start = std::chrono::steady_clock::now();
  // Served long before the slow client's header timeout (margins are wide: 2 busy cores).
  CHECK(fetch(ep.port(), "GET", "/healthz").status == 200);
  CHECK(std::chrono::steady_clock::now() - start < 1000ms);
  CHECK(slow.closed_by_server());  // within the 5 s receive timeout
  CHECK(std::chrono::steady_clock::now() - start >= 1500ms);
}

TEST_CASE("oversized request headers close the connection; the endpoint keeps serving") {
  http_endpoint_limits limits;
  limits.max_header_bytes = 2048;
  served_endpoint ep(limits);
  {
    client_socket s(ep.port());
    s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
    auto r = s.read_reply();
    CHECK(r.status != 200);
  }
  // Just under the limit is fine, and many small requests on one connection never add up.
  CHECK(fetch(ep.port(), "GET", "/healthz", "X-Filler: " + std::string(1500, 'a') + "\r\n").status == 200);
  client_socket s(ep.port());
  for (int i = 0; i < 50; ++i) {
    REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(100, 'b') + "\r\n\r\n"));
    REQUIRE(s.read_reply().status == 200);
  }
}

TEST_CASE("connections beyond max_connections are closed at once") {
  http_endpoint_limits limits;
  limits.max_connections = 2;
  served_endpoint ep(limits);
  auto a = std::make_unique<client_socket>(ep.port());
  client_socket b(ep.port());
  REQUIRE(b.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(b.read_reply().status == 200);  // both accepted by now
  CHECK(ep.open_connections() == 2);
  client_socket c(ep.port());
  CHECK(c.closed_by_server());
  CHECK(ep.refused_connections() == 1);
  a.reset();  // frees a slot
  for (int i = 0; i < 100 && ep.open_connections() != 1; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(fetch(ep.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("idle keep-alive connections and long-lived ones are closed") {
  http_endpoint_limits limits;
  limits.idle_timeout_ms = 200;
  limits.max_connection_ms = 2000;
  served_endpoint ep(limits);
  {
    client_socket s(ep.port());
    REQUIRE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(s.read_reply().status == 200);
    auto start = std::chrono::steady_clock::now();
    CHECK(s.closed_by_server());
    CHECK(std::chrono::steady_clock::now() - start < 1800ms);  // the idle timeout, not the lifetime
  }
  {
    // A client that keeps sending requests is still cut at max_connection_ms.
    client_socket s(ep.port());
    auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (std::chrono::steady_clock::now() - start < 6s) {
      if (!s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") || s.read_reply().status != 200) {
        closed = true;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - start >= 1800ms);
  }
  for (int i = 0; i < 100 && ep.open_connections() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(ep.open_connections() == 0);
}

TEST_CASE("a kj-http client on its own loop reads both endpoints") {
  served_endpoint ep;
  auto io = kj::setupAsyncIo();
  kj::HttpHeaderTable table;
  auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", ep.port()).wait(io.waitScope);
  auto client = kj::newHttpClient(io.provider->getTimer(), table, *addr);
  kj::HttpHeaders headers(table);
  headers.set(kj::HttpHeaderId::HOST, "localhost");
  for (const char* path : {"/healthz", "/metrics", "/missing"}) {
    auto req = client->request(kj::HttpMethod::GET, path, headers);
    auto resp = req.response.wait(io.waitScope);
    auto body = resp.body->readAllText().wait(io.waitScope);
    std::string p = path;
    if (p == "/healthz") {
      CHECK(resp.statusCode == 200);
      CHECK(std::string(body.cStr()) == "ok\n");
    } else if (p == "/metrics") {
      CHECK(resp.statusCode == 200);
      CHECK(std::string(body.cStr()) == ep.expected_metrics());
      KJ_IF_MAYBE (type, resp.headers->get(kj::HttpHeaderId::CONTENT_TYPE)) {
        CHECK(std::string(type->cStr()) == "text/plain; version=0.0.4");
      } else {
        FAIL("no Content-Type");
      }
    } else {
      CHECK(resp.statusCode == 404);
    }
  }
}

TEST_CASE("start-up failures are values (or exceptions from the constructor form)") {
  auto io = kj::setupAsyncIo();
  http_handlers h{[] { return true; }, [] { return std::string(); }};
  auto bad = http_endpoint::start(io, "localhost", h);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == errc::invalid_request);
  auto missing = http_endpoint::start(io, "127.0.0.1:0", http_handlers{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == errc::invalid_request);

  auto first = http_endpoint::start(io, "127.0.0.1:0", h);
  REQUIRE(first.ok());
  std::string taken = "127.0.0.1:" + std::to_string(first.value()->port());
  auto second = http_endpoint::start(io, taken, h);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == errc::internal);
  CHECK(second.error().detail.find(taken) != std::string::npos);
  CHECK_THROWS_AS(http_endpoint(io, taken, h.healthy, h.render_metrics), std::runtime_error);
  http_endpoint ctor_form(io, "127.0.0.1:0", h.healthy, h.render_metrics);
  CHECK(ctor_form.port() != 0);
  CHECK(ctor_form.port() != first.value()->port());
}
