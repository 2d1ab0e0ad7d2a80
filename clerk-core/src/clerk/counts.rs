//! Pair counts of products, built row by row from sparse incidence matrices (Gustavson's product), in parallel
//! over rows and bit-identical for any thread count.

use std::cmp::Ordering;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use sprs::CsMat;

/// Full pair counts: row `i` holds `(j, count)` sorted by `j`, `j != i`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PairCounts {
    pub(crate) rows: Vec<Row>,
}

/// The most entries a block of a [`Row`] holds before it is split; and half of it, the entries of the blocks
/// of a row built whole. Small in tests, so that their rows have several blocks.
const BLOCK_ENTRIES: usize = if cfg!(test) { 8 } else { 1024 };

/// One row of pair counts: `(partner, count)` sorted by partner, held in blocks of at most [`BLOCK_ENTRIES`] entries.
/// A best seller's row holds tens of thousands of partners: a fold-in that adds partners to it moves the
/// entries of one block and grows the row a block at a time, never moving or copying the whole row. Saved as
/// one flat list (the blocks are a layout, not data).
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    /// The first partner of each block but the first: block `k` holds partners from `starts[k - 1]` (from the
    /// smallest for the first) up to `starts[k]` (excluded; to the largest for the last).
    starts: Vec<u32>,
    /// Empty for an empty row; a block may be empty after its pairs dropped to zero.
    blocks: Vec<Vec<(u32, u32)>>,
}

impl Row {
    /// The row of `entries`, sorted by partner.
    #[cfg(test)]
    pub(crate) fn from_sorted(entries: Vec<(u32, u32)>) -> Row {
        let mut row = RowBuilder::new(entries.len());
        for entry in entries {
            row.push(entry);
        }
        row.finish()
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// The entries, by partner.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.blocks.iter().flatten().copied()
    }

    /// The block that holds partner `j`, or would. The row must have a block.
    fn block_of(&self, j: u32) -> usize {
        self.starts.partition_point(|&start| start <= j)
    }

    /// The range of partners block `k` holds, as shares of `spread`.
    fn shares(&self, k: usize, spread: &Spread) -> (f64, f64) {
        let lo = k.checked_sub(1).and_then(|k| self.starts.get(k)).map_or(0.0, |&j| spread.share(j));
        (lo, self.starts.get(k).map_or(1.0, |&j| spread.share(j)))
    }

    /// The count of partner `j`.
    fn get(&self, j: u32) -> u32 {
        if self.blocks.is_empty() {
            return 0;
        }
        let block = &self.blocks[self.block_of(j)];
        block.binary_search_by_key(&j, |e| e.0).map_or(0, |at| block[at].1)
    }

    /// Splits each block of more than [`BLOCK_ENTRIES`] entries into blocks of half as many.
    fn split_full(&mut self) {
        for k in (0..self.blocks.len()).rev() {
            if self.blocks[k].len() > BLOCK_ENTRIES {
                let pieces: Vec<Vec<(u32, u32)>> =
                    self.blocks[k].chunks(BLOCK_ENTRIES / 2).map(block_of_entries).collect();
                let starts: Vec<u32> = pieces[1..].iter().map(|b| b[0].0).collect();
                self.blocks.splice(k..=k, pieces);
                self.starts.splice(k..k, starts);
            }
        }
    }
}

/// Room for a block of `len` entries: a fold-in adds partners to the rows of the products it sees, and a
/// block with no room left is moved whole to grow; built with some room, most blocks never need to (on the
/// Complete Journey data, without it, the moves of the first thousand fold-ins after an analysis are a third
/// of their time). The analysis peaks about 100 MiB (a tenth) higher for it; twice the room did not make
/// fold-ins faster but cost 140 MiB more at the peak of two threads.
fn room(len: usize) -> usize {
    len + len / 16 + 4
}

