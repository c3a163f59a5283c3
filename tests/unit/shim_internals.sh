#!/usr/bin/env bash
# shim_internals.sh ARCHIVE 'OBJ;OBJ;...' - the unit tests link the shim's
# internal objects from ARCHIVE (preload/CMakeLists.txt). An interposer in
# there (a default-visibility malloc, pthread_mutex_lock, _exit, ...) would
# silently replace libc's in whichever test pulled its file in, so: every
# global symbol ARCHIVE defines must be hidden, or an mp_* name. The
# interposer objects (the second argument, the files listed as interposers)
# must show at least one such symbol each, or this check has gone blind.
set -euo pipefail
archive=$1
IFS=';' read -r -a interposers <<<"$2"

# Defined global/weak symbols with default visibility that are not mp_*.
exported() {
    readelf -sW "$@" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" &&
                            $7 != "UND" && $8 !~ /^mp_/ {print $8}' | sort -u
}

status=0
bad=$(exported "$archive")
if [[ -n $bad ]]; then
    echo "FAIL: $archive defines exported symbols (interposers?):" $bad
    echo "      their file belongs in MEMPROF_SHIM_INTERPOSER_SOURCES (preload/CMakeLists.txt)"
    status=1
fi
for o in "${interposers[@]}"; do
    if [[ -z $(exported "$o") ]]; then
        echo "FAIL: $o exports no interposer: move its file to MEMPROF_SHIM_INTERNAL_SOURCES"
        echo "      (or this check no longer reads readelf's output right)"
        status=1
    fi
done
[[ $status -eq 0 ]] && echo "ok: $archive exports nothing; ${#interposers[@]} interposer objects checked"
exit $status
