/*
 * frameview.h - which frames the text views show and how their names read
 * (frameview.c): C++ template arguments shortened to "<>" as heaptrack
 * does ("std::vector<>::_M_realloc_insert<>(...)"), and the innermost
 * frames of allocator wrappers (a built-in list, plus --skip REGEX) folded
 * away so that a site starts at the program's own frame. JSON is never
 * affected: it keeps every frame and full names.
 */
#ifndef MEMPROF_FRAMEVIEW_H
#define MEMPROF_FRAMEVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "analyzer.h"

/* The wrappers folded away: the built-in list, plus user_regex (POSIX
 * extended, matched against the whole demangled name) unless NULL; "none"
 * turns the built-in list off. Returns -1 (with one error line) when the
 * regex does not compile. */
int mp_frameview_init(const char *user_regex);
/* Prints the function name shortened. */
void mp_frameview_put_name(FILE *out, const char *function);
/* Index of the first frame to show: past the leading wrapper frames, but
 * never past the last frame. Notes each wrapper folded. */
size_t mp_frameview_first(const mp_symstack *st);
/* One line naming the wrappers folded so far, nothing if none was. */
void mp_frameview_note(FILE *out);

#endif
