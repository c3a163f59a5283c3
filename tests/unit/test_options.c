/*
 * test_options.c - the shared parsers of include/: MEMPROF_* values
 * (memprof_options.h, what both the shim and `memprof run` accept) and the
 * request protocol's lines and socket name (memprof_protocol.h).
 *
 * Header-only code, so nothing to link: the test includes exactly what the
 * shim and the analyzer include. Signal numbers are checked against
 * glibc's own names (sigabbrev_np), not against a copy of the table.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "memprof_options.h"
#include "memprof_protocol.h"

/* value -> accepted?, and then as what. */
typedef struct opt_case {
    unsigned id;
    const char *text;
    int ok;
    uint64_t want;
} opt_case;

static void run_cases(const opt_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0xdeadbeef;
        int ok = mp_opt_parse(c[i].id, c[i].text, &v) == 0;
        if (c[i].ok)
            CHECK(ok && v == c[i].want, "%s=%s: got %llu, want %llu", mp_opt_at(c[i].id)->env,
                  c[i].text, (unsigned long long)v, (unsigned long long)c[i].want);
        else
            CHECK(!ok && v == 0xdeadbeef, "%s=%s accepted (%llu)", mp_opt_at(c[i].id)->env,
                  c[i].text, (unsigned long long)v);
    }
}

