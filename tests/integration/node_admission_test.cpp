// Who may join the cluster (cluster/admission, issue 5: "a node without a valid certificate cannot join"):
// real node processes on one real database. A node whose TLS files do not match the trust the cluster
// recorded when it was created (another CA, a certificate the cluster CA did not sign, the other transport),
// or that cannot link to any live peer, must refuse to start: exit status 1, a log line naming both sides,
// no member row, no lease, and an audit row `cluster.join_refused`. The cluster's creation is audited too
// (`config.cluster_created`). Fingerprints are computed here with the openssl CLI, not with our code.
// Every wait is a poll with a generous deadline; no timing is asserted on.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <thread>

#include "tests/support/cluster_helpers.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using namespace caudal::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string tls_file(const std::string& name) {
  return test_tls_dir() + "/" + name;
}

// SHA-256 of a certificate's DER, lower-case hex without colons, as the openssl CLI computes it.
std::string fingerprint(const std::string& pem_file) {
  int status = 0;
  std::string out = run_command("openssl x509 -in '" + pem_file + "' -noout -fingerprint -sha256", &status);
  REQUIRE_MESSAGE(status == 0, out);
  auto eq = out.find('=');
  REQUIRE(eq != std::string::npos);
  std::string hex;
  for (char ch : out.substr(eq + 1))
    if (std::isxdigit(static_cast<unsigned char>(ch)))
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  REQUIRE(hex.size() == 64);
  return hex;
}

node_options options_for(const test_database& db, const std::string& node_id) {
  node_options o;
  o.pg_url = db.url();
  o.extra_args = fast_lease_args(node_id);
  return o;
}

// Starts a node that must be refused; checks its exit status and that it left no trace in the membership
// or the leases. Answers its log.
std::string refused(node_options o, storage::pg_connection& db, const std::string& node_id) {
  node_process n(std::move(o), node_process::deferred);
  CHECK(n.start_refused() == 1);
  const std::string log = n.log_text();
  CHECK_MESSAGE(contains(log, "refused to join the cluster"), log);
  CHECK(scalar(db, "SELECT count(*) FROM cluster_members WHERE node_id = '" + node_id + "'") == "0");
  CHECK(scalar(db, "SELECT count(*) FROM shard_leases WHERE owner_node = '" + node_id + "'") == "0");
  return log;
}

// The detail of node_id's refusal in the audit table ("" when there is none); checks its other columns.
std::string refusal_detail(storage::pg_connection& db, const std::string& node_id) {
  const std::string where =
      " FROM audit_events WHERE action = 'cluster.join_refused' AND client_id = '" + node_id + "'";
  if (scalar(db, "SELECT count(*)" + where) != "1")
    return "";
  CHECK(scalar(db, "SELECT outcome" + where) == "forbidden");
  // The node's address, as PostgreSQL saw its connection.
  CHECK(scalar(db, "SELECT source LIKE '127.0.0.1:%'" + where) == "t");
  return scalar(db, "SELECT detail" + where);
}

}  // namespace

