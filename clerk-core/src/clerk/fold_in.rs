//! Folding new orders into an analysed state, updating only the products they touch.
//!
//! Counts (orders per product, pairs bought together and next, repeat purchases, histories) come out exactly
//! as a full analysis of the same orders would give them; decayed weights stay relative to the analysis'
//! reference time and are moved to "now" when read (within float rounding of a full analysis). Related lists
//! are updated in place, pair by pair: every listed score stays exact (`count / rows with the product`), and a
//! pair whose count moved is tested again and enters, moves or leaves its row. Pairs whose counts did not move
//! keep their membership, although the significance test of a full analysis, which reads totals every order
//! moves, could admit or drop a borderline one. Alternatives (catalog-led, slow to change), the trending
//! window and the population's repurchase cycles are refreshed by the next full analysis only; the analysis
//! policy runs one when enough has changed.
//!
//! An order moves thousands of pair counts (each pair of its products, its products against the next windows
//! of the customer's previous orders, each product that becomes a regular against the customer's other
//! regulars), in rows of up to tens of thousands of partners, so a fold-in is bound by cache misses. The
//! symmetric tables (bought together, same customers) hold each pair once, in the row of the smaller product,
//! so a fold-in counts each of their pairs once. The changes are gathered, sorted and applied
//! ([`apply_changes`]): each row of counts is a hash table, so a count is one probe from its home slot; the
//! home slots of a window of changes are read before any is applied so that their misses overlap, and a row
//! grows (is rebuilt larger) only when it is full. A batch of more than [`PARALLEL_CHANGES`] changes is applied
//! on two threads when the settings allow (the rows split in two at a row boundary: each row is updated as on
//! one thread, so the counts are the same).
//!
//! Each moved pair comes back with its count before and after (a symmetric table's pairs mirrored to both
//! rows), so related rows are updated without searching the counts again ([`update_row`]): a row whose
//! denominator moved reads its listed counts back from its scores; the listed entries that stay keep their
//! order, so the few moved pairs that pass are ranked and merged in; a moved pair that cannot beat the entries
//! that stay is not tested, and most that are fail a one-logarithm bound before the LLR's nine terms. A row
//! where nothing enters, leaves or is rescaled is not written. The leads to each product are kept by count, so
//! they change only when a listed pair does, not with every order of its sources; their changes are gathered,
//! sorted by product and applied one product at a time, each source found from its likely place. The
//! same-customers lists of a large batch are updated on a second thread beside the others ([`update_kind`]).
//! The working lists are kept from one fold-in to the next ([`Changes`]): grown from empty every time, they
//! were much of the fifth of the time spent in the allocator. `CLERK_TRACE=1` prints each fold-in's changes
//! per table and the time of its phases.
//!
//! Measured on the Complete Journey data (docs/benchmarks.md), the p99 of single orders (the tenth slowest of
//! 1,000) is an order that moves about 7,000 counts (14,000 pairs of rows once mirrored): about 80 ns per
//! count to apply and 65 ns per moved pair to update the related lists on the shared 2-core machine, 1.35-1.5
//! ms in all (2.8-3.2 ms with the sorted rows, every pair both ways and the lists re-ranked whole). Weighed and
//! measured, not kept: deferring the changes that cannot enter a related list (the bound a count has without
//! reading it, the smaller of its products' rows, rules out only 4% of bought-next to 24% of same-customers
//! changes, and the related lists need every other count before and after); reading the LLR's table ahead.
//! Transparent huge pages for the heap (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, a deployment setting) took
//! 10-15% off every fold-in.
use std::collections::{BTreeMap, BTreeSet};

use super::analysis::{decay, next_window, threads, trace};
use super::counts::{apply_changes, Moved, Row};
use super::relations::{self, listed_count, rows_with, significant_pair, NEXT, SAME_CUSTOMERS, TOGETHER};
use super::settings::Settings;
use super::state::{HistItem, State};
use super::{Inner, Lead, AUDIENCE_KINDS};
use crate::domain::{Order, DAY};
use crate::model::FoldInStats;

/// Count changes gathered before they are applied: enough for large batches to be applied row by row, few
/// enough to bound the memory they take (few in tests, which then apply them in several steps).
const PENDING_CHANGES: usize = if cfg!(test) { 64 } else { 1 << 20 };

