// The ledger store against a real server: every field round-trips; group commits of several tenants and
// several units write everything; every read (batch prefetch, lookups, account transfers and balances,
// tenant state and expiries) returns exactly what was written for its tenant and nothing of another's.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "storage/admin_store.hpp"
#include "storage/cluster_store.hpp"
#include "storage/ledger_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"

using namespace caudal;
using namespace caudal::test;
namespace ff = caudal::ledger::account_filter_flags;

TEST_CASE_TEMPLATE("every field round-trips, including u128 max and u64 max bit patterns", P, pipelined_path,
                   copied_path) {
  test_database db("roundtrip");
  auto c = db.connect();
  const tenant_id t = new_tenant(*c, "roundtrip");

  ledger::account a;
  a.id = account_id(u128::max());
  a.user_data_128 = u128::max();
  a.user_data_64 = UINT64_MAX;
  a.user_data_32 = UINT32_MAX;
  a.ledger = UINT32_MAX;
  a.code = UINT16_MAX;
  a.flags = UINT16_MAX;
  a.debits_pending = UINT64_MAX;
  a.debits_posted = uint64_t{1} << 63;
  a.credits_pending = (uint64_t{1} << 63) - 1;
  a.credits_posted = 1;
  a.timestamp = UINT64_MAX;
  ledger::account b = make_account(account_id(u128{0x8000000000000000ull, 0}), 5);
  b.user_data_128 = u128{0x0123456789abcdefull, 0xfedcba9876543210ull};

  ledger::transfer x;
  x.id = transfer_id(u128::max());
  x.debit_account_id = account_id(u128::max());
  x.credit_account_id = account_id(u128{0x8000000000000000ull, 0});
  x.amount = UINT64_MAX;
  x.pending_id = transfer_id(u128{UINT64_MAX, 0});
  x.user_data_128 = u128{0, UINT64_MAX};
  x.user_data_64 = UINT64_MAX;
  x.user_data_32 = UINT32_MAX;
  x.timeout = UINT32_MAX;
  x.ledger = UINT32_MAX;
  x.code = UINT16_MAX;
  x.flags = UINT16_MAX;  // includes pending: a pending_transfers row too
  x.timestamp = (uint64_t{1} << 63) - 1;

  ledger::effects e;
  e.created_accounts = {a, b};
  e.created_transfers = {x};
  e.failed_transfers = {{transfer_id(u128{1, 1}), ledger::create_transfer_result::exceeds_debits}};
  e.history = {{a.id, {(uint64_t{1} << 63) - 1, UINT64_MAX, uint64_t{1} << 63, 0, 42}}};
  e.last_timestamp = (uint64_t{1} << 63) - 1;  // timestamps compare in SQL (ordering, GREATEST): below 2^63
  commit_ok(*c, {{t, &e}}, P::path);

  auto accounts = storage::load_accounts(*c, t, {a.id, b.id});
  REQUIRE(accounts.ok());
  REQUIRE(accounts->size() == 2);
  for (const auto& row : accounts.value()) {
    const auto& want = row.account.id == a.id ? a : b;
    CHECK(row.account == want);
    CHECK(row.version == want.timestamp);  // version starts at the creation timestamp
  }
  auto found = storage::load_for_batch(*c, t, {}, {x.id, transfer_id(u128{1, 1})});
  REQUIRE(found.ok());
  REQUIRE(found->transfers.size() == 1);
  CHECK(found->transfers[0].transfer == x);
  CHECK(found->transfers[0].state == ledger::pending_state::pending);
  REQUIRE(found->failed.size() == 1);
  CHECK(found->failed[0].id == transfer_id(u128{1, 1}));
  CHECK(found->failed[0].result == ledger::create_transfer_result::exceeds_debits);
  CHECK(found->accounts.size() == 2);  // the pending transfer's two accounts came along
  CHECK(scalar(*c, "SELECT expires_at FROM pending_transfers") ==
        std::to_string(static_cast<int64_t>(ledger::expires_at(x))));

  ledger::account_filter f;
  f.account = a.id;
  f.limit = 10;
  f.flags = ff::debits;
  auto hist = storage::account_balances(*c, t, f);
  REQUIRE(hist.ok());
  REQUIRE(hist->size() == 1);
  CHECK(hist.value()[0] == e.history[0].balance);
  auto listed = storage::account_transfers(*c, t, f);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed.value()[0] == x);

  auto state = storage::load_tenant_state(*c, t, 10);
  REQUIRE(state.ok());
  CHECK(state->exists);
  CHECK(state->last_timestamp == (uint64_t{1} << 63) - 1);

  // Account updates carry the u64 patterns too.
  ledger::effects u;
  u.account_updates = {{b.id, UINT64_MAX, 1, uint64_t{1} << 63, 3, UINT64_MAX}};
  commit_ok(*c, {{t, &u}}, P::path);
  auto b2 = storage::load_accounts(*c, t, {b.id});
  REQUIRE(b2.ok());
  REQUIRE(b2->size() == 1);
  CHECK(b2.value()[0].account.debits_pending == UINT64_MAX);
  CHECK(b2.value()[0].account.debits_posted == 1);
  CHECK(b2.value()[0].account.credits_pending == uint64_t{1} << 63);
  CHECK(b2.value()[0].account.credits_posted == 3);
  CHECK(b2.value()[0].version == UINT64_MAX);
}

