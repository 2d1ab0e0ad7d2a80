//! Tests of the synthetic shop: determinism, invariants, and that the planted signals are really in the data.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use super::*;
use crate::domain::{is_valid_attribute_name, Scalar};
use crate::store::MemoryStore;

fn small() -> &'static SyntheticShop {
    static SHOP: OnceLock<SyntheticShop> = OnceLock::new();
    SHOP.get_or_init(|| SyntheticShop::generate(&ShopConfig::small()))
}

/// Per-order product sets and per-product order indices, for the signal checks.
struct Index<'a> {
    shop: &'a SyntheticShop,
    baskets: Vec<HashSet<&'a str>>,
    orders_of: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(shop: &'a SyntheticShop) -> Self {
        let mut orders_of: HashMap<&str, Vec<usize>> = HashMap::new();
        let baskets: Vec<HashSet<&str>> =
            shop.orders.iter().map(|o| o.lines.iter().map(|l| l.product_id.as_str()).collect()).collect();
        for (k, b) in baskets.iter().enumerate() {
            for &p in b {
                orders_of.entry(p).or_default().push(k);
            }
        }
        Index { shop, baskets, orders_of }
    }

    fn orders(&self, p: &str) -> &[usize] {
        self.orders_of.get(p).map_or(&[], Vec::as_slice)
    }

    /// Registered buyers of `p`.
    fn buyers(&self, p: &str) -> BTreeSet<&'a str> {
        self.orders(p).iter().filter_map(|&k| self.shop.orders[k].customer_id.as_deref()).collect()
    }
}

#[test]
fn deterministic_for_a_seed() {
    let again = SyntheticShop::generate(&ShopConfig::small());
    assert!(again == *small(), "two shops from one config differ");
}

#[test]
fn another_seed_gives_another_shop() {
    let other = SyntheticShop::generate(&ShopConfig::small().with_seed(7));
    let shop = small();
    assert!(other.orders != shop.orders, "orders differ");
    assert!(other.truth != shop.truth, "truths differ");
    assert!(other.products != shop.products, "catalogs differ");
}

#[test]
fn records_are_well_formed() {
    let shop = small();
    let start = shop.config.start;
    let end = shop.end();
    let category_ids: BTreeSet<&str> = shop.categories.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(category_ids.len(), shop.categories.len(), "category ids are unique");
    for c in &shop.categories {
        assert!(c.parent.as_deref().is_none_or(|p| category_ids.contains(p)), "{c:?}");
    }
    let products: BTreeMap<&str, &Product> = shop.products.iter().map(|p| (p.id.as_str(), p)).collect();
    assert_eq!(products.len(), shop.products.len(), "product ids are unique");
    assert!((250..=350).contains(&shop.products.len()), "about 300 products: {}", shop.products.len());
    for p in &shop.products {
        assert!(!p.name.is_empty() && p.brand.is_some() && p.created_at.is_some());
        let price = p.price.expect("every product has a price");
        assert!(price.is_finite() && price > 0.0);
        assert!(p.list_price.is_none_or(|l| l >= price));
        assert!(p.categories.iter().all(|c| category_ids.contains(c.as_str())));
        assert!(p.in_stock == (p.stock != Some(0)));
        for (name, value) in &p.attributes {
            assert!(is_valid_attribute_name(name) && value.is_finite());
        }
        assert!(matches!(p.attributes.get("type"), Some(AttributeValue::Text(_))));
        assert!(matches!(p.attributes.get("size"), Some(AttributeValue::Text(_))));
        assert!(matches!(p.attributes.get("organic"), Some(AttributeValue::Bool(_))));
        assert!(
            matches!(p.attributes.get("tags"), Some(AttributeValue::List(t)) if t.iter().all(|s| matches!(s, Scalar::Text(_))))
        );
    }
    let hidden = shop.products.iter().filter(|p| !p.index).count() as f64 / shop.products.len() as f64;
    assert!((0.01..=0.03).contains(&hidden), "about 2% not indexable: {hidden}");

    let customers: BTreeSet<&str> = shop.customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(customers.len(), shop.config.customers, "customer ids are unique");
    let order_ids: BTreeSet<&str> = shop.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(order_ids.len(), shop.orders.len(), "order ids are unique");

    assert!(shop.orders.windows(2).all(|w| w[0].time <= w[1].time), "orders are sorted by time");
    for o in &shop.orders {
        assert!(!o.lines.is_empty(), "{} has no lines", o.id);
        assert!((start..end).contains(&o.time), "{} at {}", o.id, o.time);
        assert!(o.customer_id.as_deref().is_none_or(|c| customers.contains(c)));
        let distinct: BTreeSet<&str> = o.lines.iter().map(|l| l.product_id.as_str()).collect();
        assert_eq!(distinct.len(), o.lines.len(), "{} repeats a product", o.id);
        for l in &o.lines {
            let p = products.get(l.product_id.as_str()).unwrap_or_else(|| panic!("{} names {}", o.id, l.product_id));
            assert!(l.quantity > 0.0 && l.quantity.is_finite());
            assert_eq!(l.unit_price, p.price);
            assert!(p.created_at.is_some_and(|c| c <= o.time), "{} sold before it existed", p.id);
        }
    }
}

