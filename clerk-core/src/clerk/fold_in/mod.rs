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
//! so a fold-in counts each of their pairs once. The changes are gathered (in sorted runs, which a stable sort
//! merges rather than sorts), sorted and applied ([`sides`]): each row of counts is a hash table, so a count is
//! one probe from its home slot; the home slots of a window of changes are read before any is applied so that
//! their misses overlap, and a row grows (is rebuilt larger) only when it is full.
//!
//! Each moved pair comes back with its count before and after (a symmetric table's pairs mirrored to both
//! rows), so related rows are updated without searching the counts again ([`lists`]): a row whose
//! denominator moved reads its listed counts back from its scores; the listed entries that stay keep their
//! order, so the few moved pairs that pass are ranked and merged in; a moved pair that cannot beat the entries
//! that stay is not tested, and most that are fail a one-logarithm bound before the LLR's nine terms. A row
//! where nothing enters, leaves or is rescaled is not written. The leads to each product are kept by count, so
//! they change only when a listed pair does, not with every order of its sources; their changes are gathered,
//! sorted by product and applied one product at a time, each source found from its likely place, those that
//! come or go put in or taken out in place ([`leads`]). A large fold-in is counted and updated on two threads,
//! which claim units of rows and of leads ([`sides`]). The working lists are kept from one fold-in to the next
//! ([`Changes`]): grown from empty every time, they were much of the fifth of the time spent in the allocator. `CLERK_TRACE=1` prints each fold-in's changes
//! per table and the time of its phases.
//!
//! Measured on the Complete Journey data (docs/benchmarks.md), the p99 of single orders (the tenth slowest of
//! 1,000) is an order that moves about 12,000 counts: on two threads (see [`sides`]) about 85 ns per count and
//! 60 ns per moved pair of the related lists on each, 0.96-1.17 ms in all on the shared 2-core machine (1.38 ms on
//! one core; 1.3-1.5 ms with a thread per phase and leads copied whole, 2.8-3.2 ms with sorted rows). Weighed and
//! measured, not kept: deferring the changes that cannot enter a related list (the bound a count has without
//! reading it, the smaller of its products' rows, rules out only 4% of bought-next to 24% of same-customers
//! changes, and the related lists need every other count before and after); reading the LLR's table ahead.
//! Transparent huge pages for the heap (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, a deployment setting) took
//! 10-15% off every fold-in.
use std::collections::BTreeMap;

mod leads;
mod lists;
mod search;
mod sides;

use super::analysis::{decay, next_window, threads, trace};
use super::counts::{Moved, Row};
use super::relations::{self, NEXT, SAME_CUSTOMERS, TOGETHER};
use super::settings::Settings;
use super::state::{HistItem, State};
use super::{Inner, AUDIENCE_KINDS};
use crate::domain::{Order, DAY};
use crate::model::FoldInStats;
use search::{insert_at, likely_place, seek};
use sides::Change;

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
        // The same for every product of the order.
        let age = s.reference - t;
        let popularity = decay(age, settings.popularity_half_life_days);
        let recent = age < (settings.trending_recent_days * DAY as f64) as i64;
        for (k, &p) in products.iter().enumerate() {
            // A product's order count is the denominator of its bought-together and bought-next scores.
            changes.orders_before.entry(p).or_insert(s.product_orders[p as usize]);
            s.product_orders[p as usize] += 1;
            s.popularity[p as usize] += popularity;
            if recent {
                s.recent[p as usize] += 1;
            }
            // Held once per pair, in the row of the smaller product (mirrored when the lists are updated).
            changes.pending[TOGETHER].extend(products[k + 1..].iter().map(|&q| (p, q, 1)));
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
            let before: Vec<Vec<u32>> = (first..at).map(|a| next_window(&s.customer_orders[c], a, settings)).collect();
            s.customer_orders[c].insert(at, (t, products.clone()));
            let list = &s.customer_orders[c];
            let next = &mut changes.pending[NEXT];
            // Generated row by row (an order's products are sorted), so each block is a sorted run, which the
            // sort of `count` merges rather than sorts.
            for (k, a) in (first..at).enumerate() {
                let after = next_window(list, a, settings);
                let anchor = &list[a].1;
                for (from, to, by) in [(&after, &before[k], 1), (&before[k], &after, -1)] {
                    let moved: Vec<u32> = sorted_difference(from, to).collect();
                    for &j in &moved {
                        s.window_orders[j as usize] = s.window_orders[j as usize].saturating_add_signed(by);
                    }
                    for &i in anchor {
                        next.extend(moved.iter().filter(|&&j| j != i).map(|&j| (i, j, by)));
                    }
                }
            }
            let own = next_window(list, at, settings);
            for &j in &own {
                s.window_orders[j as usize] += 1;
            }
            for &i in &products {
                next.extend(own.iter().filter(|&&j| j != i).map(|&j| (i, j, 1)));
            }
            update_history(inner, settings, c, t, &products, &mut changes);
        }
        stats.orders += 1;
        if changes.pending.iter().map(Vec::len).sum::<usize>() > PENDING_CHANGES {
            changes.count(&mut inner.state);
        }
    }
    let s = &mut inner.state;
    s.latest =
        s.latest.max(orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).max().unwrap_or(s.latest));
    let gathered = clock.elapsed();
    let pending: [usize; 4] = std::array::from_fn(|kind| changes.pending[kind].len());
    // Once for the whole batch (in `apply`): only the related lists' ranking reads the ids' ranks.
    stats.products_touched = changes.apply(inner, settings, threads);
    changes.clear();
    inner.fold_changes = changes;
    if trace() {
        // Where a slow fold-in's time went: the changes of each table (bought together, next, same customers).
        let done = clock.elapsed();
        eprintln!(
            "fold-in: {} orders, {} + {} + {} count changes; gathered in {} us, counted and lists updated {} us",
            stats.orders,
            pending[TOGETHER],
            pending[NEXT],
            pending[SAME_CUSTOMERS],
            gathered.as_micros(),
            (done - gathered).as_micros()
        );
    }
    stats
}

