#pragma once
// Internal to caudal_storage: column lists and row decoders shared by the ledger reads and the group
// commit. Column order here and in the SELECTs that use these lists must match.
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/ledger/types.hpp"
#include "base/ids.hpp"
#include "storage/pg_codec.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::storage::rows {

// 13 columns, decoded by read_account (then `version` as the 14th when asked).
constexpr const char* account_columns =
    "id, user_data_128, user_data_64, user_data_32, ledger, code, flags, debits_pending, debits_posted, "
    "credits_pending, credits_posted, timestamp";
// 13 columns, decoded by read_transfer.
constexpr const char* transfer_columns =
    "id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, "
    "timeout, ledger, code, flags, timestamp";
constexpr int account_column_count = 12;
constexpr int transfer_column_count = 13;

// Reads the columns of one result row left to right; remembers the first malformed value.
class reader {
 public:
  reader(const pg_rows& r, int row, int first_col = 0) : r_(r), row_(row), col_(first_col) {}

  u128 uuid() {
    u128 v;
    std::string_view s;
    if (field(s) && !codec::parse_uuid(s, v))
      bad(col_ - 1);
    return v;
  }
  int64_t i64() {
    int64_t v = 0;
    std::string_view s;
    if (field(s) && !codec::parse_i64(s, v))
      bad(col_ - 1);
    return v;
  }
  uint64_t u64_bits() { return static_cast<uint64_t>(i64()); }
  uint32_t u32() { return in_range<uint32_t>(i64()); }
  uint16_t u16() { return in_range<uint16_t>(i64()); }

  bool ok() const { return bad_col_ < 0; }
  // For the failure detail: which column was malformed (never its value).
  std::string error() const {
    return "malformed value in column " + std::to_string(bad_col_) + " of row " + std::to_string(row_);
  }

 private:
  // The next column's text; false (and marked malformed) when it is missing or NULL.
  bool field(std::string_view& out) {
    const int c = col_++;
    if (c >= PQnfields(r_.raw()) || r_.is_null(row_, c)) {
      bad(c);
      return false;
    }
    out = std::string_view(r_.text(row_, c), static_cast<size_t>(r_.length(row_, c)));
    return true;
  }
  template <class T>
  T in_range(int64_t v) {
    if (v < 0 || static_cast<uint64_t>(v) > static_cast<uint64_t>(static_cast<T>(~T{0})))
      bad(col_ - 1);
    return static_cast<T>(v);
  }
  void bad(int c) {
    if (bad_col_ < 0)
      bad_col_ = c;
  }

  const pg_rows& r_;
  int row_;
  int col_;
  int bad_col_ = -1;
};

inline ledger::account read_account(reader& in) {
  ledger::account a;
  a.id = account_id(in.uuid());
  a.user_data_128 = in.uuid();
  a.user_data_64 = in.u64_bits();
  a.user_data_32 = in.u32();
  a.ledger = in.u32();
  a.code = in.u16();
  a.flags = in.u16();
  a.debits_pending = in.u64_bits();
  a.debits_posted = in.u64_bits();
  a.credits_pending = in.u64_bits();
  a.credits_posted = in.u64_bits();
  a.timestamp = in.u64_bits();
  return a;
}

inline ledger::transfer read_transfer(reader& in) {
  ledger::transfer t;
  t.id = transfer_id(in.uuid());
  t.debit_account_id = account_id(in.uuid());
  t.credit_account_id = account_id(in.uuid());
  t.amount = in.u64_bits();
  t.pending_id = transfer_id(in.uuid());
  t.user_data_128 = in.uuid();
  t.user_data_64 = in.u64_bits();
  t.user_data_32 = in.u32();
  t.timeout = in.u32();
  t.ledger = in.u32();
  t.code = in.u16();
  t.flags = in.u16();
  t.timestamp = in.u64_bits();
  return t;
}

// The tenant id as a bigint parameter (same bit pattern).
inline std::string tenant_param(tenant_id t) {
  return std::to_string(static_cast<int64_t>(t.value));
}

}  // namespace caudal::storage::rows
