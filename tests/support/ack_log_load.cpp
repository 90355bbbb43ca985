#include "tests/support/ack_log_load.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "storage/pg_codec.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/test_env.hpp"

namespace caudal::test {

namespace {

using clock_type = std::chrono::steady_clock;
using ledger::create_transfer_result;

constexpr size_t max_kept_messages = 20;
constexpr auto unreachable_pause = std::chrono::milliseconds(500);  // a node that refused a connection
constexpr auto settle_limit = std::chrono::seconds(60);             // per unknown batch

void keep(std::vector<std::string>& list, std::string text) {
  if (list.size() < max_kept_messages)
    list.push_back(std::move(text));
}

// A connection lost, or a call whose answer never came: open it again (maybe elsewhere) before reuse.
bool connection_suspect(errc e) {
  return e == errc::node_down || e == errc::timeout;
}

std::string uuid_of(const u128& v) {
  return storage::codec::uuid_text(v);
}

}  // namespace

size_t ack_log::acked_transfers() const {
  size_t n = 0;
  for (const auto& t : tenants)
    n += t.acked.size();
  return n;
}

size_t ack_log::unknown_transfers() const {
  size_t n = 0;
  for (const auto& t : tenants)
    for (const auto& b : t.unknown)
      n += b.size();
  return n;
}

std::string ack_log::summary() const {
  std::ostringstream s;
  s << acked_batches << " batches acknowledged (" << acked_transfers() << " transfers), " << unknown_batches
    << " unknown (" << unknown_transfers() << " transfers)";
  if (!errors.empty()) {
    s << ", errors:";
    for (const auto& [name, n] : errors)
      s << " " << name << " " << n;
  }
  return s.str();
}

ack_log_load::ack_log_load(load_options o, std::vector<std::string> entry_points)
    : opts_(std::move(o)), entry_points_(std::move(entry_points)) {
  REQUIRE(!opts_.tenants.empty());
  REQUIRE(!entry_points_.empty());
  REQUIRE(opts_.accounts_per_tenant >= 2);
  REQUIRE((opts_.threads >= 1 && opts_.threads <= 16));
  REQUIRE((opts_.max_batch >= 1 && opts_.max_batch <= 8190));
  // One secret authentication per tenant (Argon2 on the node); the threads open sessions from its token.
  for (const auto& t : opts_.tenants) {
    client::connection c;
    auto so = t.opts;
    so.server = entry_points_.front();
    auto r = c.open(so);
    if (!r.ok())
      FAIL("tenant " << t.created.tenant.id.value << " cannot authenticate: " << errc_name(r.error().code));
    tokens_.push_back(c.access_token());
    REQUIRE(!tokens_.back().empty());
  }
}

ack_log_load::~ack_log_load() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void ack_log_load::start() {
  REQUIRE(threads_.empty());
  logs_.assign(opts_.threads, ack_log{});
  for (auto& l : logs_)
    l.tenants.resize(opts_.tenants.size());
  for (uint32_t i = 0; i < opts_.threads; ++i)
    threads_.emplace_back([this, i] { run(i); });
}

void ack_log_load::add_entry_point(const std::string& rpc_address) {
  std::lock_guard<std::mutex> lock(mutex_);
  entry_points_.push_back(rpc_address);
}

std::vector<std::string> ack_log_load::entry_points() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entry_points_;
}

result<void> ack_log_load::open_session(client::connection& c, size_t tenant, const std::string& node) const {
  client::options o = opts_.tenants[tenant].opts;
  o.server = node;
  o.client_secret.clear();
  o.access_token = tokens_[tenant];
  o.timeout_ms = opts_.timeout_ms;
  return c.open(o);
}

