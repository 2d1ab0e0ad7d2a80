//! Pair counts of products, built row by row from sparse incidence matrices (Gustavson's product), in parallel
//! over rows and bit-identical for any thread count.
//!
//! Each row is a small hash table of `(partner, count)` slots: ordered linear probing (the entries of a run
//! kept in the order of their [`key`], a scramble of the partner) with no wrap-around and backward-shift
//! deletion. A fold-in moves thousands of counts scattered over rows of up to tens of thousands of partners,
//! each a cache miss: in a table a count is one probe from its home slot, read ahead for a window of changes
//! so that the misses overlap ([`Row::touch`], in the fold-in), where a sorted row needed a guided search of several probes
//! and moved the entries after every new partner. The order makes the table a function of its entries and
//! size (the same whether built whole or by a fold-in), lets a search for a missing partner stop as soon as it
//! passes where the partner would be, lets an analysis and a growing row build a table in one sequential pass,
//! and gives every row the same iteration order whatever its history.
//!
//! Measured on the Complete Journey data against the sorted rows of before (blocks of up to 1,024 entries
//! searched from a guess of each partner's place): applying a fold-in's count changes 90-100 ns per change
//! instead of 225 (each order's fastest of 3 runs, on the shared 2-core machine); the analysis' counting as
//! fast (a row is counted at its partners' places in key order, see [`Counting`]), its peak 100 MiB higher (a
//! fifth of the slots empty, where blocks had a sixteenth of room; a load of 0.85 saved 40 MiB but cost a
//! tenth more per change). What the order costs: the passes over rows read facts of their partners scattered
//! over the catalog rather than in index order (the related lists of an analysis about 0.15 s slower on one
//! thread), and a save lists each row by partner, a load builds its table (each about 0.7 s longer, 1.5 s).

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use sprs::CsMat;

/// Full pair counts: row `i` holds `(j, count)` for each partner `j != i` with a count, and no zero counts.
/// Saved row by row sorted by partner, as the sorted rows it once held were: the bytes of a state do not
/// depend on the layout of its tables.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PairCounts {
    pub(crate) rows: Vec<Row>,
}

/// The partner of an empty slot: never a product (their indices are below it, as for the other `u32::MAX`
/// markers of the state).
const EMPTY: u32 = u32::MAX;

/// An empty slot.
const EMPTY_SLOT: (u32, u32) = (EMPTY, 0);

/// The order of partners in a row: `(j + 1) * MUL - 1` (mod 2^32), a bijection (an odd multiplier) that sends
/// [`EMPTY`] to `u32::MAX`, so an empty slot compares after every partner and ends every search. The
/// multiplier (2^32 over the golden ratio) spreads consecutive product indices evenly over the keys, and so
/// over a table's home slots: partners cluster in the catalog order (best sellers are often neighbours).
pub(crate) fn key(j: u32) -> u32 {
    j.wrapping_add(1).wrapping_mul(0x9E37_79B9).wrapping_sub(1)
}

/// The home slot of key `k` in a table of `homes` home slots: the key scaled to them (fastrange), which keeps
/// the key order and needs no power-of-two size, so a table is sized to its entries.
fn home(k: u32, homes: u32) -> usize {
    ((u64::from(k) * u64::from(homes)) >> 32) as usize
}

/// Home slots for a row of `len` entries built whole (by an analysis or a load): a load of 0.8, so that a
/// fold-in finds a count in about two probes and can add partners (about a tenth more, see [`full`]) before
/// the table must grow.
fn homes_for(len: usize) -> u32 {
    to_homes(len + len / 4 + 1)
}

/// Home slots for a row grown to `len` entries by a fold-in: a load of 2/3, so that a row that gains partners
/// grows rarely (each time it is rebuilt whole).
fn homes_grown(len: usize) -> u32 {
    to_homes(len + len / 2 + 1)
}

/// `homes` as held, saturated (a row never nears it: it has a slot per product).
fn to_homes(homes: usize) -> u32 {
    u32::try_from(homes).unwrap_or(u32::MAX)
}

/// Whether a table of `homes` home slots is too full for `len` entries: past a load of 7/8 the runs of
/// occupied slots lengthen fast, and with them the probes and the moves of an insertion.
fn full(len: usize, homes: u32) -> bool {
    len * 8 > homes as usize * 7
}

