"""bench/gen_sql.py ROWS - one transaction inserting ROWS rows, then an
index and two queries; written to stdout for `sqlite3 :memory: < file`."""
import sys

rows = int(sys.argv[1])
out = sys.stdout
out.write("PRAGMA journal_mode=MEMORY;\nBEGIN;\n")
out.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, note TEXT);\n")
x = 12345
for i in range(rows):
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    out.write("INSERT INTO t VALUES(%d,'name-%08x',%d,%d.%02d,'%s');\n"
              % (i, x, x % 997, x % 100000, x % 100, "n" * (x % 40)))
out.write("CREATE INDEX t_grp ON t(grp, name);\nCOMMIT;\n")
out.write("SELECT grp, count(*), sum(val), max(name) FROM t GROUP BY grp ORDER BY 3 DESC LIMIT 5;\n")
out.write("SELECT count(DISTINCT substr(name, 6, 3)) FROM t WHERE note LIKE 'nnn%';\n")
