#pragma once
// A kj::AsyncIoStream for TLS connections that turns Cap'n Proto's many small reads and writes into few
// large ones on the TLS stream below:
// - writes: a multi-piece write (one RPC message: segment table, then segments) of at most
//   `max_join_bytes` is copied into one buffer and written with one call; larger ones pass through;
// - reads: a small read is served from a `read_buffer_bytes` buffer, filled by one read below of as much
//   as is there (reads as large as the buffer go straight into the caller's memory).
// Shutdown, socket options and addresses pass straight through.
//
// Why: kj-tls 0.9.2 (TlsConnection::write(pieces)) calls SSL_write once per piece, so one message became
// two or more TLS records, each encrypted, framed (22 bytes in TLS 1.3) and decrypted on its own, and
// Cap'n Proto reads each message in two or more small reads, each an SSL_read and a few promises. Measured
// per createTransfers call (both sides, bench/rpc_transport_bench): SSL_write 6 -> 3, SSL_read 8 -> 5,
// syscalls 10.3 -> 9.2. Plain TCP gains little (kj's socket stream writes pieces with one writev), so only
// TLS streams are wrapped.
//
// Owns the stream it wraps. Used on the kj event-loop thread that owns that stream (the node's RPC
// thread, or a client connection's thread). Like any kj stream, at most one read and one write are in
// flight at a time (Cap'n Proto's two-party network queues both). A read cancelled after the stream below
// delivered may lose those bytes, as with kj's own buffered streams; Cap'n Proto cancels reads only when
// it drops the connection.
#include <kj/async-io.h>

#include <cstddef>
#include <cstdint>

namespace caudal::security {

class coalescing_stream final : public kj::AsyncIoStream {
 public:
  // 64 KiB: far above a single-transfer request (a few hundred bytes), small enough that the copy is cheap.
  static constexpr size_t default_max_join_bytes = 64 * 1024;
  // 8 KiB, as kj-tls's own socket buffer: holds a whole small message (one TLS record) and more.
  static constexpr size_t default_read_buffer_bytes = 8 * 1024;

  explicit coalescing_stream(kj::Own<kj::AsyncIoStream> inner, size_t max_join_bytes = default_max_join_bytes,
                             size_t read_buffer_bytes = default_read_buffer_bytes);

  // Multi-piece writes joined into one (counted by joined_writes()), when their total is at most
  // max_join_bytes; otherwise passed through unchanged. read_buffer_bytes 0: reads pass straight through.
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
  uint64_t reads_below() const { return reads_below_; }  // reads made on the stream below

 private:
  kj::Own<kj::AsyncIoStream> inner_;
  size_t max_join_bytes_;
  uint64_t joined_writes_ = 0;
  uint64_t reads_below_ = 0;
  kj::Array<kj::byte> read_buffer_;  // bytes [read_begin_, read_end_) read below, not yet delivered
  size_t read_begin_ = 0;
  size_t read_end_ = 0;

  // Copies up to max_bytes buffered bytes to `out`; returns how many.
  size_t take_buffered(kj::byte* out, size_t max_bytes);
};

}  // namespace caudal::security
