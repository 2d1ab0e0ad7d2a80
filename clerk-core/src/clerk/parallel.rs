//! The analysis' one way of spreading independent rows over threads, with results identical for any count.

/// `f(i, scratch)` for every `i` in `0..n`, in order, on up to `threads` threads. Each thread makes its own
/// scratch with `scratch()` and takes interleaved blocks of `block` rows, so that heavy rows (best sellers,
/// heavy shoppers) spread over the threads; every result lands at its own index.
pub(crate) fn map_indexed<S, T: Send + Default + Clone>(
    n: usize,
    threads: usize,
    block: usize,
    scratch: impl Fn() -> S + Sync,
    f: impl Fn(usize, &mut S) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, 64).min(n.max(1));
    let block = block.max(1);
    if threads == 1 {
        let mut s = scratch();
        return (0..n).map(|i| f(i, &mut s)).collect();
    }
    let (scratch, f) = (&scratch, &f);
    let mut out = vec![T::default(); n];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut s = scratch();
                    let mut part = Vec::new();
                    let mut start = t * block;
                    while start < n {
                        for i in start..(start + block).min(n) {
                            part.push((i, f(i, &mut s)));
                        }
                        start += threads * block;
                    }
                    part
                })
            })
            .collect();
        for h in handles {
            // A worker's panic is the analysis' own: carried on, not turned into rows left empty.
            let part = h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, value) in part {
                out[i] = value;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_in_place_for_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let got = map_indexed(
                1000,
                threads,
                7,
                || 0u32,
                |i, calls| {
                    *calls += 1;
                    i * 2
                },
            );
            assert_eq!(got, (0..1000).map(|i| i * 2).collect::<Vec<_>>(), "{threads} threads");
        }
        assert!(map_indexed(0, 2, 7, || (), |i, _| i).is_empty());
    }
}
