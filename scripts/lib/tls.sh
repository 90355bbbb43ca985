# shellcheck shell=bash
# Local certificate authorities and the certificates of nodes and clients, made with the openssl CLI.
# Sourced (needs say/die of common.sh), never run; scripts/lib/make-certs runs it for the tests.
#
# Layout of a TLS folder (default .caudal/tls, mode 0700; keys 0600):
#   ca.pem, ca.key                the cluster CA (EC P-256, 10 years, CN "Caudal local CA"). It signs node
#                                 certificates and nothing else: every node's tls.ca_file, so a certificate
#                                 it signed opens a link on the cluster port; clients trust it for the
#                                 client API. The cluster records its SHA-256 fingerprint when it is created
#                                 (cluster/admission): a new ca.pem means a new cluster (or a CA rotation).
#   <node>.pem, <node>.key        a node's certificate (EC P-256, 2 years), signed by ca.pem; EKU serverAuth
#                                 and clientAuth (it serves the client API and both ends of mutual TLS)
#   client-ca.pem, client-ca.key  the client CA (CN "Caudal local client CA"), made with the first client
#                                 certificate. It signs client certificates only and no node trusts it, so a
#                                 client certificate opens no link on the cluster port.
#   <client>.pem, <client>.key    a client's certificate (EC P-256, 2 years), signed by client-ca.pem; EKU
#                                 clientAuth only
# Every certificate carries SAN DNS:localhost, IP:127.0.0.1 and DNS:127.0.0.1 (kj-tls checks the dialled
# host against DNS names, so a client dialling 127.0.0.1 needs the DNS form too).
# Idempotent: existing files are kept while they verify against their CA (for their role) and are valid for
# more than a day; otherwise they are made anew (a new CA re-issues everything it signs). A client
# certificate of the older layout, which ca.pem signed, no longer verifies against client-ca.pem, so it is
# re-issued by the client CA.

TLS_DAYS_CA=3650
TLS_DAYS_LEAF=730

# True when $1 exists and is valid for at least one more day.
tls_cert_fresh() { [[ -s "$1" ]] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

# Makes CA $2 (file base name) with common name $3 in folder $1 unless a fresh one is there. Sets
# TLS_MADE_CA=1 when it made one.
tls_make_ca() {
  local dir="$1" base="$2" cn="$3"
  TLS_MADE_CA=0
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if tls_cert_fresh "$dir/$base.pem" && [[ -s "$dir/$base.key" ]]; then
    return 0
  fi
  (
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$base.key" 2>/dev/null ||
      die "openssl cannot make the key of $base in $dir"
    openssl req -x509 -new -key "$dir/$base.key" -sha256 -days "$TLS_DAYS_CA" -subj "/CN=$cn" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/$base.pem" 2>/dev/null || die "openssl cannot make the certificate of $base in $dir"
  )
  chmod 0644 "$dir/$base.pem"
  TLS_MADE_CA=1
}

# The cluster CA of folder $1. Sets TLS_CA_NEW=1 when it made one.
tls_ensure_ca() {
  tls_make_ca "$1" ca "Caudal local CA"
  TLS_CA_NEW=$TLS_MADE_CA
}

# The client CA of folder $1. Sets TLS_CLIENT_CA_NEW=1 when it made one.
tls_ensure_client_ca() {
  tls_make_ca "$1" client-ca "Caudal local client CA"
  TLS_CLIENT_CA_NEW=$TLS_MADE_CA
}

# Makes certificate $2 (a name, [A-Za-z0-9_.-]) of role $3 (node: signed by ca.pem; client: signed by
# client-ca.pem) in folder $1, unless a fresh one that verifies against that CA for that role is there.
tls_ensure_cert() {
  local dir="$1" name="$2" role="${3:-node}" issuer purpose eku ext new_ca
  [[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "bad certificate name '$name'"
  case "$role" in
    node) issuer=ca purpose=sslserver eku="serverAuth,clientAuth" new_ca=${TLS_CA_NEW:-0} ;;
    client) issuer=client-ca purpose=sslclient eku="clientAuth" new_ca=${TLS_CLIENT_CA_NEW:-0} ;;
    *) die "bad certificate role '$role'" ;;
  esac
  [[ "$name" != "$issuer" ]] || die "certificate name '$name' is the name of a CA"
  if ((new_ca == 0)) && tls_cert_fresh "$dir/$name.pem" && [[ -s "$dir/$name.key" ]] &&
    openssl verify -CAfile "$dir/$issuer.pem" -purpose "$purpose" "$dir/$name.pem" >/dev/null 2>&1; then
    return 0
  fi
  ext="$(mktemp)"
  cat >"$ext" <<EOT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $eku
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1
EOT
  (
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null &&
      openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null &&
      openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$issuer.pem" -CAkey "$dir/$issuer.key" -CAcreateserial \
        -days "$TLS_DAYS_LEAF" -sha256 -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
  ) || {
    rm -f "$ext"
    die "openssl cannot make the certificate '$name' in $dir"
  }
  rm -f "$ext" "$dir/$name.csr"
  chmod 0644 "$dir/$name.pem"
}

# The CAs and the certificates named: tls_ensure DIR NODE... [--clients CLIENT...]. The client CA is made
# only when a client certificate is asked for.
tls_ensure() {
  local dir="$1" name role=node
  shift
  command -v openssl >/dev/null || die "openssl is missing: run scripts/setup"
  tls_ensure_ca "$dir"
  TLS_CLIENT_CA_NEW=0
  for name in "$@"; do
    if [[ "$name" == "--clients" ]]; then
      role=client
      tls_ensure_client_ca "$dir"
      continue
    fi
    tls_ensure_cert "$dir" "$name" "$role"
  done
}
