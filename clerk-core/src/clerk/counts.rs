//! Pair counts of products, built row by row from sparse incidence matrices (Gustavson's product), in parallel
//! over rows and bit-identical for any thread count.

use serde::{Deserialize, Serialize};
use sprs::CsMat;

/// Full pair counts: row `i` holds `(j, count)` sorted by `j`, `j != i`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PairCounts {
    pub(crate) rows: Vec<Vec<(u32, u32)>>,
}

impl PairCounts {
    /// The count of `(i, j)`.
    pub(crate) fn get(&self, i: u32, j: u32) -> u32 {
        let Some(row) = self.rows.get(i as usize) else { return 0 };
        row.binary_search_by_key(&j, |&(k, _)| k).map_or(0, |at| row[at].1)
    }

    /// Takes one from the count of `(i, j)`, dropping the pair at zero.
    pub(crate) fn remove_one(&mut self, i: u32, j: u32) {
        let Some(row) = self.rows.get_mut(i as usize) else { return };
        if let Ok(at) = row.binary_search_by_key(&j, |&(k, _)| k) {
            row[at].1 -= 1;
            if row[at].1 == 0 {
                row.remove(at);
            }
        }
    }

    /// Adds `by` to the count of `(i, j)`.
    pub(crate) fn add(&mut self, i: u32, j: u32, by: u32) {
        if self.rows.len() <= i as usize {
            self.rows.resize(i as usize + 1, Vec::new());
        }
        let row = &mut self.rows[i as usize];
        match row.binary_search_by_key(&j, |&(k, _)| k) {
            Ok(at) => row[at].1 += by,
            Err(at) => row.insert(at, (j, by)),
        }
    }
}

/// Counts, for every product `i` (outer dimension of `left_t`, the event x product matrix in CSC) and every product `j`, the
/// events holding `i` on the left whose right side (`right`, event x product in CSR) holds `j`: the sparse
/// product `left_t * right` without the diagonal.
pub(crate) fn pair_counts(left_t: &CsMat<u8>, right: &CsMat<u8>, threads: usize) -> PairCounts {
    PairCounts { rows: map_rows(left_t, right, threads, |_, row| row) }
}

/// [`pair_counts`], with each row turned by `finish(i, row)` into what the caller keeps, as soon as it is
/// counted: a caller that keeps a row's best few never holds the whole product in memory.
pub(crate) fn map_rows<T: Send + Default + Clone>(
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
    finish: impl Fn(usize, Vec<(u32, u32)>) -> T + Sync,
) -> Vec<T> {
    // One row per product: the outer dimension of the product-major (CSC) incidence matrix.
    let n = left_t.outer_dims();
    let width = right.cols();
    let threads = threads.clamp(1, 64).min(n.max(1));
    if threads == 1 {
        let mut scratch = Scratch::new(width);
        return (0..n).map(|i| finish(i, scratch.row(i, left_t, right))).collect();
    }
    // Rows are handed out in interleaved blocks so that the heavy (popular) rows spread over the threads.
    let finish = &finish;
    let mut parts: Vec<Vec<(usize, T)>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut scratch = Scratch::new(width);
                    let mut out = Vec::new();
                    let mut block = t * BLOCK;
                    while block < n {
                        for i in block..(block + BLOCK).min(n) {
                            out.push((i, finish(i, scratch.row(i, left_t, right))));
                        }
                        block += threads * BLOCK;
                    }
                    out
                })
            })
            .collect();
        parts = handles.into_iter().map(|h| h.join().unwrap_or_default()).collect();
    });
    let mut rows = vec![T::default(); n];
    for (i, row) in parts.into_iter().flatten() {
        rows[i] = row;
    }
    rows
}

const BLOCK: usize = 256;

struct Scratch {
    counts: Vec<u32>,
    touched: Vec<u32>,
}

impl Scratch {
    fn new(width: usize) -> Self {
        Scratch { counts: vec![0; width], touched: Vec::new() }
    }

    fn row(&mut self, i: usize, left_t: &CsMat<u8>, right: &CsMat<u8>) -> Vec<(u32, u32)> {
        // Raw slices: this loop runs tens of millions of times, views per event would dominate it.
        let (l_ptr, l_idx) = (left_t.proper_indptr(), left_t.indices());
        let (r_ptr, r_idx) = (right.proper_indptr(), right.indices());
        let (Some(&from), Some(&to)) = (l_ptr.get(i), l_ptr.get(i + 1)) else { return Vec::new() };
        for &e in &l_idx[from..to] {
            let (Some(&a), Some(&b)) = (r_ptr.get(e), r_ptr.get(e + 1)) else { continue };
            for &j in &r_idx[a..b] {
                let c = &mut self.counts[j];
                if *c == 0 {
                    self.touched.push(j as u32);
                }
                *c += 1;
            }
        }
        let width = self.counts.len();
        let mut row = Vec::with_capacity(self.touched.len());
        if self.touched.len() > width / 16 {
            // A best seller touches much of the catalog: one pass over the dense counts beats sorting.
            for (j, c) in self.counts.iter_mut().enumerate() {
                if *c > 0 {
                    if j != i {
                        row.push((j as u32, *c));
                    }
                    *c = 0;
                }
            }
        } else {
            self.touched.sort_unstable();
            for &j in &self.touched {
                if j as usize != i {
                    row.push((j, self.counts[j as usize]));
                }
                self.counts[j as usize] = 0;
            }
        }
        self.touched.clear();
        row
    }
}

/// A binary CSR matrix of `rows` rows and `cols` columns from each row's sorted, distinct column list.
pub(crate) fn binary_csr(rows: usize, cols: usize, row_lists: impl Iterator<Item = impl AsRef<[u32]>>) -> CsMat<u8> {
    let mut indptr = Vec::with_capacity(rows + 1);
    let mut indices = Vec::new();
    indptr.push(0usize);
    for list in row_lists {
        indices.extend(list.as_ref().iter().map(|&c| c as usize));
        indptr.push(indices.len());
    }
    indptr.resize(rows + 1, indices.len());
    let data = vec![1u8; indices.len()];
    CsMat::new((rows, cols), indptr, indices, data)
}
