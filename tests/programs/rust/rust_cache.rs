// rust_cache - a Rust program for e2e_real_rust: two threads churn a
// HashMap of Strings (allocations freed again) while the main thread
// leaks PLANTED vectors in leaky_cache_insert, through Vec's inlined
// allocation path (from_elem -> RawVec -> alloc::alloc). Prints what it
// leaked in the tests' "LEAK bytes=N count=M" form.
use std::collections::HashMap;
use std::thread;

const PLANTED: usize = 8192;

#[inline(never)]
fn leaky_cache_insert(cache: &mut Vec<Box<[u8]>>, n: usize) -> usize {
    let mut bytes = 0;
    for i in 0..n {
        let v = vec![(i % 251) as u8 + 1; 4096 + (i % 64) * 16];
        bytes += v.len();
        cache.push(v.into_boxed_slice());
    }
    bytes
}

#[inline(never)]
fn churn(seed: u64) -> u64 {
    let mut m: HashMap<u64, String> = HashMap::new();
    let mut x = seed;
    for i in 0..200_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m.insert(x % 5000, format!("v{}", i));
        if i % 3 == 0 {
            m.remove(&(x % 4999));
        }
    }
    m.values().map(|s| s.len() as u64).sum()
}

fn main() {
    let workers: Vec<_> = (0..2).map(|t| thread::spawn(move || churn(t + 1))).collect();
    let mut cache = Vec::new();
    let bytes = leaky_cache_insert(&mut cache, PLANTED);
    let sum: u64 = workers.into_iter().map(|h| h.join().unwrap()).sum();
    println!("churn {}", sum);
    println!("LEAK bytes={} count={}", bytes, cache.len());
    std::mem::forget(cache);
}
