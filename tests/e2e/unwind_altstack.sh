#!/usr/bin/env bash
# Little stack left (issue 11 item 6): a signal handler that allocates on
# an 8 or 12 KiB alternate stack, and threads with 16-24 KiB stacks, run
# under the shim as they do plainly (the unwinder's buffers are off the
# stack; libunwind runs only with room for it), and the handler's leak is
# still found, exact at MEMPROF_SAMPLE=1.
source "$(dirname "$0")/common.sh"
check_planted_leak unwind_altstack handler_alloc unwind_altstack.c --zero small_stack_work
