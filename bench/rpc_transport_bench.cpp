// Micro-benchmark of the client API's transport (a tool, not a test): the CPU one createTransfers call of
// one transfer costs the server's and the client's kj threads over plain TCP, TLS 1.3 as kj-tls does it,
// and TLS 1.3 with security::coalescing_stream on both sides (one TLS record per message). No CAF, no
// PostgreSQL: the server answers at once, so what is left is Cap'n Proto RPC, kj's event loop, TLS and
// the sockets: the part of a request's cost that the transport decides.
//
//   scripts/lib/make-certs /tmp/certs node && build/bench/rpc_transport_bench /tmp/certs [calls] [rounds]
//
// Server and client run in two threads of this process (each its own kj event loop, one loopback TCP
// connection between them, one call in flight, as one bench client connection does). CPU is read per
// thread (CLOCK_THREAD_CPUTIME_ID), so a figure taken on a busy machine still says what a core would do;
// variants are interleaved over `rounds` and the median round is printed.
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "schemas/api.capnp.h"
#include "security/coalescing_stream.hpp"
#include "security/tls.hpp"

namespace {

// The variants compared: plain TCP, TLS as kj-tls does it, TLS with coalescing_stream (joined writes and
// buffered reads, as node and client use it), and TLS with joined writes only (reads passed through).
struct transport {
  const char* key;
  const char* name;
  bool tls;
  bool joined;
  size_t read_buffer_bytes;
};

const transport variants[] = {
    {"plain", "plain TCP", false, false, 0},
    {"tls", "TLS 1.3 (kj-tls)", true, false, 0},
    {"joined", "TLS 1.3 + coalescing_stream", true, true,
     caudal::security::coalescing_stream::default_read_buffer_bytes},
    {"writes", "TLS 1.3 + joined writes only", true, true, 0},
};
constexpr size_t variant_count = sizeof variants / sizeof variants[0];

double cpu_s(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Answers every createTransfers at once: one `ok` per transfer, as the gateway would after a commit.
class session_stub final : public caudal::api::Session::Server {
 protected:
  kj::Promise<void> createTransfers(CreateTransfersContext context) override {
    const auto n = context.getParams().getTransfers().size();
    auto results = context.getResults();
    results.initError().setCode(caudal::api::ErrorCode::NONE);
    results.initResults(n);
    return kj::READY_NOW;
  }
};

kj::Own<kj::AsyncIoStream> maybe_join(kj::Own<kj::AsyncIoStream> s, const transport& t) {
  if (t.joined)
    return kj::heap<caudal::security::coalescing_stream>(
        kj::mv(s), caudal::security::coalescing_stream::default_max_join_bytes, t.read_buffer_bytes);
  return s;
}

// One server thread per variant: accepts one connection and serves it until `stop` is fulfilled.
struct server_thread {
  std::promise<uint16_t> port;
  std::thread thread;
  clockid_t clock{};

  server_thread(const std::string& cert_dir, const transport& t) {
    thread = std::thread([this, cert_dir, &t] { run(cert_dir, t); });
    pthread_getcpuclockid(thread.native_handle(), &clock);
  }

  void run(const std::string& cert_dir, const transport& t) {
    auto io = kj::setupAsyncIo();
    std::unique_ptr<caudal::security::tls_context> tls;
    if (t.tls) {
      auto made = caudal::security::make_server_tls(
          {cert_dir + "/node.pem", cert_dir + "/node.key", cert_dir + "/ca.pem"}, io.provider->getTimer(), 10000);
      if (!made) {
        std::fprintf(stderr, "server TLS: %s\n", made.error().detail.c_str());
        std::exit(1);
      }
      tls = std::move(made.value());
    }
    auto listener = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope)->listen();
    port.set_value(static_cast<uint16_t>(listener->getPort()));
    auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
    stop_fulfiller = kj::mv(stop.fulfiller);
    ready.set_value();
    auto stream = listener->accept().wait(io.waitScope);
    if (tls)
      stream = tls->context->wrapServer(kj::mv(stream)).wait(io.waitScope);
    stream = maybe_join(kj::mv(stream), t);
    capnp::TwoPartyServer server(kj::heap<session_stub>());
    auto served = server.accept(*stream);
    stop.promise.exclusiveJoin(kj::mv(served)).wait(io.waitScope);
  }

  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_fulfiller;
  std::promise<void> ready;
};

struct figures {
  double client_cpu_us = 0;  // per call
  double server_cpu_us = 0;  // per call
  double wall_us = 0;        // per call (one in flight)
};

figures run_variant(const std::string& cert_dir, const transport& t, size_t calls) {
  server_thread server(cert_dir, t);
  const uint16_t port = server.port.get_future().get();
  auto ready = server.ready.get_future();
  ready.wait();

  auto io = kj::setupAsyncIo();
  std::unique_ptr<caudal::security::tls_context> tls;
  if (t.tls) {
    auto made = caudal::security::make_client_tls(cert_dir + "/ca.pem");
    if (!made) {
      std::fprintf(stderr, "client TLS: %s\n", made.error().detail.c_str());
      std::exit(1);
    }
    tls = std::move(made.value());
  }
  auto stream =
      io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope)->connect().wait(io.waitScope);
  if (tls)
    stream = tls->context->wrapClient(kj::mv(stream), "127.0.0.1").wait(io.waitScope);
  stream = maybe_join(kj::mv(stream), t);
  auto rpc = kj::heap<capnp::TwoPartyClient>(*stream);
  auto session = rpc->bootstrap().castAs<caudal::api::Session>();
  auto& timer = io.provider->getTimer();

