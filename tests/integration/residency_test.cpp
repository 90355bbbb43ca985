// Data residency (issue 4, point 6): a cluster created with a region "eu" of 16 shards and the rule DE -> eu.
// A German tenant's id carries eu's number, its shard is one of eu's, and only the eu node ever owns it
// (requests through the other node are forwarded there). With no eu node up, its requests get
// region_unavailable naming the region, while a global tenant keeps being served.
//
// Leases: heartbeat 300 ms, lease 1 s. Every wait is a poll with a 60 s deadline.
#include <doctest/doctest.h>

#include "cluster/placement.hpp"
#include "tests/support/cluster_helpers.hpp"
#include "tests/support/ledger_fixture.hpp"
#include "tests/support/storage_test_helpers.hpp"

using namespace caudal;
using caudal::test::eventually;
using caudal::test::ledger_fixture;
using caudal::test::make_account;
using caudal::test::make_transfer;
using caudal::test::node_options;
using caudal::test::node_process;
using caudal::test::scalar;
using caudal::test::session_on;
using caudal::test::until_answered;
using ledger::create_transfer_result;

namespace {

std::vector<std::string> args(const std::string& id, const std::string& region) {
  auto a = caudal::test::fast_lease_args(id);
  a.insert(a.end(), {"--region", region, "--regions", "eu:16", "--residency", "DE:eu"});
  return a;
}

}  // namespace

TEST_CASE("residency: a German tenant lives on eu's shards, only eu nodes own them; none up: region_unavailable") {
  ledger_fixture fx("residency", args("n1", "local"));
  auto db = fx.db.connect();
  node_options o = fx.node->options();
  o.extra_args = args("n2", "eu");
  node_process n2(std::move(o));

  // The cluster's shape: eu holds the last 16 of 256 shards, number 1; DE is its country.
  CHECK(scalar(*db,
               "SELECT region || ':' || first_shard || '+' || shard_count || '#' || region_no "
               "FROM cluster_regions") == "eu:240+16#1");
  CHECK(scalar(*db, "SELECT country || ':' || region FROM residency_rules") == "DE:eu");

  auto de = fx.create_tenant("berlin-gmbh", "DE");
  auto mx = fx.create_tenant("cdmx-sa", "MX");
  CHECK(cluster::region_number_of(de.created.tenant.id) == 1);
  CHECK(cluster::region_number_of(mx.created.tenant.id) == 0);
  const auto p = cluster::placement::make(256, {{"eu", 240, 16, 1}}).value();
  const uint32_t de_shard = p.shard_of(de.created.tenant.id).value();
  CHECK(de_shard >= 240);
  CHECK(p.shard_of(mx.created.tenant.id).value() < 240);

  // Only n2 (eu) owns eu's shards, all of them.
  CHECK(eventually([&] {
    return scalar(*db,
                  "SELECT count(*) FROM shard_leases WHERE shard >= 240 AND owner_node = 'n2' "
                  "AND expires_at > clock_timestamp()") == "16";
  }));
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE shard >= 240 AND owner_node = 'n1'") == "0");

  // Through n1 (not in eu): forwarded to n2, served.
  auto via1 = session_on(*fx.node, de);
  REQUIRE(until_answered([&] { return via1.create_accounts({make_account(1), make_account(2)}); }).ok());
  auto r = until_answered([&] { return via1.create_transfers({make_transfer(1, 1, 2, 100)}); });
  REQUIRE_MESSAGE(r.ok(), errc_name(r.error().code));
  CHECK(r->at(0) == create_transfer_result::ok);
  CHECK(scalar(*db, "SELECT count(*) FROM transfers WHERE tenant_id = " + std::to_string(de.created.tenant.id.value)) ==
        "1");

  // eu's only node stops: its shards go to no one, and the German tenant's requests say which region.
  n2.stop();
  result<client::transfer_results> refused = errc::internal;
  CHECK(eventually([&] {
    refused = via1.create_transfers({make_transfer(2, 1, 2, 100)});
    return !refused.ok() && refused.error().code == errc::region_unavailable;
  }));
  REQUIRE_FALSE(refused.ok());
  CHECK(errc_retryable(refused.error().code));
  CHECK_MESSAGE(refused.error().detail.find("region 'eu'") != std::string::npos, refused.error().detail);
  CHECK(scalar(*db, "SELECT count(*) FROM shard_leases WHERE shard >= 240 AND owner_node = 'n1'") == "0");

  // The global tenant is served by n1, which took the global shards n2 released.
  auto mxs = session_on(*fx.node, mx);
  REQUIRE(until_answered([&] { return mxs.create_accounts({make_account(1), make_account(2)}); }).ok());
  auto m = until_answered([&] { return mxs.create_transfers({make_transfer(1, 1, 2, 7)}); });
  REQUIRE_MESSAGE(m.ok(), errc_name(m.error().code));
  CHECK(m->at(0) == create_transfer_result::ok);

  // eu comes back: the German tenant is served again, nothing was written while it was away.
  n2.start();
  auto again = until_answered([&] { return via1.create_transfers({make_transfer(2, 1, 2, 100)}); });
  REQUIRE_MESSAGE(again.ok(), errc_name(again.error().code));
  CHECK(again->at(0) == create_transfer_result::ok);
  CHECK(scalar(*db, "SELECT count(*) || '/' || sum(amount) FROM transfers WHERE tenant_id = " +
                        std::to_string(de.created.tenant.id.value)) == "2/200");
  fx.require_verify_ok();
}
