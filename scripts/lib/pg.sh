# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: variables here are used by the scripts that source this file; SC2016: sh -c snippets take $1.)
# The embedded PostgreSQL 15: a private server per checkout, used by scripts/cluster, scripts/demo and
# scripts/test whenever CAUDAL_PG_URL is not set. Sourced after lib/common.sh, never run.
#
#   - Folder: .caudal/pg under the checkout when the server's user can reach it, else
#     /tmp/caudal-<tag of the checkout path>/pg (a clone under root's home is not reachable for `postgres`).
#     Inside: data/ (PGDATA), socket/ (unix socket), port (the port picked at first start, reused after).
#   - Runs as `postgres` (the Debian package's user; a `caudal` system user is created when that one is
#     missing) when invoked as root, else as the invoking user. Superuser `caudal`, trust authentication,
#     listening on 127.0.0.1 only. fsync and synchronous_commit stay on (the defaults, stated explicitly).
#   - Log: .caudal/logs/postgres.log (opened by this script and handed to the server, so the server's
#     user needs no access to the checkout).
#   - pg_up is idempotent and serialised by a lock file; pg_down stops only the server of this folder.

PG_BIN="${CAUDAL_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_LOG="$CAUDAL_LOGS/postgres.log"
PG_SUPERUSER="caudal"
PG_DATABASE="caudal"
# How long pg_ctl waits for the server to start or stop (seconds; a busy 2-core machine is slow).
PG_WAIT_S="${CAUDAL_PG_WAIT_S:-120}"

pg_external() { [[ -n "${CAUDAL_PG_URL:-}" ]]; }

# The OS user the server runs as.
pg_server_user() {
  if ! is_root; then
    id -un
  elif getent passwd postgres >/dev/null; then
    printf 'postgres\n'
  else
    printf 'caudal\n'
  fi
}

# As root: makes sure the server's system user exists (`caudal` when the Debian package's `postgres` is absent).
pg_ensure_server_user() {
  is_root || return 0
  local user
  user="$(pg_server_user)"
  getent passwd "$user" >/dev/null && return 0
  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$user" ||
    die "could not create system user $user for PostgreSQL"
}

# Runs a command as the server's user, from / (the caller's folder may be unreachable for that user).
pg_as_server() {
  if is_root; then
    (cd / && runuser -u "$(pg_server_user)" -- "$@")
  else
    (cd / && "$@")
  fi
}

# True when the server's user can reach (search) folder $1, including every folder above it.
pg_user_reaches() {
  if is_root; then
    (cd / && runuser -u "$(pg_server_user)" -- test -x "$1") 2>/dev/null
  else
    test -x "$1"
  fi
}

# Prints the folder of the embedded server (see the top of this file).
pg_dir() {
  ensure_state_dirs
  if pg_user_reaches "$CAUDAL_STATE"; then
    printf '%s\n' "$CAUDAL_STATE/pg"
  else
    printf '%s\n' "/tmp/caudal-$(checkout_tag)/pg"
  fi
}

# Makes the folder, owned by the server's user. Refuses a /tmp folder that someone else created.
pg_make_dir() {
  local dir="$1" user parent
  user="$(pg_server_user)"
  parent="$(dirname "$dir")"
  if [[ "$parent" == /tmp/caudal-* ]]; then
    if [[ ! -d "$parent" ]]; then
      mkdir -m 0755 "$parent" || die "could not create $parent"
    fi
    [[ -O "$parent" && ! -L "$parent" ]] || die "$parent exists but does not belong to $(id -un): remove it"
  fi
  local owner
  if [[ -d "$dir" ]] && ! is_root; then
    owner="$(stat -c %U "$dir")"
    [[ "$owner" == "$user" ]] || die "$dir belongs to $owner, not to $user: run as root (or as $owner), or remove it"
  fi
  if [[ -d "$dir/data" ]]; then
    owner="$(stat -c %U "$dir/data")"
    [[ "$owner" == "$user" ]] || die "$dir/data belongs to $owner, not to $user, the server's user: remove it or run as $owner"
  fi
  mkdir -p "$dir/socket"
  if is_root; then
    chown "$user:" "$dir" "$dir/socket"
  fi
  chmod 0755 "$dir" "$dir/socket"
}

pg_port_of() { cat "$1/port" 2>/dev/null || true; }

# The pid of the live postmaster serving folder $1 (a `postgres` process whose working folder is $1/data:
# the postmaster works from its data folder), or nothing. Robust against pid reuse and moved checkouts.
pg_dir_pid() {
  local dir="$1" pid
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 0
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(readlink -f "$dir/data")" ]] || return 0
  printf '%s\n' "$pid"
}

pg_dir_running() { [[ -n "$(pg_dir_pid "$1")" ]]; }

