# shellcheck shell=bash
# Helpers shared by the dev-server scripts (pg-ctl, xmpp-ctl, demo, test
# harness). Sourced, never run. Servers always run as an unprivileged user:
# as root that is the system user `herald-dev` (created on demand), otherwise
# whoever runs the script. Only PIDs recorded in the server directory are ever
# signalled, so several engineers' instances can live side by side.

HERALD_DEV_USER=${HERALD_DEV_USER:-herald-dev}
DEV_PY=/usr/bin/python3   # Debian's python, which has slixmpp; not pyenv's

dev_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
dev_die() { dev_log "error: $*"; exit 1; }

dev_is_root() { [ "$(id -u)" -eq 0 ]; }

# ensure_dev_user: create herald-dev when root. Callers run in parallel
# (the harness starts pg, prosody and ejabberd at once) and concurrent
# useradd calls corrupt each other (seen: a group left behind with no user),
# so creation is serialized with flock.
ensure_dev_user() {
    dev_is_root || return 0
    id -u "$HERALD_DEV_USER" >/dev/null 2>&1 && return 0
    local lockdir=/run/lock
    [ -d "$lockdir" ] && [ -w "$lockdir" ] || lockdir=/tmp
    (
        flock -w 60 9 || dev_die "cannot lock $lockdir/herald-dev-user.lock"
        id -u "$HERALD_DEV_USER" >/dev/null 2>&1 && exit 0
        if getent group "$HERALD_DEV_USER" >/dev/null; then
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin --gid "$HERALD_DEV_USER" "$HERALD_DEV_USER"
        else
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin --user-group "$HERALD_DEV_USER"
        fi
    ) 9>>"$lockdir/herald-dev-user.lock" || dev_die "cannot create user $HERALD_DEV_USER"
}

# unpriv_name: the account servers run as.
unpriv_name() {
    if dev_is_root; then echo "$HERALD_DEV_USER"; else id -un; fi
}

# as_unpriv HOME CMD ARGS...: run CMD as the unprivileged account with HOME
# set to the server's own directory (Erlang keeps its cookie there). setpriv
# execs in place (runuser would fork and keep a parent), so `$!` of a
# backgrounded as_unpriv is the server's own PID.
as_unpriv() {
    local home=$1; shift
    dev_is_root && ensure_dev_user
    # The caller's cwd may be unreadable for herald-dev (a clone under
    # /root): tools like initdb stumble over that, so run from HOME.
    (
        cd "$home" 2>/dev/null || cd /
        if dev_is_root; then
            HOME=$home USER=$HERALD_DEV_USER LOGNAME=$HERALD_DEV_USER \
                exec setpriv --reuid "$HERALD_DEV_USER" --regid "$HERALD_DEV_USER" \
                --init-groups -- "$@"
        else
            HOME=$home exec "$@"
        fi
    )
}

# as_unpriv_bg HOME LOG CMD ARGS...: start CMD detached (own session, stdin
# from /dev/null, output appended to LOG) as the unprivileged account; sets
# BG_PID to its PID. setsid and setpriv both exec in place, so BG_PID is the
# server process itself, not a wrapper.
as_unpriv_bg() {
    local home=$1 log=$2; shift 2
    if dev_is_root; then
        ensure_dev_user
        HOME=$home USER=$HERALD_DEV_USER LOGNAME=$HERALD_DEV_USER \
            setsid setpriv --reuid "$HERALD_DEV_USER" --regid "$HERALD_DEV_USER" \
            --init-groups -- "$@" </dev/null >>"$log" 2>&1 &
    else
        HOME=$home setsid "$@" </dev/null >>"$log" 2>&1 &
    fi
    # shellcheck disable=SC2034  # read by the caller
    BG_PID=$!
}

# own_dir DIR...: create DIR(s) owned by the unprivileged account.
own_dir() {
    mkdir -p "$@"
    if dev_is_root; then
        ensure_dev_user
        chown "$HERALD_DEV_USER:$HERALD_DEV_USER" "$@"
    fi
}

# prepare_base DIR: make the base directory exist and reachable by the
# unprivileged account (mktemp -d makes it 0700 root). Fails clearly when a
# parent directory is not traversable (e.g. under /root).
prepare_base() {
    local dir=$1
    mkdir -p "$dir"
    chmod 755 "$dir"
    if dev_is_root; then
        ensure_dev_user
        as_unpriv / test -x "$dir" ||
            dev_die "$dir is not reachable by user $HERALD_DEV_USER (use a directory under /tmp)"
    fi
}

