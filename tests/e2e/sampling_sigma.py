#!/usr/bin/env python3
"""sampling_sigma.py - the chance that a sampled e2e accuracy check fails.

Not a test: the arithmetic behind the tolerances of the e2e tests that
compare a sampled estimate with what a test program did. The shim samples
an allocation of s bytes with p = 1 - exp(-s/R) (R = MEMPROF_SAMPLE) and
weights it s/p bytes and 1/p objects (preload/sampler.c), so the estimate
of N allocations has variance sum(s^2 (1-p)/p) in bytes and sum((1-p)/p)
in objects. This replays each program's sizes (its own seeds, the same
xorshift as tests/programs/support/testprog.c) and prints, per check, the
relative standard deviation, the tolerance, the tolerance in standard
deviations and the chance of a false failure (the larger of the normal's
two tails and those of a Poisson count with the same deviation, whose
upper tail is the heavier one), at the rate the test used before and the
one it uses now.
Every check must fail by chance less than once in 10^5 runs.

    python3 tests/e2e/sampling_sigma.py
"""
import math

MASK = (1 << 64) - 1
MiB = 1 << 20
LEAK = 160 * MiB            # TP_LEAK_BYTES


def tp_rand(st):
    x = st[0] or 0x9e3779b97f4a7c15
    x ^= x >> 12
    x ^= (x << 25) & MASK
    x ^= x >> 27
    st[0] = x
    return (x * 0x2545f4914f6cdd1d) & MASK


def mixed(st):
    u = (tp_rand(st) >> 11) / 9007199254740992.0
    return int(16.0 * 2.0 ** (12.0 * u))


def grow(next_size, total=LEAK):
    """The sizes a culprit allocates: next_size() until total is reached."""
    out, n = [], 0
    while n < total:
        out.append(next_size(len(out)))
        n += out[-1]
    return out


def leak_mixed(seed, total=LEAK):
    st = [seed]
    return grow(lambda i: mixed(st), total)


def leak_aligned():
    st = [4]

    def size(i):
        a = (32, 64, 256, 4096)[tp_rand(st) % 4]
        return (mixed(st) + a - 1) // a * a
    return grow(size)


def leak_cpp_new():
    st = [2]
    return grow(lambda i: 248 if i % 2 == 0 else mixed(st))


def leak_realloc():
    # Only the final block of each realloc chain is live in NEW.
    st = [3]
    return grow(lambda i: sum(mixed(st) // 4 + 1 for _ in range(1 + tp_rand(st) % 12)))


def plugin(total=LEAK):
    st = [5]                      # libplugin.c's own xorshift

    def size(i):
        x = st[0]
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        st[0] = x
        return 16 + x % 32768
    return grow(size, total)


def transient_blocks():
    st, per = [6], 512 * MiB // 4096
    return [per // 2 + tp_rand(st) % per for _ in range(4096)]


def temporary_sizes():
    st = [12]
    return [256 + tp_rand(st) % 512 for _ in range(1000000)]


def p_of(s, r):
    return 1.0 if r <= 1 else -math.expm1(-s / r)


def rel_sd_bytes(sizes, r):
    var = sum(s * s * (1 - p_of(s, r)) / p_of(s, r) for s in sizes)
    return math.sqrt(var) / sum(sizes)


def rel_sd_count(sizes, r):
    var = sum((1 - p_of(s, r)) / p_of(s, r) for s in sizes)
    return math.sqrt(var) / len(sizes)


KiB = 1024
# (tests, estimate, sizes, (rate before, rate now), tolerance).
# report_merged: fork_workers' three children inherit the parent's
# sampler state and allocate the same sizes, so they sample the very same
# allocations: the sum of three is three times one estimate, and its
# relative deviation is that of one worker's 32 MiB.
R0 = 512 * KiB                  # the default MEMPROF_SAMPLE
R = 256 * KiB                   # SAMPLED_RATE in common.sh
CASES = [
    ("leak_malloc, export_pprof_heap", "leak_plain_malloc bytes", lambda: leak_mixed(1), (R0, R), 0.25),
    ("leak_threads", "leak_from_thread bytes (50 x 3.2 MiB)",
     lambda: sum((leak_mixed(100 + i, LEAK // 50) for i in range(50)), []), (R0, R), 0.25),
    ("leak_aligned", "leak_aligned bytes", leak_aligned, (R0, R), 0.25),
    ("leak_cpp_new", "leak_cpp_new bytes", leak_cpp_new, (R0, R), 0.25),
    ("leak_realloc", "leak_realloc_growth bytes", leak_realloc, (R0, R), 0.25),
    ("leak_dlopen, attach_leak, attach_dlopen, dormant", "leak_in_plugin bytes", plugin, (R0, R), 0.25),
    ("attach_leak", "leak_after_attach bytes", lambda: leak_mixed(0x5eed), (R0, R), 0.25),
    ("transient_peak", "leak_under_peak bytes", lambda: leak_mixed(7), (R0, R), 0.25),
    ("transient_peak", "transient_peak peak bytes", transient_blocks, (R0, R), 0.25),
    ("unwind_altstack", "handler_alloc bytes (160 MiB of 64 KiB)",
     lambda: [64 * KiB] * (LEAK // (64 * KiB)), (R0, R), 0.25),
    # unwind_smash: its threads' sizes depend on their interleaving; 190
    # MiB of 32..64 KiB blocks, bounded here by 190 MiB of 32 KiB ones
    # (per byte, s (1-p)/p = R - s/2 + ... falls as the block grows).
    ("unwind_smash (bound)", "smashed_alloc bytes (190 MiB)",
     lambda: [32 * KiB] * (190 * MiB // (32 * KiB)), (R0, R), 0.25),
    ("peak_series", "climb_steps peak bytes", lambda: [64 * KiB] * 1920, (R0, R), 0.25),
    ("report_merged", "worker_leak bytes (3 x 32 MiB, correlated)",
     lambda: leak_mixed(21, 32 * MiB), (R0, 64 * KiB), 0.25),
    ("attach_real", "python3 bytearray bytes", lambda: [100000] * 200, (R0, 32 * KiB), 0.25),
]
COUNT_CASES = [
    ("temporary_hotspot", "handle_request count", temporary_sizes, (R0, R), 0.25),
]


def poisson_tail(sd, tol):
    """Both tails for an estimate that is R times a Poisson count (blocks
    far below R), whose upper tail is heavier than the normal's."""
    lam = 1.0 / (sd * sd)
    lo, hi = math.floor(lam * (1 - tol)), math.ceil(lam * (1 + tol))
    pmf = lambda k: math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))
    return sum(pmf(k) for k in range(0, lo + 1)) + sum(pmf(k) for k in range(hi, int(lam * 3) + 50))


def row(test, what, sd, tol):
    k = tol / sd
    tail = max(math.erfc(k / math.sqrt(2)), poisson_tail(sd, tol))
    flag = "" if tail < 1e-5 else "   <-- fails more than once in 10^5"
    print("%-48s %-44s %6.2f%% %4.0f%% %6.1f %9.1e%s" % (test, what, 100 * sd, 100 * tol, k, tail, flag))


def main():
    print("%-48s %-44s %7s %5s %6s %9s" % ("test", "estimate", "sigma", "tol", "tol/sd", "P(fail)"))
    for cases, sd in ((CASES, rel_sd_bytes), (COUNT_CASES, rel_sd_count)):
        for test, what, sizes, rates, tol in cases:
            z = sizes()
            for r in rates:
                row(test, "%s @%dK" % (what, r // KiB), sd(z, r), tol)


if __name__ == "__main__":
    main()
