// The paths a client takes through the RPC API of a real node on a real PostgreSQL: accounts, transfers,
// linked chains, two-phase transfers, lookups, history, idempotent retries, rights, and bad input that
// must be answered with codes while nothing is written.
#include <capnp/rpc-twoparty.h>
#include <doctest/doctest.h>
#include <kj/async-io.h>

#include <thread>

#include "actors/ledger/result_codes.hpp"
#include "base/limits.hpp"
#include "schemas/api.capnp.h"
#include "security/tls.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/raw_rpc.hpp"

using namespace caudal;
using namespace caudal::test;
using ledger::create_account_result;
using ledger::create_transfer_result;
namespace tf = ledger::transfer_flags;
namespace af = ledger::account_flags;

namespace {

ledger::account lookup_one(client::connection& c, uint64_t id) {
  auto r = c.lookup_accounts({acct(id)});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  return r->front();
}

ledger::account_filter filter_of(uint64_t account, uint32_t limit = 100, uint32_t flags = 3) {
  ledger::account_filter f;
  f.account = acct(account);
  f.limit = limit;
  f.flags = flags;
  return f;
}

}  // namespace

TEST_CASE("a tenant moves money: accounts, transfers, chains, two-phase, lookups, history") {
  ledger_fixture fx("api");
  auto t = fx.create_tenant("acme");
  auto c = fx.session(t);
  CHECK(c.tenant() == t.created.tenant.id);

  auto accounts =
      c.create_accounts({make_account(1, 1, 10, af::history), make_account(2, 1, 10),
                         make_account(3, 1, 10, af::debits_must_not_exceed_credits), make_account(4, 2, 10)});
  REQUIRE(accounts.ok());
  CHECK(*accounts == std::vector<create_account_result>(4, create_account_result::ok));

  // A single transfer, then a linked chain whose second item fails: nothing of the chain applies.
  auto r1 = c.create_transfers({make_transfer(100, 1, 2, 500)});
  REQUIRE(r1.ok());
  CHECK(r1->at(0) == create_transfer_result::ok);
  auto chain = c.create_transfers(
      {make_transfer(101, 1, 2, 10, 1, 1, tf::linked), make_transfer(102, 3, 2, 10)});  // 3 has no credits
  REQUIRE(chain.ok());
  CHECK(chain->at(0) == create_transfer_result::linked_event_failed);
  CHECK(chain->at(1) == create_transfer_result::exceeds_credits);
  // A chain that succeeds.
  auto chain_ok = c.create_transfers({make_transfer(103, 2, 3, 50, 1, 1, tf::linked), make_transfer(104, 3, 1, 20)});
  REQUIRE(chain_ok.ok());
  CHECK(*chain_ok == std::vector<create_transfer_result>(2, create_transfer_result::ok));

  // Two-phase: reserve, then post part of it.
  auto pending = c.create_transfers({make_transfer(200, 1, 2, 70, 1, 1, tf::pending)});
  REQUIRE(pending.ok());
  CHECK(pending->at(0) == create_transfer_result::ok);
  auto a1 = lookup_one(c, 1);
  CHECK(a1.debits_pending == 70);
  ledger::transfer post = make_transfer(201, 0, 0, 30, 0, 0, tf::post_pending_transfer);
  post.pending_id = xfer(200);
  auto posted = c.create_transfers({post});
  REQUIRE(posted.ok());
  CHECK(posted->at(0) == create_transfer_result::ok);
  auto again = c.create_transfers({post});  // a retry
  REQUIRE(again.ok());
  CHECK(again->at(0) == create_transfer_result::exists);
  ledger::transfer void_it = make_transfer(202, 0, 0, 0, 0, 0, tf::void_pending_transfer);
  void_it.pending_id = xfer(200);
  auto voided = c.create_transfers({void_it});
  REQUIRE(voided.ok());
  CHECK(voided->at(0) == create_transfer_result::pending_transfer_already_posted);

  // Balances: 1 debited 500 + 30 (post), credited 20; 2 credited 500 + 30, debited 50; 3: +50 -20.
  a1 = lookup_one(c, 1);
  CHECK(a1.debits_posted == 530);
  CHECK(a1.credits_posted == 20);
  CHECK(a1.debits_pending == 0);
  auto a2 = lookup_one(c, 2);
  CHECK(a2.credits_posted == 530);
  CHECK(a2.debits_posted == 50);
  auto a3 = lookup_one(c, 3);
  CHECK(a3.credits_posted == 50);
  CHECK(a3.debits_posted == 20);

  // Lookups answer the found ones in request order.
  auto xs = c.lookup_transfers({xfer(104), xfer(999), xfer(100), xfer(101)});
  REQUIRE(xs.ok());
  REQUIRE(xs->size() == 2);
  CHECK(xs->at(0).id == xfer(104));
  CHECK(xs->at(1).id == xfer(100));
  CHECK(xs->at(1).amount == 500);
  CHECK(xs->at(1).timestamp != 0);
  auto posted_row = c.lookup_transfers({xfer(201)});
  REQUIRE(posted_row.ok());
  REQUIRE(posted_row->size() == 1);
  CHECK(posted_row->at(0).debit_account_id == acct(1));  // resolved from the pending transfer
  CHECK(posted_row->at(0).amount == 30);

  // Account transfers with paging.
  auto page1 = c.account_transfers(filter_of(1, 2));
  REQUIRE(page1.ok());
  REQUIRE(page1->size() == 2);
  auto f2 = filter_of(1, 10);
  f2.timestamp_min = page1->back().timestamp + 1;
  auto page2 = c.account_transfers(f2);
  REQUIRE(page2.ok());
  // Account 1: 100, 104, 200, 201 (101 failed).
  CHECK(page1->size() + page2->size() == 4);
  CHECK(page1->at(0).id == xfer(100));
  auto reversed = c.account_transfers(filter_of(1, 1, 3 | ledger::account_filter_flags::reversed));
  REQUIRE(reversed.ok());
  REQUIRE(reversed->size() == 1);
  CHECK(reversed->at(0).id == xfer(201));

  // History of the account with the history flag: one point per change, the last equal to its balances.
  auto hist = c.account_balances(filter_of(1, 100));
  REQUIRE(hist.ok());
  REQUIRE(hist->size() == 4);
  CHECK(hist->back().debits_posted == 530);
  CHECK(hist->back().credits_posted == 20);
  auto no_hist = c.account_balances(filter_of(2, 100));
  REQUIRE(no_hist.ok());
  CHECK(no_hist->empty());

  // The node reports itself healthy and counts what it served.
  int status = -1;
  auto health = run_command("curl -sS http://" + fx.node->http_address() + "/healthz", &status);
  CHECK(status == 0);
  CHECK(health == "ok\n");
  auto metrics = run_command("curl -sS http://" + fx.node->http_address() + "/metrics", &status);
  CHECK(metrics.find("caudal_requests_total{operation=\"create_transfers\",outcome=\"ok\"}") != std::string::npos);
  CHECK(metrics.find("caudal_request_duration_seconds_bucket{operation=\"create_transfers\",tenant=\"" +
                     std::to_string(t.created.tenant.id.value)) != std::string::npos);
  CHECK(metrics.find("caudal_group_commit_duration_seconds_count") != std::string::npos);

  fx.require_verify_ok();
}