/// Builds a [`Row`], each block allocated once with [`room`]: an entry at a time as they come (a load), or
/// from a sorted slice (an analysis counts each row into a buffer it reuses). A row allocated flat and then
/// copied into blocks would leave holes in the memory of an analysis, and raise its peak.
pub(crate) struct RowBuilder {
    row: Row,
    /// Whether the entries are expected to fit in one block (else blocks of half a block).
    single: bool,
}

impl RowBuilder {
    /// A builder for about `len` entries.
    pub(crate) fn new(len: usize) -> Self {
        let single = len <= BLOCK_ENTRIES;
        let mut row = Row::default();
        if len > 0 {
            row.blocks.push(Vec::with_capacity(room(if single { len } else { BLOCK_ENTRIES / 2 })));
        }
        RowBuilder { row, single }
    }

    /// Adds an entry, after all the others.
    pub(crate) fn push(&mut self, entry: (u32, u32)) {
        let blocks = &mut self.row.blocks;
        match blocks.last_mut() {
            Some(block) if self.single || block.len() < BLOCK_ENTRIES / 2 => block.push(entry),
            last => {
                if last.is_some() {
                    self.row.starts.push(entry.0);
                }
                let mut block = Vec::with_capacity(room(BLOCK_ENTRIES / 2));
                block.push(entry);
                blocks.push(block);
            }
        }
    }

    /// The row of `entries`, sorted by partner.
    pub(crate) fn of_sorted(entries: &[(u32, u32)]) -> Row {
        if entries.is_empty() {
            Row::default()
        } else if entries.len() <= BLOCK_ENTRIES {
            Row { starts: Vec::new(), blocks: vec![block_of_entries(entries)] }
        } else {
            let blocks: Vec<Vec<(u32, u32)>> = entries.chunks(BLOCK_ENTRIES / 2).map(block_of_entries).collect();
            Row { starts: blocks[1..].iter().map(|b| b[0].0).collect(), blocks }
        }
    }

    /// The row (split if more entries came than expected).
    pub(crate) fn finish(mut self) -> Row {
        if self.row.blocks.iter().all(Vec::is_empty) {
            return Row::default();
        }
        self.row.split_full();
        self.row
    }
}

/// A block holding `entries`, with [`room`] to grow.
fn block_of_entries(entries: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut block = Vec::with_capacity(room(entries.len()));
    block.extend_from_slice(entries);
    block
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for entry in self.iter() {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Row, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Row;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of (partner, count)")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row, A::Error> {
                // The length is the sender's word: capped, so that corrupt bytes cannot reserve gigabytes.
                let mut row = RowBuilder::new(seq.size_hint().unwrap_or(0).min(1 << 17));
                while let Some(entry) = seq.next_element()? {
                    row.push(entry);
                }
                Ok(row.finish())
            }
        }
        deserializer.deserialize_seq(Entries)
    }
}

impl PairCounts {
    /// The count of `(i, j)`.
    pub(crate) fn get(&self, i: u32, j: u32) -> u32 {
        self.rows.get(i as usize).map_or(0, |row| row.get(j))
    }

    /// Adds `deltas` (sorted by partner, distinct) to the counts of row `i`, dropping pairs that reach zero,
    /// and reports each partner's count before and after as `(j, before, after)` (see [`Row::apply`]).
    #[cfg(test)]
    pub(crate) fn apply_row(
        &mut self,
        i: u32,
        deltas: &[(u32, i32)],
        spread: &Spread,
        report: impl FnMut(u32, u32, u32),
    ) {
        if self.rows.len() <= i as usize {
            self.rows.resize(i as usize + 1, Row::default());
        }
        self.rows[i as usize].apply(deltas, &mut Vec::new(), spread, report);
    }

