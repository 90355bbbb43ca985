// The ledger's reads (commit_group lives in ledger_commit.cpp). Every statement is prepared once per
// connection and bound to one tenant_id ($1): no read here can return another tenant's rows.
#include "storage/ledger_store.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>

#include "base/limits.hpp"
#include "storage/ledger_rows.hpp"

namespace caudal::storage {

namespace {

constexpr uint64_t bigint_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string join(const char* a, const char* b, const char* c = "", const char* d = "", const char* e = "") {
  std::string s;
  for (const char* p : {a, b, c, d, e})
    s += p;
  return s;
}

const std::string& accounts_sql() {
  static const std::string sql =
      join("SELECT ", rows::account_columns, ", version FROM accounts WHERE tenant_id = $1 AND id = ANY($2::uuid[])");
  return sql;
}

const std::string& transfers_sql() {
  // The transfer columns prefixed for the join; state 0 = not a pending transfer.
  static const std::string sql =
      "SELECT t.id, t.debit_account_id, t.credit_account_id, t.amount, t.pending_id, t.user_data_128, "
      "t.user_data_64, t.user_data_32, t.timeout, t.ledger, t.code, t.flags, t.timestamp, coalesce(p.state, 0) "
      "FROM transfers t LEFT JOIN pending_transfers p ON p.tenant_id = t.tenant_id AND p.id = t.id "
      "WHERE t.tenant_id = $1 AND t.id = ANY($2::uuid[])";
  return sql;
}

constexpr const char* failed_sql =
    "SELECT id, result FROM failed_transfers WHERE tenant_id = $1 AND id = ANY($2::uuid[])";

template <class Id>
std::string uuid_array(const std::vector<Id>& ids) {
  codec::array_literal a(ids.size(), codec::uuid_text_bytes);
  for (const auto& id : ids)
    a.add_uuid(id.value);
  return a.c_str();
}

failure malformed(const rows::reader& in, const char* what) {
  return failure{errc::internal, std::string(what) + ": " + in.error()};
}

result<std::vector<account_row>> read_accounts(const pg_rows& r) {
  std::vector<account_row> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    rows::reader in(r, i);
    account_row row;
    row.account = rows::read_account(in);
    row.version = in.u64_bits();
    if (!in.ok())
      return malformed(in, "accounts");
    out.push_back(row);
  }
  return out;
}

result<std::vector<account_row>> query_accounts(pg_connection& c, const std::string& tenant, const std::string& ids) {
  auto r = c.query_prepared("ls_accounts", accounts_sql(), {tenant.c_str(), ids.c_str()});
  if (!r.ok())
    return r.error();
  return read_accounts(r.value());
}

result<std::vector<transfer_row>> read_transfers(const pg_rows& r) {
  std::vector<transfer_row> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    rows::reader in(r, i);
    transfer_row row;
    row.transfer = rows::read_transfer(in);
    const uint16_t state = in.u16();
    if (!in.ok() || state > static_cast<uint16_t>(ledger::pending_state::expired))
      return malformed(in, "transfers");
    row.state = static_cast<ledger::pending_state>(state);
    out.push_back(row);
  }
  return out;
}

result<std::vector<transfer_row>> query_transfers(pg_connection& c, const std::string& tenant, const std::string& ids) {
  auto r = c.query_prepared("ls_transfers", transfers_sql(), {tenant.c_str(), ids.c_str()});
  if (!r.ok())
    return r.error();
  return read_transfers(r.value());
}

result<std::vector<ledger::failed_transfer>> read_failed(const pg_rows& r) {
  std::vector<ledger::failed_transfer> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    rows::reader in(r, i);
    ledger::failed_transfer f;
    f.id = transfer_id(in.uuid());
    const uint16_t code = in.u16();
    if (!in.ok() || code > ledger::create_transfer_result_max)
      return malformed(in, "failed_transfers");
    f.result = static_cast<ledger::create_transfer_result>(code);
    out.push_back(f);
  }
  return out;
}

// Timestamp bounds of a filter as bigint parameters; false when no stored timestamp can match.
bool time_bounds(const ledger::account_filter& f, std::string& min_out, std::string& max_out) {
  if (f.timestamp_min > bigint_max || (f.timestamp_max != 0 && f.timestamp_max < f.timestamp_min))
    return false;
  const uint64_t max = f.timestamp_max == 0 || f.timestamp_max > bigint_max ? bigint_max : f.timestamp_max;
  min_out = std::to_string(f.timestamp_min);
  max_out = std::to_string(max);
  return true;
}

