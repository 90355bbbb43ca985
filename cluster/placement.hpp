#pragma once
// Placement: which shard a tenant lives in, and which live node should own each shard. Pure logic (no
// CAF, libpq, clock or randomness): every node computes the same answer from the same inputs.
//
// - Tenant -> shard: a fixed 64-bit hash of the tenant id (never std::hash, which may differ between
//   builds), into the shards of the tenant's residency region, or into the global shards (those outside
//   every region's range) when it has none. The region is in the id itself: bits 48..62 hold its number
//   (0: global), set when the tenant is created from its country's residency rule
//   (schemas/sql/0005_residency.sql), so every node places a tenant the same way without a lookup.
// - Shard -> node: rendezvous (highest random weight) hashing over the live nodes allowed to own it: the
//   nodes of the shard's region for a regional shard, every live node for a global one. Adding a node moves
//   only the shards it now wins (about 1/N); removing one moves only the shards it owned.
//
// A value type; build one per cluster shape (storage::ensure_cluster's answer) and share it read-only.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.hpp"
#include "base/result.hpp"

namespace caudal::cluster {

struct region_range {
  std::string region;
  uint32_t first_shard = 0;
  uint32_t shard_count = 0;
  uint32_t number = 0;  // 1..32767 as stored with the cluster; 0: its position in the list given, from 1
};

// Where a tenant id keeps its residency region's number (base/ids.hpp).
constexpr int region_number_shift = tenant_region_shift;
constexpr uint32_t max_region_number = 32767;
inline uint32_t region_number_of(tenant_id t) {
  return static_cast<uint32_t>(t.value >> region_number_shift) & max_region_number;
}

struct placement_node {
  std::string node_id;
  std::string region;
};

class placement {
 public:
  // invalid_request unless: 1..65536 shards, every region range non-empty, inside, disjoint, named and
  // numbered once, and at least one global shard left.
  static result<placement> make(uint32_t shard_count, std::vector<region_range> regions);

  uint32_t shard_count() const { return shard_count_; }
  const std::vector<region_range>& regions() const { return regions_; }

  // The tenant's shard: in its residency region's range (region_number_of), or a global shard. A region
  // number this cluster does not have: region_unavailable (its tenants cannot be placed anywhere lawful).
  result<uint32_t> shard_of(tenant_id tenant) const;
  // The region whose range holds `shard`; empty for a global shard.
  const std::string& region_of(uint32_t shard) const;

  // For every shard, the index in `live` of the node that should own it, or none when no live node may
  // (a regional shard whose region has no live node). Node ids in `live` are distinct.
  std::vector<std::optional<size_t>> owners(const std::vector<placement_node>& live) const;
  // The shards `node_id` should own among `live` (ascending); empty when it is not in `live`.
  std::vector<uint32_t> shards_of(const std::string& node_id, const std::vector<placement_node>& live) const;

  // The rendezvous weight of (node, shard): exposed for tests.
  static uint64_t weight(const std::string& node_id, uint32_t shard);

 private:
  placement() = default;
  uint32_t shard_count_ = 0;
  std::vector<region_range> regions_;    // ascending by first_shard
  std::vector<uint32_t> global_shards_;  // ascending
  std::vector<int32_t> region_index_;    // per shard: index into regions_, -1 for global
};

}  // namespace caudal::cluster
