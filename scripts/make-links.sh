#!/bin/sh
# make-links.sh DIR TARGET NAME...: symlinks DIR/NAME -> TARGET for each NAME.
set -eu
dir=$1 target=$2
shift 2
for name in "$@"; do
    ln -sfn "$target" "$dir/$name"
done
