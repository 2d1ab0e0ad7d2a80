//! A fold-in's work on one or two threads ("sides"): counting the changes, updating the related lists, then the
//! leads to the products they hold.
//!
//! Products are dealt to the sides in alternate blocks (of [`BLOCK_SHIFT`]): each side counts the changes to its
//! products' rows, updates their related lists and then the leads to them, so every row and list is updated as
//! on one thread, and the result is the same. Blocks spread the best sellers (which cluster in the catalog
//! order) and the rarely sold products (whose unfilled rows test more pairs) over both sides, where a split
//! into two ranges left one side with two fifths more to do. Both sides run in one scope and wait for each
//! other at two barriers, where the moved pairs (for a symmetric table's mirrored pairs) and then the leads'
//! changes are handed over: one thread started per fold-in, not one per phase (a start took 20-100 us).
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Barrier, OnceLock};

use super::leads::{self, LeadChange, LeadWork};
use super::lists;
use crate::clerk::counts::{Moved, PairCounts, Row};
use crate::clerk::settings::Settings;
use crate::clerk::state::State;
use crate::clerk::{Inner, Lead, AUDIENCE_KINDS};

/// A count change: `(i, j, by)`.
pub(super) type Change = (u32, u32, i32);

/// Count changes (a symmetric table's counted twice, for the rows of both its products) from which a fold-in
/// takes two threads, when the settings allow: below, starting a thread costs more than it saves (few in tests,
/// so that their fold-ins take both ways).
const PARALLEL: usize = if cfg!(test) { 16 } else { 6144 };

/// Products in a block dealt to one side: a power of two (the slot of a product is found with shifts), large
/// enough that dealing the tables takes little time, small enough that the blocks of an order's products fall to
/// both sides about evenly.
const BLOCK_SHIFT: u32 = 9;

/// The side (of `sides`, 1 or 2) that works on product `i`.
pub(super) fn side_of(i: u32, sides: usize) -> usize {
    if sides > 1 {
        ((i >> BLOCK_SHIFT) & 1) as usize
    } else {
        0
    }
}

/// One side's share of a table with a slot per product (rows of counts, related lists, leads): the blocks of
/// products dealt to it, or the whole table for one side.
pub(super) struct Blocks<'a, T> {
    blocks: Vec<&'a mut [T]>,
    /// Whether the side holds the whole table (as its one block).
    whole: bool,
}

impl<'a, T> Blocks<'a, T> {
    /// `table` dealt to `sides` sides (1 or 2): alternate blocks of products, or the whole table to one side.
    pub(super) fn deal(table: &'a mut [T], sides: usize) -> Vec<Self> {
        if sides <= 1 {
            return vec![Blocks { blocks: vec![table], whole: true }];
        }
        let blocks = table.len().div_ceil(1 << BLOCK_SHIFT).div_ceil(2);
        let mut dealt: Vec<Self> =
            (0..2).map(|_| Blocks { blocks: Vec::with_capacity(blocks), whole: false }).collect();
        for (b, chunk) in table.chunks_mut(1 << BLOCK_SHIFT).enumerate() {
            dealt[b & 1].blocks.push(chunk);
        }
        dealt
    }

    /// Where product `i` is: its block among the side's, and its place in the block.
    fn place(&self, i: u32) -> (usize, usize) {
        if self.whole {
            (0, i as usize)
        } else {
            ((i >> (BLOCK_SHIFT + 1)) as usize, (i & ((1 << BLOCK_SHIFT) - 1)) as usize)
        }
    }

    /// The slot of product `i`, which must be one of the side's.
    pub(super) fn get(&self, i: u32) -> Option<&T> {
        let (block, at) = self.place(i);
        self.blocks.get(block)?.get(at)
    }

    /// The slot of product `i`, which must be one of the side's.
    pub(super) fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        let (block, at) = self.place(i);
        self.blocks.get_mut(block)?.get_mut(at)
    }
}

/// The working lists of one side, kept from one fold-in to the next.
#[derive(Debug, Default)]
pub(super) struct Side {
    /// The count changes to the side's rows, of one kind.
    mine: Vec<Change>,
    /// The pairs of the side's rows whose count moved, per kind, sorted.
    own: [Vec<Moved>; 4],
    /// The working lists of the related lists.
    pub(super) lists: lists::Work,
    /// The leads the side's rows change (to products of either side).
    leads: Vec<LeadChange>,
    /// The working lists of changing the leads to the side's products.
    lead_work: LeadWork,
}

impl Side {
    /// Makes room for `n` moved pairs of each kind.
    pub(super) fn reserve(&mut self, n: usize) {
        for kind in AUDIENCE_KINDS {
            self.own[kind].reserve(n);
        }
    }

    /// Empties the lists, releasing what a large batch grew beyond `kept` entries.
    pub(super) fn clear(&mut self, kept: usize) {
        fn empty<T>(v: &mut Vec<T>, kept: usize) {
            v.clear();
            v.shrink_to(kept);
        }
        empty(&mut self.mine, kept);
        self.own.iter_mut().for_each(|v| empty(v, kept));
        empty(&mut self.leads, kept);
        self.lists.clear(kept);
        self.lead_work.clear(kept);
    }
}

