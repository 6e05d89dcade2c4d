#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the Debian bookworm base images of containers/Dockerfile without any container registry:
#   spikeshard-base:bookworm-runtime  minbase + ca-certificates + Node.js >= 20 in /usr/local
#   spikeshard-base:bookworm-build    the same + g++, make, python3 (node-gyp builds the native addon with them)
#                                     and zlib1g-dev (the addon links -lz for .cbin chunks)
# The root filesystem comes from Debian's package mirror through debootstrap and is loaded with
# `docker import`.
#
# Node.js: Debian bookworm ships Node 18 and spikeshard needs Node >= 20, so Node is not taken
# from Debian. It is laid out in /usr/local as the official nodejs.org tarballs are (bin/node,
# include/node for node-gyp, lib/node_modules/npm), from one of:
#   NODE_TARBALL=/path/node-v20.x-linux-x64.tar.xz   an official nodejs.org tarball (or its .tar.gz);
#   unset: this machine's own Node (the `node` on PATH, its headers and the `npm` on PATH) is
#          copied into the same layout. Node's official and nodesource binaries need only
#          glibc >= 2.28, libstdc++ and libgcc, all in the bookworm base.
#
# Usage: containers/build-base.sh [--force]     (must run as root: debootstrap and chroot)
# Env: BASE_TAG (default spikeshard-base), DEBIAN_MIRROR (default http://deb.debian.org/debian),
#      HOST_CA_CERTS=0 (do not copy this machine's /usr/local/share/ca-certificates into the build image).
# Idempotent: existing images are kept unless --force.
set -euo pipefail

base_tag=${BASE_TAG:-spikeshard-base}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
runtime_image="$base_tag:$suite-runtime"
build_image="$base_tag:$suite-build"
force=0
[ "${1:-}" = --force ] && force=1

log() { echo "build-base: $*" >&2; }
die() {
  log "$*"
  exit 2
}

if [ "$force" = 0 ] && docker image inspect "$runtime_image" >/dev/null 2>&1 &&
  docker image inspect "$build_image" >/dev/null 2>&1; then
  log "$runtime_image and $build_image exist (use --force to rebuild)"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (run .ci/setup-docker.sh first)"

apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d /var/tmp/spikeshard-base.XXXXXX)
rootfs="$work/rootfs"
cleanup() {
  mountpoint -q "$rootfs/proc" 2>/dev/null && umount "$rootfs/proc"
  rm -rf "$work"
}
trap cleanup EXIT

# Node.js for the image, checked before the long debootstrap: a tarball in the official layout.
node_major() { "$1" --version | sed -E 's/^v([0-9]+).*/\1/'; }
if [ -n "${NODE_TARBALL:-}" ]; then
  [ -f "$NODE_TARBALL" ] || die "NODE_TARBALL=$NODE_TARBALL: no such file"
  node_tarball="$NODE_TARBALL"
  node_from="$NODE_TARBALL"
else
  host_node=$(readlink -f "$(command -v node)") || die "no node on PATH; set NODE_TARBALL (Node >= 20)"
  major=$(node_major "$host_node")
  [ "$major" -ge 20 ] || die "this machine's node ($host_node) is Node $major; expected >= 20 (set NODE_TARBALL)"
  node_prefix=$(dirname "$(dirname "$host_node")")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$node_prefix/include/node/node_api.h" ] || die "no Node headers in $node_prefix/include/node (node-gyp needs them)"
  [ -f "$npm_dir/package.json" ] || die "npm not found (looked in $npm_dir)"
  stage="$work/node"
  mkdir -p "$stage/bin" "$stage/include" "$stage/lib/node_modules"
  cp "$host_node" "$stage/bin/node"
  cp -r "$node_prefix/include/node" "$stage/include/node"
  cp -r "$npm_dir" "$stage/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"
  node_tarball="$work/node.tar"
  tar -C "$work" -cf "$node_tarball" node
  node_from="this machine's $("$host_node" --version) ($host_node) and npm $(npm --version 2>/dev/null)"
fi

log "debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed"
}
mount -t proc proc "$rootfs/proc"

log "installing Node.js from $node_from"
tar -xf "$node_tarball" -C "$rootfs/usr/local" --strip-components=1 --no-same-owner \
  --exclude='*/CHANGELOG.md' --exclude='*/README.md' --exclude='*/share/doc'
major=$(chroot "$rootfs" node --version | sed -E 's/^v([0-9]+).*/\1/')
[ "$major" -ge 20 ] || die "Node in the image is major version $major; expected >= 20"

# Flattens the root filesystem into an image; the kernel file systems are mounted at run time.
import_rootfs() { # image name, extra docker import options
  local image=$1
  shift
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/*
  tar -C "$rootfs" --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . |
    docker import \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/bash"]' "$@" \
      --message "debootstrap $suite minbase + Node.js from $node_from" \
      - "$image" >/dev/null
  log "imported $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
}
import_rootfs "$runtime_image"

log "adding the build toolchain (g++, make, python3 for node-gyp; zlib1g-dev for the addon's -lz)"
chroot "$rootfs" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq --no-install-recommends g++ make python3 zlib1g-dev >/dev/null
# The build stage fetches npm packages. Where this machine reaches the registry through a
# TLS-inspecting proxy, it trusts the proxy's CA from /usr/local/share/ca-certificates: the build
# image trusts the same CAs (HOST_CA_CERTS=0 leaves them out). The runtime image needs no network.
if [ "${HOST_CA_CERTS:-1}" = 1 ] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  log "adding this machine's local CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi
import_rootfs "$build_image" --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'

