#pragma once
// The one place where wire types (api.capnp) and C++ domain types meet (STYLE 3). The gateway and the
// client library both use it, so a field added to the schema is mapped once.
#include <optional>
#include <string>
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/admin_types.hpp"
#include "base/errc.hpp"
#include "schemas/api.capnp.h"

namespace caudal::wire {

void to_wire(const ledger::account& a, api::Account::Builder b);
ledger::account from_wire(api::Account::Reader r);

void to_wire(const ledger::transfer& t, api::Transfer::Builder b);
ledger::transfer from_wire(api::Transfer::Reader r);

void to_wire(const ledger::account_filter& f, api::AccountFilter::Builder b);
ledger::account_filter from_wire(api::AccountFilter::Reader r);

void to_wire(const ledger::account_balance& x, api::AccountBalance::Builder b);
ledger::account_balance from_wire(api::AccountBalance::Reader r);

void to_wire(const u128& v, api::U128::Builder b);
u128 from_wire(api::U128::Reader r);

api::CreateAccountResult to_wire(ledger::create_account_result r);
api::CreateTransferResult to_wire(ledger::create_transfer_result r);
// Unknown values (a newer server) come back as nullopt.
std::optional<ledger::create_account_result> from_wire(api::CreateAccountResult r);
std::optional<ledger::create_transfer_result> from_wire(api::CreateTransferResult r);

void set_error(api::Error::Builder b, errc e);  // code and retryable
// Unknown codes (a newer server) come back as errc::internal with the wire's retryable flag kept by the caller.
errc from_wire(api::Error::Reader r);

using caudal::tenant_info;
using caudal::verify_report;
using caudal::cluster_status;
using caudal::cluster_node_status;

// Test-only fault injection (api.capnp's Fault); values are the wire values of FaultKind.
enum class fault_kind : uint16_t {
  crash_tenant = 0,
  crash_account = 1,
  passivate_tenant = 2,
  writer_delay = 3,
};
constexpr uint16_t fault_kind_max = 3;

struct fault {
  fault_kind kind = fault_kind::crash_tenant;
  tenant_id tenant;
  account_id account;     // crash_account only
  uint32_t delay_ms = 0;  // writer_delay only
};

void to_wire(const tenant_info& t, api::Tenant::Builder b);
tenant_info from_wire(api::Tenant::Reader r);

void to_wire(const verify_report& v, api::VerifyReport::Builder b);
void to_wire(const cluster_node_status& n, api::ClusterNode::Builder b);
cluster_node_status from_wire(api::ClusterNode::Reader r);
void to_wire(const cluster_status& s, api::ClusterStatus::Builder b);
cluster_status from_wire(api::ClusterStatus::Reader r);
verify_report from_wire(api::VerifyReport::Reader r);

using caudal::audit_event;
using caudal::client_info;

// Scope bits (security/scopes.hpp) <-> their names. Unknown names (a newer peer) answer nullopt.
void scopes_to_wire(uint32_t scopes, capnp::List<capnp::Text>::Builder b);
unsigned scope_count(uint32_t scopes);
std::optional<uint32_t> scopes_from_wire(capnp::List<capnp::Text>::Reader r);

// (init the builder's scopes list with scope_count(c.scopes) first: done inside)
void to_wire(const client_info& c, api::ClientInfo::Builder b);
client_info from_wire(api::ClientInfo::Reader r);

void to_wire(const audit_event& e, api::AuditEvent::Builder b);
audit_event from_wire(api::AuditEvent::Reader r);

void to_wire(const fault& f, api::Fault::Builder b);
// Unknown kinds (a newer client) come back as nullopt: answer invalid_request.
std::optional<fault> from_wire(api::Fault::Reader r);

}  // namespace caudal::wire
