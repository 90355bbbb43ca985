#include "tests/support/ledger_fixture.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

namespace caudal::test {

ledger_fixture::ledger_fixture(const std::string& label, std::vector<std::string> node_args) : db(label) {
  node_options o;
  o.pg_url = db.url();
  o.extra_args = std::move(node_args);
  node = std::make_unique<node_process>(std::move(o));
}

client::options ledger_fixture::operator_options() const {
  client::options o;
  o.server = node->rpc_address();
  o.client_id = node->options().operator_client_id;
  o.client_secret = node->options().operator_secret;
  o.timeout_ms = 30000;
  o.ca_file = node->ca_file();
  o.insecure = !node->options().tls;
  return o;
}

client::connection ledger_fixture::operator_session() const {
  client::connection c;
  auto r = c.open(operator_options());
  if (!r.ok())  // (REQUIRE_MESSAGE would build its message, and call error(), even on success)
    FAIL("operator cannot authenticate: " << errc_name(r.error().code) << "\n" << node->log_tail());
  return c;
}

tenant_handle ledger_fixture::create_tenant(const std::string& name, const std::string& country) {
  auto op = operator_session();
  auto t = op.create_tenant(name, country);
  if (!t.ok())
    FAIL("create_tenant failed: " << errc_name(t.error().code));
  tenant_handle h;
  h.created = t.value();
  h.opts.server = node->rpc_address();
  h.opts.client_id = h.created.client_id;
  h.opts.client_secret = h.created.client_secret;
  h.opts.timeout_ms = 30000;
  h.opts.ca_file = node->ca_file();
  h.opts.insecure = !node->options().tls;
  return h;
}

client::connection ledger_fixture::session(const tenant_handle& t) const { return session_on(*node, t); }

client::connection session_on(const node_process& n, const tenant_handle& t) {
  client::connection c;
  auto o = t.opts;
  o.server = n.rpc_address();
  auto r = c.open(o);
  if (!r.ok())
    FAIL("tenant cannot authenticate on " << n.rpc_address() << ": " << errc_name(r.error().code));
  return c;
}

client::connection ledger_fixture::session_retrying(const tenant_handle& t, int seconds) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (true) {
    client::connection c;
    auto o = t.opts;
    o.server = node->rpc_address();
    auto r = c.open(o);
    if (r.ok())
      return c;
    if (std::chrono::steady_clock::now() >= deadline)
      FAIL("no session within " << seconds << " s: " << errc_name(r.error().code));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void ledger_fixture::require_verify_ok() {
  auto op = operator_session();
  auto rep = op.verify();
  if (!rep.ok())
    FAIL("verify failed: " << errc_name(rep.error().code));
  std::string violations;
  for (auto& v : rep->violations)
    violations += v + "\n";
  REQUIRE_MESSAGE(rep->ok, "ledger violations:\n" << violations);
}

ledger::account make_account(uint64_t id, uint32_t ledger, uint16_t code, uint16_t flags) {
  ledger::account a;
  a.id = acct(id);
  a.ledger = ledger;
  a.code = code;
  a.flags = flags;
  return a;
}

ledger::transfer make_transfer(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount, uint32_t ledger,
                               uint16_t code, uint16_t flags) {
  ledger::transfer t;
  t.id = xfer(id);
  t.debit_account_id = acct(debit);
  t.credit_account_id = acct(credit);
  t.amount = amount;
  t.ledger = ledger;
  t.code = code;
  t.flags = flags;
  return t;
}

account_id acct(uint64_t id) { return account_id{u128::from_u64(id)}; }
transfer_id xfer(uint64_t id) { return transfer_id{u128::from_u64(id)}; }

}  // namespace caudal::test
