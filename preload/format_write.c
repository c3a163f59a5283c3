/*
 * format_write.c - snapshot serialisation (see format_write.h).
 */
#include "format_write.h"

#include <string.h>
#include <xxhash.h>

#define N_SECTIONS 8

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

typedef struct section_src {
    uint32_t type;
    uint32_t record_size;
    const void *data;
    size_t count;
} section_src;

static void collect_sections(const mp_snap_parts *p, section_src s[N_SECTIONS])
{
    section_src tmp[N_SECTIONS] = {
        {MP_SEC_META, sizeof(mp_meta), &p->meta, 1},
        {MP_SEC_STRINGS, 1, p->strings, p->strings_size},
        {MP_SEC_MODULES, sizeof(mp_module), p->modules, p->n_modules},
        {MP_SEC_STACKS, sizeof(mp_stack), p->stacks, p->n_stacks},
        {MP_SEC_FRAMES, sizeof(uint64_t), p->frames, p->n_frames},
        {MP_SEC_HEAP, sizeof(mp_heap_site), p->heap, p->n_heap},
        {MP_SEC_LOCKS, sizeof(mp_lock), p->locks, p->n_locks},
        {MP_SEC_LOCK_SITES, sizeof(mp_lock_site), p->lock_sites, p->n_lock_sites},
    };
    memcpy(s, tmp, sizeof(tmp));
}

size_t mp_format_size(const mp_snap_parts *parts)
{
    section_src s[N_SECTIONS];
    collect_sections(parts, s);
    size_t size = align8(sizeof(mp_header) + N_SECTIONS * sizeof(mp_section));
    for (int i = 0; i < N_SECTIONS; i++)
        size += align8(s[i].record_size * s[i].count);
    return size;
}

void mp_format_write(const mp_snap_parts *parts, uint8_t *out)
{
    section_src s[N_SECTIONS];
    collect_sections(parts, s);
    size_t total = mp_format_size(parts);
    memset(out, 0, total);

    mp_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, MP_MAGIC, 8);
    h.version = MP_VERSION;
    h.header_size = sizeof(mp_header);
    h.file_size = total;
    h.section_count = N_SECTIONS;

    size_t pos = align8(sizeof(mp_header) + N_SECTIONS * sizeof(mp_section));
    for (int i = 0; i < N_SECTIONS; i++) {
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
