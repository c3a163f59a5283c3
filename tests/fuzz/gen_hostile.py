#!/usr/bin/env python3
"""gen_hostile.py OUTDIR [--scale F] - writes small snapshot files built to
cost a naive analyzer minutes or gigabytes (issue 11 item 5), plus valid but
big and valid but nasty ones. Every file has a correct checksum, so it gets
past the integrity check and reaches the structure checks behind it.

The layout follows include/memprof_format.h (version 1); XXH3_64bits comes
from the system's libxxhash through ctypes. The expected outcome of each
file is in its name: bad-*.mprof must be refused with exit 2, ok-*.mprof
must be read (exit 0) within the e2e test's time and memory limits.
"""
import ctypes
import os
import struct
import sys

MAGIC = b"MEMPROF\0"
HEADER = struct.Struct("<8sIIQQII")          # 40 bytes
SECTION = struct.Struct("<IIQQ")              # 24 bytes
META = struct.Struct("<10Q4I16Q")             # 224 bytes
MODULE = struct.Struct("<6QII32s")            # 88 bytes
STACK = struct.Struct("<QQII")                # 24 bytes
HEAP = struct.Struct("<II6Q")                 # 56 bytes
LOCK = struct.Struct("<QII8Q")                # 80 bytes
LOCK_SITE = struct.Struct("<IIQQ")            # 24 bytes
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
# Frames in a module whose file does not exist cost the analyzer no DWARF
# work, so the big files time the analyzer's own structures; DWARF costs
# ~70 us per distinct libc address here, whatever the file's structure.
NOFILE = "/nonexistent/libhostile.so"
BASE = 0x7f0000000000

_xxh = ctypes.CDLL("libxxhash.so.0")
_xxh.XXH3_64bits.restype = ctypes.c_uint64
_xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


class Strings:
    def __init__(self):
        self.buf = bytearray(b"\0")

    def add(self, s):
        if isinstance(s, str):
            s = s.encode()
        off = len(self.buf)
        self.buf += s + b"\0"
        return off


def meta(strs, prog="hostile", pid=4242, seq=1, sample=1):
    p = strs.add(prog)
    return META.pack(pid, 1, seq, 4, 1_700_000_000 * 10**9, 1_699_999_990 * 10**9,
                     sample, 64, 1, 1, p, strs.add("/bin/" + prog),
                     strs.add(prog), 0, *([0] * 16))


def module(strs, start, end, gen_loaded=1, gen_unloaded=0, path=NOFILE):
    return MODULE.pack(start, end, 0, start, gen_loaded, gen_unloaded,
                       strs.add(path), 0, b"\0" * 32)


def heap(stack, live_bytes=4096, live_count=1):
    return HEAP.pack(stack, 0, 1, live_bytes, live_count, 1, live_bytes, live_count)


def snapshot(sections):
    """sections: list of (type, record_size, bytes) in file order."""
    n = len(sections)
    off = HEADER.size + n * SECTION.size
    off = (off + 7) & ~7
    table, payload = bytearray(), bytearray()
    for typ, rsize, data in sections:
        data = bytes(data)
        pad = (-len(payload)) % 8
        payload += b"\0" * pad
        count = len(data) // rsize if rsize else 0
        table += SECTION.pack(typ, rsize, off + len(payload), count)
        payload += data
    body = table + b"\0" * (((HEADER.size + len(table) + 7) & ~7) - HEADER.size - len(table))
    size = HEADER.size + len(body) + len(payload)
    rest = struct.pack("<II", n, 0) + body + payload
    first = HEADER.pack(MAGIC, 1, HEADER.size, size, 0, 0, 0)[:24]
    tail = rest                      # bytes from offset 32 on, minus the checksum
    whole = bytearray(first + b"\0" * 8 + tail)
    csum = _xxh.XXH3_64bits(bytes(whole[32:]), len(whole) - 32)
    struct.pack_into("<Q", whole, 24, csum)
    return bytes(whole)


def build(strs, m, modules=(), stacks=(), frames=(), heaps=(), locks=(), sites=()):
    return snapshot([
        (1, META.size, m),
        (2, 1, strs.buf),
        (3, MODULE.size, b"".join(modules)),
        (4, STACK.size, b"".join(stacks)),
        (5, 8, b"".join(struct.pack("<Q", f) for f in frames)),
        (6, HEAP.size, b"".join(heaps)),
        (7, LOCK.size, b"".join(locks)),
        (8, LOCK_SITE.size, b"".join(sites)),
    ])