pub(super) fn fold_in(inner: &mut Inner, settings: &Settings, orders: &[Order]) -> FoldInStats {
    let clock = std::time::Instant::now();
    let mut stats = FoldInStats::default();
    let mut changes = std::mem::take(&mut inner.fold_changes);
    let threads = threads(settings);
    if inner.state.orders == 0 {
        // A fresh model has no reference time yet: start it at the first order, so decays stay finite.
        if let Some(first) = orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).min() {
            inner.state.reference = first;
            inner.state.latest = first;
        }
    }
    for order in orders {
        let s = &mut inner.state;
        let mut products: Vec<u32> = order.lines.iter().map(|l| s.products.intern(&l.product_id)).collect();
        products.sort_unstable();
        products.dedup();
        if products.is_empty() {
            stats.skipped += 1;
            continue;
        }
        grow(inner);
        let s = &mut inner.state;
        let t = order.time.secs();
        s.orders += 1;
        for &p in &products {
            // A product's order count is the denominator of its bought-together and bought-next scores.
            changes.orders_before.entry(p).or_insert(s.product_orders[p as usize]);
            s.product_orders[p as usize] += 1;
            let age = s.reference - t;
            s.popularity[p as usize] += decay(age, settings.popularity_half_life_days);
            if age < (settings.trending_recent_days * DAY as f64) as i64 {
                s.recent[p as usize] += 1;
            }
            // Held once per pair, in the row of the smaller product (mirrored when the lists are updated).
            for &q in &products {
                if q > p {
                    changes.pending[TOGETHER].push((p, q, 1));
                }
            }
        }

        if let Some(key) = order.buyer_key() {
            let c = s.customers.intern(&key) as usize;
            if c == s.history.len() {
                s.history.push(Vec::new());
                s.customer_orders.push(Vec::new());
                s.activity.push(0.0);
            }
            s.activity[c] += decay(s.reference - t, settings.half_life_days);
            // Inserting the order changes the next windows of the orders just before it (they gain its
            // products, and may lose those of an order pushed out of their next `next_orders`), and gives
            // the order a window of its own: count the difference, so counts stay those of a full analysis.
            let at = s.customer_orders[c].partition_point(|(time, _)| *time <= t);
            let first = at.saturating_sub(settings.next_orders);
            let before: Vec<BTreeSet<u32>> =
                (first..at).map(|a| next_window(&s.customer_orders[c], a, settings)).collect();
            s.customer_orders[c].insert(at, (t, products.clone()));
            let list = &s.customer_orders[c];
            let next = &mut changes.pending[NEXT];
            for (k, a) in (first..at).enumerate() {
                let after = next_window(list, a, settings);
                let anchor = &list[a].1;
                for &j in after.difference(&before[k]) {
                    s.window_orders[j as usize] += 1;
                    next.extend(anchor.iter().filter(|&&i| i != j).map(|&i| (i, j, 1)));
                }
                for &j in before[k].difference(&after) {
                    s.window_orders[j as usize] -= 1;
                    next.extend(anchor.iter().filter(|&&i| i != j).map(|&i| (i, j, -1)));
                }
            }
            for j in next_window(list, at, settings) {
                s.window_orders[j as usize] += 1;
                next.extend(products.iter().filter(|&&i| i != j).map(|&i| (i, j, 1)));
            }
            update_history(inner, settings, c, t, &products, &mut changes);
        }
        stats.orders += 1;
        if changes.pending.iter().map(Vec::len).sum::<usize>() > PENDING_CHANGES {
            changes.count(&mut inner.state, threads);
        }
    }
    let s = &mut inner.state;
    s.latest =
        s.latest.max(orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).max().unwrap_or(s.latest));
    let gathered = clock.elapsed();
    let pending: [usize; 4] = std::array::from_fn(|kind| changes.pending[kind].len());
    changes.count(s, threads);
    let counted = clock.elapsed();
    // Once for the whole batch: only the related lists' ranking reads the ids' ranks.
    inner.state.rank_new_ids();
    stats.products_touched = changes.apply(inner, settings, threads);
    changes.clear();
    inner.fold_changes = changes;
    if trace() {
        // Where a slow fold-in's time went: the changes of each table (bought together, next, same customers).
        let done = clock.elapsed();
        eprintln!(
            "fold-in: {} orders, {} + {} + {} count changes; gathered in {} us, counted {} us, lists updated {} us",
            stats.orders,
            pending[TOGETHER],
            pending[NEXT],
            pending[SAME_CUSTOMERS],
            gathered.as_micros(),
            (counted - gathered).as_micros(),
            (done - counted).as_micros()
        );
    }
    stats
}

