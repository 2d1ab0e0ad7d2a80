//! Folding new orders into an analysed state, updating only the products they touch.
//!
//! Counts (orders per product, pairs bought together and next, histories) come out exactly as a full analysis
//! of the same orders would give them, and decayed weights within float rounding once the reference time has
//! moved to the newest order. Bought-together and bought-next lists are recomputed for the touched products:
//! their scores (`count / orders with the product`) equal a full analysis'; the lists of untouched products keep
//! their members, although the significance test of a full analysis, which reads the new order total, could
//! admit or drop a borderline partner. Alternatives of untouched products, the trending window and the
//! population's repurchase cycles are refreshed by the next full analysis only; the analysis policy runs one
//! when enough has changed.

use std::collections::BTreeSet;

use super::analysis::{decay, next_window};
use super::relations::{self, Groups, ALTERNATIVE, NEXT, SAME_CUSTOMERS, TOGETHER};
use super::settings::Settings;
use super::state::HistItem;
use super::Inner;
use crate::domain::{Order, DAY};
use crate::model::FoldInStats;

pub(super) fn fold_in(inner: &mut Inner, settings: &Settings, orders: &[Order]) -> FoldInStats {
    let mut stats = FoldInStats::default();
    let mut touched_rows: BTreeSet<u32> = BTreeSet::new();
    if inner.state.orders == 0 {
        // A fresh model has no reference time yet: start it at the first order, so decays stay finite.
        if let Some(first) = orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).min() {
            inner.state.reference = first;
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
                }
            }
        }
        touched_rows.extend(&products);

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
                        touched_rows.insert(i);
                    }
                }
                for &j in before[k].difference(&after) {
                    s.window_orders[j as usize] -= 1;
                    for &i in anchor.iter().filter(|&&i| i != j) {
                        s.next.remove_one(i, j);
                        touched_rows.insert(i);
                    }
                }
            }
            for j in next_window(list, at, settings) {
                s.window_orders[j as usize] += 1;
                for &i in products.iter().filter(|&&i| i != j) {
                    s.next.add(i, j, 1);
                }
            }
            touched_rows.extend(update_history(inner, settings, c, t, &products));
        }
        stats.orders += 1;
    }
    move_reference(inner, settings, orders);
    let s = &mut inner.state;
    if !touched_rows.is_empty() {
        let groups = Groups::new(s);
        let mut scratch = relations::Scratch::new(s.n_products());
        for &i in &touched_rows {
            let rows = [
                relations::association_row(s, settings, TOGETHER, i),
                relations::association_row(s, settings, NEXT, i),
                relations::alternative_row(s, settings, &groups, &mut scratch, i),
                relations::association_row(s, settings, SAME_CUSTOMERS, i),
            ];
            for (kind, row) in rows.into_iter().enumerate() {
                if kind != ALTERNATIVE {
                    for &(j, _) in &s.related[kind][i as usize] {
                        inner.incoming[j as usize].retain(|&(k, _)| k != i);
                    }
                }
                s.related[kind][i as usize] = row;
            }
        }
        // Re-add the touched rows' incoming entries from both kinds, so a pair present in both keeps its best.
        for &i in &touched_rows {
            for kind in super::AUDIENCE_KINDS {
                for &(j, score) in &s.related[kind][i as usize] {
                    super::push_max(&mut inner.incoming[j as usize], i, score);
                }
            }
        }
    }
    stats.products_touched = touched_rows.len();
    stats
}

/// Updates customer `c`'s history for an order; returns the products whose same-customers counts changed.
fn update_history(inner: &mut Inner, settings: &Settings, c: usize, t: i64, products: &[u32]) -> Vec<u32> {
    let mut touched = Vec::new();
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
                        touched.push(q);
                    }
                    touched.push(p);
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
                // Positions after `k` in this customer's history moved by one.
                for h in &hist[k + 1..] {
                    for entry in inner.buyers_of[h.product as usize].iter_mut() {
                        if entry.0 == c as u32 {
                            entry.1 += 1;
                        }
                    }
                }
                let buyers = &mut inner.buyers_of[p as usize];
                let at = buyers.partition_point(|e| e.0 < c as u32);
                buyers.insert(at, (c as u32, k as u32));
            }
        }
    }
    touched
}

/// Moves the reference time ("now" of the decays) to the newest order folded in, rescaling every decayed
/// weight, so a folded-in model ages like a freshly analysed one.
fn move_reference(inner: &mut Inner, settings: &Settings, orders: &[Order]) {
    let s = &mut inner.state;
    let Some(newest) = orders.iter().filter(|o| !o.lines.is_empty()).map(|o| o.time.secs()).max() else { return };
    if newest <= s.reference {
        return;
    }
    let age = newest - s.reference;
    let short = decay(age, settings.half_life_days);
    let long = decay(age, settings.long_half_life_days);
    let popular = decay(age, settings.popularity_half_life_days);
    for h in s.history.iter_mut().flatten() {
        h.decayed *= short;
        h.decayed_long *= long;
    }
    for a in &mut s.activity {
        *a *= short;
    }
    for p in &mut s.popularity {
        *p *= popular;
    }
    s.reference = newest;
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
    s.together.rows.resize(n, Vec::new());
    s.next.rows.resize(n, Vec::new());
    s.regulars.rows.resize(n, Vec::new());
    s.regular_customers.resize(n, 0);
    inner.incoming.resize(n, Vec::new());
    inner.buyers_of.resize(n, Vec::new());
}