TEST_CASE("a node whose certificate and CA file another CA made is refused at start, holds nothing, and is audited") {
  ledger_fixture fx("admission_other_ca", fast_lease_args("n1"));
  auto db = fx.db.connect();
  const std::string cluster_ca = fingerprint(tls_file("ca.pem"));
  const std::string other_ca = fingerprint(tls_file("other-ca/ca.pem"));
  REQUIRE(cluster_ca != other_ca);

  // The creation was recorded and audited by n1: the cluster CA's fingerprint, every setting.
  CHECK(scalar(*db, "SELECT transport FROM cluster_settings") == "mutual_tls");
  CHECK(scalar(*db, "SELECT string_agg(sha256, ',') FROM cluster_trust_anchors") == cluster_ca);
  CHECK(scalar(*db, "SELECT string_agg(subject, ',') FROM cluster_trust_anchors") == "CN=Caudal local CA");
  const std::string created = " FROM audit_events WHERE action = 'config.cluster_created'";
  CHECK(scalar(*db, "SELECT count(*)" + created) == "1");
  CHECK(scalar(*db, "SELECT string_agg(client_id || ' ' || outcome || ' ' || (source LIKE '127.0.0.1:%'), ',')" +
                        created) == "n1 ok true");
  const std::string detail = scalar(*db, "SELECT coalesce(string_agg(detail, ','), '')" + created);
  CHECK_MESSAGE(contains(detail, "shards=256"), detail);
  CHECK_MESSAGE(contains(detail, "sha256:" + cluster_ca), detail);

  // n2 presents the other CA's certificate and trusts only that CA (and another operator secret: a refused
  // node must not reset the operator client).
  node_options o = options_for(fx.db, "n2");
  o.tls_cert_file = tls_file("other-ca/node.pem");
  o.tls_key_file = tls_file("other-ca/node.key");
  o.tls_ca_file = tls_file("other-ca/ca.pem");
  o.operator_secret = "another-operator-secret-9876543210";
  const std::string log = refused(o, *db, "n2");
  CHECK_MESSAGE(contains(log, cluster_ca), log);
  CHECK_MESSAGE(contains(log, other_ca), log);
  const std::string why = refusal_detail(*db, "n2");
  CHECK_MESSAGE(contains(why, cluster_ca), why);
  CHECK_MESSAGE(contains(why, other_ca), why);
  // Nothing else changed: n1 holds every shard, the cluster's trust and the operator's secret are n1's.
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n1' AND expires_at > now()") == "256");
  CHECK(scalar(*db, "SELECT string_agg(sha256, ',') FROM cluster_trust_anchors") == cluster_ca);
  fx.require_verify_ok();  // authenticates the operator with n1's secret
}