TEST_CASE("retries are idempotent and transient failures are remembered") {
  ledger_fixture fx("idem");
  auto t = fx.create_tenant("idem");
  auto c = fx.session(t);
  REQUIRE(
      c.create_accounts({make_account(1), make_account(2), make_account(3, 1, 1, af::debits_must_not_exceed_credits)})
          .ok());
  auto again = c.create_accounts({make_account(1), make_account(2, 1, 2)});
  REQUIRE(again.ok());
  CHECK(again->at(0) == create_account_result::exists);
  CHECK(again->at(1) == create_account_result::exists_with_different_code);

  auto first = c.create_transfers({make_transfer(1, 1, 2, 5)});
  REQUIRE(first.ok());
  for (int i = 0; i < 3; ++i) {
    auto retry = c.create_transfers({make_transfer(1, 1, 2, 5)});
    REQUIRE(retry.ok());
    CHECK(retry->at(0) == create_transfer_result::exists);
  }
  auto different = c.create_transfers({make_transfer(1, 1, 2, 6)});
  REQUIRE(different.ok());
  CHECK(different->at(0) == create_transfer_result::exists_with_different_amount);
  CHECK(lookup_one(c, 1).debits_posted == 5);

  // 3 has no credits: exceeds_credits is transient, so the id is burnt even after 3 gets funds.
  auto refused = c.create_transfers({make_transfer(2, 3, 1, 3)});
  REQUIRE(refused.ok());
  CHECK(refused->at(0) == create_transfer_result::exceeds_credits);
  REQUIRE(c.create_transfers({make_transfer(3, 1, 3, 100)}).ok());
  auto retry = c.create_transfers({make_transfer(2, 3, 1, 3)});
  REQUIRE(retry.ok());
  CHECK(retry->at(0) == create_transfer_result::id_already_failed);

  // Also across a node restart (the ids are read back from PostgreSQL).
  fx.node->restart();
  auto c2 = fx.session_retrying(t);
  auto after = c2.create_transfers({make_transfer(1, 1, 2, 5), make_transfer(2, 3, 1, 3)});
  REQUIRE(after.ok());
  CHECK(after->at(0) == create_transfer_result::exists);
  CHECK(after->at(1) == create_transfer_result::id_already_failed);
  CHECK(lookup_one(c2, 1).debits_posted == 105);
  fx.require_verify_ok();
}

