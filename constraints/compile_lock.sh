#!/usr/bin/env bash
# Writes constraints/lock.txt: every package of the dev environment (pyproject.toml with the
# `dev` extra) for Linux x86_64 and Python 3.11, pinned exactly, torch at constraints/torch.txt.
#
#   constraints/compile_lock.sh            # after editing pyproject.toml: keeps today's pins
#                                          # wherever they still satisfy it (uv prefers them)
#   constraints/compile_lock.sh --upgrade  # newest releases inside pyproject's ranges
#   constraints/compile_lock.sh --check    # exit 1 if the lock does not match pyproject.toml
#
# PyPI's torch is the CUDA build and pulls in nvidia-*, cuda-* and triton; the CPU wheel does
# not. The lock leaves them out (found in a first pass, excluded in the second), so CPU
# machines install exactly the lock, and a GPU machine gets them from torch's own metadata
# (mostly == pins) when it installs the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
LOCK=constraints/lock.txt
mode=${1:-}
case "$mode" in "" | --upgrade | --check) ;; *) echo "usage: $0 [--upgrade|--check]" >&2; exit 2 ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
compile() {
    "$UV" pip compile pyproject.toml --extra dev --python-version 3.11 \
        --python-platform x86_64-unknown-linux-gnu -c constraints/torch.txt \
        --custom-compile-command "make lock" --quiet "$@"
}
upgrade=()
[ "$mode" = --upgrade ] && upgrade=(--upgrade)
# `-o FILE` makes uv keep the pins already in FILE: start both passes from the current lock.
[ -f "$LOCK" ] && cp "$LOCK" "$tmp/with-cuda.txt" && cp "$LOCK" "$tmp/lock.txt"
compile "${upgrade[@]}" -o "$tmp/with-cuda.txt"
grep -oE '^(nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+|triton)==' "$tmp/with-cuda.txt" | sed 's/==$//' \
    > "$tmp/cuda-only.txt" || true
compile "${upgrade[@]}" --excludes "$tmp/cuda-only.txt" -o "$tmp/lock.txt"

if [ "$mode" = --check ]; then
    if ! diff -u "$LOCK" "$tmp/lock.txt"; then
        echo "$LOCK does not match pyproject.toml: run 'make lock' and commit it" >&2
        exit 1
    fi
    echo "$LOCK matches pyproject.toml"
else
    cp "$tmp/lock.txt" "$LOCK"
    echo "wrote $LOCK ($(grep -c '^[a-zA-Z]' "$LOCK") packages)"
fi
