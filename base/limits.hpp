#pragma once
// Every queue, batch and table has a named limit (STYLE 6). Node-tunable ones live in the node config;
// these are the protocol's fixed limits.
#include <cstddef>
#include <cstdint>

namespace caudal::limits {

// Items per create/lookup request (as TigerBeetle's 8,190 per batch). More is refused: batch_too_large.
constexpr size_t max_batch_items = 8190;
// Rows one account-transfers or balances query returns at most.
constexpr uint32_t max_query_rows = 8190;
// Amounts and balances are below 2^63: they are PostgreSQL bigint.
constexpr uint64_t max_amount = (uint64_t{1} << 63) - 1;
// Tenant names and other free text from clients.
constexpr size_t max_name_bytes = 128;

}  // namespace caudal::limits
