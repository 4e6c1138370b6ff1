#!/bin/sh
# The mm quick start (docs/mm.md): one `omirr mm` run of this example, from any directory.
# Its home (mm.status, logs/, mirrors/) is a state directory, never this checkout:
#   $OMIRR_EXAMPLE_HOME, else ${XDG_STATE_HOME:-$HOME/.local/state}/omirr/mm-example
# The input (mm.in), the package files (packages/) and the source trees (upstream/) are
# copied there before each run. Arguments are mm flags (-t, -debug, -s, ...).
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
home=${OMIRR_EXAMPLE_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/omirr/mm-example}
mkdir -p "$home"
cp -R "$here/mm.in" "$here/packages" "$here/upstream" "$home/"
echo "home: $home"
cd "$home"
# The omirr of this checkout or installed package (bin/omirr.js), else the one on PATH.
bin=$here/../../bin/omirr.js
if [ -f "$bin" ]; then exec "${NODE:-node}" "$bin" mm "$@" mm.in; fi
exec omirr mm "$@" mm.in
