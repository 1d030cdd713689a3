#!/usr/bin/env bash
# A real OpenSSH server on 127.0.0.1, for tests, CI and the remote-VM
# notebook: Debian's sshd with its own host key, config and keys, all in a
# private directory. Nothing of the system's own sshd is touched.
#
#   scripts/sshd.sh start DIR [PORT]   # start (PORT defaults to 2222); prints env lines
#   scripts/sshd.sh stop DIR           # stop the daemon and every session it serves
#   scripts/sshd.sh drop DIR           # cut every open connection, keep the daemon
#   scripts/sshd.sh status DIR
#
# DIR receives:
#   host_ed25519{,.pub}     the server's host key
#   known_hosts             a known_hosts line for it (for clients that verify)
#   id_ed25519{,.pub}       a user key with no passphrase
#   id_ed25519_enc{,.pub}   a user key encrypted with the passphrase in passphrase.txt
#   authorized_keys         both public keys
#   env                     shell lines: SSHD_PORT, SSHD_DIR, and the test users
#
# Run as root, it also creates two users of its own, named after DIR so
# that instances on one machine never share them (stop deletes them):
# SSHD_PW_USER (gantry-pw-XXXXXXXX), who logs in with the password in
# password.txt, and SSHD_NOPY_USER (gantry-nopy-XXXXXXXX), whose PATH has no
# Python (the "remote without Python" case). As another user, it serves
# that user only, by key. Secrets (password.txt, passphrase.txt, the
# private keys) are created readable by their owner only.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [[ -z $cmd || -z $dir ]]; then
    echo "usage: $0 start|stop|drop|status DIR [PORT]" >&2; exit 2
fi
SSHD=${SSHD:-/usr/sbin/sshd}
pidfile=$dir/sshd.pid

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# The instance's own test users, named after its directory.
instance_users() {
    local tag
    tag=$(printf '%s' "$(cd "$1" 2>/dev/null && pwd || echo "$1")" | sha256sum | cut -c1-8)
    pw_user=gantry-pw-$tag
    nopy_user=gantry-nopy-$tag
}

case $cmd in
start)
    port=${3:-2222}
    if [[ ! -x $SSHD ]]; then
        echo "sshd not found at $SSHD: install it with apt-get install openssh-server (scripts/setup.sh does)" >&2
        exit 1
    fi
    mkdir -p "$dir"; chmod 700 "$dir"
    dir=$(cd "$dir" && pwd)
    umask 077 # the secrets below are the owner's alone
    pidfile=$dir/sshd.pid
    if running; then echo "sshd already running in $dir (pid $(cat "$pidfile"))"; exit 0; fi
    [[ -f $dir/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C gantry-test-host -f "$dir/host_ed25519"
    [[ -f $dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C gantry-test -f "$dir/id_ed25519"
    [[ -f $dir/passphrase.txt ]] || echo "gantry-passphrase-$RANDOM$RANDOM" >"$dir/passphrase.txt"
    [[ -f $dir/id_ed25519_enc ]] || ssh-keygen -q -t ed25519 -N "$(cat "$dir/passphrase.txt")" -C gantry-test-enc -f "$dir/id_ed25519_enc"
    cat "$dir/id_ed25519.pub" "$dir/id_ed25519_enc.pub" >"$dir/authorized_keys"
    chmod 644 "$dir/authorized_keys"
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
    # The privilege-separation directory sshd insists on.
    mkdir -p /run/sshd 2>/dev/null || true
    chmod 600 "$dir/passphrase.txt"
    users=""; pw_user=""; nopy_user=""
    if [[ $(id -u) -eq 0 ]]; then
        instance_users "$dir"
        [[ -f $dir/password.txt ]] || echo "gantry-pw-$RANDOM$RANDOM$RANDOM" >"$dir/password.txt"
        chmod 600 "$dir/password.txt"
        id "$pw_user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$pw_user"
        echo "$pw_user:$(cat "$dir/password.txt")" | chpasswd
        id "$nopy_user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$nopy_user"
        # Unlocked for key logins (a new account is locked, and sshd without PAM refuses it).
        usermod -p "*" "$nopy_user"
        # A PATH with the basic tools and no interpreter.
        mkdir -p "$dir/nopy-bin"
        for t in sh bash uname ls cat mkdir chmod mv rm printf true env id; do
            p=$(command -v $t) && ln -sf "$p" "$dir/nopy-bin/$t"
        done
        # The users reach the public files (authorized_keys, nopy-bin), not the secrets.
        chmod 755 "$dir" "$dir/nopy-bin"
        chmod 644 "$dir/authorized_keys" "$dir/known_hosts"
        users="$pw_user $nopy_user"
    fi
    me=$(id -un)
    {
        echo "Port $port"
        echo "ListenAddress 127.0.0.1"
        echo "HostKey $dir/host_ed25519"
        echo "PidFile $pidfile"
        echo "AuthorizedKeysFile $dir/authorized_keys"
        echo "PubkeyAuthentication yes"
        echo "PasswordAuthentication yes"
        echo "KbdInteractiveAuthentication no"
        echo "UsePAM no"
        echo "StrictModes no"
        echo "PermitRootLogin yes"
        echo "AllowUsers $me $users"
        echo "MaxSessions 64"
        echo "MaxStartups 64:30:128"
        echo "Subsystem sftp internal-sftp"
        echo "LogLevel VERBOSE"
        if [[ -n $users ]]; then
            echo "Match User $nopy_user"
            echo "    SetEnv PATH=$dir/nopy-bin"
        fi
    } >"$dir/sshd_config"
    "$SSHD" -t -f "$dir/sshd_config"
    "$SSHD" -f "$dir/sshd_config" -E "$dir/sshd.log"
    for _ in $(seq 1 100); do
        if running && (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
        sleep 0.05
    done
    if ! running; then echo "sshd did not start; its log:" >&2; cat "$dir/sshd.log" >&2; exit 1; fi
    {
        echo "SSHD_DIR=$dir"
        echo "SSHD_PORT=$port"
        echo "SSHD_USER=$me"
        echo "SSHD_USERS=\"$users\""
        echo "SSHD_PW_USER=$pw_user"
        echo "SSHD_NOPY_USER=$nopy_user"
    } >"$dir/env"
    cat "$dir/env"
    ;;
stop)
    if running; then
        pid=$(cat "$pidfile")
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -f "$pidfile"
    if [[ $(id -u) -eq 0 ]]; then
        instance_users "$dir"
        for u in "$pw_user" "$nopy_user"; do
            if id "$u" >/dev/null 2>&1; then
                pkill -KILL -u "$u" 2>/dev/null || true
                userdel -r "$u" 2>/dev/null || true
            fi
        done
    fi
    ;;
drop)
    if running; then pkill -KILL -P "$(cat "$pidfile")" 2>/dev/null || true; fi
    ;;
status)
    if running; then echo "sshd running in $dir (pid $(cat "$pidfile"))"; else echo "sshd not running in $dir"; exit 1; fi
    ;;
*)
    echo "usage: $0 start|stop|drop|status DIR [PORT]" >&2; exit 2
    ;;
esac
