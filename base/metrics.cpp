#include "base/metrics.hpp"

#include <algorithm>
#include <stdexcept>

namespace caudal::metrics {
namespace {

constexpr std::string_view other_value = "other";

bool is_name_start(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

bool is_name_char(char c, bool allow_colon) { return is_name_start(c, allow_colon) || (c >= '0' && c <= '9'); }

bool valid_name(std::string_view s, bool allow_colon) {
  if (s.empty() || !is_name_start(s[0], allow_colon)) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return is_name_char(c, allow_colon); });
}

void check_family(metric_type type, const std::string& name, const std::vector<std::string>& label_names,
                  const histogram_buckets& buckets) {
  if (!valid_name(name, true)) throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& l = label_names[i];
    if (!valid_name(l, false) || l.rfind("__", 0) == 0) {
      throw std::invalid_argument("metrics: " + name + ": invalid label name '" + l + "'");
    }
    if (type == metric_type::histogram && l == "le") {
      throw std::invalid_argument("metrics: " + name + ": 'le' is reserved in histograms");
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i), l) !=
        label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metrics: " + name + ": duplicate label name '" + l + "'");
    }
  }
  if (type == metric_type::histogram) {
    const auto& b = buckets.upper_bounds;
    if (b.empty() || std::adjacent_find(b.begin(), b.end(), std::greater_equal<>()) != b.end()) {
      throw std::invalid_argument("metrics: " + name + ": histogram bounds must be non-empty and increasing");
    }
    if (buckets.unit_exponent > 9) throw std::invalid_argument("metrics: " + name + ": unit_exponent > 9");
  }
}

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"` without the closing brace, or "" when there are no labels and no extra label follows.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

