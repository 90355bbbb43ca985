// commit_group under failure: a statement error rolls back the whole group (every tenant in it); a writer
// killed before COMMIT, or while COMMIT runs, never leaves part of a group behind, and each case answers
// the code its caller must act on (commit_failed / commit_outcome_unknown / database_unavailable).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "storage/admin_store.hpp"
#include "storage/ledger_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

// Row counts of every table the group commit writes, and the tenant clocks: a fingerprint of the database.
std::string fingerprint(storage::pg_connection& c) {
  return scalar(c,
                "SELECT (SELECT count(*) FROM accounts) || '/' || (SELECT count(*) FROM transfers) || '/' || "
                "(SELECT count(*) FROM pending_transfers) || '/' || (SELECT count(*) FROM failed_transfers) || '/' || "
                "(SELECT count(*) FROM account_balances) || '/' || (SELECT coalesce(sum(debits_posted + "
                "debits_pending), 0) FROM accounts) || '/' || (SELECT string_agg(last_timestamp::text, ',' ORDER BY "
                "tenant_id) FROM tenants) || '/' || (SELECT count(*) FROM pending_transfers WHERE state <> 1)");
}

void require_consistent(storage::pg_connection& c) {
  auto report = storage::verify(c);
  REQUIRE_MESSAGE(report.ok(), why(report));
  CHECK_MESSAGE(report->ok, (report->violations.empty() ? std::string() : report->violations[0]));
}

// A ledger with some history: two tenants, accounts, transfers, a pending one.
struct base_ledger {
  tenant_id one, two;
  ledger_sim sim_one{1'000'000'000}, sim_two{2'000'000'000};
  std::vector<ledger::effects> kept;

  explicit base_ledger(storage::pg_connection& c) : one(new_tenant(c, "one")), two(new_tenant(c, "two")) {
    kept.reserve(16);
    for (auto* s : {&sim_one, &sim_two}) {
      s->create_account(acct(1), ledger::account_flags::history);
      s->create_account(acct(2));
      s->single(xfer(1), acct(1), acct(2), 10);
      s->pending(xfer(2), acct(1), acct(2), 5, 60);
    }
    kept.push_back(sim_one.take());
    kept.push_back(sim_two.take());
    commit_ok(c, {{one, &kept[0]}, {two, &kept[1]}});
  }
  // A unit per tenant touching every table: new accounts, transfers, a post, a failed id, history.
  std::pair<ledger::effects*, ledger::effects*> next_units() {
    for (auto* s : {&sim_one, &sim_two}) {
      s->create_account(acct(3));
      s->single(xfer(10), acct(1), acct(3), 7);
      s->post(xfer(11), xfer(2), 5);
      s->pending(xfer(12), acct(3), acct(2), 1, 30);
      s->fail(xfer(13));
    }
    kept.push_back(sim_one.take());
    kept.push_back(sim_two.take());
    return {&kept[kept.size() - 2], &kept[kept.size() - 1]};
  }
};

std::string backend_state(storage::pg_connection& admin, int pid) {
  const std::string p = std::to_string(pid);
  auto r = admin.query(
      "SELECT state || ':' || coalesce(wait_event, '') || ':' || query FROM pg_stat_activity "
      "WHERE pid = $1::int",
      {p.c_str()});
  return r.ok() && r->size() == 1 ? std::string(r->text(0, 0)) : std::string();
}

