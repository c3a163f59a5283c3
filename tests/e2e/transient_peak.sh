#!/usr/bin/env bash
# A 512 MiB transient peak freed between snapshots must not outrank the real
# (smaller) leak, and must net to zero.
source "$(dirname "$0")/common.sh"
check_planted_leak transient_peak leak_under_peak transient_peak.c --zero transient_peak
