#!/usr/bin/env bash
# C++ new (objects and arrays); operator new frames must be dropped and the
# culprit demangled.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_cpp_new leak_cpp_new leak_cpp_new.cpp