/// Updates customer `c`'s history for an order, noting the same-customers counts that change.
fn update_history(inner: &mut Inner, settings: &Settings, c: usize, t: i64, products: &[u32], changes: &mut Changes) {
    let s = &mut inner.state;
    let age = s.reference - t;
    // Products the order makes regulars of the customer (bought a second time), in product order.
    let mut became: Vec<u32> = Vec::new();
    for &p in products {
        let hist = &mut s.history[c];
        match hist.binary_search_by_key(&p, |h| h.product) {
            Ok(k) => {
                if hist[k].count == 1 {
                    s.repeat_buyers[p as usize] += 1;
                    // The customers with `p` as a regular are the denominator of its same-customers scores.
                    changes.regulars_before.entry(p).or_insert(s.regular_customers[p as usize]);
                    s.regular_customers[p as usize] += 1;
                    became.push(p);
                }
                let h = &mut hist[k];
                h.count += 1;
                h.first = h.first.min(t);
                h.last = h.last.max(t);
                h.decayed += decay(age, settings.half_life_days);
                h.decayed_long += decay(age, settings.long_half_life_days);
                let at = inner.buyers_of[p as usize].partition_point(|&b| b < c as u32);
                inner.buyer_items[p as usize][at] = *h;
            }
            Err(k) => {
                let item = HistItem {
                    product: p,
                    count: 1,
                    first: t,
                    last: t,
                    decayed: decay(age, settings.half_life_days),
                    decayed_long: decay(age, settings.long_half_life_days),
                };
                hist.insert(k, item);
                s.buyers[p as usize] += 1;
                let buyers = &mut inner.buyers_of[p as usize];
                let at = buyers.partition_point(|&b| b < c as u32);
                buyers.insert(at, c as u32);
                inner.buyer_items[p as usize].insert(at, item);
            }
        }
    }
    if became.is_empty() {
        return;
    }
    // A new regular now co-occurs with each of the customer's other regulars (those of before and the other
    // new ones): once per pair, in the row of the smaller product (mirrored when the lists are updated).
    // Generated in (row, partner) order, which the sort of `count` keeps.
    let regulars: Vec<u32> = s.history[c].iter().filter(|h| h.count >= 2).map(|h| h.product).collect();
    let pending = &mut changes.pending[SAME_CUSTOMERS];
    for &q in &regulars {
        if became.binary_search(&q).is_ok() {
            pending.extend(regulars.iter().filter(|&&r| r > q).map(|&r| (q, r, 1)));
        } else {
            pending.extend(became.iter().filter(|&&p| p > q).map(|&p| (q, p, 1)));
        }
    }
}

/// Moved pairs from which a fold-in updates the same-customers lists on a second thread, beside the others,
/// when the settings allow: below, starting a thread costs more than it saves (few in tests, so that their
/// fold-ins take both ways).
const PARALLEL_MOVED: usize = if cfg!(test) { 16 } else { 4096 };

/// Rows whose related lists are read together before they are updated, so that their cache misses overlap.
const ROWS_READ: usize = 64;

/// Count changes from which a fold-in applies them on two threads: below, starting a thread costs more than it
/// saves (few in tests, so that their fold-ins take both ways). Measured on the shared 2-core machine with the
/// hash rows: under load (2.5-4.5) two threads were a tenth slower than one from 4,096 changes; on a quiet
/// machine they took the p99 of the Complete Journey single-order fold-ins from 1.47-1.51 to 1.35-1.38 ms
/// (each order's fastest of 3 runs). A host that analyses beside its own work can set `threads` to 1.
const PARALLEL_CHANGES: usize = if cfg!(test) { 16 } else { 4096 };

/// What a fold-in changes, per relation kind (indexed like [`State::related`]), and its working lists: emptied
/// after each fold-in but kept allocated for the next (up to [`KEPT_CAPACITY`] entries each): growing them
/// from empty every time was much of the fifth of a fold-in's time spent in the allocator.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Count changes not applied yet: `(i, j, by)`.
    pending: [Vec<(u32, u32, i32)>; 4],
    /// Pairs whose count moved, sorted by `(i, j)`.
    moved: [Vec<Moved>; 4],
    /// Products whose orders moved (the denominator of bought together and next), with their orders before.
    orders_before: BTreeMap<u32, u32>,
    /// Products whose regular customers moved (the denominator of same customers), with the count before.
    regulars_before: BTreeMap<u32, u32>,
    /// The moved pairs of the second thread.
    side: [Vec<Moved>; 4],
    /// Rows to update, of one relation kind.
    rows: Vec<u32>,
    /// The moved pairs of a symmetric table, mirrored.
    mirror: Vec<Moved>,
    /// Rows updated, of all kinds.
    touched: Vec<u32>,
    /// The working lists of updating one related row.
    row_work: RowWork,
    /// The working lists, leads changed and rows updated of the same-customers lists (updated on a second thread
    /// beside the others for a large batch).
    side_lists: (RowWork, Vec<LeadChange>, Vec<u32>),
    /// The leads that change, applied once all rows are updated.
    leads: Vec<LeadChange>,
    /// The working lists of applying them: each product's changes, and a list of leads.
    lead_groups: Vec<(usize, usize)>,
    lead_buf: Vec<Lead>,
}

