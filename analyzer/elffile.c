/*
 * elffile.c - opening a snapshot module's ELF file with elfutils, and its
 * function symbols (see elffile.h).
 */
#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "elffile.h"
#include "util.h"

#define DEBUG_ROOT "/usr/lib/debug/.build-id/"

static void load_symbols(mp_elffile *mf);
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink,
                          GElf_Word crc, char **debuginfo_file_name);

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* ---- separate debug files ---- */

/*
 * The .gnu_debuglink file of a module, looked for where elfutils' standard
 * search looks (beside the file, in its .debug/, under /usr/lib/debug),
 * but opened as the snapshot's own paths are: a snapshot names its module
 * files, so whoever wrote it chooses those directories, and elfutils'
 * plain open() of a FIFO planted as "lib.debug" beside a module hung
 * `memprof report` for good. Only a regular file is taken, and only when
 * it is the module's: the same build ID, or without one the debuglink CRC.
 */
/*
 * Whether a candidate without a build ID is worth reading whole for its
 * CRC: an ELF file, not sparse, under MAX_DEBUG_CRC_BYTES. A name the
 * snapshot chooses could be a 20 GB sparse file, which took 38 s to
 * CRC (linear: a 1 TB one, ten minutes) for every command that names
 * frames. The largest debug files of real programs (a browser's) are a
 * few GB, allocated on disk.
 */
#define MAX_DEBUG_CRC_BYTES (8ll << 30)

static bool debug_file_plausible(int fd)
{
    struct stat st;
    unsigned char magic[4];
    if (fstat(fd, &st) != 0 || st.st_size > MAX_DEBUG_CRC_BYTES ||
        (st.st_size > (1 << 20) && (long long)st.st_blocks * 512 < st.st_size / 2))
        return false;
    return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
           memcmp(magic, ELFMAG, SELFMAG) == 0;
}

static bool debug_matches(Dwfl_Module *mod, int fd, GElf_Word crc)
{
    const unsigned char *want;
    GElf_Addr vaddr;
    int want_len = dwfl_module_build_id(mod, &want, &vaddr);
    if (want_len > 0) {
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        const void *got = NULL;
        ssize_t got_len = elf ? dwelf_elf_gnu_build_id(elf, &got) : -1;
        bool same = got_len == want_len && memcmp(got, want, (size_t)want_len) == 0;
        if (elf)
            elf_end(elf);
        return same;
    }
    if (!debug_file_plausible(fd))
        return false;
    unsigned char buf[65536];
    uLong c = crc32(0, Z_NULL, 0);
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
        c = crc32(c, buf, (uInt)n);
        off += n;
    }
    return n == 0 && (GElf_Word)c == crc;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink,
                          GElf_Word crc, char **debuginfo_file_name)
{
    /* The build-ID tree under /usr/lib/debug first: root's, as ever. */
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
                                          crc, debuginfo_file_name);
    if (fd >= 0 || !file_name || file_name[0] != '/' || !debuglink || strchr(debuglink, '/'))
        return fd;
    const char *slash = strrchr(file_name, '/');
    int dir_len = (int)(slash - file_name);
    static const char *const where[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        char path[4096 + 64];
        int n = snprintf(path, sizeof(path), where[i], dir_len, file_name, debuglink);
        if (n <= 0 || (size_t)n >= sizeof(path) || strcmp(path, file_name) == 0)
            continue;
        fd = mp_open_regular(path);
        if (fd < 0)
            continue;
        if (debug_matches(mod, fd, crc)) {
            *debuginfo_file_name = strdup(path);
            return fd;
        }
        close(fd);
    }
    return -1;
}

/*
 * Reports `path` into a fresh Dwfl at bias 0. With a recorded build ID the
 * file is only accepted when its own build ID matches: a library upgraded
 * since the snapshot was taken would otherwise give confidently wrong names.
 */
