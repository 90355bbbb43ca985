// The wire codec (schemas/codec.hpp): every field both ways, and every enum value 1:1 by number and name.
#include "schemas/codec.hpp"

#include <capnp/message.h>
#include <capnp/schema.h>
#include <doctest/doctest.h>

#include <string>

using namespace caudal;

namespace {

// capnp's camelCase enumerant name in our snake_case: "existsWithDifferentUserData128" ->
// "exists_with_different_user_data_128".
std::string snake(kj::StringPtr camel) {
  std::string out;
  char prev = 0;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c >= '0' && c <= '9' && !(prev >= '0' && prev <= '9')) {
      out += '_';
      out += c;
    } else {
      out += c;
    }
    prev = c;
  }
  return out;
}

// Distinct values in every field, so a field mapped to the wrong slot or forgotten fails the round trip.
ledger::account sample_account() {
  ledger::account a;
  a.id = account_id{u128{0x0102030405060708ull, 0x1112131415161718ull}};
  a.user_data_128 = u128{0x2122232425262728ull, 0x3132333435363738ull};
  a.user_data_64 = 0x4142434445464748ull;
  a.user_data_32 = 0x51525354u;
  a.ledger = 0x61626364u;
  a.code = 0x7172;
  a.flags = 0x0029;
  a.debits_pending = 101;
  a.debits_posted = 102;
  a.credits_pending = 103;
  a.credits_posted = 104;
  a.timestamp = 105;
  return a;
}

ledger::transfer sample_transfer() {
  ledger::transfer t;
  t.id = transfer_id{u128{1, 2}};
  t.debit_account_id = account_id{u128{3, 4}};
  t.credit_account_id = account_id{u128{5, 6}};
  t.amount = 7;
  t.pending_id = transfer_id{u128{8, 9}};
  t.user_data_128 = u128{10, 11};
  t.user_data_64 = 12;
  t.user_data_32 = 13;
  t.timeout = 14;
  t.ledger = 15;
  t.code = 16;
  t.flags = 17;
  t.timestamp = 18;
  return t;
}

ledger::account max_account() {
  ledger::account a;
  a.id = account_id{u128::max()};
  a.user_data_128 = u128::max();
  a.user_data_64 = UINT64_MAX;
  a.user_data_32 = UINT32_MAX;
  a.ledger = UINT32_MAX;
  a.code = UINT16_MAX;
  a.flags = UINT16_MAX;
  a.debits_pending = a.debits_posted = a.credits_pending = a.credits_posted = a.timestamp = UINT64_MAX;
  return a;
}

ledger::transfer max_transfer() {
  ledger::transfer t;
  t.id = transfer_id{u128::max()};
  t.debit_account_id = t.credit_account_id = account_id{u128::max()};
  t.pending_id = transfer_id{u128::max()};
  t.user_data_128 = u128::max();
  t.amount = t.user_data_64 = t.timestamp = UINT64_MAX;
  t.user_data_32 = t.timeout = t.ledger = UINT32_MAX;
  t.code = t.flags = UINT16_MAX;
  return t;
}

ledger::account account_round_trip(const ledger::account& a) {
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Account>();
  wire::to_wire(a, b);
  return wire::from_wire(b.asReader());
}

ledger::transfer transfer_round_trip(const ledger::transfer& t) {
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Transfer>();
  wire::to_wire(t, b);
  return wire::from_wire(b.asReader());
}

}  // namespace

TEST_CASE("account: every field both ways, including the maximum values") {
  for (const auto& a : {sample_account(), max_account(), ledger::account{}}) {
    CHECK(account_round_trip(a) == a);
  }
  // The halves land where the schema says (a round trip alone would not see hi/lo swapped on both sides).
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Account>();
  wire::to_wire(sample_account(), b);
  CHECK(b.getIdHi() == 0x0102030405060708ull);
  CHECK(b.getIdLo() == 0x1112131415161718ull);
  CHECK(b.getUserData128Hi() == 0x2122232425262728ull);
  CHECK(b.getUserData128Lo() == 0x3132333435363738ull);
  CHECK(b.getUserData64() == 0x4142434445464748ull);
  CHECK(b.getUserData32() == 0x51525354u);
  CHECK(b.getLedger() == 0x61626364u);
  CHECK(b.getCode() == 0x7172);
  CHECK(b.getFlags() == 0x0029);
  CHECK(b.getDebitsPending() == 101);
  CHECK(b.getDebitsPosted() == 102);
  CHECK(b.getCreditsPending() == 103);
  CHECK(b.getCreditsPosted() == 104);
  CHECK(b.getTimestamp() == 105);
}

