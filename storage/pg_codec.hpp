#pragma once
// Encodings between our value types and PostgreSQL columns, written for the batch writer's hot path
// (no streams, no allocation per value): text for parameters and results, binary for COPY.
// Used by the storage layer and its tests; no libpq here.
//
//   128-bit ids  <-> uuid: the 16 big-endian bytes of (hi, lo), "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
//   u64          <-> bigint holding the same bit pattern (static_cast<int64_t>)
//   u32          <-> bigint, u16 <-> integer (plain values)
#include <cassert>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/u128.hpp"

namespace caudal::storage::codec {

constexpr size_t uuid_text_bytes = 36;

inline char* write_uuid(char* out, const u128& v) {
  static constexpr char hex[] = "0123456789abcdef";
  // Dashes after bytes 4, 6, 8 and 10 of the 16.
  for (int i = 0; i < 16; ++i) {
    const uint64_t half = i < 8 ? v.hi : v.lo;
    const unsigned byte = static_cast<unsigned>(half >> (56 - 8 * (i & 7))) & 0xffu;
    *out++ = hex[byte >> 4];
    *out++ = hex[byte & 0xf];
    if (i == 3 || i == 5 || i == 7 || i == 9)
      *out++ = '-';
  }
  return out;
}

inline void append_uuid(std::string& out, const u128& v) {
  char buf[uuid_text_bytes];
  write_uuid(buf, v);
  out.append(buf, uuid_text_bytes);
}

inline std::string uuid_text(const u128& v) {
  std::string s;
  append_uuid(s, v);
  return s;
}

namespace detail {
inline int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
}  // namespace detail

// Parses PostgreSQL's uuid output (and any 32 hex digits with dashes between them). False on anything else.
inline bool parse_uuid(std::string_view s, u128& out) {
  uint64_t halves[2] = {0, 0};
  int digits = 0;
  for (char c : s) {
    if (c == '-')
      continue;
    const int d = detail::hex_value(c);
    if (d < 0 || digits >= 32)
      return false;
    uint64_t& h = halves[digits / 16];
    h = (h << 4) | static_cast<uint64_t>(d);
    ++digits;
  }
  if (digits != 32)
    return false;
  out = u128{halves[0], halves[1]};
  return true;
}

inline void append_i64(std::string& out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}
// A u64 stored as the bigint with the same bits (u64 max <-> -1).
inline void append_u64_bits(std::string& out, uint64_t v) {
  append_i64(out, static_cast<int64_t>(v));
}
inline void append_u32(std::string& out, uint32_t v) {
  append_i64(out, static_cast<int64_t>(v));
}

// Decimal text of a bigint column. False on anything else.
inline bool parse_i64(std::string_view s, int64_t& out) {
  auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// A text array literal ("{a,b,c}") for parameters like $2::uuid[] or $3::bigint[]. Elements are our
// own encodings (digits, '-', hex), so nothing needs quoting.
class array_literal {
 public:
  explicit array_literal(size_t expected_items = 0, size_t bytes_per_item = 21) {
    text_.reserve(2 + expected_items * (bytes_per_item + 1));
    text_.push_back('{');
  }
  void add_uuid(const u128& v) {
    sep();
    append_uuid(text_, v);
  }
  void add_i64(int64_t v) {
    sep();
    append_i64(text_, v);
  }
  void add_u64_bits(uint64_t v) { add_i64(static_cast<int64_t>(v)); }
  size_t size() const { return items_; }
  // The literal; the object is finished afterwards.
  const char* c_str() {
    if (!closed_) {
      text_.push_back('}');
      closed_ = true;
    }
    return text_.c_str();
  }

 private:
  void sep() {
    if (items_++ > 0)
      text_.push_back(',');
  }
  std::string text_;
  size_t items_ = 0;
  bool closed_ = false;
};

// Builds a COPY ... FROM STDIN (FORMAT binary) payload: the server parses no text, which halves the cost of
// COPY on the server's side. Each value must have its column's exact width: uuid 16 bytes, bigint 8,
// integer 4, smallint 2 (a mismatch fails the COPY with "incorrect binary data format").
class copy_binary {
 public:
  explicit copy_binary(size_t expected_rows = 0, size_t bytes_per_row = 128) {
    text_.reserve(32 + expected_rows * bytes_per_row);
    static constexpr char signature[] = "PGCOPY\n\377\r\n";  // 11 bytes with its terminating NUL
    text_.append(signature, 11);
    be32(0);  // flags: no OIDs
    be32(0);  // header extension length
  }
  void begin_row(int16_t columns) {
    be16(static_cast<uint16_t>(columns));
    ++rows_;
  }
  copy_binary& uuid(const u128& v) {
    be32(16);
    be64(v.hi);
    be64(v.lo);
    return *this;
  }
  copy_binary& i64(int64_t v) {
    be32(8);
    be64(static_cast<uint64_t>(v));
    return *this;
  }
  copy_binary& u64_bits(uint64_t v) { return i64(static_cast<int64_t>(v)); }
  copy_binary& i32(int32_t v) {
    be32(4);
    be32(static_cast<uint32_t>(v));
    return *this;
  }
  copy_binary& i16(int16_t v) {
    be32(2);
    be16(static_cast<uint16_t>(v));
    return *this;
  }
  size_t rows() const { return rows_; }
  // The payload, with the trailer; the object is finished afterwards.
  const std::string& finish() {
    if (!finished_) {
      be16(0xffff);
      finished_ = true;
    }
    return text_;
  }

 private:
  void be16(uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    text_.append(b, 2);
  }
  void be32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    text_.append(b, 4);
  }
  void be64(uint64_t v) {
    be32(static_cast<uint32_t>(v >> 32));
    be32(static_cast<uint32_t>(v));
  }
  std::string text_;
  size_t rows_ = 0;
  bool finished_ = false;
};

// A one-dimensional array parameter in PostgreSQL's binary format (array_recv), sent with format 1: the
// server parses no text. The element type must be the parameter's (e.g. $2::uuid[] takes uuid_oid).
class array_binary {
 public:
  static constexpr uint32_t int2_oid = 21;
  static constexpr uint32_t int4_oid = 23;
  static constexpr uint32_t int8_oid = 20;
  static constexpr uint32_t uuid_oid = 2950;

