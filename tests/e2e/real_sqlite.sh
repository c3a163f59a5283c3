#!/usr/bin/env bash
# sqlite3 on a 100k-row workload (insert, index, aggregate, join, update,
# delete) in an on-disk database, with and without the shim.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v sqlite3 >/dev/null || fail "no sqlite3 (run scripts/setup)"

prepare() {
    cat >work.sql <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, x % 97, 'name-' || (x * 7919 % 100003), zeroblob(x % 200) FROM c;
CREATE INDEX t_grp ON t(grp, name);
SELECT count(*), sum(length(payload)), count(DISTINCT grp) FROM t;
SELECT grp, count(*), min(name), max(name) FROM t GROUP BY grp ORDER BY count(*) DESC, grp LIMIT 5;
UPDATE t SET name = upper(name) WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
SELECT count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp = b.grp + 1;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name DESC LIMIT 5);
PRAGMA integrity_check;
SQL
}
real_run sqlite 90 prepare -- sh -c 'sqlite3 work.db <work.sql && sqlite3 work.db "SELECT count(*) FROM t"'