// One load thread. No doctest macros here (they are not thread-safe): everything goes to this thread's log.
void ack_log_load::run(uint32_t thread_index) {
  ack_log& log = logs_[thread_index];
  std::mt19937_64 rng(opts_.seed * 1000003u + thread_index);
  const uint32_t accounts = opts_.accounts_per_tenant;
  std::map<std::pair<size_t, std::string>, client::connection> connections;  // (tenant, node)
  std::map<std::string, clock_type::time_point> unreachable_until;
  uint64_t next_id = (static_cast<uint64_t>(thread_index) + 1) << 40;
  size_t turn = thread_index;  // round-robin position over the entry points

  while (!stop_.load()) {
    const auto nodes = entry_points();
    const size_t tenant = static_cast<size_t>(rng() % opts_.tenants.size());
    client::connection* c = nullptr;
    for (size_t tries = 0; tries < nodes.size() && c == nullptr; ++tries) {
      const std::string& node = nodes[turn++ % nodes.size()];
      auto u = unreachable_until.find(node);
      if (u != unreachable_until.end() && clock_type::now() < u->second)
        continue;
      client::connection& conn = connections[{tenant, node}];
      if (!conn.is_open()) {
        auto opened = open_session(conn, tenant, node);
        if (!opened.ok()) {
          ++log.open_errors[std::string(errc_name(opened.error().code))];
          unreachable_until[node] = clock_type::now() + unreachable_pause;
          continue;
        }
      }
      c = &conn;
    }
    if (c == nullptr) {  // no node reachable just now
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.backoff_ms));
      continue;
    }

    std::vector<ledger::transfer> batch(1 + rng() % opts_.max_batch);
    for (auto& t : batch) {
      const uint64_t debit = 1 + rng() % accounts;
      const uint64_t credit = 1 + (debit + rng() % (accounts - 1)) % accounts;  // never debit
      t = make_transfer(next_id++, debit, credit, 1 + rng() % 1000);
      t.user_data_64 = thread_index;
    }
    auto r = c->create_transfers(batch);
    ++sent_batches_;
    auto& tl = log.tenants[tenant];
    if (!r.ok()) {
      const errc e = r.error().code;
      ++log.unknown_batches;
      ++log.errors[std::string(errc_name(e))];
      if (!errc_retryable(e))
        keep(log.non_retryable, std::string(errc_name(e)) + ": " + r.error().detail);
      tl.unknown.push_back(std::move(batch));
      if (connection_suspect(e))
        c->close();
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.backoff_ms));
      continue;
    }
    bool all_ok = r->size() == batch.size();
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto code = i < r->size() ? r->at(i) : create_transfer_result::ok;
      if (i < r->size() && code == create_transfer_result::ok) {
        tl.acked.push_back(batch[i]);
      } else {
        all_ok = false;
        tl.refused.push_back(batch[i]);
        keep(log.refusals, "tenant " + std::to_string(tenant) + " id " + uuid_of(batch[i].id.value) + ": " +
                               (i < r->size() ? std::string(ledger::result_name(code)) : "no result"));
      }
    }
    if (all_ok) {
      ++log.acked_batches;
      ++acked_batches_;
    }
  }
  connections.clear();  // closed on the thread that opened them
}

ack_log ack_log_load::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  ack_log all;
  all.tenants.resize(opts_.tenants.size());
  for (auto& l : logs_) {
    for (size_t i = 0; i < l.tenants.size(); ++i) {
      auto& to = all.tenants[i];
      auto& from = l.tenants[i];
      to.acked.insert(to.acked.end(), from.acked.begin(), from.acked.end());
      to.unknown.insert(to.unknown.end(), from.unknown.begin(), from.unknown.end());
      to.refused.insert(to.refused.end(), from.refused.begin(), from.refused.end());
    }
    all.acked_batches += l.acked_batches;
    all.unknown_batches += l.unknown_batches;
    for (const auto& [name, n] : l.errors)
      all.errors[name] += n;
    for (const auto& [name, n] : l.open_errors)
      all.open_errors[name] += n;
    for (auto& m : l.refusals)
      keep(all.refusals, m);
    for (auto& m : l.non_retryable)
      keep(all.non_retryable, m);
  }
  return all;
}

