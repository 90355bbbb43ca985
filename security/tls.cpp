#include "security/tls.hpp"

#include "security/openssl_policy.hpp"

#include <kj/vector.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace caudal::security {

namespace {

constexpr size_t max_pem_bytes = 1 << 20;

failure invalid(std::string detail) { return failure{errc::invalid_request, std::move(detail)}; }

// kj throws on unparsable PEM; its text names OpenSSL's reason (never the key bytes).
template <class Fn>
auto parse_or_fail(const std::string& what, Fn fn) -> result<decltype(fn())> {
  try {
    return fn();
  } catch (const kj::Exception& e) {
    return invalid(what + ": " + e.getDescription().cStr());
  }
}

}  // namespace

result<std::string> read_pem_file(const std::string& path, const char* what) {
  if (path.empty())
    return invalid(std::string(what) + ": no file given");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return invalid(std::string(what) + " '" + path + "': " + std::strerror(errno));
  std::string data(max_pem_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_pem_bytes)
    return invalid(std::string(what) + " '" + path + "' is larger than 1 MiB");
  if (data.find("-----BEGIN ") == std::string::npos)
    return invalid(std::string(what) + " '" + path + "' holds no PEM block");
  return data;
}

result<std::unique_ptr<tls_context>> make_server_tls(const tls_files& files, kj::Timer& timer,
                                                     uint32_t accept_timeout_ms) {
  if (auto policy = enforce_tls13_minimum(); !policy)
    return policy.error();
  auto cert_pem = read_pem_file(files.cert_file, "TLS certificate file");
  if (!cert_pem)
    return cert_pem.error();
  auto key_pem = read_pem_file(files.key_file, "TLS key file");
  if (!key_pem)
    return key_pem.error();
  auto out = std::make_unique<tls_context>();
  auto cert = parse_or_fail("TLS certificate file '" + files.cert_file + "'",
                            [&] { return kj::TlsCertificate(kj::StringPtr(cert_pem->c_str())); });
  if (!cert)
    return cert.error();
  auto key = parse_or_fail("TLS key file '" + files.key_file + "'",
                           [&] { return kj::TlsPrivateKey(kj::StringPtr(key_pem->c_str())); });
  // The PEM text of the key is not kept beyond this point.
  std::fill(key_pem->begin(), key_pem->end(), '\0');
  if (!key)
    return key.error();
  out->keypair = kj::TlsKeypair{kj::mv(key.value()), kj::mv(cert.value())};
  kj::TlsContext::Options o;
  o.useSystemTrustStore = false;
  o.verifyClients = false;
  o.minVersion = tls_1_3;
  KJ_IF_MAYBE (kp, out->keypair) {
    o.defaultKeypair = *kp;
  }
  o.timer = timer;
  o.acceptTimeout = accept_timeout_ms * kj::MILLISECONDS;
  auto ctx = parse_or_fail("TLS context", [&] { return kj::heap<kj::TlsContext>(kj::mv(o)); });
  if (!ctx)
    return invalid("TLS certificate '" + files.cert_file + "' and key '" + files.key_file +
                   "' do not form a usable pair: " + ctx.error().detail);
  out->context = kj::mv(ctx.value());
  return out;
}

result<std::unique_ptr<tls_context>> make_client_tls(const std::string& ca_file) {
  if (auto policy = enforce_tls13_minimum(); !policy)
    return policy.error();
  auto ca_pem = read_pem_file(ca_file, "CA file");
  if (!ca_pem)
    return ca_pem.error();
  // A CA file may hold several certificates: each is trusted.
  kj::Vector<kj::TlsCertificate> certs;
  const std::string end_marker = "-----END CERTIFICATE-----";
  size_t pos = 0;
  while (certs.size() < 16) {
    size_t begin = ca_pem->find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos)
      break;
    size_t end = ca_pem->find(end_marker, begin);
    if (end == std::string::npos)
      break;
    std::string one = ca_pem->substr(begin, end + end_marker.size() - begin) + "\n";
    auto cert = parse_or_fail("CA file '" + ca_file + "'", [&] { return kj::TlsCertificate(kj::StringPtr(one.c_str())); });
    if (!cert)
      return cert.error();
    certs.add(kj::mv(cert.value()));
    pos = end + end_marker.size();
  }
  if (certs.size() == 0)
    return invalid("CA file '" + ca_file + "' holds no certificate");
  auto out = std::make_unique<tls_context>();
  out->trusted = certs.releaseAsArray();
  kj::TlsContext::Options o;
  o.useSystemTrustStore = false;
  o.trustedCertificates = out->trusted;
  o.minVersion = tls_1_3;
  auto ctx = parse_or_fail("TLS context", [&] { return kj::heap<kj::TlsContext>(kj::mv(o)); });
  if (!ctx)
    return ctx.error();
  out->context = kj::mv(ctx.value());
  return out;
}

}  // namespace caudal::security
