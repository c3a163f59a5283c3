#!/usr/bin/env bash
# Corrupt stacks: threads overwrite their own return address and saved
# frame pointer with garbage (nowhere, below sp, above the stack, heap,
# odd, mid-code, the slot itself) and allocate below that frame. The
# program must finish as it does plainly, and the planted leak in the
# frame under the smashed one is still ranked first, exact at
# MEMPROF_SAMPLE=1 (check_planted_leak).
source "$(dirname "$0")/common.sh"
check_planted_leak unwind_smash smashed_alloc unwind_smash.c
