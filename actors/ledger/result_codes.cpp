#include "actors/ledger/result_codes.hpp"

namespace caudal::ledger {

// The names are the enumerators' own spelling (TigerBeetle's), so logs, the CLI and its docs agree.
std::string_view result_name(create_account_result r) {
  using r_t = create_account_result;
  switch (r) {
    case r_t::ok: return "ok";
    case r_t::linked_event_failed: return "linked_event_failed";
    case r_t::linked_event_chain_open: return "linked_event_chain_open";
    case r_t::timestamp_must_be_zero: return "timestamp_must_be_zero";
    case r_t::reserved_flag: return "reserved_flag";
    case r_t::id_must_not_be_zero: return "id_must_not_be_zero";
    case r_t::id_must_not_be_int_max: return "id_must_not_be_int_max";
    case r_t::exists_with_different_flags: return "exists_with_different_flags";
    case r_t::exists_with_different_user_data_128: return "exists_with_different_user_data_128";
    case r_t::exists_with_different_user_data_64: return "exists_with_different_user_data_64";
    case r_t::exists_with_different_user_data_32: return "exists_with_different_user_data_32";
    case r_t::exists_with_different_ledger: return "exists_with_different_ledger";
    case r_t::exists_with_different_code: return "exists_with_different_code";
    case r_t::exists: return "exists";
    case r_t::flags_are_mutually_exclusive: return "flags_are_mutually_exclusive";
    case r_t::debits_pending_must_be_zero: return "debits_pending_must_be_zero";
    case r_t::debits_posted_must_be_zero: return "debits_posted_must_be_zero";
    case r_t::credits_pending_must_be_zero: return "credits_pending_must_be_zero";
    case r_t::credits_posted_must_be_zero: return "credits_posted_must_be_zero";
    case r_t::ledger_must_not_be_zero: return "ledger_must_not_be_zero";
    case r_t::code_must_not_be_zero: return "code_must_not_be_zero";
  }
  return "unknown";  // a value off the wire that no enumerator names
}

std::string_view result_name(create_transfer_result r) {
  using r_t = create_transfer_result;
  switch (r) {
    case r_t::ok: return "ok";
    case r_t::linked_event_failed: return "linked_event_failed";
    case r_t::linked_event_chain_open: return "linked_event_chain_open";
    case r_t::timestamp_must_be_zero: return "timestamp_must_be_zero";
    case r_t::reserved_flag: return "reserved_flag";
    case r_t::id_must_not_be_zero: return "id_must_not_be_zero";
    case r_t::id_must_not_be_int_max: return "id_must_not_be_int_max";
    case r_t::exists_with_different_flags: return "exists_with_different_flags";
    case r_t::exists_with_different_pending_id: return "exists_with_different_pending_id";
    case r_t::exists_with_different_timeout: return "exists_with_different_timeout";
    case r_t::exists_with_different_debit_account_id: return "exists_with_different_debit_account_id";
    case r_t::exists_with_different_credit_account_id: return "exists_with_different_credit_account_id";
    case r_t::exists_with_different_amount: return "exists_with_different_amount";
    case r_t::exists_with_different_user_data_128: return "exists_with_different_user_data_128";
    case r_t::exists_with_different_user_data_64: return "exists_with_different_user_data_64";
    case r_t::exists_with_different_user_data_32: return "exists_with_different_user_data_32";
    case r_t::exists_with_different_ledger: return "exists_with_different_ledger";
    case r_t::exists_with_different_code: return "exists_with_different_code";
    case r_t::exists: return "exists";
    case r_t::id_already_failed: return "id_already_failed";
    case r_t::flags_are_mutually_exclusive: return "flags_are_mutually_exclusive";
    case r_t::debit_account_id_must_not_be_zero: return "debit_account_id_must_not_be_zero";
    case r_t::debit_account_id_must_not_be_int_max: return "debit_account_id_must_not_be_int_max";
    case r_t::credit_account_id_must_not_be_zero: return "credit_account_id_must_not_be_zero";
    case r_t::credit_account_id_must_not_be_int_max: return "credit_account_id_must_not_be_int_max";
    case r_t::accounts_must_be_different: return "accounts_must_be_different";
    case r_t::pending_id_must_be_zero: return "pending_id_must_be_zero";
    case r_t::pending_id_must_not_be_zero: return "pending_id_must_not_be_zero";
    case r_t::pending_id_must_not_be_int_max: return "pending_id_must_not_be_int_max";
    case r_t::pending_id_must_be_different: return "pending_id_must_be_different";
    case r_t::timeout_reserved_for_pending_transfer: return "timeout_reserved_for_pending_transfer";
    case r_t::amount_must_not_be_zero: return "amount_must_not_be_zero";
    case r_t::ledger_must_not_be_zero: return "ledger_must_not_be_zero";
    case r_t::code_must_not_be_zero: return "code_must_not_be_zero";
    case r_t::debit_account_not_found: return "debit_account_not_found";
    case r_t::credit_account_not_found: return "credit_account_not_found";
    case r_t::accounts_must_have_the_same_ledger: return "accounts_must_have_the_same_ledger";
    case r_t::transfer_must_have_the_same_ledger_as_accounts: return "transfer_must_have_the_same_ledger_as_accounts";
    case r_t::pending_transfer_not_found: return "pending_transfer_not_found";
    case r_t::pending_transfer_not_pending: return "pending_transfer_not_pending";
    case r_t::pending_transfer_has_different_debit_account_id:
      return "pending_transfer_has_different_debit_account_id";
    case r_t::pending_transfer_has_different_credit_account_id:
      return "pending_transfer_has_different_credit_account_id";
    case r_t::pending_transfer_has_different_ledger: return "pending_transfer_has_different_ledger";
    case r_t::pending_transfer_has_different_code: return "pending_transfer_has_different_code";
    case r_t::exceeds_pending_transfer_amount: return "exceeds_pending_transfer_amount";
    case r_t::pending_transfer_has_different_amount: return "pending_transfer_has_different_amount";
    case r_t::pending_transfer_already_posted: return "pending_transfer_already_posted";
    case r_t::pending_transfer_already_voided: return "pending_transfer_already_voided";
    case r_t::pending_transfer_expired: return "pending_transfer_expired";
    case r_t::debit_account_already_closed: return "debit_account_already_closed";
    case r_t::credit_account_already_closed: return "credit_account_already_closed";
    case r_t::overflows_debits_pending: return "overflows_debits_pending";
    case r_t::overflows_credits_pending: return "overflows_credits_pending";
    case r_t::overflows_debits_posted: return "overflows_debits_posted";
    case r_t::overflows_credits_posted: return "overflows_credits_posted";
    case r_t::overflows_debits: return "overflows_debits";
    case r_t::overflows_credits: return "overflows_credits";
    case r_t::overflows_timeout: return "overflows_timeout";
    case r_t::exceeds_credits: return "exceeds_credits";
    case r_t::exceeds_debits: return "exceeds_debits";
  }
  return "unknown";  // a value off the wire that no enumerator names
}

bool is_transient(create_transfer_result r) {
  using r_t = create_transfer_result;
  switch (r) {
    case r_t::debit_account_not_found:
    case r_t::credit_account_not_found:
    case r_t::pending_transfer_not_found:
    case r_t::debit_account_already_closed:
    case r_t::credit_account_already_closed:
    case r_t::overflows_debits_pending:
    case r_t::overflows_credits_pending:
    case r_t::overflows_debits_posted:
    case r_t::overflows_credits_posted:
    case r_t::overflows_debits:
    case r_t::overflows_credits:
    case r_t::exceeds_credits:
    case r_t::exceeds_debits:
      return true;
    default:
      return false;
  }
}

}  // namespace caudal::ledger
