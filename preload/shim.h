/*
 * shim.h - the one internal header of libmemprof.so: configuration, shared
 * state, the event type that crosses the rings, and each file's entry points.
 * lockstate.h is the lock profiler's own header, unwind_fast.h the fast
 * unwinder's, format_write.h the snapshot encoder's.
 *
 * Files and what they own (scripts/check-deps keeps their dependencies
 * free of cycles; a file's non-static names carry its prefix, except the
 * interposers, which carry libc's names):
 *   state.c         mp_cfg, mp_state, mp_pid, mp_guard/mp_in_hook, the
 *                   start time, the sharded counters (mp_stat_*)
 *   os.c            clocks (mp_now_ns, mp_realtime_ns), futex, mp_warn,
 *                   descriptors (mp_fd_park, mp_fd_private_table,
 *                   mp_read_small_file), mp_next_symbol, mp_spin_lock
 *   shmem.c         the shim's private memory (mp_pages, mp_reserve)
 *   tick.c          the sampled blocks' clock (mp_tick, mp_tick_ns): the TSC
 *                   scaled to CLOCK_MONOTONIC where the kernel trusts it
 *   config.c        reading MEMPROF_* into mp_cfg (include/memprof_options.h)
 *   init.c          start-up (mp_init, our constructor)
 *   dormant.c       how long the process was dormant (mp_dormant_*)
 *   lifecycle.c     fork handlers, the final snapshot (our destructor),
 *                   the _exit/_Exit/quick_exit/pthread_exit/unshare
 *                   interposers
 *   exec.c          the exec family interposers (execve, execv, execvp,
 *                   execvpe, execl, execle, execlp, fexecve, execveat):
 *                   the image's last snapshot before its exec
 *   malloc_real.c   the real allocator's functions (mp_real)
 *   bootstrap.c     allocation before the real malloc is known (mp_boot_*)
 *   malloc_hooks.c  the malloc family interposers
 *   sampler.c       Poisson byte sampler and Horvitz-Thompson weights
 *   addrset.c       the set of sampled live blocks (mp_addrset_*)
 *   unwind.c        stack capture: the fast walk, libunwind where it
 *                   cannot go (one at a time, its pipe open only then),
 *                   the check mode; the pipe2 interposer
 *   unwind_fast.c   the bounds-checked fast walk, per-thread unwind state
 *   unwind_table.c  compact unwind rules from .eh_frame, and their cache
 *   stacktab.c      lock-free, deduplicating stack table (mp_stack_*)
 *   modules.c       module map with generations, the dlclose interposer
 *   modules_maps.c  the loaded objects from /proc/self/maps, no loader lock
 *   ring.c          per-thread single-producer rings, mp_emit
 *   doorbell.c      waking the collector: producers ring it
 *                   (mp_wake_collector), it sleeps on it (mp_doorbell_*)
 *   thread_count.c  the collector out of glibc's thread count
 *   collector.c     the background thread: its life (lazy start, leaving,
 *                   stopping), its loop: drain, triggers
 *   request.c       requests from `memprof snapshot` and co.: the socket,
 *                   who may ask, the rate limit, pending clients, detach
 *   heap_agg.c      the heap aggregates per stack (mp_heap_agg_*)
 *   heap_peak.c     the high-water mark and its live set (mp_heap_peak_*)
 *   heap_series.c   live heap and RSS over time (mp_heap_series_*)
 *   heap_life.c     lifetimes of the sampled blocks per stack (mp_heap_life_*)
 *   heap_sizes.c    the allocation-size histogram (mp_heap_sizes_*)
 *   heap_fold.c     each heap event to all of the above (mp_heap_fold*)
 *   snapshot.c      building a snapshot file from the aggregates
 *   snapfile.c      the output directory, temp file and final name (safety)
 *   privdrop.c      the setuid family interposers (a server's workers)
 *   sigwatch.c      the snapshot signal's handler; sigaction/signal
 *                   interposers: the program taking MEMPROF_SIGNAL
 *   threadcheck.c   the stat family and opendir interposers: a program
 *                   counting its threads in /proc/self/task finds its own
 *   format_write.c  encoding the snapshot's bytes (format_write.h)
 *   locks.c         the lock profiler's start-up and fork entry points
 *   lock_real.c     the real pthread lock functions (lk_real, lockstate.h)
 *   lock_table.c    which locks were contended (byte map and lk_entry table)
 *   lock_hooks.c    mutex, rwlock and spinlock interposers
 *   lock_acct.c     their slow paths: trylock runs, stacks, contention events
 *   lock_held.c     a thread's holds of tracked locks, its batch of holds
 *   lock_clock.c    the clock of waits and holds (TSC where invariant)
 *   lock_cond.c     condition variable interposers
 *   lockagg.c       the collector's lock totals (mp_lock_aggregate/export)
 *   got.c           `memprof attach`'s GOT patcher (and its dlopen hook)
 *   attach.c        memprof_attach(): the start of an attached process
 *
 * Rules every file follows (the shim lives inside someone else's process):
 *   - never call the interposed allocator; memory comes from shmem.c;
 *   - all TLS is initial-exec (MP_TLS);
 *   - hot paths hold no lock; slow-path locks are mp_spinlock, only tried
 *     (never waited on) where a signal handler could re-enter;
 *   - no I/O outside the collector thread, except the final snapshot at exit
 *     or before an exec.
 */
#ifndef MEMPROF_SHIM_H
#define MEMPROF_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "memprof_format.h"
#include "memprof_options.h"

#define MP_TLS __thread __attribute__((tls_model("initial-exec")))
#define MP_HIDDEN __attribute__((visibility("hidden")))
#define MP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MP_NOINLINE __attribute__((noinline))

