#!/bin/sh
# Install packaging/omirr.service for the omirr installed here: ExecStart names that omirr
# (and the node that runs it) by absolute path, so the unit works wherever npm put them
# (a global prefix, nvm), not only where systemd's own PATH looks (/usr/local/bin, /usr/bin).
#
# Usage: install-unit.sh [UNIT_DIR]          (default /etc/systemd/system)
#   OMIRR=/path/to/omirr NODE=/path/to/node  instead of `command -v omirr` / `command -v node`
# As root with a user's node (sudo resets PATH): sudo env PATH="$PATH" sh install-unit.sh
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
dest=${1:-/etc/systemd/system}
omirr=${OMIRR:-$(command -v omirr || true)}
node=${NODE:-$(command -v node || true)}
if [ -z "$omirr" ] || [ -z "$node" ]; then
  echo "install-unit.sh: omirr and node must be on PATH (install omirr with npm install -g), or set OMIRR= and NODE=" >&2
  exit 1
fi
# omirr is a node script (#!/usr/bin/env node) behind a symlink: name the script and node.
bin=$(readlink -f -- "$omirr")
node=$(readlink -f -- "$node")
case "$bin$node" in *'|'* | *'&'* | *'\'*)
  echo "install-unit.sh: cannot write a path with | & or \\ into the unit: $bin $node" >&2
  exit 1
esac
mkdir -p -- "$dest"
sed "s|^ExecStart=/usr/bin/env omirr |ExecStart=$node $bin |" "$here/omirr.service" > "$dest/omirr.service.tmp"
grep -q "^ExecStart=$node $bin " "$dest/omirr.service.tmp" || {
  rm -f -- "$dest/omirr.service.tmp"
  echo "install-unit.sh: $here/omirr.service has no 'ExecStart=/usr/bin/env omirr' line" >&2
  exit 1
}
mv -- "$dest/omirr.service.tmp" "$dest/omirr.service"
echo "installed $dest/omirr.service: ExecStart=$node $bin daemon -c /etc/omirr/omirr.conf"
echo "next: systemctl daemon-reload && systemctl enable --now omirr"