std::string limit_param(uint32_t limit) {
  return std::to_string(std::min<uint32_t>(limit, limits::max_query_rows));
}

// One side of account_transfers: the index (tenant_id, <side>_account_id, timestamp) gives the range and
// the order; the optional filters are checked on the rows it yields.
std::string transfers_side_sql(const char* side_column, bool reversed) {
  std::string s = "SELECT ";
  s += rows::transfer_columns;
  s += " FROM transfers WHERE tenant_id = $1 AND ";
  s += side_column;
  s += " = $2 AND timestamp >= $3 AND timestamp <= $4"
       " AND ($5::uuid = '00000000-0000-0000-0000-000000000000' OR user_data_128 = $5)"
       " AND ($6::bigint = 0 OR user_data_64 = $6) AND ($7::bigint = 0 OR user_data_32 = $7)"
       " AND ($8::integer = 0 OR code = $8) ORDER BY timestamp ";
  s += reversed ? "DESC" : "ASC";
  s += " LIMIT $9";
  return s;
}

// Statement name and text for a (sides, order) combination. Both sides: the two index scans merged by
// timestamp (a transfer never has the same account on both sides, so no row comes twice).
std::pair<std::string, std::string> account_transfers_sql(bool debits, bool credits, bool reversed) {
  std::string name =
      std::string("ls_acct_transfers_") + (debits ? "d" : "") + (credits ? "c" : "") + (reversed ? "_desc" : "_asc");
  if (debits && credits) {
    std::string s = "(" + transfers_side_sql("debit_account_id", reversed) + ") UNION ALL (" +
                    transfers_side_sql("credit_account_id", reversed) + ") ORDER BY timestamp " +
                    (reversed ? "DESC" : "ASC") + " LIMIT $9";
    return {name, s};
  }
  return {name, transfers_side_sql(debits ? "debit_account_id" : "credit_account_id", reversed)};
}

constexpr const char* expiries_sql =
    "SELECT id, expires_at FROM pending_transfers WHERE tenant_id = $1 AND state = 1 AND expires_at > 0 "
    "AND expires_at >= $2 ORDER BY expires_at, id LIMIT $3";

result<std::vector<std::pair<transfer_id, uint64_t>>> query_expiries(pg_connection& c, tenant_id t, uint64_t from_ns,
                                                                     uint64_t limit) {
  using out_t = std::vector<std::pair<transfer_id, uint64_t>>;
  if (from_ns > bigint_max || limit == 0)
    return out_t{};
  const std::string tenant = rows::tenant_param(t);
  const std::string from = std::to_string(from_ns);
  const std::string lim = std::to_string(std::min(limit, bigint_max));
  auto r = c.query_prepared("ls_expiries", expiries_sql, {tenant.c_str(), from.c_str(), lim.c_str()});
  if (!r.ok())
    return r.error();
  out_t out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    rows::reader in(r.value(), i);
    const transfer_id id(in.uuid());
    const uint64_t at = in.u64_bits();
    if (!in.ok())
      return malformed(in, "pending_transfers");
    out.emplace_back(id, at);
  }
  return out;
}

}  // namespace