#[test]
fn orders_have_a_grocery_shape() {
    let shop = small();
    let n = shop.orders.len();
    assert!((2_000..=8_000).contains(&n), "a few thousand orders: {n}");
    let mut sizes: Vec<usize> = shop.orders.iter().map(|o| o.lines.len()).collect();
    sizes.sort_unstable();
    let mean = shop.order_lines() as f64 / n as f64;
    assert!((4..=6).contains(&sizes[n / 2]), "median basket {}", sizes[n / 2]);
    assert!((7.0..=11.0).contains(&mean), "mean basket {mean}");
    let email_only = shop.orders.iter().filter(|o| o.customer_id.is_none() && o.email.is_some()).count();
    let anonymous = shop.orders.iter().filter(|o| o.customer_id.is_none() && o.email.is_none()).count();
    let (email_only, anonymous) = (email_only as f64 / n as f64, anonymous as f64 / n as f64);
    assert!((0.04..=0.06).contains(&email_only), "email guests {email_only}");
    assert!((0.015..=0.025).contains(&anonymous), "anonymous {anonymous}");
    let lines: Vec<f64> = shop.orders.iter().flat_map(|o| o.lines.iter().map(|l| l.quantity)).collect();
    let small_qty = lines.iter().filter(|&&q| q <= 3.0).count() as f64 / lines.len() as f64;
    assert!(small_qty > 0.9, "quantities mostly 1-3: {small_qty}");
}

#[test]
fn truth_names_real_records() {
    let shop = small();
    let t = &shop.truth;
    let products: BTreeMap<&str, &Product> = shop.products.iter().map(|p| (p.id.as_str(), p)).collect();
    let department = |p: &str| -> String {
        let c = &products[p].categories[0];
        shop.categories.iter().find(|x| &x.id == c).and_then(|x| x.parent.clone()).unwrap()
    };
    assert!(!t.substitute_groups.is_empty() && !t.complementary_pairs.is_empty() && !t.sequences.is_empty());
    assert!(!t.repurchase.is_empty() && !t.seasonal.is_empty() && !t.new_products.is_empty());
    for g in &t.substitute_groups {
        assert!((3..=6).contains(&g.len()), "{g:?}");
        let first = products[g[0].as_str()];
        let brands: BTreeSet<_> = g.iter().map(|p| products[p.as_str()].brand.clone()).collect();
        assert_eq!(brands.len(), g.len(), "substitutes have different brands: {g:?}");
        for p in g {
            let p = products[p.as_str()];
            assert_eq!(p.categories, first.categories);
            assert_eq!(p.attributes.get("type"), first.attributes.get("type"));
            assert!(p.index && p.in_stock);
        }
    }
    for (a, b) in &t.complementary_pairs {
        assert_ne!(department(a), department(b), "a pair spans departments");
    }
    for (a, b) in &t.sequences {
        assert_ne!(products[a.as_str()].categories, products[b.as_str()].categories);
    }
    let mut seen = BTreeSet::new();
    for s in &t.segments {
        assert!(!s.signature_products.is_empty());
        for c in &s.customers {
            assert!(seen.insert(c.as_str()), "{c} is in two segments");
        }
    }
    assert_eq!(seen.len(), shop.customers.len(), "segments cover every customer");
    let customers: BTreeSet<&str> = shop.customers.iter().map(|c| c.id.as_str()).collect();
    for (c, p, cycle) in &t.repurchase {
        assert!(customers.contains(c.as_str()) && products.contains_key(p.as_str()) && *cycle >= 3);
    }
    assert_eq!(t.seasonal.len(), t.season_windows.len());
    for p in t.seasonal.iter().chain(&t.new_products).chain(t.sequences.iter().flat_map(|(a, b)| [a, b])) {
        assert!(products.contains_key(p.as_str()));
    }
}