TEST_CASE("a node with the cluster's CA file but a certificate the cluster CA did not sign is refused") {
  ledger_fixture fx("admission_foreign_cert", fast_lease_args("n1"));
  auto db = fx.db.connect();
  const std::string cluster_ca = fingerprint(tls_file("ca.pem"));
  // A node certificate of another CA.
  {
    node_options o = options_for(fx.db, "n2");
    o.tls_cert_file = tls_file("other-ca/node.pem");
    o.tls_key_file = tls_file("other-ca/node.key");
    const std::string log = refused(o, *db, "n2");
    CHECK_MESSAGE(contains(log, "does not verify against the cluster CA sha256:" + cluster_ca), log);
    const std::string why = refusal_detail(*db, "n2");
    CHECK_MESSAGE(contains(why, "other-ca/node.pem"), why);
    CHECK_MESSAGE(contains(why, cluster_ca), why);
  }
  // The client certificate, which the client CA signed: a client cannot pose as a node either.
  {
    node_options o = options_for(fx.db, "n3");
    o.tls_cert_file = tls_file("client.pem");
    o.tls_key_file = tls_file("client.key");
    const std::string log = refused(o, *db, "n3");
    CHECK_MESSAGE(contains(log, "does not verify against the cluster CA"), log);
    CHECK_MESSAGE(!refusal_detail(*db, "n3").empty(), "no audit row for n3");
  }
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n1' AND expires_at > now()") == "256");
  // A node of the cluster CA still joins: it proves a link to n1 before it takes its shards.
  node_process n4(options_for(fx.db, "n4"));
  CHECK(eventually([&] { return scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n4'") != "0"; }));
  CHECK_MESSAGE(contains(n4.log_text(), "cluster: link to n1 at " + fx.node->cluster_address()), n4.log_tail());
}

TEST_CASE("a first node whose certificate its own CA did not sign creates no cluster") {
  test_database tdb("admission_no_create");
  auto db = tdb.connect();
  node_options o = options_for(tdb, "n1");
  o.tls_cert_file = tls_file("other-ca/node.pem");
  o.tls_key_file = tls_file("other-ca/node.key");
  const std::string log = refused(o, *db, "n1");
  CHECK_MESSAGE(contains(log, "does not verify"), log);
  CHECK(scalar(*db, "SELECT count(*) FROM cluster_settings") == "0");
  CHECK(scalar(*db, "SELECT count(*) FROM cluster_trust_anchors") == "0");
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases") == "0");
  CHECK(scalar(*db, "SELECT count(*) FROM clients") == "0");  // nor the operator client
  CHECK_MESSAGE(!refusal_detail(*db, "n1").empty(), "no audit row for n1");
}

TEST_CASE("an insecure node cannot join a TLS cluster, nor a TLS node an insecure one") {
  SUBCASE("TLS cluster, insecure node") {
    ledger_fixture fx("admission_tls_insecure", fast_lease_args("n1"));
    auto db = fx.db.connect();
    node_options o = options_for(fx.db, "n2");
    o.tls = false;
    const std::string log = refused(o, *db, "n2");
    CHECK_MESSAGE(contains(log, "created with mutual TLS"), log);
    CHECK_MESSAGE(contains(log, fingerprint(tls_file("ca.pem"))), log);
    CHECK_MESSAGE(contains(refusal_detail(*db, "n2"), "--insecure"), refusal_detail(*db, "n2"));
    CHECK(scalar(*db, "SELECT transport FROM cluster_settings") == "mutual_tls");
  }
  SUBCASE("insecure cluster, TLS node") {
    test_database tdb("admission_insecure_tls");
    auto db = tdb.connect();
    node_options first = options_for(tdb, "n1");
    first.tls = false;
    node_process n1(first);
    CHECK(scalar(*db, "SELECT transport FROM cluster_settings") == "insecure");
    CHECK(scalar(*db, "SELECT count(*) FROM cluster_trust_anchors") == "0");
    const std::string log = refused(options_for(tdb, "n2"), *db, "n2");
    CHECK_MESSAGE(contains(log, "created insecure"), log);
    CHECK_MESSAGE(contains(refusal_detail(*db, "n2"), "insecure"), refusal_detail(*db, "n2"));
    // The creation's audit row says so too.
    CHECK(scalar(*db,
                 "SELECT count(*) FROM audit_events WHERE action = 'config.cluster_created' "
                 "AND detail LIKE '%transport=insecure%'") == "1");
  }
}

TEST_CASE("a node that cannot link to any live peer takes no lease; a peer that went silent does not block it") {
  // A member that heartbeats but whose cluster port nobody listens on (the network between them is cut, or
  // it advertises an address the others cannot reach): nobody could reach the shards a new node took.
  test_database tdb("admission_link");
  auto db = tdb.connect();
  sql_ok(*db,
         "INSERT INTO cluster_members (node_id, incarnation, cluster_address, rpc_address, metrics_address, region, "
         "state, joined_at, last_heartbeat) VALUES ('ghost', 1, '127.0.0.1:1', '127.0.0.1:1', '127.0.0.1:1', "
         "'local', 'up', now(), clock_timestamp())");
  std::atomic<bool> beating{true};
  std::thread heart([&] {
    auto c = tdb.connect("ghost-heartbeat");
    while (beating) {
      (void)c->exec("UPDATE cluster_members SET last_heartbeat = clock_timestamp() WHERE node_id = 'ghost'");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::string log;
  {
    // fast_lease_args: silent after 1 s, so the node waits its floor of 10 s for the ghost.
    node_process n1(options_for(tdb, "n1"), node_process::deferred);
    const int status = n1.start_refused(std::chrono::seconds(90));
    log = n1.log_text();
    CHECK(status == 1);
  }
  beating = false;
  heart.join();
  CHECK_MESSAGE(contains(log, "refused to join the cluster: no link to any live peer"), log);
  CHECK_MESSAGE(contains(log, "ghost at 127.0.0.1:1"), log);
  CHECK(scalar(*db, "SELECT count(*) FROM cluster_members WHERE node_id = 'n1'") == "0");
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node IS NOT NULL") == "0");
  CHECK_MESSAGE(contains(refusal_detail(*db, "n1"), "ghost"), refusal_detail(*db, "n1"));

  // The ghost stopped heartbeating (a crashed node): once silent it no longer counts, and the node joins.
  node_process n1(options_for(tdb, "n1"));
  CHECK(eventually([&] { return scalar(*db, "SELECT count(*) FROM shard_leases WHERE owner_node = 'n1'") == "256"; }));
}
