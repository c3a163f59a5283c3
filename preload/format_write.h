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

/* The writer's side of mp_sections: the same arrays, writable, for the
 * snapshot builder to fill in place (`out.heap[i] = ...; out.n_heap++`) and
 * hand over as `&out.view` without copying field by field. The members
 * only differ in const, so both views share one representation. */
#define MP_SEC_FIELD_MUT_(ID, type, name, record, rule) record *name; size_t n_##name;
typedef union mp_sections_out {
    mp_sections view;
    struct {
        MP_SECTIONS(MP_SEC_FIELD_MUT_)
    };
} mp_sections_out;
#undef MP_SEC_FIELD_MUT_

/* The file's size for these sections (every section of MP_SECTIONS is
 * written, in table order, empty ones included). */
size_t mp_format_size(const mp_sections *secs);
/* Writes exactly mp_format_size(secs) bytes, checksum included. */
void mp_format_write(const mp_sections *secs, uint8_t *out);

/* One section as it goes into the file. The two functions below write any
 * list of them; the unit tests use them to make files with sections this
 * build does not know, or without optional ones. */
typedef struct mp_section_src {
    uint32_t type;
    uint32_t record_size;
    const void *data;
    size_t count;
} mp_section_src;
size_t mp_format_size_of(const mp_section_src *src, size_t n);
void mp_format_write_of(const mp_section_src *src, size_t n, uint8_t *out);

#endif