#[test]
fn complements_join_the_basket() {
    let shop = small();
    let ix = Index::new(shop);
    let n = shop.orders.len() as f64;
    let (mut with_a, mut with_both, mut base) = (0usize, 0usize, 0.0);
    for (a, b) in &shop.truth.complementary_pairs {
        let orders_a = ix.orders(a);
        let both = orders_a.iter().filter(|&&k| ix.baskets[k].contains(b.as_str())).count();
        if orders_a.len() >= 20 {
            let p = both as f64 / orders_a.len() as f64;
            assert!(p > 0.35, "P({b} | {a}) = {p}");
        }
        with_a += orders_a.len();
        with_both += both;
        base += ix.orders(b).len() as f64 / n * orders_a.len() as f64;
    }
    let conditional = with_both as f64 / with_a as f64;
    let base_rate = base / with_a as f64;
    assert!(with_a > 200, "pairs are bought: {with_a}");
    assert!(conditional > 0.45 && conditional > 5.0 * base_rate, "P(b|a) {conditional} vs base {base_rate}");
}

#[test]
fn substitutes_share_buyers_but_not_baskets() {
    let shop = small();
    let ix = Index::new(shop);
    let n = shop.orders.len() as f64;
    let (mut observed, mut expected) = (0usize, 0.0);
    let (mut groups, mut shared) = (0, 0);
    let (mut loyal, mut repeat_buyers) = (0.0, 0);
    for g in &shop.truth.substitute_groups {
        for (i, a) in g.iter().enumerate() {
            for b in &g[i + 1..] {
                let sa: BTreeSet<usize> = ix.orders(a).iter().copied().collect();
                observed += ix.orders(b).iter().filter(|k| sa.contains(k)).count();
                expected += ix.orders(a).len() as f64 * ix.orders(b).len() as f64 / n;
            }
        }
        // Across the shop several members have buyers; each buyer mostly sticks to one.
        let bought: Vec<usize> = g.iter().map(|p| ix.buyers(p).len()).collect();
        if bought.iter().sum::<usize>() >= 20 {
            groups += 1;
            shared += usize::from(bought.iter().filter(|&&b| b >= 2).count() >= 2);
        }
        let mut per_customer: HashMap<&str, Vec<usize>> = HashMap::new();
        for (m, p) in g.iter().enumerate() {
            for &k in ix.orders(p) {
                if let Some(c) = shop.orders[k].customer_id.as_deref() {
                    per_customer.entry(c).or_insert_with(|| vec![0; g.len()])[m] += 1;
                }
            }
        }
        for counts in per_customer.values().filter(|c| c.iter().sum::<usize>() >= 4) {
            loyal += *counts.iter().max().unwrap() as f64 / counts.iter().sum::<usize>() as f64;
            repeat_buyers += 1;
        }
    }
    assert!(expected > 20.0, "groups are bought: {expected}");
    assert!((observed as f64) < 0.3 * expected, "substitutes co-occur {observed} times, chance {expected}");
    assert!(groups > 0 && shared * 10 >= groups * 7, "{shared} of {groups} groups have several members bought");
    let loyal = loyal / f64::from(repeat_buyers.max(1));
    assert!(repeat_buyers > 20 && loyal > 0.75, "buyers stick to a favourite: {loyal} over {repeat_buyers}");
}

