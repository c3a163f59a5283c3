#!/usr/bin/env bash
# Leaks from 50 short-lived threads that are gone before the NEW snapshot.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_threads leak_from_thread leak_threads.c
