@0x9149e34ac3cddf71;
# Caudal inter-node messages (DESIGN.md sections 3 and 4): a ledger request a node forwards to the node
# that owns the tenant's shard, and that node's answer. They travel as bytes inside CAF messages over its
# network layer (BASP); nothing else crosses between nodes.
#
# Rules of this file: fields and enumerants are only appended, never renumbered or reused (nodes of two
# versions run side by side during a rolling upgrade). Ledger items reuse the client API's structs, so a
# field added there is forwarded without a change here.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caudal::internode");

using Api = import "api.capnp";

# Who sent the request: the binding of the client session on the node that received it. The owner checks
# it again (tenant and scope) before it runs the request: authority travels with the request.
struct Caller {
  hasTenant @0 :Bool;     # false: an operator session (moves no money, reads no ledger)
  tenant @1 :UInt64;
  scopes @2 :UInt32;      # security/scopes.hpp bits
}

struct ForwardedRequest {
  tenant @0 :UInt64;
  caller @1 :Caller;
  union {
    createAccounts @2 :List(Api.Account);
    createTransfers @3 :List(Api.Transfer);
    lookupAccounts @4 :List(Api.U128);
    lookupTransfers @5 :List(Api.U128);
    accountTransfers @6 :Api.AccountFilter;
    accountBalances @7 :Api.AccountFilter;
  }
}

struct ForwardedReply {
  union {
    error @0 :Api.ErrorCode;                          # the request failed as a whole (never `none`)
    accountResults @1 :List(Api.CreateAccountResult);
    transferResults @2 :List(Api.CreateTransferResult);
    accounts @3 :List(Api.Account);
    transfers @4 :List(Api.Transfer);
    balances @5 :List(Api.AccountBalance);
  }
}
