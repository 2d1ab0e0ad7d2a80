//! Properties of every look-up on small random shops: the `IntentModel` contract (no self, no hidden product,
//! finite positive scores best first, ties by id, `limit` a prefix) and determinism (same bytes on a second
//! analysis and for any thread count).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn state_bytes(model: &ClerkCore) -> Vec<u8> {
    postcard::to_stdvec(&model.read().state).unwrap()
}

fn check_scored(what: &str, list: &[Scored], hidden: &[String], this: Option<&str>) {
    assert_ranked(what, &pairs(list));
    for s in list {
        assert!(!hidden.iter().any(|h| **h == *s.id), "{what}: non-indexable {} returned", s.id);
        assert!(this != Some(&*s.id), "{what}: the product itself returned");
    }
}

fn check_contract(model: &ClerkCore, shop: &Shop) {
    let hidden = shop.non_indexable();
    let mut products = shop.product_ids();
    products.push("unknown".into());
    let last = shop.orders.last().map_or(T0, |o| o.time.secs());
    for p in &products {
        for r in RELATIONS {
            let all = model.related(p, r, 1000);
            check_scored(&format!("related({p}, {r:?})"), &all, &hidden, Some(p));
            for limit in 0..3 {
                assert_eq!(model.related(p, r, limit), all[..limit.min(all.len())], "related({p}, {r:?}, {limit})");
            }
        }
        let all = model.audience(p, None, 1000);
        assert_ranked(&format!("audience({p})"), &audience_pairs(&all));
        for limit in 0..3 {
            assert_eq!(model.audience(p, None, limit), all[..limit.min(all.len())], "audience({p}, {limit})");
        }
        for m in &all {
            // The last purchase, when given, is an order of this customer holding the product.
            if let Some(t) = m.last_purchase {
                assert!(
                    shop.orders.iter().any(|o| o.time == t
                        && o.buyer_key().as_deref() == Some(&*m.customer)
                        && o.lines.iter().any(|l| l.product_id == *p)),
                    "audience({p}): {m:?} has no such purchase"
                );
            }
        }
    }
    for c in shop.customer_keys().iter().chain([&"unknown".to_string()]) {
        for at in [None, Some(Timestamp(last + 10 * DAY)), Some(Timestamp(last - 3 * DAY))] {
            let all = model.customer_affinity(c, at, 1000);
            check_scored(&format!("customer_affinity({c}, {at:?})"), &all, &hidden, None);
            for limit in 0..3 {
                assert_eq!(model.customer_affinity(c, at, limit), all[..limit.min(all.len())]);
            }
            // Only products the customer bought.
            for s in &all {
                assert!(shop
                    .orders
                    .iter()
                    .any(|o| o.buyer_key().as_deref() == Some(&**c) && o.lines.iter().any(|l| *l.product_id == *s.id)));
            }
        }
    }
    for r in RANKINGS {
        check_scored(&format!("ranking({r:?})"), &model.ranking(r, 1000), &hidden, None);
    }
}

/// Pair and window counts computed the obvious way, by product id.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    product_orders: BTreeMap<String, u32>,
    together: BTreeMap<(String, String), u32>,
    window_orders: BTreeMap<String, u32>,
    next: BTreeMap<(String, String), u32>,
}

fn naive_counts(shop: &Shop, settings: &Settings) -> Counts {
    let window = (settings.next_window_days * DAY as f64) as i64;
    let baskets: Vec<(Option<String>, i64, BTreeSet<String>)> = shop
        .orders
        .iter()
        .map(|o| (o.buyer_key(), o.time.secs(), o.lines.iter().map(|l| l.product_id.clone()).collect()))
        .filter(|(_, _, b): &(_, _, BTreeSet<String>)| !b.is_empty())
        .collect();
    let mut c = Counts::default();
    for (k, (buyer, t, basket)) in baskets.iter().enumerate() {
        for i in basket {
            *c.product_orders.entry(i.clone()).or_default() += 1;
            for j in basket.iter().filter(|j| *j != i) {
                *c.together.entry((i.clone(), j.clone())).or_default() += 1;
            }
        }
        if buyer.is_none() {
            continue;
        }
        // The buyer's next `next_orders` orders, of those the ones after this one and within the window.
        let later: BTreeSet<&String> = baskets[k + 1..]
            .iter()
            .filter(|(b, _, _)| b == buyer)
            .take(settings.next_orders)
            .take_while(|(_, tb, _)| *tb <= t + window)
            .filter(|(_, tb, _)| *tb > *t)
            .flat_map(|(_, _, b)| b)
            .collect();
        for j in later {
            *c.window_orders.entry(j.clone()).or_default() += 1;
            for i in basket.iter().filter(|i| *i != j) {
                *c.next.entry((i.clone(), j.clone())).or_default() += 1;
            }
        }
    }
    c
}

