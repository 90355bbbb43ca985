#pragma once
// Pure parsing of command-line values: whole numbers and flag names (DESIGN.md section 5).
// A usage error is a failure{errc::invalid_request, message}: the message is shown to the user as is.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/u128.hpp"

namespace caudal::cli {

// Exit codes of `caudal`.
constexpr int exit_processed = 0;  // the request was processed (item results say how each went)
constexpr int exit_failed = 1;     // the request failed (or verify found a violation)
constexpr int exit_usage = 2;      // usage error: nothing was sent

inline failure usage_error(std::string message) {
  return failure{errc::invalid_request, std::move(message)};
}

// Decimal digits only, within the type's range. `what` names the option or key in the message.
result<u128> parse_u128_arg(std::string_view what, std::string_view text);
result<uint64_t> parse_u64_arg(std::string_view what, std::string_view text);
result<uint32_t> parse_u32_arg(std::string_view what, std::string_view text);
result<uint16_t> parse_u16_arg(std::string_view what, std::string_view text);

enum class flag_kind { account, transfer };

// Names, each of which may itself be a comma-separated list ("linked,pending"). Empty names are skipped.
// Transfer flags also accept TigerBeetle's long names post_pending_transfer and void_pending_transfer.
result<uint16_t> parse_flags(flag_kind kind, const std::vector<std::string>& names);
// The names of the set bits, in bit order; a bit without a name (a newer server) prints as "bit_N".
std::vector<std::string> flag_names(flag_kind kind, uint16_t flags);
// "linked, pending, ..." for help texts and messages.
std::string known_flag_names(flag_kind kind);

}  // namespace caudal::cli