#[test]
fn sequences_follow_within_the_window() {
    let shop = small();
    let ix = Index::new(shop);
    let window = i64::from(shop.truth.sequence_window_days) * DAY;
    let end = shop.end();
    let (mut buyers, mut followed, mut same_basket, mut a_orders) = (0, 0, 0, 0);
    for (a, b) in &shop.truth.sequences {
        let mut first: BTreeMap<&str, Timestamp> = BTreeMap::new();
        for &k in ix.orders(a) {
            a_orders += 1;
            same_basket += usize::from(ix.baskets[k].contains(b.as_str()));
            if let Some(c) = shop.orders[k].customer_id.as_deref() {
                first.entry(c).or_insert(shop.orders[k].time);
            }
        }
        for (c, t) in first {
            if t.secs() + window > end.secs() {
                continue;
            }
            buyers += 1;
            followed += usize::from(ix.orders(b).iter().any(|&k| {
                let o = &shop.orders[k];
                o.customer_id.as_deref() == Some(c) && o.time > t && o.time.secs() <= t.secs() + window
            }));
        }
    }
    assert!(buyers >= 50, "sequence heads are bought: {buyers}");
    let rate = followed as f64 / buyers as f64;
    assert!(rate > 0.6, "b follows a for {rate} of a's buyers");
    assert!((same_basket as f64) < 0.05 * a_orders as f64, "b shares a's basket {same_basket} of {a_orders} times");
}

#[test]
fn signature_products_belong_to_their_segment() {
    let shop = small();
    let ix = Index::new(shop);
    let segment_of: HashMap<&str, usize> = shop
        .truth
        .segments
        .iter()
        .enumerate()
        .flat_map(|(s, seg)| seg.customers.iter().map(move |c| (c.as_str(), s)))
        .collect();
    let (mut checked, mut first) = (0, 0);
    for (s, seg) in shop.truth.segments.iter().enumerate() {
        for p in &seg.signature_products {
            let buyers = ix.buyers(p);
            if buyers.len() < 5 {
                continue;
            }
            checked += 1;
            let rate = |t: usize| {
                let size = shop.truth.segments[t].customers.len().max(1) as f64;
                buyers.iter().filter(|c| segment_of[**c] == t).count() as f64 / size
            };
            let best = (0..shop.truth.segments.len()).max_by(|&x, &y| rate(x).total_cmp(&rate(y))).unwrap();
            first += usize::from(best == s);
        }
    }
    assert!(checked >= 10, "signature products are bought: {checked}");
    assert!(first * 10 >= checked * 9, "the own segment ranks first for {first} of {checked}");
}

#[test]
fn staples_are_rebought_on_their_cycle() {
    let shop = small();
    let mut times: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    for o in &shop.orders {
        if let Some(c) = o.customer_id.as_deref() {
            for l in &o.lines {
                times.entry((c, l.product_id.as_str())).or_default().push(o.time.secs());
            }
        }
    }
    let (mut checked, mut on_cycle) = (0, 0);
    for (c, p, cycle) in &shop.truth.repurchase {
        let Some(t) = times.get(&(c.as_str(), p.as_str())) else { continue };
        if t.len() < 3 {
            continue;
        }
        let mut gaps: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64 / DAY as f64).collect();
        gaps.sort_by(f64::total_cmp);
        let ratio = gaps[gaps.len() / 2] / f64::from(*cycle);
        checked += 1;
        on_cycle += usize::from((0.75..=1.6).contains(&ratio));
    }
    assert!(checked >= 100, "staples are re-bought: {checked}");
    assert!(on_cycle * 10 >= checked * 8, "{on_cycle} of {checked} staples follow their cycle");
}

