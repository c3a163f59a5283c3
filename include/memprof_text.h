/*
 * memprof_text.h - what both halves agree a printable name is. Names come
 * from whoever starts or builds a program (argv[0], symbol names, paths),
 * and reach file names (the shim's <prog>, preload/config.c) and
 * terminals (the analyzer's escaper, analyzer/util.c): one definition of
 * a valid UTF-8 character and of the characters neither may pass.
 */
#ifndef MEMPROF_TEXT_H
#define MEMPROF_TEXT_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1-4), 0 when it is not one:
 * a stray continuation byte, a truncated or overlong sequence, or one
 * past U+10FFFF. */
static inline size_t mp_utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
             : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && c == 0xe0 && s[1] < 0xa0) || (n == 4 && c == 0xf0 && s[1] < 0x90) ||
        (n == 4 && c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* Whether the n-byte character at s (n from mp_utf8_len) is a control:
 * C0, DEL or C1 (U+0080-U+009F), which drive terminals. */
static inline int mp_text_is_control(const unsigned char *s, size_t n)
{
    return (n == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

/* Whether it is a bidirectional override or isolate (U+202A-U+202E,
 * U+2066-U+2069), which make a listing show another order than the
 * bytes'. */
static inline int mp_text_is_bidi(const unsigned char *s, size_t n)
{
    return n == 3 && s[0] == 0xe2 &&
           ((s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) || (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9));
}

#endif
