// Pending expiry is a durable event (DESIGN.md section 5): a pending transfer expires on time even when its
// tenant is passivated or the node restarted, without anyone touching the tenant.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;
using namespace std::chrono_literals;
namespace tf = ledger::transfer_flags;

namespace {

// Reads the pending transfer's state and the debit account's pending balance straight from PostgreSQL,
// so that looking does not wake the tenant.
std::pair<std::string, std::string> state_in_db(test_database& db, uint64_t tenant, uint64_t pending_lo) {
  auto conn = db.connect();
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "00000000-0000-0000-%04llx-%012llx",
                static_cast<unsigned long long>((pending_lo >> 48) & 0xffff),
                static_cast<unsigned long long>(pending_lo & 0xffffffffffffull));
  std::string t = std::to_string(tenant);
  auto st =
      conn->query("SELECT state FROM pending_transfers WHERE tenant_id = $1 AND id = $2::uuid", {t.c_str(), uuid});
  REQUIRE(st.ok());
  REQUIRE(st->size() == 1);
  auto bal = conn->query(
      "SELECT debits_pending FROM accounts WHERE tenant_id = $1 AND id = "
      "'00000000-0000-0000-0000-000000000001'::uuid",
      {t.c_str()});
  REQUIRE(bal.ok());
  REQUIRE(bal->size() == 1);
  return {st->text(0, 0), bal->text(0, 0)};
}

// Waits (up to `limit`) until the pending transfer is expired in PostgreSQL; then account 1 must hold
// `pending_left` in debits_pending.
bool expired_within(test_database& db, uint64_t tenant, uint64_t id, std::chrono::seconds limit,
                    const std::string& pending_left = "0") {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [state, pending] = state_in_db(db, tenant, id);
    if (state == "4") {
      CHECK(pending == pending_left);
      return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

ledger::transfer pending_transfer(uint64_t id, uint64_t amount, uint32_t timeout_s) {
  auto t = make_transfer(id, 1, 2, amount, 1, 1, tf::pending);
  t.timeout = timeout_s;
  return t;
}

}  // namespace

TEST_CASE("a pending transfer expires on time while its tenant is passivated") {
  ledger_fixture fx("expiry_passive", {"--account-idle-ms", "200", "--tenant-idle-ms", "400"});
  auto t = fx.create_tenant("expiring");
  uint64_t tenant = t.created.tenant.id.value;
  {
    auto c = fx.session(t);
    REQUIRE(c.create_accounts({make_account(1), make_account(2)}).ok());
    auto r = c.create_transfers({pending_transfer(1, 25, 3), pending_transfer(2, 5, 3600)});
    REQUIRE(r.ok());
    CHECK(r->at(0) == create_transfer_result::ok);
  }
  auto [state, pending] = state_in_db(fx.db, tenant, 1);
  CHECK(state == "1");
  CHECK(pending == "30");
  // The tenant goes idle and is passivated well before the expiry (3 s); nothing touches it after.
  std::this_thread::sleep_for(1500ms);
  CHECK(fx.node->log_tail(400).find("passivat") != std::string::npos);
  CHECK(state_in_db(fx.db, tenant, 1).first == "1");
  // It expires; the other pending transfer (one hour) stays reserved.
  REQUIRE(expired_within(fx.db, tenant, 1, 10s, "5"));

  // Posting it now is refused: it expired.
  auto c = fx.session(t);
  ledger::transfer post = make_transfer(3, 0, 0, 0, 0, 0, tf::post_pending_transfer);
  post.pending_id = xfer(1);
  auto r = c.create_transfers({post});
  REQUIRE(r.ok());
  CHECK(r->at(0) == create_transfer_result::pending_transfer_expired);
  fx.require_verify_ok();
}

TEST_CASE("a pending transfer expires on time across a node restart") {
  ledger_fixture fx("expiry_restart");
  auto t = fx.create_tenant("expiring-restart");
  uint64_t tenant = t.created.tenant.id.value;
  {
    auto c = fx.session(t);
    REQUIRE(c.create_accounts({make_account(1), make_account(2)}).ok());
    auto r = c.create_transfers({pending_transfer(1, 25, 4)});
    REQUIRE(r.ok());
    CHECK(r->at(0) == create_transfer_result::ok);
  }
  fx.node->kill9();
  fx.node->start();
  // Nobody uses the tenant after the restart: the node must wake it for the expiry by itself.
  REQUIRE(expired_within(fx.db, tenant, 1, 15s));
  fx.require_verify_ok();
}
