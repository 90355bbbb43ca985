// `caudal bench` (see bench.hpp): set-up, load threads, figures.
#include "cli/bench.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cmath>
#include <ctime>
#include <mutex>
#include <thread>

#include "base/errc.hpp"
#include "base/limits.hpp"
#include "cli/parse.hpp"
#include "cluster/placement.hpp"
#include "cli/render.hpp"

namespace caudal::cli {

namespace {

using steady = std::chrono::steady_clock;

// A retryable failure is retried with the same ids this many times at most, with growing pauses.
constexpr int max_attempts = 6;
constexpr auto first_backoff = std::chrono::milliseconds(20);
// The deadline of the final verify.
constexpr uint32_t verify_timeout_ms = 600'000;
// Error texts kept for the report (the count is exact; the samples are not all kept).
constexpr size_t max_error_samples = 5;

struct tenant_client {
  tenant_id id;
  std::string name;
  std::string client_id;
  std::string client_secret;
  std::string server;  // --to-owner: the owner's RPC address; empty: the server of the options
};

// The session options of tenant t: the owner's address when the run goes to owners.
client::options tenant_options(const context& ctx, const tenant_client& t) {
  auto o = session_options(ctx, t.client_id, t.client_secret);
  if (!t.server.empty())
    o.server = t.server;
  return o;
}

// --to-owner: each tenant's owner by rendezvous hashing over the nodes that are up (what the cluster
// settles on; bench tenants are global: no residency region). The status lists the members and shard count.
result<void> route_to_owners(client::connection& op, std::vector<tenant_client>& tenants) {
  auto status = op.get_cluster_status();
  if (!status)
    return status.error();
  std::vector<cluster::placement_node> up;
  std::vector<std::string> rpc;
  for (const auto& n : status->nodes)
    if (n.state == "up") {
      up.push_back({n.id, n.region});
      rpc.push_back(n.rpc_address);
    }
  auto p = cluster::placement::make(status->shard_count, {});
  if (!p)
    return p.error();
  const auto owners = p->owners(up);
  for (auto& t : tenants) {
    auto shard = p->shard_of(t.id);
    if (!shard || !owners[shard.value()])
      return failure{errc::invalid_request, "--to-owner: no owner for tenant " + t.name};
    t.server = rpc[*owners[shard.value()]];
  }
  return {};
}

// What one load thread measured.
struct client_report {
  latency_histogram latency;  // requests that completed inside the measured window
  uint64_t requests = 0;      // acknowledged requests in the window
  uint64_t transfers = 0;     // acknowledged transfers in the window
  uint64_t errors = 0;        // failed requests (after retries) and items refused unexpectedly, whole run
  uint64_t retries = 0;
  std::vector<std::string> error_samples;

  void error(uint64_t count, std::string what) {
    errors += count;
    if (error_samples.size() < max_error_samples)
      error_samples.push_back(std::move(what));
  }
};

// The start line: every thread connects first, then all start together.
class start_gate {
 public:
  explicit start_gate(size_t parties) : waiting_(parties) {}
  // Returns the common start time.
  steady::time_point arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--waiting_ == 0) {
      start_ = steady::now();
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return waiting_ == 0; });
    }
    return start_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t waiting_;
  steady::time_point start_;
};

std::string run_tag() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &utc);
  return std::string("bench-") + buf;
}

// Sends one batch, retrying retryable failures with the same ids. Returns the acknowledged count, or
// nullopt when the request failed for good (the error is recorded).
std::optional<uint64_t> send_batch(client::connection& conn, const client::options& opts,
                                   const std::vector<ledger::transfer>& batch, client_report& report) {
  auto backoff = first_backoff;
  for (int attempt = 1;; ++attempt) {
    auto answer = conn.create_transfers(batch);
    if (answer) {
      uint64_t acked = 0;
      for (const auto code : answer.value()) {
        // `exists` after a retry: the earlier attempt committed it (its answer was lost).
        if (code == ledger::create_transfer_result::ok ||
            (attempt > 1 && code == ledger::create_transfer_result::exists)) {
          ++acked;
        } else {
          report.error(1, "transfer refused: " + std::string(ledger::result_name(code)));
        }
      }
      return acked;
    }
    const failure& f = answer.error();
    // A session ends with its access token (15 minutes by default): a run longer than that signs in again.
    const bool expired = f.code == errc::unauthenticated;
    if ((!errc_retryable(f.code) && !expired) || attempt == max_attempts) {
      report.error(1, "request failed: " + std::string(errc_name(f.code)));
      return std::nullopt;
    }
    ++report.retries;
    if (!expired) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    if (f.code == errc::node_down || expired)
      (void)conn.open(opts);  // reconnect and sign in again; a failure shows on the next attempt
  }
}

