#pragma once
// Metrics in the Prometheus text exposition format 0.0.4 (DESIGN 8): counters, gauges and histograms,
// grouped in families with label names, rendered by registry::render() for the node's /metrics endpoint.
//
// Ownership and threads: the node's composition root creates one `registry` (no global one: STYLE 8) and
// passes it, or the families it registers, down to the parts that record. A registry outlives every
// reference handed out from it; families and children are never removed, so references stay valid.
//
// Hot path: counter::inc, gauge::set/add and histogram::observe are lock-free (relaxed atomics) and may
// be called from any thread. family::with() (finding or creating a child by label values) takes a
// shared lock, and an exclusive one the first time a label set is seen: resolve children once (at actor
// start, per tenant or operation) and keep the reference, rather than calling with() per event.
// render() may run on any thread (the kj thread serving /metrics) while others record.
//
// Cardinality bound: each family holds at most `max_label_sets` label sets. Once it is full, a new label
// set is recorded under the same values with the LAST label replaced by "other" (so with labels
// {operation, tenant}, tenant number 1001 counts as {operation="create_transfers", tenant="other"}).
// Put the unbounded label (tenant, account...) last and keep the labels before it bounded (operation,
// country). As a backstop, once the family holds 2 x max_label_sets children, every further new label
// set goes to one child whose values are all "other". A family thus never holds more than
// 2 x max_label_sets + 1 children; `collapsed()` counts the with() calls that were folded.
// Unlabelled families have their one child from registration, so they render 0 before first use.
//
// Histograms keep integer observations in fixed buckets (no locks, no floating point on the hot path).
// Latency histograms observe microseconds and are rendered in seconds (the Prometheus base unit: name
// them `..._seconds`): buckets 50us, 100us, 200us, 500us, 1ms ... 5s, 10s (a 1-2-5 series, so the 200 ms
// target of DESIGN 1 is a bucket bound), plus +Inf, _sum and _count, so histogram_quantile() derives
// p50/p95/p99. Other histograms (batch sizes) take their own bounds and render them as they are.
//
// Programmer errors (invalid metric or label names, the same name registered twice with a different
// type, labels or buckets, a wrong number of label values) throw std::invalid_argument: they happen
// while the node is wired up, never because of input.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace caudal::metrics {

// Common base of the recorded values, so a family can own its children without knowing their type.
class metric {
 public:
  virtual ~metric() = default;
  metric(const metric&) = delete;
  metric& operator=(const metric&) = delete;

 protected:
  metric() = default;
};

// Monotonically increasing count (requests, retries, restarts).
class counter final : public metric {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (queue depth, active tenants).
class gauge final : public metric {
 public:
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(int64_t d) noexcept { value_.fetch_sub(d, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// How a histogram's bounds and sum are written: raw values divided by 10^unit_exponent.
// Latency: observe microseconds, unit_exponent 6, rendered in seconds. Sizes: unit_exponent 0.
struct histogram_buckets {
  std::vector<uint64_t> upper_bounds;  // strictly increasing, inclusive (value <= bound); +Inf is implicit
  uint32_t unit_exponent = 0;          // 0..9

  // 50us .. 10s in a 1-2-5 series (17 bounds), observed in microseconds, rendered in seconds.
  static histogram_buckets latency_us();
  // 1, 2, 5, 10 ... 50000, 100000 (16 bounds): items per batch or group commit, rendered as they are.
  static histogram_buckets sizes();

  friend bool operator==(const histogram_buckets& a, const histogram_buckets& b) {
    return a.upper_bounds == b.upper_bounds && a.unit_exponent == b.unit_exponent;
  }
};

// Distribution of observations in fixed buckets, plus their sum and count.
class histogram final : public metric {
 public:
  // `bounds` must outlive the histogram (the family owns both).
  explicit histogram(const histogram_buckets& bounds);

  // Records one observation in raw units (microseconds for latency histograms).
  void observe(uint64_t value) noexcept;

  // A copy for rendering and tests: per-bucket (not cumulative) counts, the last entry being the +Inf
  // bucket; count is the sum of the buckets (so _count always equals the +Inf bucket).
  struct snapshot {
    std::vector<uint64_t> bucket_counts;
    uint64_t sum = 0;
    uint64_t count = 0;
  };
  snapshot read() const;

 private:
  const histogram_buckets& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds + 1 entries (the last: +Inf)
  std::atomic<uint64_t> sum_{0};
};

enum class metric_type { counter, gauge, histogram };

// What every family shares: name, help, label names, its children and the cardinality bound.
// The typed `family<T>` below only casts.
class family_base {
 public:
  family_base(metric_type type, std::string name, std::string help, std::vector<std::string> label_names,
              size_t max_label_sets, histogram_buckets buckets);
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;

  metric_type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const histogram_buckets& buckets() const { return buckets_; }
  size_t max_label_sets() const { return max_label_sets_; }
  // Children (label sets) held now.
  size_t size() const;
  // New label sets folded into an "other" child because the family was full.
  uint64_t collapsed() const { return collapsed_.load(std::memory_order_relaxed); }

  // Appends this family's HELP, TYPE and sample lines.
  void render(std::string& out) const;

 protected:
  metric& find_or_create(std::initializer_list<std::string_view> values);

 private:
  using label_values = std::vector<std::string>;
  std::unique_ptr<metric> make_child() const;
  void render_child(std::string& out, const label_values& values, const metric& child) const;

  metric_type type_;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  size_t max_label_sets_;
  histogram_buckets buckets_;  // histograms only
  mutable std::shared_mutex mutex_;
  std::map<label_values, std::unique_ptr<metric>> children_;  // sorted: render() is deterministic
  std::atomic<uint64_t> collapsed_{0};
};

// A family of metrics of type T (counter, gauge or histogram) told apart by label values.
template <class T>
class family final : public family_base {
 public:
  using family_base::family_base;

  // The child for these label values (as many as label names; none for an unlabelled family).
  // The reference stays valid as long as the registry. Locks: resolve once, keep the reference.
  T& with(std::initializer_list<std::string_view> values = {}) {
    return static_cast<T&>(find_or_create(values));
  }
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// The node's set of metric families. Not copyable; registration locks, recording does not.
class registry {
 public:
  explicit registry(size_t default_max_label_sets = 1000);
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // Registers a family, or returns the existing one when it was registered with the same type,
  // label names and buckets (so two parts may ask for the same family). max_label_sets 0: the default.
  counter_family& add_counter(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names = {}, size_t max_label_sets = 0);
  gauge_family& add_gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names = {},
                          size_t max_label_sets = 0);
  histogram_family& add_histogram(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names = {},
                                  histogram_buckets buckets = histogram_buckets::latency_us(),
                                  size_t max_label_sets = 0);

  // The whole registry in Prometheus text format 0.0.4, families in registration order.
  std::string render() const;

 private:
  size_t default_max_label_sets_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<family_base>> families_;
};

// Text format helpers (exposed for tests): label values escape \ " and newline; HELP escapes \ and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// raw / 10^exponent as a shortest exact decimal ("0.00005", "2.5", "10").
std::string format_scaled(uint64_t raw, uint32_t exponent);

}  // namespace caudal::metrics
