// security::coalescing_stream: a multi-piece write reaches the stream below as one write with its bytes
// intact; single buffers and messages above the limit pass straight through; small reads are served
// from one larger read below (bytes intact, in order, min_bytes and end of stream honoured), large reads
// go straight through; failures of the stream below reach the caller; Cap'n Proto messages (small and
// large, multi-segment) survive a real socket pair in both directions.
#include "security/coalescing_stream.hpp"

#include <capnp/message.h>
#include <capnp/serialize-async.h>
#include <doctest/doctest.h>
#include <kj/async-io.h>
#include <kj/debug.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

using caudal::security::coalescing_stream;

namespace {

// The stream below: records every write (its bytes and how many pieces it came in), serves reads from
// `chunks` as a socket would (at least min_bytes while there is data, never past a chunk once min_bytes
// is reached), records each read's max_bytes, and fails writes or reads when told to.
struct recording_stream final : kj::AsyncIoStream {
  struct write_call {
    std::string bytes;
    size_t pieces;
  };
  std::vector<write_call>* writes;
  std::deque<std::string> chunks;
  std::vector<size_t> read_max_bytes;
  bool fail_writes = false;
  bool fail_reads = false;
  bool shut_down = false;

  explicit recording_stream(std::vector<write_call>& w) : writes(&w) {}

  kj::Promise<void> write(const void* buffer, size_t size) override {
    if (fail_writes)
      return KJ_EXCEPTION(DISCONNECTED, "peer went away");
    writes->push_back({std::string(static_cast<const char*>(buffer), size), 1});
    return kj::READY_NOW;
  }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    if (fail_writes)
      return KJ_EXCEPTION(DISCONNECTED, "peer went away");
    std::string all;
    for (auto p : pieces)
      all.append(reinterpret_cast<const char*>(p.begin()), p.size());
    writes->push_back({std::move(all), pieces.size()});
    return kj::READY_NOW;
  }
  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override {
    read_max_bytes.push_back(max_bytes);
    if (fail_reads)
      return KJ_EXCEPTION(DISCONNECTED, "peer went away");
    size_t done = 0;
    while (!chunks.empty() && done < max_bytes) {
      auto& front = chunks.front();
      const size_t n = std::min(front.size(), max_bytes - done);
      memcpy(static_cast<char*>(buffer) + done, front.data(), n);
      front.erase(0, n);
      if (front.empty())
        chunks.pop_front();
      done += n;
      if (done >= min_bytes)
        break;
    }
    return done;
  }
  kj::Maybe<uint64_t> tryGetLength() override {
    uint64_t n = 0;
    for (auto& c : chunks)
      n += c.size();
    return n;
  }
  kj::Promise<void> whenWriteDisconnected() override { return kj::NEVER_DONE; }
  void shutdownWrite() override { shut_down = true; }
};

std::string read_some(coalescing_stream& s, kj::WaitScope& ws, size_t min_bytes, size_t max_bytes) {
  std::string out(max_bytes, '\0');
  out.resize(s.tryRead(out.data(), min_bytes, max_bytes).wait(ws));
  return out;
}