/* Defaults and ranges of the settings: include/memprof_options.h. */
#define MP_MAX_DEPTH MP_OPT_DEPTH_MAX
#define MP_DEFAULT_SAMPLE MP_OPT_SAMPLE_DEFAULT
#define MP_DEFAULT_INTERVAL MP_OPT_INTERVAL_DEFAULT
#define MP_DEFAULT_DEPTH MP_OPT_DEPTH_DEFAULT

/* ---- configuration (state.c holds it; config.c fills it at start-up) ---- */
typedef struct mp_config {
    uint64_t sample_bytes;   /* 1 = exact */
    unsigned interval_s;     /* 0 = no periodic snapshots */
    int signal;              /* 0 = none */
    int locks;               /* 0/1 */
    int depth;
    int start;               /* 0: MEMPROF_START=off, dormant until enabled */
    char out_dir[4096];
    bool out_dir_too_long;   /* out_dir is cut short: no snapshot is written */
    bool out_dir_given;      /* MEMPROF_OUT was set, not the working directory */
    char prog[256];
    char malloc_provider[256];   /* the foreign allocator's module, or "" */
} mp_config;
extern mp_config mp_cfg MP_HIDDEN;
/* Fills mp_cfg from the environment; one `memprof:` line per bad value,
 * which then keeps its default. */
void mp_config_read(void) MP_HIDDEN;
/* Fills mp_cfg from `memprof attach`'s configuration: lines of
 * MEMPROF_<NAME>=<value>, the output directory absolute; the rest keep
 * their defaults. -1 (mp_cfg untouched) for an unknown name or a bad value. */
int mp_config_parse_lines(const char *text) MP_HIDDEN;

/* Lifecycle of the shim in this process. DORMANT (MEMPROF_START=off, or
 * `memprof disable`) is READY minus the recording: the hooks take no new
 * samples and time no lock, but frees of blocks sampled before still
 * leave the address set, and the collector answers requests. */
enum { MP_STATE_OFF = 0, MP_STATE_INITIALIZING = 1, MP_STATE_READY = 2, MP_STATE_FINISHED = 3,
       MP_STATE_DORMANT = 4 };
extern _Atomic int mp_state MP_HIDDEN;
/* Set once the process has recorded at all (READY at least once): a
 * dormant process that never was writes no exit snapshot. */
extern _Atomic int mp_recorded MP_HIDDEN;
/* Set once `memprof attach` started the shim here: the snapshots say so,
 * and their start time is the attach's. */
extern _Atomic int mp_attached MP_HIDDEN;
/* READY or DORMANT: set up, the collector running. */
static inline bool mp_profiling(int state)
{
    return state == MP_STATE_READY || state == MP_STATE_DORMANT;
}
extern pid_t mp_pid MP_HIDDEN;            /* pid the shim state belongs to */

/*
 * Per-thread reentrancy depth. Non-zero while the thread runs shim code that
 * might call back into an interposer (libunwind, dlsym, stdio); interposers
 * then pass straight through, untracked.
 */
extern MP_TLS int mp_guard MP_HIDDEN;

static inline bool mp_active(void)
{
    return MP_LIKELY(atomic_load_explicit(&mp_state, memory_order_relaxed) == MP_STATE_READY) &&
           mp_guard == 0;
}

/*
 * Hook slow paths (sampling, untracking, lock accounting) run between
 * mp_hook_enter and mp_hook_leave. A hook that fires on a thread already
 * inside one is a signal handler that interrupted the shim (the shim's own
 * code never allocates or locks there). It must not unwind, since the
 * interrupted code may be inside the unwinder, but it may record through
 * the reentrant paths: mp_emit and the address set protect themselves
 * against nesting. Other guarded code (start-up, the collector thread) is
 * the shim's own business and passes through unrecorded.
 */
extern MP_TLS int mp_in_hook MP_HIDDEN;
/* The fences keep the compiler from moving the marks across the guarded
 * code: a signal handler on this thread must see them. mp_in_hook is set
 * first and cleared last: a handler landing between the two marks must
 * find itself nested (recorded under the unknown stack), not merely
 * guarded (passed through unrecorded: a sample lost without a count). */
static inline void mp_hook_enter(void)
{
    mp_in_hook++;
    atomic_signal_fence(memory_order_seq_cst);
    mp_guard++;
    atomic_signal_fence(memory_order_seq_cst);
}
static inline void mp_hook_leave(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    mp_guard--;
    atomic_signal_fence(memory_order_seq_cst);
    mp_in_hook--;
}
static inline bool mp_nested(void)
{
    return mp_in_hook > 0 &&
           atomic_load_explicit(&mp_state, memory_order_relaxed) == MP_STATE_READY;
}

/* The process the state belongs to is this one, started at realtime_ns
 * (start-up and fork child; state.c). */
void mp_state_own_process(uint64_t realtime_ns) MP_HIDDEN;
uint64_t mp_start_realtime_ns(void) MP_HIDDEN;
/* Dormant time since then (dormant.c): restarted with the process
 * (start-up, fork child, attach: after the state is set), marked at each
 * switch between READY and DORMANT; the snapshots carry the total. */
void mp_dormant_restart(void) MP_HIDDEN;
void mp_dormant_mark(bool dormant) MP_HIDDEN;
uint64_t mp_dormant_ns(void) MP_HIDDEN;

/* ---- start-up (init.c) and the lifecycle (lifecycle.c) ---- */
void mp_init(void) MP_HIDDEN;         /* idempotent, safe from any interposer */
void mp_signal_install(void) MP_HIDDEN;   /* MEMPROF_SIGNAL's handler (sigwatch.c) */
void mp_lifecycle_install(void) MP_HIDDEN;   /* the fork handlers, the real exit calls */
/* The real exit calls alone (an inert image passes them through too). */
void mp_lifecycle_resolve(void) MP_HIDDEN;
/* exec.c: the real exec functions resolved now. */
void mp_exec_install(void) MP_HIDDEN;
/* threadcheck.c: the real stat family and opendir resolved now. */
void mp_threadcheck_install(void) MP_HIDDEN;

