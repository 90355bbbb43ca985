#include "security/trust_anchor.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "security/tls.hpp"

namespace caudal::security {

namespace {

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct store_free {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct store_ctx_free {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct stack_free {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }  // the certificates are owned elsewhere
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

failure invalid(std::string detail) { return failure{errc::invalid_request, std::move(detail)}; }

// OpenSSL's reason for the last failure, and an empty error queue afterwards: CAF's OpenSSL module shares
// this process and reads the queue of the thread it runs on (security/openssl_error_queue.cpp).
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  char buf[256] = "unknown reason";
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// Every certificate of a PEM text, in file order (other PEM blocks are skipped), at most `limit`.
result<std::vector<x509_ptr>> parse_certificates(const std::string& pem, const std::string& what, size_t limit) {
  ERR_clear_error();
  std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio)
    return failure{errc::internal, what + ": " + openssl_reason()};
  std::vector<x509_ptr> out;
  while (true) {
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert)
      break;
    if (out.size() == limit)
      return invalid(what + " holds more than " + std::to_string(limit) + " certificates");
    out.push_back(std::move(cert));
  }
  // The loop ends at the end of the text (no further PEM start line) or at a block it cannot parse.
  const unsigned long e = ERR_peek_last_error();
  if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
    return invalid(what + ": " + openssl_reason());
  ERR_clear_error();
  if (out.empty())
    return invalid(what + " holds no certificate");
  return out;
}

std::string subject_of(X509* cert) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "?";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

result<std::string> sha256_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1)
    return failure{errc::internal, "certificate fingerprint: " + openssl_reason()};
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 0xf];
  }
  return s;
}

struct ca_set {
  std::vector<x509_ptr> certs;
  std::vector<ca_fingerprint> fingerprints;  // ascending by sha256, each once
};

result<ca_set> read_cas(const std::string& ca_file) {
  auto pem = read_pem_file(ca_file, "tls.ca_file");
  if (!pem)
    return pem.error();
  const std::string what = "tls.ca_file '" + ca_file + "'";
  auto certs = parse_certificates(pem.value(), what, max_ca_certificates);
  if (!certs)
    return certs.error();
  ca_set out;
  for (auto& c : certs.value()) {
    ca_fingerprint f;
    f.subject = subject_of(c.get());
    // X509_check_ca: 1 for a CA by basicConstraints; other non-zero values are old v1 or Netscape forms.
    if (X509_check_ca(c.get()) != 1)
      return invalid(what + " holds '" + f.subject + "', which is not a CA certificate (basicConstraints CA:TRUE)");
    auto digest = sha256_of(c.get());
    if (!digest)
      return digest.error();
    f.sha256 = std::move(digest.value());
    if (std::none_of(out.fingerprints.begin(), out.fingerprints.end(),
                     [&](const ca_fingerprint& g) { return g.sha256 == f.sha256; }))
      out.fingerprints.push_back(std::move(f));
    out.certs.push_back(std::move(c));
  }
  std::sort(out.fingerprints.begin(), out.fingerprints.end(),
            [](const ca_fingerprint& a, const ca_fingerprint& b) { return a.sha256 < b.sha256; });
  return out;
}

// Empty when `leaf` verifies for `purpose`; OpenSSL's reason otherwise.
std::string verify_for(X509_STORE* store, X509* leaf, STACK_OF(X509) * chain, int purpose) {
  std::unique_ptr<X509_STORE_CTX, store_ctx_free> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, chain) != 1)
    return "cannot set up the verification: " + openssl_reason();
  if (X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1)
    return "cannot set the purpose: " + openssl_reason();
  if (X509_verify_cert(ctx.get()) == 1)
    return {};
  const int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return X509_verify_cert_error_string(err);
}

}  // namespace

result<std::vector<ca_fingerprint>> read_ca_fingerprints(const std::string& ca_file) {
  auto cas = read_cas(ca_file);
  if (!cas)
    return cas.error();
  return std::move(cas.value().fingerprints);
}

result<certificate_check> check_node_certificate(const std::string& cert_file, const std::string& ca_file) {
  auto cas = read_cas(ca_file);
  if (!cas)
    return cas.error();
  auto pem = read_pem_file(cert_file, "tls.cert_file");
  if (!pem)
    return pem.error();
  auto certs = parse_certificates(pem.value(), "tls.cert_file '" + cert_file + "'", max_ca_certificates);
  if (!certs)
    return certs.error();

  // Only the CA file's certificates are trusted: a fresh store, never the system's default paths.
  std::unique_ptr<X509_STORE, store_free> store(X509_STORE_new());
  if (!store)
    return failure{errc::internal, "X509_STORE_new: " + openssl_reason()};
  for (const auto& ca : cas->certs)
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      // The same certificate twice in the file is harmless; anything else is not.
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
        return failure{errc::internal, "X509_STORE_add_cert: " + openssl_reason()};
      ERR_clear_error();
    }
  // Intermediates the node's file carries after its leaf (untrusted: they must chain to a CA of the file).
  std::unique_ptr<STACK_OF(X509), stack_free> chain(sk_X509_new_null());
  if (!chain)
    return failure{errc::internal, "sk_X509_new_null: " + openssl_reason()};
  for (size_t i = 1; i < certs->size(); ++i)
    if (sk_X509_push(chain.get(), certs.value()[i].get()) <= 0)
      return failure{errc::internal, "sk_X509_push: " + openssl_reason()};

  X509* leaf = certs.value()[0].get();
  certificate_check out;
  out.subject = subject_of(leaf);
  // A node is the TLS server of the peers that dial it and the TLS client of those it dials.
  const std::pair<int, const char*> purposes[] = {{X509_PURPOSE_SSL_SERVER, "TLS server"},
                                                  {X509_PURPOSE_SSL_CLIENT, "TLS client"}};
  for (const auto& [purpose, name] : purposes) {
    auto why = verify_for(store.get(), leaf, chain.get(), purpose);
    if (!why.empty()) {
      out.error = why + " (as " + name + ")";
      break;
    }
  }
  return out;
}

std::string describe_cas(const std::vector<ca_fingerprint>& cas) {
  std::string s;
  for (const auto& c : cas) {
    if (!s.empty())
      s += ", ";
    s += "sha256:" + c.sha256 + " (" + c.subject + ")";
  }
  return s.empty() ? std::string("none") : s;
}

}  // namespace caudal::security