namespace {

constexpr uint64_t A = 1, B = 2, C = 3, X = 10;

// One tenant's ledger, written through group commits; `m` scales the amounts so tenants differ.
struct scenario {
  tenant_id tenant;
  uint64_t m;
  ledger_sim sim;
  std::vector<ledger::effects> units;  // kept alive until committed
  std::vector<ledger::transfer> transfers;
  std::vector<ledger::history_row> history;

  scenario(tenant_id t, uint64_t scale) : tenant(t), m(scale), sim(1'000'000'000 * scale) { units.reserve(8); }

  ledger::effects& keep(ledger::effects e) {
    for (const auto& x : e.created_transfers)
      transfers.push_back(x);
    for (const auto& h : e.history)
      history.push_back(h);
    units.push_back(std::move(e));
    return units.back();
  }
  // Unit 1: the accounts.
  ledger::effects& accounts() {
    sim.create_account(acct(A), ledger::account_flags::history);
    sim.create_account(acct(B));
    sim.create_account(acct(C), ledger::account_flags::history);
    sim.create_account(acct(X), ledger::account_flags::history);
    for (uint64_t y = 11; y <= 13; ++y)
      sim.create_account(acct(y));
    return keep(sim.take());
  }
  // Unit 2: single-phase and pending transfers, a failed id.
  ledger::effects& transfers_unit() {
    sim.single(xfer(1), acct(A), acct(B), 100 * m);
    sim.pending(xfer(2), acct(A), acct(C), 50 * m, 3600);
    sim.pending(xfer(4), acct(B), acct(C), 20 * m, 60);
    sim.pending(xfer(5), acct(C), acct(A), 7 * m, 0);
    sim.pending(xfer(7), acct(B), acct(A), 5 * m, 30);
    for (uint64_t i = 0; i < 4; ++i)
      sim.pending(xfer(20 + i), acct(A), acct(B), m, static_cast<uint32_t>(10 * (i + 1) + (i == 3 ? 1000 : 0)));
    sim.fail(xfer(900));
    return keep(sim.take());
  }
  // Unit 3: post part of one, void one, expire one (all changes to units 2's rows).
  ledger::effects& settle_unit() {
    sim.post(xfer(3), xfer(2), 30 * m);
    sim.void_pending(xfer(8), xfer(7));
    sim.expire(xfer(20));
    return keep(sim.take());
  }
  // Unit 4: an account with history on both sides, for the filters.
  ledger::effects& history_unit() {
    for (uint64_t i = 0; i < 24; ++i) {
      const account_id other = acct(11 + i % 3);
      if (i % 2 == 0)
        sim.single(xfer(100 + i), acct(X), other, (i + 1) * m, static_cast<uint16_t>(1 + i % 3), i % 4);
      else
        sim.single(xfer(100 + i), other, acct(X), (i + 1) * m, static_cast<uint16_t>(1 + i % 3), i % 4);
    }
    return keep(sim.take());
  }

  // What account_transfers must answer, computed from what was written.
  std::vector<ledger::transfer> expected(const ledger::account_filter& f) const {
    std::vector<ledger::transfer> out;
    for (const auto& t : transfers) {
      const bool side = ((f.flags & ff::debits) != 0 && t.debit_account_id == f.account) ||
                        ((f.flags & ff::credits) != 0 && t.credit_account_id == f.account);
      if (!side || (!f.user_data_128.is_zero() && t.user_data_128 != f.user_data_128) ||
          (f.user_data_64 != 0 && t.user_data_64 != f.user_data_64) ||
          (f.user_data_32 != 0 && t.user_data_32 != f.user_data_32) || (f.code != 0 && t.code != f.code) ||
          t.timestamp < f.timestamp_min || (f.timestamp_max != 0 && t.timestamp > f.timestamp_max))
        continue;
      out.push_back(t);
    }
    if ((f.flags & ff::reversed) != 0)
      std::reverse(out.begin(), out.end());
    if (out.size() > f.limit)
      out.resize(f.limit);
    return out;
  }
  std::vector<ledger::account_balance> expected_balances(const ledger::account_filter& f, bool has_history) const {
    std::vector<ledger::account_balance> out;
    for (const auto& h : history)
      if (has_history && h.account == f.account && h.balance.timestamp >= f.timestamp_min &&
          (f.timestamp_max == 0 || h.balance.timestamp <= f.timestamp_max))
        out.push_back(h.balance);
    if ((f.flags & ff::reversed) != 0)
      std::reverse(out.begin(), out.end());
    if (out.size() > f.limit)
      out.resize(f.limit);
    return out;
  }
};

void check_accounts(storage::pg_connection& c, const scenario& s) {
  const std::vector<account_id> ids = {acct(A), acct(B), acct(C), acct(X), acct(11), acct(12), acct(13)};
  auto rows = storage::load_accounts(c, s.tenant, ids);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == ids.size());
  for (const auto& row : rows.value()) {
    const auto want = s.sim.of(row.account.id);
    CHECK(row.account.debits_pending == want.dp);
    CHECK(row.account.debits_posted == want.dpo);
    CHECK(row.account.credits_pending == want.cp);
    CHECK(row.account.credits_posted == want.cpo);
    CHECK(row.version == want.version);
  }
}

void check_reads(storage::pg_connection& c, const scenario& s) {
  INFO("tenant " << s.tenant.value);
  check_accounts(c, s);

  // Prefetch: asked accounts, transfers with their pending state, failed ids, and the pending ones' accounts.
  auto p = storage::load_for_batch(c, s.tenant, {acct(B), acct(999)},
                                   {xfer(1), xfer(2), xfer(5), xfer(7), xfer(20), xfer(900), xfer(999)});
  REQUIRE(p.ok());
  std::map<u128, ledger::pending_state> states;
  for (const auto& row : p->transfers)
    states[row.transfer.id.value] = row.state;
  CHECK(states == std::map<u128, ledger::pending_state>{{xfer(1).value, ledger::pending_state::none},
                                                        {xfer(2).value, ledger::pending_state::posted},
                                                        {xfer(5).value, ledger::pending_state::pending},
                                                        {xfer(7).value, ledger::pending_state::voided},
                                                        {xfer(20).value, ledger::pending_state::expired}});
  REQUIRE(p->failed.size() == 1);
  CHECK(p->failed[0].id == xfer(900));
  std::vector<u128> got_accounts;
  for (const auto& row : p->accounts)
    got_accounts.push_back(row.account.id.value);
  std::sort(got_accounts.begin(), got_accounts.end());
  CHECK(got_accounts == std::vector<u128>{acct(A).value, acct(B).value, acct(C).value});
  auto only_pending = storage::load_for_batch(c, s.tenant, {}, {xfer(4)});
  REQUIRE(only_pending.ok());
  CHECK(only_pending->accounts.size() == 2);  // B and C, though no account was asked
  auto nothing = storage::load_for_batch(c, s.tenant, {}, {});
  REQUIRE(nothing.ok());
  CHECK(nothing->accounts.empty());

  // Lookups: order of the ids, duplicates once per occurrence, missing left out.
  auto looked = storage::lookup_transfers(c, s.tenant, {xfer(3), xfer(999), xfer(1), xfer(3)});
  REQUIRE(looked.ok());
  REQUIRE(looked->size() == 3);
  CHECK(looked.value()[0].id == xfer(3));
  CHECK(looked.value()[0].pending_id == xfer(2));
  CHECK(looked.value()[0].amount == 30 * s.m);
  CHECK(looked.value()[1].id == xfer(1));
  CHECK(looked.value()[2].id == xfer(3));

  // Account transfers: fixed cases, then paging, then random filters against the reference.
  ledger::account_filter f;
  f.account = acct(X);
  f.limit = 100;
  for (uint32_t flags : {ff::debits, ff::credits, ff::debits | ff::credits, ff::debits | ff::reversed,
                         ff::debits | ff::credits | ff::reversed}) {
    f.flags = flags;
    auto r = storage::account_transfers(c, s.tenant, f);
    REQUIRE(r.ok());
    CHECK(r.value() == s.expected(f));
    CHECK(!r->empty());
  }
  f.flags = ff::debits | ff::credits;
  f.limit = 5;
  std::vector<ledger::transfer> paged;
  for (int page = 0; page < 10; ++page) {
    auto r = storage::account_transfers(c, s.tenant, f);
    REQUIRE(r.ok());
    if (r->empty())
      break;
    CHECK(r->size() <= 5);
    paged.insert(paged.end(), r->begin(), r->end());
    f.timestamp_min = r->back().timestamp + 1;
  }
  f.timestamp_min = 0;
  f.limit = 100;
  CHECK(paged == s.expected(f));
  CHECK(paged.size() == 24);

  std::mt19937_64 rng(7 + s.m);
  const auto& all = s.transfers;
  for (int i = 0; i < 150; ++i) {
    ledger::account_filter r;
    r.account = rng() % 4 == 0 ? acct(A) : acct(X);
    r.flags = static_cast<uint32_t>(1 + rng() % 3) | (rng() % 2 == 0 ? ff::reversed : 0);
    const auto& pick = all[rng() % all.size()];
    if (rng() % 4 == 0)
      r.user_data_128 = pick.user_data_128;
    if (rng() % 4 == 0)
      r.user_data_64 = pick.user_data_64;
    if (rng() % 4 == 0)
      r.user_data_32 = pick.user_data_32;
    if (rng() % 3 == 0)
      r.code = pick.code;
    if (rng() % 2 == 0)
      r.timestamp_min = all[rng() % all.size()].timestamp + rng() % 3 - 1;
    if (rng() % 2 == 0)
      r.timestamp_max = all[rng() % all.size()].timestamp + rng() % 3 - 1;
    r.limit = static_cast<uint32_t>(1 + rng() % 12);
    auto got = storage::account_transfers(c, s.tenant, r);
    REQUIRE(got.ok());
    INFO("filter " << i);
    CHECK(got.value() == s.expected(r));
  }

  // Balances: history accounts answer their rows with the same time and limit rules; others nothing.
  for (uint64_t id : {A, C, X, B}) {
    ledger::account_filter h;
    h.account = acct(id);
    h.flags = ff::debits | ff::credits;
    h.limit = 100;
    const bool has_history = id != B;
    auto r = storage::account_balances(c, s.tenant, h);
    REQUIRE(r.ok());
    CHECK(r.value() == s.expected_balances(h, has_history));
    CHECK(r->empty() == !has_history);
    h.flags |= ff::reversed;
    h.limit = 3;
    if (has_history) {
      const auto full = s.expected_balances(ledger::account_filter{acct(id), {}, 0, 0, 0, 0, 0, 100, 0}, true);
      h.timestamp_max = full[full.size() / 2].timestamp;
      h.timestamp_min = full[1].timestamp;
    }
    auto rev = storage::account_balances(c, s.tenant, h);
    REQUIRE(rev.ok());
    CHECK(rev.value() == s.expected_balances(h, has_history));
  }
}

// Pending transfers still pending with a timeout, by expiry: what load_tenant_state must restore.
std::vector<std::pair<transfer_id, uint64_t>> expected_expiries(const scenario& s, uint64_t from) {
  std::map<u128, bool> settled;
  for (const auto& e : s.units)
    for (const auto& u : e.pending_updates)
      settled[u.id.value] = true;
  std::vector<std::pair<transfer_id, uint64_t>> out;
  for (const auto& t : s.transfers)
    if ((t.flags & ledger::transfer_flags::pending) != 0 && t.timeout != 0 && !settled.count(t.id.value) &&
        ledger::expires_at(t) >= from)
      out.emplace_back(t.id, ledger::expires_at(t));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("group commits of two tenants write everything; every read returns its own tenant's rows only", P,
                   pipelined_path, copied_path) {
  test_database db("ledger");
  auto c = db.connect("caudal-writer");
  // The same account and transfer ids in both tenants, different amounts: a leak would show.
  scenario one(new_tenant(*c, "one"), 1);
  scenario two(new_tenant(*c, "two"), 2);
  const tenant_id empty = new_tenant(*c, "empty");

  commit_ok(*c, {{one.tenant, &one.accounts()}, {two.tenant, &two.accounts()}}, P::path);
  // Two units of each tenant in one group: pending created and settled in the same transaction, the same
  // accounts updated twice (the newest version wins).
  auto& one2 = one.transfers_unit();
  auto& two2 = two.transfers_unit();
  auto& one3 = one.settle_unit();
  auto& two3 = two.settle_unit();
  commit_ok(*c, {{one.tenant, &one2}, {two.tenant, &two2}, {one.tenant, &one3}, {two.tenant, &two3}}, P::path);
  // A transfer only tenant two has.
  two.sim.single(xfer(5000), acct(A), acct(B), 1);
  commit_ok(
      *c,
      {{one.tenant, &one.history_unit()}, {two.tenant, &two.history_unit()}, {two.tenant, &two.keep(two.sim.take())}},
      P::path);

  CHECK(scalar(*c, "SELECT count(*) FROM transfers") == std::to_string(one.transfers.size() + two.transfers.size()));
  check_reads(*c, one);
  check_reads(*c, two);

  auto leak = storage::lookup_transfers(*c, one.tenant, {xfer(5000)});
  REQUIRE(leak.ok());
  CHECK(leak->empty());
  auto none = storage::load_for_batch(*c, empty, {acct(A), acct(B)}, {xfer(1), xfer(2), xfer(900)});
  REQUIRE(none.ok());
  CHECK(none->accounts.empty());
  CHECK(none->transfers.empty());
  CHECK(none->failed.empty());
  ledger::account_filter f{acct(X), {}, 0, 0, 0, 0, 0, 100, ff::debits | ff::credits};
  CHECK(storage::account_transfers(*c, empty, f)->empty());
  CHECK(storage::account_balances(*c, empty, f)->empty());

  // Tenant clocks and expiries.
  for (const scenario* s : {&one, &two}) {
    auto st = storage::load_tenant_state(*c, s->tenant, 2);
    REQUIRE(st.ok());
    CHECK(st->exists);
    CHECK(st->last_timestamp == s->sim.now());
    const auto all = expected_expiries(*s, 0);
    REQUIRE(all.size() == 4);  // 4, 21, 22, 23 (7 voided, 20 expired, 2 posted, 5 never expires)
    CHECK(st->expiries == std::vector<std::pair<transfer_id, uint64_t>>(all.begin(), all.begin() + 2));
    CHECK(st->more_expiries);
    auto st_all = storage::load_tenant_state(*c, s->tenant, 4);
    REQUIRE(st_all.ok());
    CHECK(st_all->expiries == all);
    CHECK_FALSE(st_all->more_expiries);
    auto from = storage::load_expiries(*c, s->tenant, all[1].second, 2);
    REQUIRE(from.ok());
    CHECK(from.value() == std::vector<std::pair<transfer_id, uint64_t>>(all.begin() + 1, all.begin() + 3));
  }
  auto st_empty = storage::load_tenant_state(*c, empty, 10);
  REQUIRE(st_empty.ok());
  CHECK(st_empty->exists);
  CHECK(st_empty->last_timestamp == 0);
  CHECK(st_empty->expiries.empty());
  auto st_missing = storage::load_tenant_state(*c, tenant_id(999999), 10);
  REQUIRE(st_missing.ok());
  CHECK_FALSE(st_missing->exists);

  auto next = storage::next_expiry_per_tenant(*c);
  REQUIRE(next.ok());
  CHECK(next.value() == std::vector<std::pair<tenant_id, uint64_t>>{{one.tenant, expected_expiries(one, 0)[0].second},
                                                                    {two.tenant, expected_expiries(two, 0)[0].second}});

  // The clock never goes back: an older last_timestamp leaves it.
  ledger::effects older;
  older.last_timestamp = 5;
  commit_ok(*c, {{one.tenant, &older}}, P::path);
  CHECK(storage::load_tenant_state(*c, one.tenant, 0)->last_timestamp == one.sim.now());

  auto report = storage::verify(*c);
  REQUIRE(report.ok());
  CHECK_MESSAGE(report->ok, (report->violations.empty() ? std::string() : report->violations[0]));
  CHECK(report->tenants_checked == 3);
  CHECK(report->accounts_checked == 14);
}

TEST_CASE("account filters outside the stored range answer nothing; a filter without sides is refused") {
  test_database db("filters");
  auto c = db.connect();
  scenario s(new_tenant(*c, "filters"), 1);
  commit_ok(*c, {{s.tenant, &s.accounts()}});
  commit_ok(*c, {{s.tenant, &s.history_unit()}});
  ledger::account_filter f{acct(X), {}, 0, 0, 0, 0, 0, 10, ff::debits | ff::credits};
  f.timestamp_min = UINT64_MAX;
  CHECK(storage::account_transfers(*c, s.tenant, f)->empty());
  CHECK(storage::account_balances(*c, s.tenant, f)->empty());
  f.timestamp_min = 0;
  f.timestamp_max = UINT64_MAX;  // no upper bound in effect
  CHECK(storage::account_transfers(*c, s.tenant, f)->size() == 10);
  f.limit = 0;
  CHECK(storage::account_transfers(*c, s.tenant, f)->empty());
  f.limit = 100000;  // clamped to max_query_rows
  CHECK(storage::account_transfers(*c, s.tenant, f)->size() == 24);
  f.flags = ff::reversed;
  auto refused = storage::account_transfers(*c, s.tenant, f);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::invalid_request);
}

// A writer's commits find every row they touch by key, on a database so small that the planner, left
// alone, hashes the arrays and scans whole tables (storage::writer_session_settings). Read from the
// server's own counters of sequential scans.
TEST_CASE_TEMPLATE("a writer connection's group commits scan no table, however small the tables are", P, pipelined_path,
                   copied_path) {
  test_database db("writer_plans");
  auto admin = db.connect("caudal-test-admin");
  auto opened = storage::pg_connection::open(db.url(), "caudal-writer", storage::writer_session_settings);
  REQUIRE_MESSAGE(opened.ok(), why(opened));
  auto& w = *opened.value();
  storage::cluster_shape shape;
  shape.shard_count = 4;
  shape.trust.transport = storage::transport_mode::insecure;
  REQUIRE(storage::ensure_cluster(*admin, shape, "a").ok());
  auto member = storage::join(*admin, "a", {"", "rpc-a", "http-a"}, "us");
  REQUIRE(member.ok());
  REQUIRE(storage::acquire_leases(*admin, member.value(), {0, 1}, 60000).ok());
  scenario one(new_tenant(*admin, "one"), 1);
  scenario two(new_tenant(*admin, "two"), 2);
  const storage::shard_fence f0{0, 1}, f1{1, 1};

  auto seq_scans = [&] {
    // This backend's counters reach the shared statistics when it goes idle; force it, then read afresh.
    scalar(w, "SELECT pg_stat_force_next_flush()::text");
    scalar(*admin, "SELECT pg_stat_clear_snapshot()::text");
    return scalar(*admin,
                  "SELECT string_agg(relname || '=' || seq_scan, ',' ORDER BY relname) FROM pg_stat_user_tables "
                  "WHERE relname IN ('accounts', 'tenants', 'pending_transfers', 'shard_leases', 'transfers')");
  };
  const std::string before = seq_scans();
  // Every statement a group commit has: new accounts and transfers, pending ones settled, failed ids,
  // history, balances, tenant clocks and the fence check.
  commit_ok(w, {{one.tenant, &one.accounts(), f0}, {two.tenant, &two.accounts(), f1}}, P::path);
  commit_ok(w, {{one.tenant, &one.transfers_unit(), f0}, {two.tenant, &two.transfers_unit(), f1}}, P::path);
  commit_ok(w, {{one.tenant, &one.settle_unit(), f0}, {two.tenant, &two.settle_unit(), f1}}, P::path);
  commit_ok(w, {{one.tenant, &one.history_unit(), f0}, {two.tenant, &two.history_unit(), f1}}, P::path);
  CHECK(seq_scans() == before);
}
