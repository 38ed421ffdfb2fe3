#!/bin/sh
# Installs a Stavily release archive on Linux or macOS:
#
#   sh install.sh [options] [ARCHIVE]
#
# ARCHIVE is stavily-<version>-<os>-<arch>.tar.gz (default: the one for this machine next to this
# script). Its SHA-256 must match its line in SHA256SUMS beside it, or nothing is installed. Then:
#   <prefix>/bin/stavily                    the executable (replaced atomically)
#   /etc/stavily/{sensor,action}.yaml       example configs, never overwriting existing ones
#   /var/lib/stavily                        agent homes (owned by the stavily user, mode 0750)
#   the stavily system user and group       when missing and run as root
#
# Options:
#   --prefix DIR   install the executable into DIR/bin (default /usr/local)
#   --root DIR     install under DIR as if it were / (packaging, tests); creates no user, chowns nothing
#   --no-user      do not create the stavily user and group
#   -h, --help     print this help
#
# Exit status: 0 installed, 1 failed (checksum mismatch, missing tool, …), 2 usage error.
set -eu

PREFIX=/usr/local
ROOT=
CREATE_USER=1
ARCHIVE=
USER_NAME=stavily

say() { printf 'stavily install: %s\n' "$*"; }
die() { printf 'stavily install: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'; }
usage_error() { printf 'stavily install: %s\nrun "sh %s --help" for usage\n' "$*" "$0" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage_error "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --root) [ $# -ge 2 ] || usage_error "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --no-user) CREATE_USER=0; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) [ -z "$ARCHIVE" ] || usage_error "one archive at a time"; ARCHIVE=$1; shift ;;
  esac
done
case "$PREFIX" in /*) ;; *) usage_error "--prefix must be an absolute path, got $PREFIX" ;; esac
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT" || die "cannot create --root $ROOT"
  ROOT=$(cd "$ROOT" && pwd)
fi

# ---- which archive -------------------------------------------------------------------------------
if [ -z "$ARCHIVE" ]; then
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no release for $(uname -s); name the archive" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no release for $(uname -m); name the archive" ;;
  esac
  here=$(cd "$(dirname "$0")" && pwd)
  for candidate in "$here"/stavily-*-"$os-$arch".tar.gz; do
    [ -e "$candidate" ] || die "no stavily-<version>-$os-$arch.tar.gz next to $0; name the archive"
    [ -z "$ARCHIVE" ] || die "more than one stavily-*-$os-$arch.tar.gz in $here; name the archive"
    ARCHIVE=$candidate
  done
fi
[ -f "$ARCHIVE" ] || die "$ARCHIVE: no such file"
name=$(basename "$ARCHIVE")
case "$name" in
  stavily-*.tar.gz) top=${name%.tar.gz} ;;
  stavily-*.zip) die "$name is the Windows archive; unzip it and run stavily.exe" ;;
  *) die "$name is not a stavily-<version>-<os>-<arch>.tar.gz archive" ;;
esac

# ---- verify --------------------------------------------------------------------------------------
sums="$(dirname "$ARCHIVE")/SHA256SUMS"
[ -f "$sums" ] || die "$sums is missing: download it with the archive (the archive is not installed unverified)"
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$ARCHIVE" | cut -d ' ' -f 1)
elif command -v shasum >/dev/null 2>&1; then
  actual=$(shasum -a 256 "$ARCHIVE" | cut -d ' ' -f 1)
else
  die "neither sha256sum nor shasum is installed: cannot verify $name"
fi
expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$sums")
[ -n "$expected" ] || die "$sums has no line for $name"
[ "$actual" = "$expected" ] || die "checksum mismatch for $name: SHA256SUMS says $expected, the file is $actual (corrupt or tampered download); nothing was installed"
say "verified $name ($actual)"

# ---- extract -------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/stavily-install.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM
tar -xzf "$ARCHIVE" -C "$work" || die "cannot extract $name"
src="$work/$top"
[ -f "$src/stavily" ] || die "$name holds no $top/stavily"

# ---- user and group ------------------------------------------------------------------------------
owner=
if [ "$CREATE_USER" = 0 ]; then
  say "--no-user: not creating the $USER_NAME user"
elif [ -n "$ROOT" ]; then
  say "--root: not creating the $USER_NAME user (create it on the target system)"
elif [ "$(id -u)" != 0 ]; then
  say "not root: skipping the $USER_NAME user and group (run as root, or create them yourself)"
elif id "$USER_NAME" >/dev/null 2>&1; then
  owner=$USER_NAME
else
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  if command -v useradd >/dev/null 2>&1; then
    getent group "$USER_NAME" >/dev/null 2>&1 || groupadd --system "$USER_NAME" || die "groupadd $USER_NAME failed"
    useradd --system --gid "$USER_NAME" --home-dir /var/lib/stavily --no-create-home --shell "$nologin" "$USER_NAME" || die "useradd $USER_NAME failed"
  elif command -v adduser >/dev/null 2>&1 && command -v addgroup >/dev/null 2>&1; then
    # BusyBox (Alpine).
    addgroup -S "$USER_NAME" 2>/dev/null || true
    adduser -S -D -H -h /var/lib/stavily -s "$nologin" -G "$USER_NAME" "$USER_NAME" || die "adduser $USER_NAME failed"
  else
    die "neither useradd nor adduser is available: create the $USER_NAME user yourself, or pass --no-user"
  fi
  say "created system user and group $USER_NAME"
  owner=$USER_NAME
fi

# ---- files ---------------------------------------------------------------------------------------
bindir="$ROOT$PREFIX/bin"
mkdir -p "$bindir" || die "cannot create $bindir"
# Copied under a temporary name, then renamed: a running agent keeps its (old) executable.
new="$bindir/.stavily.new.$$"
if ! { cp "$src/stavily" "$new" && chmod 0755 "$new" && mv -f "$new" "$bindir/stavily"; }; then
  rm -f "$new"
  die "cannot install $bindir/stavily"
fi
say "installed $bindir/stavily"

etc="$ROOT/etc/stavily"
state="$ROOT/var/lib/stavily"
mkdir -p "$etc" "$state" || die "cannot create $etc or $state"
# Configs: readable by the agent's group, writable by root only. State: the agent's alone.
chmod 0750 "$etc" "$state"
if [ -n "$owner" ]; then
  chown "root:$USER_NAME" "$etc"
  chown "$USER_NAME:$USER_NAME" "$state"
fi
for config in sensor.yaml action.yaml; do
  if [ -e "$etc/$config" ]; then
    say "kept existing $etc/$config"
    continue
  fi
  if ! { cp "$src/config/$config" "$etc/$config" && chmod 0640 "$etc/$config"; }; then
    die "cannot write $etc/$config"
  fi
  [ -z "$owner" ] || chown "root:$USER_NAME" "$etc/$config"
  say "wrote $etc/$config"
done

say "done: $("$bindir/stavily" version 2>/dev/null | head -n 1 || echo "$bindir/stavily")"
say "next: edit $etc/<sensor|action>.yaml, then: $PREFIX/bin/stavily config validate -c /etc/stavily/sensor.yaml"