/* ---- the GOT patcher of `memprof attach` (got.c; attach.c starts it) ---- */
bool mp_got_loaded_late(void) MP_HIDDEN;   /* dlopen'd, not preloaded */
/* The real functions from what the program's slots hold (mp_real, the
 * lock table); -1 when the process has no malloc or free to find. */
int mp_got_resolve(void) MP_HIDDEN;
int mp_got_patch(void) MP_HIDDEN;          /* every slot to our hooks; -1: no memory */
bool mp_got_active(void) MP_HIDDEN;        /* patched, not restored */
void mp_got_rescan(void) MP_HIDDEN;        /* patch libraries loaded since */
void mp_got_restore(void) MP_HIDDEN;       /* every slot back (detach) */

/* ---- the operating system (os.c) ---- */
uint64_t mp_now_ns(void) MP_HIDDEN;   /* CLOCK_MONOTONIC */
bool mp_tsc_keeps_time(void) MP_HIDDEN;   /* rdtsc differences are time (os.c) */
/* Moves fd to a high number (close-on-exec), away from the numbers the
 * application uses: programs close descriptors they believe are theirs
 * (bash closes some twice), and a shim descriptor that took such a number
 * would be closed, or its number reused for an application file. Returns
 * the new descriptor, or fd itself when none is free up there, or when
 * the calling thread has a table of its own. */
int mp_fd_park(int fd) MP_HIDDEN;
const char *mp_strerror(int err) MP_HIDDEN;
/* Gives the calling thread (the collector) a descriptor table of its own,
 * without the program's files, /dev/null on 0-2; false when the kernel
 * refuses. mp_warn on such a thread writes to the program's stderr. */
bool mp_fd_private_table(void) MP_HIDDEN;
bool mp_fd_table_private(void) MP_HIDDEN;
/* The definition of name after ours (dlsym RTLD_NEXT), looked up on first
 * use into *slot; NULL when there is none. For the interposers off the hot
 * paths (the malloc family and the locks resolve their own tables). */
void *mp_next_symbol(void *_Atomic *slot, const char *name) MP_HIDDEN;
/* Reads up to cap - 1 bytes of a small file (/proc) into buf and ends
 * them with a NUL; returns the length, or -1. */
ssize_t mp_read_small_file(const char *path, char *buf, size_t cap) MP_HIDDEN;
/* The number after "key:" at the start of a line of /proc/self/status
 * ("Threads", "Seccomp"), or -1 when it cannot be read. */
long mp_proc_status_value(const char *key) MP_HIDDEN;
struct stat;
int mp_fstatat(int dirfd, const char *path, struct stat *st, int flags) MP_HIDDEN;   /* no interposer */
/* futex(2) on a word of our own, private to the process. */
void mp_futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns) MP_HIDDEN;
void mp_futex_wake(_Atomic uint32_t *word) MP_HIDDEN;
uint64_t mp_realtime_ns(void) MP_HIDDEN;
void mp_warn(const char *fmt, ...) MP_HIDDEN __attribute__((format(printf, 1, 2)));

/* ---- the sampled blocks' clock (tick.c) ----
 * mp_tick_ns: CLOCK_MONOTONIC's nanoseconds, read as a bare rdtsc and a
 * multiplication where the kernel keeps time with the TSC (tick.c says
 * how it stays that clock), else mp_now_ns. Read at every sample and
 * every free of a sampled block, where clock_gettime cost as much as all
 * the rest of exact mode. mp_tick: a coarse 32-bit monotonic clock of
 * it for the sampled blocks' births and lifetimes, MP_TICK_NS (65.5 us) a
 * tick, wrapping after 78 hours (a lifetime is measured modulo that). */
extern _Atomic int mp_tick_tsc MP_HIDDEN;   /* the three words below are set */
extern uint64_t mp_tick_ns1 MP_HIDDEN, mp_tick_tsc1 MP_HIDDEN, mp_tick_mult MP_HIDDEN;
void mp_tick_init(void) MP_HIDDEN;           /* start-up: measure the TSC or not */
uint64_t mp_tick_ns_slow(void) MP_HIDDEN;    /* mp_now_ns, and the measurement */
static inline uint64_t mp_tick_ns(void)
{
#if defined(__x86_64__)
    if (MP_LIKELY(atomic_load_explicit(&mp_tick_tsc, memory_order_acquire))) {
        int64_t d = (int64_t)(__builtin_ia32_rdtsc() - mp_tick_tsc1);
        uint64_t cycles = d < 0 ? 0 : (uint64_t)d;   /* another CPU's counter a little behind */
        return mp_tick_ns1 + (uint64_t)(((unsigned __int128)cycles * mp_tick_mult) >> 32);
    }
#endif
    return mp_tick_ns_slow();
}
static inline uint32_t mp_tick(void)
{
    return (uint32_t)(mp_tick_ns() >> MP_TICK_SHIFT);
}
#define MP_LIFETIME_UNKNOWN UINT32_MAX

