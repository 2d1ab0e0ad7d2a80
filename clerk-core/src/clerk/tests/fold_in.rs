//! Fold-in against a full analysis of the same orders: analyse a prefix of time-ordered orders, fold in the rest
//! in time order, and compare with an analysis of all of them.
//!
//! What `fold_in.rs` claims: counts (orders per product, pairs bought together and next, histories) exactly as a
//! full analysis; related lists recomputed for the touched products; the other lists keep scores computed with the
//! older order total.

use super::super::counts::PairCounts;
use super::super::relations::{self, listed_count, rows_with, NEXT, SAME_CUSTOMERS, TOGETHER};
use super::super::state::State;
use super::super::{Inner, AUDIENCE_KINDS};
use super::*;

/// A shop with its orders split at a random point, the prefix holding at least `min_prefix` orders.
fn split_strategy(
    orders: std::ops::Range<usize>,
    min_prefix: usize,
    settings: impl Strategy<Value = Settings>,
) -> impl Strategy<Value = (Shop, usize, Settings)> {
    (shop_strategy(orders, false), any::<prop::sample::Index>(), settings).prop_map(move |(shop, at, settings)| {
        let from = min_prefix.min(shop.orders.len());
        let k = from + at.index(shop.orders.len() - from + 1);
        (shop, k, settings)
    })
}

/// The CI split: more orders than products in the prefix, which keeps clear of the pair-count bug and of the
/// reference time 0 of an analysis of no orders (both reported, see the ignored tests).
fn split() -> impl Strategy<Value = (Shop, usize, Settings)> {
    split_strategy(MANY, MANY.start, settings_strategy())
}

/// Analyses the first `k` orders, folds in the rest; and analyses all.
fn fold_and_full(shop: &Shop, k: usize, settings: &Settings) -> (ClerkCore, ClerkCore) {
    let folded = ClerkCore::new(settings.clone()).analysed(&dataset(&shop.products, &shop.orders[..k]));
    let stats = folded.fold_in(&shop.orders[k..]).unwrap();
    assert_eq!(stats.orders, shop.orders.len() - k);
    assert_eq!(stats.skipped, 0);
    let full = ClerkCore::new(settings.clone()).analysed(&shop.data());
    (folded, full)
}

/// Analyses the first `k` orders, then folds in the rest one at a time or together.
fn analysed_then_folded(shop: &Shop, k: usize, settings: Settings, one_at_a_time: bool) -> ClerkCore {
    let model = ClerkCore::new(settings).analysed(&dataset(&shop.products, &shop.orders[..k]));
    if one_at_a_time {
        for order in &shop.orders[k..] {
            model.fold_in(std::slice::from_ref(order)).unwrap();
        }
    } else {
        model.fold_in(&shop.orders[k..]).unwrap();
    }
    model
}

/// The rows of pair counts, without the empty rows at the end (of products the last orders brought).
fn rows(counts: &PairCounts) -> Vec<Vec<(u32, u32)>> {
    let mut rows: Vec<Vec<(u32, u32)>> = counts.rows.iter().map(|row| row.iter().collect()).collect();
    while rows.last().is_some_and(Vec::is_empty) {
        rows.pop();
    }
    rows
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()) + 1e-6
}

