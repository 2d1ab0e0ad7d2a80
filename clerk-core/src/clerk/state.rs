//! The analysed state of ClerkCore: everything it pre-computed, as plain serialisable data.

use serde::{Deserialize, Serialize};

use super::counts::PairCounts;
use crate::intern::Interner;

/// No key (no category, type or brand).
pub(crate) const NONE: u32 = u32::MAX;

/// One product in a customer's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistItem {
    pub(crate) product: u32,
    /// Orders of the customer holding the product.
    pub(crate) count: u32,
    /// Time of the first and last of those orders.
    pub(crate) first: i64,
    pub(crate) last: i64,
    /// Sum over those orders of 0.5^((reference - t) / half-life), short and long half-life.
    pub(crate) decayed: f32,
    pub(crate) decayed_long: f32,
}

/// The whole analysed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) products: Interner,
    pub(crate) customers: Interner,
    pub(crate) indexable: Vec<bool>,
    /// The time decays are relative to: the last order of the full analysis.
    pub(crate) reference: i64,
    /// The last order seen, folded-in ones included: the default "now" of look-ups. Decayed weights stay
    /// relative to `reference` (a fold-in never rescales them all) and are moved to "now" when read.
    pub(crate) latest: i64,
    /// Orders analysed (with at least one product).
    pub(crate) orders: u64,
    /// Orders holding each product.
    pub(crate) product_orders: Vec<u32>,
    /// Order-level pair counts (bought together). Symmetric, so held once per pair: row `i` holds the partners
    /// above `i` (see [`relations::pair_count`](super::relations::pair_count)).
    pub(crate) together: PairCounts,
    /// Orders whose "next window" (the customer's purchases within the window after it) holds each product.
    pub(crate) window_orders: Vec<u32>,
    /// `next.get(i, j)`: orders holding `i` whose next window holds `j`.
    pub(crate) next: PairCounts,
    /// Customers who bought each product at least twice (the product is one of their regulars).
    pub(crate) regular_customers: Vec<u32>,
    /// Customers for whom both `i` and `j` are regulars: symmetric, held once per pair as `together` is.
    pub(crate) regulars: PairCounts,
    /// Top related products per product: bought together, bought next, alternatives, same customers.
    pub(crate) related: super::relations::RelatedRows,
    /// Per customer: the products bought, sorted by product.
    pub(crate) history: Vec<Vec<HistItem>>,
    /// Per customer: the most similar customers with their similarity, best first (see `similar`). Refreshed
    /// by full analyses only: customers folded in since have none (the list may be shorter than `history`).
    pub(crate) similar: Vec<Vec<(u32, f32)>>,
    /// Per customer: what their similar customers bought (as long as `similar`).
    pub(crate) similar_lists: Vec<super::similar::SimilarLists>,
    /// Per customer: time-decayed count of orders at `reference` (short half-life).
    pub(crate) activity: Vec<f32>,
    /// Per customer: their orders' times and products, in time order (for bought-next fold-in).
    pub(crate) customer_orders: Vec<Vec<(i64, Vec<u32>)>>,
    /// Per product: buyers who bought it at least twice, and buyers in all.
    pub(crate) repeat_buyers: Vec<u32>,
    pub(crate) buyers: Vec<u32>,
    /// Per product: median days between two purchases by one customer (0 when unknown).
    pub(crate) cycle_days: Vec<f32>,
    /// Per product: decayed distinct orders at `reference`.
    pub(crate) popularity: Vec<f32>,
    /// Per product: orders in the trending recent and baseline windows before `reference`.
    pub(crate) recent: Vec<u32>,
    pub(crate) baseline: Vec<u32>,
    /// Per product: catalog creation time.
    pub(crate) created: Vec<Option<i64>>,
    /// Per product: keys into `keys` for its need (type attribute, else first category), category, brand.
    pub(crate) need: Vec<u32>,
    pub(crate) category: Vec<u32>,
    pub(crate) brand: Vec<u32>,
    pub(crate) keys: Interner,
    /// Per product: the position of its id in id order, so ties are broken by id without comparing strings
    /// (derived: rebuilt by [`State::rank_ids`] after an analysis, a load or new products).
    #[serde(skip)]
    pub(crate) id_rank: Vec<u32>,
}

impl State {
    pub(crate) fn n_products(&self) -> usize {
        self.products.len()
    }

    /// Rebuilds [`id_rank`](Self::id_rank).
    pub(crate) fn rank_ids(&mut self) {
        self.id_rank = crate::intern::ranks_by_id(self.products.ids());
    }