fn model_counts(model: &ClerkCore) -> Counts {
    let inner = model.read();
    let s = &inner.state;
    let id = |p: usize| s.products.ids()[p].to_string();
    let per_product = |v: &[u32]| v.iter().enumerate().filter(|(_, n)| **n > 0).map(|(p, n)| (id(p), *n)).collect();
    let pairs = |rows: Vec<Vec<(u32, u32)>>| {
        rows.into_iter()
            .enumerate()
            .flat_map(|(i, row)| row.into_iter().map(move |(j, n)| ((i, j as usize), n)))
            .map(|((i, j), n)| ((id(i), id(j)), n))
            .collect()
    };
    let rows = |counts: &super::super::counts::PairCounts| -> Vec<Vec<(u32, u32)>> {
        counts.rows.iter().map(|row| row.iter().collect()).collect()
    };
    Counts {
        product_orders: per_product(&s.product_orders),
        // Held once per pair: compared whole.
        together: pairs(s.together.mirrored()),
        window_orders: per_product(&s.window_orders),
        next: pairs(rows(&s.next)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The counts every relation is computed from equal a naive count of the same orders.
    #[test]
    fn pair_counts_match_a_naive_count(shop in shop_strategy(MANY, false), settings in settings_strategy()) {
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        prop_assert_eq!(model_counts(&model), naive_counts(&shop, &settings));
        let inner = model.read();
        for counts in [&inner.state.together, &inner.state.regulars] {
            for (i, row) in counts.rows.iter().enumerate() {
                prop_assert!(row.iter().all(|(j, _)| j as usize > i), "row {} holds a partner not above it", i);
            }
        }
    }

    /// Each association row (bought together, next, same customers) is the best `top_k` of every significant
    /// pair of its counts, as testing each pair and ranking them all gives it: the analysis tests pairs best
    /// first and stops when the row is full.
    #[test]
    fn association_rows_are_the_best_significant_pairs(shop in shop_strategy(MANY, true), settings in settings_strategy()) {
        use super::super::relations::{self, NEXT, SAME_CUSTOMERS, TOGETHER};
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        let inner = model.read();
        let s = &inner.state;
        for kind in [TOGETHER, NEXT, SAME_CUSTOMERS] {
            // Whole rows (the symmetric tables are held once per pair).
            let rows: Vec<Vec<(u32, u32)>> = match kind {
                TOGETHER => s.together.mirrored(),
                NEXT => s.next.rows.iter().map(|row| row.iter().collect()).collect(),
                _ => s.regulars.mirrored(),
            };
            for (i, row) in rows.iter().enumerate() {
                let i = i as u32;
                let all: Vec<(u32, f32)> = row
                    .iter()
                    .filter_map(|&(j, c)| relations::significant_pair(s, &settings, kind, i, j, c).map(|x| (j, x)))
                    .collect();
                prop_assert_eq!(&s.related[kind][i as usize], &relations::top(s, all, settings.top_k));
            }
        }
    }

    /// The related lists the analysis works out as it counts are those its rules give from the stored counts,
    /// one product at a time.
    #[test]
    fn related_lists_are_those_of_the_stored_counts(shop in shop_strategy(MANY, true), settings in settings_strategy()) {
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        let inner = model.read();
        let s = &inner.state;
        prop_assert!(s.related == super::super::relations::rebuild_all(s, &settings));
    }

    /// Alternatives are the best `top_k` of every candidate (the need's products, the partners bought next at
    /// least `min_pair_count` times) scored one by one: the analysis skips the need's products that cannot
    /// make the row.
    #[test]
    fn alternatives_are_the_best_of_all_candidates(shop in shop_strategy(MANY, true), settings in settings_strategy()) {
        use super::super::relations::{self, ALTERNATIVE};
        use super::super::state::NONE;
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        let inner = model.read();
        let s = &inner.state;
        let orders = |p: usize| f64::from(s.product_orders[p]).max(1.0);
        let n = s.orders.max(1) as f64;
        for i in 0..s.n_products() {
            let mut all = Vec::new();
            for j in 0..s.n_products() {
                let next = s.next.get(i as u32, j as u32);
                let same_need = s.need[i] != NONE && s.need[j] == s.need[i];
                if j == i || !s.indexable[j] || !(same_need || next >= settings.min_pair_count.max(1)) {
                    continue;
                }
                let need = if same_need { 1.0 } else if s.category[i] != NONE && s.category[j] == s.category[i] { 0.3 } else { 0.0 };
                let shared = 2.0 * f64::from(next) / (orders(i) * orders(j)).sqrt();
                if need == 0.0 && shared < 0.05 {
                    continue;
                }
                let lift = f64::from(relations::pair_count(s, relations::TOGETHER, i as u32, j as u32)) * n / (orders(i) * orders(j));
                let brand = if s.brand[i] != NONE && s.brand[j] != s.brand[i] { 1.1 } else { 1.0 };
                let score = (need + shared) * (1.0 / (1.0 + lift)) * brand * (1.0 + orders(j)).ln();
                if score > 0.0 && score.is_finite() {
                    all.push((j as u32, score as f32));
                }
            }
            prop_assert_eq!(&s.related[ALTERNATIVE][i], &relations::top(s, all, settings.top_k), "product {}", i);
        }
    }

    /// The same for any shop, with fewer orders than products too.
    #[test]
    fn pair_counts_match_a_naive_count_with_few_orders(shop in shop_strategy(0..12, true), settings in settings_strategy()) {
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        prop_assert_eq!(model_counts(&model), naive_counts(&shop, &settings));
        let inner = model.read();
        for counts in [&inner.state.together, &inner.state.regulars] {
            for (i, row) in counts.rows.iter().enumerate() {
                prop_assert!(row.iter().all(|(j, _)| j as usize > i), "row {} holds a partner not above it", i);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn lookups_keep_the_contract(shop in shop_strategy(0..40, true), settings in settings_strategy()) {
        let model = ClerkCore::new(settings).analysed(&shop.data());
        check_contract(&model, &shop);
    }

    #[test]
    fn analysis_is_deterministic_for_any_thread_count(shop in shop_strategy(0..40, true), settings in settings_strategy()) {
        let data = shop.data();
        let one = ClerkCore::new(Settings { threads: Some(1), ..settings.clone() }).analysed(&data);
        let four = ClerkCore::new(Settings { threads: Some(4), ..settings.clone() }).analysed(&data);
        let again = ClerkCore::new(Settings { threads: Some(4), ..settings }).analysed(&data);
        prop_assert_eq!(state_bytes(&one), state_bytes(&four));
        prop_assert_eq!(four.save().unwrap(), again.save().unwrap());
        let ids = shop.product_ids();
        let keys = shop.customer_keys();
        prop_assert_eq!(answers(&one, &ids, &keys, None), answers(&four, &ids, &keys, None));
    }

    /// `ranking(r, limit)` is the first `limit` of the full ranking, ties by id as the contract says (the catalog
    /// is reversed so that interning order is not id order).
    #[test]
    fn ranking_limit_is_a_prefix(mut shop in shop_strategy(0..30, false)) {
        shop.products.reverse();
        let model = ClerkCore::new(Settings::default()).analysed(&shop.data());
        for r in RANKINGS {
            let all = model.ranking(r, 1000);
            for limit in 0..all.len() {
                prop_assert_eq!(&model.ranking(r, limit)[..], &all[..limit], "{:?} limit {}", r, limit);
            }
        }
    }

    /// Related lists do not depend on the order products were interned in (catalog order): ties at the `top_k`
    /// cut are broken by id, as `relations::rank` documents.
    #[test]
    fn related_lists_do_not_depend_on_catalog_order(shop in shop_strategy(MANY, false), settings in settings_strategy()) {
        let model = ClerkCore::new(settings.clone()).analysed(&shop.data());
        let mut reversed = shop.clone();
        reversed.products.reverse();
        let other = ClerkCore::new(settings).analysed(&reversed.data());
        for p in shop.product_ids() {
            for r in RELATIONS {
                let a: Vec<Arc<str>> = model.related(&p, r, 1000).into_iter().map(|s| s.id).collect();
                let b: Vec<Arc<str>> = other.related(&p, r, 1000).into_iter().map(|s| s.id).collect();
                prop_assert_eq!(a, b, "related({}, {:?})", p, r);
            }
        }
    }
}

/// On the synthetic shop (300 products, more than one block of the parallel pair counts): one thread and four
/// give the same state, bit for bit.
#[test]
fn shop_analysis_is_identical_for_one_and_four_threads() {
    let data = dataset(&shop().products, &shop().orders);
    let one = ClerkCore::new(Settings { threads: Some(1), ..Settings::default() }).analysed(&data);
    let four = ClerkCore::new(Settings { threads: Some(4), ..Settings::default() }).analysed(&data);
    assert!(one.read().state == four.read().state);
    assert_eq!(state_bytes(&one), state_bytes(&four));
    assert_eq!(state_bytes(&four), state_bytes(shop_model()), "default threads give the same state");
    assert!(one.stats().relations > 1000, "the shop is related: {:?}", one.stats());
}
