/*
 * format_write.h - serialise a snapshot into the file format of
 * include/memprof_format.h. Pure: no shim state, no allocation; the caller
 * provides the arrays and an output buffer of mp_format_size() bytes. Kept
 * apart from the collector so the unit tests can round-trip it against the
 * analyzer's reader.
 */
#ifndef MEMPROF_FORMAT_WRITE_H
#define MEMPROF_FORMAT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "memprof_format.h"

typedef struct mp_snap_parts {
    mp_meta meta;
    const char *strings;          /* starts with a NUL byte */
    size_t strings_size;
    const mp_module *modules;
    size_t n_modules;
    const mp_stack *stacks;
    size_t n_stacks;
    const uint64_t *frames;
    size_t n_frames;
    const mp_heap_site *heap;
    size_t n_heap;
    const mp_lock *locks;
    size_t n_locks;
    const mp_lock_site *lock_sites;
    size_t n_lock_sites;
} mp_snap_parts;

size_t mp_format_size(const mp_snap_parts *parts);
/* Writes exactly mp_format_size(parts) bytes, checksum included. */
void mp_format_write(const mp_snap_parts *parts, uint8_t *out);

#endif
