#!/usr/bin/env bash
# Fork children of an attached process, forked while another thread holds
# the loader's list lock (dl_iterate_phdr with a slow callback, as a
# symbolizer or an unwinder does; the program's own fork handler makes
# sure it is held): glibc's fork does not reset that lock, so the child
# must never call dl_iterate_phdr. Each child calls dlopen
# of a library already loaded (which works there, and reaches the shim's
# dlopen hook through its patched GOT slot) and leaks; it must end within
# its alarm and leave an exit snapshot naming the leak's function.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

cat >"$WORK/forker.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static _Atomic int want, inside;
static void nap(long ns)
{
    struct timespec t = {0, ns};
    nanosleep(&t, NULL);
}
static int slow(struct dl_phdr_info *i, size_t s, void *a)
{
    (void)i, (void)s, (void)a;
    inside = 1;
    nap(200000000);   /* the fork happens meanwhile */
    return 1;
}
static void *walker(void *arg)
{
    (void)arg;
    for (;;) {
        while (!want)
            nap(100000);
        want = 0;
        dl_iterate_phdr(slow, NULL);
    }
    return NULL;
}
/* Registered before the attach, so it runs after the shim's prepare
 * handler (they run newest first): the walker takes the loader's list
 * lock after anything the shim does before a fork, and holds it across. */
static void prepare(void)
{
    inside = 0;
    want = 1;
    while (!inside)
        nap(100000);
}
__attribute__((noinline)) static void child_leak(void)
{
    for (int i = 0; i < 256; i++) {
        volatile char *p = malloc(65536);
        p[0] = 1;
    }
}
int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, walker, NULL);
    pthread_atfork(prepare, NULL, NULL);
    char line[64];
    printf("READY\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "fork", 4) == 0) {
            int ok = 0, hung = 0;
            for (int i = 0; i < 5; i++) {
                pid_t p = fork();
                if (p == 0) {
                    alarm(3);
                    void *h = dlopen("libc.so.6", RTLD_NOW);
                    child_leak();
                    exit(h ? 0 : 3);   /* the destructor writes the exit snapshot */
                }
                int st = 0;
                waitpid(p, &st, 0);
                if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    ok++;
                else
                    hung++;
                printf("CHILD %d\n", (int)p);
            }
            printf("FORKED ok=%d hung=%d\n", ok, hung);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        }
        fflush(stdout);
    }
    return 0;
}
C
gcc -O1 -g -fno-omit-frame-pointer -o "$WORK/forker" "$WORK/forker.c" -ldl -pthread ||
    fail "cannot build the forker"

rm -rf "$WORK/snaps"
tgt_start fk "$WORK/forker"
tgt_wait_line fk '^READY$'
attach_ok "$TGT_PID" -o "$WORK/snaps" --interval 0
tgt_send fork
tgt_wait_line fk '^FORKED ' 60
grep -q '^FORKED ok=5 hung=0$' "$WORK/fk.out" ||
    fail "children of the attached process hung: $(grep FORKED "$WORK/fk.out")"
for child in $(sed -n 's/^CHILD //p' "$WORK/fk.out"); do
    f=$(snapshots "$WORK/snaps" | grep "\.$child\.0001\.mprof$") ||
        fail "child $child left no exit snapshot in $WORK/snaps"
    "$MEMPROF_BIN" report "$f" >"$WORK/child.report" || fail "memprof report $f exited $?"
    grep -q child_leak "$WORK/child.report" || fail "child $child's snapshot does not name child_leak"
done
detach_ok "$TGT_PID"
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the forker exited $TGT_RC"
echo "ok: 5 children forked while the loader's list lock was held, each ended and named its leak"
