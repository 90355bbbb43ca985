// commit_group: every tenant's effects of one writer tick in ONE transaction (group commit, DESIGN 3a).
// Changed rows go in by one UPDATE .. FROM unnest(arrays) per table; new rows by binary COPY (one per table)
// in a big group, or by one INSERT .. FROM unnest(arrays) per table in a small one, whose statements are
// then all pipelined into one round trip. Either way a fixed number of round trips whatever the group's
// size, never one per row.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "storage/ledger_rows.hpp"
#include "storage/ledger_store.hpp"

namespace caudal::storage {

namespace {

// The tables a group inserts into, with their columns in the order the encoders below append them (types
// as in 0001_ledger.sql: uuid, bigint, integer, smallint). Each gives both statements that insert rows:
// a binary COPY (large groups) and an INSERT from one array per column (small groups, pipelined).
struct insert_table {
  std::string copy_sql;
  std::string insert_sql;
  insert_table(const char* table, std::initializer_list<std::pair<const char*, const char*>> columns) {
    std::string names, arrays;
    int n = 0;
    for (const auto& [name, type] : columns) {
      const char* comma = n++ > 0 ? ", " : "";
      names += comma + std::string(name);
      arrays += comma + ("$" + std::to_string(n)) + "::" + type + "[]";
    }
    copy_sql = "COPY " + std::string(table) + " (" + names + ") FROM STDIN (FORMAT binary)";
    insert_sql = "INSERT INTO " + std::string(table) + " (" + names + ") SELECT * FROM unnest(" + arrays + ")";
  }
};

const insert_table& accounts_table() {
  static const insert_table t("accounts", {{"tenant_id", "bigint"},
                                           {"id", "uuid"},
                                           {"user_data_128", "uuid"},
                                           {"user_data_64", "bigint"},
                                           {"user_data_32", "bigint"},
                                           {"ledger", "bigint"},
                                           {"code", "integer"},
                                           {"flags", "integer"},
                                           {"debits_pending", "bigint"},
                                           {"debits_posted", "bigint"},
                                           {"credits_pending", "bigint"},
                                           {"credits_posted", "bigint"},
                                           {"timestamp", "bigint"},
                                           {"version", "bigint"}});
  return t;
}
const insert_table& transfers_table() {
  static const insert_table t("transfers", {{"tenant_id", "bigint"},
                                            {"id", "uuid"},
                                            {"debit_account_id", "uuid"},
                                            {"credit_account_id", "uuid"},
                                            {"amount", "bigint"},
                                            {"pending_id", "uuid"},
                                            {"user_data_128", "uuid"},
                                            {"user_data_64", "bigint"},
                                            {"user_data_32", "bigint"},
                                            {"timeout", "bigint"},
                                            {"ledger", "bigint"},
                                            {"code", "integer"},
                                            {"flags", "integer"},
                                            {"timestamp", "bigint"}});
  return t;
}
const insert_table& pending_table() {
  static const insert_table t(
      "pending_transfers", {{"tenant_id", "bigint"}, {"id", "uuid"}, {"state", "smallint"}, {"expires_at", "bigint"}});
  return t;
}
const insert_table& failed_table() {
  static const insert_table t("failed_transfers", {{"tenant_id", "bigint"}, {"id", "uuid"}, {"result", "smallint"}});
  return t;
}
const insert_table& history_table() {
  static const insert_table t("account_balances", {{"tenant_id", "bigint"},
                                                   {"account_id", "uuid"},
                                                   {"timestamp", "bigint"},
                                                   {"debits_pending", "bigint"},
                                                   {"debits_posted", "bigint"},
                                                   {"credits_pending", "bigint"},
                                                   {"credits_posted", "bigint"}});
  return t;
}

// A pending transfer moves out of state 1 once: updating one in another state is a bug upstream, and the
// row count check below turns it into a failed commit instead of a silent overwrite.
constexpr const char* update_pending_sql =
    "UPDATE pending_transfers p SET state = u.state FROM unnest($1::bigint[], $2::uuid[], $3::smallint[]) "
    "AS u(tenant_id, id, state) WHERE p.tenant_id = u.tenant_id AND p.id = u.id AND p.state = 1";
constexpr const char* update_accounts_sql =
    "UPDATE accounts a SET debits_pending = u.dp, debits_posted = u.dpo, credits_pending = u.cp, "
    "credits_posted = u.cpo, version = u.v FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::bigint[], "
    "$5::bigint[], $6::bigint[], $7::bigint[]) AS u(tenant_id, id, dp, dpo, cp, cpo, v) "
    "WHERE a.tenant_id = u.tenant_id AND a.id = u.id";
constexpr const char* update_tenants_sql =
    "UPDATE tenants t SET last_timestamp = GREATEST(t.last_timestamp, u.ts) "
    "FROM unnest($1::bigint[], $2::bigint[]) AS u(tenant_id, ts) WHERE t.tenant_id = u.tenant_id";

// Fencing (DESIGN.md section 3): the lease rows of the group's (shard, epoch) pairs, locked FOR KEY SHARE
// in shard order and kept only while the epoch is unchanged and the lease unexpired by PostgreSQL's clock.
// The holder columns (owner, incarnation, epoch) are key columns (unique index shard_leases_holder), so
// every change of holder (a take-over, a release) takes FOR UPDATE, which conflicts with FOR KEY SHARE: it
// waits for this transaction, and one that committed first is seen here (READ COMMITTED re-reads a row
// changed meanwhile), so a fence checked here holds until COMMIT. A renewal changes expires_at only: it
// takes FOR NO KEY UPDATE, which does not conflict, so heartbeats never stall commits (with FOR SHARE,
// every renewal queued behind the commits in flight and the commits behind it: single-transfer p99 at
// 1,000 requests/s went from 7-9 ms to 84-336 ms with a 1 s heartbeat).
constexpr const char* check_fences_sql =
    "SELECT l.shard, l.epoch FROM shard_leases l "
    "JOIN unnest($1::integer[], $2::bigint[]) AS f(shard, epoch) ON l.shard = f.shard AND l.epoch = f.epoch "
    "WHERE l.expires_at > clock_timestamp() ORDER BY l.shard FOR KEY SHARE OF l";

// An update of one tenant's row, remembered with its position so duplicates resolve deterministically.
template <class T>
struct keyed {
  uint64_t tenant;
  const T* item;
  size_t order;
};

// Sorted by (tenant, id) and reduced to one entry per key: of two entries a, b of one key (b later in the
// group), b replaces a when later_wins(a, b).
template <class T, class Id, class LaterWins>
std::vector<keyed<T>> one_per_key(std::vector<keyed<T>> v, Id id_of, LaterWins later_wins) {
  std::sort(v.begin(), v.end(), [&](const keyed<T>& a, const keyed<T>& b) {
    if (a.tenant != b.tenant)
      return a.tenant < b.tenant;
    if (id_of(*a.item) != id_of(*b.item))
      return id_of(*a.item) < id_of(*b.item);
    return a.order < b.order;
  });
  std::vector<keyed<T>> out;
  out.reserve(v.size());
  for (const auto& k : v) {
    if (!out.empty() && out.back().tenant == k.tenant && id_of(*out.back().item) == id_of(*k.item)) {
      if (later_wins(*out.back().item, *k.item))
        out.back() = k;
    } else {
      out.push_back(k);
    }
  }
  return out;
}

// The changed rows of a group: UPDATE parameters as binary arrays (the server parses no text).
struct encoded_updates {
  using arr = codec::array_binary;
  size_t pending_updates = 0;
  arr pu_tenant{arr::int8_oid, 0, 8}, pu_id{arr::uuid_oid, 0, 16}, pu_state{arr::int2_oid, 0, 2};
  size_t account_updates = 0;
  arr au_tenant{arr::int8_oid, 0, 8}, au_id{arr::uuid_oid, 0, 16}, au_dp{arr::int8_oid, 0, 8},
      au_dpo{arr::int8_oid, 0, 8}, au_cp{arr::int8_oid, 0, 8}, au_cpo{arr::int8_oid, 0, 8}, au_v{arr::int8_oid, 0, 8};
  size_t tenant_clocks = 0;
  arr tc_tenant{arr::int8_oid, 0, 8}, tc_ts{arr::int8_oid, 0, 8};
};

// Everything one group writes, encoded; built before the transaction starts so it stays short. `Rows` is
// how new rows travel: codec::copy_binary (one COPY per table) or codec::column_arrays (one INSERT).
template <class Rows>
struct encoded_group {
  Rows accounts, transfers, pending, failed, history;
  encoded_updates updates;

