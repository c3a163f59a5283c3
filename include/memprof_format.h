/*
 * memprof_format.h - the snapshot file format, shared by the shim (writer)
 * and the analyzer (reader). This is the only definition of it.
 *
 * A snapshot is one little-endian file:
 *
 *   mp_header                      fixed, at offset 0
 *   mp_section[section_count]      right after the header
 *   section payloads               anywhere after the section table,
 *                                  8-byte aligned, non-overlapping
 *
 * Integrity: `checksum` is XXH3_64bits over bytes [MP_CHECKSUM_START, file_size)
 * i.e. everything after the checksum field itself. Together with the magic,
 * version and file_size checks this makes every changed byte detectable.
 *
 * Strings are stored once in the STRINGS section and referenced by byte
 * offset; every string there is NUL-terminated. Offset 0 is always "".
 *
 * Stacks are referenced by index into the STACKS section. Frames are return
 * addresses (innermost first) exactly as the unwinder saw them, the shim's
 * own frames already dropped; so even the innermost frame is a return
 * address (into the caller of malloc or of the lock), and the analyzer
 * looks up address - 1 for every frame. A stack's `generation`
 * is the module-map generation when it was captured: the analyzer resolves a
 * frame against the module whose [gen_loaded, gen_unloaded) contains it, so
 * an address inside a library that was dlclose'd and replaced by another at
 * the same address is still attributed to the right file.
 *
 * Why fixed-size records with explicit padding: both halves are C on the same
 * ABI family, and the reader validates every count against the section size
 * before touching a record, so no variable-length parsing can go wrong.
 */
#ifndef MEMPROF_FORMAT_H
#define MEMPROF_FORMAT_H

#include <stdint.h>

#define MP_MAGIC "MEMPROF\0"     /* 8 bytes, including the NUL */
#define MP_VERSION 1u
#define MP_CHECKSUM_START 32u    /* offsetof(mp_header, checksum) + 8 */
#define MP_MAX_BUILD_ID 32u

typedef struct mp_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;    /* sizeof(mp_header) */
    uint64_t file_size;      /* total bytes, must equal the file's size */
    uint64_t checksum;       /* XXH3_64bits(file + 32, file_size - 32) */
    uint32_t section_count;
    uint32_t reserved;       /* 0 */
} mp_header;

typedef struct mp_section {
    uint32_t type;           /* mp_section_type */
    uint32_t record_size;    /* bytes per record, 1 for STRINGS */
    uint64_t offset;         /* from the start of the file */
    uint64_t count;          /* records */
} mp_section;

/* Why the snapshot was written. */
enum mp_trigger {
    MP_TRIGGER_INTERVAL = 1,
    MP_TRIGGER_SIGNAL = 2,
    MP_TRIGGER_REQUEST = 3,  /* `memprof snapshot PID` */
    MP_TRIGGER_EXIT = 4,
    /* The image's last snapshot before it exec'd another program (same
     * pid); readers that predate it show an unknown trigger, nothing worse. */
    MP_TRIGGER_EXEC = 5,
    /* The last snapshot of `memprof detach PID` (5 and 6 alike: readers
     * that predate them show an unknown trigger). */
    MP_TRIGGER_DETACH = 6
};

/* Shim self-accounting, cumulative since process (or fork) start. */
typedef struct mp_counters {
    uint64_t samples;            /* heap samples taken */
    uint64_t sampled_frees;      /* frees of sampled blocks seen */
    uint64_t events_stalled;     /* pushes that had to wait for ring space */
    uint64_t events_dropped;     /* events lost (ring full past the stall limit,
                                    or no ring usable); never silent */
    uint64_t unwind_failures;    /* stacks that could not be captured */
    uint64_t stack_table_full;   /* stacks attributed to the overflow stack */
    uint64_t addrset_full;       /* samples not tracked for lack of room */
    uint64_t lock_contentions;   /* contention events recorded */
    uint64_t lock_events_dropped;
    uint64_t threads_seen;       /* rings handed out */
    uint64_t unwind_mismatches;  /* MEMPROF_UNWIND_CHECK=1 only: fast-path
                                    stacks that differ from libunwind's */
    uint64_t modules_forgotten;  /* module records the shim's full table
                                    dropped (unloaded objects) or never
                                    made: frames into them are unknown;
                                    0 in files before it (was reserved) */
    uint64_t dormant_ns;         /* time spent dormant (MEMPROF_START=off, `memprof
                                    disable`) since start or attach, up to this
                                    snapshot: what was allocated or contended
                                    then is not in it; 0 in files before it
                                    (was reserved) */
    uint64_t reserved[2];        /* 0; the sixth word became mp_meta.flags */
} mp_counters;

