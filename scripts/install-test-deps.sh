#!/bin/sh
# Installs what the end-to-end tests need and a fresh machine may lack:
# a static busybox to build test root filesystems from (Debian's
# busybox-static), and a C compiler with static glibc for the small test
# programs in test/fixtures (gcc, libc6-dev), the compressors the image
# tests pack root filesystems with (xz-utils, zstd, bzip2), and libseccomp's
# headers and static library for the container environments of test/env
# (libseccomp-dev; setpriv and unshare come with util-linux). build.ts
# needs gcc and libc6-dev too, and installs them the same way when missing.
set -eu
missing=""
if ! busybox --list >/dev/null 2>&1; then missing="$missing busybox-static"; fi
if ! command -v cc >/dev/null 2>&1; then missing="$missing gcc"; fi
for tool in xz:xz-utils zstd:zstd bzip2:bzip2; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ] && [ ! -e /usr/lib/aarch64-linux-gnu/libc.a ]; then missing="$missing libc6-dev"; fi
if [ ! -e /usr/include/seccomp.h ]; then missing="$missing libseccomp-dev"; fi
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing:$missing; install these Debian packages as root" >&2
  exit 1
fi
echo "install-test-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
