#pragma once
// The node's side of "a node without a valid certificate cannot join" (issue 5): what its TLS files say,
// read with OpenSSL 3 and no network. Which CA certificates its tls.ca_file holds (by SHA-256 fingerprint:
// the cluster records the fingerprints of its CA when it is created, and every node's file must hold exactly
// those; cluster/admission compares them), and whether its own certificate verifies against them for both
// roles it plays on the cluster port: TLS server when a peer dials it, TLS client when it dials a peer.
//
// Pure apart from file reads; any thread (the node calls it once, on its start thread). Failures name the
// file and OpenSSL's reason, never key material (no private key is read here).
#include <string>
#include <vector>

#include "base/result.hpp"

namespace caudal::security {

// A CA certificate, as the cluster records it.
struct ca_fingerprint {
  std::string sha256;   // SHA-256 of the DER encoding, 64 lower-case hex digits (`openssl x509 -noout
                        // -fingerprint -sha256` without the colons)
  std::string subject;  // RFC 2253 one-line subject, e.g. "CN=Caudal local CA"
  bool operator==(const ca_fingerprint& o) const { return sha256 == o.sha256 && subject == o.subject; }
};

// Files hold at most this many CA certificates (a rotation needs two).
constexpr size_t max_ca_certificates = 16;

// The CA certificates of a PEM file, ascending by sha256, each once. errc::invalid_request naming the file
// when it cannot be read, holds no certificate or more than max_ca_certificates, or holds a certificate
// that is not a CA (basicConstraints CA:TRUE): a node's leaf certificate there would make every peer that
// presents it trusted.
result<std::vector<ca_fingerprint>> read_ca_fingerprints(const std::string& ca_file);

struct certificate_check {
  std::string subject;  // the node certificate's subject
  std::string error;    // empty: it verifies against the CA file for TLS server and TLS client use;
                        // otherwise why not (OpenSSL's reason and the purpose that failed)
};

// Verifies cert_file's certificate (PEM, leaf first, then any intermediates) against the CA certificates of
// ca_file only (never the system store), at the current time, for both TLS purposes (sslserver and
// sslclient, which include the extended key usage). errc::invalid_request naming the file when a file
// cannot be read or parsed; a certificate that does not verify is an answer (certificate_check::error),
// not a failure.
result<certificate_check> check_node_certificate(const std::string& cert_file, const std::string& ca_file);

// "sha256:<hex> (<subject>)", comma-separated: how errors and the audit name a set of CAs.
std::string describe_cas(const std::vector<ca_fingerprint>& cas);

}  // namespace caudal::security
