// cgoleak - a Go program with cgo for e2e_real_go: eight goroutines call
// C from Go, churning malloc/free (cgo_churn) and keeping one block per
// call (cgo_leak_block, the planted leak), while allocating on Go's own
// heap so that the garbage collector runs and preempts them. Prints what
// it leaked as "LEAK bytes=N count=M", then reads stdin to its end (a test
// asks for a snapshot meanwhile) and returns from main.
package main

/*
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *cgo_leak_block(size_t n) {
    void *p = malloc(n);
    memset(p, 7, n);
    return p;
}

__attribute__((noinline)) void cgo_churn(int rounds) {
    for (int i = 0; i < rounds; i++) {
        void *p = malloc(64 + (i % 500) * 8);
        memset(p, 1, 64);
        free(p);
    }
}
*/
import "C"

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"
)

var kept []unsafe.Pointer
var mu sync.Mutex

func main() {
	var wg sync.WaitGroup
	total := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				C.cgo_churn(200)
				p := C.cgo_leak_block(C.size_t(8192 + g*16))
				mu.Lock()
				kept = append(kept, p)
				total += 8192 + g*16
				mu.Unlock()
				// Go heap churn too, so the GC runs and preempts (SIGURG).
				s := make([]byte, 64<<10)
				s[0] = byte(i)
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("LEAK bytes=%d count=%d\n", total, len(kept))
	// Until stdin closes: a test asks for a snapshot meanwhile.
	io.Copy(io.Discard, os.Stdin)
}