void ack_log_load::settle(const ack_log& log, const std::vector<std::string>& entry_points) const {
  REQUIRE(!entry_points.empty());
  std::map<std::pair<size_t, std::string>, client::connection> connections;
  size_t turn = 0;
  std::vector<std::string> wrong;  // retried items answered neither ok nor exists
  for (size_t tenant = 0; tenant < log.tenants.size(); ++tenant) {
    for (const auto& batch : log.tenants[tenant].unknown) {
      const auto until = clock_type::now() + settle_limit;
      errc last = errc::none;
      bool answered = false;
      while (!answered && clock_type::now() < until) {
        const std::string& node = entry_points[turn++ % entry_points.size()];
        client::connection& c = connections[{tenant, node}];
        if (!c.is_open()) {
          auto opened = open_session(c, tenant, node);
          if (!opened.ok()) {
            last = opened.error().code;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
          }
        }
        auto r = c.create_transfers(batch);
        if (!r.ok()) {
          last = r.error().code;
          if (!errc_retryable(last))
            FAIL("retry of an unknown batch (tenant " << tenant << ") refused: " << errc_name(last) << ": "
                                                      << r.error().detail);
          if (connection_suspect(last))
            c.close();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        answered = true;
        REQUIRE(r->size() == batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
          const auto code = r->at(i);
          if (code != create_transfer_result::ok && code != create_transfer_result::exists)
            keep(wrong, "tenant " + std::to_string(tenant) + " id " + uuid_of(batch[i].id.value) + ": " +
                            std::string(ledger::result_name(code)));
        }
      }
      if (!answered)
        FAIL("an unknown batch (tenant " << tenant << ") still unanswered after 60 s: " << errc_name(last));
    }
  }
  std::string listed;
  for (const auto& w : wrong)
    listed += w + "\n";
  CHECK_MESSAGE(wrong.empty(), "retried items answered neither ok nor exists:\n" << listed);
}

size_t ack_log_load::check_against_database(const ack_log& log, storage::pg_connection& db,
                                            const std::string& entry_point) const {
  size_t acked_checked = 0;
  for (size_t tenant = 0; tenant < log.tenants.size(); ++tenant) {
    const auto& tl = log.tenants[tenant];
    const std::string tid = std::to_string(opts_.tenants[tenant].created.tenant.id.value);
    INFO("tenant " << tid << " (load tenant " << tenant << ")");
    // What the database must hold: the acknowledged transfers and the retried ones, each once.
    std::unordered_map<std::string, const ledger::transfer*> expected;
    std::set<std::string> acked_ids;
    size_t sent_twice = 0;  // a bug of the load itself: its ids are unique per run
    for (const auto& t : tl.acked) {
      sent_twice += expected.emplace(uuid_of(t.id.value), &t).second ? 0 : 1;
      acked_ids.insert(uuid_of(t.id.value));
    }
    for (const auto& b : tl.unknown)
      for (const auto& t : b)
        sent_twice += expected.emplace(uuid_of(t.id.value), &t).second ? 0 : 1;
    REQUIRE(sent_twice == 0);

    auto rows = db.query(
        "SELECT id::text, debit_account_id::text, credit_account_id::text, amount, pending_id::text, flags, "
        "user_data_64 "
        "FROM transfers WHERE tenant_id = $1",
        {tid.c_str()});
    REQUIRE_MESSAGE(rows.ok(), why(rows));
    std::set<std::string> seen;
    size_t extra = 0, doubled = 0, altered = 0;
    std::vector<std::string> examples;
    for (int i = 0; i < rows->size(); ++i) {
      const std::string id = rows->text(i, 0);
      auto e = expected.find(id);
      if (e == expected.end()) {
        ++extra;
        keep(examples, "extra " + id);
        continue;
      }
      if (!seen.insert(id).second) {
        ++doubled;
        keep(examples, "doubled " + id);
        continue;
      }
      const ledger::transfer& t = *e->second;
      if (rows->text(i, 1) != uuid_of(t.debit_account_id.value) ||
          rows->text(i, 2) != uuid_of(t.credit_account_id.value) || rows->text(i, 3) != std::to_string(t.amount) ||
          rows->text(i, 4) != uuid_of(u128{}) || std::string(rows->text(i, 5)) != "0" ||
          rows->text(i, 6) != std::to_string(t.user_data_64)) {
        ++altered;
        keep(examples, "altered " + id);
      }
    }
    size_t lost_acked = 0, lost_retried = 0;
    for (const auto& [id, t] : expected)
      if (seen.count(id) == 0) {
        ++(acked_ids.count(id) != 0 ? lost_acked : lost_retried);
        keep(examples, (acked_ids.count(id) != 0 ? "lost acknowledged " : "lost retried ") + id);
      }
    std::string ex;
    for (const auto& x : examples)
      ex += x + "\n";
    INFO(rows->size() << " rows, " << expected.size() << " expected\n" << ex);
    CHECK(lost_acked == 0);
    CHECK(lost_retried == 0);
    CHECK(doubled == 0);
    CHECK(extra == 0);
    CHECK(altered == 0);
    CHECK(static_cast<size_t>(rows->size()) == expected.size());
    acked_checked += tl.acked.size();

    // Refused items (none expected) must not be there either.
    for (const auto& t : tl.refused)
      CHECK_MESSAGE(seen.count(uuid_of(t.id.value)) == 0, "refused id in the database: " << uuid_of(t.id.value));

    // The accounts' posted balances, as the owner's account actors serve them, are the sums of exactly
    // these transfers (a transfer applied twice, or lost from a working set, shows here).
    const uint32_t accounts = opts_.accounts_per_tenant;
    std::vector<uint64_t> debits(accounts + 1, 0), credits(accounts + 1, 0);
    for (const auto& [id, t] : expected) {
      debits[t->debit_account_id.value.lo] += t->amount;
      credits[t->credit_account_id.value.lo] += t->amount;
    }
    client::connection c;
    REQUIRE(open_session(c, tenant, entry_point).ok());
    std::vector<account_id> ids;
    for (uint64_t a = 1; a <= accounts; ++a)
      ids.push_back(acct(a));
    auto found = until_answered([&] { return c.lookup_accounts(ids); });
    REQUIRE_MESSAGE(found.ok(), why(found));
    REQUIRE(found->size() == accounts);
    for (uint64_t a = 1; a <= accounts; ++a) {
      const auto& got = found->at(a - 1);
      CAPTURE(a);
      CHECK(got.debits_posted == debits[a]);
      CHECK(got.credits_posted == credits[a]);
      CHECK(got.debits_pending == 0);
      CHECK(got.credits_pending == 0);
    }
  }
  return acked_checked;
}

}  // namespace caudal::test