/* mp_meta.flags */
/* flags bits 8..15: k, when contended holds were sampled 1 in 2^k (each
 * measured one counted 2^k times: hold time, contended holds and their
 * histogram are estimates); 0: every contended hold was timed (files of
 * shims before the sampling). */
#define MP_META_HOLD_RATE_SHIFT 8
#define MP_META_HOLD_RATE_MASK (0xffull << MP_META_HOLD_RATE_SHIFT)
#define MP_META_ATTACHED 1u      /* `memprof attach`: counts only what happened
                                    after the attach, at start_time_ns */

typedef struct mp_meta {
    uint64_t pid;
    uint64_t ppid;
    uint64_t seq;                /* 1-based within the process */
    uint64_t trigger;            /* mp_trigger */
    uint64_t time_ns;            /* CLOCK_REALTIME when written */
    uint64_t start_time_ns;      /* CLOCK_REALTIME at shim start (the attach time
                                    when flags has MP_META_ATTACHED) */
    uint64_t sample_bytes;       /* MEMPROF_SAMPLE (1 = exact) */
    uint64_t max_depth;          /* MEMPROF_DEPTH */
    uint64_t lock_profiling;     /* 0 off; 1 every contention recorded
                                    (older files); N > 1: waits of N ns
                                    and longer all recorded, shorter ones
                                    sampled, each counted by its weight */
    uint64_t generation;         /* module generation at write time */
    uint32_t prog;               /* string: basename of argv[0] */
    uint32_t exe;                /* string: /proc/self/exe target */
    uint32_t cmdline;            /* string: argv joined by spaces */
    uint32_t malloc_provider;    /* string: the module whose malloc the program
                                  * uses instead of libc's (nothing of the heap
                                  * was profiled); "" (0, files before it) = libc's */
    mp_counters counters;
    uint64_t flags;              /* MP_META_*; was mp_counters.reserved[5] (0) */
} mp_meta;

typedef struct mp_module {
    uint64_t start;              /* first byte of the executable mapping */
    uint64_t end;                /* one past the last byte */
    uint64_t file_offset;        /* file offset that `start` maps */
    uint64_t load_bias;          /* dlpi_addr: vaddr in file + bias = address */
    uint64_t gen_loaded;         /* generation in which it was seen first */
    uint64_t gen_unloaded;       /* generation it disappeared in, 0 = loaded */
    uint32_t path;               /* string */
    uint32_t build_id_len;       /* 0 when the module has none */
    uint8_t build_id[MP_MAX_BUILD_ID];
} mp_module;

typedef struct mp_stack {
    uint64_t hash;               /* XXH3 of the frames */
    uint64_t first_frame;        /* index into FRAMES */
    uint32_t depth;              /* frames, 0 for the overflow stack */
    uint32_t generation;
} mp_stack;

/*
 * Estimates are Horvitz-Thompson sums: each sample of size s taken with
 * probability p adds s/p bytes and 1/p objects; frees subtract the same.
 * They are rounded to integers when written.
 */
typedef struct mp_heap_site {
    uint32_t stack;              /* index into STACKS */
    uint32_t pad;
    uint64_t live_samples;
    uint64_t live_bytes;         /* estimate */
    uint64_t live_count;         /* estimate */
    uint64_t alloc_samples;      /* cumulative */
    uint64_t alloc_bytes;        /* estimate, cumulative */
    uint64_t alloc_count;        /* estimate, cumulative */
} mp_heap_site;

