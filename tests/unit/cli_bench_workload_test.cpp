// The pure parts of `caudal bench`: settings, the generated transfers, the tenants each client drives and
// the latency histogram its figures come from.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/bench_workload.hpp"

using namespace caudal;
using namespace caudal::cli;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("bench settings: defaults meet the issue's honest conditions; bad values name their option") {
  auto s = bench_settings_from_args(bench_args{});
  REQUIRE(s.ok());
  CHECK(s.value().tenants >= 16);
  CHECK(uint64_t{s.value().tenants} * s.value().accounts >= 10000);
  CHECK(s.value().batch == 8000);
  CHECK_FALSE(s.value().rate.has_value());

  bench_args a;
  a.rate = "1000";
  a.hot = "0.5";
  a.seconds = "2.5";
  auto open_loop = bench_settings_from_args(a);
  REQUIRE(open_loop.ok());
  CHECK(*open_loop.value().rate == 1000);
  CHECK(open_loop.value().hot == 0.5);
  CHECK(open_loop.value().seconds == 2.5);

  struct bad_case {
    bench_args args;
    const char* option;
  };
  std::vector<bad_case> bad;
  auto with = [](auto set) {
    bench_args b;
    set(b);
    return b;
  };
  bad.push_back({with([](bench_args& b) { b.clients = "0"; }), "--clients"});
  bad.push_back({with([](bench_args& b) { b.clients = "100000"; }), "--clients"});
  bad.push_back({with([](bench_args& b) { b.batch = "8191"; }), "--batch"});
  bad.push_back({with([](bench_args& b) { b.batch = "x"; }), "--batch"});
  bad.push_back({with([](bench_args& b) { b.tenants = "0"; }), "--tenants"});
  bad.push_back({with([](bench_args& b) { b.accounts = "1"; }), "--accounts"});
  bad.push_back({with([](bench_args& b) { b.hot = "1.5"; }), "--hot"});
  bad.push_back({with([](bench_args& b) { b.hot = "nan"; }), "--hot"});
  bad.push_back({with([](bench_args& b) { b.hot = "0.5", b.accounts = "8"; }), "--hot"});
  bad.push_back({with([](bench_args& b) { b.seconds = "0"; }), "--seconds"});
  bad.push_back({with([](bench_args& b) { b.seconds = "5s"; }), "--seconds"});
  bad.push_back({with([](bench_args& b) { b.rate = "-3"; }), "--rate"});
  bad.push_back({with([](bench_args& b) { b.country = "DEU"; }), "--country"});
  for (const auto& c : bad) {
    INFO(c.option);
    auto r = bench_settings_from_args(c.args);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().detail, c.option));
  }
}

TEST_CASE("bench transfers: unique ids per client, valid distinct sides, no flags") {
  transfer_generator a(0, 50, 0.0, 7);
  transfer_generator b(1, 50, 0.0, 7);
  std::set<u128> ids;
  for (int round = 0; round < 3; ++round) {
    for (auto* g : {&a, &b}) {
      for (const auto& t : g->next_batch(1000)) {
        CHECK(ids.insert(t.id.value).second);
        CHECK_FALSE(t.id.value.is_zero());
        CHECK(t.debit_account_id != t.credit_account_id);
        CHECK(t.debit_account_id.value.lo >= 1);
        CHECK(t.debit_account_id.value.lo <= 50);
        CHECK(t.credit_account_id.value.lo >= 1);
        CHECK(t.credit_account_id.value.lo <= 50);
        CHECK(t.amount >= 1);
        CHECK(t.amount <= 100);
        CHECK(t.ledger == 1);
        CHECK(t.flags == 0);
      }
    }
  }
  CHECK(ids.size() == 6000);
  CHECK(a.issued() == 3000);
}

TEST_CASE("bench transfers: --hot puts that share of transfers on the 8 hot accounts") {
  auto hot_share = [](double hot) {
    transfer_generator g(0, 10000, hot, 42);
    const auto batch = g.next_batch(20000);
    const auto on_hot = std::count_if(batch.begin(), batch.end(), [](const ledger::transfer& t) {
      return t.debit_account_id.value.lo <= bench_hot_accounts || t.credit_account_id.value.lo <= bench_hot_accounts;
    });
    return static_cast<double>(on_hot) / static_cast<double>(batch.size());
  };
  CHECK(hot_share(0.0) < 0.01);  // uniform over 10,000 accounts: 16 in 10,000 touch a hot one
  CHECK(hot_share(0.5) == doctest::Approx(0.5).epsilon(0.05));
  CHECK(hot_share(1.0) == doctest::Approx(1.0));
}

TEST_CASE("bench clients: every tenant is driven, each by one client when there are fewer clients") {
  for (uint32_t clients : {1u, 2u, 3u, 8u, 16u, 40u}) {
    for (uint32_t tenants : {1u, 2u, 16u, 17u}) {
      CAPTURE(clients);
      CAPTURE(tenants);
      std::map<uint32_t, int> driven;
      for (uint32_t c = 0; c < clients; ++c) {
        const auto mine = tenants_of_client(c, clients, tenants);
        CHECK_FALSE(mine.empty());
        for (auto t : mine) {
          CHECK(t < tenants);
          ++driven[t];
        }
      }
      CHECK(driven.size() == tenants);
      if (clients <= tenants)
        for (const auto& [t, n] : driven)
          CHECK(n == 1);
    }
  }
}

TEST_CASE("latency histogram: quantiles within 1.6% of the exact ones, max exact") {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(7.0, 1.5);  // ~1 ms median, long tail
  std::vector<uint64_t> values;
  latency_histogram h;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  CHECK(h.count() == values.size());
  CHECK(h.max() == values.back());
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
    CAPTURE(q);
    const auto exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    const auto got = h.quantile(q);
    CHECK(got >= exact);
    CHECK(static_cast<double>(got) <= static_cast<double>(exact) * 1.016 + 1);
  }
  CHECK(h.quantile(1.0) == h.max());

  latency_histogram small;
  for (uint64_t v = 0; v < 64; ++v)
    small.record(v);
  CHECK(small.quantile(0.5) == 31);  // below 64 every value has its own bucket
  latency_histogram merged;
  merged.merge(small);
  merged.merge(h);
  CHECK(merged.count() == h.count() + 64);
  CHECK(merged.max() == h.max());
  CHECK(latency_histogram{}.quantile(0.99) == 0);
  latency_histogram huge;
  huge.record(UINT64_MAX);
  CHECK(huge.quantile(0.5) == UINT64_MAX);
}