/// What the sides hand each other at the barriers.
struct Exchange {
    barrier: Barrier,
    moved: [OnceLock<[Vec<Moved>; 4]>; 2],
    leads: [OnceLock<Vec<LeadChange>>; 2],
}

/// One side's shares of the tables: rows of counts (when the side counts), related lists, leads.
struct Share<'a> {
    counts: Option<[Blocks<'a, Row>; 3]>,
    lists: [Blocks<'a, Vec<(u32, f32)>>; 3],
    incoming: Blocks<'a, Vec<Lead>>,
}

/// How many sides a fold-in takes on `threads` threads, for `changes` count changes (or moved pairs) per kind.
fn sides_for(changes: [usize; 4], threads: usize) -> usize {
    let total: usize = AUDIENCE_KINDS.iter().map(|&kind| changes[kind] * lists::rows_per_pair(kind)).sum();
    if threads > 1 && total >= PARALLEL {
        2
    } else {
        1
    }
}

/// Applies the `pending` changes (sorted, distinct) to the counts of `s`, appending the moved pairs to `moved`
/// (kept sorted: a pair moved by several batches keeps its count before the first and after the last). For a
/// batch counted in several steps; the last is counted by [`update`].
pub(super) fn count(s: &mut State, pending: &[Vec<Change>; 4], moved: &mut [Vec<Moved>; 4]) {
    let tables = [&mut s.together, &mut s.next, &mut s.regulars];
    for (&kind, table) in AUDIENCE_KINDS.iter().zip(tables) {
        let again = !moved[kind].is_empty();
        for mut rows in Blocks::deal(&mut table.rows, 1) {
            apply_changes(&mut rows, &pending[kind], &mut moved[kind]);
        }
        if again {
            let moved = &mut moved[kind];
            moved.sort_by_key(|m| (m.0, m.1));
            moved.dedup_by(|later, kept| {
                let same = (later.0, later.1) == (kept.0, kept.1);
                if same {
                    kept.3 = later.3;
                }
                same
            });
        }
    }
}

/// Counts the `pending` changes (unless `counted` holds the moved pairs of changes already counted), then
/// updates the related lists in place and the leads to the products they hold, on one or two sides (see the
/// module doc). `before` holds the denominators that moved: the products' orders before (bought together and
/// next), their regular customers before (same customers). Returns how many products had a row updated.
pub(super) fn update(
    inner: &mut Inner,
    settings: &Settings,
    pending: &[Vec<Change>; 4],
    counted: Option<&[Vec<Moved>; 4]>,
    before: [&BTreeMap<u32, u32>; 2],
    work: &mut [Side; 2],
    threads: usize,
) -> usize {
    let changes = std::array::from_fn(|kind| counted.map_or(pending[kind].len(), |moved| moved[kind].len()));
    let sides = sides_for(changes, threads);
    let n = inner.incoming.len();
    // Taken out of the state while they are updated: the updates read the rest of it.
    let mut related = std::mem::take(&mut inner.state.related);
    let mut tables: Option<[PairCounts; 3]> = counted.is_none().then(|| {
        let s = &mut inner.state;
        [std::mem::take(&mut s.together), std::mem::take(&mut s.next), std::mem::take(&mut s.regulars)]
    });
    let s = &inner.state;
    let mut shares = deal(&mut related, tables.as_mut(), &mut inner.incoming, sides);
    let exchange = Exchange {
        barrier: Barrier::new(sides),
        moved: [OnceLock::new(), OnceLock::new()],
        leads: [OnceLock::new(), OnceLock::new()],
    };
    let [first, second] = work;
    let job = Job { s, settings, pending, counted, before, sides, n, exchange: &exchange };
    let touched = if sides == 1 {
        let share = shares.pop();
        share.map_or(0, |share| job.run(share, 0, first))
    } else {
        let (b, a) = (shares.pop(), shares.pop());
        match (a, b) {
            (Some(a), Some(b)) => std::thread::scope(|scope| {
                let other = scope.spawn(|| job.run(b, 1, second));
                let here = job.run(a, 0, first);
                here + other.join().unwrap_or_else(|panic| resume_unwind(panic))
            }),
            _ => 0,
        }
    };
    // The lists handed over, kept for the next fold-in.
    let Exchange { moved, leads, .. } = exchange;
    for ((side, moved), leads) in [&mut *first, &mut *second].into_iter().zip(moved).zip(leads) {
        if let Some(moved) = moved.into_inner() {
            side.own = moved;
        }
        if let Some(leads) = leads.into_inner() {
            side.leads = leads;
        }
    }
    let s = &mut inner.state;
    s.related = related;
    if let Some([together, next, regulars]) = tables {
        (s.together, s.next, s.regulars) = (together, next, regulars);
    }
    touched
}

/// The tables dealt to `sides` sides.
fn deal<'a>(
    related: &'a mut [Vec<Vec<(u32, f32)>>; 4],
    tables: Option<&'a mut [PairCounts; 3]>,
    incoming: &'a mut [Vec<Lead>],
    sides: usize,
) -> Vec<Share<'a>> {
    // In AUDIENCE_KINDS order.
    let [together, next, _, same] = related;
    let mut lists = [together, next, same].map(|lists| Blocks::deal(lists, sides));
    let mut counts = tables.map(|[a, b, c]| [a, b, c].map(|t| Blocks::deal(&mut t.rows, sides)));
    let mut incoming = Blocks::deal(incoming, sides);
    let mut shares = Vec::with_capacity(sides);
    while let Some(incoming) = incoming.pop() {
        let [a, b, c] = &mut lists;
        let (Some(a), Some(b), Some(c)) = (a.pop(), b.pop(), c.pop()) else { break };
        let counts = counts.as_mut().and_then(|[x, y, z]| Some([x.pop()?, y.pop()?, z.pop()?]));
        shares.push(Share { counts, lists: [a, b, c], incoming });
    }
    shares.reverse();
    shares
}

