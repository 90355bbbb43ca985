#include "actors/ledger/working_set.hpp"

#include <algorithm>
#include <cassert>

namespace caudal::ledger {

namespace {

// Ids that can never exist (zero, int max) are never asked for: loading them is pointless.
template <class Tag>
bool loadable(const named<u128, Tag>& id) {
  return !id.value.is_zero() && !id.value.is_max();
}

// The output vectors are sets: sorted ascending (PostgreSQL reads them in index order), no duplicates.
template <class Id>
void sort_unique(std::vector<Id>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

template <class Map>
void evict_clean(Map& map, size_t max_entries, uint64_t committed_seq) {
  for (auto it = map.begin(); it != map.end() && map.size() > max_entries;) {
    if (it->second.dirty_seq <= committed_seq)
      it = map.erase(it);
    else
      ++it;
  }
}

}  // namespace

void working_set::missing_for_accounts(const std::vector<account>& batch, std::vector<account_id>& accounts) const {
  accounts.reserve(accounts.size() + batch.size());
  for (const account& a : batch) {
    if (loadable(a.id) && accounts_.count(a.id) == 0)
      accounts.push_back(a.id);
  }
  sort_unique(accounts);
  assert(std::adjacent_find(accounts.begin(), accounts.end()) == accounts.end());
}

void working_set::missing_for_transfers(const std::vector<transfer>& batch, std::vector<account_id>& accounts,
                                        std::vector<transfer_id>& transfers) const {
  accounts.reserve(accounts.size() + 2 * batch.size());
  transfers.reserve(transfers.size() + 2 * batch.size());
  auto want_account = [&](account_id id) {
    if (loadable(id) && accounts_.count(id) == 0)
      accounts.push_back(id);
  };
  // A known failed id is as good as present: it answers id_already_failed (or pending_transfer_not_found).
  auto want_transfer = [&](transfer_id id) {
    if (loadable(id) && transfers_.count(id) == 0 && failed_.count(id) == 0)
      transfers.push_back(id);
  };
  for (const transfer& t : batch) {
    want_transfer(t.id);
    want_account(t.debit_account_id);
    want_account(t.credit_account_id);
    if ((t.flags & (transfer_flags::post_pending_transfer | transfer_flags::void_pending_transfer)) == 0)
      continue;
    // Post/void: the pending transfer. When it is here, its accounts must be too (they may have been
    // evicted); when it is not, the storage loads its accounts along with it.
    auto it = transfers_.find(t.pending_id);
    if (it == transfers_.end()) {
      want_transfer(t.pending_id);
    } else {
      want_account(it->second.value.debit_account_id);
      want_account(it->second.value.credit_account_id);
    }
  }
  sort_unique(accounts);
  sort_unique(transfers);
}

void working_set::missing_for_expiry(const std::vector<transfer_id>& due, std::vector<account_id>& accounts,
                                     std::vector<transfer_id>& transfers) const {
  accounts.reserve(accounts.size() + 2 * due.size());
  transfers.reserve(transfers.size() + due.size());
  for (transfer_id id : due) {
    if (!loadable(id))
      continue;
    auto it = transfers_.find(id);
    if (it == transfers_.end()) {
      if (failed_.count(id) == 0)  // a failed id is known not to be a transfer
        transfers.push_back(id);
      continue;
    }
    for (account_id a : {it->second.value.debit_account_id, it->second.value.credit_account_id}) {
      if (loadable(a) && accounts_.count(a) == 0)
        accounts.push_back(a);
    }
  }
  sort_unique(accounts);
  sort_unique(transfers);
}

void working_set::load_account(const account& a, uint64_t version) {
  assert(loadable(a.id));
  assert(version >= a.timestamp);
  accounts_.try_emplace(a.id, account_entry{a, version, 0});
}

void working_set::load_transfer(const transfer& t, pending_state state) {
  assert(loadable(t.id));
  // Only pending transfers have a pending state, and they always have one.
  assert(((t.flags & transfer_flags::pending) != 0) == (state != pending_state::none));
  const uint64_t expiry = (t.flags & transfer_flags::pending) != 0 ? expires_at(t) : 0;
  transfers_.try_emplace(t.id, transfer_entry{t, state, expiry, 0});
}

void working_set::load_failed(transfer_id id, create_transfer_result result) {
  assert(loadable(id));
  assert(is_transient(result));
  failed_.try_emplace(id, failed_entry{result, 0});
}

const account_entry* working_set::find_account(account_id id) const {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : &it->second;
}

const transfer_entry* working_set::find_transfer(transfer_id id) const {
  auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &it->second;
}

const create_transfer_result* working_set::find_failed(transfer_id id) const {
  auto it = failed_.find(id);
  return it == failed_.end() ? nullptr : &it->second.result;
}

account_entry* working_set::find_account(account_id id) {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : &it->second;
}

transfer_entry* working_set::find_transfer(transfer_id id) {
  auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &it->second;
}

void working_set::insert_account(const account& a, uint64_t dirty_seq) {
  assert(dirty_seq > committed_seq_);
  const bool inserted = accounts_.try_emplace(a.id, account_entry{a, a.timestamp, dirty_seq}).second;
  assert(inserted);
  (void)inserted;
}

void working_set::insert_transfer(const transfer_entry& t) {
  assert(t.dirty_seq > committed_seq_);
  const bool inserted = transfers_.try_emplace(t.value.id, t).second;
  assert(inserted);
  (void)inserted;
}

void working_set::insert_failed(transfer_id id, create_transfer_result result, uint64_t dirty_seq) {
  assert(is_transient(result));
  const bool inserted = failed_.try_emplace(id, failed_entry{result, dirty_seq}).second;
  assert(inserted);
  (void)inserted;
}

void working_set::erase_account(account_id id) {
  const size_t erased = accounts_.erase(id);
  assert(erased == 1);
  (void)erased;
}

void working_set::erase_transfer(transfer_id id) {
  const size_t erased = transfers_.erase(id);
  assert(erased == 1);
  (void)erased;
}

void working_set::erase_failed(transfer_id id) {
  const size_t erased = failed_.erase(id);
  assert(erased == 1);
  (void)erased;
}

void working_set::evict(size_t max_entries) {
  evict_clean(accounts_, max_entries, committed_seq_);
  evict_clean(transfers_, max_entries, committed_seq_);
  evict_clean(failed_, max_entries, committed_seq_);
}

void working_set::clear() {
  // The clock and the commit mark stay: both only move forward, and the caller restores the clock from
  // PostgreSQL anyway (a clock that stays ahead is harmless, one that goes back is not).
  accounts_.clear();
  transfers_.clear();
  failed_.clear();
}

}  // namespace caudal::ledger