/// One row of pair counts: `(partner, count)` slots, each partner at or after its [`home`] slot with no empty
/// slot between (linear probing), the entries in [`key`] order, the last slot empty. Entries spill past the
/// home slots when a run reaches the end, rather than wrapping around, so that the whole table stays in key
/// order: it holds the same slots for the same entries and size, however it got them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    /// Empty for a row that never had an entry; else at least `homes + 1` slots, the last one empty.
    slots: Vec<(u32, u32)>,
    /// Entries held.
    len: u32,
    /// Home slots: the first `homes` slots.
    homes: u32,
}

impl Row {
    /// The row of `entries` (distinct partners, counts above zero, in any order).
    #[cfg(test)]
    pub(crate) fn of(mut entries: Vec<(u32, u32)>) -> Row {
        entries.sort_unstable_by_key(|e| key(e.0));
        Row::of_keyed(&entries)
    }

    /// The row of `entries`, distinct partners with counts above zero in [`key`] order (as [`map_rows`] gives
    /// them), sized for an analysis' rows.
    pub(crate) fn of_keyed(entries: &[(u32, u32)]) -> Row {
        if entries.is_empty() {
            return Row::default();
        }
        Row::build(entries.iter().copied(), entries.len(), homes_for(entries.len()))
    }

    /// A table of `homes` home slots holding `entries` (`len` of them, in key order).
    fn build(entries: impl Iterator<Item = (u32, u32)>, len: usize, homes: u32) -> Row {
        let mut table = Builder::new(homes);
        entries.for_each(|(j, count)| table.push(j, count));
        table.finish(len)
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// The entries in [`key`] order of their partners (a scramble, not by partner): the same order for the
    /// same entries whatever the row's history, and the same in every row, so rows can be joined in one walk.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.at_least(1)
    }

    /// The entries counted at least `min` times, as [`iter`](Self::iter) lists them: an empty slot counts
    /// zero, so one test skips both it and a rare pair (an analysis reads every slot of every row, and a
    /// second, unpredictable test for empty slots made its loops half as slow again).
    pub(crate) fn at_least(&self, min: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let min = min.max(1);
        self.slots.iter().copied().filter(move |e| e.1 >= min)
    }

    /// Whether every partner is below `n`, read without a test per slot (the check of a loaded state).
    pub(crate) fn partners_below(&self, n: u32) -> bool {
        self.slots.iter().fold(true, |ok, e| ok & (e.0 < n || e.0 == EMPTY))
    }

    /// The count of partner `j` (zero without one).
    pub(crate) fn get(&self, j: u32) -> u32 {
        if self.slots.is_empty() {
            return 0;
        }
        self.find(j).map_or(0, |at| self.slots[at].1)
    }

    /// The slot of partner `j`, or the slot it would be inserted at: the first from its home slot whose key
    /// is not below `j`'s. The table must have slots (its last, empty, ends the search).
    fn find(&self, j: u32) -> Result<usize, usize> {
        let k = key(j);
        let mut at = home(k, self.homes);
        loop {
            let here = key(self.slots[at].0);
            if here >= k {
                return if here == k { Ok(at) } else { Err(at) };
            }
            at += 1;
        }
    }

    /// Reads the home slot of partner `j`, where a search for it starts: loads that do not wait for each other,
    /// so the processor overlaps their cache misses, where the searches of [`add`](Self::add) that follow
    /// would wait for each in turn. Returns the partner read, for the caller to hide from the optimiser.
    pub(crate) fn touch(&self, j: u32) -> u32 {
        let at = home(key(j), self.homes);
        // The next line too: a search or an insertion often runs on into it.
        self.slots.get(at).map_or(0, |e| e.0).wrapping_add(self.slots.get(at + 8).map_or(0, |e| e.0))
    }

    /// Adds `by` to the count of partner `j`, dropping the pair when it reaches zero. Returns the count before
    /// and after. Counts never go below zero: a fold-in only takes back what it or the analysis counted.
    pub(crate) fn add(&mut self, j: u32, by: i32) -> (u32, u32) {
        let found = if self.slots.is_empty() { Err(0) } else { self.find(j) };
        match found {
            Ok(at) => {
                let before = self.slots[at].1;
                let after = before.saturating_add_signed(by);
                if after == 0 {
                    self.remove(at);
                } else {
                    self.slots[at].1 = after;
                }
                (before, after)
            }
            Err(at) => {
                let after = 0u32.saturating_add_signed(by);
                if after > 0 {
                    self.insert(at, (j, after));
                }
                (0, after)
            }
        }
    }

