#include "security/coalescing_stream.hpp"

#include <kj/debug.h>

#include <algorithm>
#include <cstring>

namespace caudal::security {

coalescing_stream::coalescing_stream(kj::Own<kj::AsyncIoStream> inner, size_t max_join_bytes, size_t read_buffer_bytes)
    : inner_(kj::mv(inner)), max_join_bytes_(max_join_bytes), read_buffer_(kj::heapArray<kj::byte>(read_buffer_bytes)) {
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

kj::Promise<void> coalescing_stream::write(const void* buffer, size_t size) {
  return inner_->write(buffer, size);
}

kj::Promise<size_t> coalescing_stream::tryRead(void* buffer, size_t min_bytes, size_t max_bytes) {
  KJ_REQUIRE(min_bytes <= max_bytes);
  if (read_buffer_.size() == 0) {
    ++reads_below_;
    return inner_->tryRead(buffer, min_bytes, max_bytes);
  }
  auto* out = static_cast<kj::byte*>(buffer);
  const size_t taken = take_buffered(out, max_bytes);
  if (taken >= min_bytes)
    return taken;
  // The buffer is empty now, and more is needed.
  KJ_DASSERT(read_begin_ == read_end_);
  out += taken;
  min_bytes -= taken;
  max_bytes -= taken;
  ++reads_below_;
  if (max_bytes >= read_buffer_.size())
    return inner_->tryRead(out, min_bytes, max_bytes).then([taken](size_t n) { return taken + n; });
  return inner_->tryRead(read_buffer_.begin(), min_bytes, read_buffer_.size())
      .then([this, out, max_bytes, taken](size_t n) {
        read_begin_ = 0;
        read_end_ = n;
        // n < min_bytes only at the end of the stream: the caller then gets what there was.
        return taken + take_buffered(out, max_bytes);
      });
}

size_t coalescing_stream::take_buffered(kj::byte* out, size_t max_bytes) {
  const size_t n = std::min(max_bytes, read_end_ - read_begin_);
  if (n != 0)
    std::memcpy(out, read_buffer_.begin() + read_begin_, n);
  read_begin_ += n;
  return n;
}

kj::Maybe<uint64_t> coalescing_stream::tryGetLength() {
  KJ_IF_MAYBE (n, inner_->tryGetLength()) {
    return *n + (read_end_ - read_begin_);
  }
  return nullptr;
}
kj::Promise<void> coalescing_stream::whenWriteDisconnected() {
  return inner_->whenWriteDisconnected();
}
void coalescing_stream::shutdownWrite() {
  inner_->shutdownWrite();
}
void coalescing_stream::abortRead() {
  inner_->abortRead();
}

void coalescing_stream::getsockopt(int level, int option, void* value, kj::uint* length) {
  inner_->getsockopt(level, option, value, length);
}
void coalescing_stream::setsockopt(int level, int option, const void* value, kj::uint length) {
  inner_->setsockopt(level, option, value, length);
}
void coalescing_stream::getsockname(struct sockaddr* addr, kj::uint* length) {
  inner_->getsockname(addr, length);
}
void coalescing_stream::getpeername(struct sockaddr* addr, kj::uint* length) {
  inner_->getpeername(addr, length);
}

}  // namespace caudal::security
