/*
 * procset.h - several snapshot files read as one set of processes
 * (procset.c): `report`, `folded` and `pprof` add up every worker of a
 * server. Each process counts once, by its latest snapshot: of several
 * files of one pid, the one with the highest seq (then the latest time).
 */
#ifndef MEMPROF_PROCSET_H
#define MEMPROF_PROCSET_H

#include <stddef.h>

#include "analyzer.h"

typedef struct mp_procset {
    mp_snapshot *snaps;      /* one per process, in the order first given */
    char **paths;            /* the file each came from */
    size_t n;                /* processes */
    size_t n_files;          /* files given */
} mp_procset;

/* Loads every file (exit 2 with one line on the first bad one) and keeps
 * the latest snapshot of each pid. */
void mp_procset_load(mp_procset *ps, char **paths, size_t n_paths);
void mp_procset_free(mp_procset *ps);
/* "3 processes (5 files)" or "" for a single file, for text headers. */
const char *mp_procset_describe(const mp_procset *ps, char *buf, size_t len);

#endif