    /// Extends [`id_rank`](Self::id_rank) to the products interned since it was built: a fold-in meets new
    /// products one order at a time, and sorting every id again (5 ms for the 92,000 products of the Complete
    /// Journey catalog) would be most of such a fold-in. Each new id is placed among the others by binary
    /// search and the others' ranks shift past the new ones: the ranks [`rank_ids`](Self::rank_ids) gives.
    pub(crate) fn rank_new_ids(&mut self) {
        let ids = self.products.ids();
        let old = self.id_rank.len();
        if old >= ids.len() {
            return;
        }
        if old < 2 * (ids.len() - old) {
            // Mostly new: sorting them all is as quick.
            self.rank_ids();
            return;
        }
        let mut by_id = vec![0u32; old];
        for (p, &r) in self.id_rank.iter().enumerate() {
            by_id[r as usize] = p as u32;
        }
        let mut new: Vec<u32> = (old as u32..ids.len() as u32).collect();
        new.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
        // Where each new id goes among the old ones, in id order.
        let at: Vec<usize> =
            new.iter().map(|&p| by_id.partition_point(|&q| ids[q as usize] < ids[p as usize])).collect();
        // Old ranks shift by the new ids before them.
        let mut shift = vec![0u32; old + 1];
        for &a in &at {
            shift[a] += 1;
        }
        let mut before = 0;
        for s in &mut shift {
            before += *s;
            *s = before;
        }
        for r in &mut self.id_rank {
            // New ids placed at `a` go before the old id of rank `a`.
            *r += shift[*r as usize];
        }
        self.id_rank.resize(ids.len(), 0);
        for (k, (&p, &a)) in new.iter().zip(&at).enumerate() {
            self.id_rank[p as usize] = (a + k) as u32;
        }
    }
}

impl State {
    /// Checks that every index points inside its table, so a corrupted saved analysis is refused instead of
    /// panicking later.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let n = self.n_products();
        let c = self.customers.len();
        let per_product: [(&str, usize); 19] = [
            ("indexable", self.indexable.len()),
            ("product_orders", self.product_orders.len()),
            ("window_orders", self.window_orders.len()),
            ("together", self.together.rows.len()),
            ("next", self.next.rows.len()),
            ("related together", self.related[0].len()),
            ("related same customers", self.related[3].len()),
            ("regulars", self.regulars.rows.len()),
            ("regular_customers", self.regular_customers.len()),
            ("related next", self.related[1].len()),
            ("alternatives", self.related[2].len()),
            ("repeat_buyers", self.repeat_buyers.len()),
            ("buyers", self.buyers.len()),
            ("cycle_days", self.cycle_days.len()),
            ("popularity", self.popularity.len()),
            ("recent", self.recent.len()),
            ("baseline", self.baseline.len()),
            ("created", self.created.len()),
            ("need", self.need.len()),
        ];
        for (name, len) in
            per_product.into_iter().chain([("category", self.category.len()), ("brand", self.brand.len())])
        {
            if len != n {
                return Err(format!("{name} has {len} entries for {n} products"));
            }
        }
        for (name, len) in [
            ("history", self.history.len()),
            ("customer_orders", self.customer_orders.len()),
            ("activity", self.activity.len()),
        ] {
            if len != c {
                return Err(format!("{name} has {len} entries for {c} customers"));
            }
        }
        if self.similar.len() > c
            || !self.similar.iter().flatten().all(|&(v, sim)| (v as usize) < c && sim.is_finite() && sim > 0.0)
        {
            return Err("similar customers name an unknown customer".into());
        }
        if self.similar_lists.len() != self.similar.len()
            || !self
                .similar_lists
                .iter()
                .flat_map(|l| l.all.iter().chain(&l.new))
                .all(|&(p, score)| (p as usize) < n && score.is_finite())
        {
            return Err("similar customers' products out of range".into());
        }
        let product = |p: u32| (p as usize) < n;
        let rows_ok = |rows: &[super::counts::Row]| rows.iter().all(|row| row.partners_below(n as u32));
        if !rows_ok(&self.together.rows) || !rows_ok(&self.next.rows) || !rows_ok(&self.regulars.rows) {
            return Err("pair counts name an unknown product".into());
        }
        if !self.related.iter().flatten().flatten().all(|&(j, s)| product(j) && s.is_finite()) {
            return Err("related lists name an unknown product".into());
        }
        if !self.history.iter().flatten().all(|h| product(h.product))
            || !self.customer_orders.iter().flatten().flat_map(|(_, ps)| ps).all(|&p| product(p))
        {
            return Err("histories name an unknown product".into());
        }
        let key = |k: u32| k == NONE || (k as usize) < self.keys.len();
        if !self.need.iter().chain(&self.category).chain(&self.brand).all(|&k| key(k)) {
            return Err("catalog keys out of range".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Ranking the ids of new products among the others gives the ranks of sorting them all.
        #[test]
        fn ranks_of_new_ids_are_those_of_sorting_all(
            ids in prop::collection::vec("[a-e]{1,3}", 0..60),
            first in any::<prop::sample::Index>(),
        ) {
            let first = first.index(ids.len() + 1);
            let mut s = State::default();
            for id in &ids[..first] {
                s.products.intern(id);
            }
            s.rank_ids();
            for id in &ids[first..] {
                s.products.intern(id);
            }
            s.rank_new_ids();
            let incremental = s.id_rank.clone();
            s.rank_ids();
            prop_assert_eq!(incremental, s.id_rank);
        }
    }
}
