//! A fold-in's work on one or two threads: counting the changes, updating the related lists, then the leads to
//! the products they hold.
//!
//! Each kind's rows are cut into units of about [`UNIT_CHANGES`] count changes (one unit per kind on one
//! thread), and the leads into units of [`LEAD_UNIT`] products. In each of the three phases (count the changes
//! to a unit's rows, update their related lists, change the leads to a unit's products) the threads claim
//! units one at a time until none is left: a thread that starts late (a start takes 20-100 us on the shared
//! 2-core machine) or meets the heavier rows does less, where a fixed split left one thread waiting for the
//! other for up to a fifth of the fold-in, whichever way it was cut. Units of changes, not of products, keep
//! enough changes together for their cache misses to overlap (see [`apply_changes`]). Each row and each
//! product's leads is updated by one thread, as on one, so the result is the same whatever the threads.
//! Between the phases the threads wait for each other and hand over what the next phase reads: each unit's
//! moved pairs and a symmetric table's pairs mirrored to it, then the leads' changes to each unit's products.
//! One thread is started per fold-in, not one per phase.
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, OnceLock, PoisonError};

use super::leads::{self, LeadChange, LeadWork};
use super::lists::{self, Lists};
use crate::clerk::counts::{Moved, PairCounts, Row};
use crate::clerk::relations;
use crate::clerk::settings::Settings;
use crate::clerk::state::State;
use crate::clerk::{Inner, Lead, AUDIENCE_KINDS};

/// A count change: `(i, j, by)`.
pub(super) type Change = (u32, u32, i32);

/// Count changes (a symmetric table's counted twice, for the rows of both its products) from which a fold-in
/// takes two threads, when the settings allow: below, starting a thread costs more than it saves (few in tests,
/// so that their fold-ins take both ways).
const PARALLEL: usize = if cfg!(test) { 16 } else { 6144 };

/// Count changes per unit of rows, at least (a unit ends with a row): a few windows of [`TOUCHED`], and units
/// enough for the threads to end a phase close together (a dozen for a fold-in at the threshold, two to three
/// dozen for the Complete Journey's p99 orders; units of 256 or 1,024 changes measured no better). Few in tests,
/// so that their fold-ins cut rows into several units.
const UNIT_CHANGES: usize = if cfg!(test) { 4 } else { 512 };

/// Products per unit of leads.
const LEAD_UNIT: usize = if cfg!(test) { 8 } else { 2048 };

/// The working lists of one thread, kept from one fold-in to the next.
#[derive(Debug, Default)]
pub(super) struct Side {
    /// Per kind in [`AUDIENCE_KINDS`] order and unit: the pairs of the unit's rows whose count moved, sorted.
    own: [Vec<Vec<Moved>>; 3],
    /// Per kind and unit: a symmetric table's moved pairs mirrored to the unit's rows.
    mirror: [Vec<Vec<Moved>>; 3],
    /// Per unit of leads: the changes to the leads to its products.
    leads: Vec<Vec<LeadChange>>,
    /// The leads one unit's rows change.
    unit_leads: Vec<LeadChange>,
    /// The rows the thread updated.
    touched: Vec<u32>,
    /// The working lists of the related lists.
    lists: lists::Work,
    /// The working lists of changing the leads.
    lead_work: LeadWork,
}

impl Side {
    /// Makes room for `n` moved pairs of each kind on one thread.
    pub(super) fn reserve(&mut self, n: usize) {
        for own in &mut self.own {
            own.resize_with(1, Vec::new);
            own[0].reserve(n);
        }
    }

    /// Empty lists for the units of `cuts` and `lead_units` units of leads.
    fn prepare(&mut self, cuts: &[Vec<u32>; 3], lead_units: usize) {
        fn ready<T>(lists: &mut Vec<Vec<T>>, units: usize) {
            lists.resize_with(units, Vec::new);
            lists.iter_mut().for_each(Vec::clear);
        }
        for (slot, cuts) in cuts.iter().enumerate() {
            let units = cuts.len().saturating_sub(1);
            ready(&mut self.own[slot], units);
            ready(&mut self.mirror[slot], units);
        }
        ready(&mut self.leads, lead_units);
        self.touched.clear();
    }

