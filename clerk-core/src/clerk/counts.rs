//! Pair counts of products, built row by row from sparse incidence matrices (Gustavson's product), in parallel
//! over rows and bit-identical for any thread count.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use sprs::CsMat;

/// Full pair counts: row `i` holds `(j, count)` sorted by `j`, `j != i`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PairCounts {
    pub(crate) rows: Vec<Vec<(u32, u32)>>,
}

/// Rows computed by one worker: (row index, row).
type RowsOf = Vec<(usize, Vec<(u32, u32)>)>;

impl PairCounts {
    /// The count of `(i, j)`.
    pub(crate) fn get(&self, i: u32, j: u32) -> u32 {
        let Some(row) = self.rows.get(i as usize) else { return 0 };
        row.binary_search_by_key(&j, |&(k, _)| k).map_or(0, |at| row[at].1)
    }

    /// Reads, for each change `(i, j, _)`, the entry of row `i` where partner `j` likely is: loads that do not
    /// wait for each other, so the processor overlaps their cache misses, where the searches of
    /// [`apply_row`](Self::apply_row) that follow would wait for each in turn. Returns a value made of all of
    /// them, for the caller to hide from the optimiser.
    pub(crate) fn touch(&self, changes: &[(u32, u32, i32)], spread: &Spread) -> u32 {
        let mut sum = 0u32;
        for &(i, j, _) in changes {
            if let Some(row) = self.rows.get(i as usize).filter(|row| !row.is_empty()) {
                sum = sum.wrapping_add(row[spread.place(row.len(), j)].0);
            }
        }
        sum
    }

    /// Adds `deltas` (sorted by partner, distinct) to the counts of row `i`, dropping pairs that reach zero, and
    /// reports each partner's count before and after as `(j, before, after)`. One pass per row: the rows of best
    /// sellers hold tens of thousands of partners, so finding each partner in few probes and moving the row's
    /// tail once for all new partners is what keeps a fold-in fast.
    pub(crate) fn apply_row(
        &mut self,
        i: u32,
        deltas: &[(u32, i32)],
        spread: &Spread,
        mut report: impl FnMut(u32, u32, u32),
    ) {
        if self.rows.len() <= i as usize {
            self.rows.resize(i as usize + 1, Vec::new());
        }
        let row = &mut self.rows[i as usize];
        let mut new: Vec<(usize, (u32, u32))> = Vec::new();
        let mut emptied = false;
        let mut from = 0;
        for &(j, d) in deltas {
            match find(row, j, from, spread) {
                Ok(at) => {
                    let before = row[at].1;
                    // Counts never go below zero: a fold-in only takes back what it or the analysis counted.
                    let after = before.saturating_add_signed(d);
                    row[at].1 = after;
                    emptied |= after == 0;
                    report(j, before, after);
                    from = at + 1;
                }
                Err(at) => {
                    let after = 0u32.saturating_add_signed(d);
                    if after > 0 {
                        new.push((at, (j, after)));
                    }
                    report(j, 0, after);
                    from = at;
                }
            }
        }
        if new.is_empty() {
            if emptied {
                row.retain(|e| e.1 > 0);
            }
            return;
        }
        if emptied {
            // Positions moved: find them again.
            row.retain(|e| e.1 > 0);
            for (at, entry) in &mut new {
                *at = row.partition_point(|e| e.0 < entry.0);
            }
        }
        // Backwards, so that each stretch of the row moves once, straight to its place.
        let mut end = row.len();
        row.resize(end + new.len(), (0, 0));
        for (k, &(at, entry)) in new.iter().enumerate().rev() {
            row.copy_within(at..end, at + k + 1);
            row[at + k] = entry;
            end = at;
        }
    }
}

/// How partners spread over the product indices in the rows of a table: the share of all its entries whose
/// partner is below each product. Popular products are partners in many rows, and they are not spread evenly
/// over the indices (the catalog order), so the place of a partner in a row follows this share far better
/// than its index: on the Complete Journey data, 13 entries off on average in rows of 64 entries and more,
/// against 110 for an even spread. Derived (rebuilt with the analysis or a load) and only a guide: stale
/// shares cost probes, never a wrong count.
#[derive(Debug, Default)]
pub(crate) struct Spread {
    below: Vec<f32>,
}

impl Spread {
    /// The spread of `counts`' partners, estimated by row lengths: in a symmetric table (bought together,
    /// same customers) the rows holding a product as a partner are as many as the product's own partners,
    /// and bought next is near symmetric.
    pub(crate) fn of(counts: &PairCounts) -> Self {
        let total = counts.rows.iter().map(Vec::len).sum::<usize>().max(1) as f64;
        let mut sum = 0usize;
        let below = counts
            .rows
            .iter()
            .map(|row| {
                let share = sum as f64 / total;
                sum += row.len();
                share as f32
            })
            .collect();
        Spread { below }
    }

    /// Where partner `j` likely is in a row of `len > 0` entries. Products newer than the spread have the
    /// largest indices: the end of the row.
    fn place(&self, len: usize, j: u32) -> usize {
        let share = self.below.get(j as usize).map_or(1.0, |&x| f64::from(x));
        ((share * len as f64) as usize).min(len - 1)
    }
}

