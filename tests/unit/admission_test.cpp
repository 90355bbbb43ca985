// Who may join (cluster/admission check_admission, pure) and what a node's TLS files say
// (security/trust_anchor): certificates are made here in memory with OpenSSL and written to a scratch
// folder, so every case (another CA, a bundle, a leaf in the CA file, an intermediate, an expired or
// client-only certificate) is built exactly as the test needs it.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "cluster/admission.hpp"
#include "security/trust_anchor.hpp"

using namespace caudal;
using cluster::node_credentials;
using storage::transport_mode;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// --- certificates in memory ---

struct key_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct cert_free {
  void operator()(X509* x) const { X509_free(x); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
using cert_ptr = std::unique_ptr<X509, cert_free>;

struct issued {
  key_ptr key;
  cert_ptr cert;
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

struct cert_spec {
  std::string cn;
  bool ca = false;
  const char* eku = "serverAuth,clientAuth";
  long not_before_s = -60;
  long not_after_s = 86400;
};

// A certificate for `spec`, signed by `issuer` (self-signed when null).
issued make_cert(const cert_spec& spec, const issued* issuer) {
  issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  REQUIRE(out.key);
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  REQUIRE(X509_set_version(x, 2) == 1);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after_s);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1,
                             -1, 0);
  X509* signer = issuer ? issuer->cert.get() : x;
  EVP_PKEY* signer_key = issuer ? issuer->key.get() : out.key.get();
  REQUIRE(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1);
  REQUIRE(X509_set_pubkey(x, out.key.get()) == 1);
  if (spec.ca) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(x, signer, NID_ext_key_usage, spec.eku);
  }
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  REQUIRE(X509_sign(x, signer_key, EVP_sha256()) > 0);
  return out;
}

std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// SHA-256 of the DER encoding, computed here without X509_digest.
std::string sha256_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  REQUIRE(len > 0);
  unsigned char md[32];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(der, static_cast<size_t>(len), md, &n, EVP_sha256(), nullptr) == 1);
  OPENSSL_free(der);
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 0xf];
  }
  return s;
}

