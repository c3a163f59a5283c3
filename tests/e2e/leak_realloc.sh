#!/usr/bin/env bash
# Buffers grown by realloc: intermediate blocks are freed, final sizes leak.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_realloc leak_realloc_growth leak_realloc.c