/* ---- the real allocator (malloc_real.c) ---- */
/* free_sized and free_aligned_sized are C23: older headers lack them. */
typedef struct mp_real_fns {
    typeof(&malloc) malloc;
    typeof(&calloc) calloc;
    typeof(&realloc) realloc;
    typeof(&free) free;
    typeof(&posix_memalign) posix_memalign;
    typeof(&aligned_alloc) aligned_alloc;
    typeof(&memalign) memalign;
    typeof(&valloc) valloc;
    typeof(&pvalloc) pvalloc;
    typeof(&reallocarray) reallocarray;
    void (*free_sized)(void *, size_t);
    void (*free_aligned_sized)(void *, size_t, size_t);
    typeof(&malloc_usable_size) usable_size;
} mp_real_fns;
extern mp_real_fns mp_real MP_HIDDEN;
void mp_resolve_malloc(void) MP_HIDDEN;

/* ---- shim memory (shmem.c) ---- */
/* Zeroed pages from mmap; NULL on failure. Never returned to the host. */
void *mp_pages(size_t bytes) MP_HIDDEN;
void mp_pages_free(void *p, size_t bytes) MP_HIDDEN;
/* Reserve address space lazily backed (MAP_NORESERVE). */
void *mp_reserve(size_t bytes) MP_HIDDEN;

/* ---- bootstrap arena (bootstrap.c) ---- */
#define MP_BOOT_ARENA_SIZE (1u << 20)
extern unsigned char mp_boot_arena[MP_BOOT_ARENA_SIZE] MP_HIDDEN;
void *mp_boot_alloc(size_t size, size_t align) MP_HIDDEN;
/* Inline: every free() asks this first. */
static inline bool mp_boot_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)mp_boot_arena < MP_BOOT_ARENA_SIZE;
}
size_t mp_boot_size(const void *p) MP_HIDDEN;

/* ---- a tiny lock for slow paths (mp_spin_lock: os.c) ---- */
static inline void mp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
typedef struct mp_spinlock { _Atomic int v; } mp_spinlock;
void mp_spin_lock(mp_spinlock *l) MP_HIDDEN;
static inline bool mp_spin_trylock(mp_spinlock *l)
{
    int expected = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}
