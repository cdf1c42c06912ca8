#!/bin/sh
# Installs the system tools the network-namespace tests use (iproute2, nftables).
# Only acts when they are missing and we are root (CI runs as root); otherwise it says
# what is missing and the netns tests report themselves as skipped outside CI.
set -eu
missing=""
command -v ip  >/dev/null 2>&1 || missing="$missing iproute2"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing </dev/null >/dev/null
else
    echo "note: missing$missing (needs root to install); netns tests will not run here"
fi
