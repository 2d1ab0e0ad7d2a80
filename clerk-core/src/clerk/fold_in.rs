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

use std::collections::BTreeSet;

use super::analysis::{decay, next_window};
use super::relations::{self, NEXT, SAME_CUSTOMERS, TOGETHER};
use super::settings::Settings;
use super::state::HistItem;
use super::Inner;
use crate::domain::{Order, DAY};
use crate::model::FoldInStats;

pub(super) fn fold_in(inner: &mut Inner, settings: &Settings, orders: &[Order]) -> FoldInStats {
    let mut stats = FoldInStats::default();
    let mut changes = Changes::default();
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
            s.product_orders[p as usize] += 1;
            let age = s.reference - t;
            s.popularity[p as usize] += decay(age, settings.popularity_half_life_days);
            if age < (settings.trending_recent_days * DAY as f64) as i64 {
                s.recent[p as usize] += 1;
            }
            for &q in &products {
                if q != p {
                    s.together.add(p, q, 1);
                    changes.pairs[TOGETHER].insert((p, q));
                }
            }
        }
        // A product's order count is the denominator of its bought-together and bought-next scores.
        changes.rows[TOGETHER].extend(&products);
        changes.rows[NEXT].extend(&products);

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
            for (k, a) in (first..at).enumerate() {
                let after = next_window(list, a, settings);
                let anchor = &list[a].1;
                for &j in after.difference(&before[k]) {
                    s.window_orders[j as usize] += 1;
                    for &i in anchor.iter().filter(|&&i| i != j) {
                        s.next.add(i, j, 1);
                        changes.pairs[NEXT].insert((i, j));
                    }
                }
                for &j in before[k].difference(&after) {
                    s.window_orders[j as usize] -= 1;
                    for &i in anchor.iter().filter(|&&i| i != j) {
                        s.next.remove_one(i, j);
                        changes.pairs[NEXT].insert((i, j));
                    }
                }
            }
            for j in next_window(list, at, settings) {
                s.window_orders[j as usize] += 1;
                for &i in products.iter().filter(|&&i| i != j) {
                    s.next.add(i, j, 1);
                    changes.pairs[NEXT].insert((i, j));
                }
            }
            update_history(inner, settings, c, t, &products, &mut changes);
        }
        stats.orders += 1;
    }
    let s = &mut inner.state;
    s.latest =
        s.latest.max(orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).max().unwrap_or(s.latest));
    let rows = changes.apply(inner, settings);
    stats.products_touched = rows;
    stats
}

/// Updates customer `c`'s history for an order, noting the same-customers counts that changed.
fn update_history(inner: &mut Inner, settings: &Settings, c: usize, t: i64, products: &[u32], changes: &mut Changes) {
    let s = &mut inner.state;
    let age = s.reference - t;
    for &p in products {
        let hist = &mut s.history[c];
        match hist.binary_search_by_key(&p, |h| h.product) {
            Ok(k) => {
                if hist[k].count == 1 {
                    s.repeat_buyers[p as usize] += 1;
                    // `p` becomes one of the customer's regulars: it now co-occurs with each of the others.
                    s.regular_customers[p as usize] += 1;
                    let others: Vec<u32> =
                        hist.iter().filter(|o| o.count >= 2 && o.product != p).map(|o| o.product).collect();
                    for q in others {
                        s.regulars.add(p, q, 1);
                        s.regulars.add(q, p, 1);
                        changes.pairs[SAME_CUSTOMERS].insert((p, q));
                        changes.pairs[SAME_CUSTOMERS].insert((q, p));
                    }
                    changes.rows[SAME_CUSTOMERS].insert(p);
                }
                let h = &mut hist[k];
                h.count += 1;
                h.first = h.first.min(t);
                h.last = h.last.max(t);
                h.decayed += decay(age, settings.half_life_days);
                h.decayed_long += decay(age, settings.long_half_life_days);
            }
            Err(k) => {
                hist.insert(
                    k,
                    HistItem {
                        product: p,
                        count: 1,
                        first: t,
                        last: t,
                        decayed: decay(age, settings.half_life_days),
                        decayed_long: decay(age, settings.long_half_life_days),
                    },
                );
                s.buyers[p as usize] += 1;
                let buyers = &mut inner.buyers_of[p as usize];
                let at = buyers.partition_point(|&b| b < c as u32);
                buyers.insert(at, c as u32);
            }
        }
    }
}