static void numbers(void)
{
    static const opt_case cases[] = {
        {MP_OPT_SAMPLE, "1", 1, 1},
        {MP_OPT_SAMPLE, "524288", 1, 524288},
        {MP_OPT_SAMPLE, "512K", 1, 524288},
        {MP_OPT_SAMPLE, "512k", 1, 524288},
        {MP_OPT_SAMPLE, "512KiB", 1, 524288},
        {MP_OPT_SAMPLE, "4M", 1, 4u << 20},
        {MP_OPT_SAMPLE, "1024G", 1, 1ull << 40},
        {MP_OPT_SAMPLE, "1025G", 0, 0},
        {MP_OPT_SAMPLE, "0", 0, 0},
        {MP_OPT_SAMPLE, "", 0, 0},
        {MP_OPT_SAMPLE, "K", 0, 0},
        {MP_OPT_SAMPLE, "-1", 0, 0},
        {MP_OPT_SAMPLE, "+1", 0, 0},
        {MP_OPT_SAMPLE, " 1", 0, 0},
        {MP_OPT_SAMPLE, "1e3", 0, 0},
        {MP_OPT_SAMPLE, "12kb", 0, 0},
        {MP_OPT_SAMPLE, "99999999999999999999999", 0, 0},
        {MP_OPT_SAMPLE, "18446744073709551615K", 0, 0},
        {MP_OPT_INTERVAL, "0", 1, 0},
        {MP_OPT_INTERVAL, "31536000", 1, 31536000},
        {MP_OPT_INTERVAL, "31536001", 0, 0},
        {MP_OPT_INTERVAL, "1.5", 0, 0},
        {MP_OPT_INTERVAL, "60K", 0, 0},   /* suffixes are for bytes only */
        {MP_OPT_LOCKS, "0", 1, 0},
        {MP_OPT_LOCKS, "1", 1, 1},
        {MP_OPT_LOCKS, "2", 0, 0},
        {MP_OPT_LOCKS, "yes", 0, 0},
        {MP_OPT_DEPTH, "1", 1, 1},
        {MP_OPT_DEPTH, "256", 1, 256},
        {MP_OPT_DEPTH, "257", 0, 0},
        {MP_OPT_DEPTH, "0", 0, 0},
        {MP_OPT_START, "on", 1, 1},
        {MP_OPT_START, "OFF", 1, 0},
        {MP_OPT_START, "1", 0, 0},
        {MP_OPT_START, "onn", 0, 0},
        {MP_OPT_START, "", 0, 0},
        {MP_OPT_OUT, "/tmp/x", 1, 1},
        {MP_OPT_OUT, "", 1, 0},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Every signal glibc names, under each spelling: USR1 and USR2 come back
 * as their number, every other one is refused by name and by number. */
static void signals(void)
{
    int named = 0;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (!abbrev)
            continue;
        named++;
        int bad = sig != SIGUSR1 && sig != SIGUSR2;
        char signame[32], lower[32], number[16];
        snprintf(signame, sizeof(signame), "SIG%s", abbrev);
        for (size_t i = 0; i <= strlen(abbrev); i++)
            lower[i] = (char)(abbrev[i] >= 'A' && abbrev[i] <= 'Z' ? abbrev[i] + 32 : abbrev[i]);
        snprintf(number, sizeof(number), "%d", sig);
        const char *spellings[] = {abbrev, signame, lower, number};
        for (size_t i = 0; i < 4; i++) {
            int got = mp_opt_signal(spellings[i]);
            CHECK(got == (bad ? -1 : sig), "signal '%s': got %d, want %d", spellings[i], got,
                  bad ? -1 : sig);
        }
    }
    CHECK(named >= 30, "only %d named signals seen", named);
    const opt_case cases[] = {
        {MP_OPT_SIGNAL, "USR2", 1, SIGUSR2},
        {MP_OPT_SIGNAL, "SIGUSR2", 1, SIGUSR2},
        {MP_OPT_SIGNAL, "12", 1, 12},
        {MP_OPT_SIGNAL, "", 1, 0},   /* empty: no signal trigger, not an error */
        {MP_OPT_SIGNAL, "RTMIN", 1, SIGRTMIN},
        {MP_OPT_SIGNAL, "SIGRTMIN+3", 1, SIGRTMIN + 3},
        {MP_OPT_SIGNAL, "RTMAX-1", 1, SIGRTMAX - 1},
        {MP_OPT_SIGNAL, "RTMAX", 1, SIGRTMAX},
        {MP_OPT_SIGNAL, "RTMIN+99", 0, 0},
        {MP_OPT_SIGNAL, "RTMAX+1", 0, 0},
        {MP_OPT_SIGNAL, "RTMIN-1", 0, 0},
        {MP_OPT_SIGNAL, "0", 0, 0},
        {MP_OPT_SIGNAL, "32", 0, 0},   /* glibc's own, below SIGRTMIN */
        {MP_OPT_SIGNAL, "33", 0, 0},
        {MP_OPT_SIGNAL, "HUP", 0, 0},
        {MP_OPT_SIGNAL, "TERM", 0, 0},
        {MP_OPT_SIGNAL, "-12", 0, 0},
        {MP_OPT_SIGNAL, "65", 0, 0},
        {MP_OPT_SIGNAL, "999", 0, 0},
        {MP_OPT_SIGNAL, "SIG", 0, 0},
        {MP_OPT_SIGNAL, "usr2x", 0, 0},
        {MP_OPT_SIGNAL, "FOO", 0, 0},
        {MP_OPT_SIGNAL, "KILL", 0, 0},
        {MP_OPT_SIGNAL, "SIGSTOP", 0, 0},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void table(void)
{
    char buf[MP_OPT_EXPECT_MAX];
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        const mp_opt_desc *d = mp_opt_at(id);
        CHECK(strncmp(d->env, "MEMPROF_", 8) == 0, "option %u: env %s", id, d->env);
        /* The default is itself a valid value (numeric kinds). */
        char def[21];
        uint64_t v;
        if (d->kind == MP_OPTK_UINT || d->kind == MP_OPTK_BYTES)
            CHECK(mp_opt_parse(id, mp_opt_u64_str(d->def, def), &v) == 0 && v == d->def,
                  "%s: default %llu is not valid", d->env, (unsigned long long)d->def);
        CHECK(strlen(mp_opt_expect(id, buf)) > 4, "%s: no expectation text", d->env);
    }
    CHECK(strcmp(mp_opt_expect(MP_OPT_DEPTH, buf), "an integer in 1..256") == 0, "'%s'", buf);
    CHECK(strcmp(mp_opt_u64_str(18446744073709551615ull, buf), "18446744073709551615") == 0,
          "u64 text %s", buf);
    CHECK(strcmp(mp_opt_u64_str(0, buf), "0") == 0, "u64 text %s", buf);
}

static void protocol(void)
{
    struct sockaddr_un sa;
    socklen_t len = mp_proto_address(4242, &sa);
    CHECK(sa.sun_family == AF_UNIX && sa.sun_path[0] == '\0' &&
              memcmp(sa.sun_path + 1, "memprof.4242", 12) == 0 &&
              len == offsetof(struct sockaddr_un, sun_path) + 13,
          "socket address of 4242 (len %u)", (unsigned)len);
    len = mp_proto_address(2147483647, &sa);
    CHECK(memcmp(sa.sun_path + 1, "memprof.2147483647", 18) == 0 &&
              len == offsetof(struct sockaddr_un, sun_path) + 19,
          "socket address of the largest pid");

    char buf[MP_PROTO_MAX_REPLY];
    size_t n = mp_proto_format_request(MP_REQ_SNAPSHOT, buf);
    CHECK(n == 9 && strcmp(buf, "snapshot\n") == 0, "request line '%s'", buf);
    CHECK(mp_proto_parse_request(buf, n) == MP_REQ_SNAPSHOT, "request round trip");
    CHECK(mp_proto_parse_request("snapshot", 8) == MP_REQ_SNAPSHOT, "no newline");
    CHECK(mp_proto_parse_request("snapshotx\n", 10) == MP_REQ_UNKNOWN, "prefix accepted");
    CHECK(mp_proto_parse_request("snap\n", 5) == MP_REQ_UNKNOWN, "short accepted");
    CHECK(mp_proto_parse_request("\n", 1) == MP_REQ_UNKNOWN, "empty accepted");
    CHECK(mp_proto_parse_request("", 0) == MP_REQ_UNKNOWN, "nothing accepted");

    const char *text = NULL;
    n = mp_proto_format_reply(MP_REPLY_OK, "/tmp/a b.mprof", buf);
    CHECK(strcmp(buf, "ok /tmp/a b.mprof\n") == 0, "ok reply '%s'", buf);
    CHECK(mp_proto_parse_reply(buf, n - 1, &text) == MP_REPLY_OK &&
              strncmp(text, "/tmp/a b.mprof", 14) == 0,
          "ok reply round trip");
    n = mp_proto_format_reply(MP_REPLY_ERROR, "two\nlines", buf);
    CHECK(strcmp(buf, "error two lines\n") == 0, "error reply '%s'", buf);
    CHECK(mp_proto_parse_reply(buf, n - 1, &text) == MP_REPLY_ERROR, "error round trip");
    CHECK(mp_proto_parse_reply("okay x", 6, &text) < 0, "'okay' parsed as a reply");
    CHECK(mp_proto_parse_reply("ok", 2, &text) < 0, "'ok' without text parsed");
    /* A text too long is cut, never overruns. */
    static char huge[3 * MP_PROTO_MAX_REPLY];
    memset(huge, 'x', sizeof(huge) - 1);
    n = mp_proto_format_reply(MP_REPLY_OK, huge, buf);
    CHECK(n < MP_PROTO_MAX_REPLY && buf[n - 1] == '\n' && buf[n] == '\0', "long reply %zu", n);
}

int main(void)
{
    numbers();
    signals();
    table();
    protocol();
    CHECK_DONE();
}