kj::ArrayPtr<const kj::byte> bytes_of(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

// A list of `words` numbers in a recognisable pattern; with a small fixed first segment, a large list
// lands in a segment of its own (a multi-segment message).
void fill_message(capnp::MallocMessageBuilder& message, size_t words) {
  auto root = message.initRoot<capnp::List<uint64_t>>(static_cast<unsigned>(words));
  for (unsigned i = 0; i < root.size(); ++i)
    root.set(i, 0x9e3779b97f4a7c15ull * (i + 1));
}

void check_message(capnp::MessageReader& reader, size_t words) {
  auto root = reader.getRoot<capnp::List<uint64_t>>();
  REQUIRE(root.size() == words);
  size_t wrong = 0;
  for (unsigned i = 0; i < root.size(); ++i)
    wrong += root[i] != 0x9e3779b97f4a7c15ull * (i + 1) ? 1 : 0;
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("coalescing_stream: a multi-piece write reaches the stream below as one write, bytes intact") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  coalescing_stream s(kj::heap<recording_stream>(writes), 64);

  const std::string a = "segment-table", b = "", c = "first segment of the message", d = "x";
  kj::ArrayPtr<const kj::byte> pieces[] = {bytes_of(a), bytes_of(b), bytes_of(c), bytes_of(d)};
  s.write(kj::arrayPtr(pieces, 4)).wait(ws);

  REQUIRE(writes.size() == 1);
  CHECK(writes[0].pieces == 1);
  CHECK(writes[0].bytes == a + b + c + d);
  CHECK(s.joined_writes() == 1);

  SUBCASE("exactly at the limit: still joined") {
    const std::string half(32, 'h');
    kj::ArrayPtr<const kj::byte> two[] = {bytes_of(half), bytes_of(half)};
    s.write(kj::arrayPtr(two, 2)).wait(ws);
    REQUIRE(writes.size() == 2);
    CHECK(writes[1].pieces == 1);
    CHECK(writes[1].bytes == half + half);
    CHECK(s.joined_writes() == 2);
  }
}

TEST_CASE("coalescing_stream: one piece, a plain buffer and an empty write pass straight through") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  coalescing_stream s(kj::heap<recording_stream>(writes), 64);

  const std::string one = "only piece";
  kj::ArrayPtr<const kj::byte> pieces[] = {bytes_of(one)};
  s.write(kj::arrayPtr(pieces, 1)).wait(ws);
  s.write(one.data(), one.size()).wait(ws);
  s.write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>>()).wait(ws);

  REQUIRE(writes.size() == 2);
  CHECK(writes[0].bytes == one);
  CHECK(writes[1].bytes == one);
  CHECK(s.joined_writes() == 0);
}

TEST_CASE("coalescing_stream: a message above the limit is passed through as its pieces") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  coalescing_stream s(kj::heap<recording_stream>(writes), 64);

  const std::string table = "tbl", big(100, 'b');
  kj::ArrayPtr<const kj::byte> pieces[] = {bytes_of(table), bytes_of(big)};
  s.write(kj::arrayPtr(pieces, 2)).wait(ws);

  REQUIRE(writes.size() == 1);
  CHECK(writes[0].pieces == 2);
  CHECK(writes[0].bytes == table + big);
  CHECK(s.joined_writes() == 0);
}

TEST_CASE("coalescing_stream: small reads are served from one read below, bytes intact and in order") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  auto inner = kj::heap<recording_stream>(writes);
  auto& below = *inner;
  below.chunks = {
      "01234567"
      "the first message",
      "01234567"
      "the second"};
  coalescing_stream s(kj::mv(inner), 64, 32);

  // Cap'n Proto's pattern: the first word, then the rest.
  CHECK(read_some(s, ws, 8, 8) == "01234567");
  CHECK(s.tryGetLength() == uint64_t{17 + 18});  // buffered + below
  CHECK(read_some(s, ws, 17, 17) == "the first message");
  CHECK(below.read_max_bytes == std::vector<size_t>{32});  // one read below, of the buffer's size
  CHECK(read_some(s, ws, 8, 8) == "01234567");
  CHECK(read_some(s, ws, 1, 100) == "the second");  // at most what is buffered, once min_bytes is met
  CHECK(s.reads_below() == 2);

  SUBCASE("min_bytes across the buffer's end: the rest is read below") {
    below.chunks = {"abc", "defgh", "ij"};
    CHECK(read_some(s, ws, 2, 2) == "ab");
    CHECK(read_some(s, ws, 4, 4) == "cdef");  // 'c' from the buffer, "def" from a read below
    CHECK(read_some(s, ws, 4, 4) == "ghij");
  }
  SUBCASE("a read as large as the buffer goes straight into the caller's memory") {
    const std::string big(40, 'B');
    below.chunks = {big + "after"};
    CHECK(read_some(s, ws, 40, 40) == big);
    CHECK(below.read_max_bytes.back() == 40);
    CHECK(s.tryGetLength() == uint64_t{5});  // nothing was buffered
    CHECK(read_some(s, ws, 5, 5) == "after");
  }
  SUBCASE("end of stream: fewer than min_bytes, then zero") {
    below.chunks = {"tail"};
    CHECK(read_some(s, ws, 8, 8) == "tail");
    CHECK(read_some(s, ws, 1, 8).empty());
  }
  SUBCASE("a failed read below reaches the caller") {
    below.fail_reads = true;
    auto failed = s.tryRead(nullptr, 1, 1)
                      .then([](size_t) { return false; },
                            [](kj::Exception&& e) {
                              CHECK(e.getType() == kj::Exception::Type::DISCONNECTED);
                              return true;
                            });
    CHECK(failed.wait(ws));
  }
}

