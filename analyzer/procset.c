/*
 * procset.c - several snapshot files as one set of processes (procset.h).
 */
#include "procset.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

/* Whether a is a later snapshot of its process than b. */
static int later(const mp_snapshot *a, const mp_snapshot *b)
{
    if (a->meta->seq != b->meta->seq)
        return a->meta->seq > b->meta->seq;
    return a->meta->time_ns > b->meta->time_ns;
}

static size_t index_of_pid(const mp_procset *ps, uint64_t pid)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->snaps[i].meta->pid == pid)
            return i;
    return ps->n;
}

void mp_procset_load(mp_procset *ps, char **paths, size_t n_paths)
{
    ps->snaps = mp_xcalloc(n_paths ? n_paths : 1, sizeof(*ps->snaps));
    ps->paths = mp_xcalloc(n_paths ? n_paths : 1, sizeof(*ps->paths));
    ps->n = 0;
    ps->n_files = n_paths;
    for (size_t f = 0; f < n_paths; f++) {
        mp_snapshot s;
        mp_snapshot_load_or_die(paths[f], &s);
        size_t i = index_of_pid(ps, s.meta->pid);
        if (i == ps->n) {
            ps->n++;
        } else if (later(&s, &ps->snaps[i])) {
            mp_snapshot_free(&ps->snaps[i]);
        } else {
            mp_snapshot_free(&s);
            continue;
        }
        ps->snaps[i] = s;
        ps->paths[i] = paths[f];
    }
}

void mp_procset_free(mp_procset *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        mp_snapshot_free(&ps->snaps[i]);
    free(ps->snaps);
    free(ps->paths);
    ps->snaps = NULL;
    ps->paths = NULL;
    ps->n = 0;
}

const char *mp_procset_describe(const mp_procset *ps, char *buf, size_t len)
{
    if (ps->n_files <= 1)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "%zu process%s (%zu file%s, the latest snapshot of each)", ps->n,
                 ps->n == 1 ? "" : "es", ps->n_files, ps->n_files == 1 ? "" : "s");
    return buf;
}
