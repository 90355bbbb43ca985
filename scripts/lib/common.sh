# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: variables here are used by the scripts that source this file; SC2016: sh -c snippets take $1.)
# Shared helpers of the scripts under scripts/: checkout paths, messages, free ports, tiny JSON reads.
# Sourced, never run. Needs bash, coreutils, util-linux and iproute2 (ss); nothing else (no python, no jq).

# The checkout's root: the folder above scripts/.
CAUDAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# Everything the scripts create at run time lives here (ignored by git). CAUDAL_STATE replaces it (an
# absolute path: a second local cluster from the same checkout, or a test's temporary folder).
CAUDAL_STATE="${CAUDAL_STATE:-$CAUDAL_ROOT/.caudal}"
[[ "$CAUDAL_STATE" == /* ]] || CAUDAL_STATE="$PWD/$CAUDAL_STATE"
CAUDAL_LOGS="$CAUDAL_STATE/logs"
CAUDAL_RUN="$CAUDAL_STATE/run"
CAUDAL_NODES="$CAUDAL_STATE/nodes"
# The CLI finds .caudal/client.json from its current folder upwards; a state folder elsewhere is named.
if [[ "$CAUDAL_STATE" != "$CAUDAL_ROOT/.caudal" ]]; then
  export CAUDAL_CLIENT_FILE="${CAUDAL_CLIENT_FILE:-$CAUDAL_STATE/client.json}"
fi
# The build folder; CAUDAL_BUILD replaces it.
CAUDAL_BUILD="${CAUDAL_BUILD:-$CAUDAL_ROOT/build}"
# The CLI; CAUDAL_CLI_BIN replaces it (a stand-in, or a build elsewhere).
CAUDAL_CLI="${CAUDAL_CLI_BIN:-$CAUDAL_BUILD/cli/caudal}"

# The name the messages start with: the running script's file name.
CAUDAL_ME="${CAUDAL_ME:-$(basename "$0")}"

say() { printf '%s: %s\n' "$CAUDAL_ME" "$*"; }
warn() { printf '%s: warning: %s\n' "$CAUDAL_ME" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$CAUDAL_ME" "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Creates the state folders. .caudal itself is world-searchable (0755) so that the PostgreSQL server's
# user can reach .caudal/pg when the server runs as another user; secrets inside are 0600 files.
ensure_state_dirs() {
  mkdir -p "$CAUDAL_STATE"
  chmod 0755 "$CAUDAL_STATE"
  mkdir -p "$CAUDAL_LOGS" "$CAUDAL_RUN" "$CAUDAL_NODES"
}

# A short, stable tag of this checkout's path (names per-checkout folders under /tmp), or of CAUDAL_STATE
# when it was moved elsewhere (two state folders never share one).
checkout_tag() {
  local p="$CAUDAL_ROOT"
  [[ "$CAUDAL_STATE" == "$CAUDAL_ROOT/.caudal" ]] || p="$CAUDAL_STATE"
  printf '%s' "$p" | sha256sum | cut -c1-10
}

# ---------------------------------------------------------------------------------------------------------
# Ports. We pick from 20000-32767: below Linux's ephemeral range (32768-60999), where tests bind port 0 and
# outgoing connections take their local ports, so a port picked here is not taken a moment later by chance.
CAUDAL_PORT_MIN="${CAUDAL_PORT_MIN:-20000}"
CAUDAL_PORT_MAX="${CAUDAL_PORT_MAX:-32767}"

# True when some socket on this machine uses local port $1 (any address, any state but TIME-WAIT), or,
# without ss, when something accepts connections on 127.0.0.1:$1. TIME-WAIT is left out: PostgreSQL and
# kj (the node's listeners) bind with SO_REUSEADDR, so a port that served a moment ago can be used again,
# and a node keeps its ports from one `up` to the next.
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    ss -Htan exclude time-wait 2>/dev/null | awk -v p=":$port" '{ if (substr($4, length($4) - length(p) + 1) == p) f = 1 } END { exit !f }'
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Prints a free port, not one of the ports given as arguments (ports already handed out in this run).
# Tries random ports, a bounded number of times.
pick_free_port() {
  local span=$((CAUDAL_PORT_MAX - CAUDAL_PORT_MIN + 1)) try port taken
  for ((try = 0; try < 200; try++)); do
    port=$((CAUDAL_PORT_MIN + (RANDOM * 32768 + RANDOM) % span))
    taken=0
    for used in "$@"; do [[ "$used" == "$port" ]] && taken=1; done
    ((taken)) && continue
    port_in_use "$port" && continue
    printf '%s\n' "$port"
    return 0
  done
  die "no free port found in $CAUDAL_PORT_MIN-$CAUDAL_PORT_MAX after 200 tries"
}

# Prints $1 when it is a port number that is free (and not among the others given), else a new free port.
reuse_or_pick_port() {
  local wanted="$1"
  shift
  if [[ "$wanted" =~ ^[0-9]+$ ]] && ((wanted > 0 && wanted < 65536)) && ! port_in_use "$wanted"; then
    local used
    for used in "$@"; do [[ "$used" == "$wanted" ]] && { pick_free_port "$@"; return; }; done
    printf '%s\n' "$wanted"
  else
    pick_free_port "$@"
  fi
}

# ---------------------------------------------------------------------------------------------------------
# JSON, read without python or jq: the raw text of one top-level key of the JSON object in file $1
# (a string value keeps its quotes). Exit status 1 when the key is absent. Handles any formatting,
# nesting and escaped quotes; enough for the files the CLI writes and the objects it prints.
json_top_raw() {
  local file="$1" key="$2"
  awk -v want="$key" '
    BEGIN { RS = "\001" }
    { s = s $0 }
    function emit(from, to,   v) {
      if (cur != want) return
      v = substr(s, from, to - from)
      sub(/^[ \t\r\n]+/, "", v); sub(/[ \t\r\n]+$/, "", v)
      print v; found = 1; exit
    }
    END {
      n = length(s); depth = 0; instr = 0; esc = 0; keypos = 0; cur = ""; vstart = 0
      for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (instr) {
          if (esc) { esc = 0 }
          else if (c == "\\") { esc = 1 }
          else if (c == "\"") { instr = 0; if (iskey) { cur = substr(s, kstart, i - kstart); iskey = 0 } }
          continue
        }
        if (c == "\"") { instr = 1; iskey = (depth == 1 && keypos); if (iskey) keypos = 0; kstart = i + 1 }
        else if (c == "{" || c == "[") { depth++; if (depth == 1) keypos = 1 }
        else if (c == "}" || c == "]") { if (depth == 1 && cur != "") emit(vstart, i); depth-- }
        else if (c == ":" && depth == 1) { vstart = i + 1 }
        else if (c == "," && depth == 1) { emit(vstart, i); cur = ""; keypos = 1 }
      }
      exit !found
    }' "$file"
}

# The value of a top-level string key, without its quotes (escapes are left as they are).
json_top_string() {
  local raw
  raw="$(json_top_raw "$1" "$2")" || return 1
  [[ "$raw" == \"*\" ]] || return 1
  raw="${raw#\"}"
  printf '%s\n' "${raw%\"}"
}
