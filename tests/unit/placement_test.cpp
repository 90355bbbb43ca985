// Placement (cluster/placement): tenants to shards, shards to live nodes by rendezvous hashing, residency
// regions. Deterministic: the same inputs give the same placement on every node and in every build.
#include "cluster/placement.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace caudal;
using caudal::cluster::placement;
using caudal::cluster::placement_node;

namespace {

placement make_ok(uint32_t shards, std::vector<cluster::region_range> regions = {}) {
  auto p = placement::make(shards, std::move(regions));
  REQUIRE(p.ok());
  return std::move(p).value();
}

std::vector<placement_node> nodes(size_t n, const std::string& region = "us", const std::string& prefix = "node-") {
  std::vector<placement_node> out;
  for (size_t i = 1; i <= n; ++i)
    out.push_back({prefix + std::to_string(i), region});
  return out;
}

// Owner node id per shard ("" when none).
std::vector<std::string> owner_ids(const placement& p, const std::vector<placement_node>& live) {
  std::vector<std::string> out;
  for (const auto& o : p.owners(live))
    out.push_back(o ? live[*o].node_id : std::string());
  return out;
}

std::map<std::string, size_t> load(const std::vector<std::string>& owners) {
  std::map<std::string, size_t> l;
  for (const auto& o : owners)
    ++l[o];
  return l;
}

}  // namespace

TEST_CASE("shapes that cannot place every tenant are refused") {
  CHECK_FALSE(placement::make(0, {}).ok());
  CHECK_FALSE(placement::make(65537, {}).ok());
  CHECK_FALSE(placement::make(8, {{"br", 0, 8}}).ok());                // no global shard
  CHECK_FALSE(placement::make(8, {{"br", 0, 4}, {"mx", 3, 2}}).ok());  // overlap
  CHECK_FALSE(placement::make(8, {{"br", 6, 3}}).ok());                // past the end
  CHECK_FALSE(placement::make(8, {{"", 0, 2}}).ok());
  CHECK_FALSE(placement::make(8, {{"br", 0, 2}, {"br", 2, 2}}).ok());
  CHECK(placement::make(8, {{"br", 0, 2}, {"mx", 2, 2}}).ok());
}

TEST_CASE("a tenant's shard is a fixed function of its id, spread evenly over the global shards") {
  auto p = make_ok(256);
  std::vector<size_t> per_shard(256, 0);
  const size_t tenants = 256 * 400;
  for (uint64_t t = 1; t <= tenants; ++t)
    ++per_shard[p.shard_of(tenant_id(t)).value()];
  auto [lo, hi] = std::minmax_element(per_shard.begin(), per_shard.end());
  // 400 per shard on average; a binomial standard deviation is 20: +-25% is more than 4 of them.
  CHECK(*lo >= 300);
  CHECK(*hi <= 500);
}

TEST_CASE("the hash is stable across builds (pinned values)") {
  auto p = make_ok(256);
  // If these change, every existing cluster's tenants would land on other shards than their data's owner.
  const uint32_t s1 = p.shard_of(tenant_id(1)).value();
  const uint32_t s2 = p.shard_of(tenant_id(2)).value();
  const uint32_t s3 = p.shard_of(tenant_id(1000000)).value();
  CHECK(s1 == 193u);
  CHECK(s2 == 206u);
  CHECK(s3 == 231u);
}

TEST_CASE("residency: a region's tenants hash into its shards only; other tenants never do") {
  auto p = make_ok(64, {{"br", 48, 8, 1}, {"mx", 56, 8, 2}});
  CHECK(p.region_of(47).empty());
  CHECK(p.region_of(48) == "br");
  CHECK(p.region_of(63) == "mx");
  std::vector<size_t> br(8, 0);
  const uint64_t in_br = uint64_t{1} << cluster::region_number_shift;  // region number 1 in the id
  for (uint64_t t = 1; t <= 8000; ++t) {
    CHECK(cluster::region_number_of(tenant_id(in_br | t)) == 1);
    const uint32_t s = p.shard_of(tenant_id(in_br | t)).value();
    REQUIRE(s >= 48);
    REQUIRE(s < 56);
    ++br[s - 48];
    const uint32_t g = p.shard_of(tenant_id(t)).value();
    REQUIRE(g < 48);
  }
  for (size_t n : br)
    CHECK(n >= 700);  // 1000 on average
  auto unknown = p.shard_of(tenant_id((uint64_t{3} << cluster::region_number_shift) | 1));  // no region 3
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == errc::region_unavailable);
  // Region numbers are unique.
  CHECK_FALSE(cluster::placement::make(64, {{"br", 48, 8, 1}, {"mx", 56, 8, 1}}).ok());
}

