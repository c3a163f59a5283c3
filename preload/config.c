/*
 * config.c - the MEMPROF_* environment into mp_cfg, once at start-up.
 *
 * Names, defaults, ranges and spellings are include/memprof_options.h's,
 * the same table `memprof run` checks its options against, so a value the
 * launcher passes on is never refused here. A bad value costs one
 * `memprof:` line and keeps the default (SPEC).
 */
#include "shim.h"

#include "memprof_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The default, as the warning about a bad value states it. */
static const char *default_text(unsigned id, char *buf)
{
    const mp_opt_desc *d = mp_opt_at(id);
    if (d->kind == MP_OPTK_SIGNAL)
        return "no signal trigger";
    if (d->kind == MP_OPTK_ONOFF)
        return d->def ? "using on" : "using off";
    memcpy(buf, "using ", 6);
    mp_opt_u64_str(d->def, buf + 6);
    return buf;
}

/* The value of option id from the environment, or its default. */
static uint64_t read_opt(unsigned id)
{
    const mp_opt_desc *d = mp_opt_at(id);
    const char *s = getenv(d->env);
    uint64_t v = d->def;
    if (!s || mp_opt_parse(id, s, &v) == 0)
        return v;
    char expect[MP_OPT_EXPECT_MAX], def[32];
    mp_warn("invalid %s=%s (expected %s), %s", d->env, s, mp_opt_expect(id, expect),
            default_text(id, def));
    return d->def;
}

/* Absolute, so that a program that changes directory still writes where
 * it was told. A path that does not fit (or a working directory too deep
 * for getcwd) is marked too long, never cut short or left relative: a
 * prefix of it, or the relative name taken from "/", is another directory,
 * which snapfile.c would create and write into. out_dir keeps what fits,
 * for the message. */
static void set_out_dir(const char *out)
{
    mp_cfg.out_dir_given = out && *out;
    if (!out || !*out)
        out = ".";
    size_t cap = sizeof(mp_cfg.out_dir);
    int n;
    if (out[0] == '/') {
        n = snprintf(mp_cfg.out_dir, cap, "%s", out);
    } else if (getcwd(mp_cfg.out_dir, cap)) {
        size_t cwd = strlen(mp_cfg.out_dir);
        n = (int)cwd + snprintf(mp_cfg.out_dir + cwd, cap - cwd, "/%s", out);
    } else {
        n = snprintf(mp_cfg.out_dir, cap, "(working directory)/%s", out);
        n = n < (int)cap ? (int)cap : n;   /* unknown: as good as too long */
    }
    /* Each snapshot then says why it was skipped (snapfile.c). */
    mp_cfg.out_dir_too_long = n < 0 || (size_t)n >= cap;
}

/* True when argv[0] no longer reads as a program path: a server that
 * sets its process title (nginx, postgres) writes over argv before a late
 * `memprof attach` reads it ("nginx: master process ..."), and glibc's
 * short name then points into the middle of the title. */
static bool argv0_rewritten(void)
{
    const char *name = program_invocation_name, *short_name = program_invocation_short_name;
    if (!name || !short_name || !*short_name)
        return true;
    const char *slash = strrchr(name, '/');
    return (slash ? slash + 1 : name) != short_name || strchr(short_name, ' ');
}

/* Bytes of the character at s that a file name may keep (1-4), 0 for one
 * it must not: not UTF-8, a control, or a bidi override, which makes a
 * listing show another name than the file's (include/memprof_text.h). */
static size_t name_char_len(const unsigned char *s)
{
    size_t n = mp_utf8_len(s);
    return n && !mp_text_is_control(s, n) && !mp_text_is_bidi(s, n) ? n : 0;
}

