// Membership and shard leases in the real PostgreSQL (storage/cluster_store): joining, heartbeats that
// renew leases, silent nodes declared down by the database clock, lease acquisition races, expiry and
// release with the next epoch. Time passes in PostgreSQL, never on the test's clock: expiries are forced by
// moving expires_at / last_heartbeat into the past with SQL, so nothing here depends on the machine's speed.
#include <doctest/doctest.h>

#include <thread>

#include "storage/cluster_store.hpp"
#include "storage/security_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using namespace caudal::test;
using storage::held_lease;
using storage::member_state;

namespace {

constexpr uint32_t lease_ms = 60000;  // long: a lease only expires when a test says so

// A mutual TLS cluster's trust: one CA, by a made-up fingerprint (storage only checks its form).
storage::cluster_trust tls_trust(char digit = 'a', const std::string& subject = "CN=Test CA") {
  return {storage::transport_mode::mutual_tls, {{std::string(64, digit), subject}}};
}

storage::cluster_shape small_cluster() {
  storage::cluster_shape s;
  s.trust = tls_trust();
  s.shard_count = 8;
  s.regions.push_back({"br", 6, 2});
  return s;
}

storage::member_identity join_ok(storage::pg_connection& c, const std::string& id, const std::string& region = "us") {
  auto m = storage::join(c, id, {"", "127.0.0.1:1" + id, "127.0.0.1:2" + id}, region);
  REQUIRE_MESSAGE(m.ok(), why(m));
  return m.value();
}

std::vector<held_lease> acquire_ok(storage::pg_connection& c, const storage::member_identity& me,
                                   const std::vector<uint32_t>& shards) {
  auto r = storage::acquire_leases(c, me, shards, lease_ms);
  REQUIRE_MESSAGE(r.ok(), why(r));
  return r.value();
}

// Moves a lease's expiry into the past (as if lease_ms had passed without a heartbeat).
void expire_lease(storage::pg_connection& c, uint32_t shard) {
  sql_ok(c, "UPDATE shard_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE shard = " +
                std::to_string(shard));
}

storage::shard_lease lease_of(storage::pg_connection& c, uint32_t shard) {
  auto all = storage::list_leases(c);
  REQUIRE_MESSAGE(all.ok(), why(all));
  REQUIRE(shard < all->size());
  return all.value()[shard];
}

}  // namespace

TEST_CASE("the first node creates the cluster; later ones get its shape whatever they ask") {
  test_database db("cluster_shape");
  auto c = db.connect();
  auto first = storage::ensure_cluster(*c, small_cluster(), "n1");
  REQUIRE_MESSAGE(first.ok(), why(first));
  CHECK(first->shard_count == 8);
  REQUIRE(first->regions.size() == 1);
  CHECK(first->regions[0].region == "br");
  CHECK(first->regions[0].first_shard == 6);
  CHECK(first->regions[0].shard_count == 2);

  storage::cluster_shape other;
  other.trust = tls_trust();
  other.shard_count = 256;
  auto second = storage::ensure_cluster(*c, other, "n1");
  REQUIRE_MESSAGE(second.ok(), why(second));
  CHECK(second->shard_count == 8);
  CHECK(second->regions.size() == 1);

  auto leases = storage::list_leases(*c);
  REQUIRE_MESSAGE(leases.ok(), why(leases));
  REQUIRE(leases->size() == 8);
  for (const auto& l : leases.value()) {
    CHECK_FALSE(l.owner.has_value());
    CHECK(l.epoch == 0);
    CHECK(l.expires_in_ms < 0);
  }
}