  array_binary(uint32_t element_oid, size_t expected_items, size_t bytes_per_item) : element_oid_(element_oid) {
    data_.reserve(20 + expected_items * (4 + bytes_per_item));
    be32(1);  // dimensions
    be32(0);  // flags: no NULLs
    be32(element_oid);
    be32(0);  // size of the dimension: set by finish()
    be32(1);  // lower bound
  }
  void add_uuid(const u128& v) {
    be32(16);
    be64(v.hi);
    be64(v.lo);
    ++items_;
  }
  void add_i64(int64_t v) {
    be32(8);
    be64(static_cast<uint64_t>(v));
    ++items_;
  }
  void add_u64_bits(uint64_t v) { add_i64(static_cast<int64_t>(v)); }
  void add_i32(int32_t v) {
    be32(4);
    be32(static_cast<uint32_t>(v));
    ++items_;
  }
  void add_i16(int16_t v) {
    be32(2);
    const char b[2] = {static_cast<char>(static_cast<uint16_t>(v) >> 8), static_cast<char>(v)};
    data_.append(b, 2);
    ++items_;
  }
  size_t size() const { return items_; }
  uint32_t element_oid() const { return element_oid_; }
  // The parameter's bytes; the object is finished afterwards.
  const std::string& finish() {
    const auto n = static_cast<uint32_t>(items_);
    for (int i = 0; i < 4; ++i)
      data_[12 + static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
    return data_;
  }

 private:
  void be32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    data_.append(b, 4);
  }
  void be64(uint64_t v) {
    be32(static_cast<uint32_t>(v >> 32));
    be32(static_cast<uint32_t>(v));
  }
  uint32_t element_oid_;
  std::string data_;
  size_t items_ = 0;
};

// The rows of one table as one binary array per column, for INSERT .. SELECT * FROM unnest($1, $2, ...):
// the same calls as copy_binary, so one encoder writes either form. Every row must append the same column
// types in the same order (asserted); the first row fixes them.
class column_arrays {
 public:
  // The arguments of copy_binary's constructor; the rows are a hint.
  explicit column_arrays(size_t expected_rows = 0, size_t /*bytes_per_row*/ = 0) : expected_rows_(expected_rows) {}
  void begin_row(int16_t columns) {
    assert(rows_ == 0 || next_ == columns_.size());
    assert(rows_ == 0 || static_cast<size_t>(columns) == columns_.size());
    (void)columns;
    next_ = 0;
    ++rows_;
  }
  column_arrays& uuid(const u128& v) {
    column(array_binary::uuid_oid, 16).add_uuid(v);
    return *this;
  }
  column_arrays& i64(int64_t v) {
    column(array_binary::int8_oid, 8).add_i64(v);
    return *this;
  }
  column_arrays& u64_bits(uint64_t v) { return i64(static_cast<int64_t>(v)); }
  column_arrays& i32(int32_t v) {
    column(array_binary::int4_oid, 4).add_i32(v);
    return *this;
  }
  column_arrays& i16(int16_t v) {
    column(array_binary::int2_oid, 2).add_i16(v);
    return *this;
  }
  size_t rows() const { return rows_; }
  // The columns, each finished (see array_binary::finish).
  std::vector<array_binary>& columns() {
    for (auto& c : columns_)
      c.finish();
    return columns_;
  }

 private:
  array_binary& column(uint32_t oid, size_t width) {
    if (rows_ == 1 && next_ == columns_.size())
      columns_.emplace_back(oid, expected_rows_, width);
    assert(next_ < columns_.size() && columns_[next_].element_oid() == oid);
    return columns_[next_++];
  }
  size_t expected_rows_;
  std::vector<array_binary> columns_;
  size_t next_ = 0;
  size_t rows_ = 0;
};

}  // namespace caudal::storage::codec
