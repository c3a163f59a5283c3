/*
 * frameview.c - text views' frames: shortened C++ names and allocator
 * wrappers folded away (frameview.h).
 */
#include "frameview.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer.h"
#include "util.h"

/*
 * Functions that only pass an allocation on: the allocators of PostgreSQL
 * (palloc, MemoryContextAlloc*, AllocSetAlloc), redis (zmalloc), the JVM
 * (os::malloc, AllocateHeap), OpenSSL (CRYPTO_*alloc), GLib (g_malloc...),
 * nginx (ngx_alloc, ngx_palloc...), the GNU x-wrappers, and the C++
 * standard library's allocation plumbing under a container (allocator,
 * allocator_traits, _M_allocate, _M_create); Rust's global allocator
 * entry points (__rust_alloc...), and below (rust_plumbing) every frame in
 * the sources of Rust's own allocation library.
 */
static const char builtin[] =
    "^(palloc0?|palloc_extended|repalloc|MemoryContextAlloc[A-Za-z]*|AllocSetAlloc|"
    "AllocSetRealloc|GenerationAlloc|SlabAlloc|"
    "zmalloc|zcalloc|zrealloc|ztrymalloc[_a-z]*|ztrycalloc[_a-z]*|zmalloc_usable|"
    "os::malloc|os::realloc|CRYPTO_malloc|CRYPTO_zalloc|CRYPTO_realloc|CRYPTO_clear_realloc|"
    "g_malloc0?|g_malloc_n|g_malloc0_n|g_realloc|g_try_malloc0?|g_slice_alloc0?|"
    "xmalloc|xcalloc|xrealloc|xzalloc|xstrdup|xmemdup|"
    "ngx_alloc|ngx_calloc|ngx_memalign|ngx_palloc|ngx_pnalloc|ngx_pcalloc|"
    "AllocateHeap|ReallocateHeap|"
    "std::__new_allocator<.*>::allocate|__gnu_cxx::new_allocator<.*>::allocate|"
    "std::allocator<.*>::allocate|std::allocator_traits<.*>::allocate|"
    "std::_Vector_base<.*>::_M_allocate|std::__cxx11::basic_string<.*>::_M_create|"
    "__rust_alloc|__rust_alloc_zeroed|__rust_realloc|__rdl_alloc|__rdl_alloc_zeroed|"
    "__rdl_realloc|__rg_alloc|__rg_alloc_zeroed|__rg_realloc)"
    "(\\(.*)?( const)?$";

static regex_t re_builtin, re_user;
static bool use_builtin, use_user, compiled;

#define MAX_NOTED 16
static const char *noted[MAX_NOTED];   /* interned names: compared by pointer */
static size_t n_noted;

/* The built-in list, compiled once; commands that never call
 * mp_frameview_init (locks) get it on first use. */
static void compile_builtin(void)
{
    if (compiled)
        return;
    compiled = true;
    use_builtin = regcomp(&re_builtin, builtin, REG_EXTENDED | REG_NOSUB) == 0;
}

int mp_frameview_init(const char *user_regex)
{
    compile_builtin();
    if (user_regex && strcmp(user_regex, "none") == 0) {
        use_builtin = false;
        return 0;
    }
    if (!user_regex)
        return 0;
    int rc = regcomp(&re_user, user_regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &re_user, why, sizeof(why));
        mp_error("--skip '%s': %s", user_regex, why);
        return -1;
    }
    use_user = true;
    return 0;
}

static bool is_wrapper(const char *fn)
{
    compile_builtin();
    return (use_builtin && regexec(&re_builtin, fn, 0, NULL, 0) == 0) ||
           (use_user && regexec(&re_user, fn, 0, NULL, 0) == 0);
}

static void note(const char *fn)
{
    for (size_t i = 0; i < n_noted; i++)
        if (noted[i] == fn)
            return;
    if (n_noted < MAX_NOTED)
        noted[n_noted++] = fn;
}

static bool is_unnamed(const char *fn)
{
    return !fn[0] || strcmp(fn, "??") == 0;
}

/* A frame of Rust's liballoc (Vec, RawVec, Box, String, alloc::alloc), or
 * of std's System allocator under __rdl_alloc, by its source file: rustc
 * records them as /rustc/<commit>/library/alloc/src/..., and std's inlined
 * functions have only plain DWARF names ("allocate", "alloc_impl"), too
 * common to fold by name. */
static bool rust_plumbing(const mp_frame *f)
{
    const char *lib = f->file ? strstr(f->file, "/library/") : NULL;
    return lib && (strncmp(lib, "/library/alloc/src/", 19) == 0 ||
                   strncmp(lib, "/library/std/src/alloc.rs", 25) == 0 ||
                   strncmp(lib, "/library/std/src/sys/alloc/", 27) == 0);
}

/* The wrapper frames, and unnamed frames below one: a stripped binary
 * names the exported palloc but not the static AllocSetAlloc under it
 * (Debian's postgres), whose frame must go with palloc's. */
size_t mp_frameview_first(const mp_symstack *st)
{
    size_t first = 0;
    for (size_t i = 0; st && i + 1 < st->n; i++) {
        const char *fn = st->frames[i].function;
        if (is_unnamed(fn))
            continue;
        if (!is_wrapper(fn) && !(use_builtin && rust_plumbing(&st->frames[i])))
            break;
        note(fn);
        first = i + 1;
    }
    return first;
}

/* "operator" and the symbol after it, which may hold < and >. */
static const char *put_operator(FILE *out, const char *p)
{
    fputs("operator", out);
    p += 8;
    while (*p && strchr("<>=-", *p))
        fputc(*p++, out);
    return p;
}

/* With bare, the parameter list is left out too. A name that starts with
 * '<' is Rust's qualified path ("<u8 as alloc::vec::SpecFromElem>::
 * from_elem"): those outer brackets name the function's type and stay,
 * the template arguments inside them are shortened. */
static void put_name(FILE *out, const char *fn, bool bare)
{
    int depth = 0;
    bool qualified = fn[0] == '<';
    for (const char *p = fn; *p;) {
        if (qualified && (p == fn || (*p == '>' && depth == 0))) {
            qualified = p == fn;
            fputc(*p++, out);
            continue;
        }
        if (bare && depth == 0 && *p == '(' && p != fn)
            return;
        if (strncmp(p, "operator", 8) == 0 &&
            (p == fn || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            if (depth == 0)
                p = put_operator(out, p);
            else
                p += 8;
            continue;
        }
        if (*p == '<') {
            if (depth++ == 0)
                fputs("<>", out);
        } else if (*p == '>' && depth > 0) {
            depth--;
        } else if (depth == 0) {
            fputc(*p, out);
        }
        p++;
    }
}

/* The shortened name, then escaped as untrusted text: a symbol name is
 * whatever bytes the ELF or DWARF file holds, escape sequences included. */
static void put_name_escaped(FILE *out, const char *fn, bool bare)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        put_name(m, fn, bare);
        if (fclose(m) != 0) {
            free(buf);
            buf = NULL;
        }
    }
    mp_put_text(out, buf ? buf : fn);
    free(buf);
}

void mp_frameview_put_name(FILE *out, const char *fn)
{
    put_name_escaped(out, fn, false);
}

void mp_frameview_note(FILE *out)
{
    if (!n_noted)
        return;
    fputs("allocator wrappers folded away (memprof's list; --skip REGEX adds, --skip none shows "
          "them):", out);
    for (size_t i = 0; i < n_noted; i++) {
        fputs(i ? ", " : " ", out);
        put_name_escaped(out, noted[i], true);
    }
    fputc('\n', out);
}