result<prefetch> load_for_batch(pg_connection& c, tenant_id t, const std::vector<account_id>& accounts,
                                const std::vector<transfer_id>& transfers) {
  const std::string tenant = rows::tenant_param(t);
  prefetch out;
  if (accounts.empty() && transfers.empty())
    return out;
  // One round trip: the transfers asked for, their failed attempts and the accounts asked for, pipelined,
  // with binary id arrays (text arrays cost the server a parse of every id). Only when a transfer found is
  // a pending one whose accounts were not asked for (a post or void) does a second query fetch them.
  codec::array_binary transfer_ids(codec::array_binary::uuid_oid, transfers.size(), 16);
  for (const auto& id : transfers)
    transfer_ids.add_uuid(id.value);
  codec::array_binary account_ids(codec::array_binary::uuid_oid, accounts.size(), 16);
  for (const auto& id : accounts)
    account_ids.add_uuid(id.value);
  const std::string& tids = transfer_ids.finish();
  const std::string& aids = account_ids.finish();
  const pg_connection::param tenant_p{tenant.c_str(), 0, 0};
  const pg_connection::param tids_p{tids.data(), static_cast<int>(tids.size()), 1};
  const pg_connection::param aids_p{aids.data(), static_cast<int>(aids.size()), 1};
  static const std::string failed_text = failed_sql;
  std::vector<pg_connection::pipelined> statements;
  if (!transfers.empty()) {
    statements.push_back({"ls_transfers", &transfers_sql(), {tenant_p, tids_p}});
    statements.push_back({"ls_failed", &failed_text, {tenant_p, tids_p}});
  }
  if (!accounts.empty())
    statements.push_back({"ls_accounts", &accounts_sql(), {tenant_p, aids_p}});
  auto results = c.query_pipeline(statements);
  if (!results.ok())
    return results.error();
  size_t next = 0;
  if (!transfers.empty()) {
    auto found = read_transfers(results.value()[next++]);
    if (!found.ok())
      return found.error();
    out.transfers = std::move(found.value());
    auto failed = read_failed(results.value()[next++]);
    if (!failed.ok())
      return failed.error();
    out.failed = std::move(failed.value());
  }
  if (!accounts.empty()) {
    auto found = read_accounts(results.value()[next++]);
    if (!found.ok())
      return found.error();
    out.accounts = std::move(found.value());
  }
  // The accounts of pending transfers found (a post or void needs them), unless already asked for.
  std::vector<account_id> more;
  for (const auto& row : out.transfers) {
    if ((row.transfer.flags & ledger::transfer_flags::pending) == 0)
      continue;
    for (const auto& id : {row.transfer.debit_account_id, row.transfer.credit_account_id})
      if (std::find(accounts.begin(), accounts.end(), id) == accounts.end() &&
          std::find(more.begin(), more.end(), id) == more.end())
        more.push_back(id);
  }
  if (!more.empty()) {
    auto found = query_accounts(c, tenant, uuid_array(more));
    if (!found.ok())
      return found.error();
    out.accounts.insert(out.accounts.end(), found->begin(), found->end());
  }
  return out;
}

result<std::vector<account_row>> load_accounts(pg_connection& c, tenant_id t, const std::vector<account_id>& ids) {
  if (ids.empty())
    return std::vector<account_row>{};
  return query_accounts(c, rows::tenant_param(t), uuid_array(ids));
}

result<std::vector<ledger::transfer>> lookup_transfers(pg_connection& c, tenant_id t,
                                                       const std::vector<transfer_id>& ids) {
  std::vector<ledger::transfer> out;
  if (ids.empty())
    return out;
  auto found = query_transfers(c, rows::tenant_param(t), uuid_array(ids));
  if (!found.ok())
    return found.error();
  std::unordered_map<transfer_id, size_t, id_hash> index;
  index.reserve(found->size());
  for (size_t i = 0; i < found->size(); ++i)
    index.emplace(found.value()[i].transfer.id, i);
  out.reserve(found->size());
  for (const auto& id : ids) {
    auto it = index.find(id);
    if (it != index.end())
      out.push_back(found.value()[it->second].transfer);
  }
  return out;
}

result<std::vector<ledger::transfer>> account_transfers(pg_connection& c, tenant_id t,
                                                        const ledger::account_filter& f) {
  namespace ff = ledger::account_filter_flags;
  std::vector<ledger::transfer> out;
  const bool debits = (f.flags & ff::debits) != 0;
  const bool credits = (f.flags & ff::credits) != 0;
  if (!debits && !credits)
    return result<std::vector<ledger::transfer>>(errc::invalid_request, "account filter without debits or credits");
  std::string ts_min, ts_max;
  if (f.limit == 0 || !time_bounds(f, ts_min, ts_max))
    return out;
  const auto [name, sql] = account_transfers_sql(debits, credits, (f.flags & ff::reversed) != 0);
  const std::string tenant = rows::tenant_param(t);
  const std::string account = codec::uuid_text(f.account.value);
  const std::string ud128 = codec::uuid_text(f.user_data_128);
  const std::string ud64 = std::to_string(static_cast<int64_t>(f.user_data_64));
  const std::string ud32 = std::to_string(f.user_data_32);
  const std::string code = std::to_string(f.code);
  const std::string limit = limit_param(f.limit);
  auto r = c.query_prepared(name, sql,
                            {tenant.c_str(), account.c_str(), ts_min.c_str(), ts_max.c_str(), ud128.c_str(),
                             ud64.c_str(), ud32.c_str(), code.c_str(), limit.c_str()});
  if (!r.ok())
    return r.error();
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    rows::reader in(r.value(), i);
    out.push_back(rows::read_transfer(in));
    if (!in.ok())
      return malformed(in, "transfers");
  }
  return out;
}

