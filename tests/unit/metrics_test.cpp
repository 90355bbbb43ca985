// Metrics: exact Prometheus text for a small registry, lock-free recording from several threads,
// the cardinality bound, and registration errors.
#include "base/metrics.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace caudal::metrics;

TEST_CASE("render: exact text of a small registry") {
  registry reg;
  auto& requests = reg.add_counter("caudal_requests_total", "Requests received, by operation.", {"operation"});
  auto& depth = reg.add_gauge("caudal_queue_depth", "Items waiting.");
  auto& latency = reg.add_histogram("caudal_latency_seconds", "Request latency.", {"operation"},
                                    histogram_buckets{{100, 1'000, 250'000}, 6});
  requests.with({"lookup_accounts"}).inc();
  requests.with({"create_transfers"}).inc(41);
  requests.with({"create_transfers"}).inc();
  depth.with().set(-3);
  auto& h = latency.with({"create_transfers"});
  h.observe(50);       // <= 100us
  h.observe(100);      // bounds are inclusive
  h.observe(1'500);    // <= 250ms
  h.observe(300'000);  // +Inf

  const std::string expected =
      "# HELP caudal_requests_total Requests received, by operation.\n"
      "# TYPE caudal_requests_total counter\n"
      "caudal_requests_total{operation=\"create_transfers\"} 42\n"
      "caudal_requests_total{operation=\"lookup_accounts\"} 1\n"
      "# HELP caudal_queue_depth Items waiting.\n"
      "# TYPE caudal_queue_depth gauge\n"
      "caudal_queue_depth -3\n"
      "# HELP caudal_latency_seconds Request latency.\n"
      "# TYPE caudal_latency_seconds histogram\n"
      "caudal_latency_seconds_bucket{operation=\"create_transfers\",le=\"0.0001\"} 2\n"
      "caudal_latency_seconds_bucket{operation=\"create_transfers\",le=\"0.001\"} 2\n"
      "caudal_latency_seconds_bucket{operation=\"create_transfers\",le=\"0.25\"} 3\n"
      "caudal_latency_seconds_bucket{operation=\"create_transfers\",le=\"+Inf\"} 4\n"
      "caudal_latency_seconds_sum{operation=\"create_transfers\"} 0.30165\n"
      "caudal_latency_seconds_count{operation=\"create_transfers\"} 4\n";
  CHECK(reg.render() == expected);
}

TEST_CASE("render: unlabelled families render 0 at once; labelled ones only HELP and TYPE") {
  registry reg;
  reg.add_counter("a_total", "A.");
  reg.add_gauge("b", "B.", {"tenant"});
  reg.add_histogram("c", "C.", {}, histogram_buckets{{1, 2}, 0});
  CHECK(reg.render() ==
        "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
        "# HELP b B.\n# TYPE b gauge\n"
        "# HELP c C.\n# TYPE c histogram\n"
        "c_bucket{le=\"1\"} 0\nc_bucket{le=\"2\"} 0\nc_bucket{le=\"+Inf\"} 0\nc_sum 0\nc_count 0\n");
}

TEST_CASE("render: escaping of label values and help") {
  registry reg;
  auto& f = reg.add_counter("x_total", "Line one\nback\\slash \"quoted\"", {"tenant", "country"});
  f.with({"a\"b\\c\nd", "MX"}).inc(2);
  CHECK(reg.render() ==
        "# HELP x_total Line one\\nback\\\\slash \"quoted\"\n"
        "# TYPE x_total counter\n"
        "x_total{tenant=\"a\\\"b\\\\c\\nd\",country=\"MX\"} 2\n");
}

TEST_CASE("format_scaled writes exact decimals") {
  CHECK(format_scaled(0, 6) == "0");
  CHECK(format_scaled(50, 6) == "0.00005");
  CHECK(format_scaled(200'000, 6) == "0.2");
  CHECK(format_scaled(2'500'000, 6) == "2.5");
  CHECK(format_scaled(10'000'000, 6) == "10");
  CHECK(format_scaled(1'234'567, 6) == "1.234567");
  CHECK(format_scaled(8190, 0) == "8190");
}

TEST_CASE("default latency buckets: 50us to 10s in a 1-2-5 series, 200ms among them") {
  histogram_buckets b = histogram_buckets::latency_us();
  REQUIRE(b.upper_bounds.size() == 17);
  CHECK(b.upper_bounds.front() == 50);
  CHECK(b.upper_bounds.back() == 10'000'000);
  CHECK(b.unit_exponent == 6);
  CHECK(std::find(b.upper_bounds.begin(), b.upper_bounds.end(), 200'000) != b.upper_bounds.end());
  registry reg;
  auto& h = reg.add_histogram("lat_seconds", "L.").with();
  h.observe(0);
  h.observe(10'000'001);
  auto s = h.read();
  CHECK(s.bucket_counts.front() == 1);
  CHECK(s.bucket_counts.back() == 1);
  CHECK(s.count == 2);
  CHECK(reg.render().find("lat_seconds_bucket{le=\"0.2\"} 1\n") != std::string::npos);
}

TEST_CASE("concurrency: several threads record without losing counts") {
  registry reg;
  auto& c = reg.add_counter("c_total", "C.", {"operation"});
  auto& g = reg.add_gauge("g", "G.");
  auto& h = reg.add_histogram("h_seconds", "H.", {"operation"});
  constexpr int threads = 4;
  constexpr int per_thread = 100'000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      // Half of the threads resolve the child per event (lock path), half once (the intended use).
      counter& mine = c.with({"create_transfers"});
      histogram& hist = h.with({"create_transfers"});
      for (int i = 0; i < per_thread; ++i) {
        if (t % 2 == 0) {
          c.with({"create_transfers"}).inc();
        } else {
          mine.inc();
        }
        g.with().add(1);
        hist.observe(static_cast<uint64_t>(i % 1000));
        if (i % 10'000 == 0) (void)reg.render();  // render concurrently with recording
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(c.with({"create_transfers"}).value() == uint64_t{threads} * per_thread);
  CHECK(g.with().value() == int64_t{threads} * per_thread);
  auto s = h.with({"create_transfers"}).read();
  CHECK(s.count == uint64_t{threads} * per_thread);
  // sum of i % 1000 over 100,000 values = 100 * (0 + ... + 999)
  CHECK(s.sum == uint64_t{threads} * 100 * 999 * 1000 / 2);
}

TEST_CASE("cardinality bound: label sets past the limit collapse into 'other' for the last label") {
  registry reg;
  auto& f = reg.add_counter("t_total", "T.", {"operation", "tenant"}, 3);
  f.with({"create", "t1"}).inc();
  f.with({"create", "t2"}).inc();
  f.with({"lookup", "t1"}).inc();
  CHECK(f.size() == 3);
  // Full: new tenants fold into {operation, tenant="other"}, one child per operation.
  counter& a = f.with({"create", "t3"});
  counter& b = f.with({"create", "t4"});
  CHECK(&a == &b);
  a.inc();
  b.inc();
  f.with({"lookup", "t9"}).inc();
  CHECK(f.size() == 5);
  CHECK(f.collapsed() == 3);
  // Known label sets still resolve to their own child.
  CHECK(f.with({"create", "t1"}).value() == 1);
  CHECK(f.with({"create", "other"}).value() == 2);
  CHECK(f.with({"lookup", "other"}).value() == 1);
  // Past twice the limit every new label set lands in the single all-"other" child.
  f.with({"void", "t1"}).inc();   // 6th child: {void, other}
  f.with({"post", "t1"}).inc();   // 7th child: {other, other}
  f.with({"expire", "t1"}).inc();  // same all-"other" child
  CHECK(f.size() == 7);
  CHECK(f.with({"other", "other"}).value() == 2);
  for (int i = 0; i < 1000; ++i) f.with({"op" + std::to_string(i), "t" + std::to_string(i)}).inc();
  CHECK(f.size() == 7);  // never more than 2 x limit + 1
  CHECK(f.with({"other", "other"}).value() == 1002);
  CHECK(reg.render().find("t_total{operation=\"create\",tenant=\"other\"} 2\n") != std::string::npos);
}

TEST_CASE("registration: same family twice is the same object; conflicts and bad names throw") {
  registry reg;
  auto& a = reg.add_counter("a_total", "A.", {"x"});
  CHECK(&reg.add_counter("a_total", "A again.", {"x"}) == &a);
  CHECK_THROWS_AS(reg.add_counter("a_total", "A.", {"y"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_gauge("a_total", "A.", {"x"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_counter("1bad", "B."), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_counter("bad-name", "B."), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_counter("b_total", "B.", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_counter("b_total", "B.", {"x", "x"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_histogram("h", "H.", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(reg.add_histogram("h", "H.", {}, histogram_buckets{{5, 5}, 0}), std::invalid_argument);
  CHECK_THROWS_AS(a.with({}), std::invalid_argument);
  CHECK_THROWS_AS(a.with({"1", "2"}), std::invalid_argument);
  CHECK(reg.add_counter("ns:sub_total", "Colons are allowed in metric names.").with().value() == 0);
}
