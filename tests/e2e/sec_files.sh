#!/usr/bin/env bash
# SPEC "Safety": snapshot files are created with the process's own
# credentials, mode 0600, never through a symlink and never into a file
# that already exists; a taken final name is never replaced (the next free
# seq is taken); a directory that another user owns, or that others can
# write without the sticky bit, is refused with one `memprof:` line;
# directories the shim creates are 0700; the analyzer says when it reads
# another user's snapshot from a directory others can write (it may have
# been planted under a victim's name). With the kernel's own defences off
# (fs.protected_symlinks=0, protected_regular=0), for a root process
# attacked by nobody and a nobody process attacked by daemon.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
sec_attack_sysctls

# start_victim USER DIR: a program sleeping 1 s as USER under the shim
# writing into DIR; sets $pid. Its only snapshot is the exit one. perl, not
# sleep: coreutils close stderr at exit, before the shim could say a word.
start_victim() {
    as_user_argv "$1"
    "${AS_USER[@]}" env LD_PRELOAD="$SHIM" MEMPROF_OUT="$2" MEMPROF_INTERVAL=0 perl -e "sleep 1" \
        2>"$WORK/victim.err" &
    pid=$!
}

# refused USER DIR WHAT: the process writes nothing into DIR, says WHAT
# in exactly one `memprof:` line and exits 0 all the same.
refused() {
    local user=$1 dir=$2 what=$3 before
    listing() { { ls -A "$1" 2>/dev/null || :; } | sort | tr '\n' ' '; }
    before=$(listing "$dir")
    start_victim "$user" "$dir"
    wait $pid || fail "$user: the program failed with a refused directory"
    [[ $(listing "$dir") == "$before" ]] ||
        fail "$user: something was written into refused $dir: $(ls -A "$dir")"
    [[ $(grep -c '^memprof: ' "$WORK/victim.err") -eq 1 ]] && grep -q "$what" "$WORK/victim.err" ||
        fail "$user: expected one line saying '$what': $(cat "$WORK/victim.err")"
    echo "  $user refused $dir: $(cat "$WORK/victim.err")"
}

one_pair() {
    local v=$1 a=$2 base=$PUB/$1
    mkdir -m 0700 "$base"
    chown "$v:$(id -g "$v")" "$base"
    # The victim's precious file, and the attacker's playground: a shared
    # sticky directory like /tmp.
    echo precious >"$base/important"
    chmod 0600 "$base/important"
    chown "$v:$(id -g "$v")" "$base/important"
    local sum shared=$PUB/shared-$v
    sum=$(md5sum <"$base/important")
    mkdir -m 1777 "$shared"

    # 1. Planted names in a sticky shared directory: the old predictable
    # temp names and the first final name as symlinks to the precious
    # file, the second final name pre-created world-writable. The snapshot
    # lands under the third seq, the victim's own, 0600, whole; nothing
    # planted is followed, reused or replaced.
    start_victim "$v" "$shared"
    local s
    for s in 0001 0002 0003; do
        as_user "$a" ln -s "$base/important" "$shared/.perl.$pid.$s.mprof.tmp"
    done
    as_user "$a" ln -s "$base/important" "$shared/perl.$pid.0001.mprof"
    as_user "$a" touch "$shared/perl.$pid.0002.mprof"
    as_user "$a" chmod 0666 "$shared/perl.$pid.0002.mprof"
    wait $pid || fail "$v: the attacked program failed"
    [[ $(md5sum <"$base/important") == "$sum" ]] || fail "$v: the precious file was written through a symlink"
    [[ -L $shared/perl.$pid.0001.mprof && ! -s $shared/perl.$pid.0002.mprof &&
        $(stat -c %U "$shared/perl.$pid.0002.mprof") == "$a" ]] ||
        fail "$v: a planted name was replaced or reused: $(ls -la "$shared")"
    local got=$shared/perl.$pid.0003.mprof
    [[ -f $got && ! -L $got ]] || fail "$v: no snapshot under the next free seq: $(ls -la "$shared")"
    [[ $(stat -c '%U %a' "$got") == "$v 600" ]] || fail "$v: snapshot is $(stat -c '%U %a' "$got")"
    "$BIN" report "$got" >/dev/null || fail "$v: the snapshot does not read back"
    [[ -z $(find "$shared" -name '*.tmp' -user "$v") ]] || fail "$v: a temp file was left"
    ! grep -q '^memprof: ' "$WORK/victim.err" || fail "$v: warned: $(cat "$WORK/victim.err")"
    echo "  $v: planted names skipped, wrote $(basename "$got")"

    # 2. A group/world-writable directory without the sticky bit.
    mkdir -m 0777 "$base/open"
    chown "$v" "$base/open"
    chmod 0777 "$base/open"
    refused "$v" "$base/open" "writable by other users"
    # 3. A directory another user owns.
    mkdir -m 0755 "$shared/theirs"
    chown "$a" "$shared/theirs"
    refused "$v" "$shared/theirs" "belongs to uid $(id -u "$a")"
    # 3b. root's directory this user may not search: the reason is the
    # kernel's, not a name "taken meanwhile".
    if [[ $v != root ]]; then
        mkdir -m 0700 "$shared/rootonly"
        refused "$v" "$shared/rootonly" "Permission denied"
    fi
    # 4. A symlink planted by another user in the path.
    as_user "$a" ln -s "$base" "$shared/link"
    refused "$v" "$shared/link/sub" "symlink owned by another user"
    [[ ! -e $base/sub ]] || fail "$v: created a directory through another user's symlink"
    # 5. Missing directories are created 0700, the file 0600.
    start_victim "$v" "$base/new/deeper"
    wait $pid
    [[ $(stat -c %a "$base/new") == 700 && $(stat -c %a "$base/new/deeper") == 700 ]] ||
        fail "$v: created directories are $(stat -c %a "$base/new" "$base/new/deeper")"
    [[ $(stat -c %a "$base/new/deeper/perl.$pid.0001.mprof") == 600 ]] || fail "$v: file mode"

    # 6. A re-exec under the same pid and name (exec -a keeps argv[0])
    # never replaces the earlier program's snapshots: bash writes seq 1 on
    # the signal and seq 2 before its exec (exact sampling: it has recorded
    # something), the exec'd image its exit snapshot under seq 3.
    mkdir -m 0700 "$base/reexec"
    chown "$v" "$base/reexec"
    as_user_argv "$v"
    "${AS_USER[@]}" env LD_PRELOAD="$SHIM" MEMPROF_OUT="$base/reexec" MEMPROF_INTERVAL=0 \
        MEMPROF_SAMPLE=1 MEMPROF_SIGNAL=USR2 bash -c 'kill -USR2 $$; for i in $(seq 100); do
            [[ -e '"$base/reexec"'/bash.$$.0001.mprof ]] && break; read -t 0.05 <> <(:) || :; done
            exec -a bash sleep 0.1' 2>"$WORK/victim.err" &
    pid=$!
    local first=$base/reexec/bash.$pid.0001.mprof sum1
    for _ in $(seq 100); do [[ -e $first ]] && break; sleep 0.05; done
    sum1=$(md5sum <"$first")
    wait $pid
    [[ $(md5sum <"$first") == "$sum1" ]] || fail "$v: the re-exec replaced the first program's file"
    local seq trigger
    for seq in 2 3; do
        [[ -f $base/reexec/bash.$pid.000$seq.mprof ]] ||
            fail "$v: no bash.$pid.000$seq.mprof: $(ls "$base/reexec")"
        "$BIN" report --json "$base/reexec/bash.$pid.000$seq.mprof" >"$WORK/reexec$seq.json"
    done
    grep -q '"trigger": *"exec"' "$WORK/reexec2.json" && ! grep -aq 'bin/sleep' "$base/reexec/bash.$pid.0002.mprof" ||
        fail "$v: seq 2 is not bash's snapshot before its exec"
    grep -q '"trigger": *"exit"' "$WORK/reexec3.json" && grep -aq 'bin/sleep' "$base/reexec/bash.$pid.0003.mprof" ||
        fail "$v: seq 3 is not the exec'd sleep's exit snapshot"
    echo "  $v: re-exec kept bash.$pid.0001 and .0002 (exec), sleep wrote bash.$pid.0003"
}

