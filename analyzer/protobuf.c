/*
 * protobuf.c - protobuf wire-format encoder and gzip writer (protobuf.h).
 */
#include "protobuf.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

static void reserve(mp_pb *pb, size_t extra)
{
    if (pb->len + extra <= pb->cap)
        return;
    size_t cap = pb->cap ? pb->cap : 256;
    while (cap < pb->len + extra)
        cap *= 2;
    pb->buf = mp_xrealloc(pb->buf, cap);
    pb->cap = cap;
}

void mp_pb_free(mp_pb *pb)
{
    free(pb->buf);
    memset(pb, 0, sizeof(*pb));
}

void mp_pb_clear(mp_pb *pb) { pb->len = 0; }

static void put_varint(mp_pb *pb, uint64_t v)
{
    reserve(pb, 10);
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        pb->buf[pb->len++] = b | (v ? 0x80 : 0);
    } while (v);
}

static void put_tag(mp_pb *pb, uint32_t field, int wire)
{
    put_varint(pb, (uint64_t)field << 3 | (uint64_t)wire);
}

void mp_pb_varint_field(mp_pb *pb, uint32_t field, uint64_t v)
{
    put_tag(pb, field, WIRE_VARINT);
    put_varint(pb, v);
}

void mp_pb_opt(mp_pb *pb, uint32_t field, uint64_t v)
{
    if (v)
        mp_pb_varint_field(pb, field, v);
}

void mp_pb_bytes(mp_pb *pb, uint32_t field, const void *data, size_t len)
{
    put_tag(pb, field, WIRE_LEN);
    put_varint(pb, len);
    reserve(pb, len);
    if (len)
        memcpy(pb->buf + pb->len, data, len);
    pb->len += len;
}

void mp_pb_string(mp_pb *pb, uint32_t field, const char *s)
{
    mp_pb_bytes(pb, field, s, strlen(s));
}

void mp_pb_message(mp_pb *pb, uint32_t field, const mp_pb *msg)
{
    mp_pb_bytes(pb, field, msg->buf, msg->len);
}

void mp_pb_append(mp_pb *pb, const mp_pb *fields)
{
    reserve(pb, fields->len);
    if (fields->len)
        memcpy(pb->buf + pb->len, fields->buf, fields->len);
    pb->len += fields->len;
}

void mp_pb_packed(mp_pb *pb, uint32_t field, const uint64_t *v, size_t n)
{
    mp_pb tmp = {0};
    for (size_t i = 0; i < n; i++)
        put_varint(&tmp, v[i]);
    mp_pb_message(pb, field, &tmp);
    mp_pb_free(&tmp);
}

int mp_pb_write_gzip(const mp_pb *pb, FILE *out)
{
    if (pb->len > UINT32_MAX)   /* one deflate call takes a uInt length */
        return -1;
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16 asks zlib for a gzip header and trailer. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t chunk[65536];
    z.next_in = pb->buf;
    z.avail_in = (uInt)pb->len;
    int zr, rc = 0;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        zr = deflate(&z, Z_FINISH);
        if (zr == Z_STREAM_ERROR) {
            rc = -1;
            break;
        }
        size_t have = sizeof(chunk) - z.avail_out;
        if (fwrite(chunk, 1, have, out) != have) {
            rc = -1;
            break;
        }
    } while (zr != Z_STREAM_END);
    deflateEnd(&z);
    return rc;
}