/// The counts of `a` (folded in) equal those of `b` (a full analysis) exactly; decayed sums agree once moved
/// to the same reference time.
fn assert_counts_equal(a: &State, b: &State) {
    assert_eq!(a.products, b.products, "products interned in the same order");
    assert_eq!(a.customers, b.customers, "customers interned in the same order");
    assert_eq!(a.indexable, b.indexable);
    assert_eq!(a.orders, b.orders, "orders");
    assert_eq!(a.product_orders, b.product_orders, "orders per product");
    assert_eq!(rows(&a.together), rows(&b.together), "bought-together counts");
    assert_eq!(a.window_orders, b.window_orders, "orders per product in next windows");
    assert_eq!(rows(&a.next), rows(&b.next), "bought-next counts");
    assert_eq!(a.customer_orders, b.customer_orders, "orders per customer");
    assert_eq!(a.buyers, b.buyers, "buyers per product");
    assert_eq!(a.repeat_buyers, b.repeat_buyers, "repeat buyers per product");
    assert_eq!(a.history.len(), b.history.len());
    for (c, (ha, hb)) in a.history.iter().zip(&b.history).enumerate() {
        let key = |h: &Vec<super::super::state::HistItem>| -> Vec<(u32, u32, i64, i64)> {
            h.iter().map(|h| (h.product, h.count, h.first, h.last)).collect()
        };
        assert_eq!(key(ha), key(hb), "history of customer {c}");
    }
    assert_eq!((&a.need, &a.category, &a.brand, &a.created), (&b.need, &b.category, &b.brand, &b.created));
}