/// The items of `a` not in `b` (both sorted), in order.
fn sorted_difference<'a>(a: &'a [u32], b: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let mut at = 0;
    a.iter().copied().filter(move |&x| {
        at += b[at..].partition_point(|&y| y < x);
        b.get(at) != Some(&x)
    })
}

/// Updates customer `c`'s history for an order, noting the same-customers counts that change.
fn update_history(inner: &mut Inner, settings: &Settings, c: usize, t: i64, products: &[u32], changes: &mut Changes) {
    let s = &mut inner.state;
    let age = s.reference - t;
    let (decayed, decayed_long) = (decay(age, settings.half_life_days), decay(age, settings.long_half_life_days));
    let customers = s.customers.len();
    // Where the customer is among each product's buyers, read first so that the cache misses overlap (see
    // `search`): a best seller has thousands of buyers.
    let mut sum = 0u32;
    for &p in products {
        let buyers = &inner.buyers_of[p as usize];
        sum = sum.wrapping_add(buyers.get(likely_place(buyers.len(), c as u32, customers)).copied().unwrap_or(0));
    }
    std::hint::black_box(sum);
    // Products the order makes regulars of the customer (bought a second time), in product order; and the
    // products new to the customer, with the place each goes in the history, put in at the end in one pass.
    let mut became: Vec<u32> = Vec::new();
    let mut new: Vec<(usize, HistItem)> = Vec::new();
    let hist = &mut s.history[c];
    for &p in products {
        let buyers = &mut inner.buyers_of[p as usize];
        let at = seek(buyers, |&b| b, c as u32, 0, customers);
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
                h.decayed += decayed;
                h.decayed_long += decayed_long;
                inner.buyer_items[p as usize][at] = *h;
            }
            Err(k) => {
                let item = HistItem { product: p, count: 1, first: t, last: t, decayed, decayed_long };
                new.push((k, item));
                s.buyers[p as usize] += 1;
                buyers.insert(at, c as u32);
                inner.buyer_items[p as usize].insert(at, item);
            }
        }
    }
    insert_at(hist, &new);
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

/// What a fold-in changes, per relation kind (indexed like [`State::related`]), and its working lists: emptied
/// after each fold-in but kept allocated for the next (up to [`KEPT_CAPACITY`] entries each): growing them
/// from empty every time was much of the fifth of a fold-in's time spent in the allocator.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Count changes not applied yet: `(i, j, by)`.
    pending: [Vec<Change>; 4],
    /// Pairs whose count moved in the steps of a large batch before its last, sorted by `(i, j)`.
    moved: [Vec<Moved>; 4],
    /// Products whose orders moved (the denominator of bought together and next), with their orders before.
    orders_before: BTreeMap<u32, u32>,
    /// Products whose regular customers moved (the denominator of same customers), with the count before.
    regulars_before: BTreeMap<u32, u32>,
    /// The working lists of each thread (see [`sides`]).
    sides: [sides::Side; 2],
    /// Per kind, where its rows are cut into units of work (see [`sides`]).
    cuts: [Vec<u32>; 3],
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
        }
        changes.sides.iter_mut().for_each(|side| side.reserve(FIRST_CAPACITY));
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
        self.sides.iter_mut().for_each(|side| side.clear(KEPT_CAPACITY));
        self.orders_before.clear();
        self.regulars_before.clear();
    }

    /// Sorts the pending count changes, merging those of the same pair.
    fn sort(&mut self) {
        for kind in AUDIENCE_KINDS {
            let pending = &mut self.pending[kind];
            // Stable sort: it merges the runs the changes come in, already in order within each (an order's
            // pairs bought together and same-customers changes come sorted, and are not sorted again).
            let key = |&(i, j, _): &Change| (u64::from(i) << 32) | u64::from(j);
            if !pending.is_sorted_by_key(key) {
                pending.sort_by_key(key);
            }
            pending.dedup_by(|later, kept| {
                let same = (later.0, later.1) == (kept.0, kept.1);
                if same {
                    kept.2 += later.2;
                }
                same
            });
        }
    }

    /// Applies the pending count changes of a step of a large batch, noting the moved pairs.
    fn count(&mut self, s: &mut State) {
        self.sort();
        sides::count(s, &self.pending, &mut self.moved);
        self.pending.iter_mut().for_each(Vec::clear);
    }

    /// Applies the last pending count changes and updates the related lists in place, and the leads to the
    /// products they hold (see [`sides::update`]). Returns how many products had a row updated.
    fn apply(&mut self, inner: &mut Inner, settings: &Settings, threads: usize) -> usize {
        self.sort();
        // Rows rescaled from so many rows read their listed counts from the counts (see `listed_count`),
        // which the sides cannot read while they count: counted first, as are the steps of a large batch.
        let large = |before: &BTreeMap<u32, u32>| before.values().any(|&n| relations::listed_count_reads_counts(n));
        let counted_before =
            self.moved.iter().any(|m| !m.is_empty()) || large(&self.orders_before) || large(&self.regulars_before);
        if counted_before {
            self.count(&mut inner.state);
        }
        inner.state.rank_new_ids();
        let before = [&self.orders_before, &self.regulars_before];
        let counted = counted_before.then_some(&self.moved);
        sides::update(inner, settings, &self.pending, counted, before, &mut self.sides, &mut self.cuts, threads)
    }
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
