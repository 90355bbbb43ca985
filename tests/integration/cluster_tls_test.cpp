// The cluster port (CAF's network layer, BASP) is mutual TLS 1.3 only (issue 5, "TLS 1.3 on every
// connection"): a forwarded request carries its caller's authority, so only nodes, holders of a certificate
// of the cluster CA, may reach it. Two real nodes forward to each other while the cluster port of one is
// probed with what must be refused: plain TCP, TLS 1.2, TLS 1.3 without a client certificate, a certificate
// of another CA, and the client certificate scripts/lib/tls.sh makes (signed by the separate client CA, so
// it is no node's; `openssl s_client` says what the TLS layer did). The nodes' own connections
// stay up throughout: CAF 0.17.6's OpenSSL module leaves errors on its thread's OpenSSL error queue, and
// without security/openssl_error_queue.cpp one refused handshake closed every other link of the node.
// Every wait is a poll with a 60 s deadline; no timing is asserted on.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "cluster/placement.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/cluster_placement.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + part.size()))
    ++n;
  return n;
}

std::string whole_log(const node_process& n) {
  std::ifstream f(n.log_path());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string tls_file(const std::string& name) {
  return test_tls_dir() + "/" + name;
}

// Plain TCP to the cluster port: a BASP handshake is sent as cleartext; what comes back (nothing readable).
std::string plain_probe(const std::string& address) {
  const auto colon = address.rfind(':');
  return run_command("timeout 10 bash -c 'exec 3<>/dev/tcp/" + address.substr(0, colon) + "/" +
                     address.substr(colon + 1) +
                     "; printf \"\\x00\\x00\\x00\\x10caudal-probe\" >&3; "
                     "timeout 3 cat <&3 | head -c 64 | od -An -c' 2>&1");
}

// `openssl s_client` against the cluster port with `flags`; its output. stdin stays open a moment so that
// an alert the server sends after the handshake (TLS 1.3 checks the client's certificate then) is printed.
std::string s_client(const std::string& address, const std::string& flags) {
  return run_command("(sleep 1; echo) 2>/dev/null | timeout 20 openssl s_client -connect " + address + " -CAfile '" +
                     tls_file("ca.pem") + "' -verify_return_error " + flags + " 2>&1");
}

std::vector<std::string> node_args(const std::string& id) {
  auto a = fast_lease_args(id);
  a.insert(a.end(), {"--peer-heartbeat-ms", "200", "--peer-timeout-ms", "1000"});
  return a;
}

// Two nodes of one database, settled: every shard held by the node placement gives it.
struct two_nodes {
  explicit two_nodes(const std::string& label, std::vector<std::string> (*args)(const std::string&) = node_args)
      : fx(label, args("n1")) {
    node_options o = fx.node->options();
    o.extra_args = args("n2");
    n2 = std::make_unique<node_process>(std::move(o));
    REQUIRE(eventually([&] { return settled(*db, {"n1", "n2"}); }));
  }

  std::string owner_of(const tenant_handle& t) { return caudal::test::owner_of(*db, t.created.tenant.id); }
  tenant_handle tenant_owned_by(const std::string& id) { return caudal::test::tenant_owned_by(fx, *db, id); }

  ledger_fixture fx;
  std::unique_ptr<node_process> n2;
  std::unique_ptr<storage::pg_connection> db = fx.db.connect();
};

// Transfers through `entry` for a tenant another node owns: each is forwarded. Retryable answers are retried
// (a shard may move); none may be node_down, which would mean the connection between the nodes dropped.
void forward_some(client::connection& entry, uint64_t& next_id, const char* when) {
  CAPTURE(when);
  for (int i = 0; i < 3; ++i) {
    const uint64_t id = next_id++;
    int node_downs = 0;
    auto r = until_answered([&] {
      auto a = entry.create_transfers({make_transfer(id, 1, 2, 1)});
      if (!a.ok() && a.error().code == errc::node_down)
        ++node_downs;
      return a;
    });
    if (!r.ok())  // (REQUIRE_MESSAGE would build its message, and call error(), even on success)
      FAIL("a forwarded transfer failed: " << errc_name(r.error().code));
    CHECK(r->at(0) == ledger::create_transfer_result::ok);
    CHECK(node_downs == 0);
  }
}

}  // namespace

