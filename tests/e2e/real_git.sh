#!/usr/bin/env bash
# git init, add and commit in a temporary repository, then log, status and
# a second commit: a chain of git processes and helpers, with and without the
# shim. Dates and identities are fixed, so the commit ids (printed) must be
# identical too.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v git >/dev/null || fail "no git (run scripts/setup)"

prepare() {
    mkdir -p src
    for i in $(seq 1 40); do
        seq "$i" $((i * 50)) >"src/file$i.txt"
    done
}
export GIT_AUTHOR_NAME=memprof GIT_AUTHOR_EMAIL=memprof@example.invalid \
    GIT_COMMITTER_NAME=memprof GIT_COMMITTER_EMAIL=memprof@example.invalid \
    GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z' \
    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_PAGER=cat
real_run git 90 prepare -- bash -c '
    set -e
    git init -q -b main repo
    mv src repo/
    cd repo
    git add .
    git commit -q -m "first commit"
    echo more >>src/file1.txt
    git rm -q src/file2.txt
    git commit -q -a -m "second commit"
    git log --format="%H %s"
    git status --porcelain
    git ls-files | wc -l
    git gc -q
    git count-objects -v | grep -v size'
