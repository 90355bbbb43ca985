# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: variables here are used by the scripts that source this file; SC2016: sh -c snippets take $1.)
# Caudal nodes run by the scripts: config files, processes, health. Sourced after lib/common.sh and
# lib/pg.sh, never run.
#
#   .caudal/nodes/<node>.toml   the node's config (written by `scripts/cluster up` and `add`, reused by
#                               restart, removed by `remove`): its rpc, http and cluster (CAF) ports
#   .caudal/run/<node>.pid      pid of the running node (a process the scripts started)
#   .caudal/logs/<node>.log     its stdout and stderr (appended; each start begins with a ==== line)
#   .caudal/operator.secret     the operator's client secret (random, 0600, created once)
#   .caudal/token.key           the key that encrypts token signing keys in PostgreSQL (random, 0600, once)
#   .caudal/client.json         defaults of the `caudal` CLI: server, CA file, operator credentials, tenants
#   .caudal/tls/                the cluster CA, the client CA, the nodes' and client certificates (scripts/lib/tls.sh)

# The node binary; CAUDAL_NODE_BIN replaces it (a stand-in, or a build elsewhere).
NODE_BIN="${CAUDAL_NODE_BIN:-$CAUDAL_BUILD/cluster/caudal-node}"
# Seconds a start may take until /healthz answers, and a graceful stop until SIGKILL.
NODE_HEALTH_TIMEOUT_S="${CAUDAL_HEALTH_TIMEOUT_S:-30}"
NODE_STOP_TIMEOUT_S="${CAUDAL_STOP_TIMEOUT_S:-10}"
OPERATOR_SECRET_FILE="$CAUDAL_STATE/operator.secret"
# The key that encrypts the token signing keys in PostgreSQL (auth.key_file; the same for every node).
TOKEN_KEY_FILE="$CAUDAL_STATE/token.key"
# The cluster CA, the client CA and the certificates they signed (scripts/lib/tls.sh).
TLS_DIR="$CAUDAL_STATE/tls"
CLIENT_FILE="$CAUDAL_STATE/client.json"

node_config() { printf '%s/%s.toml\n' "$CAUDAL_NODES" "$1"; }
node_pid_file() { printf '%s/%s.pid\n' "$CAUDAL_RUN" "$1"; }
node_log() { printf '%s/%s.log\n' "$CAUDAL_LOGS" "$1"; }

# The nodes that have a config, in name order.
node_names() {
  local f
  for f in "$CAUDAL_NODES"/*.toml; do
    [[ -e "$f" ]] || continue
    f="${f##*/}"
    printf '%s\n' "${f%.toml}"
  done
}

valid_node_name() { [[ "$1" =~ ^[a-z][a-z0-9_-]{0,30}$ ]]; }

