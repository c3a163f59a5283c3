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
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "analyzer.h"
#include "modindex.h"
#include "util.h"

#define MAX_FILE_SIZE (4ull << 30)
#define MAX_SECTIONS 256u   /* the writer uses MP_SEC_COUNT; anything huge is corrupt */
#define MAX_STACK_DEPTH 1024u
/* Strings are paths, program names and command lines, which the shim cuts
   at 4 KiB; a longer one can only make output and keys balloon. */
#define MAX_STRING ((unsigned)PATH_MAX)

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
 * Files are read through a stream rather than mapped, so pipes such as
 * `memprof report <(cat f)` work and a file that shrinks under us is seen
 * as truncated, not as garbage. The header is read and checked first:
 * only a stream that starts like a snapshot is read further, and never
 * past the size its header claims (plus one byte, to see trailing
 * garbage), so `/dev/zero` or a huge unrelated file costs 40 bytes.
 */
static size_t read_full(FILE *f, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t k = fread(buf + got, 1, n - got, f);
        if (k == 0)
            break;
        got += k;
    }
    return got;
}

/* The fixed checks of a header that need no more than its own bytes. */
static int check_header_fields(const mp_header *h, char *err, size_t errlen)
{
    if (h->version != MP_VERSION)
        return fail(err, errlen, "unsupported format version %u (this memprof reads %u)",
                    h->version, MP_VERSION);
    if (h->header_size != sizeof(mp_header))
        return fail(err, errlen, "bad header size %u (expected %zu)", h->header_size,
                    sizeof(mp_header));
    if (h->file_size < sizeof(mp_header))
        return fail(err, errlen, "bad header: file size %llu is smaller than the header",
                    (unsigned long long)h->file_size);
    if (h->file_size > MAX_FILE_SIZE)
        return fail(err, errlen, "bad header: file size %llu is over the %llu-byte limit",
                    (unsigned long long)h->file_size, (unsigned long long)MAX_FILE_SIZE);
    return 0;
}

static int read_stream(FILE *f, const struct stat *st, uint8_t **data, size_t *size,
                       char *err, size_t errlen)
{
    mp_header h;
    size_t got = read_full(f, (uint8_t *)&h, sizeof(h));
    if (ferror(f))
        return fail(err, errlen, "read error: %s", strerror(errno));
    if (got == 0)
        return fail(err, errlen, S_ISFIFO(st->st_mode) ? "empty (no writer, or nothing written)"
                                                       : "empty file");
    if (got < 8 || memcmp(h.magic, MP_MAGIC, 8) != 0)
        return fail(err, errlen, "not a memprof snapshot (bad magic)");
    if (got < sizeof(h))
        return fail(err, errlen, "truncated: file is %zu bytes, header alone is %zu", got,
                    sizeof(h));
    if (check_header_fields(&h, err, errlen) < 0)
        return -1;
    if (S_ISREG(st->st_mode) && (uint64_t)st->st_size < h.file_size)
        return fail(err, errlen, "truncated: file is %llu bytes, header says %llu",
                    (unsigned long long)st->st_size, (unsigned long long)h.file_size);
    /* +1: one byte more than claimed is trailing garbage, seen here. A
       regular file was checked to hold the claimed size; a pipe's buffer
       grows as data arrives, so a lying header costs no memory. */
    size_t want = (size_t)h.file_size + 1, len = sizeof(h);
    size_t cap = S_ISREG(st->st_mode) || want < (1u << 20) ? want : 1u << 20;
    uint8_t *buf = malloc(cap);
    if (buf)
        memcpy(buf, &h, sizeof(h));
    while (buf) {
        len += read_full(f, buf + len, cap - len);
        if (len < cap || cap == want || ferror(f))
            break;
        cap = cap > want / 2 ? want : cap * 2;
        uint8_t *more = realloc(buf, cap);
        if (!more)
            free(buf);
        buf = more;
    }
    if (!buf)
        return fail(err, errlen, "cannot allocate %zu bytes for the file", cap);
    if (ferror(f)) {
        int e = errno;
        free(buf);
        return fail(err, errlen, "read error: %s", strerror(e));
    }
    *data = buf;
    *size = len;
    return 0;
}

