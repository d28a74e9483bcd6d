#!/bin/sh
# Runs "$@" and fails unless it succeeds and its output (stdout and
# stderr) contains the extended regular expression $1.
pattern=$1
shift
out=$("$@" 2>&1)
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || exit "$status"
printf '%s\n' "$out" | grep -Eq "$pattern" || { echo "expected /$pattern/ in the output" >&2; exit 1; }
