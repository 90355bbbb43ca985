// Items files (see items_file.hpp).
#include "cli/items_file.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/parse.hpp"

namespace caudal::cli {

namespace {

using json = nlohmann::json;

std::string where(size_t index, std::string_view key) {
  return "item " + std::to_string(index) + ", key \"" + std::string(key) + "\"";
}

// A JSON number or a decimal string, as u128.
result<u128> json_u128(const json& v, size_t index, std::string_view key) {
  const std::string at = where(index, key);
  if (v.is_number_unsigned())
    return u128::from_u64(v.get<uint64_t>());
  if (v.is_string())
    return parse_u128_arg(at, v.get_ref<const std::string&>());
  if (v.is_number_integer())
    return usage_error(at + ": must not be negative");
  if (v.is_number_float()) {
    return usage_error(at + ": expected a whole number (write numbers above 2^64-1 as decimal strings)");
  }
  return usage_error(at + ": expected a whole number (a JSON number or a decimal string)");
}

template <class T>
result<T> json_uint(const json& v, size_t index, std::string_view key) {
  auto wide = json_u128(v, index, key);
  if (!wide)
    return wide.error();
  if (wide->hi != 0 || wide->lo > std::numeric_limits<T>::max()) {
    return usage_error(where(index, key) + ": expected a whole number from 0 to " +
                       std::to_string(std::numeric_limits<T>::max()));
  }
  return static_cast<T>(wide->lo);
}

result<uint16_t> json_flags(const json& v, flag_kind kind, size_t index) {
  std::vector<std::string> names;
  if (v.is_string()) {
    names.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& name : v) {
      if (!name.is_string())
        return usage_error(where(index, "flags") + ": expected a list of flag names");
      names.push_back(name.get<std::string>());
    }
  } else {
    return usage_error(where(index, "flags") + ": expected a list of flag names");
  }
  auto flags = parse_flags(kind, names);
  if (!flags)
    return usage_error(where(index, "flags") + ": " + flags.error().detail);
  return flags;
}

result<json> parse_array(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." without the bracketed tag.
    if (auto close = what.find("] "); close != std::string::npos)
      what = what.substr(close + 2);
    return usage_error("not valid JSON: " + what);
  }
  if (!doc.is_array())
    return usage_error("expected a JSON array of items");
  if (doc.empty())
    return usage_error("the array has no items");
  for (size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].is_object())
      return usage_error("item " + std::to_string(i) + ": expected a JSON object");
  }
  return doc;
}

// Assigns `out` from the item's value; on error returns false and sets `err`.
template <class T>
bool take(result<T> parsed, T& out, failure& err) {
  if (!parsed) {
    err = parsed.error();
    return false;
  }
  out = parsed.value();
  return true;
}

}  // namespace

result<std::vector<ledger::account>> parse_account_items(std::string_view json_text) {
  auto doc = parse_array(json_text);
  if (!doc)
    return doc.error();
  std::vector<ledger::account> out;
  out.reserve(doc->size());
  for (size_t i = 0; i < doc->size(); ++i) {
    ledger::account a;
    failure err;
    for (const auto& [key, v] : (*doc)[i].items()) {
      bool ok = true;
      if (key == "id")
        ok = take(json_u128(v, i, key), a.id.value, err);
      else if (key == "ledger")
        ok = take(json_uint<uint32_t>(v, i, key), a.ledger, err);
      else if (key == "code")
        ok = take(json_uint<uint16_t>(v, i, key), a.code, err);
      else if (key == "flags")
        ok = take(json_flags(v, flag_kind::account, i), a.flags, err);
      else if (key == "user_data_128")
        ok = take(json_u128(v, i, key), a.user_data_128, err);
      else if (key == "user_data_64")
        ok = take(json_uint<uint64_t>(v, i, key), a.user_data_64, err);
      else if (key == "user_data_32")
        ok = take(json_uint<uint32_t>(v, i, key), a.user_data_32, err);
      else {
        return usage_error(where(i, key) +
                           ": unknown key (accounts take id, ledger, code, flags, "
                           "user_data_128, user_data_64, user_data_32)");
      }
      if (!ok)
        return err;
    }
    out.push_back(a);
  }
  return out;
}

result<std::vector<ledger::transfer>> parse_transfer_items(std::string_view json_text) {
  auto doc = parse_array(json_text);
  if (!doc)
    return doc.error();
  std::vector<ledger::transfer> out;
  out.reserve(doc->size());
  for (size_t i = 0; i < doc->size(); ++i) {
    ledger::transfer t;
    failure err;
    for (const auto& [key, v] : (*doc)[i].items()) {
      bool ok = true;
      if (key == "id")
        ok = take(json_u128(v, i, key), t.id.value, err);
      else if (key == "debit")
        ok = take(json_u128(v, i, key), t.debit_account_id.value, err);
      else if (key == "credit")
        ok = take(json_u128(v, i, key), t.credit_account_id.value, err);
      else if (key == "amount")
        ok = take(json_uint<uint64_t>(v, i, key), t.amount, err);
      else if (key == "ledger")
        ok = take(json_uint<uint32_t>(v, i, key), t.ledger, err);
      else if (key == "code")
        ok = take(json_uint<uint16_t>(v, i, key), t.code, err);
      else if (key == "flags")
        ok = take(json_flags(v, flag_kind::transfer, i), t.flags, err);
      else if (key == "pending_id")
        ok = take(json_u128(v, i, key), t.pending_id.value, err);
      else if (key == "timeout")
        ok = take(json_uint<uint32_t>(v, i, key), t.timeout, err);
      else if (key == "user_data_128")
        ok = take(json_u128(v, i, key), t.user_data_128, err);
      else if (key == "user_data_64")
        ok = take(json_uint<uint64_t>(v, i, key), t.user_data_64, err);
      else if (key == "user_data_32")
        ok = take(json_uint<uint32_t>(v, i, key), t.user_data_32, err);
      else {
        return usage_error(where(i, key) +
                           ": unknown key (transfers take id, debit, credit, amount, ledger, "
                           "code, flags, pending_id, timeout, user_data_128, user_data_64, "
                           "user_data_32)");
      }
      if (!ok)
        return err;
    }
    out.push_back(t);
  }
  return out;
}

result<std::string> read_items_file(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return usage_error("--file " + path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace caudal::cli
