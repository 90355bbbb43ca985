#pragma once
// A tenant's pending expiries in time order (DESIGN.md section 5: expiry is a durable event the tenant's
// sequencer applies when its clock passes a pending transfer's expiry). Pure bookkeeping, no CAF: the
// tenant actor owns one and drives its timer from next_ns().
//
// It holds what was loaded from PostgreSQL plus what this incarnation created. PostgreSQL may hold more
// than was loaded (a bounded load): then `more` is set and everything from reload_from() on must be read
// again before it is due. Entries may be stale (posted or voided since): the state machine skips those.
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "base/ids.hpp"

namespace caudal::actors {

class expiry_schedule {
 public:
  using entry = std::pair<transfer_id, uint64_t>;  // (pending transfer, expires_at ns)

  // A pending transfer with a timeout, created or loaded.
  void add(transfer_id id, uint64_t expires_at_ns);
  // A load from PostgreSQL (ascending by expiry): `more` when it stopped at its limit.
  void loaded(const std::vector<entry>& items, bool more);
  // Removes and returns the entries due at now_ns (at most `max`), earliest first.
  std::vector<entry> take_due(uint64_t now_ns, size_t max);
  // When something must happen next: the earliest expiry, or the point from which PostgreSQL must be read
  // again, whichever is first, but not before a back-off set by delay_until(). 0: nothing.
  uint64_t next_ns() const;
  // Whether PostgreSQL must be read again now (what was loaded is used up, and the rest is due soon).
  bool needs_reload(uint64_t now_ns, uint64_t lookahead_ns) const;
  uint64_t reload_from_ns() const { return reload_from_ns_; }
  // Nothing is due before t (after a unit of expiries failed to run).
  void delay_until(uint64_t t_ns) { not_before_ns_ = t_ns; }
  bool delayed(uint64_t now_ns) const { return now_ns < not_before_ns_; }
  void clear();
  size_t size() const { return heap_.size(); }

 private:
  using item = std::pair<uint64_t, transfer_id>;
  std::priority_queue<item, std::vector<item>, std::greater<>> heap_;
  bool more_ = false;
  uint64_t reload_from_ns_ = 0;
  uint64_t not_before_ns_ = 0;
};

}  // namespace caudal::actors