    /// Inserts `entry` at slot `at` (from [`find`](Self::find)), moving the rest of its run one slot up, after
    /// growing the table if it is [`full`].
    fn insert(&mut self, mut at: usize, entry: (u32, u32)) {
        let len = self.len() + 1;
        if full(len, self.homes) {
            let homes = homes_grown(len);
            let old = std::mem::take(&mut self.slots);
            *self = Row::build(old.into_iter().filter(|e| e.0 != EMPTY), self.len(), homes);
            at = self.find(entry.0).unwrap_or_else(|at| at);
        }
        // The run ends at an empty slot: the last slot at worst, which then must be replaced.
        let end = at + self.slots[at..].iter().position(|e| e.0 == EMPTY).unwrap_or(0);
        if end + 1 == self.slots.len() {
            push_exact(&mut self.slots, EMPTY_SLOT);
        }
        self.slots.copy_within(at..end, at + 1);
        self.slots[at] = entry;
        self.len += 1;
    }

    /// Removes the entry at slot `at`, moving back by one slot the entries after it that are past their home
    /// (backward-shift deletion): no slot is marked deleted, so searches never get longer.
    fn remove(&mut self, at: usize) {
        let homes = self.homes;
        let mut end = at + 1;
        while let Some(&(j, _)) = self.slots.get(end) {
            if j == EMPTY || home(key(j), homes) >= end {
                break;
            }
            end += 1;
        }
        self.slots.copy_within(at + 1..end, at);
        self.slots[end - 1] = EMPTY_SLOT;
        self.len -= 1;
    }
}

/// Builds a table from entries in key order: each entry goes to its home slot or, when the entry before holds it
/// or went past it, to the slot after that entry, which is where insertions in any order would leave it. One
/// sequential pass, no search.
struct Builder {
    slots: Vec<(u32, u32)>,
    homes: u32,
    /// The first slot after the last entry.
    next: usize,
}

impl Builder {
    fn new(homes: u32) -> Self {
        // Room for a run spilling a little past the last home slot, and the empty last slot; filled first, so
        // that each entry is one store.
        Builder { slots: vec![EMPTY_SLOT; homes as usize + 2 + homes as usize / 64], homes, next: 0 }
    }

    /// Adds an entry, after all the others in key order.
    fn push(&mut self, j: u32, count: u32) {
        let at = home(key(j), self.homes).max(self.next);
        if at + 1 >= self.slots.len() {
            self.slots.reserve_exact(4);
            self.slots.resize(at + 2, EMPTY_SLOT);
        }
        self.slots[at] = (j, count);
        self.next = at + 1;
    }

    /// The row of the `len` entries pushed.
    fn finish(self, len: usize) -> Row {
        Row { slots: self.slots, len: len as u32, homes: self.homes }
    }
}

/// Pushes `entry` growing `slots` by a few slots when it is full, not by doubling: a table's room is chosen.
fn push_exact(slots: &mut Vec<(u32, u32)>, entry: (u32, u32)) {
    if slots.len() == slots.capacity() {
        slots.reserve_exact(4);
    }
    slots.push(entry);
}

impl PartialEq for Row {
    /// Equal as maps. The slots are in key order whatever the history, so equal maps list alike.
    fn eq(&self, other: &Row) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Serialize for PairCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut counts = serializer.serialize_struct("PairCounts", 1)?;
        counts.serialize_field("rows", &SortedRows(&self.rows))?;
        counts.end()
    }
}

/// Rows saved as lists of `(partner, count)` sorted by partner.
struct SortedRows<'a>(&'a [Row]);

impl Serialize for SortedRows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut rows = serializer.serialize_seq(Some(self.0.len()))?;
        let mut sorter = BySorter::default();
        for row in self.0 {
            rows.serialize_element(sorter.by_partner(row))?;
        }
        rows.end()
    }
}

/// Lists a row's entries by partner, as [`Scratch`] lists them by key: a large row's partners marked as bits
/// and read back in order, a small row's sorted (sorting every row doubled the time of a save). Its lists are
/// reused from row to row.
#[derive(Default)]
struct BySorter {
    /// The count of each partner of the row, where its bit is set; the last one takes the empty slots.
    counts: Vec<u32>,
    /// A bit per partner.
    seen: Vec<u64>,
    sorted: Vec<(u32, u32)>,
}

