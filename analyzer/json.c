/*
 * json.c - the two JSON helpers every --json output shares.
 *
 * Strings reaching JSON come from snapshots and ELF/DWARF data we do not
 * control (paths, symbol names), so they may hold control characters or
 * bytes that are not UTF-8. The output must stay valid JSON whatever they
 * hold: controls become \u00XX and every byte that is not part of a
 * well-formed UTF-8 sequence becomes U+FFFD.
 */
#include <inttypes.h>
#include <stdio.h>

#include "analyzer.h"

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 when it is not one.
 */
static int utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xbf;   /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)   /* a NUL here fails the check, so no overread */
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

void mp_json_string(FILE *out, const char *str)
{
    if (!str) {
        fputs("null", out);
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    putc('"', out);
    while (*s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            int n = utf8_len(s);
            if (n == 0) {
                fputs("\\ufffd", out);
                n = 1;
            } else {
                fwrite(s, 1, (size_t)n, out);
            }
            s += n;
            continue;
        }
        s++;
    }
    putc('"', out);
}

void mp_json_frames(FILE *out, const mp_symstack *st)
{
    putc('[', out);
    for (size_t i = 0; st && i < st->n; i++) {
        const mp_frame *f = &st->frames[i];
        fputs(i ? ", {\"function\": " : "{\"function\": ", out);
        mp_json_string(out, f->function ? f->function : "??");
        fputs(", \"module\": ", out);
        mp_json_string(out, f->module ? f->module : "??");
        fputs(", \"file\": ", out);
        mp_json_string(out, f->file);
        if (f->file && f->line > 0)
            fprintf(out, ", \"line\": %d", f->line);
        else
            fputs(", \"line\": null", out);
        fprintf(out, ", \"address\": \"0x%" PRIx64 "\"}", f->address);
    }
    putc(']', out);
}
