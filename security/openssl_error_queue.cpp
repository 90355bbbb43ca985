// OpenSSL requires the calling thread's error queue to be empty before SSL_read, SSL_write and the
// handshake calls: SSL_get_error reads that queue, so an error left on it by another connection makes a
// healthy connection's would-block read look like a fatal SSL_ERROR_SSL. CAF 0.17.6's OpenSSL module
// (inter-node TLS) never clears the queue of its middleman thread, so one refused handshake (a TLS 1.2
// probe, a peer of another CA) or one peer closing abruptly dropped every other node link at once.
//
// These definitions in the node's executable interpose the library's (the dynamic linker resolves
// libcaf_openssl's calls to them; see the --export-dynamic-symbol flags in cluster/CMakeLists.txt): each
// clears the queue, then calls OpenSSL's own function. For kj-tls and libpq, which clear it themselves,
// this changes nothing.
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>

namespace {

template <class F>
F real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr)
    std::abort();  // libssl is linked: this cannot happen
  return reinterpret_cast<F>(f);
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto f = real<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return f(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto f = real<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return f(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static const auto f = real<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return f(ssl);
}

int SSL_connect(SSL* ssl) {
  static const auto f = real<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return f(ssl);
}

}  // extern "C"