impl BySorter {
    fn by_partner(&mut self, row: &Row) -> &[(u32, u32)] {
        self.sorted.clear();
        if row.len() < SORT_BELOW {
            self.sorted.extend(row.iter());
            self.sorted.sort_unstable_by_key(|e| e.0);
            return &self.sorted;
        }
        // The smallest and largest partners, the empty slots out of the way of both.
        let low = row.slots.iter().map(|e| e.0 as usize).min().unwrap_or(0);
        let top = row.slots.iter().map(|e| if e.0 == EMPTY { 0 } else { e.0 as usize }).max().unwrap_or(0);
        if top + 1 >= self.counts.len() {
            self.counts.resize(top + 2, 0);
            self.seen.resize((top + 2).div_ceil(64), 0);
        }
        // Every slot, without a test: an empty one goes to the last place, and is then forgotten.
        let last = self.counts.len() - 1;
        for &(j, count) in &row.slots {
            let j = (j as usize).min(last);
            self.counts[j] = count;
            self.seen[j / 64] |= 1 << (j % 64);
        }
        self.seen[last / 64] &= !(1 << (last % 64));
        let (lo, hi) = (low / 64, top / 64);
        for w in lo..=hi {
            let mut bits = std::mem::take(&mut self.seen[w]);
            while bits != 0 {
                let j = w * 64 + bits.trailing_zeros() as usize;
                self.sorted.push((j as u32, self.counts[j]));
                bits &= bits - 1;
            }
        }
        &self.sorted
    }
}

impl<'de> Deserialize<'de> for PairCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PairCounts, D::Error> {
        /// The fields, as a derived implementation names them (others are skipped).
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Field {
            Rows,
            #[serde(other)]
            Other,
        }
        struct Counts;
        impl<'de> Visitor<'de> for Counts {
            type Value = PairCounts;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("pair counts")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PairCounts, A::Error> {
                let rows = seq.next_element_seed(LoadRows)?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                Ok(PairCounts { rows })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PairCounts, A::Error> {
                let mut rows = None;
                while let Some(field) = map.next_key()? {
                    match field {
                        Field::Rows => rows = Some(map.next_value_seed(LoadRows)?),
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(PairCounts { rows: rows.ok_or_else(|| A::Error::missing_field("rows"))? })
            }
        }
        deserializer.deserialize_struct("PairCounts", &["rows"], Counts)
    }
}

/// Loads the rows of [`PairCounts`], with one [`Loader`] for all of them.
struct LoadRows;

impl<'de> DeserializeSeed<'de> for LoadRows {
    type Value = Vec<Row>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Row>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LoadRows {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rows of pair counts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        // A row per product, and partners are products: the count of rows bounds them. The length is the
        // sender's word: capped, so that corrupt bytes cannot reserve gigabytes (rows with larger partners
        // are sorted instead).
        let width = seq.size_hint().unwrap_or(0).min(1 << 22);
        let mut loader = Loader::new(width);
        let mut rows = Vec::with_capacity(width);
        while let Some(row) = seq.next_element_seed(&mut loader)? {
            rows.push(row);
        }
        Ok(rows)
    }
}

/// Builds loaded rows: their entries come sorted by partner, and a table is built in key order. A large row's
/// partners are marked as bits at their place in key order and read back ([`Scratch`]), a small one's sorted:
/// sorting every row doubled the time of a load.
struct Loader {
    order: KeyOrder,
    scratch: Scratch,
    /// The entries of the row being loaded.
    entries: Vec<(u32, u32)>,
}

impl Loader {
    fn new(width: usize) -> Self {
        let order = KeyOrder::new(width);
        Loader { scratch: Scratch::new(&order), order, entries: Vec::new() }
    }

    /// The row of the loaded `entries`, or what makes them none.
    fn row(&mut self) -> Result<Row, &'static str> {
        let entries = &mut self.entries;
        if entries.iter().any(|e| e.0 == EMPTY || e.1 == 0) {
            return Err("a pair count of zero or of no product");
        }
        let width = self.order.places.len();
        if entries.len() < SORT_BELOW || entries.iter().any(|e| e.0 as usize >= width) {
            entries.sort_unstable_by_key(|e| key(e.0));
            if entries.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err("a pair counted twice");
            }
            return Ok(Row::of_keyed(entries));
        }
        let mut twice = false;
        for &(j, count) in entries.iter() {
            twice |= !self.scratch.set(self.order.places[j as usize] as usize, count);
        }
        // Built even when refused, so the scratch is left clean.
        let row = self.scratch.table(usize::MAX);
        if twice {
            return Err("a pair counted twice");
        }
        Ok(row)
    }
}

