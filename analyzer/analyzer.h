/*
 * analyzer.h - the analyzer's internal types: a validated snapshot in
 * memory, symbolized frames, and the entry point of every command.
 *
 * Data flow: reader.c loads and validates a file into an mp_snapshot (all
 * pointers point into one buffer, every count already checked against its
 * section); symbolize.c turns a stack's raw addresses into mp_frame arrays
 * (inlined frames expanded, allocator and shim frames dropped); sites.c,
 * locktab.c and stacktree.c merge those into sites, locks and call trees;
 * each command (cmd_*.c, see cmd.h and main.c's map of the layers) shows
 * them.
 */
#ifndef MEMPROF_ANALYZER_H
#define MEMPROF_ANALYZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memprof_format.h"

/* Exit statuses, SPEC "Exit status". */
enum { MP_EXIT_OK = 0, MP_EXIT_USAGE = 1, MP_EXIT_BADINPUT = 2, MP_EXIT_GATE = 3 };

typedef struct mp_snapshot {
    char *path;
    uint8_t *data;           /* whole file */
    size_t size;
    /* Every known section, pointing into data (memprof_format.h's
     * MP_SECTIONS: meta, strings/n_strings, modules/n_modules, stacks,
     * frames, heap, locks, lock_sites). An optional section the file does
     * not have is NULL with count 0. */
    struct {
        MP_SECTIONS(MP_SECTION_FIELD)
    };
} mp_snapshot;

/*
 * Loads and fully validates `path`. On failure returns -1 and writes one
 * line (without newline) naming the problem into err; the caller prints
 * "memprof: <path>: <err>" and exits MP_EXIT_BADINPUT.
 */
int mp_snapshot_load(const char *path, mp_snapshot *snap, char *err, size_t errlen);
void mp_snapshot_free(mp_snapshot *snap);
/* Validated string reference; never NULL. */
const char *mp_snapshot_str(const mp_snapshot *snap, uint32_t offset);
/* Convenience: load or print the error and exit(MP_EXIT_BADINPUT). */
void mp_snapshot_load_or_die(const char *path, mp_snapshot *snap);

#define MP_NO_MODULE UINT32_MAX

/* One symbolized frame. Strings are owned by the symbolizer (interned). */
typedef struct mp_frame {
    uint64_t address;        /* raw address as captured */
    const char *function;    /* demangled; "??" when unknown, never NULL */
    const char *system_name; /* the linkage name as the linker knows it
                                ("_ZN3Foo4growEi"; a C function's own name),
                                NULL when unknown */
    int start_line;          /* the function's DW_AT_decl_line, 0 unknown */
    const char *module;      /* module path, "??" when unknown */
    uint32_t module_index;   /* index into the snapshot's modules,
                                MP_NO_MODULE when unknown */
    uint64_t elf_address;    /* the address in the module's ELF file (what
                                `addr2line -e module` takes), 0 when unknown */
    const char *file;        /* NULL when unknown */
    int line;                /* 0 when unknown */
} mp_frame;

typedef struct mp_symstack {
    size_t n;
    mp_frame *frames;        /* innermost first */
    const char *key;         /* interned symbolic identity of the stack,
                                stable across processes and ASLR */
} mp_symstack;

/*
 * The symbolizer caches per module (by build ID, else path) and per stack.
 * Stack lookups for the same snapshot and index return the same object.
 * Symbolization never fails: unknown frames get "??" names.
 */
typedef struct mp_symbolizer mp_symbolizer;
mp_symbolizer *mp_symbolizer_new(void);
void mp_symbolizer_free(mp_symbolizer *sym);
const mp_symstack *mp_symbolize_stack(mp_symbolizer *sym, const mp_snapshot *snap,
                                      uint32_t stack_index);

/* json.c: minimal streaming JSON writer helpers. */
void mp_json_string(FILE *out, const char *s);
void mp_json_frames(FILE *out, const mp_symstack *st);

/* launcher.c's commands: argv[0] is the command name; each returns an exit
 * status. The analysis commands take parsed options instead: see cmd.h. */
int cmd_run(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_attach(int argc, char **argv);    /* cmd_attach.c */
void cmd_run_help(FILE *out);             /* their --help's options */
void cmd_attach_help(FILE *out);
int cmd_detach(int argc, char **argv);    /* cmd_snapshot.c, as the next two */
int cmd_enable(int argc, char **argv);
int cmd_disable(int argc, char **argv);

/* What `run` shares with `attach`: cmd_run.h. */

/* Prints "memprof: ..." to stderr. */
void mp_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
