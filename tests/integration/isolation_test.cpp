// Invariant 6 (DESIGN.md section 4): a session bound to tenant A can never read or write tenant B.
#include <doctest/doctest.h>

#include "tests/support/ledger_fixture.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_transfer_result;

TEST_CASE("tenant A's session cannot read or write tenant B") {
  ledger_fixture fx("isolation");
  auto a = fx.create_tenant("tenant-a");
  auto b = fx.create_tenant("tenant-b");
  auto ca = fx.session(a);
  auto cb = fx.session(b);
  REQUIRE(ca.tenant() != cb.tenant());

  // Same ids in both tenants are different accounts.
  REQUIRE(ca.create_accounts({make_account(1), make_account(2), make_account(3)}).ok());
  REQUIRE(cb.create_accounts({make_account(1), make_account(2)}).ok());
  auto ra = ca.create_transfers({make_transfer(10, 1, 2, 700), make_transfer(11, 3, 1, 5)});
  REQUIRE(ra.ok());
  CHECK(ra->at(0) == create_transfer_result::ok);

  // B sees its own account 1 untouched, and none of A's transfers or accounts.
  auto b1 = cb.lookup_accounts({acct(1), acct(3)});
  REQUIRE(b1.ok());
  REQUIRE(b1->size() == 1);
  CHECK(b1->at(0).debits_posted == 0);
  CHECK(b1->at(0).credits_posted == 0);
  auto bx = cb.lookup_transfers({xfer(10), xfer(11)});
  REQUIRE(bx.ok());
  CHECK(bx->empty());
  ledger::account_filter f;
  f.account = acct(1);
  f.limit = 100;
  f.flags = 3;
  auto bh = cb.account_transfers(f);
  REQUIRE(bh.ok());
  CHECK(bh->empty());

  // B cannot move A's money: A's account 3 does not exist for B; A's transfer id 10 is free for B.
  auto rb = cb.create_transfers({make_transfer(12, 3, 1, 5), make_transfer(10, 2, 1, 1)});
  REQUIRE(rb.ok());
  CHECK(rb->at(0) == create_transfer_result::debit_account_not_found);
  CHECK(rb->at(1) == create_transfer_result::ok);

  auto a1 = ca.lookup_accounts({acct(1)});
  REQUIRE(a1.ok());
  REQUIRE(a1->size() == 1);
  CHECK(a1->at(0).debits_posted == 700);
  CHECK(a1->at(0).credits_posted == 5);
  auto ax = ca.lookup_transfers({xfer(10)});
  REQUIRE(ax.ok());
  REQUIRE(ax->size() == 1);
  CHECK(ax->at(0).amount == 700);  // A's transfer 10, not B's
  fx.require_verify_ok();
}