enum mp_lock_kind { MP_LOCK_MUTEX = 1, MP_LOCK_RWLOCK = 2, MP_LOCK_SPIN = 3 };

#define MP_NO_STACK 0xffffffffu

typedef struct mp_lock {
    uint64_t address;
    uint32_t kind;               /* mp_lock_kind */
    uint32_t site_stack;         /* first use (init or first contention), or MP_NO_STACK */
    uint64_t contentions;
    uint64_t wait_ns;
    uint64_t max_wait_ns;
    uint64_t contended_hold_ns;  /* hold time of holders while others waited */
    uint64_t contended_holds;
    uint64_t acquisitions;       /* acquisitions that waited or found waiters
                                    (before LOCK_HIST existed: every
                                    acquisition once known contended) */
    uint64_t first_site;         /* index of its first mp_lock_site */
    uint64_t site_count;         /* number of consecutive mp_lock_site records */
} mp_lock;

enum mp_lock_site_role { MP_ROLE_WAITER = 1, MP_ROLE_HOLDER = 2 };

typedef struct mp_lock_site {
    uint32_t stack;
    uint32_t role;               /* mp_lock_site_role */
    uint64_t contentions;        /* waits suffered (waiter) or caused (holder) */
    uint64_t wait_ns;            /* wait suffered (waiter) or caused (holder) */
} mp_lock_site;

/*
 * Lock wait and hold distributions (LOCK_HIST): per lock, a log-scale
 * histogram of individual waits (and of the contended holds the shim
 * timed), exact counts, one record per non-empty bucket. Four buckets per
 * power of two: 0..3 ns are buckets 0..3; a value v >= 4 with top bit e
 * falls in bucket 4 * (e - 1) + the two bits below the top one, so every
 * bucket's upper bound is less than 1.25 times its lower bound.
 */
#define MP_LOCK_HIST_BUCKETS 252u
enum mp_lock_hist_what { MP_HIST_WAIT = 1, MP_HIST_HOLD = 2 };

typedef struct mp_lock_hist {
    uint32_t lock;               /* index into LOCKS */
    uint16_t what;               /* mp_lock_hist_what */
    uint16_t bucket;             /* < MP_LOCK_HIST_BUCKETS */
    uint64_t count;
} mp_lock_hist;

static inline unsigned mp_lock_hist_bucket(uint64_t ns)
{
    if (ns < 4)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);
    return 4u * (e - 1u) + (unsigned)((ns >> (e - 2u)) & 3u);
}

/* The largest value bucket b holds. */
static inline uint64_t mp_lock_hist_upper(unsigned b)
{
    if (b < 4)
        return b;
    unsigned e = b / 4u + 1u;
    uint64_t lo = (uint64_t)(4u + b % 4u) << (e - 2u);
    return lo + ((uint64_t)1 << (e - 2u)) - 1u;
}

/*
 * Peak, heap over time, lifetimes and sizes (issue 12). All estimates are
 * the same Horvitz-Thompson sums as HEAP, exact at MEMPROF_SAMPLE=1.
 *
 * PEAK (at most one record): the highest estimated live heap since the
 * process started, and when. The collector sees the sampled blocks in the
 * order it drains them; `time_ns` comes from the sample's own coarse
 * timestamp (MP_TICK_NS resolution), so it does not depend on how long the
 * collector slept. PEAK_SITES is the live heap by stack at `sites_bytes`,
 * the last high-water mark that exceeded the previous copy by more than
 * 1/64: within 1/64 below `bytes`, and equal to it when the heap turned
 * down at its peak (the copy is taken at the first free after a new high).
 */
#define MP_TICK_SHIFT 16u                /* a tick is 2^16 ns (65.5 us) */
#define MP_TICK_NS (1ull << MP_TICK_SHIFT)
typedef struct mp_peak {
    uint64_t bytes;              /* highest estimated live heap */
    uint64_t time_ns;            /* CLOCK_REALTIME when it was reached */
    uint64_t sites_bytes;        /* live heap of PEAK_SITES */
    uint64_t sites_time_ns;      /* when PEAK_SITES was the live heap */
    uint64_t rss_hwm_bytes;      /* VmHWM at write time, 0 unknown */
    uint64_t rss_bytes;          /* VmRSS at write time, 0 unknown */
    uint64_t reserved[2];
} mp_peak;

