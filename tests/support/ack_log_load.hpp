#pragma once
// A load generator for cluster tests (issue 4): client threads sending create_transfers batches for several
// tenants through every node in turn (so most requests are forwarded to the tenant's owner), and an "ack
// log" of what each batch's answer taught: acknowledged (every item ok), refused (answered, an item not ok:
// a bug, the load only sends valid transfers) or unknown (an error: retryable, timeout, node_down, a lost
// connection). After the load, settle() retries every unknown batch with the same ids until it is answered,
// and check_against_database() compares the log with PostgreSQL and with the accounts' balances.
//
// Ownership and threads: the test's thread owns an ack_log_load. Each load thread opens its own
// connections (a client::connection belongs to the thread that opened it), one per (tenant, node) as it
// needs them, from an access token (so no Argon2 hashing per connection), and closes them before it ends.
// A connection that failed with node_down or timeout is dropped and reopened on next use; a node that cannot
// be reached is skipped for a while and the batch goes to the next node (nothing sent, nothing logged).
// Each thread keeps its own log; stop() joins the threads and merges them.
//
// Limits: load_options bounds threads, batch size and each call's deadline; the load runs until stop().
// Transfer ids are unique per run: thread t sends ids (t + 1) << 40 | n. Randomness (tenant, batch size,
// accounts, amounts) comes from load_options::seed.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/ledger/types.hpp"
#include "client/connection.hpp"
#include "storage/pg_connection.hpp"
#include "tests/support/ledger_fixture.hpp"

namespace caudal::test {

struct load_options {
  std::vector<tenant_handle> tenants;  // each with accounts 1..accounts_per_tenant created (ledger 1, code 1)
  uint32_t accounts_per_tenant = 4;    // >= 2
  uint32_t threads = 3;                // 1..16
  uint32_t max_batch = 20;             // batches of 1..max_batch transfers (<= 8190)
  uint32_t timeout_ms = 10000;         // deadline of each call
  uint32_t backoff_ms = 25;            // pause of a thread after a failed call (bounds the unknown batches)
  uint64_t seed = 1;
};

// What the load learnt, per tenant (indexes of load_options::tenants).
struct ack_log {
  struct tenant_log {
    std::vector<ledger::transfer> acked;                 // in batches answered with every item ok
    std::vector<std::vector<ledger::transfer>> unknown;  // batches answered with an error: outcome unknown
    std::vector<ledger::transfer> refused;               // items answered with another code than ok
  };
  std::vector<tenant_log> tenants;
  uint64_t acked_batches = 0;
  uint64_t unknown_batches = 0;
  std::map<std::string, uint64_t> errors;       // unknown batches by error name
  std::map<std::string, uint64_t> open_errors;  // connections that could not be opened, by error name
  std::vector<std::string> refusals;            // "tenant i id n: code" of refused items (at most 20 kept)
  std::vector<std::string> non_retryable;       // "error: detail" of non-retryable errors (at most 20 kept)

  size_t acked_transfers() const;
  size_t unknown_transfers() const;
  std::string summary() const;  // one line: batches and transfers by outcome, errors by name
};

class ack_log_load {
 public:
  // `entry_points`: node RPC addresses the threads send through, in turn (more may be added while it runs).
  ack_log_load(load_options o, std::vector<std::string> entry_points);
  ~ack_log_load();  // stops the threads if stop() was not called
  ack_log_load(const ack_log_load&) = delete;
  ack_log_load& operator=(const ack_log_load&) = delete;

  void start();
  void add_entry_point(const std::string& rpc_address);
  // Batches acknowledged so far (all threads), for a test to wait until the load got through a phase.
  uint64_t acked_batches() const { return acked_batches_.load(); }
  uint64_t sent_batches() const { return sent_batches_.load(); }
  // Stops the threads once their calls in progress are answered (at most timeout_ms) and merges their logs.
  ack_log stop();

  // Retries every unknown batch of `log` with the same transfers, through `entry_points` in turn, until
  // answered (at most 60 s each); fails the test when one is not, or when an item answers other than ok or
  // exists. Afterwards every batch's outcome is known: each of its transfers is in the database once.
  void settle(const ack_log& log, const std::vector<std::string>& entry_points) const;

  // Against PostgreSQL (after settle): each tenant's transfers are exactly its acknowledged and retried
  // ones, each once with the content sent (nothing lost, doubled, altered or extra), no refused item is
  // there, and the accounts' balances (looked up through `entry_point`) are the sums of those transfers.
  // Fails the test (CHECK) otherwise; the number of acknowledged transfers checked.
  size_t check_against_database(const ack_log& log, storage::pg_connection& db, const std::string& entry_point) const;

  const load_options& options() const { return opts_; }

 private:
  void run(uint32_t thread_index);
  std::vector<std::string> entry_points() const;
  // A session of tenant (an index of opts_.tenants) at `node`, from the tenant's access token.
  result<void> open_session(client::connection& c, size_t tenant, const std::string& node) const;

  load_options opts_;
  std::vector<std::string> tokens_;  // per tenant: an access token its threads open sessions with
  mutable std::mutex mutex_;         // guards entry_points_
  std::vector<std::string> entry_points_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_batches_{0};
  std::atomic<uint64_t> sent_batches_{0};
  std::vector<ack_log> logs_;  // one per thread, written only by it until joined
  std::vector<std::thread> threads_;
};

}  // namespace caudal::test
