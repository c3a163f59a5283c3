/*
 * strtab.c - string interning and symbol-name cleanup (see strtab.h).
 */
#include "strtab.h"

#include <stdbool.h>
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
 * ("msort_with_tmp.part.0", "foo.cold"), and LLVM's suffix for a local
 * promoted by ThinLTO (rustc's std, clang -flto=thin: "...E.llvm.1208...",
 * which also keeps the demangler from reading the name) are cut so one
 * function has one name in reports and stack keys whichever copy of it ran.
 */
static size_t plain_name_len(const char *name)
{
    static const char *const clones[] = {".part.", ".isra.", ".constprop.", ".cold",
                                         ".lto_priv.", ".localalias", ".clone.", ".llvm."};
    size_t len = strcspn(name, "@");
    for (const char *dot = strchr(name, '.'); dot && dot < name + len; dot = strchr(dot + 1, '.'))
        for (size_t i = 0; i < sizeof(clones) / sizeof(clones[0]); i++)
            if (dot > name && strncmp(dot, clones[i], strlen(clones[i])) == 0)
                return (size_t)(dot - name);
    return len;
}

/*
 * Rust's legacy mangling is C++'s _ZN...E with a last component
 * "17h<16 hex digits>" (a hash of the crate and the instance) and the
 * characters C++ names cannot hold escaped ("$LT$" for '<', "$u7b$" for
 * '{', ".." for "::"). The demangler reads it as a C++ name; here the hash
 * goes (as rustc-demangle's display and every Rust profiler drop it) and
 * the escapes are decoded: "<alloc::vec::Vec<T> as core::ops::Drop>::drop".
 */
static bool rust_legacy_hash(const char *m, size_t len)
{
    if (len < 20 + 4 || m[len - 1] != 'E' || memcmp(m + len - 20, "17h", 3) != 0)
        return false;
    for (size_t i = len - 17; i < len - 1; i++)
        if (!strchr("0123456789abcdef", m[i]))
            return false;
    return true;
}

static char rust_escape(const char *e, size_t n)
{
    static const struct { const char *code; char c; } codes[] = {
        {"SP", '@'}, {"BP", '*'}, {"RF", '&'}, {"LT", '<'}, {"GT", '>'},
        {"LP", '('}, {"RP", ')'}, {"C", ','},
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strlen(codes[i].code) == n && memcmp(codes[i].code, e, n) == 0)
            return codes[i].c;
    if (n >= 2 && n <= 3 && e[0] == 'u') {   /* $u7b$: a character by its hex code */
        char *end;
        char hex[3] = {e[1], n == 3 ? e[2] : 0, 0};
        long v = strtol(hex, &end, 16);
        if (*end == 0 && v >= 0x20 && v < 0x7f)
            return (char)v;
    }
    return 0;
}

