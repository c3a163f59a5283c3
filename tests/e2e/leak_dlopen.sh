#!/usr/bin/env bash
# A leak inside a library dlopen'd after the OLD snapshot.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_dlopen leak_in_plugin libplugin.c -- "$TEST_PROGS/libplugin.so"