TEST_CASE("transfer: every field both ways, including the maximum values") {
  for (const auto& t : {sample_transfer(), max_transfer(), ledger::transfer{}})
    CHECK(transfer_round_trip(t) == t);
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Transfer>();
  wire::to_wire(sample_transfer(), b);
  CHECK(b.getIdHi() == 1);
  CHECK(b.getIdLo() == 2);
  CHECK(b.getDebitAccountIdHi() == 3);
  CHECK(b.getDebitAccountIdLo() == 4);
  CHECK(b.getCreditAccountIdHi() == 5);
  CHECK(b.getCreditAccountIdLo() == 6);
  CHECK(b.getAmount() == 7);
  CHECK(b.getPendingIdHi() == 8);
  CHECK(b.getPendingIdLo() == 9);
  CHECK(b.getUserData128Hi() == 10);
  CHECK(b.getUserData128Lo() == 11);
  CHECK(b.getUserData64() == 12);
  CHECK(b.getUserData32() == 13);
  CHECK(b.getTimeout() == 14);
  CHECK(b.getLedger() == 15);
  CHECK(b.getCode() == 16);
  CHECK(b.getFlags() == 17);
  CHECK(b.getTimestamp() == 18);
}

TEST_CASE("account filter: every field both ways") {
  ledger::account_filter f;
  f.account = account_id{u128{1, 2}};
  f.user_data_128 = u128{3, 4};
  f.user_data_64 = 5;
  f.user_data_32 = 6;
  f.code = 7;
  f.timestamp_min = 8;
  f.timestamp_max = 9;
  f.limit = 10;
  f.flags = 11;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      f.account = account_id{u128::max()};
      f.user_data_128 = u128::max();
      f.user_data_64 = f.timestamp_min = f.timestamp_max = UINT64_MAX;
      f.user_data_32 = f.limit = f.flags = UINT32_MAX;
      f.code = UINT16_MAX;
    }
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::AccountFilter>();
    wire::to_wire(f, b);
    const auto g = wire::from_wire(b.asReader());
    CHECK(g.account == f.account);
    CHECK(g.user_data_128 == f.user_data_128);
    CHECK(g.user_data_64 == f.user_data_64);
    CHECK(g.user_data_32 == f.user_data_32);
    CHECK(g.code == f.code);
    CHECK(g.timestamp_min == f.timestamp_min);
    CHECK(g.timestamp_max == f.timestamp_max);
    CHECK(g.limit == f.limit);
    CHECK(g.flags == f.flags);
  }
}

TEST_CASE("account balance and u128: both ways") {
  for (const auto& x : {ledger::account_balance{1, 2, 3, 4, 5},
                        ledger::account_balance{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX}}) {
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::AccountBalance>();
    wire::to_wire(x, b);
    CHECK(wire::from_wire(b.asReader()) == x);
  }
  for (const auto& v : {u128{}, u128{1, 2}, u128::max()}) {
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::U128>();
    wire::to_wire(v, b);
    CHECK(b.getHi() == v.hi);
    CHECK(wire::from_wire(b.asReader()) == v);
  }
}

TEST_CASE("tenant, verify report and fault: both ways") {
  {
    wire::tenant_info t{tenant_id{UINT64_MAX}, "Acme Pagos S.A. \xc3\xb1", "MX", -5};
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::Tenant>();
    wire::to_wire(t, b);
    CHECK(wire::from_wire(b.asReader()) == t);
  }
  {
    wire::verify_report v;
    v.ok = false;
    v.violations = {"tenant 1 ledger 2: debits 5 != credits 4", "account 9: debits_posted 1 != 2"};
    v.tenants_checked = UINT32_MAX;
    v.accounts_checked = UINT64_MAX;
    v.transfers_checked = 77;
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::VerifyReport>();
    wire::to_wire(v, b);
    const auto w = wire::from_wire(b.asReader());
    CHECK(w.ok == v.ok);
    CHECK(w.violations == v.violations);
    CHECK(w.tenants_checked == v.tenants_checked);
    CHECK(w.accounts_checked == v.accounts_checked);
    CHECK(w.transfers_checked == v.transfers_checked);
  }
  for (uint16_t k = 0; k <= wire::fault_kind_max; ++k) {
    wire::fault f{static_cast<wire::fault_kind>(k), tenant_id{42}, account_id{u128::max()}, 1234};
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::Fault>();
    wire::to_wire(f, b);
    const auto g = wire::from_wire(b.asReader());
    REQUIRE(g);
    CHECK(g->kind == f.kind);
    CHECK(g->tenant == f.tenant);
    CHECK(g->account == f.account);
    CHECK(g->delay_ms == f.delay_ms);
  }
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Fault>();
  b.setKind(static_cast<api::FaultKind>(wire::fault_kind_max + 1));  // a newer client's kind
  CHECK_FALSE(wire::from_wire(b.asReader()));
}