/// The most entries a kept buffer holds on to between fold-ins: a large batch's millions of changes are not
/// kept for the single orders that follow.
const KEPT_CAPACITY: usize = 1 << 16;

/// The room the lists of count changes and moved pairs are made with, per relation kind: most single orders
/// move fewer (the slowest of the Complete Journey data 31,000 in all).
const FIRST_CAPACITY: usize = 1 << 14;

impl Changes {
    /// Lists with room for a large order's changes, made with the model: growing them during the first large
    /// fold-ins after an analysis or a load was slow (the allocator then searches long lists of the blocks
    /// the analysis freed).
    pub(super) fn with_room() -> Self {
        let mut changes = Changes::default();
        for kind in AUDIENCE_KINDS {
            changes.pending[kind].reserve(FIRST_CAPACITY);
            changes.moved[kind].reserve(FIRST_CAPACITY);
        }
        changes
    }

    /// Empties the buffers, releasing what a large batch grew beyond [`KEPT_CAPACITY`].
    fn clear(&mut self) {
        fn empty<T>(v: &mut Vec<T>) {
            v.clear();
            v.shrink_to(KEPT_CAPACITY);
        }
        self.pending.iter_mut().for_each(empty);
        self.moved.iter_mut().for_each(empty);
        self.side.iter_mut().for_each(empty);
        empty(&mut self.rows);
        empty(&mut self.mirror);
        empty(&mut self.touched);
        empty(&mut self.leads);
        empty(&mut self.lead_groups);
        empty(&mut self.side_lists.1);
        empty(&mut self.side_lists.2);
        empty(&mut self.lead_buf);
        self.orders_before.clear();
        self.regulars_before.clear();
    }