/// Settings with the due-ness term off (it reads the per-product cycles, which fold-in does not update).
fn settings_without_due() -> impl Strategy<Value = Settings> {
    settings_strategy().prop_map(|s| Settings { due_weight: 0.0, ..s })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn fold_in_counts_equal_a_full_analysis((shop, k, settings) in split()) {
        let (folded, full) = fold_and_full(&shop, k, &settings);
        let (a, b) = (folded.read(), full.read());
        assert_counts_equal(&a.state, &b.state);
        // Decayed sums, moved to the full analysis' reference time, within float rounding.
        let shift = b.state.reference - a.state.reference;
        let short = super::super::analysis::decay(shift, settings.half_life_days);
        let long = super::super::analysis::decay(shift, settings.long_half_life_days);
        for (ha, hb) in a.state.history.iter().flatten().zip(b.state.history.iter().flatten()) {
            prop_assert!(close(ha.decayed * short, hb.decayed, 1e-4), "{:?} vs {:?}", ha, hb);
            prop_assert!(close(ha.decayed_long * long, hb.decayed_long, 1e-4), "{:?} vs {:?}", ha, hb);
        }
        prop_assert_eq!(folded.stats().orders, full.stats().orders);
        prop_assert_eq!(folded.stats().customers, full.stats().customers);
        prop_assert_eq!(folded.stats().products, full.stats().products);
    }

    /// Related lists, as `fold_in.rs` documents: every score a folded-in list holds is exactly the full
    /// analysis' `count / rows with the product` for that pair, and the pair is above chance in the full
    /// analysis too; a product listed by both has the same score. Membership of borderline pairs may differ (the
    /// significance test reads totals every order moves) until the next full analysis. Alternatives are left to
    /// the next full analysis.
    #[test]
    fn fold_in_related_lists_match_a_full_analysis((shop, k, settings) in split()) {
        let (folded, full) = fold_and_full(&shop, k, &settings);
        let inner = full.read();
        let st = &inner.state;
        for p in shop.product_ids() {
            for (r, kind) in [(Relation::BoughtTogether, TOGETHER), (Relation::BoughtNext, NEXT), (Relation::SameCustomers, SAME_CUSTOMERS)] {
                let a = folded.related(&p, r, 1000);
                let b = full.related(&p, r, 1000);
                let i = st.products.get(&p).unwrap();
                for s in &a {
                    let j = st.products.get(&s.id).unwrap();
                    let exact = relations::pair_score(st, kind, i, j);
                    prop_assert_eq!(Some(s.score), exact, "related({}, {:?}) -> {}: score", p, r, s.id);
                    if let Some(t) = b.iter().find(|t| t.id == s.id) {
                        prop_assert_eq!(s, t, "related({}, {:?})", p, r);
                    }
                }
            }
        }
    }

    /// What `fold_in.rs` documents: untouched lists keep scores that moved by at most the relative change of the
    /// order total.
    #[test]
    #[ignore = "documented limitation: alternatives of untouched products are refreshed by the next full analysis (clerk/fold_in.rs)"]
    fn untouched_lists_move_at_most_by_the_change_of_the_order_total((shop, k, settings) in split()) {
        if skip_known_bug("untouched_lists_move_at_most_by_the_change_of_the_order_total") {
            return Ok(());
        }
        let (folded, full) = fold_and_full(&shop, k, &settings);
        let tol = (shop.orders.len() - k) as f32 / k.max(1) as f32;
        for p in shop.product_ids() {
            for r in RELATIONS {
                let b = full.related(&p, r, 1000);
                for s in &folded.related(&p, r, 1000) {
                    if let Some(t) = b.iter().find(|t| t.id == s.id) {
                        prop_assert!(close(s.score, t.score, tol), "related({}, {:?}): {:?} vs {:?} (tolerance {})", p, r, s, t, tol);
                    }
                }
            }
        }
    }

    /// Customer affinity at a given time (the reference times differ, see `fold_in_moves_the_reference_time`).
    #[test]
    fn fold_in_affinity_matches_a_full_analysis((shop, k, settings) in split_strategy(MANY, MANY.start, settings_without_due())) {
        let (folded, full) = fold_and_full(&shop, k, &settings);
        let at = shop.orders.last().map(|o| Timestamp(o.time.secs() + DAY));
        for c in shop.customer_keys() {
            let a = folded.customer_affinity(&c, at, 1000);
            let b = full.customer_affinity(&c, at, 1000);
            prop_assert_eq!(a.len(), b.len(), "customer_affinity({})", c);
            for s in &a {
                let t = b.iter().find(|t| t.id == s.id);
                prop_assert!(t.is_some_and(|t| close(s.score, t.score, 1e-4)), "customer_affinity({}): {:?} vs {:?}", c, s, t);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A customer first seen in the folded-in orders gets the similar customers a full analysis gives them.
    #[test]
    fn new_customers_get_their_similar_customers_after_a_fold_in((shop, k, settings) in split()) {
        let (folded, full) = fold_and_full(&shop, k, &settings);
        let known: std::collections::BTreeSet<String> =
            shop.orders[..k].iter().filter_map(|o| o.buyer_key()).collect();
        for c in shop.customer_keys().into_iter().filter(|c| !known.contains(c)) {
            for new_only in [false, true] {
                let a = folded.bought_by_similar(&c, new_only, 1000);
                let b = full.bought_by_similar(&c, new_only, 1000);
                prop_assert_eq!(a.len(), b.len(), "bought_by_similar({}, {})", c, new_only);
                for (s, t) in a.iter().zip(&b) {
                    prop_assert!(s.id == t.id && close(s.score, t.score, 1e-5), "{}: {:?} vs {:?}", c, a, b);
                }
            }
        }
    }

    /// The same with any shop and any split (fewer orders than products, an empty prefix).
    #[test]
    fn fold_in_counts_equal_a_full_analysis_for_any_split((shop, k, settings) in split_strategy(0..40, 0, settings_strategy())) {
        let (folded, full) = fold_and_full(&shop, k, &settings);
        assert_counts_equal(&folded.read().state, &full.read().state);
    }

    /// The leads to each product (who leads to it, with the count of each list holding it) and the ranks of
    /// product ids a fold-in keeps up to date are those a load rebuilds, whether the orders come one at a time
    /// or together; and every listed score reads back the count it was computed from (what rescaling a row
    /// relies on).
    #[test]
    fn fold_in_keeps_the_leads_a_load_rebuilds(
        (shop, k, settings) in split_strategy(0..40, 0, settings_strategy()),
        one_at_a_time in any::<bool>(),
    ) {
        let folded = analysed_then_folded(&shop, k, settings, one_at_a_time);
        let inner = folded.read();
        let rebuilt = Inner::new(inner.state.clone());
        prop_assert_eq!(&inner.state.id_rank, &rebuilt.state.id_rank, "ranks of new products' ids");
        prop_assert_eq!(&inner.incoming, &rebuilt.incoming);
        prop_assert_eq!(&inner.buyers_of, &rebuilt.buyers_of);
        prop_assert_eq!(&inner.buyer_items, &rebuilt.buyer_items);
        let s = &inner.state;
        for kind in AUDIENCE_KINDS {
            for (i, row) in s.related[kind].iter().enumerate() {
                let i = i as u32;
                for &(j, x) in row {
                    prop_assert_eq!(listed_count(s, kind, i, j, x, rows_with(s, kind, i)), relations::pair_count(s, kind, i, j));
                    prop_assert_eq!(relations::pair_score(s, kind, i, j), Some(x));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Fold-ins on two threads (the count changes and the related lists and leads split between them) leave the
    /// state, and the leads, that one thread leaves, whether the orders come one at a time or together.
    #[test]
    fn fold_in_is_the_same_on_one_and_two_threads(
        (shop, k, settings) in split_strategy(0..40, 0, settings_strategy()),
        one_at_a_time in any::<bool>(),
    ) {
        let fold = |threads: usize| {
            analysed_then_folded(&shop, k, Settings { threads: Some(threads), ..settings.clone() }, one_at_a_time)
        };
        let (one, two) = (fold(1), fold(2));
        let (one, two) = (one.read(), two.read());
        prop_assert_eq!(postcard::to_stdvec(&one.state).unwrap(), postcard::to_stdvec(&two.state).unwrap());
        prop_assert_eq!(&one.incoming, &two.incoming);
    }
}

/// After folding in newer orders, "now" is the last order, as after a full analysis of the same orders.
#[test]
fn fold_in_moves_the_reference_time() {
    let shop = shop();
    let k = shop.orders.len() * 9 / 10;
    let folded = ClerkCore::new(Settings::default()).analysed(&dataset(&shop.products, &shop.orders[..k]));
    folded.fold_in(&shop.orders[k..]).unwrap();
    let full = shop_model();
    assert_eq!(folded.stats().reference_time, full.stats().reference_time);
    // With the default `at`, the affinity of a customer who bought in the folded-in orders is as after a full
    // analysis.
    let c = shop.orders[k..].iter().rev().find_map(|o| o.customer_id.clone()).unwrap();
    let a = pairs(&folded.customer_affinity(&c, None, 5));
    let b = pairs(&full.customer_affinity(&c, None, 5));
    assert_eq!(a.len(), b.len());
    for ((ia, sa), (ib, sb)) in a.iter().zip(&b) {
        assert!(ia == ib && close(*sa, *sb, 1e-4), "{a:?} vs {b:?}");
    }
}

/// Trending counts the last `trending_recent_days` before the reference: after a fold-in it equals a full
/// analysis.
#[test]
#[ignore = "documented limitation: the trending windows are refreshed by the next full analysis (clerk/fold_in.rs)"]
fn fold_in_keeps_trending_as_a_full_analysis() {
    if skip_known_bug("fold_in_keeps_trending_as_a_full_analysis") {
        return;
    }
    let shop = shop();
    let k = shop.orders.len() * 3 / 4;
    let folded = ClerkCore::new(Settings::default()).analysed(&dataset(&shop.products, &shop.orders[..k]));
    folded.fold_in(&shop.orders[k..]).unwrap();
    let (a, b) = (folded.read(), shop_model().read());
    assert_eq!(a.state.recent, b.state.recent, "orders in the recent window");
    assert_eq!(a.state.baseline, b.state.baseline, "orders in the baseline window");
}

/// The per-product repurchase cycles (used by the due-ness term) follow the folded-in repurchases.
#[test]
#[ignore = "documented limitation: population repurchase cycles are refreshed by the next full analysis (clerk/fold_in.rs)"]
fn fold_in_updates_repurchase_cycles() {
    if skip_known_bug("fold_in_updates_repurchase_cycles") {
        return;
    }
    let shop = shop();
    let k = shop.orders.len() / 2;
    let folded = ClerkCore::new(Settings::default()).analysed(&dataset(&shop.products, &shop.orders[..k]));
    folded.fold_in(&shop.orders[k..]).unwrap();
    let (a, b) = (folded.read(), shop_model().read());
    assert_eq!(a.state.cycle_days, b.state.cycle_days);
}
