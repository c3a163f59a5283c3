/*
 * leaky_server.c - the program scripts/demo profiles.
 *
 * Two worker threads serve fake requests: each request allocates a request
 * buffer, a parsed header table and a response of mixed sizes and frees them
 * all again, so the heap churns hard without growing. One request in a
 * three hundred also stores its response in a cache that is never evicted
 * (cache_insert_leak): a slow leak of a few MiB per second hidden under far
 * more allocation traffic -- what a heap diff is for.
 *
 * usage: leaky_server [SECONDS]   (default 8)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cache_entry {
    struct cache_entry *next;
    uint64_t key;
    size_t len;
    char *value;
} cache_entry;

static cache_entry *cache;
static size_t cache_bytes;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static double run_seconds = 8;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bug: entries go in, nothing ever takes them out. */
static void cache_insert_leak(uint64_t key, const char *response, size_t len)
{
    cache_entry *e = malloc(sizeof(*e));
    char *copy = malloc(len);
    if (!e || !copy)
        abort();
    memcpy(copy, response, len);
    e->key = key;
    e->len = len;
    e->value = copy;
    pthread_mutex_lock(&cache_lock);
    e->next = cache;
    cache = e;
    cache_bytes += sizeof(*e) + len;
    pthread_mutex_unlock(&cache_lock);
}

static char *parse_headers(const char *req, size_t len, size_t *n_out)
{
    size_t n = 8 + len / 256;
    char *table = calloc(n, 64);
    if (!table)
        abort();
    for (size_t i = 0; i < n; i++)
        table[i * 64] = req[i % len];
    *n_out = n;
    return table;
}

static void handle_request(uint64_t *rng)
{
    size_t req_len = 64 + next_rand(rng) % 16384;
    char *req = malloc(req_len);
    if (!req)
        abort();
    memset(req, 'r', req_len);
    size_t n_headers;
    char *headers = parse_headers(req, req_len, &n_headers);
    size_t resp_len = 256 + next_rand(rng) % 8192;
    char *resp = malloc(resp_len);
    if (!resp)
        abort();
    memset(resp, headers[0], resp_len);
    if (next_rand(rng) % 300 == 0)
        cache_insert_leak(next_rand(rng), resp, resp_len);
    free(resp);
    free(headers);
    free(req);
}

static void *worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    double end = now() + run_seconds;
    struct timespec pause = {0, 1000000};
    while (now() < end) {
        for (int i = 0; i < 200; i++)
            handle_request(&rng);
        nanosleep(&pause, NULL);   /* wait for the next batch of requests */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        run_seconds = atof(argv[1]);
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("leaky_server: served for %.0f s, cache holds %zu bytes\n", run_seconds, cache_bytes);
    return 0;
}
