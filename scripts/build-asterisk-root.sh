#!/usr/bin/env bash
# Build (or reuse) the Debian sid chroot that holds Debian's Asterisk 22.
# Debian 12 packages no Asterisk; sid does. The chroot lives outside the clone
# (CI clones afresh) and is rebuilt only when missing or broken.
# Recipe and traps: ../shared/notes/asterisk.md.
set -euo pipefail

ROOT="${1:-${HOTLINE_CACHE_DIR:-/var/cache/hotline}/asterisk-root}"
STAMP="$ROOT/.hotline-ready"
MIRROR="${HOTLINE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

healthy() {
  [ -f "$STAMP" ] && [ -x "$ROOT/usr/sbin/asterisk" ] &&
    [ -f "$ROOT/usr/lib/x86_64-linux-gnu/asterisk/modules/chan_pjsip.so" ] &&
    [ -f "$ROOT/usr/lib/x86_64-linux-gnu/asterisk/modules/res_audiosocket.so" ] &&
    chroot "$ROOT" /usr/sbin/asterisk -V >/dev/null 2>&1
}

loopback_only() {
  # Asterisk and pjproject resolve the host name and root servers at start:
  # nothing may leave the machine, so resolution is loopback-only.
  echo "nameserver 127.0.0.1" > "$ROOT/etc/resolv.conf"
  {
    echo "127.0.0.1 localhost $(hostname)"
    echo "::1 localhost ip6-localhost ip6-loopback $(hostname)"
  } > "$ROOT/etc/hosts"
}

if healthy; then
  loopback_only
  echo "asterisk root ready: $ROOT ($(chroot "$ROOT" /usr/sbin/asterisk -V))"
  exit 0
fi

echo "building asterisk root in $ROOT (about a minute)"
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
rm -rf "$ROOT.tmp"
mkdir -p "$(dirname "$ROOT")"
debootstrap --variant=minbase --include=ca-certificates sid "$ROOT.tmp" "$MIRROR" >"$ROOT.tmp.log" 2>&1 ||
  { tail -20 "$ROOT.tmp.log"; exit 1; }
# Package scripts must not start daemons.
printf '#!/bin/sh\nexit 101\n' > "$ROOT.tmp/usr/sbin/policy-rc.d"
chmod +x "$ROOT.tmp/usr/sbin/policy-rc.d"
# The mirror's sid Release file can be past its Valid-Until.
chroot "$ROOT.tmp" apt-get -qq -o Acquire::Check-Valid-Until=false update
DEBIAN_FRONTEND=noninteractive chroot "$ROOT.tmp" apt-get -qq -y -o Acquire::Check-Valid-Until=false \
  install --no-install-recommends asterisk asterisk-modules asterisk-core-sounds-en >>"$ROOT.tmp.log" 2>&1 ||
  { tail -20 "$ROOT.tmp.log"; exit 1; }
chroot "$ROOT.tmp" apt-get clean
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
rm -f "$ROOT.tmp.log"
loopback_only
mkdir -p "$ROOT/inst"
touch "$STAMP"
echo "asterisk root built: $ROOT ($(chroot "$ROOT" /usr/sbin/asterisk -V))"