impl<'de> DeserializeSeed<'de> for &mut Loader {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Row, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut Loader {
    type Value = Row;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of (partner, count)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row, A::Error> {
        self.entries.clear();
        while let Some(entry) = seq.next_element::<(u32, u32)>()? {
            self.entries.push(entry);
        }
        self.row().map_err(A::Error::custom)
    }
}

impl PairCounts {
    /// Each row's full entries of a table held once per pair ([`counted_upper_row`]), sorted by
    /// partner.
    #[cfg(test)]
    pub(crate) fn mirrored(&self) -> Vec<Vec<(u32, u32)>> {
        let mut full: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.rows.len()];
        for (i, row) in self.rows.iter().enumerate() {
            for (j, c) in row.iter() {
                full[i].push((j, c));
                if let Some(other) = full.get_mut(j as usize) {
                    other.push((i as u32, c));
                }
            }
        }
        for row in &mut full {
            row.sort_unstable();
        }
        full
    }

    /// The count of `(i, j)`.
    pub(crate) fn get(&self, i: u32, j: u32) -> u32 {
        self.rows.get(i as usize).map_or(0, |row| row.get(j))
    }

    /// Adds `deltas` (distinct partners) to the counts of row `i`, dropping pairs that reach zero, and reports
    /// each partner's count before and after as `(j, before, after)`.
    #[cfg(test)]
    pub(crate) fn apply_row(&mut self, i: u32, deltas: &[(u32, i32)], mut report: impl FnMut(u32, u32, u32)) {
        if self.rows.len() <= i as usize {
            self.rows.resize(i as usize + 1, Row::default());
        }
        for &(j, by) in deltas {
            let (before, after) = self.rows[i as usize].add(j, by);
            report(j, before, after);
        }
    }
}

/// A pair whose count moved: `(i, j, count before, count after)`.
pub(crate) type Moved = (u32, u32, u32, u32);

/// The row an analysis keeps of a row's entries as [`map_rows`] gives them.
pub(crate) fn counted_row(entries: &[(u32, u32)]) -> Row {
    Row::of_keyed(entries)
}

/// The row an analysis keeps of row `i`'s entries of a symmetric table, which is held once per pair: the
/// partners above `i`.
pub(crate) fn counted_upper_row(i: usize, entries: &[(u32, u32)]) -> Row {
    let upper = || entries.iter().copied().filter(move |e| e.0 as usize > i);
    let len = upper().count();
    if len == 0 {
        return Row::default();
    }
    Row::build(upper(), len, homes_for(len))
}

/// Counts, for every product `i` (outer dimension of `left_t`, the event x product matrix in CSC) and every
/// product `j`, the events holding `i` on the left whose right side (`right`, event x product in CSR) holds
/// `j` (the sparse product `left_t * right` without the diagonal), and turns each row by `finish(i, entries)`
/// into what the caller keeps as soon as it is counted: a caller that keeps a row's best few never holds the
/// whole product in memory. The entries come in [`key`] order of their partners (the order a [`Row`] is built
/// in), not sorted by partner.
pub(crate) fn map_rows<T: Send + Default + Clone>(
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
    finish: impl Fn(usize, &[(u32, u32)]) -> T + Sync,
) -> Vec<T> {
    map_rows_with(left_t, right, threads, |_, _| (), |i, entries, ()| finish(i, entries))
}

/// [`map_rows`], with a look at each row while it is counted: `look(i, counts)` reads the count of any pair
/// `(i, j)` as `counts.get(j)` (the diagonal too), and what it returns goes to `finish(i, entries, looked)`.
/// A caller that needs the counts of given partners of each row (not all of them) reads them there, where the
/// row's entries would need a search per partner.
pub(crate) fn map_rows_with<L, T: Send + Default + Clone>(
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
    look: impl Fn(usize, &Counted<'_>) -> L + Sync,
    finish: impl Fn(usize, &[(u32, u32)], L) -> T + Sync,
) -> Vec<T> {
    let counting = Counting::new(left_t, right);
    let counting = &counting;
    super::parallel::map_indexed(
        left_t.outer_dims(),
        threads,
        BLOCK,
        || Scratch::new(&counting.order),
        |i, scratch| {
            counting.count(i, scratch);
            let looked = look(i, &Counted { counts: &scratch.counts, places: &counting.order.places });
            finish(i, scratch.emit(counting.place_of(i)), looked)
        },
    )
}

const BLOCK: usize = 256;

/// A row's counts while it is counted (see [`map_rows_with`]), read by partner.
pub(crate) struct Counted<'a> {
    /// The count and the partner at each place of [`KeyOrder`].
    counts: &'a [(u32, u32)],
    /// The place of each partner.
    places: &'a [u32],
}