/// What both sides read.
struct Job<'a> {
    s: &'a State,
    settings: &'a Settings,
    pending: &'a [Vec<Change>; 4],
    counted: Option<&'a [Vec<Moved>; 4]>,
    before: [&'a BTreeMap<u32, u32>; 2],
    sides: usize,
    n: usize,
    exchange: &'a Exchange,
}

impl Job<'_> {
    /// One side's work: count, hand over the moved pairs, update the related lists, hand over the leads'
    /// changes, change the leads to the side's products. Returns how many of its products had a row updated.
    fn run(&self, mut share: Share<'_>, me: usize, work: &mut Side) -> usize {
        let (sides, exchange) = (self.sides, self.exchange);
        // Each hand-over is made and waited for even after a panic, so that the other side never waits forever.
        let counted = catch_unwind(AssertUnwindSafe(|| self.count(share.counts.as_mut(), me, work)));
        let _ = exchange.moved[me].set(std::mem::take(&mut work.own));
        exchange.barrier.wait();
        counted.unwrap_or_else(|panic| resume_unwind(panic));
        let moved: Vec<&[Vec<Moved>; 4]> = exchange.moved[..sides].iter().filter_map(OnceLock::get).collect();
        let Some(own) = moved.get(me).copied() else { return 0 };
        let updated = catch_unwind(AssertUnwindSafe(|| {
            let (s, settings, before) = (self.s, self.settings, self.before);
            let (lists, leads) = (&mut work.lists, &mut work.leads);
            lists::update_rows(s, settings, (me, sides), &mut share.lists, own, &moved, before, lists, leads)
        }));
        let _ = exchange.leads[me].set(std::mem::take(&mut work.leads));
        exchange.barrier.wait();
        let updated = updated.unwrap_or_else(|panic| resume_unwind(panic));
        let sources: Vec<&[LeadChange]> =
            exchange.leads[..sides].iter().filter_map(|l| l.get().map(Vec::as_slice)).collect();
        leads::apply(&mut share.incoming, me, sides, self.n, &sources, &mut work.lead_work);
        updated
    }

    /// Counts the changes to the side's rows into `work.own` (or takes their moved pairs from those counted
    /// before).
    fn count(&self, counts: Option<&mut [Blocks<'_, Row>; 3]>, me: usize, work: &mut Side) {
        let sides = self.sides;
        let Side { mine, own, .. } = work;
        own.iter_mut().for_each(Vec::clear);
        match (self.counted, counts) {
            (Some(moved), _) => {
                for kind in AUDIENCE_KINDS {
                    own[kind].extend(moved[kind].iter().filter(|m| side_of(m.0, sides) == me));
                }
            }
            (None, Some(counts)) => {
                for (&kind, rows) in AUDIENCE_KINDS.iter().zip(counts) {
                    let changes = if sides == 1 {
                        &self.pending[kind][..]
                    } else {
                        mine.clear();
                        mine.extend(self.pending[kind].iter().filter(|c| side_of(c.0, sides) == me));
                        &mine[..]
                    };
                    apply_changes(rows, changes, &mut own[kind]);
                }
            }
            (None, None) => {}
        }
    }
}

/// Count changes whose home slots are read together before they are applied.
const TOUCHED: usize = 256;

/// Applies `changes` (sorted by `(i, j)`, distinct, to rows of `rows`), appending each moved pair to `moved`
/// with its count before and after: [`TOUCHED`] changes at a time, the home slots they need read first
/// ([`Row::touch`]) so that their cache misses overlap, then updated ([`Row::add`]) while they are still in
/// cache.
pub(super) fn apply_changes(rows: &mut Blocks<'_, Row>, changes: &[Change], moved: &mut Vec<Moved>) {
    for window in changes.chunks(TOUCHED) {
        let mut sum = 0u32;
        for &(i, j, _) in window {
            if let Some(row) = rows.get(i) {
                sum = sum.wrapping_add(row.touch(j));
            }
        }
        std::hint::black_box(sum);
        for &(i, j, by) in window {
            let Some(row) = rows.get_mut(i) else { continue };
            let (before, after) = row.add(j, by);
            moved.push((i, j, before, after));
        }
    }
}
