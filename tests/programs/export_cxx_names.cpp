// export_cxx_names.cpp - leaks from C++ functions whose demangled names hold
// the characters that exports must escape or keep: < > & , " spaces, and
// parentheses. tests/e2e/export_cxx_names.sh checks that the flame SVG stays
// well-formed, folded lines keep their shape and pprof shows the names.
//
// Each function leaks a known number of bytes (printed as
// "LEAK <tag> bytes=<N>") in blocks of 4 KiB so that exact sampling
// (MEMPROF_SAMPLE=1) gives exact totals.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#define CULPRIT __attribute__((noinline, used))

static void *keep[64];
static size_t n_keep;

namespace {
// "(anonymous namespace)::Box<std::pair<int, char>&>::grow(int)"
template <typename T> struct Box {
    static CULPRIT void grow(int blocks)
    {
        for (int i = 0; i < blocks; i++) {
            void *p = malloc(4096);
            memset(p, 2, 4096);
            keep[n_keep++] = p;
        }
    }
};
}

struct Key {
    int k;
};

// "operator<(Key const&, Key const&)"
CULPRIT bool operator<(const Key &a, const Key &b)
{
    for (int i = 0; i < 3; i++) {
        void *p = malloc(4096);
        memset(p, 3, 4096);
        keep[n_keep++] = p;
    }
    return a.k < b.k;
}

// "operator\"\" _blocks(unsigned long long)"
CULPRIT unsigned long long operator""_blocks(unsigned long long n)
{
    for (unsigned long long i = 0; i < n; i++) {
        void *p = malloc(4096);
        memset(p, 4, 4096);
        keep[n_keep++] = p;
    }
    return n;
}

int main()
{
    Box<std::pair<int, char> &>::grow(5);
    printf("LEAK box bytes=%d\n", 5 * 4096);
    Key a{1}, b{2};
    volatile bool lt = a < b;
    (void)lt;
    printf("LEAK less bytes=%d\n", 3 * 4096);
    volatile unsigned long long n = 7_blocks;
    (void)n;
    printf("LEAK literal bytes=%d\n", 7 * 4096);
    fflush(stdout);
    return 0;
}
