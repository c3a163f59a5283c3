#!/usr/bin/env bash
# posix_memalign and aligned_alloc leaks.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_aligned leak_aligned leak_aligned.c