def libc_frames(n, salt=0):
    return [BASE + 0x1000 + ((i * 7919 + salt) % 0x180000) for i in range(n)]


def shared_frames(n_stacks):
    """Every stack is the same 1024-frame range of FRAMES."""
    s = Strings()
    m = meta(s)
    mods = [module(s, BASE, BASE + 0x200000)]
    stacks = [STACK.pack(i, 0, 1024, 1) for i in range(n_stacks)]
    heaps = [heap(i) for i in range(n_stacks)]
    return build(s, m, mods, stacks, libc_frames(1024), heaps)


def overlapping_frames():
    """Stacks whose frame ranges overlap by one frame each."""
    s = Strings()
    m = meta(s)
    stacks = [STACK.pack(i, i * 63, 64, 1) for i in range(2000)]
    return build(s, m, [module(s, BASE, BASE + 0x200000)], stacks,
                 libc_frames(2000 * 63 + 1), [heap(i) for i in range(2000)])


def many_modules(n, same_gen):
    """n modules all spanning the whole address space; with same_gen they
    are all loaded at once (impossible), else each one replaces the last."""
    s = Strings()
    m = meta(s)
    mods = [module(s, 0, 2**64 - 1, 1 if same_gen else i + 1,
                   0 if same_gen or i == n - 1 else i + 2)
            for i in range(n)]
    stacks = [STACK.pack(i, i * 16, 16, (i % n) + 1) for i in range(4000)]
    return build(s, m, mods, stacks, libc_frames(4000 * 16),
                 [heap(i) for i in range(4000)])