TEST_CASE("coalescing_stream: without a read buffer, reads and shutdown pass straight through") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  auto inner = kj::heap<recording_stream>(writes);
  auto& below = *inner;
  below.chunks = {"hello, reader"};
  coalescing_stream s(kj::mv(inner), 64, 0);

  CHECK(read_some(s, ws, 1, 5) == "hello");
  CHECK(read_some(s, ws, 1, 64) == ", reader");
  CHECK(read_some(s, ws, 1, 64).empty());  // end of stream
  CHECK(below.read_max_bytes == std::vector<size_t>{5, 64, 64});

  s.shutdownWrite();
  CHECK(below.shut_down);
}

TEST_CASE("coalescing_stream: a failed write below reaches the caller, joined or not") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  std::vector<recording_stream::write_call> writes;
  auto inner = kj::heap<recording_stream>(writes);
  inner->fail_writes = true;
  coalescing_stream s(kj::mv(inner), 64);

  const std::string a = "table", b = "segment", big(100, 'b');
  kj::ArrayPtr<const kj::byte> small[] = {bytes_of(a), bytes_of(b)};
  kj::ArrayPtr<const kj::byte> large[] = {bytes_of(a), bytes_of(big)};
  for (auto pieces : {kj::arrayPtr(small, 2), kj::arrayPtr(large, 2)}) {
    auto failed = s.write(pieces).then([] { return false; },
                                       [](kj::Exception&& e) {
                                         CHECK(e.getType() == kj::Exception::Type::DISCONNECTED);
                                         return true;
                                       });
    CHECK(failed.wait(ws));
  }
  CHECK(writes.empty());
}

TEST_CASE("coalescing_stream: Cap'n Proto messages small and large cross a real socket pair intact") {
  // Both ends wrapped, as node and client are: joined writes on one side, buffered reads on the other.
  auto io = kj::setupAsyncIo();
  auto pipe = io.provider->newTwoWayPipe();
  coalescing_stream writer(kj::mv(pipe.ends[0]));
  coalescing_stream reader(kj::mv(pipe.ends[1]));

  // Small (one segment), several segments below the limit, and a large multi-segment one above it
  // (about 1 MiB: passed through as pieces). The reader drains concurrently, so the large write cannot
  // stall on a full socket buffer.
  const size_t sizes[] = {4, 3000, 130000};
  for (size_t words : sizes) {
    capnp::MallocMessageBuilder message(16, capnp::AllocationStrategy::FIXED_SIZE);
    fill_message(message, words);
    const size_t segments = message.getSegmentsForOutput().size();
    auto written = capnp::writeMessage(writer, message);
    auto got = capnp::readMessage(reader, capnp::ReaderOptions{1 << 24, 64}).wait(io.waitScope);
    written.wait(io.waitScope);
    check_message(*got, words);
    if (words == 4) {
      CHECK(segments == 1);
    } else {
      CHECK(segments > 1);
    }
  }
  // The two messages below the default limit were joined; the 1 MiB one was not.
  CHECK(writer.joined_writes() == 2);
}
