/*
 * format_write.c - snapshot serialisation (see format_write.h).
 */
#include "format_write.h"

#include <string.h>
#include <xxhash.h>

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static void collect_sections(const mp_sections *p, mp_section_src s[MP_SEC_COUNT])
{
#define MP_SEC_SRC_(ID, type, name, record, rule) \
    s[MP_SECI_##ID] = (mp_section_src){type, sizeof(record), p->name, p->n_##name};
    MP_SECTIONS(MP_SEC_SRC_)
#undef MP_SEC_SRC_
}

size_t mp_format_size_of(const mp_section_src *s, size_t n)
{
    size_t size = align8(sizeof(mp_header) + n * sizeof(mp_section));
    for (size_t i = 0; i < n; i++)
        size += align8(s[i].record_size * s[i].count);
    return size;
}

void mp_format_write_of(const mp_section_src *s, size_t n, uint8_t *out)
{
    size_t total = mp_format_size_of(s, n);
    memset(out, 0, total);

    mp_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, MP_MAGIC, 8);
    h.version = MP_VERSION;
    h.header_size = sizeof(mp_header);
    h.file_size = total;
    h.section_count = (uint32_t)n;

    size_t pos = align8(sizeof(mp_header) + n * sizeof(mp_section));
    for (size_t i = 0; i < n; i++) {
        mp_section sec = {s[i].type, s[i].record_size, pos, s[i].count};
        memcpy(out + sizeof(mp_header) + i * sizeof(mp_section), &sec, sizeof(sec));
        size_t bytes = s[i].record_size * s[i].count;
        if (bytes)
            memcpy(out + pos, s[i].data, bytes);
        pos += align8(bytes);
    }
    memcpy(out, &h, sizeof(h));
    h.checksum = XXH3_64bits(out + MP_CHECKSUM_START, total - MP_CHECKSUM_START);
    memcpy(out, &h, sizeof(h));
}

size_t mp_format_size(const mp_sections *secs)
{
    mp_section_src s[MP_SEC_COUNT];
    collect_sections(secs, s);
    return mp_format_size_of(s, MP_SEC_COUNT);
}

void mp_format_write(const mp_sections *secs, uint8_t *out)
{
    mp_section_src s[MP_SEC_COUNT];
    collect_sections(secs, s);
    mp_format_write_of(s, MP_SEC_COUNT, out);
}
