/*
 * fuzz_reader.c - libFuzzer target for the snapshot reader
 * (analyzer/reader.c): no input may crash it, hang it, or make it accept a
 * file whose cross-references are not all in bounds.
 *
 * Input: one mode byte, then the file. Mode bit 0 set: before loading, the
 * header's file_size and checksum are recomputed over the mutated bytes, so
 * the fuzzer gets past the checksum and exercises the structural checks
 * (section table, counts, overlaps, every index). Mode bit 0 clear: the
 * bytes are loaded as they are.
 *
 * On success every reference the reader promises to have validated is
 * followed (strings, stacks -> frames, heap -> stacks, locks -> lock sites
 * -> stacks); ASan and UBSan turn a missed check into a crash. On failure
 * the error must be one non-empty line.
 *
 * Build and run: scripts/fuzz (clang -fsanitize=fuzzer,address,undefined).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "analyzer.h"
#include "memprof_format.h"

static volatile uint64_t fuzz_sink;

static void walk(const mp_snapshot *s)
{
    uint64_t acc = 0;
    if (s->meta) {
        acc += strlen(mp_snapshot_str(s, s->meta->prog));
        acc += strlen(mp_snapshot_str(s, s->meta->exe));
        acc += strlen(mp_snapshot_str(s, s->meta->cmdline));
    }
    for (size_t i = 0; i < s->n_modules; i++) {
        acc += strlen(mp_snapshot_str(s, s->modules[i].path));
        if (s->modules[i].build_id_len > MP_MAX_BUILD_ID)
            abort();   /* the reader must have refused this */
        for (uint32_t k = 0; k < s->modules[i].build_id_len; k++)
            acc += s->modules[i].build_id[k];
    }
    for (size_t i = 0; i < s->n_stacks; i++) {
        const mp_stack *st = &s->stacks[i];
        for (uint32_t k = 0; k < st->depth; k++) {
            if (st->first_frame + k >= s->n_frames)
                abort();
            acc += s->frames[st->first_frame + k];
        }
    }
    for (size_t i = 0; i < s->n_heap; i++) {
        if (s->heap[i].stack >= s->n_stacks)
            abort();
        acc += s->stacks[s->heap[i].stack].depth + s->heap[i].live_bytes;
    }
    for (size_t i = 0; i < s->n_locks; i++) {
        const mp_lock *l = &s->locks[i];
        if (l->site_stack != MP_NO_STACK) {
            if (l->site_stack >= s->n_stacks)
                abort();
            acc += s->stacks[l->site_stack].depth;
        }
        if (l->first_site > s->n_lock_sites || l->site_count > s->n_lock_sites - l->first_site)
            abort();
        for (uint64_t k = 0; k < l->site_count; k++) {
            const mp_lock_site *ls = &s->lock_sites[l->first_site + k];
            if (ls->stack != MP_NO_STACK && ls->stack >= s->n_stacks)
                abort();
            acc += ls->wait_ns;
        }
    }
    fuzz_sink = acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fix = data[0] & 1;
    data++;
    size--;
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    if (fix && size >= sizeof(mp_header)) {
        uint64_t fsize = size, sum;
        memcpy(buf + 16, &fsize, 8);
        sum = XXH3_64bits(buf + MP_CHECKSUM_START, size - MP_CHECKSUM_START);
        memcpy(buf + 24, &sum, 8);
    }
    int fd = memfd_create("snapshot", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, buf + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    mp_snapshot snap;
    memset(err, 'x', sizeof(err));
    if (mp_snapshot_load(path, &snap, err, sizeof(err)) == 0) {
        walk(&snap);
        mp_snapshot_free(&snap);
    } else {
        size_t len = strnlen(err, sizeof(err));
        if (len == 0 || len == sizeof(err) || memchr(err, '\n', len))
            abort();   /* the error must be one non-empty line */
    }
    close(fd);
    free(buf);
    return 0;
}