void run_client(uint32_t index, const bench_settings& s, const std::vector<tenant_client>& tenants,
                const context& ctx, uint64_t seed, start_gate& gate, client_report& report) {
  const auto mine = tenants_of_client(index, s.clients, s.tenants);
  std::vector<client::options> options;
  std::vector<client::connection> conns(mine.size());
  bool connected = true;
  for (size_t i = 0; i < mine.size(); ++i) {
    const auto& t = tenants[mine[i]];
    options.push_back(tenant_options(ctx, t));
    if (auto r = conns[i].open(options.back()); !r) {
      report.error(1, "cannot open a session for " + t.name + ": " + std::string(errc_name(r.error().code)));
      connected = false;
    }
  }
  const auto start = gate.arrive_and_wait();
  if (!connected)
    return;
  const auto measure_from = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.warmup));
  const auto measure_to = measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.seconds));

  // Open loop: this client's share of the rate, its first request offset so the clients interleave.
  steady::duration interval{};
  steady::time_point next_at = start;
  if (s.rate) {
    interval = std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(static_cast<double>(s.clients) / *s.rate));
    next_at = start + interval * index / s.clients;
  }

  transfer_generator generator(index, s.accounts, s.hot, seed);
  size_t turn = 0;
  for (;;) {
    steady::time_point intended = steady::now();
    if (s.rate) {
      if (next_at >= measure_to)
        break;
      std::this_thread::sleep_until(next_at);
      intended = next_at;  // latency from the planned send time: a late send counts (no coordinated omission)
      next_at += interval;
    }
    if (steady::now() >= measure_to)
      break;
    const size_t slot = turn++ % conns.size();
    const auto batch = generator.next_batch(s.batch);
    const auto acked = send_batch(conns[slot], options[slot], batch, report);
    const auto done = steady::now();
    if (acked && done >= measure_from && done <= measure_to) {
      report.latency.record(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(done - intended).count()));
      ++report.requests;
      report.transfers += *acked;
    }
  }
}

