/*
 * unwind_smash.c - threads that overwrite their own return address and
 * saved frame pointer in one controlled frame, allocate from below it, and
 * put the words back before returning. The unwinder then meets return
 * addresses and frame pointers that point anywhere: nowhere, below the
 * stack pointer, above the stack, into the heap, at odd addresses, into
 * the middle of libc's and our own code, at the very slot being read.
 * It must record something and never fault (tests/e2e/unwind_smash.sh).
 *
 * Every 4th allocation (32..64 KiB, ~190 MiB in all, over TP_LEAK_BYTES)
 * is leaked from smashed_alloc, which is below the smashed frame, so its
 * frames up to smash_frame are still exact and the report must rank it
 * first: LEAK line as in testprog.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testprog.h"

#define THREADS 4
#define ROUNDS 4000

static _Atomic size_t leak_bytes, leak_count;
static int anchor;

TP_CULPRIT static void *smashed_alloc(size_t size, int keep)
{
    void *p = malloc(size);
    tp_touch(p, size);
    if (keep) {
        leak_bytes += size;
        leak_count++;
        return NULL;   /* leaked on purpose */
    }
    return p;
}

/* What goes into the smashed slots; k picks one, r varies it. */
static uintptr_t garbage(unsigned k, uint64_t r, uintptr_t slot, void *heap)
{
    switch (k % 12) {
    case 0: return 0;
    case 1: return (uintptr_t)r;                          /* anything */
    case 2: return slot - 4096 - (r & 0xff8);             /* below sp */
    case 3: return slot + (1u << 24) + (r & 0xfff8);      /* far above the stack */
    case 4: return slot + 1 + (r & 6);                    /* odd, inside the stack */
    case 5: return (uintptr_t)heap;
    case 6: return (uintptr_t)&anchor;
    case 7: return (uintptr_t)&memcpy + (r & 0xffff);     /* inside libc */
    case 8: return (uintptr_t)&smashed_alloc + (r & 0xfff);   /* inside us */
    case 9: return 0xffffffff81000000ull + (r & 0xffff);  /* the kernel */
    case 10: return slot;                                 /* the slot itself */
    default: return slot + 8 + (r & 0x78);                /* just above it */
    }
}

/* Keeps a frame pointer so its return address and saved BP are at known
 * places (the unwinder still reads its CFI, which says the same). */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void *
smash_frame(unsigned kind, uint64_t r, size_t size, int keep, void *heap)
{
    volatile uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t saved_bp = fp[0], saved_ra = fp[1];
    if (kind & 1)
        fp[1] = garbage(kind >> 1, r, (uintptr_t)&fp[1], heap);
    if (kind & 2)
        fp[0] = garbage((kind >> 5) + 3, r >> 17, (uintptr_t)&fp[0], heap);
    void *p = smashed_alloc(size, keep);
    fp[0] = saved_bp;
    fp[1] = saved_ra;
    return p;
}

static void *worker(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uintptr_t)arg + 1;
    void *heap = malloc(64);
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t r = tp_rand(&seed);
        unsigned kind = (unsigned)(r >> 50) | 1;   /* always the return address */
        int keep = i % 4 == 0;
        size_t size = keep ? 32768 + (r & 0x7fff) : 16 + (r & 1023);
        void *p = smash_frame(kind, r, size, keep, heap);
        free(p);
    }
    free(heap);
    return NULL;
}

int main(void)
{
    tp_baseline();
    tp_snapshot();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
            return 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    tp_tally tally = {leak_bytes, leak_count};
    tp_report(&tally);
    return 0;
}