TEST_CASE("rendezvous: every shard has exactly one owner and the load is balanced") {
  // 4096 shards: at least ~340 per node, so +-20% is more than 3.5 standard deviations for any N here.
  auto p = make_ok(4096);
  for (size_t n = 1; n <= 12; ++n) {
    auto live = nodes(n);
    auto l = load(owner_ids(p, live));
    CHECK(l.count("") == 0);
    REQUIRE(l.size() == n);
    const double mean = 4096.0 / static_cast<double>(n);
    for (const auto& [node, count] : l) {
      CHECK_MESSAGE(static_cast<double>(count) >= 0.8 * mean, n << " nodes: " << node << " owns " << count);
      CHECK_MESSAGE(static_cast<double>(count) <= 1.2 * mean, n << " nodes: " << node << " owns " << count);
    }
  }
  // The default 256 shards over 3 nodes: 85 on average, every node within +-30%.
  auto p256 = make_ok(256);
  for (const auto& [node, count] : load(owner_ids(p256, nodes(3)))) {
    CHECK_MESSAGE(count >= 60, node << " owns " << count);
    CHECK_MESSAGE(count <= 111, node << " owns " << count);
  }
}

TEST_CASE("rendezvous: the order of the live list does not matter") {
  auto p = make_ok(256);
  auto live = nodes(5);
  auto before = owner_ids(p, live);
  std::reverse(live.begin(), live.end());
  CHECK(owner_ids(p, live) == before);
}

TEST_CASE("adding a node moves about 1/N of the shards, all of them to the new node") {
  auto p = make_ok(4096);
  for (size_t n = 1; n <= 8; ++n) {
    auto live = nodes(n);
    auto before = owner_ids(p, live);
    live.push_back({"node-new", "us"});
    auto after = owner_ids(p, live);
    size_t moved = 0;
    for (size_t s = 0; s < before.size(); ++s) {
      if (before[s] == after[s])
        continue;
      ++moved;
      CHECK(after[s] == "node-new");
    }
    const double expected = 4096.0 / static_cast<double>(n + 1);
    CHECK_MESSAGE(static_cast<double>(moved) >= 0.8 * expected, n << " -> " << n + 1 << ": moved " << moved);
    CHECK_MESSAGE(static_cast<double>(moved) <= 1.2 * expected, n << " -> " << n + 1 << ": moved " << moved);
  }
}

TEST_CASE("removing a node moves only the shards it owned") {
  auto p = make_ok(256);
  auto live = nodes(5);
  auto before = owner_ids(p, live);
  const std::string gone = live[2].node_id;
  live.erase(live.begin() + 2);
  auto after = owner_ids(p, live);
  size_t moved = 0;
  for (size_t s = 0; s < before.size(); ++s) {
    if (before[s] == gone) {
      CHECK(after[s] != gone);
      CHECK_FALSE(after[s].empty());
      ++moved;
    } else {
      CHECK(after[s] == before[s]);
    }
  }
  CHECK(moved == load(before)[gone]);
}

TEST_CASE("regional shards are owned only by their region's nodes; none when that region has no live node") {
  auto p = make_ok(64, {{"br", 48, 16}});
  auto live = nodes(3, "us", "us-");
  auto us_only = owner_ids(p, live);
  for (uint32_t s = 0; s < 64; ++s)
    CHECK(us_only[s].empty() == (s >= 48));  // br shards have no owner without a br node

  live.push_back({"br-1", "br"});
  live.push_back({"br-2", "br"});
  auto with_br = owner_ids(p, live);
  for (uint32_t s = 48; s < 64; ++s)
    CHECK((with_br[s] == "br-1" || with_br[s] == "br-2"));
  // br nodes may also own global shards (residency restricts where br data lives, not what br nodes hold).
  auto l = load(with_br);
  CHECK(l["br-1"] + l["br-2"] > 16);
  CHECK(p.shards_of("br-1", live).size() == l["br-1"]);
  CHECK(p.shards_of("absent", live).empty());
}