// A set-up call, retried while it fails with a retryable error (e.g. the node reconnecting to PostgreSQL).
// A tenant name is unique, so a retried create_tenant whose first attempt committed answers tenant_exists:
// the run stops there rather than guess.
template <class Call>
auto with_retries(Call call) -> decltype(call()) {
  auto backoff = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt) {
    auto r = call();
    if (r || !errc_retryable(r.error().code) || attempt == max_attempts)
      return r;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

double ms(uint64_t micros) {
  return static_cast<double>(micros) / 1000.0;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

int bench(context& ctx, const bench_args& a) {
  auto parsed = bench_settings_from_args(a);
  if (!parsed)
    return report_usage(ctx, parsed.error());
  const bench_settings s = parsed.value();
  const bool text = !ctx.global.json;

  client::connection op;
  if (int code = open_operator_session(ctx, op); code != exit_processed)
    return code;
  if (!op.is_admin())
    return report_failure(ctx, failure{errc::forbidden, "bench needs the operator's credentials"});

  // 1. Fresh tenants: ids restart at 1 in each, so runs never collide.
  const auto setup_start = steady::now();
  const std::string tag = run_tag();
  std::vector<tenant_client> tenants;
  for (uint32_t i = 0; i < s.tenants; ++i) {
    auto created = with_retries([&] { return op.create_tenant(tag + "-" + std::to_string(i), s.country); });
    if (!created)
      return report_failure(ctx, created.error());
    const auto& c = created.value();
    tenants.push_back({c.tenant.id, c.tenant.name, c.client_id, c.client_secret, {}});
  }
  if (s.to_owner)
    if (auto routed = route_to_owners(op, tenants); !routed)
      return report_failure(ctx, routed.error());
  // 2. Their accounts, in full batches.
  for (const auto& t : tenants) {
    client::connection conn;
    if (auto r = conn.open(tenant_options(ctx, t)); !r)
      return report_failure(ctx, r.error());
    for (uint32_t first = 1; first <= s.accounts; first += static_cast<uint32_t>(limits::max_batch_items)) {
      const uint32_t last = std::min<uint64_t>(s.accounts, uint64_t{first} + limits::max_batch_items - 1);
      std::vector<ledger::account> batch;
      for (uint32_t id = first; id <= last; ++id) {
        ledger::account acc;
        acc.id = account_id{u128{0, id}};
        acc.ledger = 1;
        acc.code = 1;
        batch.push_back(acc);
      }
      int attempt = 0;
      auto results = with_retries([&] {
        ++attempt;
        return conn.create_accounts(batch);
      });
      if (!results)
        return report_failure(ctx, results.error());
      for (const auto code : results.value()) {
        // `exists` after a retry: the earlier attempt committed it.
        if (code != ledger::create_account_result::ok &&
            !(attempt > 1 && code == ledger::create_account_result::exists)) {
          return report_failure(ctx, failure{errc::internal, std::string("account refused: ") +
                                                                 std::string(ledger::result_name(code))});
        }
      }
    }
  }
  const double setup_seconds = std::chrono::duration<double>(steady::now() - setup_start).count();
  if (text) {
    ctx.out << "bench: " << s.tenants << " tenants (" << tag << "-*) x " << s.accounts << " accounts = "
            << uint64_t{s.tenants} * s.accounts << " accounts, ready in " << fixed(setup_seconds, 1) << " s\n"
            << "bench: " << s.clients << " clients, batches of " << s.batch << ", hot " << s.hot << ", "
            << (s.rate ? "open loop at " + fixed(*s.rate, 0) + " requests/s" : std::string("closed loop"))
            << ", warmup " << s.warmup << " s, measuring " << s.seconds << " s\n";
    ctx.out.flush();
  }

  // 3. Load.
  std::vector<client_report> reports(s.clients);
  {
    start_gate gate(s.clients);
    std::vector<std::thread> threads;
    const uint64_t seed_base = static_cast<uint64_t>(std::time(nullptr));
    for (uint32_t c = 0; c < s.clients; ++c) {
      threads.emplace_back(run_client, c, std::cref(s), std::cref(tenants), std::cref(ctx), seed_base * 1000 + c,
                           std::ref(gate), std::ref(reports[c]));
    }
    for (auto& t : threads)
      t.join();
  }
  client_report total;
  for (const auto& r : reports) {
    total.latency.merge(r.latency);
    total.requests += r.requests;
    total.transfers += r.transfers;
    total.errors += r.errors;
    total.retries += r.retries;
    for (const auto& e : r.error_samples)
      if (total.error_samples.size() < max_error_samples)
        total.error_samples.push_back(e);
  }

  // 4. Verify the run's tenants (one snapshot): what this run wrote. `caudal verify` checks everything.
  // It reads every row the run wrote, which takes long in a large database: a deadline of its own.
  std::vector<tenant_id> scope;
  for (const auto& t : tenants)
    scope.push_back(t.id);
  context verify_ctx(ctx.global, ctx.out, ctx.err);
  verify_ctx.file_path = ctx.file_path;
  verify_ctx.file = ctx.file;
  verify_ctx.file_error = ctx.file_error;
  verify_ctx.global.timeout_ms = std::max(ctx.global.timeout_ms, verify_timeout_ms);
  client::connection checker;
  if (int code = open_operator_session(verify_ctx, checker); code != exit_processed)
    return code;
  const auto report = checker.verify(scope);

  const double transfers_per_sec = static_cast<double>(total.transfers) / s.seconds;
  const double requests_per_sec = static_cast<double>(total.requests) / s.seconds;
  const double p50 = ms(total.latency.quantile(0.50)), p95 = ms(total.latency.quantile(0.95)),
               p99 = ms(total.latency.quantile(0.99)), max = ms(total.latency.max());
  const bool verify_ok = report && report.value().ok;

  if (text) {
    ctx.out << "bench: " << total.transfers << " transfers acknowledged in " << s.seconds
            << " s: " << fixed(transfers_per_sec, 0) << " transfers/s, " << fixed(requests_per_sec, 1)
            << " requests/s\n"
            << "bench: latency per request (ms): p50 " << fixed(p50, 2) << "  p95 " << fixed(p95, 2) << "  p99 "
            << fixed(p99, 2) << "  max " << fixed(max, 2) << '\n'
            << "bench: errors " << total.errors << ", retries " << total.retries << '\n';
    for (const auto& e : total.error_samples)
      ctx.out << "bench:   " << e << '\n';
    if (!report) {
      ctx.out << "bench: verify failed: " << errc_name(report.error().code) << '\n';
    } else {
      ctx.out << "bench: verify " << (verify_ok ? "ok" : "FOUND VIOLATIONS") << " ("
              << report.value().tenants_checked << " tenants, " << report.value().accounts_checked << " accounts, "
              << report.value().transfers_checked << " transfers)\n";
      for (const auto& v : report.value().violations)
        ctx.out << "bench:   " << v << '\n';
    }
  }
  json line = {{"transfers_per_sec", std::round(transfers_per_sec)},
               {"requests_per_sec", std::round(requests_per_sec * 10) / 10},
               {"p50_ms", p50},
               {"p95_ms", p95},
               {"p99_ms", p99},
               {"max_ms", max},
               {"errors", total.errors},
               {"retries", total.retries},
               {"transfers", total.transfers},
               {"requests", total.requests},
               {"verify_ok", verify_ok},
               {"batch", s.batch},
               {"clients", s.clients},
               {"tenants", s.tenants},
               {"accounts", s.accounts},
               {"hot", s.hot},
               {"seconds", s.seconds},
               {"warmup", s.warmup},
               {"rate", s.rate ? json(*s.rate) : json(nullptr)},
               {"to_owner", s.to_owner}};
  ctx.out << dump(line) << '\n';
  return total.errors == 0 && verify_ok ? exit_processed : exit_failed;
}

}  // namespace caudal::cli