    /// Applies `changes` `(i, j, by)` (sorted by `(i, j)`, distinct) a row at a time, appending each moved
    /// pair to `moved` with its count before and after, in `(i, j)` order.
    pub(crate) fn apply_changes(
        &mut self,
        changes: &[(u32, u32, i32)],
        spread: &Spread,
        work: &mut Work,
        moved: &mut Vec<Moved>,
    ) {
        self.hold_rows_of(changes);
        apply_changes(&mut self.rows, 0, changes, spread, work, moved);
    }

    /// Rows up to the last one `changes` (sorted by row) go to.
    fn hold_rows_of(&mut self, changes: &[(u32, u32, i32)]) {
        if let Some(&(last, _, _)) = changes.last() {
            if self.rows.len() <= last as usize {
                self.rows.resize(last as usize + 1, Row::default());
            }
        }
    }

    /// [`apply_changes`](Self::apply_changes) on two threads: the rows of the first half of `changes` on this
    /// one, the others on a second. The rows are disjoint and each is updated as on one thread, so the counts
    /// and the moved pairs are the same.
    pub(crate) fn split_changes<'a>(&'a mut self, changes: &'a [(u32, u32, i32)]) -> [Part<'a>; 2] {
        self.hold_rows_of(changes);
        // At a row boundary near the middle of the changes.
        let middle = changes.get(changes.len() / 2).map_or(0, |c| c.0);
        let at = changes.partition_point(|c| c.0 < middle);
        let (first, second) = changes.split_at(at);
        let len = self.rows.len();
        let (low, high) = self.rows.split_at_mut((middle as usize).min(len));
        [(low, 0, first), (high, middle, second)]
    }
}

/// Count changes `(i, j, by)` and the rows they go to: those from the index given (see
/// [`PairCounts::split_changes`]).
pub(crate) type Part<'a> = (&'a mut [Row], u32, &'a [(u32, u32, i32)]);

/// A pair whose count moved: `(i, j, count before, count after)`.
pub(crate) type Moved = (u32, u32, u32, u32);

/// The working lists of [`apply_changes`], kept by the caller from one call to the next.
#[derive(Debug, Default)]
pub(crate) struct Work {
    /// One row's changes.
    deltas: Vec<(u32, i32)>,
    /// One row's new partners: `(block, position, entry)`.
    new: Vec<(usize, usize, (u32, u32))>,
    /// The rows of a window of changes.
    window: Vec<(usize, usize)>,
}

impl Work {
    /// Empties the lists, keeping at most `capacity` entries of room in each.
    pub(crate) fn clear(&mut self, capacity: usize) {
        self.deltas.clear();
        self.deltas.shrink_to(capacity);
        self.new.clear();
        self.new.shrink_to(capacity);
        self.window.clear();
        self.window.shrink_to(capacity);
    }
}

/// Count changes whose entries are brought into cache together before they are applied.
const TOUCHED: usize = 256;

/// Applies `changes` (sorted by `(i, j)`, distinct) to `rows`, which hold rows `offset..`: rows of about
/// [`TOUCHED`] changes at a time, the entries they need read first ([`Row::touch`]) so that their cache misses
/// overlap, then updated ([`Row::apply`]) while they are still in cache.
pub(crate) fn apply_changes(
    rows: &mut [Row],
    offset: u32,
    changes: &[(u32, u32, i32)],
    spread: &Spread,
    work: &mut Work,
    moved: &mut Vec<Moved>,
) {
    let mut from = 0;
    while from < changes.len() {
        // The window: whole rows, about `TOUCHED` changes.
        work.window.clear();
        let mut end = from;
        while end < changes.len() && end - from < TOUCHED {
            let i = changes[end].0;
            let to = end + changes[end..].partition_point(|c| c.0 == i);
            work.window.push((end, to));
            end = to;
        }
        let mut sum = 0u32;
        for &(a, b) in &work.window {
            if let Some(row) = rows.get((changes[a].0 - offset) as usize) {
                sum = sum.wrapping_add(row.touch(changes[a..b].iter().map(|c| c.1), spread));
            }
        }
        std::hint::black_box(sum);
        for &(a, b) in &work.window {
            let i = changes[a].0;
            let Some(row) = rows.get_mut((i - offset) as usize) else { continue };
            work.deltas.clear();
            work.deltas.extend(changes[a..b].iter().map(|&(_, j, by)| (j, by)));
            row.apply(&work.deltas, &mut work.new, spread, |j, before, after| moved.push((i, j, before, after)));
        }
        from = end;
    }
}

