/*
 * reader.c - load a snapshot file and validate every byte of structure
 * before anything else looks at it.
 *
 * After mp_snapshot_load succeeds, consumers may index any array with any
 * index stored in the file (stack, frame, string, lock site) without
 * further checks: every cross-reference has been verified here. That is
 * what lets the rest of the analyzer stay simple and still survive fuzzed
 * input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "analyzer.h"
#include "util.h"

#define MAX_FILE_SIZE (4ull << 30)
#define MAX_SECTIONS 256u   /* the writer uses MP_SEC_COUNT; anything huge is corrupt */
#define MAX_STACK_DEPTH 1024u

/* Formats the one-line error and returns -1, so checks read `return fail(...)`. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- reading the file ---- */

/*
 * Reads until EOF rather than trusting st_size alone, so pipes such as
 * `memprof report <(cat f)` work and a file that shrinks under us is seen
 * as truncated, not as garbage.
 */
static int read_stream(FILE *f, size_t hint, uint8_t **data, size_t *size, char *err,
                       size_t errlen)
{
    /* +1 so a regular file is read in one go and EOF seen without regrowing */
    size_t cap = hint + 1, len = 0;
    uint8_t *buf = mp_xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (len > MAX_FILE_SIZE) {
                free(buf);
                return fail(err, errlen, "file too large (more than 4 GiB)");
            }
            cap = cap < 65536 ? 65536 : cap * 2;
            if (cap > MAX_FILE_SIZE + 1)
                cap = MAX_FILE_SIZE + 1;
            buf = mp_xrealloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        return fail(err, errlen, "read error: %s", strerror(e));
    }
    *data = buf;
    *size = len;
    return 0;
}

static int read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fileno(f), &st) != 0)
        rc = fail(err, errlen, "cannot stat: %s", strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = fail(err, errlen, "is a directory");
    else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
        rc = fail(err, errlen, "not a regular file");
    else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > MAX_FILE_SIZE)
        rc = fail(err, errlen, "file too large (%llu bytes, limit 4 GiB)",
                  (unsigned long long)st.st_size);
    else
        rc = read_stream(f, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, data, size, err,
                         errlen);
    fclose(f);
    if (rc == 0 && *size == 0) {
        free(*data);
        *data = NULL;
        return fail(err, errlen, "empty file");
    }
    if (rc == 0 && *size > MAX_FILE_SIZE) {
        free(*data);
        *data = NULL;
        return fail(err, errlen, "file too large (more than 4 GiB)");
    }
    return rc;
}

/* ---- header and section table ---- */

static int check_header(const uint8_t *d, size_t size, char *err, size_t errlen)
{
    if (size < 8 || memcmp(d, MP_MAGIC, 8) != 0)
        return fail(err, errlen, "not a memprof snapshot (bad magic)");
    if (size < sizeof(mp_header))
        return fail(err, errlen, "truncated: file is %zu bytes, header alone is %zu", size,
                    sizeof(mp_header));
    mp_header h;
    memcpy(&h, d, sizeof(h));
    if (h.version != MP_VERSION)
        return fail(err, errlen, "unsupported format version %u (this memprof reads %u)",
                    h.version, MP_VERSION);
    if (h.header_size != sizeof(mp_header))
        return fail(err, errlen, "bad header size %u (expected %zu)", h.header_size,
                    sizeof(mp_header));
    if (h.file_size > size)
        return fail(err, errlen, "truncated: file is %zu bytes, header says %llu", size,
                    (unsigned long long)h.file_size);
    if (h.file_size < size)
        return fail(err, errlen, "trailing garbage: file is %zu bytes, header says %llu", size,
                    (unsigned long long)h.file_size);
    if (XXH3_64bits(d + MP_CHECKSUM_START, size - MP_CHECKSUM_START) != h.checksum)
        return fail(err, errlen, "checksum mismatch (file corrupted)");
    if (h.reserved != 0)
        return fail(err, errlen, "bad header: reserved field is not zero");
    if (h.section_count == 0 || h.section_count > MAX_SECTIONS)
        return fail(err, errlen, "bad section count %u", h.section_count);
    if ((size - sizeof(mp_header)) / sizeof(mp_section) < h.section_count)
        return fail(err, errlen, "truncated: section table of %u entries does not fit",
                    h.section_count);
    return 0;
}

/* The table entry of a known section type, NULL for unknown types. */
static const mp_section_desc *known_section(uint32_t type)
{
    int i = mp_section_index_of(type);
    return i < 0 ? NULL : mp_section_at((unsigned)i);
}

static const char *section_name(uint32_t type)
{
    const mp_section_desc *d = known_section(type);
    return d ? d->name : "unknown";
}

