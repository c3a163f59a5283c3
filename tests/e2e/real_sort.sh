#!/usr/bin/env bash
# sort --parallel=2 on 400k lines, in memory and with a small buffer that
# forces temporary files and merges, with and without the shim.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

prepare() {
    seq 1 400000 | awk '{ printf "%d %x\n", ($1 * 7919) % 400009, $1 }' >data
}
real_run sort 90 prepare -- bash -c 'sort --parallel=2 -k1,1n -k2 data | sha256sum && sort --parallel=2 -S 2M -T . -r data | sha256sum && sort --parallel=2 -u -k1,1n data | wc -l'