/*
 * A snapshot of another user's, in a directory other users can write (a
 * shared sticky MEMPROF_OUT such as /tmp), may have been planted there
 * under a victim's file name (prog.pid.seq.mprof, checksum and all): a
 * diff, or a CI gate on it, would take it for the victim's. Said once
 * per file; root's files, and one's own, are trusted.
 */
static void warn_if_planted(const char *path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode) || st->st_uid == geteuid() || st->st_uid == 0)
        return;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    struct stat d;
    if (stat(dir, &d) != 0 || !(d.st_mode & (S_IWGRP | S_IWOTH)))
        return;
    mp_error("warning: %s belongs to uid %u, in %s, which other users can write: any of "
             "them could have put it there under this name", path, (unsigned)st->st_uid, dir);
}

static int read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO nobody writes must not hang; it is
       cleared again below so the reads themselves block as usual */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail(err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = -1;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0)
        rc = fail(err, errlen, "cannot stat: %s", strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = fail(err, errlen, "is a directory");
    else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) &&
             !S_ISSOCK(st.st_mode))
        rc = fail(err, errlen, "not a regular file");
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
             !(f = fdopen(fd, "rb")))
        rc = fail(err, errlen, "cannot read: %s", strerror(errno));
    else if ((rc = read_stream(f, &st, data, size, err, errlen)) == 0)
        warn_if_planted(path, &st);
    if (f)
        fclose(f);
    else
        close(fd);
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
    if (check_header_fields(&h, err, errlen) < 0)
        return -1;
    if (h.file_size > size)
        return fail(err, errlen, "truncated: file is %zu bytes, header says %llu", size,
                    (unsigned long long)h.file_size);
    if (h.file_size < size)
        return fail(err, errlen, "trailing garbage: file is more than the %llu bytes its header says",
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

/* A byte or record range [start, end) and who claims it. */
typedef struct span {
    uint64_t start, end;
    size_t owner;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/*
 * Sorts the spans; true when two non-empty ones overlap, *x and *y then
 * being such a pair. O(n log n): this is what keeps a file whose records
 * all claim the same range (20,000 stacks sharing 1,024 frames) from
 * costing n times its size later on.
 */
static bool find_overlap(span *spans, size_t n, const span **x, const span **y)
{
    qsort(spans, n, sizeof(span), span_cmp);
    const span *reach = NULL;   /* the span reaching furthest so far */
    for (size_t i = 0; i < n; i++) {
        if (spans[i].start == spans[i].end)
            continue;
        if (reach && spans[i].start < reach->end) {
            *x = reach;
            *y = &spans[i];
            return true;
        }
        if (!reach || spans[i].end > reach->end)
            reach = &spans[i];
    }
    return false;
}

static int check_overlaps(span *spans, size_t n, char *err, size_t errlen)
{
    const span *x, *y;
    if (find_overlap(spans, n, &x, &y))
        return fail(err, errlen, "sections %zu and %zu overlap at offset %llu", x->owner,
                    y->owner, (unsigned long long)y->start);
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
            spans[nspans++] = (span){sec->offset, sec->offset + bytes, i};
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

/* A string reference that is in range and no longer than a path. */
static bool good_string(const mp_snapshot *s, uint32_t off)
{
    return off < s->n_strings && strnlen(s->strings + off, MAX_STRING + 1) <= MAX_STRING;
}

static int check_meta(const mp_snapshot *s, char *err, size_t errlen)
{
    const mp_meta *m = s->meta;
    if (!good_string(s, m->prog) || !good_string(s, m->exe) || !good_string(s, m->cmdline) ||
        !good_string(s, m->malloc_provider))
        return fail(err, errlen, "meta: string reference out of range or longer than %u bytes",
                    MAX_STRING);
    if (m->sample_bytes == 0)   /* consumers divide by it */
        return fail(err, errlen, "meta: sample_bytes is 0");
    return 0;
}

static void no_visit(void *ctx, size_t q, const mp_modindex_live *live)
{
    (void)ctx, (void)q, (void)live;
}

static int check_modules(const mp_snapshot *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_modules; i++) {
        const mp_module *m = &s->modules[i];
        if (!good_string(s, m->path))
            return fail(err, errlen, "module %zu: path reference out of range or longer "
                        "than %u bytes", i, MAX_STRING);
        if (m->build_id_len > MP_MAX_BUILD_ID)
            return fail(err, errlen, "module %zu: build ID length %u > %u", i,
                        m->build_id_len, MP_MAX_BUILD_ID);
        if (m->start > m->end)
            return fail(err, errlen, "module %zu: start above end", i);
    }
    uint32_t pair[2];
    if (mp_modindex_sweep(s->modules, s->n_modules, NULL, 0, no_visit, NULL, pair) < 0)
        return fail(err, errlen, "modules %u and %u overlap in the same generation", pair[0],
                    pair[1]);
    return 0;
}

/*
 * Records claiming ranges of another section (stacks of FRAMES, locks of
 * LOCK_SITES) must claim disjoint ranges, as the writer lays them out:
 * shared ranges would let a small file make every consumer do the same
 * work over and over.
 */
static int check_disjoint(span *spans, size_t n, const char *what, const char *of,
                          char *err, size_t errlen)
{
    const span *x, *y;
    bool bad = find_overlap(spans, n, &x, &y);
    int rc = bad ? fail(err, errlen, "%s %zu and %zu share %s (from %llu)", what, x->owner,
                        y->owner, of, (unsigned long long)y->start)
                 : 0;
    free(spans);
    return rc;
}

static int check_stacks(const mp_snapshot *s, char *err, size_t errlen)
{
    span *spans = mp_xcalloc(s->n_stacks, sizeof(span));
    for (size_t i = 0; i < s->n_stacks; i++) {
        const mp_stack *st = &s->stacks[i];
        if (st->depth > MAX_STACK_DEPTH || st->first_frame > s->n_frames ||
            st->depth > s->n_frames - st->first_frame) {
            free(spans);
            return st->depth > MAX_STACK_DEPTH
                       ? fail(err, errlen, "stack %zu: depth %u > %u", i, st->depth,
                              MAX_STACK_DEPTH)
                       : fail(err, errlen, "stack %zu: frames out of range", i);
        }
        spans[i] = (span){st->first_frame, st->first_frame + st->depth, i};
    }
    if (check_disjoint(spans, s->n_stacks, "stacks", "frames", err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < s->n_heap; i++)
        if (s->heap[i].stack >= s->n_stacks)
            return fail(err, errlen, "heap site %zu: stack %u out of range", i,
                        s->heap[i].stack);
    return 0;
}

static int check_locks(const mp_snapshot *s, char *err, size_t errlen)
{
    span *spans = mp_xcalloc(s->n_locks, sizeof(span));
    for (size_t i = 0; i < s->n_locks; i++) {
        const mp_lock *l = &s->locks[i];
        const char *bad = NULL;
        if (l->site_stack != MP_NO_STACK && l->site_stack >= s->n_stacks)
            bad = "site stack out of range";
        else if (l->first_site > s->n_lock_sites ||
                 l->site_count > s->n_lock_sites - l->first_site)
            bad = "lock sites out of range";
        if (bad) {
            free(spans);
            return fail(err, errlen, "lock %zu: %s", i, bad);
        }
        spans[i] = (span){l->first_site, l->first_site + l->site_count, i};
    }
    if (check_disjoint(spans, s->n_locks, "locks", "lock sites", err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < s->n_lock_sites; i++) {
        const mp_lock_site *ls = &s->lock_sites[i];
        if (ls->stack >= s->n_stacks)
            return fail(err, errlen, "lock site %zu: stack %u out of range", i, ls->stack);
        if (ls->role != MP_ROLE_WAITER && ls->role != MP_ROLE_HOLDER)
            return fail(err, errlen, "lock site %zu: bad role %u", i, ls->role);
    }
    for (size_t i = 0; i < s->n_lock_hist; i++) {
        const mp_lock_hist *h = &s->lock_hist[i];
        if (h->lock >= s->n_locks)
            return fail(err, errlen, "lock histogram %zu: lock %u out of range", i, h->lock);
        if ((h->what != MP_HIST_WAIT && h->what != MP_HIST_HOLD) ||
            h->bucket >= MP_LOCK_HIST_BUCKETS)
            return fail(err, errlen, "lock histogram %zu: bad bucket %u/%u", i, h->what,
                        h->bucket);
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
        if (!path || !*path)
            mp_error("an empty file name was given");
        else
            mp_error("%s: %s", path, err);
        exit(MP_EXIT_BADINPUT);
    }
}
