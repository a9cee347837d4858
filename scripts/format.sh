#!/bin/sh
# format.sh [--check]: clang-format (the style in .clang-format) over every C source and
# header of the tree. Without an option it rewrites the files that differ; with --check it
# changes nothing, prints each file that differs and exits 1 if there is one.
set -eu
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
--check) check=true ;;
"") ;;
*)
    echo "usage: scripts/format.sh [--check]" >&2
    exit 2
    ;;
esac

if ! command -v clang-format >/dev/null 2>&1; then
    echo "format: clang-format is missing (scripts/install-deps.sh installs it)" >&2
    exit 2
fi
# The style is tuned against Debian 12's clang-format 14; another version may lay out a few
# constructs differently.
version=$(clang-format --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$version" = 14 ] || echo "format: clang-format $version, not 14: results may differ" >&2

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files -- '*.c' '*.h')
else
    files=$(find src tests bench -name '*.[ch]' | sort)
fi

differ=0
for f in $files; do
    [ -f "$f" ] || continue
    if $check; then
        if ! clang-format --style=file "$f" | cmp -s "$f" -; then
            echo "$f"
            differ=$((differ + 1))
        fi
    else
        clang-format --style=file -i "$f"
    fi
done
if $check && [ "$differ" -gt 0 ]; then
    echo "format: $differ file(s) differ from clang-format; scripts/format.sh rewrites them" >&2
    exit 1
fi
exit 0
