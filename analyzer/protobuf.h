/*
 * protobuf.h - a tiny protobuf wire-format encoder, enough for pprof's
 * profile.proto: varints, length-delimited strings and nested messages,
 * packed repeated varints, and gzip output.
 *
 * Nested messages are encoded into their own mp_pb and then appended with
 * mp_pb_message(), because the length prefix must precede the payload.
 */
#ifndef MEMPROF_PROTOBUF_H
#define MEMPROF_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct mp_pb {
    uint8_t *buf;
    size_t len, cap;
} mp_pb;

void mp_pb_free(mp_pb *pb);
void mp_pb_clear(mp_pb *pb);        /* keeps the buffer for reuse */

/* Field with wire type 0. Zero is written too: callers omit defaults. */
void mp_pb_varint_field(mp_pb *pb, uint32_t field, uint64_t v);
/* Like mp_pb_varint_field, but writes nothing for 0 (proto3 default). */
void mp_pb_opt(mp_pb *pb, uint32_t field, uint64_t v);
void mp_pb_bytes(mp_pb *pb, uint32_t field, const void *data, size_t len);
void mp_pb_string(mp_pb *pb, uint32_t field, const char *s);
/* Appends `msg` as a length-delimited field (msg may be empty). */
void mp_pb_message(mp_pb *pb, uint32_t field, const mp_pb *msg);
/* Appends already encoded fields (e.g. a run of repeated messages). */
void mp_pb_append(mp_pb *pb, const mp_pb *fields);
/* Packed repeated varints. */
void mp_pb_packed(mp_pb *pb, uint32_t field, const uint64_t *v, size_t n);

/* Writes pb gzip-compressed to out; returns 0, or -1 on a zlib or I/O error. */
int mp_pb_write_gzip(const mp_pb *pb, FILE *out);

#endif