/*
 * <prog> as one safe file name component (whoever starts the program
 * chooses argv[0]): no directory, no space, no control character (a
 * newline would split the path `memprof snapshot` prints, an escape would
 * reach the terminal of whoever lists the directory), nothing that is not
 * UTF-8 or reorders what a listing shows, and no leading dot (the shim's
 * own temporary files) or dash (`memprof report *` would take it for an
 * option): each such byte becomes '_'. At most PROG_MAX bytes, cut at a
 * character, so that ".<prog>.<pid>.<16 hex>.mprof.tmp" fits NAME_MAX.
 */
#define PROG_MAX 160

static void prog_sanitize(char *prog)
{
    unsigned char *s = (unsigned char *)prog;
    size_t i = 0;
    while (s[i] && i < PROG_MAX) {
        size_t n = name_char_len(s + i);
        if (n == 1 && (s[i] == '/' || s[i] == ' ' || (i == 0 && (s[i] == '.' || s[i] == '-'))))
            n = 0;
        if (n == 0) {
            s[i++] = '_';
            continue;
        }
        if (i + n > PROG_MAX)
            break;
        i += n;
    }
    s[i] = '\0';
}

/* <prog> of the file names: argv[0]'s basename (SPEC), or the kernel's
 * name for the process (its executable's, up to 15 bytes) where argv[0]
 * was overwritten. */
static void set_prog(void)
{
    char comm[64];
    const char *prog = program_invocation_short_name;
    if (argv0_rewritten()) {
        prog = mp_read_small_file("/proc/self/comm", comm, sizeof(comm)) > 0 ? comm : NULL;
        if (prog)
            comm[strcspn(comm, "\n")] = 0;
    }
    snprintf(mp_cfg.prog, sizeof(mp_cfg.prog), "%s", prog && *prog ? prog : "unknown");
    prog_sanitize(mp_cfg.prog);
}

/* mp_cfg from every option's value and the output directory. */
static void apply(const uint64_t *v, const char *out)
{
    mp_cfg.sample_bytes = v[MP_OPT_SAMPLE];
    mp_cfg.interval_s = (unsigned)v[MP_OPT_INTERVAL];
    mp_cfg.signal = (int)v[MP_OPT_SIGNAL];
    mp_cfg.locks = (int)v[MP_OPT_LOCKS];
    mp_cfg.depth = (int)v[MP_OPT_DEPTH];
    mp_cfg.start = (int)v[MP_OPT_START];
    set_out_dir(out);

    set_prog();
}

void mp_config_read(void)
{
    uint64_t v[MP_OPT_COUNT];
    for (unsigned id = 0; id < MP_OPT_COUNT; id++)
        v[id] = read_opt(id);
    apply(v, getenv(mp_opt_at(MP_OPT_OUT)->env));
}

/* The option whose variable is name[0..n), or MP_OPT_COUNT. */
static unsigned opt_named(const char *name, size_t n)
{
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        const char *env = mp_opt_at(id)->env;
        if (strlen(env) == n && memcmp(env, name, n) == 0)
            return id;
    }
    return MP_OPT_COUNT;
}

int mp_config_parse_lines(const char *text)
{
    uint64_t v[MP_OPT_COUNT];
    char value[sizeof(mp_cfg.out_dir)], out[sizeof(mp_cfg.out_dir)] = "";
    for (unsigned id = 0; id < MP_OPT_COUNT; id++)
        v[id] = mp_opt_at(id)->def;
    while (text && *text) {
        size_t len = strcspn(text, "\n");
        const char *eq = memchr(text, '=', len);
        unsigned id = eq ? opt_named(text, (size_t)(eq - text)) : MP_OPT_COUNT;
        size_t vlen = eq ? len - (size_t)(eq + 1 - text) : 0;
        if (id == MP_OPT_COUNT || vlen >= sizeof(value))
            return -1;
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        if (id == MP_OPT_OUT)
            memcpy(out, value, vlen + 1);
        else if (mp_opt_parse(id, value, &v[id]) != 0)
            return -1;
        text += len + (text[len] == '\n');
    }
    if (out[0] != '/')
        return -1;
    apply(v, out);
    return 0;
}