# abs_dir DIR: absolute path (the directory may not exist yet).
abs_dir() {
    case $1 in
        /*) printf '%s\n' "${1%/}" ;;
        *) printf '%s/%s\n' "$(pwd -P)" "${1%/}" ;;
    esac
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one a line. All are
# bound at once so they differ; the kernel may hand them out again later, the
# usual small race of this technique.
free_ports() {
    "$DEV_PY" - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}
free_port() { free_ports 1; }

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# port_owned_by PID PORT: PID holds a listening IPv4 TCP socket on PORT.
# (An open port alone can be another program's: Prosody keeps running when
# it cannot bind, so "the port answers" would be a false success.)
port_owned_by() {
    local pid=$1 port=$2 inode fd
    inode=$(awk -v p="$(printf ':%04X' "$port")" \
        '$4 == "0A" && substr($2, length($2) - 4) == p { print $10; exit }' /proc/net/tcp)
    [ -n "$inode" ] || return 1
    for fd in /proc/"$pid"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ] && return 0
    done
    return 1
}

# wait_port HOST PORT TIMEOUT_S [PID]: wait until HOST:PORT accepts a
# connection and, given PID (the server), until that PID is the listener;
# give up early when PID has died.
wait_port() {
    local host=$1 port=$2 timeout=$3 pid=${4:-}
    local deadline=$(( $(now_ms) + timeout * 1000 ))
    while ! port_open "$host" "$port" ||
          { [ -n "$pid" ] && ! port_owned_by "$pid" "$port"; }; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            dev_log "process $pid exited before $host:$port opened"
            return 1
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            if [ -n "$pid" ] && port_open "$host" "$port"; then
                dev_log "timeout (${timeout}s): $host:$port is held by another process, not $pid"
            else
                dev_log "timeout (${timeout}s) waiting for $host:$port"
            fi
            return 1
        fi
        sleep 0.05
    done
}

# pid_alive_match PID NEEDLE: PID is alive and its command line contains
# NEEDLE (guards against signalling a recycled PID).
pid_alive_match() {
    local pid=$1 needle=$2 cmd
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [ -n "$cmd" ] || return 1   # zombie
    case $cmd in *"$needle"*) return 0 ;; esac
    return 1
}

# wait_pid_gone PID NEEDLE TIMEOUT_S: wait until PID no longer runs NEEDLE.
wait_pid_gone() {
    local pid=$1 needle=$2 timeout=$3
    local deadline=$(( $(now_ms) + timeout * 1000 ))
    while pid_alive_match "$pid" "$needle"; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# stop_pid PID NEEDLE GRACE_S: SIGTERM, wait GRACE_S, then SIGKILL.
stop_pid() {
    local pid=$1 needle=$2 grace=$3
    pid_alive_match "$pid" "$needle" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_pid_gone "$pid" "$needle" "$grace"; then
        dev_log "pid $pid did not stop within ${grace}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_gone "$pid" "$needle" 10 || dev_die "pid $pid survives SIGKILL"
    fi
}

# kill_pid PID NEEDLE: SIGKILL and wait until it is gone.
kill_pid() {
    local pid=$1 needle=$2
    pid_alive_match "$pid" "$needle" || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" "$needle" 10 || dev_die "pid $pid survives SIGKILL"
}

# rand_hex N: N random bytes as hex.
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# write_env FILE KEY=VALUE...: write a sourceable env file atomically. Values
# are double-quoted only when they hold spaces (PG_CONNINFO, XMPP_COMPONENTS),
# so `source` works and a KEY=value parser only has to strip one pair of
# quotes. Values must not hold quotes, `$` or backslashes.
write_env() {
    local file=$1; shift
    local tmp="$file.tmp.$$" kv key val
    : >"$tmp"
    for kv in "$@"; do
        key=${kv%%=*}; val=${kv#*=}
        if [[ $val =~ ^[A-Za-z0-9_./:@,+-]*$ ]]; then
            printf '%s=%s\n' "$key" "$val" >>"$tmp"
        elif [[ $val =~ [\"\$\`\\] ]]; then
            rm -f "$tmp"; dev_die "write_env: unsupported character in $key"
        else
            printf '%s="%s"\n' "$key" "$val" >>"$tmp"
        fi
    done
    chmod 644 "$tmp"
    mv -f "$tmp" "$file"
}

# log_tail FILE [N]: print the end of a log for an error report.
log_tail() {
    local file=$1 n=${2:-30}
    if [ -r "$file" ]; then
        echo "---- last $n lines of $file ----" >&2
        tail -n "$n" "$file" >&2
        echo "----" >&2
    fi
}
