#pragma once
// The `--file F` of `caudal account create` and `caudal transfer create`: a JSON array of items whose keys
// are the option names, sent as one batch (a linked chain, say) and answered with one result per item.
//
//   accounts:  id, ledger, code, flags, user_data_128, user_data_64, user_data_32
//   transfers: id, debit, credit, amount, ledger, code, flags, pending_id, timeout,
//              user_data_128, user_data_64, user_data_32
//
// Numbers are JSON numbers or decimal strings (ids up to 2^128-1 need strings); flags is a list of names
// (DESIGN.md section 5). A missing key means 0. Any error (unknown key, bad number, unknown flag) is a
// usage error naming the item's index (0-based, as the results) and the key: then nothing is sent.
#include <string>
#include <string_view>
#include <vector>

#include "actors/ledger/types.hpp"
#include "base/result.hpp"

namespace caudal::cli {

result<std::vector<ledger::account>> parse_account_items(std::string_view json_text);
result<std::vector<ledger::transfer>> parse_transfer_items(std::string_view json_text);

// The whole file ("-" reads standard input); a usage error when it cannot be read.
result<std::string> read_items_file(const std::string& path);

}  // namespace caudal::cli
