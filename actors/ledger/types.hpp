#pragma once
// Ledger domain types (DESIGN.md section 5), modelled on TigerBeetle's Account and Transfer.
// Plain value types: the pure state machine, the storage layer, the actors and the wire codec share them.
#include <cstdint>

#include "base/ids.hpp"

namespace caudal::ledger {

// Account flags (TigerBeetle's bit values).
namespace account_flags {
constexpr uint16_t linked = 1u << 0;
constexpr uint16_t debits_must_not_exceed_credits = 1u << 1;
constexpr uint16_t credits_must_not_exceed_debits = 1u << 2;
constexpr uint16_t history = 1u << 3;
constexpr uint16_t closed = 1u << 5;
constexpr uint16_t all = linked | debits_must_not_exceed_credits | credits_must_not_exceed_debits | history | closed;
}  // namespace account_flags

// Transfer flags (TigerBeetle's bit values).
namespace transfer_flags {
constexpr uint16_t linked = 1u << 0;
constexpr uint16_t pending = 1u << 1;
constexpr uint16_t post_pending_transfer = 1u << 2;
constexpr uint16_t void_pending_transfer = 1u << 3;
constexpr uint16_t balancing_debit = 1u << 4;
constexpr uint16_t balancing_credit = 1u << 5;
constexpr uint16_t all = linked | pending | post_pending_transfer | void_pending_transfer | balancing_debit |
                         balancing_credit;
}  // namespace transfer_flags

struct account {
  account_id id;
  u128 user_data_128;
  uint64_t user_data_64 = 0;
  uint32_t user_data_32 = 0;
  uint32_t ledger = 0;
  uint16_t code = 0;
  uint16_t flags = 0;
  uint64_t debits_pending = 0;
  uint64_t debits_posted = 0;
  uint64_t credits_pending = 0;
  uint64_t credits_posted = 0;
  uint64_t timestamp = 0;  // set by the cluster at creation (ns), strictly increasing per tenant

  friend bool operator==(const account& a, const account& b) {
    return a.id == b.id && a.user_data_128 == b.user_data_128 && a.user_data_64 == b.user_data_64 &&
           a.user_data_32 == b.user_data_32 && a.ledger == b.ledger && a.code == b.code && a.flags == b.flags &&
           a.debits_pending == b.debits_pending && a.debits_posted == b.debits_posted &&
           a.credits_pending == b.credits_pending && a.credits_posted == b.credits_posted &&
           a.timestamp == b.timestamp;
  }
};

struct transfer {
  transfer_id id;
  account_id debit_account_id;
  account_id credit_account_id;
  uint64_t amount = 0;
  transfer_id pending_id;  // post/void: the pending transfer
  u128 user_data_128;
  uint64_t user_data_64 = 0;
  uint32_t user_data_32 = 0;
  uint32_t timeout = 0;  // seconds; pending transfers only; 0 = never expires
  uint32_t ledger = 0;
  uint16_t code = 0;
  uint16_t flags = 0;
  uint64_t timestamp = 0;  // set by the cluster (ns), strictly increasing per tenant

  friend bool operator==(const transfer& a, const transfer& b) {
    return a.id == b.id && a.debit_account_id == b.debit_account_id && a.credit_account_id == b.credit_account_id &&
           a.amount == b.amount && a.pending_id == b.pending_id && a.user_data_128 == b.user_data_128 &&
           a.user_data_64 == b.user_data_64 && a.user_data_32 == b.user_data_32 && a.timeout == b.timeout &&
           a.ledger == b.ledger && a.code == b.code && a.flags == b.flags && a.timestamp == b.timestamp;
  }
};

// The life of a pending transfer. Stored beside the (immutable) transfer row.
enum class pending_state : uint8_t {
  none = 0,     // not a pending transfer
  pending = 1,  // funds reserved
  posted = 2,
  voided = 3,
  expired = 4,
};

// One point of an account's balance history (accounts with the history flag), as TigerBeetle's AccountBalance.
struct account_balance {
  uint64_t timestamp = 0;  // the event that produced these balances
  uint64_t debits_pending = 0;
  uint64_t debits_posted = 0;
  uint64_t credits_pending = 0;
  uint64_t credits_posted = 0;

  friend bool operator==(const account_balance& a, const account_balance& b) {
    return a.timestamp == b.timestamp && a.debits_pending == b.debits_pending && a.debits_posted == b.debits_posted &&
           a.credits_pending == b.credits_pending && a.credits_posted == b.credits_posted;
  }
};

// Query filter of account transfers and account balances (TigerBeetle's AccountFilter).
namespace account_filter_flags {
constexpr uint32_t debits = 1u << 0;    // transfers where the account is the debit side
constexpr uint32_t credits = 1u << 1;   // ... the credit side
constexpr uint32_t reversed = 1u << 2;  // newest first
}  // namespace account_filter_flags

struct account_filter {
  account_id account;
  u128 user_data_128;         // 0 = any
  uint64_t user_data_64 = 0;  // 0 = any
  uint32_t user_data_32 = 0;  // 0 = any
  uint16_t code = 0;          // 0 = any
  uint64_t timestamp_min = 0;  // inclusive; 0 = no bound
  uint64_t timestamp_max = 0;  // inclusive; 0 = no bound
  uint32_t limit = 0;          // 1..limits::max_query_rows
  uint32_t flags = 0;          // account_filter_flags; at least one of debits/credits
};

}  // namespace caudal::ledger