impl Counted<'_> {
    /// The count of the pair of the row's product with `j`.
    pub(crate) fn get(&self, j: u32) -> u32 {
        self.places.get(j as usize).map_or(0, |&place| self.counts[place as usize].0)
    }
}

/// What the rows of a product of incidence matrices are counted from: the right side's columns replaced by
/// their places in [`KeyOrder`], so that a row is counted straight at its partners' places and read back in
/// key order in one sequential pass, as the sorted rows of before were read by partner (reading the counts
/// of the partners scattered in key order made an analysis a tenth slower).
struct Counting<'a> {
    left_ptr: Cow<'a, [usize]>,
    left_events: &'a [usize],
    right_ptr: Cow<'a, [usize]>,
    /// The places of the right side's columns, event by event.
    right_places: Vec<u32>,
    order: KeyOrder,
}

impl<'a> Counting<'a> {
    fn new(left_t: &'a CsMat<u8>, right: &'a CsMat<u8>) -> Self {
        let order = KeyOrder::new(right.cols());
        let right_places = right.indices().iter().map(|&j| order.places[j]).collect();
        Counting {
            left_ptr: left_t.proper_indptr(),
            left_events: left_t.indices(),
            right_ptr: right.proper_indptr(),
            right_places,
            order,
        }
    }

    /// The place of row `i`'s own product, whose pairs with itself are not counted.
    fn place_of(&self, i: usize) -> usize {
        self.order.places.get(i).map_or(usize::MAX, |&p| p as usize)
    }

    /// Counts row `i`'s partners into `scratch`, to be read back with [`Scratch::emit`] or [`Scratch::table`].
    fn count(&self, i: usize, scratch: &mut Scratch) {
        // Raw slices: this loop runs tens of millions of times, views per event would dominate it.
        let l_ptr = &self.left_ptr;
        let (&from, &to) = l_ptr.get(i).zip(l_ptr.get(i + 1)).unwrap_or((&0, &0));
        for &e in &self.left_events[from..to] {
            let (Some(&a), Some(&b)) = (self.right_ptr.get(e), self.right_ptr.get(e + 1)) else { continue };
            for &place in &self.right_places[a..b] {
                let c = &mut scratch.counts[place as usize].0;
                if *c == 0 {
                    scratch.touched.push(place);
                    scratch.seen[place as usize / 64] |= 1 << (place % 64);
                }
                *c += 1;
            }
        }
    }
}

/// The columns `0..width` in [`key`] order, and the place of each in it.
struct KeyOrder {
    /// The column at each place.
    columns: Vec<u32>,
    /// The place of each column.
    places: Vec<u32>,
}

impl KeyOrder {
    fn new(width: usize) -> Self {
        let mut columns: Vec<u32> = (0..width as u32).collect();
        columns.sort_unstable_by_key(|&j| key(j));
        let mut places = vec![0u32; width];
        for (place, &j) in columns.iter().enumerate() {
            places[j as usize] = place as u32;
        }
        KeyOrder { columns, places }
    }
}

/// A row being counted, by the places of its partners in [`KeyOrder`].
struct Scratch {
    /// The count at each place, and the partner there: read back side by side, one cache line for both (the
    /// partners read from [`KeyOrder`] made reading a row back a fifth slower).
    counts: Vec<(u32, u32)>,
    /// The places counted, in the order first seen.
    touched: Vec<u32>,
    /// The same places as bits: read in order, they give the partners in key order without sorting (the
    /// sorts of the lists of a large row were a fifth of the counting).
    seen: Vec<u64>,
    /// The row read back, for [`emit`](Self::emit).
    row: Vec<(u32, u32)>,
}

/// Rows with fewer partners than this sort their list; longer ones read the bits.
const SORT_BELOW: usize = 64;