    /// Empties the lists, releasing what a large batch grew beyond `kept` entries.
    pub(super) fn clear(&mut self, kept: usize) {
        fn empty<T>(v: &mut Vec<T>, kept: usize) {
            v.clear();
            v.shrink_to(kept);
        }
        for lists in self.own.iter_mut().chain(&mut self.mirror) {
            lists.iter_mut().for_each(|v| empty(v, kept));
        }
        self.leads.iter_mut().for_each(|v| empty(v, kept));
        empty(&mut self.unit_leads, kept);
        empty(&mut self.touched, kept);
        self.lists.clear(kept);
        self.lead_work.clear(kept);
    }
}

/// Applies the `pending` changes (sorted, distinct) to the counts of `s`, appending the moved pairs to `moved`
/// (kept sorted: a pair moved by several batches keeps its count before the first and after the last). For a
/// batch counted in several steps; the last is counted by [`update`].
pub(super) fn count(s: &mut State, pending: &[Vec<Change>; 4], moved: &mut [Vec<Moved>; 4]) {
    let tables = [&mut s.together, &mut s.next, &mut s.regulars];
    for (&kind, table) in AUDIENCE_KINDS.iter().zip(tables) {
        let again = !moved[kind].is_empty();
        apply_changes(&mut table.rows, 0, &pending[kind], &mut moved[kind]);
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

/// A unit of one kind's rows: rows `lo..` (their counts when it counts), and their count changes (or the pairs
/// counted before).
struct CountUnit<'a> {
    slot: usize,
    unit: usize,
    lo: u32,
    rows: Option<&'a mut [Row]>,
    changes: &'a [Change],
    counted: &'a [Moved],
}

/// A unit of one kind's rows: the related lists of rows `lo..`.
struct ListUnit<'a> {
    slot: usize,
    unit: usize,
    lo: u32,
    lists: &'a mut Lists,
}

/// A unit of leads: those to products `unit * LEAD_UNIT..`.
struct LeadUnit<'a> {
    unit: usize,
    incoming: &'a mut [Vec<Lead>],
}

/// Units to claim, each once: the next is at `next`.
struct Claims<T> {
    units: Vec<Mutex<Option<T>>>,
    next: AtomicUsize,
}

impl<T> Claims<T> {
    fn new(units: impl Iterator<Item = T>) -> Self {
        Claims { units: units.map(|u| Mutex::new(Some(u))).collect(), next: AtomicUsize::new(0) }
    }

    /// The next unit no thread has claimed, if any is left.
    fn claim(&self) -> Option<T> {
        loop {
            let unit = self.units.get(self.next.fetch_add(1, Ordering::Relaxed))?;
            if let Some(unit) = unit.lock().unwrap_or_else(PoisonError::into_inner).take() {
                return Some(unit);
            }
        }
    }
}

/// What one thread hands over after counting: its `own` and `mirror` lists (see [`Side`]).
type HandedMoved = ([Vec<Vec<Moved>>; 3], [Vec<Vec<Moved>>; 3]);

/// What both threads read.
struct Job<'a> {
    s: &'a State,
    settings: &'a Settings,
    before: [&'a BTreeMap<u32, u32>; 2],
    /// Per kind: the first row of each unit, and the number of products.
    cuts: &'a [Vec<u32>; 3],
    lead_unit: usize,
    n: usize,
    counts: Claims<CountUnit<'a>>,
    lists: Claims<ListUnit<'a>>,
    leads: Claims<LeadUnit<'a>>,
    barrier: Barrier,
    moved: [OnceLock<HandedMoved>; 2],
    lead_changes: [OnceLock<Vec<Vec<LeadChange>>>; 2],
}

