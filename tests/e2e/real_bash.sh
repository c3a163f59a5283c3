#!/usr/bin/env bash
# A bash pipeline with subshells, command and process substitution and
# coreutils (every stage a process under the shim), with and without it.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

real_run bash 60 -- bash -c '
    set -o pipefail
    seq 1 200000 | grep 7 | tr 7 x | sort -r | uniq -c | sort -n | tail -n 3
    n=$(seq 1 5000 | wc -l); echo "count $n"
    paste <(seq 1 3) <(seq 4 6) | while read -r a b; do echo $((a * b)); done
    ( cd / && ls -d tmp ) ; { echo a; echo b; } | cat -n
    arr=(); for i in $(seq 1 2000); do arr+=("x$i"); done; echo "${#arr[@]} ${arr[1999]}"'
