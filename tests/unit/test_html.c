/*
 * test_html.c - the HTML page writer embeds the data model so that no
 * string in it can end the <script> element that holds it or open markup.
 *
 * unit-links: memprof_analyzer_core
 *
 * cmd_html_page must write the compiled-in template with the JSON in its
 * data element, every '<', '>' and '&' of the JSON as a \u escape (which
 * JSON.parse turns back into the same characters), everything else byte for
 * byte, and the template's own markup untouched around it.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "html.h"

static char *page_of(const char *json, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    cmd_html_page(m, json, strlen(json));
    fclose(m);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

int main(void)
{
    static const char open_tag[] = "<script type=\"application/json\" id=\"memprof-data\">";
    size_t len;
    char *plain = page_of("{}", &len);
    CHECK(strlen(plain) == len, "the page holds a NUL byte");
    CHECK(strstr(plain, "<!DOCTYPE html>") == plain, "the page does not start with its doctype");
    CHECK(strstr(plain, "@MEMPROF_") == NULL, "a template marker is left in the page");
    CHECK(strstr(plain, "Content-Security-Policy") && strstr(plain, "'sha256-"),
          "the page has no script-hash CSP");
    CHECK(count(plain, "https://") == 0 &&
          count(plain, "http://") == count(plain, "http://www.w3.org/2000/svg"),
          "the page names a URL other than the SVG namespace");
    const char *data = strstr(plain, open_tag);
    CHECK(data && strncmp(data + strlen(open_tag), "{}</script>", 11) == 0,
          "the JSON is not alone in the data element");
    size_t scripts = count(plain, "</script");

    const char *hostile = "{\"function\": \"</script><img src=x onerror=alert(1)><!--<script>"
                          "&amp;\\u003c\", \"x\": \"caf\xc3\xa9 \\\"q\\\" \\\\\"}";
    char *page = page_of(hostile, &len);
    CHECK(count(page, "</script") == scripts, "a string ended a script element");
    CHECK(count(page, "<img") == 0 && count(page, "<!--") == 0, "markup from the JSON is in the page");
    const char *want = "{\"function\": \"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)"
                       "\\u003e\\u003c!--\\u003cscript\\u003e\\u0026amp;\\u003c\", \"x\": "
                       "\"caf\xc3\xa9 \\\"q\\\" \\\\\"}</script>";
    data = strstr(page, open_tag);
    CHECK(data && strncmp(data + strlen(open_tag), want, strlen(want)) == 0,
          "the JSON is not escaped as expected: %.200s", data ? data + strlen(open_tag) : "(none)");
    /* outside the data element the two pages are the same */
    size_t head = (size_t)(strstr(plain, open_tag) - plain) + strlen(open_tag);
    CHECK(strncmp(plain, page, head) == 0, "the template before the data differs");
    CHECK(strcmp(strstr(plain, "{}</script>") + 2, data + strlen(open_tag) + strlen(want) - 9) == 0,
          "the template after the data differs");
    free(plain);
    free(page);
    CHECK_DONE();
}
