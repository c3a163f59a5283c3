#!/usr/bin/env bash
# SPEC "Safety" / issue 11 item 4: a file under a final name is always
# whole. The exit meets a collector still writing a snapshot: the main
# thread gives up waiting for the collector after 3 s and writes the exit
# snapshot itself. Snapshot writes are serialized and the seq claimed under
# the lock, so the exit snapshot waits for the collector's file and takes
# the next seq; before, both wrote the same seq through the same temp
# name. The slow disk is tests/programs/libsec_slowdisk.so (the
# collector's first write into a temp file stalls 5 s). Root and nobody.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
cp "$TEST_PROGS/libsec_slowdisk.so" "$PUB/"
chmod 0755 "$PUB/libsec_slowdisk.so"

for user in root nobody; do
    out=$PUB/out-$user
    mkdir -m 0700 "$out"
    chown "$user" "$out"
    t0=$(date +%s%N)
    as_user "$user" env LD_PRELOAD="$SHIM:$PUB/libsec_slowdisk.so" MEMPROF_OUT="$out" \
        MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
        perl -e 'my @keep = map { "x" x 1000 } 1 .. 5000; kill "USR2", $$;
                 select(undef, undef, undef, 0.5); exit 0' 2>"$WORK/$user.err" ||
        fail "$user: the program failed"
    ms=$((($(date +%s%N) - t0) / 1000000))
    mapfile -t files < <(snapshots "$out")
    [[ ${#files[@]} -eq 2 && ${files[0]} == *.0001.mprof && ${files[1]} == *.0002.mprof ]] ||
        fail "$user: expected seq 1 (signal) and 2 (exit): $(ls -la "$out")"
    # Whole: each reads back (to a file: grep -q on a pipe would cut the
    # report short, and pipefail would blame it).
    for i in 0 1; do
        "$BIN" report --json "${files[i]}" >"$WORK/$user.$i.json" || fail "$user: ${files[i]} is not whole"
    done
    grep -q '"trigger": *"signal"' "$WORK/$user.0.json" || fail "$user: seq 1 is not the signal's"
    grep -q '"trigger": *"exit"' "$WORK/$user.1.json" || fail "$user: seq 2 is not the exit's"
    [[ $ms -ge 4500 ]] || fail "$user: the exit did not meet the stalled collector (took $ms ms)"
    [[ -z $(find "$out" -name '*.tmp') ]] || fail "$user: a temp file was left"
    ! grep -q '^memprof:' "$WORK/$user.err" || fail "$user: $(cat "$WORK/$user.err")"
    echo "$user: exit after $ms ms, both snapshots whole: $(basename -a "${files[@]}" | tr '\n' ' ')"
done
echo "ok: the exit snapshot waits for the collector's write and takes the next seq"