impl Scratch {
    fn new(order: &KeyOrder) -> Self {
        let width = order.columns.len();
        Scratch {
            counts: order.columns.iter().map(|&j| (0, j)).collect(),
            touched: Vec::new(),
            seen: vec![0; width.div_ceil(64)],
            row: Vec::new(),
        }
    }

    /// Marks the partner at `place` with `count` (of a loaded row); false when it was already marked.
    fn set(&mut self, place: usize, count: u32) -> bool {
        if self.counts[place].0 != 0 {
            return false;
        }
        self.counts[place].0 = count;
        self.touched.push(place as u32);
        self.seen[place / 64] |= 1 << (place % 64);
        true
    }

    /// The marked partners but the one at place `skip`, with their counts, in [`key`] order (valid until the
    /// next call).
    fn emit(&mut self, skip: usize) -> &[(u32, u32)] {
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        self.drain(skip, |j, count| row.push((j, count)));
        self.row = row;
        &self.row
    }

    /// The table of the marked partners but the one at place `skip`, with their counts.
    fn table(&mut self, skip: usize) -> Row {
        let len = self.touched.len() - usize::from(self.counts.get(skip).is_some_and(|c| c.0 > 0));
        if len == 0 {
            self.drain(skip, |_, _| {});
            return Row::default();
        }
        let mut table = Builder::new(homes_for(len));
        self.drain(skip, |j, count| table.push(j, count));
        table.finish(len)
    }