/* In place: "a::b::h0123456789abcdef" -> "a::b", escapes decoded. */
static void rust_legacy_clean(char *d)
{
    char *hash = strrchr(d, ':');
    if (hash && hash - d >= 2 && hash[-1] == ':' && hash[1] == 'h' && strlen(hash + 2) == 16)
        hash[-1] = '\0';
    char *w = d;
    for (const char *r = d; *r;) {
        if (r[0] == '$') {
            const char *end = strchr(r + 1, '$');
            char c = end ? rust_escape(r + 1, (size_t)(end - r - 1)) : 0;
            if (c) {
                *w++ = c;
                r = end + 1;
                continue;
            }
        } else if (r[0] == '.' && r[1] == '.') {
            *w++ = ':';
            *w++ = ':';
            r += 2;
            continue;
        } else if (r[0] == '_' && r[1] == '$' && (r == d || r[-1] == ':')) {
            r++;   /* a component that starts with an escape gets a '_' first */
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/*
 * Rust's v0 mangling ("_RNvNtCs1234_3std2rt19lang_start_internal"), the
 * part of it that names plain paths: a crate root (C, its disambiguator
 * dropped), nested names (N; a closure or shim as {closure#N}). Impls,
 * generic arguments and back-references are left to the caller's raw
 * name: false. rustc-demangle's grammar, https://doc.rust-lang.org/rustc/
 * symbol-mangling/v0.html.
 */
typedef struct v0_in {
    const char *p, *end;
} v0_in;

/* A base-62 number ending in '_' ("_" is 0, "0_" is 1) into *v, which
 * wraps: a disambiguator is a hash, only small ones are printed. */
static bool v0_base62(v0_in *in, unsigned long *v)
{
    *v = 0;
    if (in->p < in->end && *in->p == '_') {
        in->p++;
        return true;
    }
    while (in->p < in->end && *in->p != '_') {
        char c = *in->p++;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10
              : c >= 'A' && c <= 'Z' ? c - 'A' + 36 : -1;
        if (d < 0)
            return false;
        *v = *v * 62 + (unsigned long)d;
    }
    if (in->p >= in->end)
        return false;
    in->p++;
    (*v)++;
    return true;
}

/* [s<base62>] [u] <decimal> [_] <bytes>: the identifier's bytes in
 * (*name, *len), its disambiguator in *dis (0 when none). */
static bool v0_ident(v0_in *in, const char **name, size_t *len, unsigned long *dis)
{
    *dis = 0;
    if (in->p < in->end && *in->p == 's') {
        in->p++;
        if (!v0_base62(in, dis))
            return false;
        (*dis)++;
    }
    if (in->p < in->end && *in->p == 'u')
        return false;   /* punycode */
    size_t n = 0;
    if (in->p >= in->end || *in->p < '0' || *in->p > '9')
        return false;
    while (in->p < in->end && *in->p >= '0' && *in->p <= '9' && n < 4096)
        n = n * 10 + (size_t)(*in->p++ - '0');
    if (in->p < in->end && *in->p == '_')
        in->p++;
    if ((size_t)(in->end - in->p) < n)
        return false;
    *name = in->p;
    *len = n;
    in->p += n;
    return true;
}

static bool v0_path(v0_in *in, mp_strbuf *out, int depth)
{
    if (depth > 64 || in->p >= in->end)
        return false;
    char tag = *in->p++;
    const char *name;
    size_t len;
    unsigned long dis;
    if (tag == 'C')
        return v0_ident(in, &name, &len, &dis) &&
               (mp_strbuf_printf(out, "%.*s", (int)len, name), true);
    if (tag != 'N' || in->p >= in->end)
        return false;
    char ns = *in->p++;
    if (!v0_path(in, out, depth + 1) || !v0_ident(in, &name, &len, &dis))
        return false;
    if (ns >= 'a' && ns <= 'z')   /* a type or value namespace: the name itself */
        mp_strbuf_printf(out, "::%.*s", (int)len, name);
    else   /* C closure, S shim, ... */
        mp_strbuf_printf(out, "::{%s%s%.*s#%lu}", ns == 'C' ? "closure" : ns == 'S' ? "shim" : "?",
                         len ? ":" : "", (int)len, name, dis);
    return true;
}

/* The demangled path of a v0 symbol (plain, len bytes) into out. */
static bool rust_v0(const char *m, size_t len, mp_strbuf *out)
{
    if (len < 3 || m[0] != '_' || m[1] != 'R')
        return false;
    v0_in in = {m + 2, m + len};
    while (in.p < in.end && *in.p >= '0' && *in.p <= '9')
        in.p++;   /* an encoding version */
    mp_strbuf_reset(out);
    /* what may follow the path: the instantiating crate, a vendor suffix */
    return v0_path(&in, out, 0) && (in.p == in.end || *in.p == 'C' || *in.p == '.');
}

const char *mp_strtab_intern_symbol(mp_strtab *t, const char *raw)
{
    if (!raw || !*raw)
        return NULL;
    size_t len = plain_name_len(raw);
    if (len == 0)
        return NULL;
    if (raw[0] == '_' && raw[1] == 'R') {
        mp_strbuf b = {0};
        const char *r = rust_v0(raw, len, &b) ? mp_strtab_intern(t, b.s ? b.s : "")
                                              : mp_strtab_intern_n(t, raw, len);
        mp_strbuf_free(&b);
        return r;
    }
    if (raw[0] != '_' || raw[1] != 'Z')
        return mp_strtab_intern_n(t, raw, len);
    char *plain = mp_xmalloc(len + 1);
    memcpy(plain, raw, len);
    plain[len] = '\0';
    int status = -1;
    char *d = __cxa_demangle(plain, NULL, NULL, &status);
    if (d && status == 0 && rust_legacy_hash(plain, len))
        rust_legacy_clean(d);
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
