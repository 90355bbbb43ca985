// verify(): passes on a consistent ledger and reports each kind of violation when rows are corrupted by SQL,
// naming the tenant, the ledger or account and the two numbers; the report is bounded.
#include <doctest/doctest.h>

#include <algorithm>

#include "storage/admin_store.hpp"
#include "storage/ledger_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

// Two tenants with posted, pending, posted-pending, voided and expired transfers; balances consistent.
struct consistent_ledger {
  tenant_id one, two;
  std::vector<ledger::effects> kept;

  explicit consistent_ledger(storage::pg_connection& c) : one(new_tenant(c, "one")), two(new_tenant(c, "two")) {
    kept.reserve(8);
    for (uint64_t scale = 1; scale <= 2; ++scale) {
      ledger_sim s(scale * 1'000'000'000);
      s.create_account(acct(1), ledger::account_flags::history);
      s.create_account(acct(2));
      s.create_account(acct(3), 0, 840);
      s.create_account(acct(4), 0, 840);
      kept.push_back(s.take());
      s.single(xfer(1), acct(1), acct(2), 100 * scale);
      s.pending(xfer(2), acct(2), acct(1), 40 * scale, 10);
      s.pending(xfer(3), acct(1), acct(2), 30 * scale);
      s.pending(xfer(4), acct(1), acct(2), 20 * scale);
      s.pending(xfer(5), acct(3), acct(4), 9 * scale, 5);
      s.single(xfer(6), acct(4), acct(3), 3 * scale);
      kept.push_back(s.take());
      s.post(xfer(7), xfer(3), 25 * scale);
      s.void_pending(xfer(8), xfer(4));
      s.expire(xfer(5));
      kept.push_back(s.take());
    }
    commit_ok(c, {{one, &kept[0]}, {two, &kept[3]}});
    commit_ok(c, {{one, &kept[1]}, {one, &kept[2]}, {two, &kept[4]}, {two, &kept[5]}});
  }
};

storage::verify_report run_verify(storage::pg_connection& c) {
  auto r = storage::verify(c);
  REQUIRE_MESSAGE(r.ok(), why(r));
  return r.value();
}

std::string all(const storage::verify_report& r) {
  std::string s;
  for (const auto& v : r.violations)
    s += v + "\n";
  return s;
}

bool has(const storage::verify_report& r, const std::string& text) {
  return std::any_of(r.violations.begin(), r.violations.end(),
                     [&](const std::string& v) { return v.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("verify: a consistent ledger passes; each kind of corruption is reported precisely") {
  test_database db("verify");
  auto c = db.connect();
  consistent_ledger l(*c);
  const std::string one = std::to_string(l.one.value);
  const std::string two = std::to_string(l.two.value);

  auto clean = run_verify(*c);
  CHECK_MESSAGE(clean.ok, all(clean));
  CHECK(clean.violations.empty());
  CHECK(clean.tenants_checked == 2);
  CHECK(clean.accounts_checked == 8);
  CHECK(clean.transfers_checked == 16);
  // Sanity of the fixture: pending and posted balances are both exercised.
  CHECK(scalar(*c, "SELECT count(*) FROM accounts WHERE debits_pending > 0 OR credits_pending > 0") != "0");

  SUBCASE("an account's posted balance off: the account and its ledger are reported") {
    sql_ok(*c, "UPDATE accounts SET debits_posted = debits_posted + 5 WHERE tenant_id = " + one + " AND id = '" +
                   uuid(1) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK_FALSE(r.ok);
    CHECK(has(r, "tenant " + one + " account 1: debits_posted 130 != 125 from its transfers"));
    CHECK(has(r, "tenant " + one + " ledger 700: sum of debits_posted 130 != sum of credits_posted 125"));
    CHECK(r.violations.size() == 2);
  }
  SUBCASE("pending balances off on both sides: accounts reported, ledger still balanced") {
    sql_ok(*c, "UPDATE accounts SET debits_pending = debits_pending + 7 WHERE tenant_id = " + two + " AND id = '" +
                   uuid(3) + "'");
    sql_ok(*c, "UPDATE accounts SET credits_pending = credits_pending + 7 WHERE tenant_id = " + two + " AND id = '" +
                   uuid(4) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + two + " account 3: debits_pending 7 != 0 from its transfers"));
    CHECK(has(r, "tenant " + two + " account 4: credits_pending 7 != 0 from its transfers"));
    CHECK_FALSE(has(r, "ledger"));
    CHECK(r.violations.size() == 2);
  }
  SUBCASE("an account moved to another ledger: only the ledger sums are off") {
    sql_ok(*c, "UPDATE accounts SET ledger = 701 WHERE tenant_id = " + one + " AND id = '" + uuid(2) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + one + " ledger 700: sum of debits_posted 125 != sum of credits_posted 0"));
    CHECK(has(r, "tenant " + one + " ledger 701: sum of debits_posted 0 != sum of credits_posted 125"));
    CHECK(has(r, "tenant " + one + " ledger 700: sum of debits_pending 0 != sum of credits_pending 40"));
    CHECK_FALSE(has(r, "account"));
  }
  SUBCASE("a transfer's amount changed: both its accounts disagree with their transfers") {
    sql_ok(*c, "UPDATE transfers SET amount = 101 WHERE tenant_id = " + one + " AND id = '" + uuid(1) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + one + " account 1: debits_posted 125 != 126 from its transfers"));
    CHECK(has(r, "tenant " + one + " account 2: credits_posted 125 != 126 from its transfers"));
    CHECK(r.violations.size() == 2);
  }
  SUBCASE("a pending state changed behind the balances' back") {
    sql_ok(*c, "UPDATE pending_transfers SET state = 3 WHERE tenant_id = " + two + " AND id = '" + uuid(2) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + two + " account 2: debits_pending 80 != 0 from its transfers"));
    CHECK(has(r, "tenant " + two + " account 1: credits_pending 80 != 0 from its transfers"));
  }
  SUBCASE("a pending transfer without its pending_transfers row, and a row without its transfer") {
    sql_ok(*c, "DELETE FROM pending_transfers WHERE tenant_id = " + one + " AND id = '" + uuid(5) + "'");
    sql_ok(*c, "INSERT INTO pending_transfers VALUES (" + two + ", '" + uuid(1) + "', 2, 0)");
    sql_ok(*c, "INSERT INTO pending_transfers VALUES (" + two + ", '" + uuid(99) + "', 4, 0)");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + one + " transfer 5: a pending transfer without a pending_transfers row"));
    CHECK(has(r, "tenant " + two + " transfer 1: a pending_transfers row without a pending transfer"));
    CHECK(has(r, "tenant " + two + " transfer 99: a pending_transfers row without a pending transfer"));
    CHECK(r.violations.size() == 3);  // the expired one's state did not count anyway
  }
  SUBCASE("a transfer whose account row is missing") {
    sql_ok(*c, "INSERT INTO transfers SELECT tenant_id, '" + uuid(50) + "', '" + uuid(60) + "', '" + uuid(61) +
                   "', 8, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, "
                   "timestamp + 1000000 FROM transfers WHERE tenant_id = " +
                   one + " AND id = '" + uuid(1) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(
        has(r, "tenant " + one + " account 60: has transfers but no account row (debits_posted 8, credits_posted 0)"));
    CHECK(
        has(r, "tenant " + one + " account 61: has transfers but no account row (debits_posted 0, credits_posted 8)"));
  }
  SUBCASE("a tenant's rows never answer for another tenant's account") {
    // Account 4 still exists under tenant one: tenant two's transfers must not be matched with it.
    sql_ok(*c, "DELETE FROM accounts WHERE tenant_id = " + two + " AND id = '" + uuid(4) + "'");
    auto r = run_verify(*c);
    INFO(all(r));
    CHECK(has(r, "tenant " + two + " account 4: has transfers but no account row"));
    CHECK_FALSE(has(r, "tenant " + one + " "));
  }
  SUBCASE("the report is bounded to 100 violations") {
    sql_ok(*c,
           "INSERT INTO accounts SELECT tenant_id, ('00000000-0000-0000-0000-' || lpad(to_hex(1000 + g), 12, '0'))"
           "::uuid, user_data_128, user_data_64, user_data_32, ledger, code, flags, 0, 1, 0, 0, timestamp, version "
           "FROM accounts, generate_series(1, 150) AS g WHERE tenant_id = " +
               one + " AND id = '" + uuid(2) + "'");
    auto r = run_verify(*c);
    CHECK_FALSE(r.ok);
    CHECK(r.violations.size() == 100);
    CHECK(r.accounts_checked == 158);
  }
  SUBCASE("the snapshot is repeatable: a commit racing with verify is seen wholly or not at all") {
    // A read-only transaction, ended afterwards: the connection is reusable and not left in a transaction.
    CHECK(PQtransactionStatus(c->raw()) == PQTRANS_IDLE);
    CHECK(run_verify(*c).ok);
    CHECK(PQtransactionStatus(c->raw()) == PQTRANS_IDLE);
  }
}

