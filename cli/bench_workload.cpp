// The pure parts of `caudal bench` (see bench_workload.hpp).
#include "cli/bench_workload.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/limits.hpp"
#include "cli/parse.hpp"

namespace caudal::cli {

namespace {

result<double> parse_number(const char* what, const std::string& text, double min, double max) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || !std::isfinite(v))
    return usage_error(std::string(what) + ": not a number: '" + text + "'");
  if (v < min || v > max) {
    return usage_error(std::string(what) + ": must be between " + std::to_string(min) + " and " +
                       std::to_string(max));
  }
  return v;
}

result<uint32_t> parse_count(const char* what, const std::string& text, uint32_t min, uint32_t max) {
  auto v = parse_u32_arg(what, text);
  if (!v)
    return v.error();
  if (v.value() < min || v.value() > max) {
    return usage_error(std::string(what) + ": must be between " + std::to_string(min) + " and " +
                       std::to_string(max));
  }
  return v.value();
}

}  // namespace

result<bench_settings> bench_settings_from_args(const bench_args& a) {
  bench_settings s;
  auto clients = parse_count("--clients", a.clients, 1, bench_max_clients);
  if (!clients)
    return clients.error();
  auto batch = parse_count("--batch", a.batch, 1, static_cast<uint32_t>(limits::max_batch_items));
  if (!batch)
    return batch.error();
  auto tenants = parse_count("--tenants", a.tenants, 1, bench_max_tenants);
  if (!tenants)
    return tenants.error();
  // Two accounts at least (a transfer needs two sides), and more than the hot ones when --hot is used.
  auto accounts = parse_count("--accounts", a.accounts, 2, bench_max_accounts);
  if (!accounts)
    return accounts.error();
  auto hot = parse_number("--hot", a.hot, 0, 1);
  if (!hot)
    return hot.error();
  if (hot.value() > 0 && accounts.value() <= bench_hot_accounts) {
    return usage_error("--hot needs more than " + std::to_string(bench_hot_accounts) +
                       " accounts per tenant (--accounts)");
  }
  auto seconds = parse_number("--seconds", a.seconds, 0.1, bench_max_seconds);
  if (!seconds)
    return seconds.error();
  auto warmup = parse_number("--warmup", a.warmup, 0, bench_max_seconds);
  if (!warmup)
    return warmup.error();
  if (!a.rate.empty()) {
    auto rate = parse_number("--rate", a.rate, 0.1, bench_max_rate);
    if (!rate)
      return rate.error();
    s.rate = rate.value();
  }
  if (a.country.size() != 2)
    return usage_error("--country: an ISO 3166-1 alpha-2 code, e.g. DE");
  s.clients = clients.value();
  s.batch = batch.value();
  s.tenants = tenants.value();
  s.accounts = accounts.value();
  s.hot = hot.value();
  s.seconds = seconds.value();
  s.warmup = warmup.value();
  s.country = a.country;
  s.to_owner = a.to_owner;
  return s;
}

// ---- transfer_generator ----

transfer_generator::transfer_generator(uint32_t client, uint32_t accounts, double hot, uint64_t seed)
    : client_(client), accounts_(accounts), hot_(hot), rng_(seed) {}

account_id transfer_generator::uniform_account() {
  std::uniform_int_distribution<uint32_t> pick(1, accounts_);
  return account_id{u128{0, pick(rng_)}};
}

account_id transfer_generator::hot_account() {
  std::uniform_int_distribution<uint32_t> pick(1, std::min(bench_hot_accounts, accounts_));
  return account_id{u128{0, pick(rng_)}};
}

std::vector<ledger::transfer> transfer_generator::next_batch(uint32_t count) {
  std::vector<ledger::transfer> out;
  out.reserve(count);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::uniform_int_distribution<uint64_t> amount(1, 100);
  for (uint32_t i = 0; i < count; ++i) {
    ledger::transfer t;
    ++sequence_;
    t.id = transfer_id{u128{uint64_t{client_} + 1, sequence_}};
    const bool is_hot = hot_ > 0 && coin(rng_) < hot_;
    account_id debit, credit;
    do {
      if (is_hot && sequence_ % 2 == 0) {
        debit = hot_account();
        credit = uniform_account();
      } else if (is_hot) {
        debit = uniform_account();
        credit = hot_account();
      } else {
        debit = uniform_account();
        credit = uniform_account();
      }
    } while (debit == credit);
    t.debit_account_id = debit;
    t.credit_account_id = credit;
    t.amount = amount(rng_);
    t.ledger = 1;
    t.code = 1;
    out.push_back(t);
  }
  return out;
}

std::vector<uint32_t> tenants_of_client(uint32_t client, uint32_t clients, uint32_t tenants) {
  std::vector<uint32_t> out;
  if (clients == 0 || tenants == 0)
    return out;
  if (clients >= tenants) {
    out.push_back(client % tenants);
    return out;
  }
  for (uint32_t t = client; t < tenants; t += clients)
    out.push_back(t);
  return out;
}

// ---- latency_histogram ----

size_t latency_histogram::bucket_of(uint64_t micros) {
  constexpr uint64_t sub_count = uint64_t{1} << sub_bits;
  if (micros < sub_count)
    return static_cast<size_t>(micros);
  int power = 63 - __builtin_clzll(micros);  // >= sub_bits
  if (power - sub_bits + 1 > powers)
    return bucket_count - 1;
  const uint64_t sub = (micros >> (power - sub_bits)) & (sub_count - 1);
  return (static_cast<size_t>(power - sub_bits + 1) << sub_bits) + static_cast<size_t>(sub);
}

uint64_t latency_histogram::upper_bound_of(size_t bucket) {
  constexpr uint64_t sub_count = uint64_t{1} << sub_bits;
  if (bucket < sub_count)
    return bucket;
  const int group = static_cast<int>(bucket >> sub_bits);
  const int shift = group - 1;
  const uint64_t sub = bucket & (sub_count - 1);
  const uint64_t lower = (sub_count + sub) << shift;
  return lower + (uint64_t{1} << shift) - 1;
}

void latency_histogram::record(uint64_t micros) {
  ++buckets_[bucket_of(micros)];
  ++count_;
  max_ = std::max(max_, micros);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (size_t i = 0; i < bucket_count; ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t latency_histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the value at q (1-based): the smallest value with at least q of the samples at or below it.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return i == bucket_count - 1 ? max_ : std::min(upper_bound_of(i), max_);
  }
  return max_;
}

}  // namespace caudal::cli