TEST_CASE("invalid cluster shapes are refused and create nothing") {
  test_database db("cluster_bad_shape");
  auto c = db.connect();
  storage::cluster_shape s;
  s.trust = tls_trust();
  s.shard_count = 0;
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);
  s.shard_count = 8;
  s.regions = {{"br", 0, 4}, {"mx", 3, 2}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // overlap
  s.regions = {{"br", 4, 5}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // past the last shard
  s.regions = {{"br", 0, 8}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // no global shard
  s.regions = {{"br", 0, 4}};
  s.residency = {{"AR", "ar"}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // a rule naming no region
  s.residency = {{"br", "br"}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // not a country code
  s.residency = {{"BR", "br"}, {"BR", "br"}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // twice
  // Who may join: a transport is required, anchors go with mutual TLS only, and are SHA-256 fingerprints.
  s.residency = {};
  s.trust = {};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // no transport
  s.trust = tls_trust();
  s.trust.transport = storage::transport_mode::insecure;
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // insecure with a CA
  s.trust = {storage::transport_mode::mutual_tls, {}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // TLS without a CA
  s.trust = {storage::transport_mode::mutual_tls, {{std::string(64, 'A'), "CN=upper case"}}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // not lower-case hex
  s.trust = {storage::transport_mode::mutual_tls, {{"abc", "CN=short"}}};
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // too short
  s.trust = tls_trust();
  s.trust.anchors.push_back(s.trust.anchors.front());
  CHECK(storage::ensure_cluster(*c, s, "n1").error().code == errc::invalid_request);  // twice
  CHECK(scalar(*c, "SELECT count(*) FROM cluster_settings") == "0");
  CHECK(scalar(*c, "SELECT count(*) FROM shard_leases") == "0");
  CHECK(scalar(*c, "SELECT count(*) FROM cluster_trust_anchors") == "0");
  CHECK(scalar(*c, "SELECT count(*) FROM audit_events") == "0");
}

TEST_CASE(
    "creating the cluster records its trust anchor and audits it, in one transaction; later nodes change nothing") {
  test_database db("cluster_trust");
  auto c = db.connect();
  auto none = storage::read_cluster(*c);
  REQUIRE_MESSAGE(none.ok(), why(none));
  CHECK_FALSE(none->has_value());

  storage::cluster_shape s;
  s.shard_count = 16;
  s.regions = {{"eu", 12, 4}};
  s.residency = {{"DE", "eu"}};
  s.trust = tls_trust('b', "CN=Caudal local CA");
  auto made = storage::ensure_cluster(*c, s, "n1");
  REQUIRE_MESSAGE(made.ok(), why(made));
  CHECK(made->trust.transport == storage::transport_mode::mutual_tls);
  REQUIRE(made->trust.anchors.size() == 1);
  CHECK(made->trust.anchors[0].sha256 == std::string(64, 'b'));
  CHECK(made->trust.anchors[0].subject == "CN=Caudal local CA");
  CHECK(scalar(*c, "SELECT transport FROM cluster_settings") == "mutual_tls");

  // The creation's audit row: the node id acts, from the address PostgreSQL sees; every setting, no secret.
  auto audit = storage::list_audit(*c, 0, 100);
  REQUIRE_MESSAGE(audit.ok(), why(audit));
  REQUIRE(audit->size() == 1);
  const auto& e = audit->front();
  CHECK(e.action == "config.cluster_created");
  CHECK(e.client_id == "n1");
  CHECK(e.outcome == "ok");
  CHECK(e.source == scalar(*c, "SELECT host(inet_client_addr()) || ':' || inet_client_port()"));
  CHECK_MESSAGE(e.detail.find("shards=16") != std::string::npos, e.detail);
  CHECK_MESSAGE(e.detail.find("regions=eu:12+4") != std::string::npos, e.detail);
  CHECK_MESSAGE(e.detail.find("residency=DE:eu") != std::string::npos, e.detail);
  CHECK_MESSAGE(
      e.detail.find("mutual TLS, CA sha256:" + std::string(64, 'b') + " (CN=Caudal local CA)") != std::string::npos,
      e.detail);

  // Another node asking for another CA (or insecure) gets the recorded trust; nothing is written or audited.
  s.trust = tls_trust('c');
  auto again = storage::ensure_cluster(*c, s, "n2");
  REQUIRE_MESSAGE(again.ok(), why(again));
  CHECK(again->trust.anchors.at(0).sha256 == std::string(64, 'b'));
  s.trust = {storage::transport_mode::insecure, {}};
  auto insecure = storage::ensure_cluster(*c, s, "n3");
  REQUIRE_MESSAGE(insecure.ok(), why(insecure));
  CHECK(insecure->trust.transport == storage::transport_mode::mutual_tls);
  CHECK(scalar(*c, "SELECT count(*) FROM cluster_trust_anchors") == "1");
  CHECK(scalar(*c, "SELECT count(*) FROM audit_events") == "1");
  auto read = storage::read_cluster(*c);
  REQUIRE_MESSAGE(read.ok(), why(read));
  REQUIRE(read->has_value());
  CHECK((*read)->trust.anchors == made->trust.anchors);
}

TEST_CASE("an insecure cluster records no anchor; a cluster from before trust anchors takes the first node's, once") {
  test_database db("cluster_trust_adopt");
  auto c = db.connect();
  storage::cluster_shape s;
  s.shard_count = 8;
  s.trust = {storage::transport_mode::insecure, {}};
  auto made = storage::ensure_cluster(*c, s, "dev1");
  REQUIRE_MESSAGE(made.ok(), why(made));
  CHECK(made->trust.transport == storage::transport_mode::insecure);
  CHECK(made->trust.anchors.empty());
  CHECK(scalar(*c, "SELECT transport FROM cluster_settings") == "insecure");

  // As a cluster created before 0006 looks once migrated: no transport recorded.
  sql_ok(*c, "UPDATE cluster_settings SET transport = NULL");
  sql_ok(*c, "DELETE FROM audit_events");
  auto old = storage::read_cluster(*c);
  REQUIRE_MESSAGE(old.ok(), why(old));
  REQUIRE(old->has_value());
  CHECK((*old)->trust.transport == storage::transport_mode::unrecorded);
  s.trust = tls_trust('d', "CN=Adopted CA");
  auto adopted = storage::ensure_cluster(*c, s, "n7");
  REQUIRE_MESSAGE(adopted.ok(), why(adopted));
  CHECK(adopted->trust.transport == storage::transport_mode::mutual_tls);
  REQUIRE(adopted->trust.anchors.size() == 1);
  CHECK(adopted->trust.anchors[0].sha256 == std::string(64, 'd'));
  s.trust = tls_trust('e');
  auto second = storage::ensure_cluster(*c, s, "n8");
  REQUIRE_MESSAGE(second.ok(), why(second));
  CHECK(second->trust.anchors.at(0).sha256 == std::string(64, 'd'));
  auto audit = storage::list_audit(*c, 0, 100);
  REQUIRE_MESSAGE(audit.ok(), why(audit));
  REQUIRE(audit->size() == 1);
  CHECK(audit->front().action == "config.trust_anchor_recorded");
  CHECK(audit->front().client_id == "n7");
  CHECK_MESSAGE(audit->front().detail.find(std::string(64, 'd')) != std::string::npos, audit->front().detail);
}

TEST_CASE("regions are numbered and residency rules kept with the cluster; a second shape changes nothing") {
  test_database db("cluster_residency");
  auto c = db.connect();
  storage::cluster_shape s;
  s.trust = tls_trust();
  s.shard_count = 16;
  s.regions = {{"eu", 8, 4}, {"br", 12, 4}};
  s.residency = {{"DE", "eu"}, {"BR", "br"}};
  auto made = storage::ensure_cluster(*c, s, "n1");
  REQUIRE(made.ok());
  REQUIRE(made->regions.size() == 2);
  CHECK(made->regions[0].region == "br");  // ascending by name, numbered in the order given
  CHECK(made->regions[0].number == 2);
  CHECK(made->regions[1].number == 1);
  REQUIRE(made->residency.size() == 2);
  CHECK(made->residency[0].country == "BR");
  CHECK(made->residency[1].region == "eu");
  storage::cluster_shape other;
  other.trust = tls_trust();
  other.shard_count = 16;
  auto again = storage::ensure_cluster(*c, other, "n1");
  REQUIRE(again.ok());
  CHECK(again->residency.size() == 2);
}

TEST_CASE("joining gives a new incarnation each time; members are listed with their state and addresses") {
  test_database db("cluster_join");
  auto c = db.connect();
  auto a1 = join_ok(*c, "a", "us");
  auto b1 = join_ok(*c, "b", "br");
  CHECK(a1.incarnation == 1);
  CHECK(b1.incarnation == 1);
  auto a2 = join_ok(*c, "a", "us");
  CHECK(a2.incarnation == 2);

  REQUIRE(storage::set_state(*c, a2, member_state::up).ok());
  // The superseded incarnation can no longer change anything.
  CHECK(storage::set_state(*c, a1, member_state::draining).error().code == errc::node_down);
  CHECK(storage::set_state(*c, a2, member_state::joining).error().code == errc::invalid_request);

  auto members = storage::list_members(*c);
  REQUIRE_MESSAGE(members.ok(), why(members));
  REQUIRE(members->size() == 2);
  const auto& a = members.value()[0];
  CHECK(a.id == a2);
  CHECK(a.state == member_state::up);
  CHECK(a.region == "us");
  CHECK(a.addresses.rpc == "127.0.0.1:1a");
  CHECK(a.addresses.metrics == "127.0.0.1:2a");
  CHECK(a.heartbeat_age_ms >= 0);
  CHECK(a.heartbeat_age_ms < 60000);
  CHECK(members.value()[1].state == member_state::joining);
}

TEST_CASE("a heartbeat renews the node's own leases; a silent node is declared down and must rejoin") {
  test_database db("cluster_heartbeat");
  auto c = db.connect();
  REQUIRE(storage::ensure_cluster(*c, small_cluster(), "n1").ok());
  auto a = join_ok(*c, "a");
  auto b = join_ok(*c, "b");
  CHECK(acquire_ok(*c, a, {0, 1}) == std::vector<held_lease>{{0, 1}, {1, 1}});
  CHECK(acquire_ok(*c, b, {2}) == std::vector<held_lease>{{2, 1}});

  // Renewal moves the expiry forward by the database clock; only a's leases are touched.
  sql_ok(*c, "UPDATE shard_leases SET expires_at = clock_timestamp() + interval '1 second'");
  auto renewed = storage::heartbeat(*c, a, lease_ms);
  REQUIRE_MESSAGE(renewed.ok(), why(renewed));
  CHECK(renewed.value() == std::vector<held_lease>{{0, 1}, {1, 1}});
  CHECK(lease_of(*c, 0).expires_in_ms > 30000);
  CHECK(lease_of(*c, 2).expires_in_ms <= 1000);

  // b goes silent: only b is declared down (a's heartbeat is recent).
  sql_ok(*c,
         "UPDATE cluster_members SET last_heartbeat = clock_timestamp() - interval '10 seconds' "
         "WHERE node_id = 'b'");
  auto down = storage::declare_silent_down(*c, 5000);
  REQUIRE_MESSAGE(down.ok(), why(down));
  CHECK(down.value() == std::vector<storage::member_identity>{b});
  auto again = storage::declare_silent_down(*c, 5000);
  REQUIRE(again.ok());
  CHECK(again->empty());  // down once

  // b's heartbeat is refused and renews nothing; b cannot acquire either.
  auto refused = storage::heartbeat(*c, b, lease_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == errc::node_down);
  CHECK(lease_of(*c, 2).expires_in_ms <= 1000);
  CHECK(acquire_ok(*c, b, {3}).empty());
  CHECK(storage::set_state(*c, b, member_state::up).error().code == errc::node_down);

  // Rejoined with a new incarnation, b is a new holder: its old lease, once expired, comes back at epoch + 1.
  auto b2 = join_ok(*c, "b");
  CHECK(b2.incarnation == b.incarnation + 1);
  auto b2_beat = storage::heartbeat(*c, b2, lease_ms);
  REQUIRE_MESSAGE(b2_beat.ok(), why(b2_beat));
  CHECK(b2_beat->empty());  // the old incarnation's lease is not renewed as b2's
  // ...but b2 takes it back at once, as a new holder (epoch + 1): the old process, if it still ran, is fenced.
  CHECK(acquire_ok(*c, b2, {2}) == std::vector<held_lease>{{2, 2}});
  // a, another node, still cannot take b's unexpired lease.
  CHECK(acquire_ok(*c, a, {2}).empty());
}

TEST_CASE("drain: a member set draining stays so through heartbeats and `up`, takes nothing; errors are clear") {
  test_database db("cluster_drain");
  auto c = db.connect();
  REQUIRE(storage::ensure_cluster(*c, small_cluster(), "n1").ok());
  auto a = join_ok(*c, "a");
  REQUIRE(storage::set_state(*c, a, member_state::up).ok());
  CHECK(acquire_ok(*c, a, {0, 1}) == std::vector<held_lease>{{0, 1}, {1, 1}});
  auto b = join_ok(*c, "b");  // still joining: a drain applies to it too

  auto drained = storage::drain_member(*c, "a");
  REQUIRE_MESSAGE(drained.ok(), why(drained));
  CHECK(drained->id == a);
  CHECK(drained->was == member_state::up);
  auto b_drained = storage::drain_member(*c, "b");
  REQUIRE_MESSAGE(b_drained.ok(), why(b_drained));
  CHECK(b_drained->was == member_state::joining);
  // b's start finishing (`up`) does not undo the operator's drain.
  REQUIRE(storage::set_state(*c, b, member_state::up).ok());

  // Heartbeats keep the state (and renew what a still holds, until it hands it over); no new lease.
  auto beat = storage::heartbeat(*c, a, lease_ms);
  REQUIRE_MESSAGE(beat.ok(), why(beat));
  CHECK(beat.value() == std::vector<held_lease>{{0, 1}, {1, 1}});
  CHECK(acquire_ok(*c, a, {2, 3}).empty());
  auto members = storage::list_members(*c);
  REQUIRE_MESSAGE(members.ok(), why(members));
  REQUIRE(members->size() == 2);
  CHECK(members.value()[0].state == member_state::draining);
  CHECK(members.value()[1].state == member_state::draining);

  // Again: nothing changes, no error.
  auto twice = storage::drain_member(*c, "a");
  REQUIRE_MESSAGE(twice.ok(), why(twice));
  CHECK(twice->was == member_state::draining);
  CHECK(twice->id == a);

  auto unknown = storage::drain_member(*c, "zz");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == errc::node_not_found);

  // Stopped (down): refused. Rejoined (a restart): up again, and drainable again.
  REQUIRE(storage::set_state(*c, a, member_state::down).ok());
  auto down = storage::drain_member(*c, "a");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == errc::node_down);
  auto a2 = join_ok(*c, "a");
  REQUIRE(storage::set_state(*c, a2, member_state::up).ok());
  members = storage::list_members(*c);
  REQUIRE(members.ok());
  CHECK(members.value()[0].state == member_state::up);
  CHECK(storage::drain_member(*c, "a").ok());
}

TEST_CASE("leases: taken once, kept by their holder, taken over with the next epoch only when expired or released") {
  test_database db("cluster_leases");
  auto c = db.connect();
  REQUIRE(storage::ensure_cluster(*c, small_cluster(), "n1").ok());
  auto a = join_ok(*c, "a");
  auto b = join_ok(*c, "b");

  CHECK(acquire_ok(*c, a, {0, 1, 2}) == std::vector<held_lease>{{0, 1}, {1, 1}, {2, 1}});
  // Held and not expired: b gets none of them, only the free one it asked for.
  CHECK(acquire_ok(*c, b, {0, 1, 2, 3}) == std::vector<held_lease>{{3, 1}});
  // The holder asking again keeps its epoch (a renewal, not a new holder).
  CHECK(acquire_ok(*c, a, {1}) == std::vector<held_lease>{{1, 1}});

  SUBCASE("an expired lease is taken over with epoch + 1") {
    expire_lease(*c, 1);
    CHECK(acquire_ok(*c, b, {1}) == std::vector<held_lease>{{1, 2}});
    auto l = lease_of(*c, 1);
    REQUIRE(l.owner.has_value());
    CHECK(*l.owner == b);
    // a no longer renews it, and cannot take it back while b's lease runs.
    auto beat = storage::heartbeat(*c, a, lease_ms);
    REQUIRE(beat.ok());
    CHECK(beat.value() == std::vector<held_lease>{{0, 1}, {2, 1}});
    CHECK(acquire_ok(*c, a, {1}).empty());
  }
  SUBCASE("a released lease is free at once and taken over with epoch + 1") {
    auto released = storage::release_leases(*c, a, {2, 3});  // 3 is b's: left alone
    REQUIRE_MESSAGE(released.ok(), why(released));
    CHECK(released.value() == 1);
    auto l = lease_of(*c, 2);
    CHECK_FALSE(l.owner.has_value());
    CHECK(l.epoch == 1);
    CHECK(l.expires_in_ms <= 0);
    CHECK(acquire_ok(*c, b, {2}) == std::vector<held_lease>{{2, 2}});
    CHECK(lease_of(*c, 3).owner == std::optional<storage::member_identity>(b));
  }
  SUBCASE("the releasing node taking it back is a new holding too: epoch + 1") {
    REQUIRE(storage::release_leases(*c, a, {2}).ok());
    CHECK(acquire_ok(*c, a, {2}) == std::vector<held_lease>{{2, 2}});
  }
  SUBCASE("a draining node acquires nothing, but keeps renewing what it holds") {
    REQUIRE(storage::set_state(*c, a, member_state::draining).ok());
    CHECK(acquire_ok(*c, a, {4}).empty());
    auto beat = storage::heartbeat(*c, a, lease_ms);
    REQUIRE(beat.ok());
    CHECK(beat->size() == 3);
  }
}

TEST_CASE("two nodes racing for the same free shards: each shard goes to exactly one of them") {
  test_database db("cluster_race");
  auto setup = db.connect();
  storage::cluster_shape s;
  s.trust = tls_trust();
  s.shard_count = 64;
  REQUIRE(storage::ensure_cluster(*setup, s, "n1").ok());
  std::vector<uint32_t> all(64);
  for (uint32_t i = 0; i < 64; ++i)
    all[i] = i;

  for (int round = 0; round < 5; ++round) {
    // Free every lease again (a new round, epochs keep growing).
    sql_ok(*setup, "UPDATE shard_leases SET owner_node = NULL, owner_incarnation = NULL, expires_at = '-infinity'");
    auto ca = db.connect("race-a");
    auto cb = db.connect("race-b");
    auto a = join_ok(*ca, "a");
    auto b = join_ok(*cb, "b");
    // Opposite orders, concurrently, so the two UPDATEs meet on rows the other has locked.
    std::vector<uint32_t> reversed(all.rbegin(), all.rend());
    result<std::vector<held_lease>> got_a = errc::internal, got_b = errc::internal;
    std::thread ta([&] { got_a = storage::acquire_leases(*ca, a, all, lease_ms); });
    std::thread tb([&] { got_b = storage::acquire_leases(*cb, b, reversed, lease_ms); });
    ta.join();
    tb.join();
    REQUIRE_MESSAGE(got_a.ok(), why(got_a));
    REQUIRE_MESSAGE(got_b.ok(), why(got_b));
    CHECK(got_a->size() + got_b->size() == 64);
    auto leases = storage::list_leases(*setup);
    REQUIRE(leases.ok());
    std::vector<bool> seen(64, false);
    for (const auto* got : {&got_a.value(), &got_b.value()})
      for (const auto& l : *got) {
        CHECK_FALSE(seen[l.shard]);
        seen[l.shard] = true;
        CHECK(leases.value()[l.shard].epoch == l.epoch);
      }
    for (const auto& l : leases.value()) {
      REQUIRE(l.owner.has_value());
      CHECK(l.epoch == static_cast<uint64_t>(round + 1));
      CHECK((*l.owner == a || *l.owner == b));
    }
  }
}