TEST_CASE("create account results: same count, numbers and names on both sides") {
  const auto enumerants = capnp::Schema::from<api::CreateAccountResult>().getEnumerants();
  CHECK(enumerants.size() == ledger::create_account_result_max + 1u);
  for (auto e : enumerants) {
    const uint16_t v = e.getOrdinal();
    REQUIRE(v <= ledger::create_account_result_max);
    const auto r = static_cast<ledger::create_account_result>(v);
    INFO("value " << v);
    CHECK(snake(e.getProto().getName()) == std::string(ledger::result_name(r)));
    CHECK(static_cast<uint16_t>(wire::to_wire(r)) == v);
    CHECK(wire::from_wire(wire::to_wire(r)) == std::optional(r));
  }
  CHECK_FALSE(wire::from_wire(static_cast<api::CreateAccountResult>(ledger::create_account_result_max + 1)));
}

TEST_CASE("create transfer results: same count, numbers and names on both sides") {
  const auto enumerants = capnp::Schema::from<api::CreateTransferResult>().getEnumerants();
  CHECK(enumerants.size() == ledger::create_transfer_result_max + 1u);
  for (auto e : enumerants) {
    const uint16_t v = e.getOrdinal();
    REQUIRE(v <= ledger::create_transfer_result_max);
    const auto r = static_cast<ledger::create_transfer_result>(v);
    INFO("value " << v);
    CHECK(snake(e.getProto().getName()) == std::string(ledger::result_name(r)));
    CHECK(static_cast<uint16_t>(wire::to_wire(r)) == v);
    CHECK(wire::from_wire(wire::to_wire(r)) == std::optional(r));
  }
  CHECK_FALSE(wire::from_wire(static_cast<api::CreateTransferResult>(ledger::create_transfer_result_max + 1)));
}

TEST_CASE("error codes: same count, numbers and names; set_error fills code and retryable") {
  const auto enumerants = capnp::Schema::from<api::ErrorCode>().getEnumerants();
  CHECK(enumerants.size() == errc_max + 1u);
  for (auto e : enumerants) {
    const uint16_t v = e.getOrdinal();
    REQUIRE(v <= errc_max);
    const auto code = static_cast<errc>(v);
    INFO("value " << v);
    CHECK(snake(e.getProto().getName()) == std::string(errc_name(code)));
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<api::Error>();
    wire::set_error(b, code);
    CHECK(static_cast<uint16_t>(b.getCode()) == v);
    CHECK(b.getRetryable() == errc_retryable(code));
    CHECK(wire::from_wire(b.asReader()) == code);
  }
  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::Error>();
  b.setCode(static_cast<api::ErrorCode>(errc_max + 1));  // a newer server's code
  b.setRetryable(true);
  CHECK(wire::from_wire(b.asReader()) == errc::internal);
  CHECK(wire::from_wire(m.initRoot<api::Error>().asReader()) == errc::none);  // absent = success
}

TEST_CASE("fault kinds: same count and names") {
  const auto enumerants = capnp::Schema::from<api::FaultKind>().getEnumerants();
  CHECK(enumerants.size() == wire::fault_kind_max + 1u);
  const char* names[] = {"crash_tenant", "crash_account", "passivate_tenant", "writer_delay"};
  for (auto e : enumerants)
    CHECK(snake(e.getProto().getName()) == names[e.getOrdinal()]);
}

TEST_CASE("cluster status: members and the shard summary round-trip (and one member alone, drainNode's answer)") {
  cluster_status s;
  s.shard_count = 256;
  s.shards_owned = 250;
  s.shards_unowned = 6;
  cluster_node_status n;
  n.id = "n2";
  n.incarnation = 4;
  n.rpc_address = "127.0.0.1:7401";
  n.cluster_address = "127.0.0.1:7501";
  n.metrics_address = "127.0.0.1:7481";
  n.region = "eu";
  n.state = "draining";
  n.heartbeat_age_ms = 310;
  n.shards = 17;
  s.nodes = {n, n};
  s.nodes[1].id = "n3";

  capnp::MallocMessageBuilder m;
  auto b = m.initRoot<api::ClusterStatus>();
  wire::to_wire(s, b);
  const cluster_status back = wire::from_wire(b.asReader());
  CHECK(back.shard_count == 256);
  CHECK(back.shards_owned == 250);
  CHECK(back.shards_unowned == 6);
  REQUIRE(back.nodes.size() == 2);
  CHECK(back.nodes[1].id == "n3");

  capnp::MallocMessageBuilder one;
  auto nb = one.initRoot<api::ClusterNode>();
  wire::to_wire(n, nb);
  const cluster_node_status got = wire::from_wire(nb.asReader());
  for (const auto* x : {&back.nodes[0], &got}) {
    CHECK(x->id == "n2");
    CHECK(x->incarnation == 4);
    CHECK(x->rpc_address == "127.0.0.1:7401");
    CHECK(x->cluster_address == "127.0.0.1:7501");
    CHECK(x->metrics_address == "127.0.0.1:7481");
    CHECK(x->region == "eu");
    CHECK(x->state == "draining");
    CHECK(x->heartbeat_age_ms == 310);
    CHECK(x->shards == 17);
  }
}
