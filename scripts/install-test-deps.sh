#!/bin/sh
# Installs what the end-to-end tests need and a fresh machine lacks: a static
# busybox to build test root filesystems from (Debian's busybox-static).
set -eu
if command -v busybox >/dev/null 2>&1 && busybox --list >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: busybox is missing; install Debian's busybox-static (as root: apt-get install busybox-static)" >&2
  exit 1
fi
echo "install-test-deps: installing busybox-static" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq busybox-static >/dev/null
