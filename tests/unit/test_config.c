/*
 * test_config.c - what `memprof attach` hands the shim: memprof_attach()'s
 * configuration lines, parsed by preload/config.c with the options table
 * (mp_config_parse_lines), and the switch requests of the protocol.
 */
#include <string.h>

#include "check.h"
#include "shim.h"
#include "memprof_protocol.h"

static void reset(void)
{
    memset(&mp_cfg, 0, sizeof(mp_cfg));
    mp_cfg.sample_bytes = 7;   /* a value no parse would set */
}

static void valid(void)
{
    reset();
    int rc = mp_config_parse_lines("MEMPROF_SAMPLE=4096\nMEMPROF_INTERVAL=0\nMEMPROF_LOCKS=0\n"
                                   "MEMPROF_OUT=/tmp/dir with; odd=chars\n");
    CHECK(rc == 0, "valid configuration refused");
    CHECK(mp_cfg.sample_bytes == 4096, "sample %llu", (unsigned long long)mp_cfg.sample_bytes);
    CHECK(mp_cfg.interval_s == 0 && mp_cfg.locks == 0, "interval %u locks %d", mp_cfg.interval_s,
          mp_cfg.locks);
    CHECK(strcmp(mp_cfg.out_dir, "/tmp/dir with; odd=chars") == 0, "out '%s'", mp_cfg.out_dir);
    CHECK(mp_cfg.start == 1 && mp_cfg.depth == MP_OPT_DEPTH_DEFAULT, "defaults not applied");
    CHECK(mp_cfg.prog[0] != '\0', "no program name");

    reset();
    CHECK(mp_config_parse_lines("MEMPROF_OUT=/o\nMEMPROF_SAMPLE=512K") == 0, "suffix, no final newline");
    CHECK(mp_cfg.sample_bytes == 524288 && mp_cfg.interval_s == MP_OPT_INTERVAL_DEFAULT &&
              mp_cfg.locks == 1,
          "sample %llu interval %u", (unsigned long long)mp_cfg.sample_bytes, mp_cfg.interval_s);
}

static void refused(void)
{
    static const char *const bad[] = {
        "",                                           /* no output directory */
        "MEMPROF_SAMPLE=4096\n",                      /* the same */
        "MEMPROF_OUT=relative/dir\n",                 /* not absolute */
        "MEMPROF_OUT=\n",
        "MEMPROF_OUT=/o\nMEMPROF_SAMPLE=0\n",         /* out of range */
        "MEMPROF_OUT=/o\nMEMPROF_SAMPLE=lots\n",
        "MEMPROF_OUT=/o\nMEMPROF_LOCKS=2\n",
        "MEMPROF_OUT=/o\nMEMPROF_BOGUS=1\n",          /* unknown name */
        "MEMPROF_OUT=/o\nMEMPROF_SAMPLE\n",           /* no '=' */
        "MEMPROF_OUT=/o\nmemprof_sample=1\n",         /* names are exact */
        "MEMPROF_OUT=/o\n=1\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reset();
        CHECK(mp_config_parse_lines(bad[i]) == -1, "accepted '%s'", bad[i]);
        CHECK(mp_cfg.sample_bytes == 7 && mp_cfg.out_dir[0] == '\0',
              "'%s' was refused but changed mp_cfg", bad[i]);
    }
    char huge[8192];
    memset(huge, 'a', sizeof(huge));
    memcpy(huge, "MEMPROF_OUT=/", 13);
    huge[sizeof(huge) - 1] = '\0';
    reset();
    CHECK(mp_config_parse_lines(huge) == -1, "an output directory longer than PATH_MAX accepted");
}

static void requests(void)
{
    static const struct { const char *line; enum mp_request r; } cases[] = {
        {"enable\n", MP_REQ_ENABLE}, {"disable\n", MP_REQ_DISABLE}, {"detach\n", MP_REQ_DETACH},
        {"detach", MP_REQ_DETACH}, {"detachx\n", MP_REQ_UNKNOWN}, {"enabl\n", MP_REQ_UNKNOWN},
        {"disable now\n", MP_REQ_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(mp_proto_parse_request(cases[i].line, strlen(cases[i].line)) == cases[i].r,
              "'%s'", cases[i].line);
    char buf[MP_PROTO_MAX_REQUEST];
    for (int r = MP_REQ_UNKNOWN + 1; r < MP_REQ_COUNT; r++) {
        size_t n = mp_proto_format_request((enum mp_request)r, buf);
        CHECK(mp_proto_parse_request(buf, n) == (enum mp_request)r, "round trip of '%s'", buf);
    }
}

int main(void)
{
    valid();
    refused();
    requests();
    CHECK_DONE();
}
