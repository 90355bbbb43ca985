#pragma once
// The one place where wire types (api.capnp) and C++ domain types meet (STYLE 3). The gateway and the
// client library both use it, so a field added to the schema is mapped once.
#include <optional>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/errc.hpp"
#include "schemas/api.capnp.h"

namespace caudal::wire {

void to_wire(const ledger::account& a, api::Account::Builder b);
ledger::account from_wire(api::Account::Reader r);

void to_wire(const ledger::transfer& t, api::Transfer::Builder b);
ledger::transfer from_wire(api::Transfer::Reader r);

void to_wire(const ledger::account_filter& f, api::AccountFilter::Builder b);
ledger::account_filter from_wire(api::AccountFilter::Reader r);

void to_wire(const ledger::account_balance& x, api::AccountBalance::Builder b);
ledger::account_balance from_wire(api::AccountBalance::Reader r);

void to_wire(const u128& v, api::U128::Builder b);
u128 from_wire(api::U128::Reader r);

api::CreateAccountResult to_wire(ledger::create_account_result r);
api::CreateTransferResult to_wire(ledger::create_transfer_result r);
// Unknown values (a newer server) come back as nullopt.
std::optional<ledger::create_account_result> from_wire(api::CreateAccountResult r);
std::optional<ledger::create_transfer_result> from_wire(api::CreateTransferResult r);

void set_error(api::Error::Builder b, errc e);  // code and retryable
// Unknown codes (a newer server) come back as errc::internal with the wire's retryable flag kept by the caller.
errc from_wire(api::Error::Reader r);

}  // namespace caudal::wire