// Waits (up to 10 s) until the backend's "state:wait_event:query" starts with `prefix`.
bool wait_for_backend(storage::pg_connection& admin, int pid, const std::string& prefix) {
  for (int i = 0; i < 1000; ++i) {
    if (backend_state(admin, pid).rfind(prefix, 0) == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE_TEMPLATE("a statement failing anywhere in the group rolls back every tenant's work: commit_failed", P,
                   pipelined_path, copied_path) {
  test_database db("commit_failed");
  auto c = db.connect("caudal-writer");
  base_ledger l(*c);
  const std::string before = fingerprint(*c);
  auto [u1, u2] = l.next_units();

  SUBCASE("a duplicate key in the last COPY (failed_transfers), after the others succeeded") {
    ledger::effects dup;
    dup.failed_transfers = {{xfer(13), ledger::create_transfer_result::exceeds_credits}};
    auto r = storage::commit_group(*c, {{l.one, u1}, {l.two, u2}, {l.one, &dup}}, 0, P::path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::commit_failed);
  }
  SUBCASE("a transfer that exists already (a retried unit)") {
    ledger::effects again;
    again.created_transfers = {l.kept[0].created_transfers[0]};
    auto r = storage::commit_group(*c, {{l.two, u2}, {l.one, u1}, {l.one, &again}}, 0, P::path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::commit_failed);
  }
  SUBCASE("an update of an account that does not exist") {
    ledger::effects ghost;
    ghost.account_updates = {{acct(77), 0, 1, 0, 0, 99}};
    auto r = storage::commit_group(*c, {{l.one, u1}, {l.two, u2}, {l.two, &ghost}}, 0, P::path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::commit_failed);
  }
  SUBCASE("a pending update of a transfer that is not pending") {
    ledger::effects twice;
    twice.pending_updates = {{xfer(1), ledger::pending_state::posted}};
    auto r = storage::commit_group(*c, {{l.one, u1}, {l.two, u2}, {l.one, &twice}}, 0, P::path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::commit_failed);
  }
  SUBCASE("a clock for a tenant that does not exist") {
    ledger::effects stray;
    stray.last_timestamp = 10;
    auto r = storage::commit_group(*c, {{l.one, u1}, {l.two, u2}, {tenant_id(4242), &stray}}, 0, P::path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::commit_failed);
  }
  // Nothing of the group is there, the connection is usable and idle, and the same group then commits.
  CHECK(fingerprint(*c) == before);
  CHECK(c->healthy());
  CHECK(PQtransactionStatus(c->raw()) == PQTRANS_IDLE);
  require_consistent(*c);
  commit_ok(*c, {{l.one, u1}, {l.two, u2}}, P::path);
  CHECK(fingerprint(*c) != before);
  require_consistent(*c);
}

TEST_CASE_TEMPLATE("the writer's backend terminated before COMMIT: commit_failed, nothing written", P, pipelined_path,
                   copied_path) {
  test_database db("kill_before_commit");
  auto admin = db.connect("caudal-test-admin");
  auto w = db.connect("caudal-writer-kill");
  base_ledger l(*w);
  const std::string before = fingerprint(*admin);
  auto [u1, u2] = l.next_units();
  const int pid = w->backend_pid();

  std::atomic<int> code{-1};
  std::thread writer([&] {
    auto r = storage::commit_group(*w, {{l.one, u1}, {l.two, u2}}, /*delay_before_commit_ms=*/4000, P::path);
    code = r.ok() ? 0 : static_cast<int>(r.error().code);
  });
  const bool held = wait_for_backend(*admin, pid, "idle in transaction");
  const std::string p = std::to_string(pid);
  auto killed = admin->query("SELECT pg_terminate_backend($1::int)", {p.c_str()});
  writer.join();
  REQUIRE(held);
  REQUIRE(killed.ok());
  // The answer is certain here: the dead backend is noticed before COMMIT is sent.
  CHECK(code.load() == static_cast<int>(errc::commit_failed));
  CHECK(fingerprint(*admin) == before);
  require_consistent(*admin);

  CHECK_FALSE(w->healthy());
  auto refused = storage::commit_group(*w, {{l.one, u1}, {l.two, u2}}, 0, P::path);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::database_unavailable);
  REQUIRE(w->reconnect().ok());
  commit_ok(*w, {{l.one, u1}, {l.two, u2}}, P::path);
  require_consistent(*admin);
}

TEST_CASE_TEMPLATE("the server ended the writer's idle session: database_unavailable, nothing written, safe to retry",
                   P, pipelined_path, copied_path) {
  test_database db("idle_ended");
  auto admin = db.connect("caudal-test-admin");
  auto w = db.connect("caudal-writer-idle");
  base_ledger l(*w);
  const std::string before = fingerprint(*admin);
  auto [u1, u2] = l.next_units();
  const std::string p = std::to_string(w->backend_pid());
  REQUIRE(admin->query("SELECT pg_terminate_backend($1::int)", {p.c_str()}).ok());
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = scalar(*admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = " + p) == "0";
    if (!gone)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(gone);

  // The writer has not read the server's goodbye yet: it finds out on its first statement, before COMMIT.
  auto r = storage::commit_group(*w, {{l.one, u1}, {l.two, u2}}, 0, P::path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::database_unavailable);
  CHECK(fingerprint(*admin) == before);
  // What the batch writer does with database_unavailable: reconnect and send the same group again.
  REQUIRE(w->reconnect().ok());
  commit_ok(*w, {{l.one, u1}, {l.two, u2}}, P::path);
  CHECK(fingerprint(*admin) != before);
  require_consistent(*admin);
}

TEST_CASE_TEMPLATE("the connection lost while COMMIT runs: commit_outcome_unknown; a cancelled COMMIT: commit_failed",
                   P, pipelined_path, copied_path) {
  test_database db("kill_in_commit");
  auto admin = db.connect("caudal-test-admin");
  auto w = db.connect("caudal-writer-commit");
  base_ledger l(*w);
  // A deferred trigger makes COMMIT itself take seconds, so the test can act while it is in flight.
  sql_ok(*admin,
         "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;"
         "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON tenants DEFERRABLE INITIALLY DEFERRED "
         "FOR EACH ROW EXECUTE FUNCTION slow_commit()");
  const std::string before = fingerprint(*admin);
  auto [u1, u2] = l.next_units();

  auto run = [&](const char* action) {
    const int pid = w->backend_pid();
    std::atomic<int> code{-1};
    std::thread writer([&] {
      auto r = storage::commit_group(*w, {{l.one, u1}, {l.two, u2}}, 0, P::path);
      code = r.ok() ? 0 : static_cast<int>(r.error().code);
    });
    const bool in_commit = wait_for_backend(*admin, pid, "active:PgSleep:COMMIT");
    const std::string p = std::to_string(pid);
    auto acted = admin->query(std::string("SELECT ") + action + "($1::int)", {p.c_str()});
    writer.join();
    CHECK(in_commit);
    CHECK(acted.ok());
    return code.load();
  };

  SUBCASE("terminated: the outcome is unknown to the writer (here: nothing was committed)") {
    CHECK(run("pg_terminate_backend") == static_cast<int>(errc::commit_outcome_unknown));
    CHECK_FALSE(w->healthy());
  }
  SUBCASE("cancelled: the server rolled back and said so on a live connection") {
    CHECK(run("pg_cancel_backend") == static_cast<int>(errc::commit_failed));
    CHECK(w->healthy());
  }
  CHECK(fingerprint(*admin) == before);
  require_consistent(*admin);
  sql_ok(*admin, "DROP TRIGGER slow_commit ON tenants");
  if (!w->healthy())
    REQUIRE(w->reconnect().ok());
  commit_ok(*w, {{l.one, u1}, {l.two, u2}}, P::path);
  CHECK(fingerprint(*admin) != before);
  require_consistent(*admin);
}

TEST_CASE("an empty group commits nothing and needs no connection") {
  test_database db("empty_group");
  auto c = db.connect();
  ledger::effects nothing;
  CHECK(storage::commit_group(*c, {}).ok());
  CHECK(storage::commit_group(*c, {{tenant_id(1), &nothing}}).ok());
}