impl Row {
    /// Reads the entries of the row around where each partner of `partners` likely is: loads that do not
    /// wait for each other, so the processor overlaps their cache misses, where the searches of
    /// [`apply`](Self::apply) that follow would wait for each in turn. Returns a value made of all of them,
    /// for the caller to hide from the optimiser.
    fn touch(&self, partners: impl Iterator<Item = u32>, spread: &Spread) -> u32 {
        let mut sum = 0u32;
        if self.blocks.is_empty() {
            return sum;
        }
        for j in partners {
            let k = self.block_of(j);
            let block = &self.blocks[k];
            if !block.is_empty() {
                // The guess and the entries around it, where the search goes when it is a little off.
                let at = spread.place(block.len(), j, self.shares(k, spread));
                for probe in [at.saturating_sub(16), at.saturating_sub(8), at, at + 8, at + 16] {
                    sum = sum.wrapping_add(block.get(probe).map_or(0, |e| e.0));
                }
            }
        }
        sum
    }

    /// Adds `deltas` (sorted by partner, distinct) to the counts of the row, dropping pairs that reach zero,
    /// and reports each partner's count before and after as `(j, before, after)`. One pass, finding each
    /// partner in few probes, and new partners merged into each block with one move of each stretch. `new`
    /// is a working list (emptied first), kept by the caller from row to row.
    fn apply(
        &mut self,
        deltas: &[(u32, i32)],
        new: &mut Vec<(usize, usize, (u32, u32))>,
        spread: &Spread,
        mut report: impl FnMut(u32, u32, u32),
    ) {
        let row = self;
        if row.blocks.is_empty() {
            row.blocks.push(Vec::new());
        }
        // New partners: (block, position, entry), in partner order.
        new.clear();
        let mut emptied = false;
        let mut from = (0, 0);
        for &(j, d) in deltas {
            let k = row.block_of(j);
            // Partners come in order: in the block of the last one, they are past it.
            let lo = if k == from.0 { from.1 } else { 0 };
            let shares = row.shares(k, spread);
            let block = &mut row.blocks[k];
            match find(block, j, lo, |len| spread.place(len, j, shares)) {
                Ok(at) => {
                    let before = block[at].1;
                    // Counts never go below zero: a fold-in only takes back what it or the analysis counted.
                    let after = before.saturating_add_signed(d);
                    block[at].1 = after;
                    emptied |= after == 0;
                    report(j, before, after);
                    from = (k, at + 1);
                }
                Err(at) => {
                    let after = 0u32.saturating_add_signed(d);
                    if after > 0 {
                        new.push((k, at, (j, after)));
                    }
                    report(j, 0, after);
                    from = (k, at);
                }
            }
        }
        if emptied {
            for block in &mut row.blocks {
                block.retain(|e| e.1 > 0);
            }
            // Positions moved: find them again.
            for (k, at, entry) in new.iter_mut() {
                *at = row.blocks[*k].partition_point(|e| e.0 < entry.0);
            }
        }
        for group in new.chunk_by(|a, b| a.0 == b.0) {
            let block = &mut row.blocks[group[0].0];
            // Backwards, so that each stretch of the block moves once, straight to its place.
            let mut end = block.len();
            block.resize(end + group.len(), (0, 0));
            for (m, &(_, at, entry)) in group.iter().enumerate().rev() {
                block.copy_within(at..end, at + m + 1);
                block[at + m] = entry;
                end = at;
            }
        }
        row.split_full();
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
        let lengths: Vec<usize> = counts.rows.iter().map(Row::len).collect();
        let total = lengths.iter().sum::<usize>().max(1) as f64;
        let mut sum = 0usize;
        let below = lengths
            .into_iter()
            .map(|len| {
                let share = sum as f64 / total;
                sum += len;
                share as f32
            })
            .collect();
        Spread { below }
    }