# The value of `key` in `[section]` of TOML file $1, quotes removed (enough for the files we write).
toml_get() {
  awk -v sec="[$2]" -v key="$3" '
    /^[ \t]*\[/ { cur = $0; sub(/[ \t]*(#.*)?$/, "", cur); sub(/^[ \t]*/, "", cur); next }
    cur == sec {
      line = $0
      if (match(line, "^[ \t]*" key "[ \t]*=")) {
        v = substr(line, RLENGTH + 1)
        sub(/^[ \t]*/, "", v)
        if (v ~ /^"/) { v = substr(v, 2); sub(/".*$/, "", v) } else { sub(/[ \t]*(#.*)?$/, "", v) }
        print v; exit
      }
    }' "$1"
}

# A TOML basic string: backslashes and quotes escaped.
toml_str() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

node_rpc_addr() { toml_get "$(node_config "$1")" rpc listen; }
node_http_addr() { toml_get "$(node_config "$1")" http listen; }
# CAF's network layer between nodes (empty for a config written before it existed).
node_cluster_addr() { toml_get "$(node_config "$1")" cluster listen; }
node_region() { toml_get "$(node_config "$1")" node region; }
valid_region_name() { [[ "$1" =~ ^[a-z][a-z0-9_-]{0,30}$ ]]; }

# The ports of node $1's config (rpc, http, cluster when it has one; one a line).
node_ports() {
  port_of_addr "$(node_rpc_addr "$1")"
  port_of_addr "$(node_http_addr "$1")"
  [[ -z "$(node_cluster_addr "$1")" ]] || port_of_addr "$(node_cluster_addr "$1")"
}

# The ports of every node config but those of the nodes named: ports handed out already, which a new or
# rewritten config must not take.
node_config_ports() {
  local node skip other
  while read -r node; do
    skip=0
    for other in "$@"; do [[ "$other" == "$node" ]] && skip=1; done
    ((skip)) || node_ports "$node"
  done < <(node_names)
}

# The nodes running now, in name order.
running_nodes() {
  local node
  while read -r node; do
    [[ -z "$(node_pid "$node")" ]] || printf '%s\n' "$node"
  done < <(node_names)
}

# True when a node other than $1 runs.
other_node_runs() {
  local node
  while read -r node; do
    [[ "$node" == "$1" ]] || return 0
  done < <(running_nodes)
  return 1
}

# True when node $1's config points at the embedded PostgreSQL (not at a CAUDAL_PG_URL).
node_uses_embedded_pg() { grep -q '^# server: embedded$' "$(node_config "$1")"; }
port_of_addr() { printf '%s\n' "${1##*:}"; }

# The pid of node $1 when it runs: the pid file names a live process started with this node's config.
node_pid() {
  local pidf pid cmd
  pidf="$(node_pid_file "$1")"
  [[ -f "$pidf" ]] || return 0
  pid="$(cat "$pidf" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  cmd="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" || return 0
  [[ "$cmd" == *"--config $(node_config "$1") "* ]] || return 0
  # A zombie has finished: not running.
  [[ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" != Z ]] || return 0
  printf '%s\n' "$pid"
}

# True when the executable of running process $1 was replaced on disk (rebuilt) after the process started:
# the kernel then shows its old file as deleted.
node_binary_replaced() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  [[ "$exe" == *" (deleted)" ]]
}

# The operator's secret: created once (64 hex characters from /dev/urandom), 0600, reused after.
ensure_operator_secret() {
  if [[ ! -s "$OPERATOR_SECRET_FILE" ]]; then
    (
      umask 077
      od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$OPERATOR_SECRET_FILE.tmp"
      printf '\n' >>"$OPERATOR_SECRET_FILE.tmp"
      mv "$OPERATOR_SECRET_FILE.tmp" "$OPERATOR_SECRET_FILE"
    )
    say "operator: new secret in ${OPERATOR_SECRET_FILE#"$CAUDAL_ROOT"/}"
  fi
  chmod 0600 "$OPERATOR_SECRET_FILE"
}

operator_secret() { tr -d ' \n\r' <"$OPERATOR_SECRET_FILE"; }

# The token signing keys' encryption key: 64 hex characters from /dev/urandom, 0600, created once (a new
# one would make the keys already in the database unreadable).
ensure_token_key() {
  if [[ ! -s "$TOKEN_KEY_FILE" ]]; then
    (
      umask 077
      od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TOKEN_KEY_FILE.tmp"
      printf '\n' >>"$TOKEN_KEY_FILE.tmp"
      mv "$TOKEN_KEY_FILE.tmp" "$TOKEN_KEY_FILE"
    )
    say "auth: new token key-encryption key in ${TOKEN_KEY_FILE#"$CAUDAL_ROOT"/}"
  fi
  chmod 0600 "$TOKEN_KEY_FILE"
}

# Writes node $1's config: rpc port $2, http port $3, cluster port $4 (CAF's network layer between nodes),
# PostgreSQL URL $5, region $6.
node_write_config() {
  local node="$1" rpc="$2" http="$3" cluster="$4" url="$5" region="$6" cfg
  cfg="$(node_config "$node")"
  (
    umask 077
    cat >"$cfg.tmp" <<EOF
# Written by scripts/cluster: rewritten at \`scripts/cluster up\` while the node is down, reused by restart.
# All keys and their defaults: config/node.example.toml.
[node]
id = $(toml_str "$node")
region = $(toml_str "$region")

[rpc]
listen = "127.0.0.1:$rpc"

[tls]                            # TLS 1.3 for clients, mutual TLS between nodes (scripts/lib/tls.sh)
cert_file = $(toml_str "$TLS_DIR/$node.pem")
key_file = $(toml_str "$TLS_DIR/$node.key")
ca_file = $(toml_str "$TLS_DIR/ca.pem")

[http]
listen = "127.0.0.1:$http"      # /healthz and /metrics

[postgres]
# server: $(if pg_external; then printf 'CAUDAL_PG_URL'; else printf 'embedded'; fi)
url = $(toml_str "$url")

[operator]
client_id = "operator"
secret_file = $(toml_str "$OPERATOR_SECRET_FILE")

[auth]
key_file = $(toml_str "$TOKEN_KEY_FILE")

[cluster]
listen = "127.0.0.1:$cluster"   # CAF's network layer: other nodes forward requests here

[log]
level = "info"
EOF
    mv "$cfg.tmp" "$cfg"
  )
}

# Writes node $1's config for region $2 (empty: the earlier config's, else "local"), keeping the ports of an
# earlier config while they are free and distinct from the ports given after the region (handed out to
# other nodes).
node_prepare_config() {
  local node="$1" region="$2" cfg old_rpc="" old_http="" old_cluster="" rpc http cluster
  shift 2
  cfg="$(node_config "$node")"
  if [[ -f "$cfg" ]]; then
    old_rpc="$(port_of_addr "$(node_rpc_addr "$node")")"
    old_http="$(port_of_addr "$(node_http_addr "$node")")"
    old_cluster="$(port_of_addr "$(node_cluster_addr "$node")")"
    [[ -n "$region" ]] || region="$(node_region "$node")"
  fi
  rpc="$(reuse_or_pick_port "$old_rpc" "$@")"
  http="$(reuse_or_pick_port "$old_http" "$rpc" "$@")"
  cluster="$(reuse_or_pick_port "$old_cluster" "$rpc" "$http" "$@")"
  node_write_config "$node" "$rpc" "$http" "$cluster" "$(pg_node_url)" "${region:-local}"
}

# Starts node $1 in the background (its own session, so a terminal's Ctrl-C or hang-up does not reach it).
node_start() {
  local node="$1" cfg log pidf
  cfg="$(node_config "$node")"
  log="$(node_log "$node")"
  pidf="$(node_pid_file "$node")"
  [[ -f "$cfg" ]] || die "$node has no config ($cfg): run scripts/cluster up"
  [[ -x "$NODE_BIN" ]] || die "node binary $NODE_BIN is missing: run scripts/setup"
  printf '\n==== %s start %s --config %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$NODE_BIN" "$cfg" >>"$log"
  rm -f "$pidf"
  # The inner shell writes its own pid, then becomes the node (exec): the pid file names the node itself.
  # shellcheck disable=SC2016
  setsid bash -c 'printf "%s\n" "$$" > "$1"; shift; exec "$@"' _ "$pidf" "$NODE_BIN" --config "$cfg" \
    </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidf" ]] && break
    sleep 0.1
  done
  [[ -s "$pidf" ]] || die "$node: no pid file after start"
}

node_health_url() { printf 'http://%s/healthz\n' "$(node_http_addr "$1")"; }

node_healthy() { curl -fsS --max-time 2 -o /dev/null "$(node_health_url "$1")" 2>/dev/null; }

# Waits until node $1 answers /healthz; on timeout, or when the process ends, prints its log's tail and fails.
node_wait_healthy() {
  local node="$1" deadline
  deadline=$((SECONDS + NODE_HEALTH_TIMEOUT_S))
  command -v curl >/dev/null || die "curl is missing: run scripts/setup"
  while ((SECONDS < deadline)); do
    if [[ -z "$(node_pid "$node")" ]]; then
      node_fail "$node" "exited during start"
    fi
    node_healthy "$node" && return 0
    sleep 0.25
  done
  node_fail "$node" "no answer from $(node_health_url "$node") within ${NODE_HEALTH_TIMEOUT_S} s"
}

# Reports a failed start with the log of that start (from its ==== line, at most 40 lines), stops what is
# left of the node (so `up` can simply be run again) and fails.
node_fail() {
  local node="$1" why="$2" log
  log="$(node_log "$node")"
  printf '%s: %s %s; its log (%s) says:\n' "$CAUDAL_ME" "$node" "$why" "${log#"$CAUDAL_ROOT"/}" >&2
  awk '/^==== / { n = 0 } { l[n++] = $0 } END { for (i = (n > 40 ? n - 40 : 0); i < n; i++) print "    " l[i] }' \
    "$log" >&2
  node_stop "$node" >/dev/null
  die "$node did not start"
}

# Waits up to $2 seconds for process $1 to end; true when it did.
wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [[ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" == Z ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Stops node $1 gracefully: SIGTERM, then SIGKILL after NODE_STOP_TIMEOUT_S.
node_stop() {
  local node="$1" pid
  pid="$(node_pid "$node")"
  if [[ -z "$pid" ]]; then
    rm -f "$(node_pid_file "$node")"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$NODE_STOP_TIMEOUT_S"; then
    warn "$node (pid $pid) still running ${NODE_STOP_TIMEOUT_S} s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "$node (pid $pid) survived SIGKILL"
  fi
  rm -f "$(node_pid_file "$node")"
  say "$node: stopped (pid $pid)"
}

# kill -9 of node $1: the crash that durability is tested against.
node_kill() {
  local node="$1" pid
  pid="$(node_pid "$node")"
  [[ -n "$pid" ]] || die "$node is not running"
  kill -KILL "$pid"
  wait_gone "$pid" 10 || die "$node (pid $pid) survived SIGKILL"
  rm -f "$(node_pid_file "$node")"
  say "$node: killed (kill -9, pid $pid)"
}

# Writes the CLI's defaults file: this cluster's server and the operator's credentials. The tenants the
# CLI stored there are kept while the operator secret is the same and the database was not created anew.
write_client_file() {
  local server="$1" fresh_db="$2" secret tenants="{}" old_secret
  secret="$(operator_secret)"
  if [[ -f "$CLIENT_FILE" && "$fresh_db" != 1 ]]; then
    old_secret="$(json_top_string "$CLIENT_FILE" client_secret 2>/dev/null || true)"
    if [[ "$old_secret" == "$secret" ]]; then
      tenants="$(json_top_raw "$CLIENT_FILE" tenants 2>/dev/null || printf '{}')"
      [[ "$tenants" == \{* ]] || tenants="{}"
    fi
  fi
  (
    umask 077
    cat >"$CLIENT_FILE.tmp" <<EOF
{
  "server": "$server",
  "ca_file": "$TLS_DIR/ca.pem",
  "client_id": "operator",
  "client_secret": "$secret",
  "tenants": $tenants
}
EOF
    mv "$CLIENT_FILE.tmp" "$CLIENT_FILE"
  )
}

# Points the CLI's defaults at a running node when the node they name does not run (or is $1, a node about
# to stop). Leaves the file alone when it does not exist or no other node runs.
client_file_follow() {
  local leaving="${1:-}" current node
  [[ -f "$CLIENT_FILE" ]] || return 0
  current="$(json_top_string "$CLIENT_FILE" server 2>/dev/null || true)"
  while read -r node; do
    [[ "$node" != "$leaving" && "$(node_rpc_addr "$node")" == "$current" ]] && return 0
  done < <(running_nodes)
  while read -r node; do
    [[ "$node" == "$leaving" ]] && continue
    write_client_file "$(node_rpc_addr "$node")" 0
    say "client defaults: ${CLIENT_FILE#"$CAUDAL_ROOT"/} now name $node (server $(node_rpc_addr "$node"))"
    return 0
  done < <(running_nodes)
}
