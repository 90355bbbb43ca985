#pragma once
// The pure parts of `caudal bench` (issue 3): its settings, the transfers it sends and the latency
// histogram it reports from. No I/O here, so the unit tests pin them down.
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/ledger/types.hpp"
#include "base/result.hpp"

namespace caudal::cli {

// Option values as typed (numbers as text, parsed with usage errors by bench_settings_from_args).
struct bench_args {
  std::string clients = "2";
  std::string batch = "8000";
  std::string tenants = "16";
  std::string accounts = "625";  // per tenant: 16 x 625 = 10,000 accounts in all
  std::string hot = "0";
  std::string seconds = "10";
  std::string warmup = "2";
  std::string rate;  // empty: closed loop
  std::string country = "DE";
  bool to_owner = false;  // each tenant's sessions go to the node that owns its shard (else: the server)
};

struct bench_settings {
  uint32_t clients = 2;
  uint32_t batch = 8000;
  uint32_t tenants = 16;
  uint32_t accounts = 625;  // per tenant
  double hot = 0;           // share of transfers with one side on a hot account
  double seconds = 10;      // measured window
  double warmup = 2;        // load before the window, not measured
  std::optional<double> rate;  // requests/s over all clients (open loop); nullopt: closed loop
  std::string country = "DE";
  bool to_owner = false;
};

// Limits that keep a mistyped option from exhausting the machine.
constexpr uint32_t bench_max_clients = 256;
constexpr uint32_t bench_max_tenants = 4096;
constexpr uint32_t bench_max_accounts = 1'000'000;
constexpr double bench_max_seconds = 3600;
constexpr double bench_max_rate = 1'000'000;
// Accounts 1..hot_accounts of every tenant are its hot accounts.
constexpr uint32_t bench_hot_accounts = 8;

result<bench_settings> bench_settings_from_args(const bench_args& a);

// The transfers of one request. Ids are unique per tenant and run: the client's number in the high 64 bits,
// a per-client sequence in the low ones (tenants are created fresh by each run). Account ids are
// 1..accounts. A transfer is "hot" with probability `hot`: then its debit (even sequence numbers) or its
// credit (odd ones) is one of the tenant's 8 hot accounts, the other side uniform; otherwise both sides
// are uniform. The two sides always differ. Amounts 1..100, ledger 1, code 1, no flags: nothing may be
// refused, so any result but `ok` is an unexpected refusal.
class transfer_generator {
 public:
  transfer_generator(uint32_t client, uint32_t accounts, double hot, uint64_t seed);
  // `count` transfers with fresh ids (the sequence moves on).
  std::vector<ledger::transfer> next_batch(uint32_t count);
  uint64_t issued() const { return sequence_; }

 private:
  account_id uniform_account();
  account_id hot_account();

  uint32_t client_;
  uint32_t accounts_;
  double hot_;
  uint64_t sequence_ = 0;
  std::mt19937_64 rng_;
};

// Which tenants (0-based indexes) a client drives: every tenant is driven by some client; a client with
// more than one takes them in turn.
std::vector<uint32_t> tenants_of_client(uint32_t client, uint32_t clients, uint32_t tenants);

// Latencies in microseconds, log-linear buckets: 64 sub-buckets per power of two (relative error below
// 1.6%), fixed memory whatever the run length. Values above ~1.1 hours land in the last bucket.
class latency_histogram {
 public:
  void record(uint64_t micros);
  void merge(const latency_histogram& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The value at quantile q (0 < q <= 1): the upper bound of the bucket holding it, capped at max().
  uint64_t quantile(double q) const;

 private:
  static constexpr int sub_bits = 6;
  static constexpr int powers = 32;
  static constexpr size_t bucket_count = (powers + 1) << sub_bits;
  static size_t bucket_of(uint64_t micros);
  static uint64_t upper_bound_of(size_t bucket);

  std::array<uint64_t, bucket_count> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace caudal::cli
