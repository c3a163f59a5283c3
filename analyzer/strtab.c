/*
 * strtab.c - string interning and symbol-name cleanup (see strtab.h).
 */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "util.h"

/* ---- string interning ---- */

/*
 * Strings live in large chunks that are never moved, so interned pointers
 * stay valid while the index (hashmap.h) grows; entries[id] is string id.
 */
typedef struct strtab_chunk {
    struct strtab_chunk *next;
    size_t used, cap;
    char data[];
} strtab_chunk;

typedef struct strtab_entry {
    const char *s;
    size_t len;
} strtab_entry;

struct mp_strtab {
    mp_hashmap index;
    strtab_entry *entries;
    size_t n, cap;
    strtab_chunk *chunks;
};

mp_strtab *mp_strtab_new(void)
{
    mp_strtab *t = mp_xcalloc(1, sizeof(*t));
    mp_hashmap_init(&t->index, 512);
    return t;
}

void mp_strtab_free(mp_strtab *t)
{
    if (!t)
        return;
    for (strtab_chunk *c = t->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    mp_hashmap_free(&t->index);
    free(t->entries);
    free(t);
}

static char *strtab_store(mp_strtab *t, const char *s, size_t len)
{
    strtab_chunk *c = t->chunks;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > 65536 ? len + 1 : 65536;
        c = mp_xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = t->chunks;
        t->chunks = c;
    }
    char *dst = c->data + c->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    c->used += len + 1;
    return dst;
}

typedef struct strtab_key {
    const mp_strtab *t;
    const char *s;
    size_t len;
} strtab_key;

static bool strtab_eq(const void *ctx, uint32_t id)
{
    const strtab_key *k = ctx;
    const strtab_entry *e = &k->t->entries[id];
    return e->len == k->len && memcmp(e->s, k->s, k->len) == 0;
}

const char *mp_strtab_intern_n(mp_strtab *t, const char *s, size_t len)
{
    strtab_key k = {t, s, len};
    uint64_t h = mp_hashmap_hash_bytes(s, len, 0);
    uint32_t id = mp_hashmap_find(&t->index, h, strtab_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return t->entries[id].s;
    mp_grow((void **)&t->entries, &t->cap, t->n + 1, sizeof(*t->entries));
    const char *stored = strtab_store(t, s, len);
    t->entries[t->n] = (strtab_entry){stored, len};
    mp_hashmap_insert(&t->index, h, (uint32_t)t->n++);
    return stored;
}

const char *mp_strtab_intern(mp_strtab *t, const char *s)
{
    return mp_strtab_intern_n(t, s ? s : "", s ? strlen(s) : 0);
}

/* ---- symbol names ---- */

/* libstdc++'s demangler; the analyzer links libstdc++ for exactly this. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/*
 * Length of the source-level part of a symbol name. Versions
 * ("__libc_start_main@@GLIBC_2.34") and GCC clone suffixes
 * ("msort_with_tmp.part.0", "foo.cold") are cut so one function has one
 * name in reports and stack keys whichever copy of it ran.
 */
static size_t plain_name_len(const char *name)
{
    static const char *const clones[] = {".part.", ".isra.", ".constprop.", ".cold",
                                         ".lto_priv.", ".localalias", ".clone."};
    size_t len = strcspn(name, "@");
    for (const char *dot = strchr(name, '.'); dot && dot < name + len; dot = strchr(dot + 1, '.'))
        for (size_t i = 0; i < sizeof(clones) / sizeof(clones[0]); i++)
            if (dot > name && strncmp(dot, clones[i], strlen(clones[i])) == 0)
                return (size_t)(dot - name);
    return len;
}

const char *mp_strtab_intern_symbol(mp_strtab *t, const char *raw)
{
    if (!raw || !*raw)
        return NULL;
    size_t len = plain_name_len(raw);
    if (len == 0)
        return NULL;
    if (raw[0] != '_' || raw[1] != 'Z')
        return mp_strtab_intern_n(t, raw, len);
    char *plain = mp_xmalloc(len + 1);
    memcpy(plain, raw, len);
    plain[len] = '\0';
    int status = -1;
    char *d = __cxa_demangle(plain, NULL, NULL, &status);
    const char *r = mp_strtab_intern(t, d && status == 0 ? d : plain);
    free(d);
    free(plain);
    return r;
}

const char *mp_strtab_intern_linkage(mp_strtab *t, const char *raw)
{
    size_t len = raw ? plain_name_len(raw) : 0;
    return len ? mp_strtab_intern_n(t, raw, len) : NULL;
}
