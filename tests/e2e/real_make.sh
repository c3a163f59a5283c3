#!/usr/bin/env bash
# make -j2 building a small multi-file C program (make forks shells and
# compilers in parallel), then running it, with and without the shim.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v make >/dev/null || fail "no make (run scripts/setup)"

prepare() {
    local i
    for i in 1 2 3 4 5 6; do
        printf 'int f%d(int x) { return x * %d + %d; }\n' "$i" "$i" $((i * i)) >"f$i.c"
    done
    cat >main.c <<'C'
#include <stdio.h>
int f1(int), f2(int), f3(int), f4(int), f5(int), f6(int);
int main(void) { printf("%d\n", f1(1) + f2(2) + f3(3) + f4(4) + f5(5) + f6(6)); return 0; }
C
    printf '%s\n' \
        'OBJS = main.o f1.o f2.o f3.o f4.o f5.o f6.o' \
        'prog: $(OBJS)' \
        '	$(CC) -o $@ $(OBJS)' \
        '%.o: %.c' \
        '	$(CC) -O1 -c $< -o $@' \
        'run: prog' \
        '	@./prog' \
        '.PHONY: run' >Makefile
}
real_run make 90 prepare -- make -s -j2 run
