#include "security/coalescing_stream.hpp"

#include <kj/debug.h>

#include <cstring>

namespace caudal::security {

coalescing_stream::coalescing_stream(kj::Own<kj::AsyncIoStream> inner, size_t max_join_bytes)
    : inner_(kj::mv(inner)), max_join_bytes_(max_join_bytes) {
  KJ_REQUIRE(inner_.get() != nullptr, "coalescing_stream needs a stream to wrap");
}

kj::Promise<void> coalescing_stream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (pieces.size() <= 1)
    return pieces.size() == 0 ? kj::Promise<void>(kj::READY_NOW) : inner_->write(pieces[0].begin(), pieces[0].size());
  size_t total = 0;
  for (const auto& piece : pieces)
    total += piece.size();
  if (total > max_join_bytes_)
    return inner_->write(pieces);
  // One allocation per message, kept alive until the write below completes (the stream may still read
  // from it after write() returns).
  auto joined = kj::heapArray<kj::byte>(total);
  size_t at = 0;
  for (const auto& piece : pieces) {
    if (piece.size() != 0)
      std::memcpy(joined.begin() + at, piece.begin(), piece.size());
    at += piece.size();
  }
  KJ_DASSERT(at == total);
  ++joined_writes_;
  auto written = inner_->write(joined.begin(), joined.size());
  return written.attach(kj::mv(joined));
}

kj::Promise<void> coalescing_stream::write(const void* buffer, size_t size) { return inner_->write(buffer, size); }

kj::Promise<size_t> coalescing_stream::tryRead(void* buffer, size_t min_bytes, size_t max_bytes) {
  return inner_->tryRead(buffer, min_bytes, max_bytes);
}

kj::Maybe<uint64_t> coalescing_stream::tryGetLength() { return inner_->tryGetLength(); }
kj::Promise<void> coalescing_stream::whenWriteDisconnected() { return inner_->whenWriteDisconnected(); }
void coalescing_stream::shutdownWrite() { inner_->shutdownWrite(); }
void coalescing_stream::abortRead() { inner_->abortRead(); }

void coalescing_stream::getsockopt(int level, int option, void* value, kj::uint* length) {
  inner_->getsockopt(level, option, value, length);
}
void coalescing_stream::setsockopt(int level, int option, const void* value, kj::uint length) {
  inner_->setsockopt(level, option, value, length);
}
void coalescing_stream::getsockname(struct sockaddr* addr, kj::uint* length) { inner_->getsockname(addr, length); }
void coalescing_stream::getpeername(struct sockaddr* addr, kj::uint* length) { inner_->getpeername(addr, length); }

}  // namespace caudal::security