one_pair root nobody
one_pair nobody daemon

# A snapshot planted in a shared sticky directory under a victim's name:
# reading another user's file from a directory others can write is said
# (root's file and one's own are not). nobody plants; root and daemon read.
shared=$(mktemp -d /tmp/memprof-shared.XXXXXX)
chmod 1777 "$shared"
sec_cleanup_add "rm -rf '$shared'"
as_user nobody env LD_PRELOAD="$SHIM" MEMPROF_OUT="$shared" MEMPROF_INTERVAL=0 perl -e 1 ||
    fail "nobody's program failed"
planted=$(ls "$shared"/perl.*.mprof)
as_user nobody cp "$planted" "$shared/perl.123456.0001.mprof"
as_user nobody chmod 0644 "$shared/perl.123456.0001.mprof"
env LD_PRELOAD="$SHIM" MEMPROF_OUT="$shared" MEMPROF_INTERVAL=0 perl -e 1 || fail "root's program failed"
own=$(find "$shared" -maxdepth 1 -name 'perl.*.mprof' -user 0 | head -1)
[[ -n $own ]] || fail "root's snapshot is missing in $shared"
for who in root daemon; do
    f=$planted
    [[ $who == daemon ]] && f=$shared/perl.123456.0001.mprof
    rc=0
    as_user $who "$BIN" report "$f" >/dev/null 2>"$WORK/planted.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "$who reading nobody's snapshot: status $rc: $(cat "$WORK/planted.err")"
    grep -q "^memprof: warning: .* belongs to uid $(id -u nobody), in $shared, which other users can write" \
        "$WORK/planted.err" || fail "$who read nobody's snapshot in $shared without a word: $(cat "$WORK/planted.err")"
done
"$BIN" report "$own" >/dev/null 2>"$WORK/own.err" || fail "root reading its own snapshot failed"
[[ ! -s $WORK/own.err ]] || fail "root's own snapshot was warned of: $(cat "$WORK/own.err")"
echo "  a snapshot of another user's in a shared sticky directory is said to be one"
echo "ok: snapshot files never through symlinks, never replaced, refused directories said"
