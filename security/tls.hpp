#pragma once
// TLS 1.3 contexts for the client API (DESIGN 9 and 11), built from PEM files: the node's server context
// (certificate + key) and the client's (trusts only the given CA, never the system store).
//
// kj-tls (capnp 0.9.2) has no TlsVersion::TLS_1_3 enumerant; as DESIGN.md section 11 says, the value one
// past TLS_1_2 as minVersion disables TLS 1.2 (checked: a kj server with it answers a TLS 1.2 ClientHello
// with alert 70 "protocol version", with TLS_1_2 it completes the handshake; integration.tls_test runs
// `openssl s_client -tls1_2` against a real node). Both functions below also apply the process-wide
// OpenSSL policy first (security/openssl_policy.hpp: MinProtocol = TLSv1.3 for every SSL_CTX), so the
// minimum holds even if a kj version stopped honouring the out-of-range value. Built once at start; the
// kj::TlsContext inside is used on the kj event-loop thread that owns the connections.
//
// Failures name the file and the reason, never key material.
#include <kj/compat/tls.h>

#include <memory>
#include <string>

#include "base/result.hpp"

namespace caudal::security {


constexpr kj::TlsVersion tls_1_3 = static_cast<kj::TlsVersion>(static_cast<int>(kj::TlsVersion::TLS_1_2) + 1);

struct tls_files {
  std::string cert_file;  // PEM certificate (chain, leaf first)
  std::string key_file;   // PEM private key (unencrypted; mode 0600)
  std::string ca_file;    // PEM CA certificate(s) to trust
};

// Owns the parsed key material and the context made from it.
struct tls_context {
  kj::Maybe<kj::TlsKeypair> keypair;
  kj::Array<kj::TlsCertificate> trusted;
  kj::Own<kj::TlsContext> context;
};

// The node's context: presents cert_file/key_file, TLS 1.3 only. Handshakes that do not finish within
// `accept_timeout_ms` are dropped (`timer` measures it) so a silent peer cannot hold a connection slot.
// ca_file is not needed on the client port (clients authenticate with OAuth credentials, not certificates).
result<std::unique_ptr<tls_context>> make_server_tls(const tls_files& files, kj::Timer& timer,
                                                     uint32_t accept_timeout_ms);

// A client's context: trusts only the CA certificates in `ca_file`, TLS 1.3 only.
result<std::unique_ptr<tls_context>> make_client_tls(const std::string& ca_file);

// Reads a whole PEM file (at most 1 MiB). errc::invalid_request naming the path on failure.
result<std::string> read_pem_file(const std::string& path, const char* what);

}  // namespace caudal::security