    /// Gives `out` the marked partners but the one at place `skip`, with their counts, in [`key`] order; leaves
    /// the counts and bits zero for the next row.
    fn drain(&mut self, skip: usize, mut out: impl FnMut(u32, u32)) {
        let mut emit = |place: usize, counts: &mut [(u32, u32)]| {
            let (count, j) = counts[place];
            if place != skip {
                out(j, count);
            }
            counts[place].0 = 0;
        };
        if self.touched.len() < SORT_BELOW {
            self.touched.sort_unstable();
            for &place in &self.touched {
                self.seen[place as usize / 64] = 0;
                emit(place as usize, &mut self.counts);
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

    /// A row and its model: partners from a few clusters of the product indices (as best sellers cluster in
    /// a catalog), counts.
    fn row_strategy() -> impl Strategy<Value = BTreeMap<u32, u32>> {
        prop::collection::btree_map(partner_strategy(), 1..20u32, 0..600)
    }

    fn partner_strategy() -> impl Strategy<Value = u32> {
        (0..4u32, 0..300u32).prop_map(|(cluster, k)| cluster * 2_000 + k)
    }

    /// What every row must be: the entries of `model`, in key order; each at or after its home slot with no
    /// empty slot between; the last slot empty; not too full to find room.
    fn check(row: &Row, model: &BTreeMap<u32, u32>) -> Result<(), TestCaseError> {
        let mut entries: Vec<(u32, u32)> = model.iter().map(|(&j, &c)| (j, c)).collect();
        entries.sort_unstable_by_key(|e| key(e.0));
        prop_assert_eq!(row.iter().collect::<Vec<_>>(), entries);
        prop_assert_eq!(row.len(), model.len());
        for (&j, &c) in model {
            prop_assert_eq!(row.get(j), c);
        }
        if row.slots.is_empty() {
            prop_assert_eq!(row.len, 0);
            return Ok(());
        }
        prop_assert!(row.slots.len() > row.homes as usize);
        prop_assert_eq!(row.slots.last().copied(), Some(EMPTY_SLOT));
        prop_assert!(!full(row.len(), row.homes));
        for (at, &(j, _)) in row.slots.iter().enumerate() {
            if j != EMPTY {
                let from = home(key(j), row.homes);
                prop_assert!(from <= at);
                prop_assert!(row.slots[from..at].iter().all(|e| e.0 != EMPTY));
            }
        }
        Ok(())
    }

    /// The model's counts after `deltas`, checking the reports of each change's count before and after.
    fn apply_to_model(
        model: &mut BTreeMap<u32, u32>,
        deltas: &[(u32, i32)],
        reports: &[(u32, u32, u32)],
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(reports.len(), deltas.len());
        for (&(j, d), &report) in deltas.iter().zip(reports) {
            let before = model.get(&j).copied().unwrap_or(0);
            let after = before.saturating_add_signed(d);
            prop_assert_eq!(report, (j, before, after));
            if after == 0 {
                model.remove(&j);
            } else {
                model.insert(j, after);
            }
        }
        Ok(())
    }

    proptest! {
        /// Applying changes to a row built whole gives the counts of applying them one at a time to a map,
        /// reports each partner's count before and after, and keeps the row a valid table without zeros.
        #[test]
        fn apply_row_matches_a_map(
            start in row_strategy(),
            changes in prop::collection::btree_map(partner_strategy(), -25..25i32, 0..300),
        ) {
            let mut counts = PairCounts { rows: vec![Row::default(); 8] };
            counts.rows[3] = Row::of(start.iter().map(|(&j, &c)| (j, c)).collect());
            let mut model = start.clone();
            check(&counts.rows[3], &model)?;
            let deltas: Vec<(u32, i32)> = changes.iter().map(|(&j, &d)| (j, d)).collect();
            let mut reports = Vec::new();
            counts.apply_row(3, &deltas, |j, before, after| reports.push((j, before, after)));
            apply_to_model(&mut model, &deltas, &reports)?;
            check(&counts.rows[3], &model)?;
            // The same entries built whole: the same row, listed alike.
            prop_assert_eq!(&counts.rows[3], &Row::of(model.iter().map(|(&j, &c)| (j, c)).collect()));
        }

        /// Rounds of changes to a row that starts empty (insertions that grow it, counts that drop to zero and
        /// delete, partners that come back) match a map after every round.
        #[test]
        fn rounds_of_changes_match_a_map(
            rounds in prop::collection::vec(
                prop::collection::btree_map(
                    prop_oneof![partner_strategy(), 0..40u32, Just(u32::MAX - 1)],
                    prop_oneof![1..4i32, -3..0i32, Just(i32::MIN), Just(i32::MAX)],
                    0..200,
                ),
                1..12,
            ),
        ) {
            let mut counts = PairCounts::default();
            let mut model = BTreeMap::new();
            for changes in rounds {
                let deltas: Vec<(u32, i32)> = changes.into_iter().collect();
                let mut reports = Vec::new();
                counts.apply_row(0, &deltas, |j, before, after| reports.push((j, before, after)));
                apply_to_model(&mut model, &deltas, &reports)?;
                check(&counts.rows[0], &model)?;
            }
        }

        /// Saved sorted by partner, as the sorted rows of before were (the same bytes), and loaded back equal;
        /// with as many rows as partners (large rows are loaded through the bits of their partners) or fewer.
        #[test]
        fn saved_sorted_and_loaded_back(rows in prop::collection::vec(row_strategy(), 0..6), all in any::<bool>()) {
            #[derive(Serialize)]
            struct Sorted {
                rows: Vec<Vec<(u32, u32)>>,
            }
            let mut sorted = Sorted { rows: rows.iter().map(|m| m.iter().map(|(&j, &c)| (j, c)).collect()).collect() };
            if all {
                sorted.rows.resize(8_000, Vec::new());
            }
            let counts = PairCounts { rows: sorted.rows.iter().map(|r| Row::of(r.clone())).collect() };
            let bytes = postcard::to_stdvec(&counts).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_stdvec(&sorted).unwrap());
            prop_assert_eq!(postcard::from_bytes::<PairCounts>(&bytes).unwrap(), counts);
        }
    }

    /// A partner listed twice, or a count of zero, is corrupt data, not a row: in a small row or a large one,
    /// loaded through its partners' bits or sorted.
    #[test]
    fn loading_refuses_what_no_row_holds() {
        let large: Vec<(u32, u32)> = (0..100).map(|j| (j * 7, 1)).collect();
        let twice = |mut row: Vec<(u32, u32)>| {
            row.insert(50, row[50]);
            row
        };
        for bad in [vec![(1u32, 2u32), (1, 3)], vec![(1, 0)], vec![(u32::MAX, 1)], twice(large.clone())] {
            for rows in [1, 8_000] {
                let mut all = vec![Vec::new(); rows];
                all[0] = bad.clone();
                let bytes = postcard::to_stdvec(&(all,)).unwrap();
                assert!(postcard::from_bytes::<PairCounts>(&bytes).is_err());
            }
        }
        let bytes = postcard::to_stdvec(&(vec![large.clone(), large],)).unwrap();
        assert_eq!(postcard::from_bytes::<PairCounts>(&bytes).unwrap().rows[1].len(), 100);
    }
}
