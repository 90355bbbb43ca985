// Micro-benchmark of commit_group (a tool, not a test: run `build/bench/storage_commit_bench --no-skip` from a
// Release build with CAUDAL_TEST_PG_URL set):
// one tenant, N accounts, rounds of M new transfers between random accounts plus the balance updates of
// every account they touch, one group commit per round. Sizes: CAUDAL_BENCH_ACCOUNTS (10000),
// CAUDAL_BENCH_TRANSFERS (8000), CAUDAL_BENCH_ROUNDS (5), CAUDAL_BENCH_TENANTS (1: the transfers split
// over that many tenants in the same group), CAUDAL_BENCH_FILLFACTOR (accounts' fillfactor; 0: the schema's),
// CAUDAL_BENCH_PATH (by_size, pipelined or copied: commit_group's write path). Ends with a JSON line.
// Besides wall time it reports the CPU time of the writer's backend (read from /proc when the server is
// local) and of the client thread, so a figure taken on a busy machine still says what a core would do.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "storage/ledger_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

// CPU seconds (user + system) a local process has used; negative when /proc cannot tell.
double process_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return -1;
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15)
      ticks += std::stod(f);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct bench_tenant {
  tenant_id id;
  std::vector<balances> accounts;
  uint64_t clock = 1'000'000'000;
};

// One unit of `n` single-phase transfers between random accounts, with the after-state of each touched one.
ledger::effects make_unit(bench_tenant& t, size_t n, uint64_t& next_id, std::mt19937_64& rng) {
  ledger::effects e;
  e.created_transfers.reserve(n);
  std::vector<size_t> touched;
  std::vector<bool> seen(t.accounts.size(), false);
  for (size_t i = 0; i < n; ++i) {
    const size_t d = rng() % t.accounts.size();
    size_t c = rng() % t.accounts.size();
    if (c == d)
      c = (c + 1) % t.accounts.size();
    const uint64_t amount = 1 + rng() % 1000;
    auto x = make_transfer(xfer(next_id++), acct(d + 1), acct(c + 1), amount, ++t.clock);
    x.user_data_64 = rng();
    e.created_transfers.push_back(x);
    t.accounts[d].dpo += amount;
    t.accounts[d].version = x.timestamp;
    t.accounts[c].cpo += amount;
    t.accounts[c].version = x.timestamp;
    for (size_t k : {d, c})
      if (!seen[k]) {
        seen[k] = true;
        touched.push_back(k);
      }
  }
  for (size_t k : touched)
    e.account_updates.push_back(t.accounts[k].update(acct(k + 1)));
  e.last_timestamp = t.clock;
  return e;
}

}  // namespace

