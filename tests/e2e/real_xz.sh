#!/usr/bin/env bash
# xz -T2 compressing and decompressing with two worker threads (small blocks
# so both threads work), with and without the shim; the compressed stream is
# deterministic, so its checksum is part of the compared output.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v xz >/dev/null || fail "no xz (run scripts/setup)"

prepare() {
    seq 1 700000 | sed 's/$/ lorem ipsum dolor/' >data
}
real_run xz 90 prepare -- bash -c 'xz -T2 -3 --block-size=512KiB -k data && sha256sum data.xz && xz -T2 -d -c data.xz | sha256sum && sha256sum data'
