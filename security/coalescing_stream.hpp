#pragma once
// A kj::AsyncIoStream that joins each multi-piece write of a small message into one contiguous buffer
// before handing it to the stream below, and passes everything else (reads, single-buffer writes,
// shutdown, socket options) straight through.
//
// Why: Cap'n Proto writes every message as pieces (its segment table, then each segment). kj-tls 0.9.2
// (TlsConnection::write(pieces)) calls SSL_write once per piece, so one RPC message becomes two or more
// TLS records, each encrypted, framed (22 bytes of overhead in TLS 1.3) and later decrypted on its own by
// the peer, with one event-loop turn per piece on both sides. Joined, a message is one SSL_write and one
// record. Plain TCP gains nothing (kj's socket stream already writes pieces with one writev), so only
// TLS streams are wrapped.
//
// Messages larger than `max_join_bytes` are passed through as pieces: TLS splits them into 16 KiB records
// anyway, and copying them would cost more than the few extra records.
//
// Owns the stream it wraps. Used on the kj event-loop thread that owns that stream (the node's RPC thread,
// or a client connection's thread). Like any AsyncOutputStream, at most one write is in flight at a time
// (Cap'n Proto's two-party network queues its writes).
#include <kj/async-io.h>

#include <cstddef>
#include <cstdint>

namespace caudal::security {

class coalescing_stream final : public kj::AsyncIoStream {
 public:
  // 64 KiB: far above a single-transfer request (a few hundred bytes), small enough that the copy is cheap.
  static constexpr size_t default_max_join_bytes = 64 * 1024;

  explicit coalescing_stream(kj::Own<kj::AsyncIoStream> inner, size_t max_join_bytes = default_max_join_bytes);

  // Multi-piece writes joined into one (counted by joined_writes()), when their total is at most
  // max_join_bytes; otherwise passed through unchanged.
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> write(const void* buffer, size_t size) override;

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override;
  kj::Maybe<uint64_t> tryGetLength() override;
  kj::Promise<void> whenWriteDisconnected() override;
  void shutdownWrite() override;
  void abortRead() override;
  void getsockopt(int level, int option, void* value, kj::uint* length) override;
  void setsockopt(int level, int option, const void* value, kj::uint length) override;
  void getsockname(struct sockaddr* addr, kj::uint* length) override;
  void getpeername(struct sockaddr* addr, kj::uint* length) override;

  uint64_t joined_writes() const { return joined_writes_; }

 private:
  kj::Own<kj::AsyncIoStream> inner_;
  size_t max_join_bytes_;
  uint64_t joined_writes_ = 0;
};

}  // namespace caudal::security
