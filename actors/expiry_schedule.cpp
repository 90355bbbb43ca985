#include "actors/expiry_schedule.hpp"

#include <cassert>

namespace caudal::actors {

void expiry_schedule::add(transfer_id id, uint64_t expires_at_ns) {
  assert(expires_at_ns != 0);
  heap_.emplace(expires_at_ns, id);
}

void expiry_schedule::loaded(const std::vector<entry>& items, bool more) {
  for (auto& [id, at] : items)
    add(id, at);
  more_ = more && !items.empty();
  // Entries at the last loaded time may have been cut off: read again from that time (duplicates are
  // harmless, the state machine skips what is no longer pending).
  reload_from_ns_ = more_ ? items.back().second : 0;
}

std::vector<expiry_schedule::entry> expiry_schedule::take_due(uint64_t now_ns, size_t max) {
  std::vector<entry> due;
  while (!heap_.empty() && heap_.top().first <= now_ns && due.size() < max) {
    due.emplace_back(heap_.top().second, heap_.top().first);
    heap_.pop();
  }
  return due;
}

uint64_t expiry_schedule::next_ns() const {
  uint64_t next = heap_.empty() ? 0 : heap_.top().first;
  if (more_ && (next == 0 || reload_from_ns_ < next))
    next = reload_from_ns_;
  if (next != 0 && next < not_before_ns_)
    next = not_before_ns_;
  return next;
}

bool expiry_schedule::needs_reload(uint64_t now_ns, uint64_t lookahead_ns) const {
  return more_ && (heap_.empty() || heap_.top().first >= reload_from_ns_) && reload_from_ns_ <= now_ns + lookahead_ns;
}

void expiry_schedule::clear() {
  heap_ = {};
  more_ = false;
  reload_from_ns_ = 0;
  not_before_ns_ = 0;
}

}  // namespace caudal::actors
