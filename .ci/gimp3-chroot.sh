#!/usr/bin/env bash
# Provide GIMP 3 on a machine that has none (Debian 12 ships only GIMP 2.10 without Python):
# a Debian trixie chroot with gimp, python3-gi, gir1.2-gimp-3.0, python3-zmq, python3-numpy and
# xvfb, cached between runs, plus wrappers that run GIMP inside it.
#
# Usage (as root):
#   .ci/gimp3-chroot.sh ensure      build the chroot, or reuse the cached one when it still works;
#                                   prints the folder holding the wrappers (put it first on PATH)
#   .ci/gimp3-chroot.sh rebuild     throw the cached chroot away and build it again
#   .ci/gimp3-chroot.sh exec CMD..  run CMD inside the chroot (same as the wrappers do)
#
# Wrappers written to $NEURAL_STYLE_CI_CACHE/bin: chroot-run (runs any command inside), gimp-console-3.x,
# gimp-3.x, xvfb-run, python3-gimp
# (the chroot's python3, which has gi).
# Each run gets a private mount namespace (unshare), so proc, /dev, /tmp and the extra folders are
# mounted only for that run and vanish with it: nothing is left mounted, even after a kill.
# Inside, /tmp and every folder listed in GIMP_CHROOT_BINDS (colon-separated) appear at the same
# path as on the host, so file names passed to GIMP work unchanged. The chroot shares the host's
# network: GIMP inside reaches a daemon on the host's 127.0.0.1.
set -euo pipefail

CACHE="${NEURAL_STYLE_CI_CACHE:-/var/cache/neural-style-ci}"
# NEURAL_STYLE_CI_SUITE=sid gives GIMP 3.2 (Debian sid) in $CACHE/sid-gimp with wrappers in
# $CACHE/bin-sid, to check the plug-in on the newer minor version; CI uses trixie (GIMP 3.0).
SUITE="${NEURAL_STYLE_CI_SUITE:-trixie}"
ROOT="$CACHE/$SUITE-gimp"
if [ "$SUITE" = trixie ]; then BIN="$CACHE/bin"; else BIN="$CACHE/bin-$SUITE"; fi
# The Debian mirror: $DEBIAN_MIRROR, else the first Debian archive in this machine's own apt sources
# (deb822 *.sources "URIs:" lines or one-line "deb URI suite" entries). No host is written here.
host_debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")"
        [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { if ($i ~ /security/) next; print $i; exit } }' "$f")"
        [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
    done
    return 1
}
MIRROR="${DEBIAN_MIRROR:-$(host_debian_mirror || true)}"
# xvfb + xdotool: the GUI half of the real-GIMP test types Ctrl+Z into GIMP; x11-apps (xwd): screenshots
PACKAGES="gimp python3-gi gir1.2-gimp-3.0 python3-zmq python3-numpy xvfb xauth xdotool x11-apps fonts-dejavu-core"

log() { echo "[gimp3-chroot] $*" >&2; }

# Run a command inside ROOT (see write_runner) with proc, dev, /tmp and the GIMP_CHROOT_BINDS
# folders mounted in a private mount namespace.
chroot_exec() {
    write_runner
    CHROOT_ROOT="$ROOT" "$BIN/chroot-run" "$@"
}

# The versioned binaries: gimp-console-3.0 / gimp-3.0 on trixie, 3.2 on sid.
gimp_console_name() {
    local p
    for p in "$ROOT"/usr/bin/gimp-console-3.*; do
        [ -x "$p" ] && { basename "$p"; return 0; }
    done
    return 1
}

works() {
    local console
    console="$(gimp_console_name)" || return 1
    chroot_exec "$console" --version >/dev/null 2>&1 || return 1
    chroot_exec python3 -c 'import gi, zmq, numpy; gi.require_version("Gimp", "3.0")' >/dev/null 2>&1 \
        || return 1
    local exe
    for exe in xvfb-run xdotool xwd "${console/-console/}"; do
        [ -x "$ROOT/usr/bin/$exe" ] || return 1
    done
}