/* One section's bounds, alignment and record size; fills *bytes. */
static int check_section(const mp_section *s, size_t i, size_t table_end, size_t size,
                         uint64_t *bytes, char *err, size_t errlen)
{
    const mp_section_desc *d = known_section(s->type);
    if (d && s->record_size != d->record_size)
        return fail(err, errlen, "section %zu (%s): record size %u, expected %u", i, d->name,
                    s->record_size, d->record_size);
    if (s->offset % 8 != 0)
        return fail(err, errlen, "section %zu: offset %llu is not 8-byte aligned", i,
                    (unsigned long long)s->offset);
    if (s->offset < table_end || s->offset > size)
        return fail(err, errlen, "section %zu: offset %llu outside the payload area", i,
                    (unsigned long long)s->offset);
    if (s->record_size && s->count > (size - s->offset) / s->record_size)
        return fail(err, errlen, "section %zu (%s): %llu records of %u bytes run past the end",
                    i, section_name(s->type), (unsigned long long)s->count, s->record_size);
    *bytes = (uint64_t)s->record_size * s->count;
    return 0;
}

typedef struct span {
    uint64_t start, end;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int check_overlaps(span *spans, size_t n, char *err, size_t errlen)
{
    qsort(spans, n, sizeof(span), span_cmp);
    for (size_t i = 1; i < n; i++)
        if (spans[i].start < spans[i - 1].end)
            return fail(err, errlen, "sections overlap at offset %llu",
                        (unsigned long long)spans[i].start);
    return 0;
}

/*
 * Validates the table and records where each known section lives, by table
 * index. Unknown types (a newer writer's sections) are checked for bounds
 * and overlap and otherwise skipped: see the version policy in
 * memprof_format.h.
 */
static int parse_sections(mp_snapshot *s, const mp_section *secs[MP_SEC_COUNT], char *err,
                          size_t errlen)
{
    mp_header h;
    memcpy(&h, s->data, sizeof(h));
    size_t table_end = sizeof(mp_header) + (size_t)h.section_count * sizeof(mp_section);
    span spans[MAX_SECTIONS];
    size_t nspans = 0;
    for (size_t i = 0; i < h.section_count; i++) {
        const mp_section *sec = (const mp_section *)(s->data + sizeof(mp_header)) + i;
        uint64_t bytes = 0;
        if (check_section(sec, i, table_end, s->size, &bytes, err, errlen) < 0)
            return -1;
        if (bytes)
            spans[nspans++] = (span){sec->offset, sec->offset + bytes};
        int k = mp_section_index_of(sec->type);
        if (k < 0)
            continue;   /* unknown type: bounds-checked above, otherwise ignored */
        if (secs[k])
            return fail(err, errlen, "section %s appears twice", section_name(sec->type));
        secs[k] = sec;
    }
    return check_overlaps(spans, nspans, err, errlen);
}

/* ---- contents ---- */

/* Each section's count rule (memprof_format.h); an absent optional
 * section reads as zero records. */
static int check_counts(const mp_section *secs[MP_SEC_COUNT], char *err, size_t errlen)
{
    for (unsigned i = 0; i < MP_SEC_COUNT; i++) {
        const mp_section_desc *d = mp_section_at(i);
        uint64_t n = secs[i] ? secs[i]->count : 0;
        if (d->rule == MP_SEC_ONE && n != 1 && secs[i])
            return fail(err, errlen, "%s section has %llu records, expected 1", d->name,
                        (unsigned long long)n);
        if (d->rule != MP_SEC_ANY && !secs[i])
            return fail(err, errlen, "%s section missing", d->name);
        if (d->rule == MP_SEC_NONEMPTY && n == 0)
            return fail(err, errlen, "%s section empty", d->name);
    }
    return 0;
}

/* Points every section array into the file. */
static void bind_sections(mp_snapshot *s, const mp_section *secs[MP_SEC_COUNT])
{
#define MP_SEC_BIND_(ID, type, name, record, rule)                                        \
    s->name = secs[MP_SECI_##ID] ? (const record *)(s->data + secs[MP_SECI_##ID]->offset) \
                                 : NULL;                                                   \
    s->n_##name = secs[MP_SECI_##ID] ? (size_t)secs[MP_SECI_##ID]->count : 0;
    MP_SECTIONS(MP_SEC_BIND_)
#undef MP_SEC_BIND_
}

static int check_strings(const mp_snapshot *s, char *err, size_t errlen)
{
    if (s->strings[0] != '\0' || s->strings[s->n_strings - 1] != '\0')
        return fail(err, errlen, "STRINGS section must start and end with a NUL byte");
    return 0;
}

static int check_meta(const mp_snapshot *s, char *err, size_t errlen)
{
    const mp_meta *m = s->meta;
    if (m->prog >= s->n_strings || m->exe >= s->n_strings ||
        m->cmdline >= s->n_strings || m->malloc_provider >= s->n_strings)
        return fail(err, errlen, "meta: string reference out of range");
    if (m->sample_bytes == 0)   /* consumers divide by it */
        return fail(err, errlen, "meta: sample_bytes is 0");
    return 0;
}

static int check_modules(const mp_snapshot *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_modules; i++) {
        const mp_module *m = &s->modules[i];
        if (m->path >= s->n_strings)
            return fail(err, errlen, "module %zu: path reference out of range", i);
        if (m->build_id_len > MP_MAX_BUILD_ID)
            return fail(err, errlen, "module %zu: build ID length %u > %u", i,
                        m->build_id_len, MP_MAX_BUILD_ID);
        if (m->start > m->end)
            return fail(err, errlen, "module %zu: start above end", i);
    }
    return 0;
}

static int check_stacks(const mp_snapshot *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_stacks; i++) {
        const mp_stack *st = &s->stacks[i];
        if (st->depth > MAX_STACK_DEPTH)
            return fail(err, errlen, "stack %zu: depth %u > %u", i, st->depth,
                        MAX_STACK_DEPTH);
        if (st->first_frame > s->n_frames || st->depth > s->n_frames - st->first_frame)
            return fail(err, errlen, "stack %zu: frames out of range", i);
    }
    for (size_t i = 0; i < s->n_heap; i++)
        if (s->heap[i].stack >= s->n_stacks)
            return fail(err, errlen, "heap site %zu: stack %u out of range", i,
                        s->heap[i].stack);
    return 0;
}

