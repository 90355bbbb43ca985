// Whole numbers and flag names of the command line (see parse.hpp).
#include "cli/parse.hpp"

#include <limits>

#include "actors/ledger/types.hpp"

namespace caudal::cli {

namespace {

struct flag_name {
  std::string_view name;
  uint16_t bit;
};

// Printed names first (DESIGN.md section 5); aliases after them.
constexpr flag_name account_flag_table[] = {
    {"linked", ledger::account_flags::linked},
    {"debits_must_not_exceed_credits", ledger::account_flags::debits_must_not_exceed_credits},
    {"credits_must_not_exceed_debits", ledger::account_flags::credits_must_not_exceed_debits},
    {"history", ledger::account_flags::history},
    {"closed", ledger::account_flags::closed},
};

constexpr flag_name transfer_flag_table[] = {
    {"linked", ledger::transfer_flags::linked},
    {"pending", ledger::transfer_flags::pending},
    {"post_pending", ledger::transfer_flags::post_pending_transfer},
    {"void_pending", ledger::transfer_flags::void_pending_transfer},
    {"balancing_debit", ledger::transfer_flags::balancing_debit},
    {"balancing_credit", ledger::transfer_flags::balancing_credit},
    // TigerBeetle's names, accepted on input.
    {"post_pending_transfer", ledger::transfer_flags::post_pending_transfer},
    {"void_pending_transfer", ledger::transfer_flags::void_pending_transfer},
};
constexpr size_t transfer_printed_names = 6;

struct table_view {
  const flag_name* begin;
  size_t size;     // every accepted name
  size_t printed;  // the first `printed` are the canonical names
};

table_view table(flag_kind kind) {
  if (kind == flag_kind::account) {
    constexpr size_t n = sizeof(account_flag_table) / sizeof(account_flag_table[0]);
    return {account_flag_table, n, n};
  }
  constexpr size_t n = sizeof(transfer_flag_table) / sizeof(transfer_flag_table[0]);
  return {transfer_flag_table, n, transfer_printed_names};
}

std::string quoted(std::string_view text) {
  constexpr size_t max_shown = 48;  // do not echo a whole file line back
  std::string out = "'";
  out += text.substr(0, max_shown);
  if (text.size() > max_shown)
    out += "...";
  return out + "'";
}

template <class T>
result<T> parse_uint(std::string_view what, std::string_view text) {
  auto v = parse_u128(text);
  if (!v || v->hi != 0 || v->lo > std::numeric_limits<T>::max()) {
    return usage_error(std::string(what) + ": expected a whole number from 0 to " +
                       std::to_string(std::numeric_limits<T>::max()) + ", got " + quoted(text));
  }
  return static_cast<T>(v->lo);
}

}  // namespace

result<u128> parse_u128_arg(std::string_view what, std::string_view text) {
  auto v = parse_u128(text);
  if (!v) {
    return usage_error(std::string(what) + ": expected a whole number from 0 to " + to_decimal(u128::max()) + ", got " +
                       quoted(text));
  }
  return *v;
}

result<uint64_t> parse_u64_arg(std::string_view what, std::string_view text) {
  return parse_uint<uint64_t>(what, text);
}
result<uint32_t> parse_u32_arg(std::string_view what, std::string_view text) {
  return parse_uint<uint32_t>(what, text);
}
result<uint16_t> parse_u16_arg(std::string_view what, std::string_view text) {
  return parse_uint<uint16_t>(what, text);
}

result<uint16_t> parse_flags(flag_kind kind, const std::vector<std::string>& names) {
  const table_view t = table(kind);
  uint16_t flags = 0;
  for (const std::string& list : names) {
    std::string_view rest = list;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!name.empty() && name.front() == ' ')
        name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ')
        name.remove_suffix(1);
      if (name.empty())
        continue;
      bool found = false;
      for (size_t i = 0; i < t.size; ++i) {
        if (t.begin[i].name == name) {
          flags |= t.begin[i].bit;
          found = true;
          break;
        }
      }
      if (!found) {
        return usage_error(std::string("unknown ") + (kind == flag_kind::account ? "account" : "transfer") + " flag " +
                           quoted(name) + " (known: " + known_flag_names(kind) + ")");
      }
    }
  }
  return flags;
}

std::vector<std::string> flag_names(flag_kind kind, uint16_t flags) {
  const table_view t = table(kind);
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 16; ++bit) {
    const uint16_t mask = static_cast<uint16_t>(1u << bit);
    if ((flags & mask) == 0)
      continue;
    std::string name = "bit_" + std::to_string(bit);
    for (size_t i = 0; i < t.printed; ++i) {
      if (t.begin[i].bit == mask) {
        name = std::string(t.begin[i].name);
        break;
      }
    }
    out.push_back(std::move(name));
  }
  return out;
}

std::string known_flag_names(flag_kind kind) {
  const table_view t = table(kind);
  std::string out;
  for (size_t i = 0; i < t.printed; ++i) {
    if (i)
      out += ", ";
    out += t.begin[i].name;
  }
  return out;
}

}  // namespace caudal::cli