/// Counts the `pending` changes (unless `counted` holds the moved pairs of changes already counted), then
/// updates the related lists in place and the leads to the products they hold, on one or two threads (see the
/// module doc). `before` holds the denominators that moved: the products' orders before (bought together and
/// next), their regular customers before (same customers). Returns how many products had a row updated.
#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    inner: &mut Inner,
    settings: &Settings,
    pending: &[Vec<Change>; 4],
    counted: Option<&[Vec<Moved>; 4]>,
    before: [&BTreeMap<u32, u32>; 2],
    work: &mut [Side; 2],
    cuts: &mut [Vec<u32>; 3],
    threads: usize,
) -> usize {
    let total: usize = AUDIENCE_KINDS
        .iter()
        .map(|&kind| counted.map_or(pending[kind].len(), |moved| moved[kind].len()) * lists::rows_per_pair(kind))
        .sum();
    let threads = if threads > 1 && total >= PARALLEL { 2 } else { 1 };
    let n = inner.incoming.len();
    for (slot, &kind) in AUDIENCE_KINDS.iter().enumerate() {
        match counted {
            Some(moved) => cut(moved[kind].iter().map(|m| m.0), moved[kind].len(), n, threads, &mut cuts[slot]),
            None => cut(pending[kind].iter().map(|c| c.0), pending[kind].len(), n, threads, &mut cuts[slot]),
        }
    }
    let lead_unit = if threads > 1 { LEAD_UNIT } else { n.max(1) };
    // Taken out of the state while they are updated: the updates read the rest of it.
    let mut related = std::mem::take(&mut inner.state.related);
    let mut tables: Option<[PairCounts; 3]> = counted.is_none().then(|| {
        let s = &mut inner.state;
        [std::mem::take(&mut s.together), std::mem::take(&mut s.next), std::mem::take(&mut s.regulars)]
    });
    let cuts = &*cuts;
    // The largest first, so that the last to be claimed are small and the threads end close together.
    let mut count_units: Vec<CountUnit<'_>> = count_units(cuts, pending, counted, tables.as_mut()).collect();
    // The moved pairs of each unit's own rows, one per change, weigh its related lists too.
    let mut changes: [Vec<usize>; 3] = std::array::from_fn(|slot| vec![0; cuts[slot].len().saturating_sub(1)]);
    for u in &count_units {
        changes[u.slot][u.unit] = u.changes.len() + u.counted.len();
    }
    count_units.sort_by_key(|u| std::cmp::Reverse(u.changes.len() + u.counted.len()));
    let job = Job {
        s: &inner.state,
        settings,
        before,
        cuts,
        lead_unit,
        n,
        counts: Claims::new(count_units.into_iter()),
        lists: {
            // In AUDIENCE_KINDS order.
            let [together, next, _, same] = &mut related;
            let mut units: Vec<(usize, ListUnit<'_>)> = [together, next, same]
                .into_iter()
                .zip(cuts)
                .zip(&changes)
                .enumerate()
                .flat_map(|(slot, ((lists, cuts), changes))| {
                    let rows = lists::rows_per_pair(AUDIENCE_KINDS[slot]);
                    split_at_cuts(lists, cuts)
                        .zip(changes)
                        .map(move |((unit, lo, lists), changes)| (changes * rows, ListUnit { slot, unit, lo, lists }))
                })
                .collect();
            // The largest first (the moved pairs of their own rows, those mirrored to them as many again).
            units.sort_by_key(|u| std::cmp::Reverse(u.0));
            Claims::new(units.into_iter().map(|(_, unit)| unit))
        },
        leads: Claims::new(
            inner.incoming.chunks_mut(lead_unit).enumerate().map(|(unit, incoming)| LeadUnit { unit, incoming }),
        ),
        barrier: Barrier::new(threads),
        moved: [OnceLock::new(), OnceLock::new()],
        lead_changes: [OnceLock::new(), OnceLock::new()],
    };
    let [first, second] = work;
    if threads == 1 {
        job.run(0, first);
    } else {
        std::thread::scope(|scope| {
            let other = scope.spawn(|| job.run(1, &mut *second));
            job.run(0, &mut *first);
            other.join().unwrap_or_else(|panic| resume_unwind(panic));
        });
    }
    // The lists handed over, kept for the next fold-in.
    let Job { moved, lead_changes, .. } = job;
    for ((side, moved), leads) in [&mut *first, &mut *second].into_iter().zip(moved).zip(lead_changes) {
        if let Some((own, mirror)) = moved.into_inner() {
            (side.own, side.mirror) = (own, mirror);
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
    // Products with a row updated, of any kind, on either thread.
    let touched = &mut first.touched;
    touched.append(&mut second.touched);
    touched.sort_unstable();
    touched.dedup();
    touched.len()
}

/// Cuts rows `0..n` into units in `cuts` (the first row of each, then `n`): on one thread one unit, on more
/// units of at least [`UNIT_CHANGES`] of the `len` changes, whose rows are `rows` (sorted).
fn cut(rows: impl Iterator<Item = u32>, len: usize, n: usize, threads: usize, cuts: &mut Vec<u32>) {
    cuts.clear();
    cuts.push(0);
    if threads > 1 && len > UNIT_CHANGES {
        let mut since = 0;
        let mut last = 0;
        for i in rows {
            if since >= UNIT_CHANGES && i != last {
                cuts.push(i);
                since = 0;
            }
            since += 1;
            last = i;
        }
    }
    cuts.push(u32::try_from(n).unwrap_or(u32::MAX).max(cuts[cuts.len() - 1]));
}

/// `table` cut at `cuts`: each unit's index, first row and rows.
fn split_at_cuts<'a, T>(table: &'a mut [T], cuts: &'a [u32]) -> impl Iterator<Item = (usize, u32, &'a mut [T])> {
    let mut rest = table;
    cuts.windows(2).enumerate().map(move |(unit, w)| {
        let len = ((w[1] - w[0]) as usize).min(rest.len());
        let (here, after) = std::mem::take(&mut rest).split_at_mut(len);
        rest = after;
        (unit, w[0], here)
    })
}

/// The units of rows with changes to count (or moved pairs counted before), with their rows of counts when they
/// count.
fn count_units<'a>(
    cuts: &'a [Vec<u32>; 3],
    pending: &'a [Vec<Change>; 4],
    counted: Option<&'a [Vec<Moved>; 4]>,
    tables: Option<&'a mut [PairCounts; 3]>,
) -> impl Iterator<Item = CountUnit<'a>> {
    let mut tables = tables.map(|[a, b, c]| [Some(a), Some(b), Some(c)]);
    AUDIENCE_KINDS.iter().enumerate().flat_map(move |(slot, &kind)| {
        let cuts = &cuts[slot];
        let mut rows = tables.as_mut().and_then(|t| t[slot].take()).map(|t| split_at_cuts(&mut t.rows, cuts));
        let (changes, moved) = (&pending[kind][..], counted.map_or(&[][..], |m| &m[kind][..]));
        let (mut from, mut moved_from) = (0, 0);
        cuts.windows(2).enumerate().filter_map(move |(unit, w)| {
            let end = w[1];
            let to = from + changes[from..].partition_point(|c| c.0 < end);
            let moved_to = moved_from + moved[moved_from..].partition_point(|m| m.0 < end);
            let (here, counted_here) = (&changes[from..to], &moved[moved_from..moved_to]);
            (from, moved_from) = (to, moved_to);
            // Every unit's rows are taken, so that the next unit's follow.
            let rows = rows.as_mut().and_then(Iterator::next).map(|(_, _, rows)| rows);
            (!here.is_empty() || !counted_here.is_empty()).then_some(CountUnit {
                slot,
                unit,
                lo: w[0],
                rows,
                changes: here,
                counted: counted_here,
            })
        })
    })
}