/* One stack's live heap at the peak (PEAK_SITES). */
typedef struct mp_peak_site {
    uint32_t stack;              /* index into STACKS */
    uint32_t pad;
    uint64_t live_samples;
    uint64_t live_bytes;         /* estimate */
    uint64_t live_count;         /* estimate */
} mp_peak_site;

/* SERIES: estimated live heap and RSS over time, oldest first, at most
 * MP_SERIES_MAX points spanning the whole run (older points thinned by
 * halving their resolution when full); the last point is the write time. */
#define MP_SERIES_MAX 256u
typedef struct mp_series_point {
    uint64_t t_ns;               /* CLOCK_REALTIME */
    uint64_t heap_bytes;         /* estimate */
    uint64_t rss_bytes;          /* 0 unknown */
} mp_series_point;

/*
 * LIFETIMES: per stack, the sampled blocks whose free was seen, by how
 * long they lived. Bucket 0 is a lifetime under one tick (65.5 us); bucket
 * k < MP_LIFE_BUCKETS-1 is [4^(k-1), 4^k) ticks; the last is everything
 * longer. "Temporary" is a lifetime under MP_TEMPORARY_TICKS (16 ticks,
 * 1.05 ms): buckets 0..2. Counts are estimated objects.
 */
#define MP_LIFE_BUCKETS 12u
#define MP_TEMPORARY_TICKS 16u
typedef struct mp_lifetime_site {
    uint32_t stack;              /* index into STACKS */
    uint32_t pad;
    uint64_t freed_samples;      /* sampled frees with a known lifetime */
    uint64_t freed_count;        /* estimate */
    uint64_t temp_samples;       /* of them, temporary */
    uint64_t temp_count;         /* estimate */
    uint64_t temp_bytes;         /* estimate */
    uint64_t hist[MP_LIFE_BUCKETS];   /* estimated objects per bucket */
} mp_lifetime_site;

/* SIZES: the process's allocations by size, one record per non-empty
 * log2 bucket: sizes in [2^log2, 2^(log2+1)), log2 0 also holds size 0. */
typedef struct mp_size_bucket {
    uint32_t log2;
    uint32_t pad;
    uint64_t samples;
    uint64_t count;              /* estimate */
    uint64_t bytes;              /* estimate */
} mp_size_bucket;

/* ---- the sections: the one list ----
 *
 * Every section of the file is one line here; the writer's section table
 * and sizes (preload/format_write.c), the reader's checks and names
 * (analyzer/reader.c) and the typed arrays both halves use (mp_sections:
 * `s->heap`, `s->n_heap`) are all expanded from it. Adding a section is one
 * line below plus its record struct above; its consumers then find
 * `name`/`n_name` in every mp_sections.
 *
 *   X(ID, type, name, record, rule)
 *     ID      MP_SEC_<ID> is the type number, MP_SECI_<ID> the table index
 *     type    the number stored in mp_section.type; never reused
 *     name    the field name in mp_sections (and lower-case in messages)
 *     record  the record type; mp_section.record_size is sizeof(record)
 *     rule    MP_SEC_ONE       exactly one record, must be present
 *             MP_SEC_NONEMPTY  at least one record, must be present
 *             MP_SEC_ANY       any count, may be absent (then 0 records)
 *
 * The writer emits the sections in this order, so the order is part of the
 * bytes of a file: append, never insert.
 *
 * Version policy. MP_VERSION changes only when a file of the old version
 * would be misread: the header changes, a record of an existing section
 * changes layout or meaning, or a section becomes required. Everything
 * else stays version 1:
 *   - a new section gets a new type number and the rule MP_SEC_ANY, so a
 *     file written before it existed (where it is absent) still reads, as
 *     an empty array;
 *   - a reader skips section types it does not know (bounds and overlap
 *     are still checked), so a file from a newer writer still reads, minus
 *     the new data;
 *   - a record that needs more fields is a new section (e.g. HEAP2), not a
 *     bigger record: the reader insists on the exact record size.
 * A reader refuses every version but its own (exit 2, SPEC).
 */