struct scratch {
  std::filesystem::path dir;
  scratch() {
    char tmpl[] = "/tmp/caudal-admission-unit-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~scratch() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

// --- admission, pure ---

storage::cluster_trust tls(std::initializer_list<char> digits) {
  storage::cluster_trust t{transport_mode::mutual_tls, {}};
  for (char d : digits)
    t.anchors.push_back({std::string(64, d), std::string("CN=CA ") + d});
  return t;
}

node_credentials tls_node(std::initializer_list<char> digits, std::string cert_error = {}) {
  node_credentials n;
  n.node_id = "n2";
  n.trust = tls(digits);
  n.ca_file = "/etc/caudal/ca.pem";
  n.cert_file = "/etc/caudal/n2.pem";
  n.cert_subject = "CN=n2";
  n.cert_error = std::move(cert_error);
  return n;
}

node_credentials insecure_node() {
  node_credentials n;
  n.node_id = "dev";
  n.trust.transport = transport_mode::insecure;
  return n;
}

}  // namespace

TEST_CASE("admission: the same transport and exactly the cluster's CAs, and a certificate that verifies") {
  const storage::cluster_trust insecure{transport_mode::insecure, {}};
  CHECK(cluster::check_admission(tls({'a'}), tls_node({'a'})).ok());
  CHECK(cluster::check_admission(tls({'a', 'b'}), tls_node({'a', 'b'})).ok());  // a rotation's two CAs
  CHECK(cluster::check_admission(insecure, insecure_node()).ok());

  auto other_ca = cluster::check_admission(tls({'a'}), tls_node({'b'}));
  REQUIRE_FALSE(other_ca.ok());
  CHECK(other_ca.error().code == errc::forbidden);
  CHECK(contains(other_ca.error().detail, "sha256:" + std::string(64, 'a')));  // both fingerprints
  CHECK(contains(other_ca.error().detail, "sha256:" + std::string(64, 'b')));
  CHECK(contains(other_ca.error().detail, "/etc/caudal/ca.pem"));
  // One more CA than the cluster's would accept peers of that CA; one fewer would refuse the cluster's.
  CHECK(cluster::check_admission(tls({'a'}), tls_node({'a', 'b'})).error().code == errc::forbidden);
  CHECK(cluster::check_admission(tls({'a', 'b'}), tls_node({'a'})).error().code == errc::forbidden);

  auto foreign = cluster::check_admission(tls({'a'}), tls_node({'a'}, "unable to get local issuer certificate"));
  REQUIRE_FALSE(foreign.ok());
  CHECK(contains(foreign.error().detail, "tls.cert_file '/etc/caudal/n2.pem' (CN=n2) does not verify against the cluster CA"));
  CHECK(contains(foreign.error().detail, "unable to get local issuer certificate"));

  auto tls_in_insecure = cluster::check_admission(insecure, tls_node({'a'}));
  REQUIRE_FALSE(tls_in_insecure.ok());
  CHECK(tls_in_insecure.error().code == errc::forbidden);
  CHECK(contains(tls_in_insecure.error().detail, "created insecure"));
  auto insecure_in_tls = cluster::check_admission(tls({'a'}), insecure_node());
  REQUIRE_FALSE(insecure_in_tls.ok());
  CHECK(contains(insecure_in_tls.error().detail, "--insecure"));
  CHECK(contains(insecure_in_tls.error().detail, std::string(64, 'a')));

  // Nothing recorded (no cluster yet, or one from before trust anchors): only the certificate counts.
  CHECK(cluster::check_admission({}, tls_node({'a'})).ok());
  CHECK(cluster::check_admission({}, tls_node({'a'}, "certificate has expired")).error().code == errc::forbidden);
}

TEST_CASE("trust anchor: fingerprints of the CA file, and the node certificate checked for both TLS roles") {
  scratch s;
  auto ca = make_cert({"Cluster CA", true}, nullptr);
  auto other = make_cert({"Other CA", true}, nullptr);
  const std::string ca_file = s.write("ca.pem", pem_of(ca.cert.get()));
  const std::string other_file = s.write("other.pem", pem_of(other.cert.get()));

  auto fps = security::read_ca_fingerprints(ca_file);
  REQUIRE_MESSAGE(fps.ok(), fps.error().detail);
  REQUIRE(fps->size() == 1);
  CHECK(fps->at(0).sha256 == sha256_of(ca.cert.get()));
  CHECK(fps->at(0).subject == "CN=Cluster CA");

  // A bundle: both, ascending by fingerprint, a repeated one once.
  const std::string bundle =
      s.write("bundle.pem", pem_of(other.cert.get()) + pem_of(ca.cert.get()) + pem_of(other.cert.get()));
  auto both = security::read_ca_fingerprints(bundle);
  REQUIRE_MESSAGE(both.ok(), both.error().detail);
  REQUIRE(both->size() == 2);
  CHECK(both->at(0).sha256 < both->at(1).sha256);

  // What a CA file must not be: a node's certificate, nothing, or missing.
  auto leaf = make_cert({"n1"}, &ca);
  auto leaf_as_ca = security::read_ca_fingerprints(s.write("leaf-as-ca.pem", pem_of(leaf.cert.get())));
  REQUIRE_FALSE(leaf_as_ca.ok());
  CHECK(contains(leaf_as_ca.error().detail, "not a CA certificate"));
  CHECK_FALSE(security::read_ca_fingerprints(s.write("empty.pem", "no PEM here\n")).ok());
  auto missing = security::read_ca_fingerprints((s.dir / "nope.pem").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().detail, "nope.pem"));

  const std::string leaf_file = s.write("n1.pem", pem_of(leaf.cert.get()));
  auto good = security::check_node_certificate(leaf_file, ca_file);
  REQUIRE_MESSAGE(good.ok(), good.error().detail);
  CHECK(good->subject == "CN=n1");
  CHECK_MESSAGE(good->error.empty(), good->error);
  // Against a bundle holding its CA too.
  CHECK(security::check_node_certificate(leaf_file, bundle)->error.empty());

  auto foreign = security::check_node_certificate(leaf_file, other_file);
  REQUIRE(foreign.ok());
  CHECK(contains(foreign->error, "unable to get local issuer certificate"));

  // A client certificate (clientAuth only) of the right CA cannot be a node's: it would serve no peer.
  auto client = make_cert({"client", false, "clientAuth"}, &ca);
  auto as_node = security::check_node_certificate(s.write("client.pem", pem_of(client.cert.get())), ca_file);
  REQUIRE(as_node.ok());
  CHECK(contains(as_node->error, "as TLS server"));

  auto expired = make_cert({"old", false, "serverAuth,clientAuth", -7200, -3600}, &ca);
  auto too_old = security::check_node_certificate(s.write("old.pem", pem_of(expired.cert.get())), ca_file);
  REQUIRE(too_old.ok());
  CHECK(contains(too_old->error, "expired"));

  // An intermediate CA carried after the leaf in the node's file chains up to the cluster CA.
  auto mid = make_cert({"Intermediate CA", true}, &ca);
  auto below = make_cert({"n2"}, &mid);
  const std::string chained = s.write("n2-chain.pem", pem_of(below.cert.get()) + pem_of(mid.cert.get()));
  CHECK(security::check_node_certificate(chained, ca_file)->error.empty());
  const std::string alone = s.write("n2-alone.pem", pem_of(below.cert.get()));
  CHECK_FALSE(security::check_node_certificate(alone, ca_file)->error.empty());
}