impl Job<'_> {
    /// One thread's work (thread `me`): count units, hand over, update units' related lists, hand over, change
    /// units' leads; noting in `work.touched` the rows it updated.
    fn run(&self, me: usize, work: &mut Side) {
        work.prepare(self.cuts, self.n.div_ceil(self.lead_unit).max(1));
        // Each hand-over is made and waited for even after a panic, so that the other thread never waits forever.
        let counted = catch_unwind(AssertUnwindSafe(|| {
            while let Some(unit) = self.counts.claim() {
                count_unit(unit, self.cuts, &mut work.own, &mut work.mirror);
            }
        }));
        let _ = self.moved[me].set((std::mem::take(&mut work.own), std::mem::take(&mut work.mirror)));
        self.barrier.wait();
        counted.unwrap_or_else(|panic| resume_unwind(panic));
        let moved: Vec<&HandedMoved> = self.moved.iter().filter_map(OnceLock::get).collect();
        let updated = catch_unwind(AssertUnwindSafe(|| {
            let mut mirrored: Vec<&[Moved]> = Vec::new();
            while let Some(ListUnit { slot, unit, lo, lists }) = self.lists.claim() {
                // Counted by one thread: the other's list of the unit is empty.
                let own = moved
                    .iter()
                    .filter_map(|m| m.0[slot].get(unit).map(Vec::as_slice))
                    .find(|own| !own.is_empty())
                    .unwrap_or_default();
                mirrored.clear();
                mirrored.extend(moved.iter().filter_map(|m| m.1[slot].get(unit).map(Vec::as_slice)));
                let Side { unit_leads, touched, lists: list_work, leads, .. } = &mut *work;
                unit_leads.clear();
                let (s, settings, kind) = (self.s, self.settings, AUDIENCE_KINDS[slot]);
                lists::update_rows(
                    s,
                    settings,
                    (kind, slot),
                    lo,
                    lists,
                    own,
                    &mirrored,
                    self.before,
                    list_work,
                    unit_leads,
                    touched,
                );
                for &change in unit_leads.iter() {
                    if let Some(to) = leads.get_mut(change.0 as usize / self.lead_unit) {
                        to.push(change);
                    }
                }
            }
        }));
        let _ = self.lead_changes[me].set(std::mem::take(&mut work.leads));
        self.barrier.wait();
        updated.unwrap_or_else(|panic| resume_unwind(panic));
        let handed: Vec<&Vec<Vec<LeadChange>>> = self.lead_changes.iter().filter_map(OnceLock::get).collect();
        let mut sources: Vec<&[LeadChange]> = Vec::new();
        while let Some(LeadUnit { unit, incoming }) = self.leads.claim() {
            sources.clear();
            sources.extend(handed.iter().filter_map(|h| h.get(unit).map(Vec::as_slice)));
            if sources.iter().any(|s| !s.is_empty()) {
                let lo = u32::try_from(unit * self.lead_unit).unwrap_or(u32::MAX);
                leads::apply(incoming, lo, self.n, &sources, &mut work.lead_work);
            }
        }
    }
}

