#pragma once
// Strong id types: a tenant id can never be passed where an account id is expected.
#include <cstdint>
#include <functional>

#include "base/u128.hpp"

namespace caudal {

template <class T, class Tag>
struct named {
  T value{};
  constexpr named() = default;
  constexpr explicit named(T v) : value(v) {}
  friend constexpr bool operator==(const named& a, const named& b) { return a.value == b.value; }
  friend constexpr bool operator!=(const named& a, const named& b) { return !(a == b); }
  friend constexpr bool operator<(const named& a, const named& b) { return a.value < b.value; }
};

using tenant_id = named<uint64_t, struct tenant_id_tag>;
// A tenant id keeps its residency region's number (0: none) in bits 48..62: every node places the tenant
// from its id alone (cluster/placement.hpp), and the id gets it when the tenant is created
// (storage/admin_store.cpp).
constexpr int tenant_region_shift = 48;
using account_id = named<u128, struct account_id_tag>;
using transfer_id = named<u128, struct transfer_id_tag>;

struct id_hash {
  template <class Tag>
  size_t operator()(const named<u128, Tag>& id) const noexcept {
    return u128_hash{}(id.value);
  }
  template <class Tag>
  size_t operator()(const named<uint64_t, Tag>& id) const noexcept {
    return u128_hash{}(u128::from_u64(id.value));
  }
};

}  // namespace caudal