    /// The share of entries whose partner is below `j`. Products newer than the spread have the largest
    /// indices: all entries are below them.
    fn share(&self, j: u32) -> f64 {
        self.below.get(j as usize).map_or(1.0, |&x| f64::from(x))
    }

    /// Where partner `j` likely is in a block of `len > 0` entries holding the partners between the shares
    /// `(lo, hi)`.
    fn place(&self, len: usize, j: u32, (lo, hi): (f64, f64)) -> usize {
        let at = (self.share(j) - lo) / (hi - lo).max(f64::MIN_POSITIVE);
        ((at.clamp(0.0, 1.0) * len as f64) as usize).min(len - 1)
    }
}

/// The position of partner `j` in `block` (sorted), or where it would go, knowing that the partners before
/// `from` are below `j`: one probe at its likely place (`place` of the block's length), then steps doubling
/// away from it until `j` is passed, then a binary search between the last two. In a large block every probe
/// far from the last is a cache miss, and a plain binary search takes one per halving; a poor guess only costs
/// more steps.
fn find(block: &[(u32, u32)], j: u32, from: usize, place: impl Fn(usize) -> usize) -> Result<usize, usize> {
    let (mut lo, mut hi) = (from, block.len());
    if hi - lo > 8 {
        let guess = place(block.len()).clamp(lo, hi - 1);
        match block[guess].0.cmp(&j) {
            Ordering::Equal => return Ok(guess),
            Ordering::Less => {
                lo = guess + 1;
                let mut step = 1;
                while lo + step <= hi {
                    let at = lo + step - 1;
                    match block[at].0.cmp(&j) {
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
                    match block[at].0.cmp(&j) {
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
    match block[lo..hi].binary_search_by_key(&j, |e| e.0) {
        Ok(k) => Ok(lo + k),
        Err(k) => Err(lo + k),
    }
}

/// The row an analysis keeps of a row's entries as [`map_rows`] gives them.
pub(crate) fn counted_row(entries: &[(u32, u32)]) -> Row {
    RowBuilder::of_sorted(entries)
}

/// Counts, for every product `i` (outer dimension of `left_t`, the event x product matrix in CSC) and every product `j`, the
/// events holding `i` on the left whose right side (`right`, event x product in CSR) holds `j`: the sparse
/// product `left_t * right` without the diagonal.
/// Each row is turned by `finish(i, entries)` into what the caller keeps as soon as it is counted: a caller
/// that keeps a row's best few never holds the whole product in memory.
pub(crate) fn map_rows<T: Send + Default + Clone>(
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
    finish: impl Fn(usize, &[(u32, u32)]) -> T + Sync,
) -> Vec<T> {
    // One row per product: the outer dimension of the product-major (CSC) incidence matrix.
    let width = right.cols();
    super::parallel::map_indexed(
        left_t.outer_dims(),
        threads,
        BLOCK,
        || Scratch::new(width),
        |i, scratch| finish(i, scratch.row(i, left_t, right, |_| ()).1),
    )
}

/// [`map_rows`], with a look at each row while it is counted: `look(i, counts)` reads the count of any pair
/// `(i, j)` as `counts[j]` (the diagonal `counts[i]` too), and what it returns goes to `finish(i, entries,
/// looked)`. A caller that needs the counts of given partners of each row (not all of them) reads them there,
/// where the row's entries would need a search per partner.
pub(crate) fn map_rows_with<L, T: Send + Default + Clone>(
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
    look: impl Fn(usize, &[u32]) -> L + Sync,
    finish: impl Fn(usize, &[(u32, u32)], L) -> T + Sync,
) -> Vec<T> {
    let width = right.cols();
    super::parallel::map_indexed(
        left_t.outer_dims(),
        threads,
        BLOCK,
        || Scratch::new(width),
        |i, scratch| {
            let (looked, entries) = scratch.row(i, left_t, right, |counts| look(i, counts));
            finish(i, entries, looked)
        },
    )
}

const BLOCK: usize = 256;

struct Scratch {
    counts: Vec<u32>,
    /// The partners of the row being counted, in the order first seen.
    touched: Vec<u32>,
    /// The same partners as bits, one per product: read in order, they give the partners sorted without
    /// sorting (the sorts of the lists of a large row were a fifth of the counting).
    seen: Vec<u64>,
    /// The row being counted, before it is copied into its blocks.
    row: Vec<(u32, u32)>,
}

/// Rows with fewer partners than this sort their list; longer ones read the bits.
const SORT_BELOW: usize = 64;

impl Scratch {
    fn new(width: usize) -> Self {
        Scratch { counts: vec![0; width], touched: Vec::new(), seen: vec![0; width.div_ceil(64)], row: Vec::new() }
    }

    /// Row `i`'s entries, sorted by partner (valid until the next call), and what `look` saw of the row's dense
    /// counts once they were counted.
    fn row<L>(
        &mut self,
        i: usize,
        left_t: &CsMat<u8>,
        right: &CsMat<u8>,
        look: impl FnOnce(&[u32]) -> L,
    ) -> (L, &[(u32, u32)]) {
        // Raw slices: this loop runs tens of millions of times, views per event would dominate it.
        let (l_ptr, l_idx) = (left_t.proper_indptr(), left_t.indices());
        let (r_ptr, r_idx) = (right.proper_indptr(), right.indices());
        self.row.clear();
        let (Some(&from), Some(&to)) = (l_ptr.get(i), l_ptr.get(i + 1)) else { return (look(&self.counts), &self.row) };
        for &e in &l_idx[from..to] {
            let (Some(&a), Some(&b)) = (r_ptr.get(e), r_ptr.get(e + 1)) else { continue };
            for &j in &r_idx[a..b] {
                let c = &mut self.counts[j];
                if *c == 0 {
                    self.touched.push(j as u32);
                    self.seen[j / 64] |= 1 << (j % 64);
                }
                *c += 1;
            }
        }
        let looked = look(&self.counts);
        let row = &mut self.row;
        let mut emit = |j: usize, counts: &mut [u32]| {
            if j != i {
                row.push((j as u32, counts[j]));
            }
            counts[j] = 0;
        };
        if self.touched.len() < SORT_BELOW {
            self.touched.sort_unstable();
            for &j in &self.touched {
                self.seen[j as usize / 64] = 0;
                emit(j as usize, &mut self.counts);
            }
        } else {
            for (w, word) in self.seen.iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    emit(w * 64 + bits.trailing_zeros() as usize, &mut self.counts);
                    bits &= bits - 1;
                }
            }
        }
        self.touched.clear();
        (looked, &self.row)
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
            let mut counts = PairCounts { rows: vec![Row::default(); 8_000] };
            counts.rows[3] = Row::from_sorted(start.iter().map(|(&j, &c)| (j, c)).collect());
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
            prop_assert_eq!(counts.rows[3].iter().collect::<Vec<_>>(), expected);
            let row = &counts.rows[3];
            prop_assert!(row.blocks.iter().all(|b| b.len() <= BLOCK_ENTRIES));
            for (k, start) in row.starts.iter().enumerate() {
                prop_assert!(row.blocks[k].iter().all(|e| e.0 < *start));
                prop_assert!(row.blocks[k + 1].iter().all(|e| e.0 >= *start));
            }
        }
    }
}