TEST_CASE("the cluster port refuses all but nodes of the cluster CA, and the nodes keep forwarding") {
  two_nodes c("cluster_tls");
  node_process& n1 = *c.fx.node;
  node_process& n2 = *c.n2;
  REQUIRE_FALSE(n1.cluster_address().empty());
  // Both directions in use before the probes: n1 forwards to n2 and n2 to n1.
  auto on_n2 = c.tenant_owned_by("n2");
  auto on_n1 = c.tenant_owned_by("n1");
  auto via_n1 = session_on(n1, on_n2);
  auto via_n2 = session_on(n2, on_n1);
  REQUIRE(until_answered([&] { return via_n1.create_accounts({make_account(1), make_account(2)}); }).ok());
  REQUIRE(until_answered([&] { return via_n2.create_accounts({make_account(1), make_account(2)}); }).ok());
  uint64_t next_id = 1;
  forward_some(via_n1, next_id, "before the probes (n1 -> n2)");
  forward_some(via_n2, next_id, "before the probes (n2 -> n1)");

  const std::string port = n1.cluster_address();
  // What the nodes logged before the probes (a first connection attempt may time out on a busy machine:
  // not the probes' doing); from here on, their links must neither drop nor reconnect.
  const size_t before1 = whole_log(n1).size(), before2 = whole_log(n2).size();

  // The control: a node's certificate gets a TLS 1.3 session and an answer.
  {
    auto ok = s_client(port, "-tls1_3 -cert '" + tls_file("node.pem") + "' -key '" + tls_file("node.key") + "'");
    CHECK_MESSAGE(contains(ok, "New, TLSv1.3"), ok);
    CHECK_MESSAGE(contains(ok, "Verify return code: 0 (ok)"), ok);
    CHECK_MESSAGE(!contains(ok, "alert"), ok);
  }
  // Plain TCP: bytes of a would-be BASP handshake get no BASP answer (the TLS layer drops the connection).
  {
    auto refused = plain_probe(port);
    CHECK_FALSE(contains(refused, "caudal"));
    MESSAGE("plain TCP: [" << refused << "]");
  }
  forward_some(via_n1, next_id, "after plain TCP (n1 -> n2)");
  forward_some(via_n2, next_id, "after plain TCP (n2 -> n1)");
  // TLS 1.2, even with a node's certificate.
  {
    auto p = s_client(port, "-tls1_2 -cert '" + tls_file("node.pem") + "' -key '" + tls_file("node.key") + "'");
    CHECK_MESSAGE(contains(p, "New, (NONE)"), p);
    CHECK_MESSAGE(contains(p, "alert protocol version"), p);
    CHECK_FALSE(contains(p, "New, TLSv1.2"));
  }
  forward_some(via_n1, next_id, "after TLS 1.2 (n1 -> n2)");
  forward_some(via_n2, next_id, "after TLS 1.2 (n2 -> n1)");
  // TLS 1.3 without a client certificate: the server's certificate verifies, the server refuses the client.
  {
    auto p = s_client(port, "-tls1_3");
    CHECK_MESSAGE(contains(p, "alert certificate required"), p);
  }
  forward_some(via_n1, next_id, "after no client certificate (n1 -> n2)");
  forward_some(via_n2, next_id, "after no client certificate (n2 -> n1)");
  // A node certificate of another CA (the client trusts our CA, so the refusal is the server's).
  {
    auto p = s_client(
        port, "-tls1_3 -cert '" + tls_file("other-ca/node.pem") + "' -key '" + tls_file("other-ca/node.key") + "'");
    CHECK_MESSAGE(contains(p, "alert unknown ca"), p);
  }
  forward_some(via_n1, next_id, "after another CA (n1 -> n2)");
  forward_some(via_n2, next_id, "after another CA (n2 -> n1)");
  // The client certificate: the client CA signed it, and the cluster port trusts the cluster CA only. (When
  // the cluster CA signed client certificates too, this handshake succeeded: a client could pose as a node.)
  {
    auto p = s_client(port, "-tls1_3 -cert '" + tls_file("client.pem") + "' -key '" + tls_file("client.key") + "'");
    CHECK_MESSAGE(contains(p, "alert unknown ca"), p);
  }
  forward_some(via_n1, next_id, "after the client certificate (n1 -> n2)");
  forward_some(via_n2, next_id, "after the client certificate (n2 -> n1)");

  // The connections between the nodes never dropped during the probes: no loss, no new connection.
  const auto log1 = whole_log(n1).substr(before1);
  const auto log2 = whole_log(n2).substr(before2);
  CHECK_MESSAGE(count(log1, "forwarding: connected to") == 0, n1.log_tail());
  CHECK_MESSAGE(count(log2, "forwarding: connected to") == 0, n2.log_tail());
  CHECK_FALSE(contains(log1, "forwarding: connection to n2 lost"));
  CHECK_FALSE(contains(log2, "forwarding: connection to n1 lost"));
  CHECK_FALSE(contains(log1, "forwarding: cannot connect"));
  CHECK_FALSE(contains(log2, "forwarding: cannot connect"));
  // Forwarded requests ran once, on their owners.
  CHECK(scalar(*c.db, "SELECT count(*) FROM transfers") == std::to_string(next_id - 1));
  c.fx.require_verify_ok();
}