/// What a fold-in changed, per relation kind: pairs whose count moved, and rows whose denominator moved.
#[derive(Default)]
struct Changes {
    pairs: [BTreeSet<(u32, u32)>; 4],
    rows: [BTreeSet<u32>; 4],
}

impl Changes {
    /// Updates the related lists in place: a row whose denominator moved gets its listed scores recomputed
    /// (`count / rows with the product`, so they stay exact), and each changed pair is tested again and
    /// enters, moves or leaves its row. No row is rebuilt from its full counts, which keeps a fold-in to a few
    /// hundred pair tests. Returns how many rows changed.
    fn apply(self, inner: &mut Inner, settings: &Settings) -> usize {
        let s = &mut inner.state;
        let mut touched: BTreeSet<u32> = BTreeSet::new();
        for kind in [TOGETHER, NEXT, SAME_CUSTOMERS] {
            touched.extend(&self.rows[kind]);
            touched.extend(self.pairs[kind].iter().map(|&(i, _)| i));
        }
        // Each touched source's best score per target over the audience kinds, before the update.
        let best = |s: &super::state::State, i: u32| -> Vec<(u32, f32)> {
            let mut v: Vec<(u32, f32)> =
                super::AUDIENCE_KINDS.iter().flat_map(|&k| s.related[k][i as usize].iter().copied()).collect();
            v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            v.dedup_by_key(|e| e.0);
            v
        };
        let before: Vec<(u32, Vec<(u32, f32)>)> = touched.iter().map(|&i| (i, best(s, i))).collect();
        for kind in [TOGETHER, NEXT, SAME_CUSTOMERS] {
            let mut rows: BTreeSet<u32> = self.rows[kind].clone();
            rows.extend(self.pairs[kind].iter().map(|&(i, _)| i));
            for i in rows {
                let mut row = std::mem::take(&mut s.related[kind][i as usize]);
                if self.rows[kind].contains(&i) {
                    for entry in &mut row {
                        entry.1 = relations::pair_score(s, kind, i, entry.0).unwrap_or(0.0);
                    }
                }
                for &(_, j) in self.pairs[kind].range((i, 0)..=(i, u32::MAX)) {
                    row.retain(|e| e.0 != j);
                    if let Some(score) = relations::significant_pair(s, settings, kind, i, j) {
                        row.push((j, score));
                    }
                }
                row.retain(|e| e.1 > 0.0);
                s.related[kind][i as usize] = relations::top(s, row, settings.top_k);
            }
        }
        // The incoming index ("who leads to this product") follows the changes: entries whose score moved are
        // updated in place, and only pairs that entered or left a list are inserted or removed, since the lists
        // of best sellers hold tens of thousands of sources.
        for (i, old) in before {
            let new = best(s, i);
            let (mut a, mut b) = (0, 0);
            while a < old.len() || b < new.len() {
                let (oj, nj) = (old.get(a).map(|e| e.0), new.get(b).map(|e| e.0));
                match (oj, nj) {
                    (Some(x), Some(y)) if x == y => {
                        // Most listed scores did not move: skip the search in a long list then.
                        if old[a].1 != new[b].1 {
                            let list = &mut inner.incoming[x as usize];
                            if let Ok(at) = list.binary_search_by_key(&i, |e| e.0) {
                                list[at].1 = new[b].1;
                            }
                        }
                        a += 1;
                        b += 1;
                    }
                    (Some(x), Some(y)) if y < x => {
                        super::push_max(&mut inner.incoming[y as usize], i, new[b].1);
                        b += 1;
                    }
                    (Some(x), _) => {
                        let list = &mut inner.incoming[x as usize];
                        if let Ok(at) = list.binary_search_by_key(&i, |e| e.0) {
                            list.remove(at);
                        }
                        a += 1;
                    }
                    (None, Some(y)) => {
                        super::push_max(&mut inner.incoming[y as usize], i, new[b].1);
                        b += 1;
                    }
                    (None, None) => break,
                }
            }
        }
        touched.len()
    }
}

/// Extends every per-product vector to the current number of interned products.
fn grow(inner: &mut Inner) {
    let s = &mut inner.state;
    let n = s.products.len();
    if s.id_rank.len() != n {
        s.rank_ids();
    }
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
    s.together.rows.resize(n, Vec::new());
    s.next.rows.resize(n, Vec::new());
    s.regulars.rows.resize(n, Vec::new());
    s.regular_customers.resize(n, 0);
    inner.incoming.resize(n, Vec::new());
    inner.buyers_of.resize(n, Vec::new());
}
