#pragma once
// The one mapping between internode.capnp (what nodes send each other) and C++ types. Requests and replies
// are bytes (a flat Cap'n Proto message) so that CAF's network layer carries them as a plain std::string.
// Decoding checks everything a peer could get wrong (sizes, unions, enum values): a malformed message is
// refused with invalid_request / internal, never trusted.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/errc.hpp"
#include "base/ids.hpp"
#include "base/result.hpp"

namespace caudal::wire {

// The ledger operations one node forwards to another (the client API's Session calls).
enum class forward_op : uint8_t {
  create_accounts,
  create_transfers,
  lookup_accounts,
  lookup_transfers,
  account_transfers,
  account_balances,
};
const char* forward_op_name(forward_op op);

// Exactly the fields of `op` are used; the others stay empty.
struct forwarded_request {
  forward_op op = forward_op::create_accounts;
  tenant_id tenant;
  std::optional<tenant_id> caller_tenant;  // none: an operator session
  uint32_t caller_scopes = 0;              // security/scopes.hpp bits
  std::vector<ledger::account> accounts;    // create_accounts
  std::vector<ledger::transfer> transfers;  // create_transfers
  std::vector<u128> ids;                    // lookup_accounts, lookup_transfers
  ledger::account_filter filter;            // account_transfers, account_balances
};

// The answer to a request of `op`: an error (not none), or the list that op answers.
struct forwarded_reply {
  forward_op op = forward_op::create_accounts;
  errc error = errc::none;
  std::vector<ledger::create_account_result> account_results;  // create_accounts
  std::vector<ledger::create_transfer_result> transfer_results;  // create_transfers
  std::vector<ledger::account> accounts;                         // lookup_accounts
  std::vector<ledger::transfer> transfers;                       // lookup_transfers, account_transfers
  std::vector<ledger::account_balance> balances;                 // account_balances
};

// A forwarded message is at most this big (a full batch of transfers is ~1.3 MB).
constexpr size_t max_forwarded_bytes = 16u << 20;

std::string encode(const forwarded_request& r);
// invalid_request: not a request (bad framing, unknown operation, more than limits::max_batch_items items).
result<forwarded_request> decode_request(std::string_view bytes);

std::string encode(const forwarded_reply& r);
// The reply to a request of `op`. internal: malformed, or the answer of another operation (a peer bug).
result<forwarded_reply> decode_reply(std::string_view bytes, forward_op op);

}  // namespace caudal::wire
