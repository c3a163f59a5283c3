/*
 * config.c - the MEMPROF_* environment into mp_cfg, once at start-up.
 *
 * Names, defaults, ranges and spellings are include/memprof_options.h's,
 * the same table `memprof run` checks its options against, so a value the
 * launcher passes on is never refused here. A bad value costs one
 * `memprof:` line and keeps the default (SPEC).
 */
#include "shim.h"

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
 * it was told. */
static void set_out_dir(void)
{
    const char *out = getenv(mp_opt_at(MP_OPT_OUT)->env);
    if (!out || !*out)
        out = ".";
    if (out[0] == '/' || !getcwd(mp_cfg.out_dir, sizeof(mp_cfg.out_dir) - 2)) {
        snprintf(mp_cfg.out_dir, sizeof(mp_cfg.out_dir), "%s", out);
    } else {
        size_t n = strlen(mp_cfg.out_dir);
        snprintf(mp_cfg.out_dir + n, sizeof(mp_cfg.out_dir) - n, "/%s", out);
    }
}

void mp_config_read(void)
{
    uint64_t v[MP_OPT_COUNT];
    for (unsigned id = 0; id < MP_OPT_COUNT; id++)
        v[id] = read_opt(id);
    mp_cfg.sample_bytes = v[MP_OPT_SAMPLE];
    mp_cfg.interval_s = (unsigned)v[MP_OPT_INTERVAL];
    mp_cfg.signal = (int)v[MP_OPT_SIGNAL];
    mp_cfg.locks = (int)v[MP_OPT_LOCKS];
    mp_cfg.depth = (int)v[MP_OPT_DEPTH];
    /* Dormant start is not built yet: say so rather than record anyway in
     * silence. */
    if (!v[MP_OPT_START])
        mp_warn("MEMPROF_START=off is not supported by this version yet; recording from "
                "the start");
    set_out_dir();

    const char *prog = program_invocation_short_name;
    snprintf(mp_cfg.prog, sizeof(mp_cfg.prog), "%s", prog && *prog ? prog : "unknown");
    for (char *c = mp_cfg.prog; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
}
