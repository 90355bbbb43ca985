// Inter-node message <-> C++ mapping (see internode_codec.hpp). Pure functions, no I/O; safe on any thread.
#include "schemas/internode_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "base/limits.hpp"
#include "schemas/codec.hpp"
#include "schemas/internode.capnp.h"

namespace caudal::wire {

namespace {

std::string to_bytes(capnp::MessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Copies the bytes into word-aligned memory (a std::string's buffer need not be aligned) and hands a
// reader of them to `read`. A message the reader rejects (bad framing, too deep, too big) is `on_bad`.
template <class T, class Read>
result<T> with_reader(std::string_view bytes, errc on_bad, Read&& read) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0 || bytes.size() > max_forwarded_bytes)
    return failure{on_bad, "inter-node message of " + std::to_string(bytes.size()) + " bytes"};
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = max_forwarded_bytes / sizeof(capnp::word);
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    return read(reader);
  } catch (const kj::Exception& e) {
    return failure{on_bad, std::string("malformed inter-node message: ") + e.getDescription().cStr()};
  }
}

result<void> check_size(size_t n) {
  if (n > limits::max_batch_items)
    return failure{errc::invalid_request, std::to_string(n) + " items in a forwarded request"};
  return {};
}

template <class List>
std::vector<u128> ids_of(List l) {
  std::vector<u128> ids;
  ids.reserve(l.size());
  for (auto id : l)
    ids.push_back(from_wire(id));
  return ids;
}

}  // namespace

const char* forward_op_name(forward_op op) {
  switch (op) {
    case forward_op::create_accounts: return "create_accounts";
    case forward_op::create_transfers: return "create_transfers";
    case forward_op::lookup_accounts: return "lookup_accounts";
    case forward_op::lookup_transfers: return "lookup_transfers";
    case forward_op::account_transfers: return "account_transfers";
    case forward_op::account_balances: return "account_balances";
  }
  return "unknown";
}