# A postmaster.pid whose server is gone (killed along with its machine, say) is removed so the server
# starts; postgres itself would refuse when the pid was reused by another live process.
pg_drop_stale_pid_file() {
  local dir="$1"
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  pg_dir_running "$dir" && return 0
  rm -f "$dir/data/postmaster.pid"
}

pg_running() { pg_dir_running "$(pg_dir)"; }

# The URL of database $1 (default: caudal) on the embedded server, as superuser over TCP.
pg_url() {
  local db="${1:-$PG_DATABASE}" port
  port="$(pg_port_of "$(pg_dir)")"
  printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$PG_SUPERUSER" "$port" "$db"
}

# $1 with its database replaced by $2: postgresql://u:p@h:5432/db?x=y -> postgresql://u:p@h:5432/$2?x=y
pg_url_with_db() {
  local url="$1" db="$2" scheme rest auth query=""
  [[ "$url" == *://* ]] || die "CAUDAL_PG_URL must be a postgresql:// URL (got something else)"
  scheme="${url%%://*}"
  rest="${url#*://}"
  if [[ "$rest" == *\?* ]]; then
    query="?${rest#*\?}"
    rest="${rest%%\?*}"
  fi
  auth="${rest%%/*}"
  printf '%s://%s/%s%s\n' "$scheme" "$auth" "$db" "$query"
}

# A URL fit for messages: the password, if any, replaced by ***.
pg_url_redacted() { printf '%s\n' "$1" | sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#'; }

pg_need_binaries() {
  [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" ]] ||
    die "PostgreSQL 15 is not installed ($PG_BIN): run scripts/setup"
  if is_root; then command -v runuser >/dev/null || die "runuser (util-linux) is missing"; fi
}

# Creates the cluster in $1/data (superuser caudal, trust on loopback only).
pg_init() {
  local dir="$1"
  say "postgresql: creating a new server in $dir/data (log: ${PG_LOG#"$CAUDAL_ROOT"/})"
  {
    printf '\n==== %s initdb %s/data\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$dir"
    pg_as_server "$PG_BIN/initdb" -D "$dir/data" -U "$PG_SUPERUSER" --auth=trust --encoding=UTF8 --locale=C \
      --no-instructions
  } >>"$PG_LOG" 2>&1 || {
    tail -n 20 "$PG_LOG" >&2
    die "initdb failed (see $PG_LOG)"
  }
  # Trust only over the socket (inside our folder) and loopback TCP; nothing else may connect.
  pg_as_server sh -c 'cat > "$1/pg_hba.conf"' _ "$dir/data" <<'EOF'
# Written by scripts/lib/pg.sh: the embedded development server, reachable only from this machine.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
  pg_as_server sh -c 'cat >> "$1/postgresql.conf"' _ "$dir/data" <<'EOF'

# Caudal: listen address, port, socket folder and the settings we rely on (rewritten at each start).
include_if_exists = 'caudal.conf'
EOF
}

# Writes the settings that depend on where and on which port the server runs (rewritten at each start).
pg_write_settings() {
  local dir="$1" port="$2" buffers_mb
  [[ "$dir" != *"'"* ]] || die "the PostgreSQL folder's path may not contain a single quote: $dir"
  buffers_mb="$(pg_shared_buffers_mb)"
  pg_as_server sh -c 'cat > "$1/data/caudal.conf"' _ "$dir" <<EOF
# Written by scripts/lib/pg.sh at each start: edits here are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 200
# Durability is the point of the ledger: these are PostgreSQL's defaults, stated so nobody turns them off.
fsync = on
synchronous_commit = on
full_page_writes = on
# A quarter of the memory (128 MB to 4 GB): once the ledger outgrows the default 128 MB, every commit reads
# index pages back from the kernel. Measured here on 25 million transfers: single-transfer p99 at 1,000
# requests/s 10.7-13.4 ms with 128 MB, 3.5-5.7 ms with 2 GB.
shared_buffers = ${buffers_mb}MB
# Fewer checkpoints, so fewer full-page images in the WAL after each (disk is cheaper than latency).
max_wal_size = 4GB
EOF
}

# A quarter of this machine's memory in MB, within 128..4096.
pg_shared_buffers_mb() {
  local kb mb
  kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || true)"
  [[ "$kb" =~ ^[0-9]+$ ]] || kb=0
  mb=$((kb / 1024 / 4))
  ((mb < 128)) && mb=128
  ((mb > 4096)) && mb=4096
  printf '%s\n' "$mb"
}

# Starts the embedded server unless it runs already, and makes sure database `caudal` exists.
# Sets PG_STARTED=1 when this call started it, PG_CREATED=1 when it also created the folder.
pg_up() {
  PG_STARTED=0
  PG_CREATED=0
  pg_external && return 0
  pg_need_binaries
  ensure_state_dirs
  pg_ensure_server_user
  local lock="$CAUDAL_RUN/pg.lock"
  exec {PG_LOCK_FD}>>"$lock"
  flock -w 300 "$PG_LOCK_FD" || die "another script holds $lock for over 300 s"
  pg_up_locked
  exec {PG_LOCK_FD}>&-
}

pg_up_locked() {
  local dir port
  dir="$(pg_dir)"
  if pg_dir_running "$dir"; then
    pg_ensure_database "$dir"
    return 0
  fi
  pg_make_dir "$dir"
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    if [[ -d "$dir/data" ]] && [[ -n "$(ls -A "$dir/data" 2>/dev/null)" ]]; then
      die "$dir/data is not empty but holds no PostgreSQL cluster: remove it"
    fi
    pg_init "$dir"
    PG_CREATED=1
  fi
  pg_drop_stale_pid_file "$dir"
  port="$(reuse_or_pick_port "$(pg_port_of "$dir")")"
  printf '%s\n' "$port" >"$dir/port"
  pg_write_settings "$dir" "$port"
  printf '\n==== %s start on 127.0.0.1:%s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$port" >>"$PG_LOG"
  # No -l: the server writes to the log file this shell opened, which its user may not be able to open.
  # The lock's descriptor is closed for the server: it would hold the lock for as long as it runs.
  if ! pg_as_server "$PG_BIN/pg_ctl" -D "$dir/data" -w -t "$PG_WAIT_S" start </dev/null >>"$PG_LOG" 2>&1 \
    {PG_LOCK_FD}>&-; then
    tail -n 20 "$PG_LOG" >&2
    die "PostgreSQL did not start (see $PG_LOG)"
  fi
  PG_STARTED=1
  say "postgresql: up on 127.0.0.1:$port ($dir)"
  pg_ensure_database "$dir"
}

pg_psql() {
  local port="$1"
  shift
  "$PG_BIN/psql" -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" "$@"
}

pg_ensure_database() {
  local dir="$1" port exists
  port="$(pg_port_of "$dir")"
  exists="$(pg_psql "$port" -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" ||
    die "cannot connect to the embedded PostgreSQL on 127.0.0.1:$port (see $PG_LOG)"
  if [[ "$exists" != 1 ]]; then
    pg_psql "$port" -d postgres -c "CREATE DATABASE $PG_DATABASE" || die "could not create database $PG_DATABASE"
  fi
}

# Stops the embedded server (fast shutdown: sessions are ended, committed work is safe).
pg_down() {
  pg_external && return 0
  local dir
  dir="$(pg_dir)"
  if ! pg_dir_running "$dir"; then
    say "postgresql: not running ($dir)"
    return 0
  fi
  printf '\n==== %s stop\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >>"$PG_LOG"
  pg_as_server "$PG_BIN/pg_ctl" -D "$dir/data" -w -t "$PG_WAIT_S" -m fast stop </dev/null >>"$PG_LOG" 2>&1 ||
    die "PostgreSQL did not stop (see $PG_LOG)"
  say "postgresql: stopped ($dir)"
}

# Restarts the running embedded server (fast: sessions are ended, committed work is kept). The tests use
# it to check that acknowledged work survives a PostgreSQL restart and that nodes reconnect.
pg_restart() {
  pg_external && die "CAUDAL_PG_URL is set: restart that server yourself"
  local dir
  dir="$(pg_dir)"
  pg_dir_running "$dir" || die "the embedded PostgreSQL is not running ($dir)"
  printf '\n==== %s restart\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >>"$PG_LOG"
  pg_as_server "$PG_BIN/pg_ctl" -D "$dir/data" -w -t "$PG_WAIT_S" -m fast restart </dev/null >>"$PG_LOG" 2>&1 ||
    die "PostgreSQL did not restart (see $PG_LOG)"
  say "postgresql: restarted ($dir)"
}

# One line for `scripts/cluster status`.
pg_status_line() {
  if pg_external; then
    printf 'postgresql: external %s (CAUDAL_PG_URL)\n' "$(pg_url_redacted "$CAUDAL_PG_URL")"
    return 0
  fi
  local dir port
  dir="$(pg_dir)"
  port="$(pg_port_of "$dir")"
  if pg_dir_running "$dir"; then
    printf 'postgresql: up    127.0.0.1:%s  pid %s  folder %s  user %s\n' "$port" \
      "$(pg_dir_pid "$dir")" "$dir" "$(stat -c %U "$dir/data")"
  elif [[ -f "$dir/data/PG_VERSION" ]]; then
    printf 'postgresql: down  (last port %s)  folder %s\n' "${port:-none}" "$dir"
  else
    printf 'postgresql: down  (not created yet; will be %s)\n' "$dir"
  fi
}

# The URL the node uses: CAUDAL_PG_URL, else database caudal on the embedded server.
pg_node_url() {
  if pg_external; then printf '%s\n' "$CAUDAL_PG_URL"; else pg_url "$PG_DATABASE"; fi
}
