# shellcheck shell=bash
# A local certificate authority and the certificates of nodes and clients, made with the openssl CLI.
# Sourced (needs say/die of common.sh), never run; scripts/lib/make-certs runs it for the tests.
#
# Layout of a TLS folder (default .caudal/tls, mode 0700; keys 0600):
#   ca.pem, ca.key           the local CA (EC P-256, 10 years); its key signs the others
#   <name>.pem, <name>.key   a node's or a client's certificate (EC P-256, 2 years), signed by the CA
# Every certificate carries SAN DNS:localhost, IP:127.0.0.1 and DNS:127.0.0.1 (kj-tls checks the dialled
# host against DNS names, so a client dialling 127.0.0.1 needs the DNS form too) and both EKUs,
# serverAuth and clientAuth: a node's certificate serves the client API and mutual TLS between nodes.
# Idempotent: existing files are kept while they verify against the CA and are valid for more than a day;
# otherwise they are made anew (a new CA re-issues everything).

TLS_DAYS_CA=3650
TLS_DAYS_LEAF=730

# True when $1 exists and is valid for at least one more day.
tls_cert_fresh() { [[ -s "$1" ]] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

# Makes the CA of folder $1 unless a fresh one is there. Sets TLS_CA_NEW=1 when it made one.
tls_ensure_ca() {
  local dir="$1"
  TLS_CA_NEW=0
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if tls_cert_fresh "$dir/ca.pem" && [[ -s "$dir/ca.key" ]]; then
    return 0
  fi
  (
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null ||
      die "openssl cannot make the CA key in $dir"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$TLS_DAYS_CA" -subj "/CN=Caudal local CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.pem" 2>/dev/null || die "openssl cannot make the CA certificate in $dir"
  )
  chmod 0644 "$dir/ca.pem"
  TLS_CA_NEW=1
}

# Makes certificate $2 (a node or client name, [A-Za-z0-9_.-]) in folder $1, signed by its CA, unless a
# fresh one that verifies against the CA is there.
tls_ensure_cert() {
  local dir="$1" name="$2" ext
  [[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "bad certificate name '$name'"
  if ((${TLS_CA_NEW:-0} == 0)) && tls_cert_fresh "$dir/$name.pem" && [[ -s "$dir/$name.key" ]] &&
    openssl verify -CAfile "$dir/ca.pem" "$dir/$name.pem" >/dev/null 2>&1; then
    return 0
  fi
  ext="$(mktemp)"
  cat >"$ext" <<EOT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1
EOT
  (
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null &&
      openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null &&
      openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -days "$TLS_DAYS_LEAF" -sha256 -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
  ) || {
    rm -f "$ext"
    die "openssl cannot make the certificate '$name' in $dir"
  }
  rm -f "$ext" "$dir/$name.csr"
  chmod 0644 "$dir/$name.pem"
}

# The CA and the certificates named after the folder: tls_ensure DIR NAME...
tls_ensure() {
  local dir="$1" name
  shift
  command -v openssl >/dev/null || die "openssl is missing: run scripts/setup"
  tls_ensure_ca "$dir"
  for name in "$@"; do tls_ensure_cert "$dir" "$name"; done
}