namespace {

// Leases long enough that a frozen node keeps its shards while the middleman finds it silent.
std::vector<std::string> slow_lease_args(const std::string& id) {
  return {"--node-id",         id,      "--heartbeat-ms",      "1000", "--lease-ms",        "10000",
          "--silent-after-ms", "10000", "--peer-heartbeat-ms", "200",  "--peer-timeout-ms", "1000"};
}

}  // namespace

TEST_CASE("a frozen owner: the middleman's heartbeat finds it silent and the forwarded request fails with node_down") {
  two_nodes c("cluster_tls_silent", slow_lease_args);
  auto t = c.tenant_owned_by("n2");
  auto entry = session_on(*c.fx.node, t);
  REQUIRE(until_answered([&] { return entry.create_accounts({make_account(1), make_account(2)}); }).ok());

  REQUIRE(kill(c.n2->pid(), SIGSTOP) == 0);
  // Answered well before the request's own deadline (10 s) and before n2's leases expire (10 s): the
  // connection timeout of CAF's middleman (peer_timeout_ms).
  auto pending = entry.create_transfers({make_transfer(1, 1, 2, 10)});
  const bool still_owner = c.owner_of(t) == "n2";
  REQUIRE(kill(c.n2->pid(), SIGCONT) == 0);
  REQUIRE_FALSE(pending.ok());
  CHECK_MESSAGE(pending.error().code == errc::node_down, errc_name(pending.error().code));
  CHECK(still_owner);
  CHECK_MESSAGE(contains(whole_log(*c.fx.node), "forwarding: connection to n2 lost"), c.fx.node->log_tail());

  // n2 resumed: the link comes back and the retry (same id) commits once.
  auto r = until_answered([&] { return entry.create_transfers({make_transfer(1, 1, 2, 10)}); });
  if (!r.ok())
    FAIL("the retry failed: " << errc_name(r.error().code));
  CHECK((r->at(0) == ledger::create_transfer_result::ok || r->at(0) == ledger::create_transfer_result::exists));
  CHECK(scalar(*c.db, "SELECT count(*) || '/' || sum(amount) FROM transfers") == "1/10");
  c.fx.require_verify_ok();
}
