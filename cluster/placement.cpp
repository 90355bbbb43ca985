#include "cluster/placement.hpp"

#include <algorithm>
#include <cassert>

namespace caudal::cluster {

namespace {

// splitmix64's finaliser: a bijective 64-bit mix with good avalanche; fixed forever (changing it would
// move every tenant to another shard).
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a over the node id's bytes, then mixed: a stable hash of a string.
uint64_t hash_text(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

const std::string no_region;

}  // namespace

result<placement> placement::make(uint32_t shard_count, std::vector<region_range> regions) {
  if (shard_count < 1 || shard_count > 65536)
    return failure{errc::invalid_request, "placement: shard count must be 1..65536"};
  for (size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].number == 0)
      regions[i].number = static_cast<uint32_t>(i + 1);
    if (regions[i].number > max_region_number)
      return failure{errc::invalid_request, "placement: region numbers go up to 32767"};
    for (size_t j = 0; j < i; ++j)
      if (regions[j].number == regions[i].number)
        return failure{errc::invalid_request, "placement: region number " + std::to_string(regions[i].number) +
                                                  " given twice"};
  }
  std::sort(regions.begin(), regions.end(),
            [](const region_range& a, const region_range& b) { return a.first_shard < b.first_shard; });
  placement p;
  p.shard_count_ = shard_count;
  p.region_index_.assign(shard_count, -1);
  for (size_t i = 0; i < regions.size(); ++i) {
    const auto& r = regions[i];
    if (r.region.empty() || r.shard_count == 0 || uint64_t{r.first_shard} + r.shard_count > shard_count)
      return failure{errc::invalid_request, "placement: region '" + r.region + "' needs a non-empty range inside"};
    for (uint32_t s = r.first_shard; s < r.first_shard + r.shard_count; ++s) {
      if (p.region_index_[s] != -1)
        return failure{errc::invalid_request, "placement: region '" + r.region + "' overlaps another"};
      p.region_index_[s] = static_cast<int32_t>(i);
    }
    for (size_t j = 0; j < i; ++j)
      if (regions[j].region == r.region)
        return failure{errc::invalid_request, "placement: region '" + r.region + "' named twice"};
  }
  for (uint32_t s = 0; s < shard_count; ++s)
    if (p.region_index_[s] == -1)
      p.global_shards_.push_back(s);
  if (p.global_shards_.empty())
    return failure{errc::invalid_request, "placement: the regions leave no global shard"};
  p.regions_ = std::move(regions);
  return p;
}

result<uint32_t> placement::shard_of(tenant_id tenant) const {
  const uint64_t h = mix64(tenant.value);
  const uint32_t number = region_number_of(tenant);
  if (number == 0)
    return global_shards_[h % global_shards_.size()];
  for (const auto& r : regions_)
    if (r.number == number)
      return r.first_shard + static_cast<uint32_t>(h % r.shard_count);
  return failure{errc::region_unavailable,
                 "placement: no shards for residency region number " + std::to_string(number)};
}

const std::string& placement::region_of(uint32_t shard) const {
  assert(shard < shard_count_);
  const int32_t i = region_index_[shard];
  return i < 0 ? no_region : regions_[static_cast<size_t>(i)].region;
}

uint64_t placement::weight(const std::string& node_id, uint32_t shard) {
  return mix64(hash_text(node_id) ^ mix64(0x5eed0000ULL + shard));
}

std::vector<std::optional<size_t>> placement::owners(const std::vector<placement_node>& live) const {
  std::vector<uint64_t> node_hash(live.size());
  for (size_t n = 0; n < live.size(); ++n)
    node_hash[n] = hash_text(live[n].node_id);
  std::vector<std::optional<size_t>> out(shard_count_);
  for (uint32_t s = 0; s < shard_count_; ++s) {
    const std::string& region = region_of(s);
    const uint64_t shard_hash = mix64(0x5eed0000ULL + s);
    uint64_t best = 0;
    for (size_t n = 0; n < live.size(); ++n) {
      if (!region.empty() && live[n].region != region)
        continue;
      const uint64_t w = mix64(node_hash[n] ^ shard_hash);
      // Ties (astronomically rare) go to the smaller node id, so every node decides the same.
      if (!out[s] || w > best || (w == best && live[n].node_id < live[*out[s]].node_id)) {
        best = w;
        out[s] = n;
      }
    }
  }
  return out;
}

std::vector<uint32_t> placement::shards_of(const std::string& node_id, const std::vector<placement_node>& live) const {
  std::vector<uint32_t> mine;
  auto owner = owners(live);
  for (uint32_t s = 0; s < shard_count_; ++s)
    if (owner[s] && live[*owner[s]].node_id == node_id)
      mine.push_back(s);
  return mine;
}

}  // namespace caudal::cluster