build() {
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap on the host"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local tmp="$ROOT.building"
    rm -rf --one-file-system "$tmp"
    mkdir -p "$CACHE"
    if [ -z "$MIRROR" ]; then
        log "no Debian mirror found in this machine's apt sources: set DEBIAN_MIRROR to one"
        return 1
    fi
    log "debootstrap $SUITE into $tmp from $MIRROR (a few minutes)"
    debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap-$SUITE.log" 2>&1 || {
        tail -n 30 "$CACHE/debootstrap-$SUITE.log" >&2
        log "debootstrap failed (full log: $CACHE/debootstrap-$SUITE.log)"
        return 1
    }
    cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
    log "installing $PACKAGES inside the chroot"
    ROOT="$tmp" chroot_exec sh -c "
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o Acquire::Check-Valid-Until=false update -qq &&
        apt-get install -y -qq --no-install-recommends $PACKAGES >/tmp/.gimp3-chroot-apt.log 2>&1 ||
        { tail -n 30 /tmp/.gimp3-chroot-apt.log; exit 1; }
        apt-get clean
        rm -f /tmp/.gimp3-chroot-apt.log
    "
    rm -rf --one-file-system "$ROOT"
    mv "$tmp" "$ROOT"
}

# The runner is self-contained (it does not depend on the clone that built the chroot): the
# wrappers call it, and it finds the chroot next to its own folder unless CHROOT_ROOT is set.
write_runner() {
    mkdir -p "$BIN"
    {
        echo '#!/usr/bin/env bash'
        echo "# Run a command inside the cached Debian $SUITE chroot (written by .ci/gimp3-chroot.sh)."
        echo "CHROOT_DEFAULT_ROOT='$ROOT'"
    } >"$BIN/chroot-run.new"
    cat >>"$BIN/chroot-run.new" <<'EOF'
# A private mount namespace holds proc, /dev, /tmp and the folders in GIMP_CHROOT_BINDS
# (colon-separated, same paths inside as outside); they vanish when the command ends.
set -e
ROOT="${CHROOT_ROOT:-$CHROOT_DEFAULT_ROOT}"
BINDS="/tmp${GIMP_CHROOT_BINDS:+:$GIMP_CHROOT_BINDS}"
export ROOT BINDS
exec unshare --mount --propagation private -- bash -c '
    set -e
    mount -t proc proc "$ROOT/proc"
    mount --rbind /dev "$ROOT/dev"
    IFS=:
    for d in $BINDS; do
        if [ -n "$d" ] && [ -d "$d" ]; then
            mkdir -p "$ROOT$d"
            mount --bind "$d" "$ROOT$d"
        fi
    done
    unset IFS
    here="$PWD"
    [ -d "$ROOT$here" ] || here=/tmp
    exec chroot "$ROOT" /usr/bin/env \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        sh -c "cd \"\$0\" && exec \"\$@\"" "$here" "$@"
' chroot-run "$@"
EOF
    chmod 755 "$BIN/chroot-run.new"
    mv -f "$BIN/chroot-run.new" "$BIN/chroot-run"
}

write_wrappers() {
    write_runner
    local pair name console
    console="$(gimp_console_name)"
    for pair in "$console:$console" "${console/-console/}:${console/-console/}" xvfb-run:xvfb-run python3-gimp:python3; do
        name="${pair%%:*}"
        printf '#!/bin/sh\n# %s inside the cached GIMP 3 chroot\nexec "$(dirname "$0")/chroot-run" %s "$@"\n' \
            "${pair#*:}" "${pair#*:}" >"$BIN/$name"
        chmod 755 "$BIN/$name"
    done
}

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, chroot, mount)"; exit 1; }

case "${1:-ensure}" in
    ensure)
        if works; then
            log "reusing the cached chroot $ROOT"
        else
            if [ -e "$ROOT" ]; then
                log "cached chroot $ROOT is missing or broken: rebuilding it"
            fi
            build
            works || { log "the new chroot does not run GIMP 3"; exit 1; }
        fi
        write_wrappers
        echo "$BIN"
        ;;
    rebuild)
        rm -rf --one-file-system "$ROOT"
        build
        works || { log "the new chroot does not run GIMP 3"; exit 1; }
        write_wrappers
        echo "$BIN"
        ;;
    exec)
        shift
        chroot_exec "$@"
        ;;
    *)
        sed -n '2,20p' "$0" >&2
        exit 2
        ;;
esac