#[test]
fn seasonal_products_sell_in_season() {
    let shop = small();
    let ix = Index::new(shop);
    let period = shop.end().secs() - shop.config.start.secs();
    let (mut inside, mut all) = (0, 0);
    for (p, (from, to)) in shop.truth.seasonal.iter().zip(&shop.truth.season_windows) {
        assert!(((to.secs() - from.secs()) as f64) < 0.4 * period as f64);
        for &k in ix.orders(p) {
            all += 1;
            inside += usize::from((*from..*to).contains(&shop.orders[k].time));
        }
    }
    assert!(all >= 50, "seasonal products sell: {all}");
    assert!(inside as f64 > 0.7 * all as f64, "{inside} of {all} seasonal sales in season");
}

#[test]
fn new_products_sell_after_launch() {
    let shop = small();
    let ix = Index::new(shop);
    let sold = shop.truth.new_products.iter().filter(|p| !ix.orders(p).is_empty()).count();
    assert!(sold * 2 >= shop.truth.new_products.len(), "{sold} of {} new products sell", shop.truth.new_products.len());
}

#[test]
fn loads_into_a_store() {
    let shop = small();
    futures::executor::block_on(async {
        let store = MemoryStore::new();
        shop.load_into(&store).await.unwrap();
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.products, shop.products.len());
        assert_eq!(counts.categories, shop.categories.len());
        assert_eq!(counts.customers, shop.customers.len());
        assert_eq!(counts.orders, shop.orders.len());
        assert_eq!(counts.order_lines, shop.order_lines());
        let last = shop.orders.last().unwrap();
        assert_eq!(store.order(&last.id).await.unwrap().as_ref(), Some(last));
        let data = crate::data::Dataset::from_store(&store).await.unwrap();
        assert_eq!(data.orders.len(), shop.orders.len());
        assert_eq!(data.products.len(), shop.products.len(), "orders name only catalog products");

        let moved = MemoryStore::new();
        let truth = shop.clone().into_store(&moved).await.unwrap();
        assert_eq!(truth, shop.truth);
        assert_eq!(moved.counts().await.unwrap(), counts);
    });
}

#[test]
fn configs_scale_the_grocery_shape() {
    let one = ShopConfig::scaled(1.0);
    assert_eq!((one.customers, one.products, one.days), (2_469, 68_000, 365));
    let four = ShopConfig::scaled(4.0);
    assert_eq!((four.customers, four.products), (9_876, 272_000));
    assert_eq!(ShopConfig::scaled(f64::NAN), one);
    let tiny = ShopConfig { customers: 3, products: 1, days: 2, ..ShopConfig::small() };
    let shop = SyntheticShop::generate(&tiny);
    assert_eq!(shop.customers.len(), 3);
    assert!(shop.orders.iter().all(|o| !o.lines.is_empty()));
}

fn describe(shop: &SyntheticShop) -> String {
    let lines = shop.order_lines();
    let mut sizes: Vec<usize> = shop.orders.iter().map(|o| o.lines.len()).collect();
    sizes.sort_unstable();
    format!(
        "{} categories, {} products, {} customers, {} orders, {} lines (median {}, mean {:.2}), {} substitute groups, \
         {} pairs, {} sequences, {} staples, {} seasonal",
        shop.categories.len(),
        shop.products.len(),
        shop.customers.len(),
        shop.orders.len(),
        lines,
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        lines as f64 / shop.orders.len().max(1) as f64,
        shop.truth.substitute_groups.len(),
        shop.truth.complementary_pairs.len(),
        shop.truth.sequences.len(),
        shop.truth.repurchase.len(),
        shop.truth.seasonal.len(),
    )
}

/// The generation time and shape of the default, 1x and 4x shops (release: `cargo test --release -- --ignored`).
#[test]
#[ignore = "generates large shops; run in release"]
fn generation_time_at_scale() {
    for (name, config) in
        [("default", ShopConfig::default()), ("1x", ShopConfig::scaled(1.0)), ("4x", ShopConfig::scaled(4.0))]
    {
        let started = std::time::Instant::now();
        let shop = SyntheticShop::generate(&config);
        println!("{name}: generated in {:.2?}: {}", started.elapsed(), describe(&shop));
        if name == "1x" {
            let orders = shop.orders.len() as f64;
            assert!((130_000.0..180_000.0).contains(&orders), "about 155k orders: {orders}");
        }
    }
}
