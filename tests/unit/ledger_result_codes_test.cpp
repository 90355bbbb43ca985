// Result code names and transience (actors/ledger/result_codes.hpp).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "actors/ledger/result_codes.hpp"

using namespace caudal::ledger;

TEST_CASE("every create_account_result has its own snake_case name") {
  std::set<std::string> names;
  for (uint16_t i = 0; i <= create_account_result_max; ++i) {
    const std::string name{result_name(static_cast<create_account_result>(i))};
    CAPTURE(i);
    CHECK(name != "unknown");
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
    names.insert(name);
  }
  CHECK(names.size() == create_account_result_max + 1u);
  CHECK(result_name(create_account_result::ok) == "ok");
  CHECK(result_name(create_account_result::exists_with_different_user_data_128) ==
        "exists_with_different_user_data_128");
  CHECK(result_name(create_account_result::code_must_not_be_zero) == "code_must_not_be_zero");
  CHECK(result_name(static_cast<create_account_result>(create_account_result_max + 1)) == "unknown");
}

TEST_CASE("every create_transfer_result has its own snake_case name") {
  std::set<std::string> names;
  for (uint16_t i = 0; i <= create_transfer_result_max; ++i) {
    const std::string name{result_name(static_cast<create_transfer_result>(i))};
    CAPTURE(i);
    CHECK(name != "unknown");
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
    names.insert(name);
  }
  CHECK(names.size() == create_transfer_result_max + 1u);
  CHECK(result_name(create_transfer_result::linked_event_failed) == "linked_event_failed");
  CHECK(result_name(create_transfer_result::transfer_must_have_the_same_ledger_as_accounts) ==
        "transfer_must_have_the_same_ledger_as_accounts");
  CHECK(result_name(create_transfer_result::exceeds_debits) == "exceeds_debits");
  CHECK(result_name(static_cast<create_transfer_result>(create_transfer_result_max + 1)) == "unknown");
}

TEST_CASE("transient transfer results are exactly the state-dependent ones") {
  using r = create_transfer_result;
  const std::set<r> transient = {r::debit_account_not_found,
                                 r::credit_account_not_found,
                                 r::pending_transfer_not_found,
                                 r::debit_account_already_closed,
                                 r::credit_account_already_closed,
                                 r::overflows_debits_pending,
                                 r::overflows_credits_pending,
                                 r::overflows_debits_posted,
                                 r::overflows_credits_posted,
                                 r::overflows_debits,
                                 r::overflows_credits,
                                 r::exceeds_credits,
                                 r::exceeds_debits};
  for (uint16_t i = 0; i <= create_transfer_result_max; ++i) {
    const auto code = static_cast<r>(i);
    CAPTURE(result_name(code));
    CHECK(is_transient(code) == (transient.count(code) == 1));
  }
}