TEST_CASE("bench: commit_group of new transfers" * doctest::skip()) {
  const size_t accounts = env_size("CAUDAL_BENCH_ACCOUNTS", 10000);
  const size_t transfers = env_size("CAUDAL_BENCH_TRANSFERS", 8000);
  const size_t rounds = env_size("CAUDAL_BENCH_ROUNDS", 5);
  const size_t tenants = std::max<size_t>(1, env_size("CAUDAL_BENCH_TENANTS", 1));
  const size_t fillfactor = env_size("CAUDAL_BENCH_FILLFACTOR", 0);
  const char* path_name = std::getenv("CAUDAL_BENCH_PATH");
  const std::string path_text = path_name != nullptr ? path_name : "by_size";
  REQUIRE_MESSAGE((path_text == "by_size" || path_text == "pipelined" || path_text == "copied"),
                  "CAUDAL_BENCH_PATH: by_size, pipelined or copied");
  const auto path = path_text == "pipelined" ? storage::write_path::pipelined
                    : path_text == "copied"  ? storage::write_path::copied
                                             : storage::write_path::by_size;
  test_database db("bench");
  // Connected as the node's batch writer connects (its session settings: index look-ups only).
  auto opened = storage::pg_connection::open(db.url(), "caudal-bench-writer", storage::writer_session_settings);
  REQUIRE_MESSAGE(opened.ok(), opened.error().detail);
  auto c = std::move(opened.value());
  if (fillfactor != 0)
    sql_ok(*c, "ALTER TABLE accounts SET (fillfactor = " + std::to_string(fillfactor) + ")");
  std::mt19937_64 rng(1);

  std::vector<bench_tenant> ts(tenants);
  for (size_t i = 0; i < tenants; ++i) {
    ts[i].id = new_tenant(*c, "bench-" + std::to_string(i));
    ts[i].accounts.resize(accounts);
    ledger::effects create;
    for (size_t a = 0; a < accounts; ++a) {
      create.created_accounts.push_back(make_account(acct(a + 1), ++ts[i].clock));
      ts[i].accounts[a].version = ts[i].clock;
    }
    commit_ok(*c, {{ts[i].id, &create}});
  }
  sql_ok(*c, "VACUUM ANALYZE");

  uint64_t next_id = 1;
  std::vector<double> commit_s;
  double backend_cpu = 0, client_cpu = 0;
  const int backend = c->backend_pid();
  for (size_t r = 0; r < rounds; ++r) {
    std::vector<ledger::effects> units;
    units.reserve(tenants);
    for (auto& t : ts)
      units.push_back(make_unit(t, transfers / tenants, next_id, rng));
    std::vector<storage::tenant_commit> group;
    for (size_t i = 0; i < tenants; ++i)
      group.push_back({ts[i].id, &units[i]});
    const double b0 = process_cpu_s(backend);
    const double c0 = thread_cpu_s();
    const auto t0 = std::chrono::steady_clock::now();
    auto res = storage::commit_group(*c, group, 0, path);
    commit_s.push_back(seconds_since(t0));
    client_cpu += thread_cpu_s() - c0;
    backend_cpu += process_cpu_s(backend) - b0;
    REQUIRE_MESSAGE(res.ok(), res.error().detail);
  }
  std::vector<double> sorted = commit_s;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (double s : commit_s)
    total += s;
  const double per_group = static_cast<double>(transfers / tenants * tenants);
  std::printf("commit_group: %zu tenant(s), %zu accounts each, %zu transfers per group, %zu rounds, path %s\n",
              tenants, accounts, transfers, rounds, path_text.c_str());
  for (size_t r = 0; r < commit_s.size() && rounds <= 20; ++r)
    std::printf("  round %zu: %.1f ms, %.0f transfers/s\n", r + 1, commit_s[r] * 1e3, per_group / commit_s[r]);
  const double median_ms = sorted[sorted.size() / 2] * 1e3;
  const double p99_ms = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)] * 1e3;
  std::printf("  median %.3f ms (%.0f transfers/s), p99 %.3f ms, mean %.0f transfers/s\n", median_ms,
              per_group / sorted[sorted.size() / 2], p99_ms, per_group * static_cast<double>(rounds) / total);
  const double all = per_group * static_cast<double>(rounds);
  std::printf(
      "  CPU per group: backend %.1f ms (%.0f transfers per backend CPU second), client %.1f ms "
      "(encoding and libpq)\n",
      backend_cpu * 1e3 / static_cast<double>(rounds), backend_cpu > 0 ? all / backend_cpu : 0.0,
      client_cpu * 1e3 / static_cast<double>(rounds));
  std::printf(
      "{\"bench\":\"commit_group\",\"path\":\"%s\",\"tenants\":%zu,\"transfers\":%zu,\"rounds\":%zu,"
      "\"median_ms\":%.3f,\"p99_ms\":%.3f,\"backend_cpu_ms\":%.3f,\"client_cpu_ms\":%.3f}\n",
      path_text.c_str(), tenants, transfers, rounds, median_ms, p99_ms,
      backend_cpu * 1e3 / static_cast<double>(rounds), client_cpu * 1e3 / static_cast<double>(rounds));

  auto report = storage::verify(*c);
  REQUIRE(report.ok());
  CHECK(report->ok);
}