def distinct_modules(n):
    """n small modules, each with its own (missing) file: one ELF lookup
    each, which must not cost n lookups each."""
    s = Strings()
    m = meta(s)
    mods = [module(s, BASE + i * 0x1000, BASE + i * 0x1000 + 0x1000,
                   path="/nonexistent/lib%d.so" % i) for i in range(n)]
    stacks = [STACK.pack(i, i * 2, 2, 1) for i in range(n)]
    frames = [BASE + (i // 2) * 0x1000 + 0x10 + (i & 1) for i in range(2 * n)]
    return build(s, m, mods, stacks, frames, [heap(i) for i in range(n)])


def lock_file(n_locks, n_sites, shared):
    s = Strings()
    m = meta(s)
    stacks = [STACK.pack(i, i * 4, 4, 1) for i in range(n_sites)]
    per = n_sites if shared else n_sites // n_locks
    locks = [LOCK.pack(0x1000 + 64 * i, 1, i % n_sites, 10, 1000, 100, 0, 0, 0,
                       0 if shared else i * per, per) for i in range(n_locks)]
    sites = [LOCK_SITE.pack(i, 1 + (i & 1), 1, 100 + i) for i in range(n_sites)]
    return build(s, m, [module(s, BASE, BASE + 0x200000)], stacks,
                 libc_frames(4 * n_sites), [heap(i) for i in range(n_sites)], locks, sites)


def overlapping_lock_sites():
    s = Strings()
    m = meta(s)
    stacks = [STACK.pack(i, i * 4, 4, 1) for i in range(100)]
    locks = [LOCK.pack(0x1000 + 64 * i, 1, i, 10, 1000, 100, 0, 0, 0, i * 10, 20)
             for i in range(5)]
    sites = [LOCK_SITE.pack(i, 1, 1, 100) for i in range(100)]
    return build(s, m, [], stacks, libc_frames(400), [], locks, sites)


def long_path(n):
    s = Strings()
    m = meta(s)
    mods = [module(s, BASE, BASE + 0x200000, path="/" + "a" * n)]
    return build(s, m, mods, [STACK.pack(0, 0, 4, 1)], libc_frames(4), [heap(0)])


def long_prog(n):
    s = Strings()
    m = meta(s, prog="p" * n)
    return build(s, m, [module(s, BASE, BASE + 0x200000)], [STACK.pack(0, 0, 4, 1)],
                 libc_frames(4), [heap(0)])


def escapes():
    """Names carrying terminal escape sequences; valid, must print escaped."""
    s = Strings()
    m = meta(s, prog="evil\x1b]0;owned\x07\x1b[2J")
    mods = [module(s, BASE, BASE + 0x200000, path="/tmp/\x1b[31mred\x1b[0m\r.so")]
    stacks = [STACK.pack(0, 0, 2, 1)]
    locks = [LOCK.pack(0x1000, 1, 0, 10, 1000, 100, 0, 0, 0, 0, 1)]
    return build(s, m, mods, stacks, [BASE + 0x100, BASE + 0x200], [heap(0)], locks,
                 [LOCK_SITE.pack(0, 1, 10, 1000)])


def huge_values():
    """Estimates near 2^64 (valid): must not print as negative."""
    s = Strings()
    m = meta(s, sample=2**63)
    stacks = [STACK.pack(0, 0, 2, 1), STACK.pack(1, 2, 2, 1)]
    heaps = [HEAP.pack(0, 0, 1, 2**64 - 1, 2**64 - 1, 1, 2**64 - 1, 2**64 - 1),
             HEAP.pack(1, 0, 1, 2**63 + 5, 3, 1, 2**63, 3)]
    return build(s, m, [module(s, BASE, BASE + 0x200000)], stacks,
                 libc_frames(4), heaps)


def big_valid(n_stacks, depth):
    """Many distinct stacks: the size a real busy process can reach."""
    s = Strings()
    m = meta(s)
    stacks = [STACK.pack(i, i * depth, depth, 1) for i in range(n_stacks)]
    frames = [BASE + 0x1000 + ((i * 104729) % 0x180000) for i in range(n_stacks * depth)]
    return build(s, m, [module(s, BASE, BASE + 0x200000)], stacks, frames,
                 [heap(i, 4096 + i) for i in range(n_stacks)])


def libc_stacks(n):
    """Stacks in the real libc: symbolized with DWARF where installed."""
    s = Strings()
    m = meta(s)
    stacks = [STACK.pack(i, i * 4, 4, 1) for i in range(n)]
    return build(s, m, [module(s, BASE, BASE + 0x200000, path=LIBC)], stacks,
                 libc_frames(4 * n), [heap(i) for i in range(n)])


def process(pid, live):
    """A plain small snapshot of program 'worker' with the given pid."""
    s = Strings()
    m = meta(s, prog="worker", pid=pid)
    return build(s, m, [module(s, BASE, BASE + 0x200000)], [STACK.pack(0, 0, 2, 1)],
                 libc_frames(2), [heap(0, live)])


def big_section_count():
    """A section table claiming 2^32-1 entries; the checksum is right."""
    data = bytearray(build(Strings(), meta(Strings())))
    struct.pack_into("<I", data, 32, 0xffffffff)
    struct.pack_into("<Q", data, 24, _xxh.XXH3_64bits(bytes(data[32:]), len(data) - 32))
    return bytes(data)


def cases(scale):
    k = lambda n: max(1, int(n * scale))
    return {
        "bad-shared-frames.mprof": shared_frames(k(20000)),
        "bad-shared-frames-150k.mprof": shared_frames(k(150000)),
        "bad-overlapping-frames.mprof": overlapping_frames(),
        "bad-modules-same-gen.mprof": many_modules(k(20000), True),
        "ok-modules-generations.mprof": many_modules(k(8000), False),
        "ok-modules-distinct.mprof": distinct_modules(k(40000)),
        "bad-lock-sites-shared.mprof": lock_file(50, k(40000), True),
        "bad-lock-sites-overlap.mprof": overlapping_lock_sites(),
        "ok-lock-sites.mprof": lock_file(50, k(40000), False),
        "ok-one-lock-many-sites.mprof": lock_file(1, k(40000), False),
        "bad-long-path.mprof": long_path(max(8192, k(8 << 20))),
        "bad-long-prog.mprof": long_prog(max(8192, k(1 << 20))),
        "bad-section-count.mprof": big_section_count(),
        "ok-escapes.mprof": escapes(),
        "ok-libc-frames.mprof": libc_stacks(k(2000)),
        "ok-huge-values.mprof": huge_values(),
        "ok-worker-pid1.mprof": process(1001, 4096),
        "ok-worker-pid2.mprof": process(1002, 8192),
        "ok-big-stacks.mprof": big_valid(k(100000), 8),
    }


def main():
    args = sys.argv[1:]
    scale = 1.0
    if "--scale" in args:
        i = args.index("--scale")
        scale = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit("usage: gen_hostile.py OUTDIR [--scale F]")
    os.makedirs(args[0], exist_ok=True)
    for name, data in cases(scale).items():
        with open(os.path.join(args[0], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