static inline void mp_spin_unlock(mp_spinlock *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* ---- sampler (sampler.c) ---- */
/* Bytes left before the next sample; the hot path only decrements it. */
extern MP_TLS int64_t mp_sample_countdown MP_HIDDEN;
#define MP_COUNT_ONE 4096  /* fixed-point unit of count weights */
typedef struct mp_weights {
    uint64_t bytes;          /* round(s / p) */
    uint64_t count_fx;       /* round(MP_COUNT_ONE / p) */
} mp_weights;
/* Called when the countdown went <= 0: re-arms it, returns the weights.
 * Exact mode (every allocation, weight one) is answered inline: it is
 * every allocation's call there. */
mp_weights mp_sampler_draw(size_t size) MP_HIDDEN;
static inline mp_weights mp_sampler_fire(size_t size)
{
    if (mp_cfg.sample_bytes <= 1) {
        mp_sample_countdown = 0;
        return (mp_weights){.bytes = size, .count_fx = MP_COUNT_ONE};
    }
    return mp_sampler_draw(size);
}
/* A fork child samples independently of its parent and siblings. */
void mp_sampler_after_fork_child(void) MP_HIDDEN;
/* Pure helpers, unit-tested: */
double mp_sample_probability(double size, double mean) MP_HIDDEN;
mp_weights mp_weights_for(size_t size, uint64_t mean) MP_HIDDEN;
/* Exponential interval with the given mean from a xorshift state. */
int64_t mp_draw_interval(uint64_t *rng, uint64_t mean) MP_HIDDEN;

/* ---- unwinding and stacks (unwind.c, stacktab.c) ---- */
/* Captures the caller's stack (shim frames dropped) into frames[], returns depth. */
void mp_unwind_prepare(void) MP_HIDDEN;
/* Stack id for the current call stack, or MP_OVERFLOW_STACK (counted). */
uint32_t mp_capture_stack(void) MP_HIDDEN;
/* Fork child: the unwinder's locks free, the other threads' state too. */
void mp_unwind_after_fork_child(void) MP_HIDDEN;
/* Inserts (deduplicating) and returns the stack id; MP_OVERFLOW_STACK when full. */
#define MP_OVERFLOW_STACK 0u
uint32_t mp_stack_intern(const uint64_t *frames, uint32_t depth, uint32_t generation) MP_HIDDEN;
uint32_t mp_stack_count(void) MP_HIDDEN;       /* ids are 0 .. count-1 */
/* Returns the stack's frames or NULL if the id is not published yet. */
const uint64_t *mp_stack_get(uint32_t id, uint32_t *depth, uint64_t *hash,
                             uint32_t *generation) MP_HIDDEN;
int mp_stacktab_init(void) MP_HIDDEN;

/* ---- the fast unwinder: its own header, unwind_fast.h (unwind*.c only) ---- */

/* ---- module map (modules.c) ---- */
extern _Atomic uint32_t mp_module_generation MP_HIDDEN;
void mp_modules_refresh(void) MP_HIDDEN;         /* rescan, bump generation on change */
/* Copies the module records out (for a snapshot); strings via callback. */
size_t mp_modules_count(void) MP_HIDDEN;
const mp_module *mp_modules_get(size_t i, const char **path) MP_HIDDEN;
void mp_modules_lock(void) MP_HIDDEN;          /* hold while reading records */
/* Records of unloaded objects forgotten, or objects never recorded, for a
 * full table (modules.c): the snapshot's counters.modules_forgotten. */
uint64_t mp_modules_forgotten(void) MP_HIDDEN;
void mp_modules_unlock(void) MP_HIDDEN;
/* A fork child of a multi-threaded process: nothing here may call
 * dl_iterate_phdr (or libunwind, which does), the loader's list lock may
 * be held forever; module rescans read /proc/self/maps (modules_maps.c). */
bool mp_modules_frozen(void) MP_HIDDEN;
/* Fork prepare: rescans for the child if it will be frozen, then locks. */
void mp_modules_before_fork(bool profiling) MP_HIDDEN;
void mp_modules_after_fork_child(void) MP_HIDDEN;

/* ---- loaded objects from /proc/self/maps (modules_maps.c) ---- */
/* What a frozen process scans instead of dl_iterate_phdr: no loader lock,
 * no stdio, no malloc. The caller owns the scratch (one per concurrent
 * caller: each holds its own lock around the scan). */
typedef struct mp_maps_scratch {
    char buf[8192];                 /* /proc/self/maps, a chunk at a time */
    char name[4096];                /* the candidate's path */
    unsigned char hdr[4096];        /* its ELF header and program headers */
    uint64_t dev, inode, need, seen;
    uintptr_t bias, lo, hi;
    int phnum;
    bool active;
} mp_maps_scratch;
struct dl_phdr_info;
/* Calls cb for every object mapped the way the loader maps one (its ELF
 * header readable at offset 0, every executable PT_LOAD mapped executable
 * from the same file where the header says), like dl_iterate_phdr; dlpi_adds
 * and dlpi_subs are 0. Stops when cb returns non-zero; returns that, or 0,
 * or -1 when /proc/self/maps cannot be read to its end. */
int mp_maps_iterate(mp_maps_scratch *s, int (*cb)(struct dl_phdr_info *, size_t, void *),
                    void *arg) MP_HIDDEN;

/* ---- events and rings (ring.c) ---- */
enum mp_event_type {
    MP_EV_SAMPLE = 1,      /* .heap: a sampled block and its weights */
    MP_EV_FREE = 2,        /* .heap: the same fields as the matching SAMPLE */
    MP_EV_LOCK_WAIT = 3,   /* .wait; lock events from here on (ring.c counts them apart) */
    MP_EV_LOCK_HOLD = 4,   /* .hold */
    MP_EV_LOCK_SITE = 5,   /* .site */
    MP_EV_LOCK_DEAD = 6,   /* .dead: destroyed, the next use is a new lock */
    MP_EV_LOCK_BLAMED = 7, /* .blamed: a WAIT whose holder is known */
    MP_EV_LOCK_HOLDS = 8,  /* .holds */
    MP_EV_LOCK_HOLDHIST = 9 /* .holdhist */
};
/*
 * One event, 32 bytes: the type selects the member of the union. Every
 * lock member starts with the lock's address; kind and gen (the lock's
 * kind and generation) are set on lock events only. lockstate.h says what
 * the lock events mean and how WAIT and HOLD meet.
 */
typedef struct mp_event {
    uint16_t type;
    uint16_t kind;   /* lock events: MP_LOCK_* */
    uint32_t gen;    /* lock events: the generation of the lock at addr */
    union {
        /* ticks: SAMPLE the block's birth (mp_tick), FREE its lifetime in
         * ticks, or MP_LIFETIME_UNKNOWN (a free we did not see happen). */
        struct { uint32_t stack, ticks; uint64_t bytes, count_fx; } heap;
        /* weight_log2: the wait stands for 2^weight_log2 waits like it
         * (short waits are sampled: MP_LOCK_EXACT_LOG2). */
        struct { uint64_t addr; uint32_t stack, seq; uint64_t wait_ns : 60, weight_log2 : 4; } wait;
        /* hold_bucket: 1 + the releasing holder's hold-time bucket
         * (mp_lock_hist_bucket), 0 when it was not timed. */
        struct {
            uint64_t addr;
            uint32_t stack, holder;
            uint64_t wait_ns : 52, weight_log2 : 4, hold_bucket : 8;
        } blamed;
        struct { uint64_t addr; uint32_t stack, seq; uint64_t hold_ns; } hold;
        struct { uint64_t addr; uint32_t stack; } site;
        struct { uint64_t addr; uint64_t holds, hold_ns; } holds;
        struct { uint64_t addr; uint32_t bucket, pad; uint64_t count; } holdhist;
        struct { uint64_t addr; uint64_t acquisitions; } dead;
    };
} mp_event;
_Static_assert(sizeof(mp_event) == 32, "an event is half a cache line");

/* Pushes an event into the calling thread's ring. Never blocks forever:
 * stalls briefly when full, then drops; both are counted. */
bool mp_emit(const mp_event *ev) MP_HIDDEN;
typedef struct mp_ring mp_ring;
/* Bumped by the collector on every pass (ring.c): proof of progress for
 * stalled producers. */
extern _Atomic uint64_t mp_collector_heartbeat MP_HIDDEN;
/* Set by the collector while it sleeps after a pass that drained nothing
 * (ring.c): the next event pushed into an empty ring wakes it. */
extern _Atomic int mp_collector_dozing MP_HIDDEN;

/* ---- the collector's doorbell (doorbell.c) ----
 * Producers wake the sleeping collector with mp_wake_collector (async-
 * signal-safe) when a ring passes half full, stalls or retires. The
 * collector sleeps in mp_doorbell_sleep: poll() on a signalfd for
 * MP_DOORBELL_SIGNAL, sent to its thread alone while mp_collector_asleep;
 * without a private table on a connection to its request socket, or on
 * the futex word mp_collector_wake.
 *
 * The signal: SIGURG. Not one of glibc's own (32, 33), and its default
 * action is to be ignored, so that even a doorbell that reached a thread
 * of the program (it cannot: mp_doorbell_close waits for senders) would
 * do nothing there. The collector blocks it like every signal, so a
 * process-directed SIGURG (out-of-band socket data, to an F_SETOWN owner)
 * still goes to a program thread that does not block it, as without the
 * shim, except that the collector's signalfd may dequeue it first: the
 * first one it reads that is not a doorbell is queued back and the
 * collector stops using the signal (doorbell.c, clear_doorbell).
 * Real-time signals are what programs allocate for
 * themselves (timers, SIGRTMIN+n), and would queue. */
#define MP_DOORBELL_SIGNAL SIGURG
struct pollfd;
/* Set while a collector thread runs: producers wait for space, and ring. */
extern _Atomic int mp_collector_running MP_HIDDEN;
extern _Atomic int mp_collector_asleep MP_HIDDEN;
extern _Atomic uint32_t mp_collector_wake MP_HIDDEN;
void mp_wake_collector(void) MP_HIDDEN;
/* The collector's side: its signalfd (with a private table), its sleep on
 * that and the request fds p[n] (room for one more), its leaving. */
void mp_doorbell_listen(void) MP_HIDDEN;
void mp_doorbell_sleep(struct pollfd *p, int n, int ms, uint32_t seen, bool listening) MP_HIDDEN;
void mp_doorbell_close(void) MP_HIDDEN;
void mp_doorbell_after_fork_child(void) MP_HIDDEN;

/* ---- glibc's thread count (thread_count.c) ---- */
void mp_thread_count_init(void) MP_HIDDEN;
bool mp_thread_count_known(void) MP_HIDDEN;   /* glibc's count was found */
void mp_thread_count_reset(void) MP_HIDDEN;   /* before a collector is created */
void mp_thread_count_out(void) MP_HIDDEN;     /* its creator, after pthread_create */
void mp_thread_count_back_in(void) MP_HIDDEN; /* the collector's last act */
bool mp_thread_count_only_collector_left(void) MP_HIDDEN;   /* without the count */

/* Set by collector.c: a producer calls it for each event pushed while no
 * collector thread runs (full: its ring is full and must be drained). */
extern void (*_Atomic mp_ring_no_collector)(bool full) MP_HIDDEN;
/* Set by collector.c: what it does with each event it drains, which such
 * a producer does itself with each of its events (ring.c). */
extern void (*_Atomic mp_ring_fold)(const mp_event *ev, void *ctx) MP_HIDDEN;
/* Set by collector.c: a thread that has a ring calls it as it ends (its
 * ring's key destructor, before glibc counts the thread out). */
extern void (*_Atomic mp_ring_thread_ending)(void) MP_HIDDEN;
/* Collector side: drains every ring through fn; returns events drained. */
size_t mp_rings_drain(void (*fn)(const mp_event *ev, void *ctx), void *ctx) MP_HIDDEN;
void mp_rings_after_fork_child(void) MP_HIDDEN;
/* Collector side, around its sleep: while it sleeps, a program's only
 * producing thread folds its own events (ring.c, collector_away). */
void mp_rings_collector_sleeps(void) MP_HIDDEN;
void mp_rings_collector_wakes(void) MP_HIDDEN;
/* Low-level SPSC ring, exposed for the unit test. */
mp_ring *mp_ring_new(void) MP_HIDDEN;
bool mp_ring_push(mp_ring *r, const mp_event *ev) MP_HIDDEN;
bool mp_ring_pop(mp_ring *r, mp_event *ev) MP_HIDDEN;
/* Calls fn on up to max events of r, in order, in place; returns how many. */
size_t mp_ring_consume(mp_ring *r, void (*fn)(const mp_event *ev, void *ctx), void *ctx,
                       size_t max) MP_HIDDEN;

/* ---- counters (state.c) ----
 * Sharded by thread: samples, frees and contentions are counted by every
 * thread on its slow paths, and one shared cache line would bounce between
 * cores on every allocation at MEMPROF_SAMPLE=1. Snapshots sum the shards.
 * The first MP_STAT_OWN threads get a shard each, which only they write:
 * their counts are a plain add to memory (one instruction, so a signal
 * handler on the same thread cannot split it), not a locked one (two of
 * the locked instructions of an allocation at MEMPROF_SAMPLE=1). Later
 * threads share the other shards, round robin, with atomic adds. */
typedef struct mp_stats {
    _Atomic uint64_t samples, sampled_frees, events_stalled, events_dropped,
        unwind_failures, unwind_mismatches, stack_table_full, addrset_full, lock_contentions,
        lock_events_dropped, threads_seen;
} mp_stats;
#define MP_STAT_OWN 16      /* shards 0 .. MP_STAT_OWN - 1: one thread's each */
#define MP_STAT_SHARDS 32
typedef struct mp_stats_shard {
    _Alignas(64) mp_stats s;
} mp_stats_shard;
extern mp_stats_shard mp_stats_sh[MP_STAT_SHARDS] MP_HIDDEN;
extern MP_TLS unsigned mp_stat_slot MP_HIDDEN;   /* 1 + this thread's shard; 0 unset */
unsigned mp_stat_slot_assign(void) MP_HIDDEN;
static inline unsigned mp_my_stat_slot(void)
{
    unsigned slot = mp_stat_slot;
    if (MP_UNLIKELY(slot == 0))
        slot = mp_stat_slot_assign();
    return slot;
}
static inline void mp_stat_add1(_Atomic uint64_t *c, bool own)
{
#if defined(__x86_64__)
    if (MP_LIKELY(own)) {
        __asm__ volatile("incq %0" : "+m"(*(uint64_t *)c) : : "cc");
        return;
    }
#else
    (void)own;
#endif
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
#define MP_COUNT(field)                                                           \
    do {                                                                          \
        unsigned mp_slot_ = mp_my_stat_slot();                                    \
        mp_stat_add1(&mp_stats_sh[mp_slot_ - 1].s.field, mp_slot_ <= MP_STAT_OWN); \
    } while (0)
/* The sum over the shards of one counter: MP_STAT_TOTAL(samples). */
uint64_t mp_stat_total(size_t offset) MP_HIDDEN;
#define MP_STAT_TOTAL(field) mp_stat_total(offsetof(mp_stats, field))
void mp_stats_reset(void) MP_HIDDEN;

/* ---- sampled block set (addrset.c) ---- */
typedef struct mp_block {
    uint64_t addr;
    uint32_t stack;
    uint32_t born;           /* mp_tick() when sampled */
    mp_weights w;
} mp_block;
/*
 * Fast filter, consulted by every free(): a clear bit means the address was
 * certainly never sampled. 64 Ki bits (8 KiB, so it stays in L1). The top
 * MP_FILTER_REGION_BITS of the index are address bits 26..28, the region
 * of 64 MiB the block lies in: glibc gives each thread's arena heaps of
 * that size and alignment, so two threads allocating at once in exact
 * mode (MEMPROF_SAMPLE=1) update different filter words, counts and
 * address-set shards (addrset.c) and do not pass their cache lines back
 * and forth on every malloc and free (with two threads on churn that was
 * two fifths of their time). The other 13 bits are address bits 4..16
 * folded with 17..29, so that page-aligned blocks of different pages
 * spread too: a free usually touches memory near recent allocations, so
 * the words it reads are the ones already in cache.
 */
#define MP_FILTER_BITS 16
#define MP_FILTER_REGION_BITS 3
#define MP_FILTER_REGION_SHIFT 26   /* glibc's HEAP_MAX_SIZE: 64 MiB */
extern _Atomic uint64_t mp_filter_bits[(1u << MP_FILTER_BITS) / 64] MP_HIDDEN;
static inline size_t mp_filter_index(const void *p)
{
    enum { LOW_BITS = MP_FILTER_BITS - MP_FILTER_REGION_BITS };
    uintptr_t a = (uintptr_t)p;
    uintptr_t hi = a >> (MP_FILTER_REGION_SHIFT - LOW_BITS);   /* region at bit LOW_BITS */
    size_t low = ((a ^ hi) >> 4) & ((1u << LOW_BITS) - 1);
    return low | (hi & (((1u << MP_FILTER_REGION_BITS) - 1) << LOW_BITS));
}
static inline bool mp_addrset_maybe(const void *p)
{
    size_t i = mp_filter_index(p);
    return (atomic_load_explicit(&mp_filter_bits[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}
/* 0 inserted, 1 replaced a stale entry for the same address (returned in
 * *stale: its free was never seen), -1 no room. */
int mp_addrset_insert(const mp_block *b, mp_block *stale) MP_HIDDEN;
bool mp_addrset_remove(const void *p, mp_block *out) MP_HIDDEN;
void mp_addrset_pin(const void *p) MP_HIDDEN;
void mp_addrset_clear(void) MP_HIDDEN;
int mp_addrset_init(void) MP_HIDDEN;

/* ---- the collector thread (collector.c) ---- */
int mp_collector_start(void) MP_HIDDEN;
void mp_collector_stop(void) MP_HIDDEN;       /* joins, bounded wait */
/* A new attach: the next start schedules from its own MEMPROF_INTERVAL. */
void mp_collector_reset_schedule(void) MP_HIDDEN;
/* A single-threaded program counts its threads: transient collectors only
 * from now on (threadcheck.c calls it). */
void mp_collector_unschedule(void) MP_HIDDEN;
void mp_collector_note_main_exit(void) MP_HIDDEN;
/* The program is about to create a thread: the collector starts. */
void mp_collector_note_thread(void) MP_HIDDEN;
void mp_collector_after_fork_child(void) MP_HIDDEN;
void mp_collector_trigger(int trigger) MP_HIDDEN; /* async-signal-safe */
void mp_collector_drain_now(void) MP_HIDDEN;

/* ---- requests (request.c; the collector thread only) ---- */
#define MP_REQUEST_PENDING_MAX 4
struct pollfd;
void mp_request_open(void) MP_HIDDEN;      /* the listening socket, if not there */
bool mp_request_listening(void) MP_HIDDEN;
/* The socket's and pending clients' pollfds into p (room for
 * MP_REQUEST_PENDING_MAX + 1); *deadline lowered to the first client's. */
int mp_request_pollfds(struct pollfd *p, uint64_t *deadline) MP_HIDDEN;
/* Serves what has come (drain: the collector's, before a snapshot);
 * true when a detach was served: the collector's loop ends. */
bool mp_request_serve(uint64_t now, void (*drain)(void)) MP_HIDDEN;
void mp_request_close(void) MP_HIDDEN;     /* socket and clients: the collector leaves */
void mp_request_after_fork_child(void) MP_HIDDEN;

/* ---- heap aggregates (heap_agg.c): collector-owned, snapshot.c reads ---- */
typedef struct mp_heap_agg {
    int64_t live_samples, live_bytes, live_count_fx;
    uint64_t alloc_samples, alloc_bytes, alloc_count_fx;
} mp_heap_agg;
int mp_heap_agg_init(void) MP_HIDDEN;              /* idempotent; -1: no memory */
mp_heap_agg *mp_heap_agg_get(uint32_t stack) MP_HIDDEN;   /* NULL: out of range */
/* SAMPLE or FREE; returns the live total after it (mp_heap_agg_live_total). */
uint64_t mp_heap_agg_add(const mp_event *ev) MP_HIDDEN;
void mp_heap_agg_after_fork_child(void) MP_HIDDEN;
/* The estimated live heap now (sum over the stacks), never negative. */
uint64_t mp_heap_agg_live_total(void) MP_HIDDEN;

/* ---- peak, series, lifetimes, sizes: collector-owned like heap_agg ---- */
/* Every SAMPLE and FREE to the aggregates, the peak, lifetimes and sizes. */
int mp_heap_fold_init(void) MP_HIDDEN;             /* idempotent; -1: no memory */
void mp_heap_fold(const mp_event *ev) MP_HIDDEN;
void mp_heap_fold_reset(void) MP_HIDDEN;   /* fork child, re-attach */
int mp_heap_peak_init(void) MP_HIDDEN;
/* Called by mp_heap_fold with the live total when it matters: after a
 * SAMPLE was added, before a FREE is subtracted (the live set at a turn). */
void mp_heap_peak_note(const mp_event *ev, uint64_t live) MP_HIDDEN;
/* For a snapshot: the peak record (times settled, RSS read) and the live
 * set at the peak (stack ids of this process; *n records). */
void mp_heap_peak_export(mp_peak *out, const mp_peak_site **sites, size_t *n) MP_HIDDEN;
void mp_heap_peak_reset(void) MP_HIDDEN;
/* Once per collector pass: turns new ticks into times before they wrap. */
void mp_heap_peak_settle(void) MP_HIDDEN;
/* CLOCK_REALTIME of a tick no older than the tick clock's wrap. */
uint64_t mp_tick_to_realtime(uint32_t tick) MP_HIDDEN;

/* One collector pass: adds a point when one is due (no wake-up of its own). */
void mp_heap_series_note(uint64_t now_ns) MP_HIDDEN;
/* When (mp_now_ns clock) the series takes its next point. */
uint64_t mp_heap_series_due(void) MP_HIDDEN;
/* Copies the points, plus one for now, into out[MP_SERIES_MAX + 1]. */
size_t mp_heap_series_export(mp_series_point *out) MP_HIDDEN;
void mp_heap_series_reset(void) MP_HIDDEN;
/* Resident bytes from /proc/self/statm, 0 unknown. */
uint64_t mp_heap_series_rss(void) MP_HIDDEN;

int mp_heap_life_init(void) MP_HIDDEN;
void mp_heap_life_add(const mp_event *ev) MP_HIDDEN;   /* a FREE */
/* A stack id's lifetimes, counts in objects (out->stack untouched);
 * false when none of its blocks' frees was seen. */
bool mp_heap_life_export(uint32_t stack, mp_lifetime_site *out) MP_HIDDEN;
void mp_heap_life_reset(void) MP_HIDDEN;

void mp_heap_sizes_add(const mp_event *ev) MP_HIDDEN;  /* a SAMPLE */
/* Non-empty buckets into out[64]; returns how many. */
size_t mp_heap_sizes_export(mp_size_bucket *out) MP_HIDDEN;
void mp_heap_sizes_reset(void) MP_HIDDEN;

/* ---- snapshots (snapshot.c) ---- */
/* Writes a snapshot now (collector thread or final exit); returns 0 on success
 * and, when path_out is non-NULL, the path written there, or on failure
 * "cannot write snapshot in DIR: reason". */
int mp_write_snapshot(int trigger, char *path_out, size_t path_len) MP_HIDDEN;
void mp_snapshot_reset_seq(void) MP_HIDDEN;

/* ---- snapshot files (snapfile.c): directory, temp file, final name ---- */
void mp_snapfile_note_owner(void) MP_HIDDEN;   /* start-up: the euid files are for */
/* The output directory (or this uid's subdirectory after a privilege drop)
 * as a descriptor, or -1 with errno and why[] (a refusal's reason, or ""). */
int mp_snapfile_open_dir(char *why, size_t cap) MP_HIDDEN;
void mp_snapfile_dir_shown(char *buf, size_t cap) MP_HIDDEN;   /* that directory's path */
/* The first seq >= from whose final name is free in dirfd; 0 with errno
 * (EEXIST: all taken) if none. */
uint32_t mp_snapfile_free_seq(int dirfd, uint32_t from) MP_HIDDEN;
/* Writes data under seq s (final name into name[]); 0 or an errno,
 * EEXIST when the final name was taken meanwhile. */
int mp_snapfile_write(int dirfd, const uint8_t *data, size_t size, uint32_t s, char *name,
                      size_t cap) MP_HIDDEN;
/* Root, about to become uid: creates uid's subdirectory (privdrop.c). */
void mp_snapfile_prepare_uid(uid_t uid, gid_t gid) MP_HIDDEN;

/* ---- locks (locks.c, lockagg.c, lock_acct.c; the rest: lockstate.h) ---- */
/* Waits this long (2^15 ns) and longer are all recorded, shorter ones
 * sampled; the snapshot says so (mp_meta.lock_profiling). */
#define MP_LOCK_EXACT_LOG2 15
/* Contended holds are timed 1 in 2^this (lockstate.h, lk_hold_pick); the
 * snapshot says so (mp_meta.flags, MP_META_HOLD_RATE_SHIFT). */
#define MP_LOCK_HOLD_RATE_LOG2 5
void mp_locks_init(void) MP_HIDDEN;
void mp_locks_after_fork_child(void) MP_HIDDEN;
void mp_lock_aggregate(const mp_event *ev) MP_HIDDEN;   /* collector thread */
/* Snapshot support: fills arrays allocated with mp_pages; returns counts. */
size_t mp_lock_export(mp_lock **locks, mp_lock_site **sites, size_t *n_sites) MP_HIDDEN;
/* The LOCK_HIST records, lock indexes as mp_lock_export numbered them. */
size_t mp_lock_export_hist(mp_lock_hist **hist) MP_HIDDEN;
void mp_lock_aggregate_reset(void) MP_HIDDEN;   /* fork child */
/* The exiting thread's contention not yet sent and its batch of holds
 * (lock_acct.c, lock_held.c). */
void lk_flush_pending(void) MP_HIDDEN;

#endif
