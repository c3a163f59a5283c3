#!/usr/bin/env bash
# Plain malloc leak of mixed sizes.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_malloc leak_plain_malloc leak_malloc.c