enum mp_section_rule { MP_SEC_ANY = 0, MP_SEC_ONE = 1, MP_SEC_NONEMPTY = 2 };

#define MP_SECTIONS(X)                                                     \
    X(META, 1, meta, mp_meta, MP_SEC_ONE)                                  \
    X(STRINGS, 2, strings, char, MP_SEC_NONEMPTY) /* NUL-terminated, first byte 0 */ \
    X(MODULES, 3, modules, mp_module, MP_SEC_ANY)                          \
    X(STACKS, 4, stacks, mp_stack, MP_SEC_ANY)                             \
    X(FRAMES, 5, frames, uint64_t, MP_SEC_ANY) /* by mp_stack.first_frame */ \
    X(HEAP, 6, heap, mp_heap_site, MP_SEC_ANY) /* one per stack with data */ \
    X(LOCKS, 7, locks, mp_lock, MP_SEC_ANY)                                \
    X(LOCK_SITES, 8, lock_sites, mp_lock_site, MP_SEC_ANY) /* grouped per lock */ \
    X(LOCK_HIST, 32, lock_hist, mp_lock_hist, MP_SEC_ANY) /* any order */ \
    X(PEAK, 20, peak, mp_peak, MP_SEC_ANY) /* 0 or 1 record */              \
    X(PEAK_SITES, 21, peak_sites, mp_peak_site, MP_SEC_ANY)                \
    X(SERIES, 22, series, mp_series_point, MP_SEC_ANY)                     \
    X(LIFETIMES, 23, lifetimes, mp_lifetime_site, MP_SEC_ANY)              \
    X(SIZES, 24, sizes, mp_size_bucket, MP_SEC_ANY)

enum mp_section_type {
#define MP_SEC_TYPE_(ID, type, name, record, rule) MP_SEC_##ID = type,
    MP_SECTIONS(MP_SEC_TYPE_)
#undef MP_SEC_TYPE_
};

/* Dense table indexes, and MP_SEC_COUNT, the number of known sections. */
enum mp_section_index {
#define MP_SEC_INDEX_(ID, type, name, record, rule) MP_SECI_##ID,
    MP_SECTIONS(MP_SEC_INDEX_)
#undef MP_SEC_INDEX_
    MP_SEC_COUNT
};

/* The records of every known section, typed: `const mp_heap_site *heap;
 * size_t n_heap;` and so on. The writer takes an mp_sections; the
 * analyzer's mp_snapshot has the same members (MP_SECTION_FIELD). */
#define MP_SECTION_FIELD(ID, type, name, record, rule) const record *name; size_t n_##name;
typedef struct mp_sections {
    MP_SECTIONS(MP_SECTION_FIELD)
} mp_sections;

/* What the reader checks and says about a section. */
typedef struct mp_section_desc {
    uint32_t type;
    uint32_t record_size;
    enum mp_section_rule rule;
    const char *name;        /* "META", "LOCK_SITES", ... */
} mp_section_desc;

/* The descriptor at table index i < MP_SEC_COUNT. */
static inline const mp_section_desc *mp_section_at(unsigned i)
{
    static const mp_section_desc descs[MP_SEC_COUNT] = {
#define MP_SEC_DESC_(ID, type, name, record, rule) {type, sizeof(record), rule, #ID},
        MP_SECTIONS(MP_SEC_DESC_)
#undef MP_SEC_DESC_
    };
    return &descs[i];
}

/* Table index of a section type, or -1 for a type this build does not know. */
static inline int mp_section_index_of(uint32_t type)
{
    for (unsigned i = 0; i < MP_SEC_COUNT; i++)
        if (mp_section_at(i)->type == type)
            return (int)i;
    return -1;
}

#endif