TEST_CASE("bad input gets codes and nothing is written") {
  ledger_fixture fx("badinput");
  auto t = fx.create_tenant("bad");
  auto c = fx.session(t);
  REQUIRE(c.create_accounts({make_account(1), make_account(2), make_account(3, 7)}).ok());

  auto r = c.create_transfers({make_transfer(1, 1, 2, 0),     // zero amount
                               make_transfer(2, 1, 99, 5),    // unknown account
                               make_transfer(3, 1, 3, 5),     // accounts on different ledgers
                               make_transfer(4, 1, 2, 5, 7),  // transfer ledger differs from accounts
                               make_transfer(0, 1, 2, 5),     // zero id
                               make_transfer(5, 1, 1, 5)});   // same account
  REQUIRE(r.ok());
  CHECK(r->at(0) == create_transfer_result::amount_must_not_be_zero);
  CHECK(r->at(1) == create_transfer_result::credit_account_not_found);
  CHECK(r->at(2) == create_transfer_result::accounts_must_have_the_same_ledger);
  CHECK(r->at(3) == create_transfer_result::transfer_must_have_the_same_ledger_as_accounts);
  CHECK(r->at(4) == create_transfer_result::id_must_not_be_zero);
  CHECK(r->at(5) == create_transfer_result::accounts_must_be_different);
  auto found = c.lookup_transfers({xfer(1), xfer(2), xfer(3), xfer(4), xfer(5)});
  REQUIRE(found.ok());
  CHECK(found->empty());
  auto a1 = lookup_one(c, 1);
  CHECK(a1.debits_posted == 0);
  CHECK(a1.debits_pending == 0);

  // A bad filter is a request error.
  auto bad_filter = c.account_transfers(filter_of(1, 0));
  REQUIRE_FALSE(bad_filter.ok());
  CHECK(bad_filter.error().code == errc::invalid_request);

  // More than 8,190 items: the client library refuses before sending...
  std::vector<ledger::transfer> big(limits::max_batch_items + 1, make_transfer(7, 1, 2, 1));
  auto too_big = c.create_transfers(big);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == errc::batch_too_large);

  // ...and so does the server, for a client that does not check (raw Cap'n Proto, on a thread of its own
  // since this one's event loop belongs to the client library).
  std::thread raw([&] {
    auto io = kj::setupAsyncIo();
    std::unique_ptr<security::tls_context> tls;
    auto stream = test::raw_tls_stream(io, *fx.node, tls);
    capnp::TwoPartyClient rpc(*stream);
    auto gateway = rpc.bootstrap().castAs<api::Gateway>();
    auto auth = gateway.authenticateRequest();
    auth.setClientId(t.created.client_id);
    auth.setClientSecret(t.created.client_secret);
    auto session = auth.send().wait(io.waitScope).getSession();
    auto req = session.createTransfersRequest();
    auto list = req.initTransfers(limits::max_batch_items + 1);
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setIdLo(1000 + i);
      list[i].setDebitAccountIdLo(1);
      list[i].setCreditAccountIdLo(2);
      list[i].setAmount(1);
      list[i].setLedger(1);
      list[i].setCode(1);
    }
    auto resp = req.send().wait(io.waitScope);
    CHECK(resp.getError().getCode() == api::ErrorCode::BATCH_TOO_LARGE);
    CHECK_FALSE(resp.getError().getRetryable());
    CHECK(resp.getResults().size() == 0);

    // Wrong credentials: a clear refusal, no session.
    auto bad = gateway.authenticateRequest();
    bad.setClientId(t.created.client_id);
    bad.setClientSecret("not-the-secret");
    auto refused = bad.send().wait(io.waitScope);
    CHECK(refused.getError().getCode() == api::ErrorCode::UNAUTHENTICATED);
  });
  raw.join();
  CHECK(lookup_one(c, 1).debits_posted == 0);
  fx.require_verify_ok();
}

TEST_CASE("operators manage tenants but move no money; tenants cannot administer") {
  ledger_fixture fx("rights");
  auto t = fx.create_tenant("rights-co", "CO");
  auto op = fx.operator_session();
  CHECK(op.is_admin());
  auto list = op.list_tenants();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).name == "rights-co");
  CHECK(list->at(0).country == "CO");
  auto dup = op.create_tenant("rights-co", "CO");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == errc::tenant_exists);
  auto bad_country = op.create_tenant("x", "colombia");
  REQUIRE_FALSE(bad_country.ok());
  CHECK(bad_country.error().code == errc::invalid_request);

  auto money = op.create_transfers({make_transfer(1, 1, 2, 5)});
  REQUIRE_FALSE(money.ok());
  CHECK(money.error().code == errc::forbidden);

  auto c = fx.session(t);
  CHECK_FALSE(c.is_admin());
  auto admin = c.list_tenants();
  REQUIRE_FALSE(admin.ok());
  CHECK(admin.error().code == errc::forbidden);
}

TEST_CASE("connections past rpc.max_connections are closed at once; a freed slot serves again") {
  ledger_fixture fx("maxconn", {"--rpc-max-connections", "2"});
  auto t = fx.create_tenant("busy");  // (its operator session is closed again)
  auto a = fx.session(t);
  auto b = fx.session(t);
  client::connection c;
  auto refused = c.open(t.opts);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::node_down);
  CHECK(errc_retryable(refused.error().code));
  // Those served keep working.
  REQUIRE(a.create_accounts({make_account(1)}).ok());
  b.close();
  // The node notices the closed connection asynchronously: retry briefly.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = c.open(t.opts).ok();
    if (!served)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(served);
}