/// The position of partner `j` in `row` (sorted), or where it would go, knowing that the partners before
/// `from` are below `j`: one probe at its likely [place](Spread::place), then steps doubling away from it
/// until `j` is passed, then a binary search between the last two. In a large row every probe far from the
/// last is a cache miss, and a plain binary search takes one per halving; a poor guess only costs more steps.
fn find(row: &[(u32, u32)], j: u32, from: usize, spread: &Spread) -> Result<usize, usize> {
    let (mut lo, mut hi) = (from, row.len());
    if hi - lo > 8 {
        let guess = spread.place(row.len(), j).clamp(lo, hi - 1);
        match row[guess].0.cmp(&j) {
            Ordering::Equal => return Ok(guess),
            Ordering::Less => {
                lo = guess + 1;
                let mut step = 1;
                while lo + step <= hi {
                    let at = lo + step - 1;
                    match row[at].0.cmp(&j) {
                        Ordering::Less => lo = at + 1,
                        Ordering::Equal => return Ok(at),
                        Ordering::Greater => {
                            hi = at;
                            break;
                        }
                    }
                    step *= 2;
                }
            }
            Ordering::Greater => {
                hi = guess;
                let mut step = 1;
                while hi >= lo + step {
                    let at = hi - step;
                    match row[at].0.cmp(&j) {
                        Ordering::Greater => hi = at,
                        Ordering::Equal => return Ok(at),
                        Ordering::Less => {
                            lo = at + 1;
                            break;
                        }
                    }
                    step *= 2;
                }
            }
        }
    }
    match row[lo..hi].binary_search_by_key(&j, |e| e.0) {
        Ok(k) => Ok(lo + k),
        Err(k) => Err(lo + k),
    }
}

/// Counts, for every product `i` (outer dimension of `left_t`, the event x product matrix in CSC) and every product `j`, the
/// events holding `i` on the left whose right side (`right`, event x product in CSR) holds `j`: the sparse
/// product `left_t * right` without the diagonal.
pub(crate) fn pair_counts(left_t: &CsMat<u8>, right: &CsMat<u8>, threads: usize) -> PairCounts {
    // One row per product: the outer dimension of the product-major (CSC) incidence matrix.
    let n = left_t.outer_dims();
    let width = right.cols();
    let threads = threads.clamp(1, 64).min(n.max(1));
    // Rows are handed out in interleaved blocks so that the heavy (popular) rows spread over the threads.
    let rows: Vec<Vec<(u32, u32)>> = if threads == 1 {
        let mut scratch = Scratch::new(width);
        (0..n).map(|i| scratch.row(i, left_t, right)).collect()
    } else {
        let mut parts: Vec<RowsOf> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut scratch = Scratch::new(width);
                        let mut out = Vec::new();
                        let mut block = t * BLOCK;
                        while block < n {
                            for i in block..(block + BLOCK).min(n) {
                                out.push((i, scratch.row(i, left_t, right)));
                            }
                            block += threads * BLOCK;
                        }
                        out
                    })
                })
                .collect();
            parts = handles.into_iter().map(|h| h.join().unwrap_or_default()).collect();
        });
        let mut rows = vec![Vec::new(); n];
        for (i, row) in parts.into_iter().flatten() {
            rows[i] = row;
        }
        rows
    };
    PairCounts { rows }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// A row and its model: partners from a few clusters of the product indices (an uneven spread), counts.
    fn row_strategy() -> impl Strategy<Value = BTreeMap<u32, u32>> {
        prop::collection::btree_map((0..4u32, 0..300u32).prop_map(|(cluster, k)| cluster * 2_000 + k), 1..20u32, 0..600)
    }

    proptest! {
        /// Applying changes row by row gives the counts of applying them one at a time, reports each partner's
        /// count before and after, and keeps the row sorted without zeros, whatever the spread guide says.
        #[test]
        fn apply_row_matches_a_map(
            start in row_strategy(),
            changes in prop::collection::btree_map((0..4u32, 0..300u32).prop_map(|(c, k)| c * 2_000 + k), -25..25i32, 0..300),
            guide in 0..3,
        ) {
            let mut counts = PairCounts { rows: vec![Vec::new(); 8_000] };
            counts.rows[3] = start.iter().map(|(&j, &c)| (j, c)).collect();
            // An even spread, the spread of row lengths (all partners guessed at the end but row 3's), or none
            // (every partner guessed at the end of the row).
            let spread = match guide {
                0 => Spread { below: (0..8_000).map(|j| j as f32 / 8_000.0).collect() },
                1 => Spread::of(&counts),
                _ => Spread::default(),
            };
            let deltas: Vec<(u32, i32)> = changes.iter().map(|(&j, &d)| (j, d)).collect();
            let mut model = start.clone();
            let mut reports = Vec::new();
            counts.apply_row(3, &deltas, &spread, |j, before, after| reports.push((j, before, after)));
            for &(j, d) in &deltas {
                let before = model.get(&j).copied().unwrap_or(0);
                let after = before.saturating_add_signed(d);
                prop_assert!(reports.contains(&(j, before, after)));
                if after == 0 {
                    model.remove(&j);
                } else {
                    model.insert(j, after);
                }
            }
            prop_assert_eq!(reports.len(), deltas.len());
            let expected: Vec<(u32, u32)> = model.into_iter().collect();
            prop_assert_eq!(&counts.rows[3], &expected);
        }
    }
}
