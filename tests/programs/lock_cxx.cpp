// lock_cxx.cpp - planted contention on C++ locks: std::mutex (through
// std::lock_guard) in cxx_worker_hot and std::shared_mutex taken exclusively
// in cxx_shared_writer. libstdc++ calls pthread_mutex_lock and
// pthread_rwlock_wrlock through the PLT, so the shim must see both.
#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#define NOINLINE __attribute__((noinline, used))

static std::mutex hot;
static std::shared_mutex shared;
static volatile unsigned long counter;

static NOINLINE void spin_work(int n)
{
    for (int i = 0; i < n; i++)
        counter = counter * 2654435761u + 1;
}

NOINLINE void cxx_worker_hot()
{
    std::lock_guard<std::mutex> g(hot);
    spin_work(200);
}

NOINLINE void cxx_shared_writer()
{
    std::unique_lock<std::shared_mutex> g(shared);
    spin_work(200);
}

int main()
{
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([] {
            for (int i = 0; i < 150000; i++) {
                cxx_worker_hot();
                if ((i & 3) == 0)
                    cxx_shared_writer();
            }
        });
    for (auto &t : threads)
        t.join();
    std::printf("done %lu\n", counter);
    return 0;
}