std::string encode(const forwarded_request& r) {
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<internode::ForwardedRequest>();
  b.setTenant(r.tenant.value);
  auto c = b.initCaller();
  c.setHasTenant(r.caller_tenant.has_value());
  c.setTenant(r.caller_tenant ? r.caller_tenant->value : 0);
  c.setScopes(r.caller_scopes);
  switch (r.op) {
    case forward_op::create_accounts: {
      auto l = b.initCreateAccounts(static_cast<unsigned>(r.accounts.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.accounts[i], l[i]);
      break;
    }
    case forward_op::create_transfers: {
      auto l = b.initCreateTransfers(static_cast<unsigned>(r.transfers.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.transfers[i], l[i]);
      break;
    }
    case forward_op::lookup_accounts:
    case forward_op::lookup_transfers: {
      auto l = r.op == forward_op::lookup_accounts ? b.initLookupAccounts(static_cast<unsigned>(r.ids.size()))
                                                   : b.initLookupTransfers(static_cast<unsigned>(r.ids.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.ids[i], l[i]);
      break;
    }
    case forward_op::account_transfers: to_wire(r.filter, b.initAccountTransfers()); break;
    case forward_op::account_balances: to_wire(r.filter, b.initAccountBalances()); break;
  }
  return to_bytes(m);
}

result<forwarded_request> decode_request(std::string_view bytes) {
  return with_reader<forwarded_request>(
      bytes, errc::invalid_request, [](capnp::MessageReader& m) -> result<forwarded_request> {
        auto b = m.getRoot<internode::ForwardedRequest>();
        forwarded_request r;
        r.tenant = tenant_id{b.getTenant()};
        auto c = b.getCaller();
        if (c.getHasTenant())
          r.caller_tenant = tenant_id{c.getTenant()};
        r.caller_scopes = c.getScopes();
        switch (b.which()) {
          case internode::ForwardedRequest::CREATE_ACCOUNTS: {
            auto l = b.getCreateAccounts();
            if (auto ok = check_size(l.size()); !ok.ok())
              return ok.error();
            r.op = forward_op::create_accounts;
            r.accounts.reserve(l.size());
            for (auto a : l)
              r.accounts.push_back(from_wire(a));
            return r;
          }
          case internode::ForwardedRequest::CREATE_TRANSFERS: {
            auto l = b.getCreateTransfers();
            if (auto ok = check_size(l.size()); !ok.ok())
              return ok.error();
            r.op = forward_op::create_transfers;
            r.transfers.reserve(l.size());
            for (auto t : l)
              r.transfers.push_back(from_wire(t));
            return r;
          }
          case internode::ForwardedRequest::LOOKUP_ACCOUNTS:
            if (auto ok = check_size(b.getLookupAccounts().size()); !ok.ok())
              return ok.error();
            r.op = forward_op::lookup_accounts;
            r.ids = ids_of(b.getLookupAccounts());
            return r;
          case internode::ForwardedRequest::LOOKUP_TRANSFERS:
            if (auto ok = check_size(b.getLookupTransfers().size()); !ok.ok())
              return ok.error();
            r.op = forward_op::lookup_transfers;
            r.ids = ids_of(b.getLookupTransfers());
            return r;
          case internode::ForwardedRequest::ACCOUNT_TRANSFERS:
            r.op = forward_op::account_transfers;
            r.filter = from_wire(b.getAccountTransfers());
            return r;
          case internode::ForwardedRequest::ACCOUNT_BALANCES:
            r.op = forward_op::account_balances;
            r.filter = from_wire(b.getAccountBalances());
            return r;
        }
        return failure{errc::invalid_request, "unknown forwarded operation (a newer node?)"};
      });
}

std::string encode(const forwarded_reply& r) {
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<internode::ForwardedReply>();
  if (r.error != errc::none) {
    b.setError(static_cast<api::ErrorCode>(static_cast<uint16_t>(r.error)));
    return to_bytes(m);
  }
  switch (r.op) {
    case forward_op::create_accounts: {
      auto l = b.initAccountResults(static_cast<unsigned>(r.account_results.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        l.set(i, to_wire(r.account_results[i]));
      break;
    }
    case forward_op::create_transfers: {
      auto l = b.initTransferResults(static_cast<unsigned>(r.transfer_results.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        l.set(i, to_wire(r.transfer_results[i]));
      break;
    }
    case forward_op::lookup_accounts: {
      auto l = b.initAccounts(static_cast<unsigned>(r.accounts.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.accounts[i], l[i]);
      break;
    }
    case forward_op::lookup_transfers:
    case forward_op::account_transfers: {
      auto l = b.initTransfers(static_cast<unsigned>(r.transfers.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.transfers[i], l[i]);
      break;
    }
    case forward_op::account_balances: {
      auto l = b.initBalances(static_cast<unsigned>(r.balances.size()));
      for (unsigned i = 0; i < l.size(); ++i)
        to_wire(r.balances[i], l[i]);
      break;
    }
  }
  return to_bytes(m);
}

result<forwarded_reply> decode_reply(std::string_view bytes, forward_op op) {
  return with_reader<forwarded_reply>(bytes, errc::internal, [op](capnp::MessageReader& m) -> result<forwarded_reply> {
    auto b = m.getRoot<internode::ForwardedReply>();
    forwarded_reply r;
    r.op = op;
    const failure wrong{errc::internal, std::string("forwarded reply does not answer ") + forward_op_name(op)};
    switch (b.which()) {
      case internode::ForwardedReply::ERROR: {
        const auto v = static_cast<uint16_t>(b.getError());
        // A code this node does not know (a newer peer): internal, never a guess at retryability.
        r.error = v == 0 || v > errc_max ? errc::internal : static_cast<errc>(v);
        return r;
      }
      case internode::ForwardedReply::ACCOUNT_RESULTS:
        if (op != forward_op::create_accounts)
          return wrong;
        for (auto x : b.getAccountResults()) {
          auto v = from_wire(x);
          if (!v)
            return failure{errc::internal, "unknown create-account result from a peer"};
          r.account_results.push_back(*v);
        }
        return r;
      case internode::ForwardedReply::TRANSFER_RESULTS:
        if (op != forward_op::create_transfers)
          return wrong;
        for (auto x : b.getTransferResults()) {
          auto v = from_wire(x);
          if (!v)
            return failure{errc::internal, "unknown create-transfer result from a peer"};
          r.transfer_results.push_back(*v);
        }
        return r;
      case internode::ForwardedReply::ACCOUNTS:
        if (op != forward_op::lookup_accounts)
          return wrong;
        for (auto a : b.getAccounts())
          r.accounts.push_back(from_wire(a));
        return r;
      case internode::ForwardedReply::TRANSFERS:
        if (op != forward_op::lookup_transfers && op != forward_op::account_transfers)
          return wrong;
        for (auto t : b.getTransfers())
          r.transfers.push_back(from_wire(t));
        return r;
      case internode::ForwardedReply::BALANCES:
        if (op != forward_op::account_balances)
          return wrong;
        for (auto x : b.getBalances())
          r.balances.push_back(from_wire(x));
        return r;
    }
    return failure{errc::internal, "unknown forwarded reply (a newer node?)"};
  });
}

}  // namespace caudal::wire
