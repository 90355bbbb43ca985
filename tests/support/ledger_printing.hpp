#pragma once
// doctest printers for ledger values: failing checks show result names and decimal ids, not numbers.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "base/ids.hpp"

// Readable doctest output for result codes, ids and vectors of them.
namespace doctest {
template <>
struct StringMaker<caudal::ledger::create_transfer_result> {
  static String convert(caudal::ledger::create_transfer_result r) {
    const std::string_view n = caudal::ledger::result_name(r);
    return String(n.data(), static_cast<String::size_type>(n.size()));
  }
};
template <>
struct StringMaker<caudal::ledger::create_account_result> {
  static String convert(caudal::ledger::create_account_result r) {
    const std::string_view n = caudal::ledger::result_name(r);
    return String(n.data(), static_cast<String::size_type>(n.size()));
  }
};
template <class Tag>
struct StringMaker<caudal::named<caudal::u128, Tag>> {
  static String convert(const caudal::named<caudal::u128, Tag>& id) { return caudal::to_decimal(id.value).c_str(); }
};
template <class T>
struct StringMaker<std::vector<T>> {
  static String convert(const std::vector<T>& v) {
    String s = "{";
    for (size_t i = 0; i < v.size(); ++i)
      s += (i == 0 ? "" : ", ") + toString(v[i]);
    return s + "}";
  }
};
}  // namespace doctest