static bool try_report(mp_elffile *mf, const char *path, const uint8_t *bid, size_t bid_len)
{
    /* paths come from the snapshot, which may be hostile */
    int fd = path && path[0] == '/' ? mp_open_regular(path) : -1;
    if (fd < 0)
        return false;
    Dwfl *dwfl = dwfl_begin(&offline_callbacks);
    if (!dwfl) {
        close(fd);
        return false;
    }
    dwfl_report_begin(dwfl);
    Dwfl_Module *mod = dwfl_report_elf(dwfl, mp_basename(path), path, fd, 0, false);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!mod) {
        close(fd);   /* only consumed on success */
        dwfl_end(dwfl);
        return false;
    }
    if (bid_len) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(mod, &bits, &vaddr);
        if (n != (int)bid_len || memcmp(bits, bid, bid_len) != 0) {
            dwfl_end(dwfl);
            return false;
        }
    }
    mf->dwfl = dwfl;
    mf->mod = mod;
    load_symbols(mf);
    return true;
}

mp_elffile *mp_elffile_open(const char *key, const mp_module *m, const char *path)
{
    mp_elffile *f = mp_xcalloc(1, sizeof(*f));
    f->key = key;
    if (try_report(f, path, m->build_id, m->build_id_len) || m->build_id_len < 2)
        return f;
    /* The file is gone or different: use the distribution's debug file. */
    char debug[sizeof(DEBUG_ROOT) + 2 * sizeof(m->build_id) + 8];
    size_t n = (size_t)snprintf(debug, sizeof(debug), DEBUG_ROOT "%02x/", m->build_id[0]);
    for (uint32_t i = 1; i < m->build_id_len && n + 3 < sizeof(debug); i++)
        n += (size_t)snprintf(debug + n, sizeof(debug) - n, "%02x", m->build_id[i]);
    snprintf(debug + n, sizeof(debug) - n, ".debug");
    try_report(f, debug, m->build_id, m->build_id_len);
    return f;
}

void mp_elffile_free(mp_elffile *f)
{
    if (f->dwfl)
        dwfl_end(f->dwfl);
    free(f->syms);
    free(f);
}

/* ---- function symbols ---- */

/*
 * dwfl_module_addrinfo scans the whole symbol table on every call; with
 * libc's ~10k symbols and thousands of distinct addresses that dominated
 * run time, so each file's function symbols are sorted once and searched.
 */
static int sym_rank(unsigned char info)
{
    switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL: return 0;
    case STB_WEAK: return 1;
    default: return 2;
    }
}

static int cmp_funcsym(const void *a, const void *b)
{
    const mp_funcsym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank - y->rank;
    return strcmp(x->name, y->name);   /* deterministic among aliases */
}

static void load_symbols(mp_elffile *mf)
{
    int n = dwfl_module_getsymtab(mf->mod);
    size_t cap = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(mf->mod, i, &sym, &addr, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !*name || sym.st_shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        mp_grow((void **)&mf->syms, &cap, mf->n_syms + 1, sizeof(mp_funcsym));
        mf->syms[mf->n_syms++] = (mp_funcsym){addr, sym.st_size, name, sym_rank(sym.st_info)};
    }
    if (!mf->n_syms)
        return;
    qsort(mf->syms, mf->n_syms, sizeof(mp_funcsym), cmp_funcsym);
    size_t out = 1;   /* keep the preferred name of each address */
    for (size_t i = 1; i < mf->n_syms; i++)
        if (mf->syms[i].addr != mf->syms[out - 1].addr)
            mf->syms[out++] = mf->syms[i];
    mf->n_syms = out;
}

/* The function containing vaddr; zero-size symbols reach the next one. */
const mp_funcsym *mp_elffile_symbol(const mp_elffile *mf, uint64_t vaddr)
{
    size_t lo = 0, hi = mf->n_syms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mf->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const mp_funcsym *f = &mf->syms[lo - 1];
    return f->size == 0 || vaddr - f->addr < f->size ? f : NULL;
}