// ---- text helpers ----

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_scaled(uint64_t raw, uint32_t exponent) {
  if (exponent == 0) return std::to_string(raw);
  uint64_t div = 1;
  for (uint32_t i = 0; i < exponent; ++i) div *= 10;
  std::string out = std::to_string(raw / div);
  uint64_t frac = raw % div;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, exponent - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

// ---- buckets and histogram ----

histogram_buckets histogram_buckets::latency_us() {
  return {{50, 100, 200, 500, 1'000, 2'000, 5'000, 10'000, 20'000, 50'000, 100'000, 200'000, 500'000, 1'000'000,
           2'000'000, 5'000'000, 10'000'000},
          6};
}

histogram_buckets histogram_buckets::sizes() {
  return {{1, 2, 5, 10, 20, 50, 100, 200, 500, 1'000, 2'000, 5'000, 10'000, 20'000, 50'000, 100'000}, 0};
}

histogram::histogram(const histogram_buckets& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.upper_bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.upper_bounds.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(uint64_t value) noexcept {
  const auto& b = bounds_.upper_bounds;
  // First bound >= value (bounds are inclusive upper limits); past the end is the +Inf bucket.
  size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bucket_counts.resize(bounds_.upper_bounds.size() + 1);
  for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
    s.bucket_counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.bucket_counts[i];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- family ----

family_base::family_base(metric_type type, std::string name, std::string help, std::vector<std::string> label_names,
                         size_t max_label_sets, histogram_buckets buckets)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      max_label_sets_(max_label_sets),
      buckets_(std::move(buckets)) {
  check_family(type_, name_, label_names_, buckets_);
  if (max_label_sets_ == 0) throw std::invalid_argument("metrics: " + name_ + ": max_label_sets must be > 0");
}

size_t family_base::size() const {
  std::shared_lock lock(mutex_);
  return children_.size();
}

std::unique_ptr<metric> family_base::make_child() const {
  switch (type_) {
    case metric_type::counter: return std::make_unique<counter>();
    case metric_type::gauge: return std::make_unique<gauge>();
    case metric_type::histogram: return std::make_unique<histogram>(buckets_);
  }
  throw std::logic_error("metrics: unknown metric type");
}

metric& family_base::find_or_create(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  label_values key(values.begin(), values.end());
  {
    std::shared_lock lock(mutex_);
    auto it = children_.find(key);
    if (it != children_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto it = children_.find(key);
  if (it != children_.end()) return *it->second;
  if (children_.size() >= max_label_sets_ && !key.empty()) {
    // Full: fold into the same values with the last one "other" (see the header) ...
    collapsed_.fetch_add(1, std::memory_order_relaxed);
    key.back() = other_value;
    it = children_.find(key);
    if (it != children_.end()) return *it->second;
    // ... and past twice the bound, into the single all-"other" child.
    if (children_.size() >= 2 * max_label_sets_) {
      key.assign(key.size(), std::string(other_value));
      it = children_.find(key);
      if (it != children_.end()) return *it->second;
    }
  }
  auto [pos, inserted] = children_.emplace(std::move(key), make_child());
  return *pos->second;
}

void family_base::render_child(std::string& out, const label_values& values, const metric& child) const {
  switch (type_) {
    case metric_type::counter:
      out += name_;
      append_labels(out, label_names_, values);
      out += ' ';
      out += std::to_string(static_cast<const counter&>(child).value());
      out += '\n';
      return;
    case metric_type::gauge:
      out += name_;
      append_labels(out, label_names_, values);
      out += ' ';
      out += std::to_string(static_cast<const gauge&>(child).value());
      out += '\n';
      return;
    case metric_type::histogram: {
      histogram::snapshot s = static_cast<const histogram&>(child).read();
      const auto& bounds = buckets_.upper_bounds;
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += s.bucket_counts[i];
        out += name_;
        out += "_bucket";
        append_labels(out, label_names_, values, "le",
                      i < bounds.size() ? format_scaled(bounds[i], buckets_.unit_exponent) : "+Inf");
        out += ' ';
        out += std::to_string(cumulative);
        out += '\n';
      }
      out += name_;
      out += "_sum";
      append_labels(out, label_names_, values);
      out += ' ';
      out += format_scaled(s.sum, buckets_.unit_exponent);
      out += '\n';
      out += name_;
      out += "_count";
      append_labels(out, label_names_, values);
      out += ' ';
      out += std::to_string(s.count);
      out += '\n';
      return;
    }
  }
}

void family_base::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += escape_help(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(type_);
  out += '\n';
  std::shared_lock lock(mutex_);
  for (const auto& [values, child] : children_) render_child(out, values, *child);
}

// ---- registry ----

registry::registry(size_t default_max_label_sets) : default_max_label_sets_(default_max_label_sets) {
  if (default_max_label_sets_ == 0) throw std::invalid_argument("metrics: default_max_label_sets must be > 0");
}

namespace {

template <class T>
family<T>& add_family(std::mutex& mutex, std::vector<std::unique_ptr<family_base>>& families, metric_type type,
                      std::string_view name, std::string_view help, std::vector<std::string> label_names,
                      size_t max_label_sets, histogram_buckets buckets) {
  std::lock_guard lock(mutex);
  for (const auto& f : families) {
    if (f->name() != name) continue;
    if (f->type() != type || f->label_names() != label_names || (type == metric_type::histogram &&
                                                                 !(f->buckets() == buckets))) {
      throw std::invalid_argument("metrics: " + std::string(name) +
                                  " registered twice with a different type, labels or buckets");
    }
    return static_cast<family<T>&>(*f);
  }
  bool unlabelled = label_names.empty();
  auto f = std::make_unique<family<T>>(type, std::string(name), std::string(help), std::move(label_names),
                                       max_label_sets, std::move(buckets));
  family<T>& ref = *f;
  families.push_back(std::move(f));
  if (unlabelled) ref.with();  // renders 0 before its first use
  return ref;
}

}  // namespace

counter_family& registry::add_counter(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names, size_t max_label_sets) {
  return add_family<counter>(mutex_, families_, metric_type::counter, name, help, std::move(label_names),
                             max_label_sets == 0 ? default_max_label_sets_ : max_label_sets, {});
}

gauge_family& registry::add_gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names,
                                  size_t max_label_sets) {
  return add_family<gauge>(mutex_, families_, metric_type::gauge, name, help, std::move(label_names),
                           max_label_sets == 0 ? default_max_label_sets_ : max_label_sets, {});
}

histogram_family& registry::add_histogram(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names, histogram_buckets buckets,
                                          size_t max_label_sets) {
  return add_family<histogram>(mutex_, families_, metric_type::histogram, name, help, std::move(label_names),
                               max_label_sets == 0 ? default_max_label_sets_ : max_label_sets, std::move(buckets));
}

std::string registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace caudal::metrics
