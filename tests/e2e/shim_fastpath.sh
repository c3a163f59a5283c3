#!/usr/bin/env bash
# The unsampled malloc and free and the uncontended mutex lock and unlock
# of the built shim are no longer than README says (plus a little), and
# the check does fail on a long one (a planted library whose malloc works).
source "$(dirname "$0")/common.sh"
ROOT=$(cd "$E2E_DIR/../.." && pwd)

"$ROOT/scripts/check-fastpaths" "$MEMPROF_SHIM" > "$WORK/fast.txt" 2>&1 ||
    fail "a fast path grew: $(cat "$WORK/fast.txt")"
cat "$WORK/fast.txt"
[[ $(grep -c ' instructions ' "$WORK/fast.txt") -eq 4 ]] || fail "not four fast paths counted"

cat > "$WORK/slow.c" <<'C'
#include <stddef.h>
#include <pthread.h>
static char arena[1 << 16];
static size_t used;
void *malloc(size_t n) { for (size_t i = 0; i < n; i++) arena[(used + i) & 0xffff] = (char)i; used += n; return arena; }
void free(void *p) { (void)p; }
int pthread_mutex_lock(pthread_mutex_t *m) { (void)m; return 0; }
int pthread_mutex_unlock(pthread_mutex_t *m) { (void)m; return 0; }
C
cc -O1 -shared -fPIC -o "$WORK/libslow.so" "$WORK/slow.c" || fail "cannot build the planted library"
if "$ROOT/scripts/check-fastpaths" "$WORK/libslow.so" > "$WORK/slow.txt" 2>&1; then
    fail "check-fastpaths passed a malloc that loops: $(cat "$WORK/slow.txt")"
fi
grep -q '^malloc .*TOO LONG' "$WORK/slow.txt" || fail "the long malloc was not named: $(cat "$WORK/slow.txt")"
echo "ok"