  // One call as client/connection.cpp makes it: the request raced against a deadline timer.
  uint64_t next_id = 1;
  auto one_call = [&] {
    auto req = session.createTransfersRequest();
    auto tr = req.initTransfers(1)[0];
    tr.setIdLo(next_id++);
    tr.setDebitAccountIdLo(1 + next_id % 625);
    tr.setCreditAccountIdLo(1 + (next_id * 7) % 625);
    tr.setAmount(100);
    tr.setLedger(1);
    tr.setCode(1);
    auto answer = req.send().then([](auto&& resp) { return resp.getResults().size(); });
    auto deadline = timer.afterDelay(30 * kj::SECONDS).then([]() -> unsigned { return 0; });
    if (answer.exclusiveJoin(kj::mv(deadline)).wait(io.waitScope) != 1) {
      std::fprintf(stderr, "a call failed\n");
      std::exit(1);
    }
  };
  for (size_t i = 0; i < calls / 10 + 100; ++i)  // warm up
    one_call();

  const clockid_t self = [] {
    clockid_t c{};
    pthread_getcpuclockid(pthread_self(), &c);
    return c;
  }();
  const double c0 = cpu_s(self), s0 = cpu_s(server.clock);
  const auto w0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < calls; ++i)
    one_call();
  const auto w1 = std::chrono::steady_clock::now();
  const double c1 = cpu_s(self), s1 = cpu_s(server.clock);

  figures f;
  f.client_cpu_us = (c1 - c0) * 1e6 / static_cast<double>(calls);
  f.server_cpu_us = (s1 - s0) * 1e6 / static_cast<double>(calls);
  f.wall_us = std::chrono::duration<double, std::micro>(w1 - w0).count() / static_cast<double>(calls);

  server.stop_fulfiller->fulfill();
  server.thread.join();
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s CERT_DIR [calls=20000] [rounds=5] [plain,tls,joined,writes]\n  CERT_DIR: made by "
                 "scripts/lib/make-certs DIR node\n",
                 argv[0]);
    return 2;
  }
  const std::string cert_dir = argv[1];
  const size_t calls = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20000;
  const size_t rounds = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 5;
  // Optional 4th argument: the variants to run, e.g. "tls" or "plain,joined" (default: plain,tls,joined).
  const std::string list = "," + std::string(argc > 4 ? argv[4] : "plain,tls,joined") + ",";
  std::vector<const transport*> chosen;
  for (const auto& t : variants)
    if (list.find(std::string(",") + t.key + ",") != std::string::npos)
      chosen.push_back(&t);
  std::vector<std::vector<figures>> got(chosen.size());
  for (size_t r = 0; r < rounds; ++r)
    for (size_t v = 0; v < chosen.size(); ++v)
      got[v].push_back(run_variant(cert_dir, *chosen[v], calls));
  std::printf("%zu sequential createTransfers calls (1 transfer) per round, median of %zu rounds, per call:\n", calls,
              rounds);
  std::printf("%-30s %12s %12s %12s\n", "transport", "server CPU", "client CPU", "wall");
  for (size_t v = 0; v < chosen.size(); ++v) {
    std::vector<double> s, c, w;
    for (auto& f : got[v]) {
      s.push_back(f.server_cpu_us);
      c.push_back(f.client_cpu_us);
      w.push_back(f.wall_us);
    }
    std::printf("%-30s %9.1f us %9.1f us %9.1f us\n", chosen[v]->name, median(s), median(c), median(w));
  }
  return 0;
}