  explicit encoded_group(size_t transfers_hint)
      : accounts(0), transfers(transfers_hint, 2 + 14 * 4 + 5 * 16 + 9 * 8), pending(0), failed(0), history(0) {}
};

size_t count_transfers(const std::vector<tenant_commit>& group) {
  size_t n = 0;
  for (const auto& tc : group)
    n += tc.changes->created_transfers.size();
  return n;
}

// Column order and widths follow the tables above: uuid, bigint (i64), integer (i32: code, flags),
// smallint (i16).
template <class Rows>
void encode_inserts(const std::vector<tenant_commit>& group, encoded_group<Rows>& g) {
  for (const auto& tc : group) {
    const auto tenant = static_cast<int64_t>(tc.tenant.value);
    const ledger::effects& e = *tc.changes;
    for (const auto& a : e.created_accounts) {
      g.accounts.begin_row(14);
      g.accounts.i64(tenant).uuid(a.id.value).uuid(a.user_data_128).u64_bits(a.user_data_64).i64(a.user_data_32);
      g.accounts.i64(a.ledger).i32(a.code).i32(a.flags).u64_bits(a.debits_pending).u64_bits(a.debits_posted);
      g.accounts.u64_bits(a.credits_pending).u64_bits(a.credits_posted).u64_bits(a.timestamp).u64_bits(a.timestamp);
    }
    for (const auto& t : e.created_transfers) {
      g.transfers.begin_row(14);
      g.transfers.i64(tenant).uuid(t.id.value).uuid(t.debit_account_id.value).uuid(t.credit_account_id.value);
      g.transfers.u64_bits(t.amount).uuid(t.pending_id.value).uuid(t.user_data_128).u64_bits(t.user_data_64);
      g.transfers.i64(t.user_data_32).i64(t.timeout).i64(t.ledger).i32(t.code).i32(t.flags).u64_bits(t.timestamp);
      if ((t.flags & ledger::transfer_flags::pending) != 0) {
        g.pending.begin_row(4);
        g.pending.i64(tenant).uuid(t.id.value).i16(static_cast<int16_t>(ledger::pending_state::pending));
        g.pending.u64_bits(ledger::expires_at(t));
      }
    }
    for (const auto& f : e.failed_transfers) {
      g.failed.begin_row(3);
      g.failed.i64(tenant).uuid(f.id.value).i16(static_cast<int16_t>(f.result));
    }
    for (const auto& h : e.history) {
      g.history.begin_row(7);
      g.history.i64(tenant).uuid(h.account.value).u64_bits(h.balance.timestamp).u64_bits(h.balance.debits_pending);
      g.history.u64_bits(h.balance.debits_posted).u64_bits(h.balance.credits_pending);
      g.history.u64_bits(h.balance.credits_posted);
    }
  }
}

void encode_updates(const std::vector<tenant_commit>& group, encoded_updates& g) {
  std::vector<keyed<ledger::pending_update>> pending;
  std::vector<keyed<ledger::account_update>> accounts;
  std::vector<std::pair<uint64_t, uint64_t>> clocks;  // (tenant, last_timestamp)
  size_t order = 0;
  for (const auto& tc : group) {
    for (const auto& u : tc.changes->pending_updates)
      pending.push_back({tc.tenant.value, &u, order++});
    for (const auto& u : tc.changes->account_updates)
      accounts.push_back({tc.tenant.value, &u, order++});
    if (tc.changes->last_timestamp > 0)
      clocks.emplace_back(tc.tenant.value, tc.changes->last_timestamp);
  }
  // A pending transfer's last change in the group wins; an account's newest version wins (ties: the later).
  pending = one_per_key(
      std::move(pending), [](const ledger::pending_update& u) { return u.id.value; },
      [](const ledger::pending_update&, const ledger::pending_update&) { return true; });
  accounts = one_per_key(
      std::move(accounts), [](const ledger::account_update& u) { return u.id.value; },
      [](const ledger::account_update& kept, const ledger::account_update& later) {
        return later.version >= kept.version;
      });
  g.pending_updates = pending.size();
  for (const auto& k : pending) {
    g.pu_tenant.add_u64_bits(k.tenant);
    g.pu_id.add_uuid(k.item->id.value);
    g.pu_state.add_i16(static_cast<int16_t>(k.item->state));
  }
  g.account_updates = accounts.size();
  for (const auto& k : accounts) {
    g.au_tenant.add_u64_bits(k.tenant);
    g.au_id.add_uuid(k.item->id.value);
    g.au_dp.add_u64_bits(k.item->debits_pending);
    g.au_dpo.add_u64_bits(k.item->debits_posted);
    g.au_cp.add_u64_bits(k.item->credits_pending);
    g.au_cpo.add_u64_bits(k.item->credits_posted);
    g.au_v.add_u64_bits(k.item->version);
  }
  std::sort(clocks.begin(), clocks.end());
  for (size_t i = 0; i < clocks.size(); ++i) {
    if (i + 1 < clocks.size() && clocks[i + 1].first == clocks[i].first)
      continue;  // sorted: the last entry of a tenant holds its largest timestamp
    g.tc_tenant.add_u64_bits(clocks[i].first);
    g.tc_ts.add_u64_bits(clocks[i].second);
    ++g.tenant_clocks;
  }
}

uint64_t affected_rows(const pg_rows& r) {
  const char* n = PQcmdTuples(r.raw());
  return n != nullptr && *n != '\0' ? std::strtoull(n, nullptr, 10) : 0;
}

failure commit_failed(failure f) {
  return failure{errc::commit_failed, std::move(f.detail)};
}

// One statement of a group's write. They run in the order planned: a pending transfer is inserted before
// a later unit of the group posts or voids it, accounts before the rows that name them.
struct write_step {
  std::string name;  // prepared statement name (INSERT, UPDATE); empty for COPY
  const std::string* sql;
  const std::string* copy_stream = nullptr;  // COPY .. FROM STDIN: its binary stream
  std::vector<pg_connection::param> params;  // INSERT, UPDATE: binary arrays
  size_t expected_rows = 0;                  // UPDATE: it must touch exactly this many rows (all exist)
  const char* what = nullptr;                // UPDATE: what a wrong count means
};

pg_connection::param binary_param(const std::string& bytes) {
  return {bytes.data(), static_cast<int>(bytes.size()), 1};
}

void plan_insert(std::vector<write_step>& steps, const char*, const insert_table& t, codec::copy_binary& rows) {
  if (rows.rows() > 0)
    steps.push_back({{}, &t.copy_sql, &rows.finish(), {}, 0, nullptr});
}

void plan_insert(std::vector<write_step>& steps, const char* name, const insert_table& t, codec::column_arrays& rows) {
  if (rows.rows() == 0)
    return;
  write_step step{name, &t.insert_sql, nullptr, {}, 0, nullptr};
  for (auto& column : rows.columns())
    step.params.push_back(binary_param(column.finish()));
  steps.push_back(std::move(step));
}

void plan_update(std::vector<write_step>& steps, const char* name, const std::string& sql,
                 std::initializer_list<codec::array_binary*> arrays, size_t expected, const char* what) {
  if (expected == 0)
    return;
  write_step step{name, &sql, nullptr, {}, expected, what};
  for (auto* a : arrays)
    step.params.push_back(binary_param(a->finish()));
  steps.push_back(std::move(step));
}

// Every statement of the group, in order.
template <class Rows>
std::vector<write_step> plan_writes(encoded_group<Rows>& g) {
  static const std::string update_pending = update_pending_sql, update_accounts = update_accounts_sql,
                           update_tenants = update_tenants_sql;
  auto& u = g.updates;
  std::vector<write_step> steps;
  plan_insert(steps, "lc_insert_accounts", accounts_table(), g.accounts);
  plan_insert(steps, "lc_insert_transfers", transfers_table(), g.transfers);
  plan_insert(steps, "lc_insert_pending", pending_table(), g.pending);
  plan_update(steps, "lc_update_pending", update_pending, {&u.pu_tenant, &u.pu_id, &u.pu_state}, u.pending_updates,
              "pending_transfers (a pending update of a transfer not pending)");
  plan_insert(steps, "lc_insert_failed", failed_table(), g.failed);
  plan_insert(steps, "lc_insert_history", history_table(), g.history);
  plan_update(steps, "lc_update_accounts", update_accounts,
              {&u.au_tenant, &u.au_id, &u.au_dp, &u.au_dpo, &u.au_cp, &u.au_cpo, &u.au_v}, u.account_updates,
              "accounts (an update of an account that does not exist)");
  plan_update(steps, "lc_update_tenants", update_tenants, {&u.tc_tenant, &u.tc_ts}, u.tenant_clocks,
              "tenants (a clock of a tenant that does not exist)");
  return steps;
}

// An UPDATE's answer: it must have touched exactly the rows it was given.
result<void> check_rows(const write_step& step, const pg_rows& r) {
  if (step.expected_rows == 0)
    return {};
  const uint64_t n = affected_rows(r);
  if (n != step.expected_rows)
    return failure{errc::internal, std::string(step.what) + ": updated " + std::to_string(n) + " rows of " +
                                       std::to_string(step.expected_rows)};
  return {};
}

// Every statement of the group, one round trip each, inside the open transaction. Any failure: the caller
// rolls back.
result<void> write_group(pg_connection& c, const std::vector<write_step>& steps) {
  for (const auto& step : steps) {
    if (step.copy_stream != nullptr) {
      if (auto r = c.copy_in(*step.sql, *step.copy_stream); !r.ok())
        return r;
      continue;
    }
    auto r = c.query_prepared_binary(step.name, *step.sql, step.params);
    if (!r.ok())
      return r.error();
    if (auto counted = check_rows(step, r.value()); !counted.ok())
      return counted;
  }
  return {};
}

// Rolls back after a failure inside the transaction; the caller reconnects anyway when the connection broke.
failure roll_back(pg_connection& c, failure f) {
  if (c.healthy())
    (void)c.exec("ROLLBACK");
  return commit_failed(std::move(f));
}

// Sends COMMIT and classifies its outcome.
result<void> send_commit(pg_connection& c) {
  PGconn* raw = c.raw();
  // The backend may have gone while we waited (terminated, crashed): then COMMIT is never sent, nothing
  // was committed, and the answer is certain.
  if (!c.check_alive() || PQtransactionStatus(raw) != PQTRANS_INTRANS)
    return roll_back(c, failure{errc::internal, "connection lost or transaction aborted before COMMIT"});
  pg_rows r(PQexec(raw, "COMMIT"));
  if (r.raw() != nullptr && PQresultStatus(r.raw()) == PGRES_COMMAND_OK) {
    if (std::strcmp(PQcmdStatus(r.raw()), "COMMIT") == 0)
      return {};
    return failure{errc::commit_failed, "COMMIT answered " + std::string(PQcmdStatus(r.raw()))};
  }
  failure f = c.failure_from(r.raw(), "COMMIT");
  // No answer, a dead connection or a FATAL error (the backend ended while committing): COMMIT may have
  // been applied. A plain ERROR from a live connection means the server rolled the transaction back.
  const char* severity = r.raw() != nullptr ? PQresultErrorField(r.raw(), PG_DIAG_SEVERITY_NONLOCALIZED) : nullptr;
  const bool fatal =
      severity != nullptr && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0);
  if (r.raw() == nullptr || !c.healthy() || fatal)
    return failure{errc::commit_outcome_unknown, std::move(f.detail)};
  return failure{errc::commit_failed, std::move(f.detail)};
}

// The group's distinct fences (ascending).
std::vector<shard_fence> fences_of(const std::vector<tenant_commit>& group) {
  std::vector<shard_fence> out;
  for (const auto& tc : group)
    if (tc.fence)
      out.push_back(*tc.fence);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The fences as check_fences_sql's two parameters: integer[] and bigint[] literals.
std::pair<std::string, std::string> fence_arrays(const std::vector<shard_fence>& fences) {
  std::string shards = "{", epochs = "{";
  for (size_t i = 0; i < fences.size(); ++i) {
    if (i > 0) {
      shards += ',';
      epochs += ',';
    }
    shards += std::to_string(fences[i].shard);
    epochs += std::to_string(fences[i].epoch);
  }
  shards += '}';
  epochs += '}';
  return {shards, epochs};
}

// check_fences_sql's answer: the fences that hold (ascending).
std::vector<shard_fence> held_fences(const pg_rows& r) {
  std::vector<shard_fence> held;
  for (int i = 0; i < r.size(); ++i)
    held.push_back(
        {static_cast<uint32_t>(std::strtoul(r.text(i, 0), nullptr, 10)), std::strtoull(r.text(i, 1), nullptr, 10)});
  std::sort(held.begin(), held.end());
  return held;
}

// Inside the open transaction: locks the fences' lease rows and returns the fences that hold (ascending).
result<std::vector<shard_fence>> check_fences(pg_connection& c, const std::vector<shard_fence>& fences) {
  const auto [shards, epochs] = fence_arrays(fences);
  auto r = c.query_prepared("lc_check_fences", check_fences_sql, {shards.c_str(), epochs.c_str()});
  if (!r.ok())
    return r.error();
  return held_fences(r.value());
}

template <class Rows>
std::unique_ptr<encoded_group<Rows>> encode(const std::vector<tenant_commit>& group) {
  auto g = std::make_unique<encoded_group<Rows>>(count_transfers(group));
  encode_inserts(group, *g);
  encode_updates(group, g->updates);
  return g;
}

template <class Rows>
bool nothing_to_write(const encoded_group<Rows>& g) {
  return g.accounts.rows() + g.transfers.rows() + g.failed.rows() + g.history.rows() + g.updates.pending_updates +
             g.updates.account_updates + g.updates.tenant_clocks ==
         0;
}

// What a commit path needs before it opens a transaction: a live connection with none open.
result<void> ready_to_begin(pg_connection& c) {
  if (!c.healthy())
    return failure{errc::database_unavailable, c.failure_from(nullptr, "commit_group").detail};
  // A transaction left open by an earlier failure would swallow this one: close it first.
  if (PQtransactionStatus(c.raw()) != PQTRANS_IDLE)
    (void)c.exec("ROLLBACK");
  return {};
}

// The big-group path: BEGIN, the fence check, one COPY per table and one UPDATE per kind of change, each its
// own round trip, then COMMIT. Units whose fence fails are left out and the rest is written.
result<group_outcome> commit_copied(pg_connection& c, const std::vector<tenant_commit>& group,
                                    uint32_t delay_before_commit_ms) {
  auto g = encode<codec::copy_binary>(group);
  group_outcome outcome;
  if (nothing_to_write(*g))
    return outcome;
  if (auto ready = ready_to_begin(c); !ready.ok())
    return ready.error();
  if (auto begun = c.exec("BEGIN"); !begun.ok()) {
    if (!c.healthy())
      return failure{errc::database_unavailable, begun.error().detail};
    return roll_back(c, begun.error());
  }
  if (auto fences = fences_of(group); !fences.empty()) {
    auto held = check_fences(c, fences);
    if (!held.ok())
      return roll_back(c, held.error());
    if (held->size() != fences.size()) {
      std::vector<tenant_commit> kept;
      for (size_t i = 0; i < group.size(); ++i) {
        const auto& f = group[i].fence;
        if (f && !std::binary_search(held->begin(), held->end(), *f))
          outcome.fenced.push_back(i);
        else
          kept.push_back(group[i]);
      }
      g = encode<codec::copy_binary>(kept);
      if (nothing_to_write(*g)) {
        (void)c.exec("ROLLBACK");  // nothing written; a failed ROLLBACK leaves nothing either
        return outcome;
      }
    }
  }
  if (auto written = write_group(c, plan_writes(*g)); !written.ok())
    return roll_back(c, written.error());
  if (delay_before_commit_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_before_commit_ms));
  if (auto committed = send_commit(c); !committed.ok())
    return committed.error();
  return outcome;
}

// The small-group path: BEGIN, the fence check and every INSERT and UPDATE sent together in one round trip
// (libpq's pipeline mode; COPY cannot be pipelined, so new rows go as one array per column), checked here,
// then COMMIT: two round trips whatever the number of tables touched, against up to a dozen for the copied
// path. A single transfer's commit is mostly round trips, so this is what sets latency at low load.
// nullopt when a fence failed: nothing was written, and the caller takes the copied path, which sorts out
// which units to leave out.
result<std::optional<group_outcome>> commit_pipelined(pg_connection& c, const std::vector<tenant_commit>& group,
                                                      uint32_t delay_before_commit_ms) {
  static const std::string begin_sql = "BEGIN", fences_sql = check_fences_sql;
  auto g = encode<codec::column_arrays>(group);
  if (nothing_to_write(*g))
    return std::optional<group_outcome>(group_outcome{});
  if (auto ready = ready_to_begin(c); !ready.ok())
    return ready.error();
  const auto fences = fences_of(group);
  const auto [shards, epochs] = fence_arrays(fences);
  std::vector<pg_connection::pipelined> statements;
  statements.push_back({"lc_begin", &begin_sql, {}});
  if (!fences.empty())
    statements.push_back({"lc_check_fences", &fences_sql, {{shards.c_str(), 0, 0}, {epochs.c_str(), 0, 0}}});
  const auto steps = plan_writes(*g);
  for (const auto& step : steps)
    statements.push_back({step.name, step.sql, step.params});
  auto results = c.query_pipeline(statements);
  if (!results.ok()) {
    // COMMIT was not sent, so nothing is written either way. A connection lost meanwhile (often before
    // anything was sent: the server ended the idle session) is database_unavailable, which the writer
    // answers by reconnecting and trying once more, as it does when the copied path's BEGIN fails so.
    if (!c.healthy())
      return failure{errc::database_unavailable, results.error().detail};
    return roll_back(c, results.error());
  }
  const size_t first_write = fences.empty() ? 1 : 2;
  if (!fences.empty() && held_fences(results.value()[1]).size() != fences.size()) {
    (void)c.exec("ROLLBACK");  // nothing written; a failed ROLLBACK leaves nothing either
    return std::optional<group_outcome>();
  }
  for (size_t i = 0; i < steps.size(); ++i)
    if (auto counted = check_rows(steps[i], results.value()[first_write + i]); !counted.ok())
      return roll_back(c, counted.error());
  if (delay_before_commit_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_before_commit_ms));
  if (auto committed = send_commit(c); !committed.ok())
    return committed.error();
  return std::optional<group_outcome>(group_outcome{});
}

// New rows in a group, the measure of which path it takes.
size_t new_rows(const std::vector<tenant_commit>& group) {
  size_t n = 0;
  for (const auto& tc : group)
    n += tc.changes->created_accounts.size() + tc.changes->created_transfers.size() +
         tc.changes->failed_transfers.size();
  return n;
}

}  // namespace

result<group_outcome> commit_group(pg_connection& c, const std::vector<tenant_commit>& group,
                                   uint32_t delay_before_commit_ms, write_path path) {
  const bool pipelined =
      path == write_path::pipelined || (path == write_path::by_size && new_rows(group) <= pipelined_max_rows);
  if (pipelined) {
    auto r = commit_pipelined(c, group, delay_before_commit_ms);
    if (!r.ok())
      return r.error();
    if (r.value())
      return *r.value();
  }
  return commit_copied(c, group, delay_before_commit_ms);
}

}  // namespace caudal::storage
