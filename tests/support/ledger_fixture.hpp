#pragma once
// Integration fixture: a fresh database, a real caudal-node on it, an operator session, and helpers to
// make tenants, accounts and transfers. Everything goes through the RPC API, as a client would.
#include <memory>
#include <string>
#include <vector>

#include "actors/ledger/types.hpp"
#include "client/connection.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/test_database.hpp"

namespace caudal::test {

struct tenant_handle {
  client::new_tenant created;
  client::options opts;  // to open more sessions of this tenant
};

class ledger_fixture {
 public:
  explicit ledger_fixture(const std::string& label, std::vector<std::string> node_args = {});

  test_database db;
  std::unique_ptr<node_process> node;

  client::options operator_options() const;
  client::connection operator_session() const;
  tenant_handle create_tenant(const std::string& name, const std::string& country = "MX");
  client::connection session(const tenant_handle& t) const;
  // Opens a session, retrying while the node is (re)starting.
  client::connection session_retrying(const tenant_handle& t, int seconds = 30) const;
  // The ledger checker over the whole database; fails the test on a violation.
  void require_verify_ok();
};

// A session of tenant t through node n (any node serves any tenant); fails the test if it cannot open.
client::connection session_on(const node_process& n, const tenant_handle& t);

ledger::account make_account(uint64_t id, uint32_t ledger = 1, uint16_t code = 1, uint16_t flags = 0);
ledger::transfer make_transfer(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount, uint32_t ledger = 1,
                               uint16_t code = 1, uint16_t flags = 0);
account_id acct(uint64_t id);
transfer_id xfer(uint64_t id);

}  // namespace caudal::test