result<std::vector<ledger::account_balance>> account_balances(pg_connection& c, tenant_id t,
                                                              const ledger::account_filter& f) {
  std::vector<ledger::account_balance> out;
  std::string ts_min, ts_max;
  if (f.limit == 0 || !time_bounds(f, ts_min, ts_max))
    return out;
  const bool reversed = (f.flags & ledger::account_filter_flags::reversed) != 0;
  // The history flag is checked in the same statement (history rows of an account without it would be a bug,
  // but the contract says empty).
  std::string sql =
      "SELECT b.timestamp, b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted "
      "FROM account_balances b WHERE b.tenant_id = $1 AND b.account_id = $2 "
      "AND b.timestamp >= $3 AND b.timestamp <= $4 AND EXISTS (SELECT 1 FROM accounts a "
      "WHERE a.tenant_id = $1 AND a.id = $2 AND (a.flags & 8) <> 0) ORDER BY b.timestamp ";
  sql += reversed ? "DESC LIMIT $5" : "ASC LIMIT $5";
  static_assert(ledger::account_flags::history == 8, "the SQL above tests flag bit 8");
  const std::string tenant = rows::tenant_param(t);
  const std::string account = codec::uuid_text(f.account.value);
  const std::string limit = limit_param(f.limit);
  auto r = c.query_prepared(reversed ? "ls_balances_desc" : "ls_balances_asc", sql,
                            {tenant.c_str(), account.c_str(), ts_min.c_str(), ts_max.c_str(), limit.c_str()});
  if (!r.ok())
    return r.error();
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    rows::reader in(r.value(), i);
    ledger::account_balance b;
    b.timestamp = in.u64_bits();
    b.debits_pending = in.u64_bits();
    b.debits_posted = in.u64_bits();
    b.credits_pending = in.u64_bits();
    b.credits_posted = in.u64_bits();
    if (!in.ok())
      return malformed(in, "account_balances");
    out.push_back(b);
  }
  return out;
}

result<tenant_state> load_tenant_state(pg_connection& c, tenant_id t, size_t max_expiries) {
  const std::string tenant = rows::tenant_param(t);
  auto r =
      c.query_prepared("ls_tenant_clock", "SELECT last_timestamp FROM tenants WHERE tenant_id = $1", {tenant.c_str()});
  if (!r.ok())
    return r.error();
  tenant_state out;
  if (r->size() == 1) {
    rows::reader in(r.value(), 0);
    out.exists = true;
    out.last_timestamp = in.u64_bits();
    if (!in.ok())
      return malformed(in, "tenants");
  }
  // One more than asked tells whether more are pending.
  const uint64_t want = max_expiries >= bigint_max ? bigint_max : uint64_t{max_expiries} + 1;
  auto expiries = query_expiries(c, t, 0, want);
  if (!expiries.ok())
    return expiries.error();
  out.expiries = std::move(expiries.value());
  if (out.expiries.size() > max_expiries) {
    out.more_expiries = true;
    out.expiries.resize(max_expiries);
  }
  return out;
}

result<std::vector<std::pair<transfer_id, uint64_t>>> load_expiries(pg_connection& c, tenant_id t, uint64_t from_ns,
                                                                    size_t limit) {
  return query_expiries(c, t, from_ns, limit);
}

result<std::vector<std::pair<tenant_id, uint64_t>>> next_expiry_per_tenant(pg_connection& c) {
  // One probe of the partial expiry index per tenant (rather than scanning every pending row).
  auto r =
      c.query_prepared("ls_next_expiry",
                       "SELECT t.tenant_id, e.expires_at FROM tenants t CROSS JOIN LATERAL (SELECT p.expires_at "
                       "FROM pending_transfers p WHERE p.tenant_id = t.tenant_id AND p.state = 1 AND p.expires_at > 0 "
                       "ORDER BY p.expires_at LIMIT 1) e ORDER BY t.tenant_id",
                       {});
  if (!r.ok())
    return r.error();
  std::vector<std::pair<tenant_id, uint64_t>> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    rows::reader in(r.value(), i);
    const tenant_id tenant(in.u64_bits());
    const uint64_t at = in.u64_bits();
    if (!in.ok())
      return malformed(in, "pending_transfers");
    out.emplace_back(tenant, at);
  }
  return out;
}

}  // namespace caudal::storage
