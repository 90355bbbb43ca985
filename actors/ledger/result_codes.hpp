#pragma once
// Per-item results of create_accounts and create_transfers (DESIGN.md section 5).
//
// Names follow TigerBeetle's, so its documentation reads true for us. Values are the wire values of
// api.capnp's CreateAccountResult / CreateTransferResult: append only, never renumber.
//
// Precedence: when an item is wrong in several ways, the code checked first is answered. Checks run in
// increasing numeric order, with two documented paths through the transfer codes:
//   - single-phase and pending transfers skip 38..48 (the pending-transfer checks);
//   - post_pending/void_pending transfers skip 21..25 and 32..37 for fields left at zero (taken from the
//     pending transfer), run 38..48, then 49..56 (void: no closed or overflow checks, it only releases);
//   - balancing transfers answer exceeds_credits/exceeds_debits when the largest amount they may move is 0,
//     right after the closed checks (as TigerBeetle does).
#include <cstdint>
#include <string_view>

namespace caudal::ledger {

enum class create_account_result : uint16_t {
  ok = 0,
  linked_event_failed = 1,      // another event of its linked chain failed
  linked_event_chain_open = 2,  // the batch's last event has the linked flag
  timestamp_must_be_zero = 3,   // the cluster sets timestamps
  reserved_flag = 4,            // an unknown flag bit is set
  id_must_not_be_zero = 5,
  id_must_not_be_int_max = 6,
  exists_with_different_flags = 7,
  exists_with_different_user_data_128 = 8,
  exists_with_different_user_data_64 = 9,
  exists_with_different_user_data_32 = 10,
  exists_with_different_ledger = 11,
  exists_with_different_code = 12,
  exists = 13,                          // the same account exists: nothing done (idempotent retry)
  flags_are_mutually_exclusive = 14,    // debits_must_not_exceed_credits with credits_must_not_exceed_debits
  debits_pending_must_be_zero = 15,
  debits_posted_must_be_zero = 16,
  credits_pending_must_be_zero = 17,
  credits_posted_must_be_zero = 18,
  ledger_must_not_be_zero = 19,
  code_must_not_be_zero = 20,
};
constexpr uint16_t create_account_result_max = 20;

enum class create_transfer_result : uint16_t {
  ok = 0,
  linked_event_failed = 1,
  linked_event_chain_open = 2,
  timestamp_must_be_zero = 3,
  reserved_flag = 4,
  id_must_not_be_zero = 5,
  id_must_not_be_int_max = 6,
  exists_with_different_flags = 7,
  exists_with_different_pending_id = 8,
  exists_with_different_timeout = 9,
  exists_with_different_debit_account_id = 10,
  exists_with_different_credit_account_id = 11,
  exists_with_different_amount = 12,
  exists_with_different_user_data_128 = 13,
  exists_with_different_user_data_64 = 14,
  exists_with_different_user_data_32 = 15,
  exists_with_different_ledger = 16,
  exists_with_different_code = 17,
  exists = 18,             // the same transfer exists: nothing done (idempotent retry)
  id_already_failed = 19,  // this id failed before with a transient code (see is_transient)
  flags_are_mutually_exclusive = 20,
  debit_account_id_must_not_be_zero = 21,
  debit_account_id_must_not_be_int_max = 22,
  credit_account_id_must_not_be_zero = 23,
  credit_account_id_must_not_be_int_max = 24,
  accounts_must_be_different = 25,
  pending_id_must_be_zero = 26,
  pending_id_must_not_be_zero = 27,
  pending_id_must_not_be_int_max = 28,
  pending_id_must_be_different = 29,
  timeout_reserved_for_pending_transfer = 30,
  amount_must_not_be_zero = 31,  // except post/void, where 0 means the pending amount
  ledger_must_not_be_zero = 32,
  code_must_not_be_zero = 33,
  debit_account_not_found = 34,
  credit_account_not_found = 35,
  accounts_must_have_the_same_ledger = 36,
  transfer_must_have_the_same_ledger_as_accounts = 37,
  pending_transfer_not_found = 38,
  pending_transfer_not_pending = 39,
  pending_transfer_has_different_debit_account_id = 40,
  pending_transfer_has_different_credit_account_id = 41,
  pending_transfer_has_different_ledger = 42,
  pending_transfer_has_different_code = 43,
  exceeds_pending_transfer_amount = 44,
  pending_transfer_has_different_amount = 45,
  pending_transfer_already_posted = 46,
  pending_transfer_already_voided = 47,
  pending_transfer_expired = 48,
  debit_account_already_closed = 49,
  credit_account_already_closed = 50,
  overflows_debits_pending = 51,  // a balance would reach 2^63 (amounts and balances are PostgreSQL bigint)
  overflows_credits_pending = 52,
  overflows_debits_posted = 53,
  overflows_credits_posted = 54,
  overflows_debits = 55,
  overflows_credits = 56,
  overflows_timeout = 57,
  exceeds_credits = 58,  // debit account has debits_must_not_exceed_credits
  exceeds_debits = 59,   // credit account has credits_must_not_exceed_debits
};
constexpr uint16_t create_transfer_result_max = 59;

// snake_case names, as the CLI prints them and TigerBeetle documents them.
std::string_view result_name(create_account_result r);
std::string_view result_name(create_transfer_result r);

// A transient failure depends on state that may change later (an account that does not exist yet, a
// balance too low...). Its id is recorded in the same group commit, so a retry answers id_already_failed
// instead of succeeding later with a different meaning.
bool is_transient(create_transfer_result r);

}  // namespace caudal::ledger
