#!/bin/sh
# install-deps.sh - installs the Debian packages luatrain builds and tests
# with, only those missing (apt-get; needs root or sudo).
set -e
PKGS="build-essential pkg-config lua5.4 liblua5.4-dev lua-busted lua-check \
libopenblas-dev libopenblas-openmp-dev zlib1g-dev libjansson-dev libreadline-dev \
dataset-fashion-mnist fortunes python3"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "install-deps: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
