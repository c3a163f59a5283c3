// C++ frames in text views: OrderBook::add grows a std::vector, so its
// allocation's innermost frames are the standard library's templates
// (allocator, _M_realloc_insert) and OrderBook::add is several frames
// out; index_lambda allocates through a lambda inlined into build_index,
// whose DWARF name alone is a bare "operator()". The LEAK lines give each
// one's bytes at MEMPROF_SAMPLE=1.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

struct Order {
    long id;
    char tag[56];
};

struct OrderBook {
    std::vector<Order> orders;
    __attribute__((noinline)) void add(long id)
    {
        orders.push_back(Order{id, {0}});
    }
};

static std::vector<void *> kept;

__attribute__((noinline)) static size_t build_index(size_t n)
{
    size_t bytes = 0;
    auto grab = [&](size_t s) __attribute__((always_inline)) {
        void *p = malloc(s);
        if (!p)
            abort();
        bytes += s;
        return p;
    };
    for (size_t i = 0; i < n; i++)
        kept.push_back(grab(4096));
    return bytes;
}

int main()
{
    kept.reserve(1000);
    OrderBook *book = new OrderBook;   // leaked: live in the exit snapshot
    for (long i = 0; i < 100000; i++)
        book->add(i);
    size_t lambda_bytes = build_index(1000);
    std::printf("LEAK vector bytes=%zu\n", book->orders.capacity() * sizeof(Order));
    std::printf("LEAK lambda bytes=%zu\n", lambda_bytes);
    std::fflush(stdout);
    return 0;
}