static int check_locks(const mp_snapshot *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_locks; i++) {
        const mp_lock *l = &s->locks[i];
        if (l->site_stack != MP_NO_STACK && l->site_stack >= s->n_stacks)
            return fail(err, errlen, "lock %zu: site stack %u out of range", i, l->site_stack);
        if (l->first_site > s->n_lock_sites || l->site_count > s->n_lock_sites - l->first_site)
            return fail(err, errlen, "lock %zu: lock sites out of range", i);
    }
    for (size_t i = 0; i < s->n_lock_sites; i++) {
        const mp_lock_site *ls = &s->lock_sites[i];
        if (ls->stack >= s->n_stacks)
            return fail(err, errlen, "lock site %zu: stack %u out of range", i, ls->stack);
        if (ls->role != MP_ROLE_WAITER && ls->role != MP_ROLE_HOLDER)
            return fail(err, errlen, "lock site %zu: bad role %u", i, ls->role);
    }
    return 0;
}

/* Issue 12's sections: stack references in range, at most one PEAK, and
 * size buckets that are powers of two of a 64-bit size. */
static int check_peak(const mp_snapshot *s, char *err, size_t errlen)
{
    if (s->n_peak > 1)
        return fail(err, errlen, "PEAK section has %zu records, expected at most 1", s->n_peak);
    for (size_t i = 0; i < s->n_peak_sites; i++)
        if (s->peak_sites[i].stack >= s->n_stacks)
            return fail(err, errlen, "peak site %zu: stack %u out of range", i,
                        s->peak_sites[i].stack);
    for (size_t i = 0; i < s->n_lifetimes; i++)
        if (s->lifetimes[i].stack >= s->n_stacks)
            return fail(err, errlen, "lifetime site %zu: stack %u out of range", i,
                        s->lifetimes[i].stack);
    for (size_t i = 0; i < s->n_sizes; i++)
        if (s->sizes[i].log2 >= 64)
            return fail(err, errlen, "size bucket %zu: log2 %u > 63", i, s->sizes[i].log2);
    return 0;
}

static int validate(mp_snapshot *s, char *err, size_t errlen)
{
    const mp_section *secs[MP_SEC_COUNT] = {0};
    if (check_header(s->data, s->size, err, errlen) < 0 ||
        parse_sections(s, secs, err, errlen) < 0 || check_counts(secs, err, errlen) < 0)
        return -1;
    bind_sections(s, secs);
    if (check_strings(s, err, errlen) < 0 || check_meta(s, err, errlen) < 0 ||
        check_modules(s, err, errlen) < 0 ||
        check_stacks(s, err, errlen) < 0 || check_locks(s, err, errlen) < 0 ||
        check_peak(s, err, errlen) < 0)
        return -1;
    return 0;
}

int mp_snapshot_load(const char *path, mp_snapshot *snap, char *err, size_t errlen)
{
    memset(snap, 0, sizeof(*snap));
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path)
        return fail(err, errlen, "no file name given");
    if (read_file(path, &snap->data, &snap->size, err, errlen) < 0)
        return -1;
    snap->path = mp_xstrdup(path);
    if (validate(snap, err, errlen) < 0) {
        mp_snapshot_free(snap);
        return -1;
    }
    return 0;
}

void mp_snapshot_free(mp_snapshot *snap)
{
    if (!snap)
        return;
    free(snap->data);
    free(snap->path);
    memset(snap, 0, sizeof(*snap));
}

const char *mp_snapshot_str(const mp_snapshot *snap, uint32_t offset)
{
    if (!snap || !snap->strings || offset >= snap->n_strings)
        return "";
    return snap->strings + offset;
}

void mp_snapshot_load_or_die(const char *path, mp_snapshot *snap)
{
    char err[512];
    if (mp_snapshot_load(path, snap, err, sizeof(err)) < 0) {
        mp_error("%s: %s", path, err);
        exit(MP_EXIT_BADINPUT);
    }
}