TEST_CASE("verify scoped to tenants: checks and counts only those, finds their corruption, ignores the others'") {
  test_database db("verify_scope");
  auto c = db.connect();
  consistent_ledger l(*c);
  const std::string one = std::to_string(l.one.value);
  sql_ok(*c, "UPDATE accounts SET debits_posted = debits_posted + 5 WHERE tenant_id = " + one + " AND id = '" +
                 uuid(1) + "'");
  auto scoped = [&](std::vector<tenant_id> tenants) {
    auto r = storage::verify(*c, tenants);
    REQUIRE_MESSAGE(r.ok(), why(r));
    return r.value();
  };

  const auto other = scoped({l.two});
  CHECK_MESSAGE(other.ok, all(other));
  CHECK(other.tenants_checked == 1);
  CHECK(other.accounts_checked == 4);
  CHECK(other.transfers_checked == 8);

  const auto broken = scoped({l.one});
  CHECK_FALSE(broken.ok);
  CHECK(has(broken, "tenant " + one + " account 1: debits_posted 130 != 125 from its transfers"));
  CHECK(broken.tenants_checked == 1);

  const auto both = scoped({l.one, l.two, tenant_id{987654}, tenant_id{UINT64_MAX}});  // unknown ids: skipped
  CHECK_FALSE(both.ok);
  CHECK(both.tenants_checked == 2);
  CHECK(both.transfers_checked == 16);

  const auto none = scoped({tenant_id{UINT64_MAX}});  // a scope naming no tenant checks nothing (not all)
  CHECK(none.ok);
  CHECK(none.tenants_checked == 0);
  CHECK(none.transfers_checked == 0);
  CHECK_FALSE(run_verify(*c).ok);  // and the unscoped verify still sees everything
}