    /// Applies the pending count changes, a row at a time; those of a large batch on two threads, when
    /// `threads` allows.
    fn count(&mut self, s: &mut State, threads: usize) {
        for kind in AUDIENCE_KINDS {
            let pending = &mut self.pending[kind];
            // Stable sort: it merges the runs the changes come in, already in order within each.
            pending.sort_by_key(|&(i, j, _)| (i, j));
            pending.dedup_by(|later, kept| {
                let same = (later.0, later.1) == (kept.0, kept.1);
                if same {
                    kept.2 += later.2;
                }
                same
            });
        }
        let again: [bool; 4] = std::array::from_fn(|kind| !self.moved[kind].is_empty());
        let tables = [(TOGETHER, &mut s.together), (NEXT, &mut s.next), (SAME_CUSTOMERS, &mut s.regulars)];
        let total: usize = self.pending.iter().map(Vec::len).sum();
        if threads > 1 && total >= PARALLEL_CHANGES {
            let (pending, side) = (&self.pending, &mut self.side);
            let [mut first, mut second] = [Vec::new(), Vec::new()];
            for (kind, counts) in tables {
                let [a, b] = counts.split_changes(&pending[kind]);
                first.push((kind, a));
                second.push((kind, b));
            }
            let moved = &mut self.moved;
            std::thread::scope(|scope| {
                let other = scope.spawn(move || {
                    for (kind, (rows, offset, changes)) in second {
                        apply_changes(rows, offset, changes, &mut side[kind]);
                    }
                });
                for (kind, (rows, offset, changes)) in first {
                    apply_changes(rows, offset, changes, &mut moved[kind]);
                }
                if let Err(panic) = other.join() {
                    std::panic::resume_unwind(panic);
                }
            });
            for kind in AUDIENCE_KINDS {
                // The second thread's rows come after the first's.
                self.moved[kind].append(&mut self.side[kind]);
            }
        } else {
            for (kind, counts) in tables {
                counts.apply_changes(&self.pending[kind], &mut self.moved[kind]);
            }
        }
        for kind in AUDIENCE_KINDS {
            self.pending[kind].clear();
            if again[kind] {
                // A pair moved by several batches: its count before the first, after the last.
                let moved = &mut self.moved[kind];
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

    /// Updates the related lists in place, and the leads to the products they hold. A row whose denominator
    /// moved gets its listed scores rescaled (`count / rows with the product`, so they stay exact: the counts
    /// are read back from the scores), and each moved pair is tested again and enters, moves or leaves its
    /// row. No row is rebuilt from its full counts, and only leads whose count or listing moved are touched.
    /// Returns how many products had a row updated.
    fn apply(&mut self, inner: &mut Inner, settings: &Settings, threads: usize) -> usize {
        self.touched.clear();
        self.leads.clear();
        for kind in AUDIENCE_KINDS.into_iter().filter(|&kind| relations::symmetric(kind)) {
            // A symmetric table's pair moved in both rows: the mirrored pairs, sorted on one integer key, are
            // merged with the others (sorted, and all on the other side of the diagonal).
            let key = |m: &Moved| (u64::from(m.0) << 32) | u64::from(m.1);
            let (moved, mirror) = (&mut self.moved[kind], &mut self.mirror);
            mirror.clear();
            mirror.extend(moved.iter().map(|&(i, j, before, after)| (j, i, before, after)));
            mirror.sort_unstable_by_key(key);
            let upper = std::mem::take(moved);
            moved.reserve(2 * upper.len());
            let mut r = 0;
            for m in &upper {
                while r < mirror.len() && key(&mirror[r]) < key(m) {
                    moved.push(mirror[r]);
                    r += 1;
                }
                moved.push(*m);
            }
            moved.extend_from_slice(&mirror[r..]);
            *mirror = upper;
        }
        // The lists are taken out of the state while they are updated, so that each kind's can be updated
        // beside the others' (the updates read the rest of the state, never another kind's lists).
        let mut related = std::mem::take(&mut inner.state.related);
        let s = &inner.state;
        let [together, next, _, same] = &mut related;
        let moved = &self.moved;
        let (before, regulars_before) = (&self.orders_before, &self.regulars_before);
        let (side_work, side_leads, side_rows) = &mut self.side_lists;
        let (work, leads, rows) = (&mut self.row_work, &mut self.leads, &mut self.rows);
        let touched = &mut self.touched;
        let mut same_customers = || {
            let (kind, moved) = (SAME_CUSTOMERS, &moved[SAME_CUSTOMERS]);
            update_kind(s, settings, kind, same, moved, regulars_before, side_work, side_leads, side_rows)
        };
        let the_others = |touched: &mut Vec<u32>| {
            for (kind, related) in [(TOGETHER, together), (NEXT, next)] {
                update_kind(s, settings, kind, related, &moved[kind], before, work, leads, rows);
                touched.extend_from_slice(rows);
            }
        };
        let total: usize = AUDIENCE_KINDS.iter().map(|&kind| moved[kind].len()).sum();
        if threads > 1 && total >= PARALLEL_MOVED {
            std::thread::scope(|scope| {
                let other = scope.spawn(same_customers);
                the_others(touched);
                if let Err(panic) = other.join() {
                    std::panic::resume_unwind(panic);
                }
            });
        } else {
            the_others(touched);
            same_customers();
        }
        self.leads.append(side_leads);
        touched.extend_from_slice(side_rows);
        inner.state.related = related;
        apply_leads(&mut inner.incoming, &mut self.leads, &mut self.lead_groups, &mut self.lead_buf);
        self.touched.sort_unstable();
        self.touched.dedup();
        self.touched.len()
    }
}

/// Updates the lists `related` of relation `kind` (one of [`AUDIENCE_KINDS`]) for its `moved` pairs (sorted)
/// and the denominators that moved (`before`), noting the leads that change in `leads` and the rows updated
/// in `rows`.
#[allow(clippy::too_many_arguments)]
fn update_kind(
    s: &State,
    settings: &Settings,
    kind: usize,
    related: &mut [Vec<(u32, f32)>],
    moved: &[Moved],
    before: &BTreeMap<u32, u32>,
    work: &mut RowWork,
    leads: &mut Vec<LeadChange>,
    rows: &mut Vec<u32>,
) {
    let slot = AUDIENCE_KINDS.iter().position(|&k| k == kind).unwrap_or_default();
    rows.clear();
    rows.extend(moved.chunk_by(|a, b| a.0 == b.0).map(|m| m[0].0));
    rows.extend(before.keys());
    rows.sort_unstable();
    rows.dedup();
    let right = relations::partner_totals(s, kind);
    // Rows and moved pairs both sorted by row: each row's pairs follow the last row's.
    let mut from = 0;
    for window in rows.chunks(ROWS_READ) {
        // What the updates read, read first so that their cache misses overlap (as in `count`): the rows and
        // their denominators, and each moved pair's partner facts (its significance test).
        let mut sum = 0u32;
        let end = from + moved[from..].partition_point(|m| m.0 <= window[window.len() - 1]);
        for &i in window {
            let row = related.get(i as usize).map_or(&[][..], Vec::as_slice);
            sum = row.iter().step_by(8).fold(sum, |sum, e| sum.wrapping_add(e.0));
            sum = sum.wrapping_add(rows_with(s, kind, i));
        }
        for m in &moved[from..end] {
            sum = sum.wrapping_add(right[m.1 as usize]).wrapping_add(u32::from(s.indexable[m.1 as usize]));
        }
        std::hint::black_box(sum);
        for &i in window {
            let to = from + moved[from..].partition_point(|m| m.0 == i);
            let pairs = &moved[from..to];
            from = to;
            // Every product has a row (`grow` makes them before the changes are counted).
            let Some(row) = related.get_mut(i as usize) else { continue };
            update_row(s, settings, kind, slot, i, row, pairs, before.get(&i).copied(), work, leads);
        }
    }
}

/// The working lists of [`update_row`], kept from row to row and fold-in to fold-in.
#[derive(Debug, Default)]
pub(super) struct RowWork {
    /// Per moved pair of the row: whether it was listed, and whether it is listed after the update.
    was: Vec<bool>,
    is: Vec<bool>,
    /// The listed entries whose pair did not move (rescaled when the row's denominator moved), ranked.
    kept: Vec<(u32, f32)>,
    /// The listed entries whose pair did not move that score nothing after rescaling (dropped).
    zeroed: Vec<u32>,
    /// The moved pairs that pass the tests, with their score and position in the moved pairs.
    enter: Vec<(u32, f32, usize)>,
    /// The row after the update.
    merged: Vec<(u32, f32)>,
}

/// A change to the leads: `(product, source, slot in AUDIENCE_KINDS, count)`, applied after all rows are
/// updated (see [`apply_leads`]).
type LeadChange = (u32, u32, usize, u32);

/// Updates row `i` of relation `kind` (`slot` in [`AUDIENCE_KINDS`]) for its `moved` pairs and, when its
/// denominator moved, the denominator it had before; notes the leads that change in `leads`.
///
/// The result is the row [`relations::top`] would rank from the listed entries that stay and the moved pairs
/// that pass, without sorting it whole: the entries that stay keep their order (their scores are all divided
/// by the same denominator, and a score grows with its count), so the few that enter are ranked and merged
/// in. Most rows of a fold-in change nothing (a new regular's pairs with the customer's other regulars rarely
/// enter a full row): they are left as they are, without a copy.
#[allow(clippy::too_many_arguments)]
fn update_row(
    s: &State,
    settings: &Settings,
    kind: usize,
    slot: usize,
    i: u32,
    row: &mut Vec<(u32, f32)>,
    moved: &[Moved],
    denominator_before: Option<u32>,
    work: &mut RowWork,
    leads: &mut Vec<LeadChange>,
) {
    let n_i = rows_with(s, kind, i);
    let rescale = denominator_before.filter(|&n| n != n_i);
    let old = &*row;
    work.was.clear();
    work.was.resize(moved.len(), false);
    work.kept.clear();
    work.zeroed.clear();
    for &(j, x) in old {
        match moved.binary_search_by_key(&j, |m| m.1) {
            Ok(k) => work.was[k] = true,
            Err(_) => {
                let x = match rescale {
                    Some(n) => relations::score(listed_count(s, kind, i, j, x, n), n_i),
                    None => x,
                };
                if x > 0.0 {
                    work.kept.push((j, x));
                } else {
                    work.zeroed.push(j);
                }
            }
        }
    }
    let dropped = work.was.contains(&true);
    if work.kept.windows(2).any(|w| w[0].1 < w[1].1) {
        // Rows written by an analysis or a fold-in are ranked: only a foreign or corrupt state's can be out
        // of order (the ties' order by id is not checked, it would read the ranks of most entries).
        relations::rank(s, &mut work.kept);
    }
    // When the entries that stay fill the row, a moved pair scoring below all of them cannot enter it: most
    // (a new regular's pairs with each of the customer's other regulars) need no significance test then.
    let floor = if work.kept.len() >= settings.top_k { work.kept.last().map_or(0.0, |e| e.1) } else { 0.0 };
    work.enter.clear();
    for (k, &(_, j, _, after)) in moved.iter().enumerate() {
        if after >= settings.min_pair_count && relations::score(after, n_i) >= floor {
            if let Some(x) = significant_pair(s, settings, kind, i, j, after) {
                work.enter.push((j, x, k));
            }
        }
    }
    if !dropped && work.enter.is_empty() && rescale.is_none() {
        return;
    }
    let a = merge(s, settings.top_k, moved.len(), work);
    row.clear();
    row.extend_from_slice(&work.merged);
    if !dropped && work.enter.is_empty() {
        // Rescaled only: the same pairs with the same counts, so the same leads.
        return;
    }
    for (k, &(_, j, before, after)) in moved.iter().enumerate() {
        let (was, is) = (work.was[k], work.is[k]);
        if (was, was.then_some(before)) != (is, is.then_some(after)) {
            leads.push((j, i, slot, if is { after } else { 0 }));
        }
    }
    // Pushed out of the row by pairs that entered it (or scored nothing).
    leads.extend(work.kept[a..].iter().map(|&(j, _)| (j, i, slot, 0)));
    leads.extend(work.zeroed.iter().map(|&j| (j, i, slot, 0)));
}

/// Ranks `work.enter` and merges it with `work.kept` into `work.merged`, keeping the best `top_k`; marks in
/// `work.is` the moved pairs (of `moved` in all) that made it. Returns how many kept entries made it.
fn merge(s: &State, top_k: usize, moved: usize, work: &mut RowWork) -> usize {
    let by_rank = relations::by_rank(s);
    work.enter.sort_unstable_by(|a, b| by_rank(&(a.0, a.1), &(b.0, b.1)));
    work.is.clear();
    work.is.resize(moved, false);
    work.merged.clear();
    let (mut a, mut b) = (0, 0);
    while work.merged.len() < top_k && (a < work.kept.len() || b < work.enter.len()) {
        let take_kept = match (work.kept.get(a), work.enter.get(b)) {
            (Some(k), Some(e)) => by_rank(k, &(e.0, e.1)) != std::cmp::Ordering::Greater,
            (Some(_), None) => true,
            _ => false,
        };
        if take_kept {
            work.merged.push(work.kept[a]);
            a += 1;
        } else {
            let (j, x, k) = work.enter[b];
            work.merged.push((j, x));
            work.is[k] = true;
            b += 1;
        }
    }
    a
}

/// Products whose leads are read together before they are changed, so that their cache misses overlap.
const LEADS_READ: usize = 32;

/// Applies `changes` to the leads, a product at a time: sorted by product, the changes to one product's leads
/// are applied in one walk of its list. The list of a best seller holds thousands of sources, and a binary
/// search of it takes a cache miss per halving: each source is found from its likely place instead (see
/// [`seek`]), and the likely places of a window of products are read first, so that their misses overlap.
fn apply_leads(
    incoming: &mut [Vec<Lead>],
    changes: &mut [LeadChange],
    groups: &mut Vec<(usize, usize)>,
    buf: &mut Vec<Lead>,
) {
    changes.sort_unstable_by_key(|&(j, source, slot, _)| (j, source, slot));
    let n = incoming.len();
    groups.clear();
    let mut from = 0;
    for group in changes.chunk_by(|a, b| a.0 == b.0) {
        groups.push((from, from + group.len()));
        from += group.len();
    }
    for window in groups.chunks(LEADS_READ) {
        let mut sum = 0u32;
        for &(a, _) in window {
            let (j, source, _, _) = changes[a];
            if let Some(list) = incoming.get(j as usize) {
                sum = sum.wrapping_add(list.get(likely_place(list, source, n)).map_or(0, |l| l.source));
            }
        }
        std::hint::black_box(sum);
        for &(a, b) in window {
            let group = &changes[a..b];
            if let Some(list) = incoming.get_mut(group[0].0 as usize) {
                apply_product_leads(list, group, n, buf);
            }
        }
    }
}

/// Where `source` likely is in a list of leads sorted by source: sources spread about evenly over the `n`
/// product indices.
fn likely_place(list: &[Lead], source: u32, n: usize) -> usize {
    (u64::from(source) * list.len() as u64 / n.max(1) as u64) as usize
}

/// The first position at or after `from` of `list` (sorted by source) whose source is not below `source`: one
/// probe at its likely place, then steps doubling away from it until `source` is passed, then a binary search
/// between the last two.
fn seek(list: &[Lead], source: u32, from: usize, n: usize) -> usize {
    let len = list.len();
    if len - from <= 8 {
        return from + list[from..].partition_point(|l| l.source < source);
    }
    let guess = likely_place(list, source, n).clamp(from, len - 1);
    let (mut lo, mut hi) = (from, len);
    let mut step = 1;
    if list[guess].source < source {
        lo = guess + 1;
        while lo + step <= len {
            let at = lo + step - 1;
            if list[at].source < source {
                lo = at + 1;
                step *= 2;
            } else {
                hi = at;
                break;
            }
        }
    } else {
        hi = guess;
        while hi >= lo + step {
            let at = hi - step;
            if list[at].source < source {
                lo = at + 1;
                break;
            }
            hi = at;
            step *= 2;
        }
    }
    lo + list[lo..hi].partition_point(|l| l.source < source)
}

/// Applies the `changes` of one product (sorted by source and slot) to its `list` of leads.
fn apply_product_leads(list: &mut Vec<Lead>, changes: &[LeadChange], n: usize, buf: &mut Vec<Lead>) {
    let mut reshaped = false;
    let mut from = 0;
    for &(_, source, slot, count) in changes {
        from = seek(list, source, from, n);
        match list.get_mut(from) {
            Some(lead) if lead.source == source => {
                lead.counts[slot] = count;
                reshaped |= lead.counts == [0; 3];
            }
            _ => reshaped |= count > 0,
        }
    }
    if !reshaped {
        return;
    }
    // Leads come or go: merge the list with the new sources, without the leads left with no count.
    buf.clear();
    let mut at = 0;
    for news in changes.chunk_by(|a, b| a.1 == b.1) {
        let source = news[0].1;
        while at < list.len() && list[at].source < source {
            buf.push(list[at]);
            at += 1;
        }
        if at < list.len() && list[at].source == source {
            continue;
        }
        let mut counts = [0; 3];
        for &(_, _, slot, count) in news {
            counts[slot] = count;
        }
        if counts != [0; 3] {
            buf.push(Lead { source, counts });
        }
    }
    buf.extend_from_slice(&list[at..]);
    buf.retain(|l| l.counts != [0; 3]);
    list.clear();
    list.extend_from_slice(buf);
}

/// Extends every per-product vector to the current number of interned products.
fn grow(inner: &mut Inner) {
    let s = &mut inner.state;
    let n = s.products.len();
    s.indexable.resize(n, true);
    s.product_orders.resize(n, 0);
    s.window_orders.resize(n, 0);
    s.repeat_buyers.resize(n, 0);
    s.buyers.resize(n, 0);
    s.cycle_days.resize(n, 0.0);
    s.popularity.resize(n, 0.0);
    s.recent.resize(n, 0);
    s.baseline.resize(n, 0);
    s.created.resize(n, None);
    s.need.resize(n, super::state::NONE);
    s.category.resize(n, super::state::NONE);
    s.brand.resize(n, super::state::NONE);
    for r in &mut s.related {
        r.resize(n, Vec::new());
    }
    s.together.rows.resize(n, Row::default());
    s.next.rows.resize(n, Row::default());
    s.regulars.rows.resize(n, Row::default());
    s.regular_customers.resize(n, 0);
    inner.incoming.resize(n, Vec::new());
    inner.buyers_of.resize(n, Vec::new());
    inner.buyer_items.resize(n, Vec::new());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Leads changed a product at a time, each source found from its likely place, end as changed one at a
        /// time in a map: counts set, leads with no count left removed, new ones inserted in source order.
        #[test]
        fn lead_changes_match_a_map(
            start in prop::collection::btree_map(0..2_000u32, prop::array::uniform3(0..4u32), 0..300),
            changes in prop::collection::btree_map((0..2_000u32, 0..3usize), 0..4u32, 0..200),
            n in 1..3_000usize,
        ) {
            let mut list: Vec<Lead> = start
                .iter()
                .filter(|(_, c)| **c != [0; 3])
                .map(|(&source, &counts)| Lead { source, counts })
                .collect();
            let mut model: BTreeMap<u32, [u32; 3]> = list.iter().map(|l| (l.source, l.counts)).collect();
            let mut batch: Vec<LeadChange> = Vec::new();
            for (&(source, slot), &count) in &changes {
                batch.push((7, source, slot, count));
                let counts = model.entry(source).or_insert([0; 3]);
                counts[slot] = count;
                if *counts == [0; 3] {
                    model.remove(&source);
                }
            }
            apply_product_leads(&mut list, &batch, n, &mut Vec::new());
            let expected: Vec<Lead> = model.into_iter().map(|(source, counts)| Lead { source, counts }).collect();
            prop_assert_eq!(list, expected);
        }

        /// `seek` finds the first source not below the one sought, from any start and whatever the guide.
        #[test]
        fn seek_is_a_partition_point(
            sources in prop::collection::btree_set(0..5_000u32, 0..400),
            source in 0..5_100u32,
            from in 0..400usize,
            n in 1..6_000usize,
        ) {
            let list: Vec<Lead> = sources.iter().map(|&source| Lead { source, counts: [1, 0, 0] }).collect();
            let from = from.min(list.len());
            let expected = from + list[from..].partition_point(|l| l.source < source);
            prop_assert_eq!(seek(&list, source, from, n), expected);
        }
    }
}