/// Counts a unit's changes (or takes its moved pairs counted before) into `own`, and mirrors a symmetric
/// table's moved pairs to the units of their partners' rows in `mirror`.
fn count_unit(
    unit: CountUnit<'_>,
    cuts: &[Vec<u32>; 3],
    own: &mut [Vec<Vec<Moved>>; 3],
    mirror: &mut [Vec<Vec<Moved>>; 3],
) {
    let CountUnit { slot, unit, lo, rows, changes, counted } = unit;
    let Some(out) = own[slot].get_mut(unit) else { return };
    match rows {
        Some(rows) => {
            // A moved pair per change.
            out.reserve(changes.len());
            apply_changes(rows, lo, changes, out);
        }
        None => out.extend_from_slice(counted),
    }
    if relations::symmetric(AUDIENCE_KINDS[slot]) {
        let cuts = &cuts[slot];
        for &(i, j, before, after) in out.iter() {
            let to = cuts.partition_point(|&c| c <= j).saturating_sub(1);
            if let Some(to) = mirror[slot].get_mut(to) {
                to.push((j, i, before, after));
            }
        }
    }
}

/// Count changes whose home slots are read together before they are applied.
const TOUCHED: usize = 256;

/// Applies `changes` (sorted by `(i, j)`, distinct) to `rows` (rows `lo..`), appending each moved pair to
/// `moved` with its count before and after: [`TOUCHED`] changes at a time, the home slots they need read first
/// ([`Row::touch`]) so that their cache misses overlap, then updated ([`Row::add`]) while they are still in
/// cache.
fn apply_changes(rows: &mut [Row], lo: u32, changes: &[Change], moved: &mut Vec<Moved>) {
    for window in changes.chunks(TOUCHED) {
        let mut sum = 0u32;
        for &(i, j, _) in window {
            if let Some(row) = rows.get((i - lo) as usize) {
                sum = sum.wrapping_add(row.touch(j));
            }
        }
        std::hint::black_box(sum);
        for &(i, j, by) in window {
            let Some(row) = rows.get_mut((i - lo) as usize) else { continue };
            let (before, after) = row.add(j, by);
            moved.push((i, j, before, after));
        }
    }
}
