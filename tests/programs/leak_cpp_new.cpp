// Planted leak: C++ new (objects and arrays) in leak_cpp_new. The function
// has C++ linkage on purpose: the analyzer must demangle it.
#include <cstdlib>
#include <new>

extern "C" {
#include "testprog.h"
}

namespace {
struct Node {
    Node *next;
    char payload[240];
};
}

TP_CULPRIT void leak_cpp_new(tp_tally *t, size_t bytes)
{
    uint64_t seed = 2;
    Node *head = nullptr;
    while (t->bytes < bytes) {
        // Every other object is a Node, the rest char arrays of mixed sizes.
        if (t->count % 2 == 0) {
            Node *n = new Node;
            n->next = head;
            head = n;
            t->bytes += sizeof(Node);
        } else {
            size_t s = tp_mixed_size(&seed);
            char *a = new char[s];
            tp_touch(a, s);
            t->bytes += s;
        }
        t->count++;
    }
    tp_touch(head, sizeof(Node));
}

TP_PLANTED_MAIN(leak_cpp_new)
