"""bench/gen_text.py MIB - deterministic, moderately compressible text
(pseudo-random words) of MIB mebibytes on stdout, input for xz."""
import random
import sys

mib = int(sys.argv[1])
rnd = random.Random(42)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 11)))
         for _ in range(5000)]
target = mib << 20
out = sys.stdout
n = 0
while n < target:
    line = " ".join(rnd.choice(words) for _ in range(12)) + " %d\n" % rnd.randint(0, 1 << 30)
    out.write(line)
    n += len(line)
