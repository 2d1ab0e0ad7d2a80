//! Tests of ClerkCore: planted truth of the synthetic shop, contract properties, fold-in equivalence,
//! persistence, and the fresh model.
//!
//! The planted-truth checks run on [`ShopConfig::small`] in debug; the heavier ones are `#[ignore]`d and run in
//! release in CI (`cargo test --release -p clerk-core -- --ignored`).

mod fold_in;
mod fresh;
mod indexed;
mod persistence;
mod planted;
mod properties;

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;

use super::{ClerkCore, Settings};
use crate::data::Dataset;
use crate::domain::{AttributeValue, Order, OrderLine, Product, Timestamp, DAY};
use crate::model::{AudienceMember, IntentModel, Ranking, Relation, Scored};
use crate::synthetic::{ShopConfig, SyntheticShop};

pub(super) const RELATIONS: [Relation; 3] = [Relation::BoughtTogether, Relation::BoughtNext, Relation::Alternative];
pub(super) const RANKINGS: [Ranking; 3] = [Ranking::Popular, Ranking::Trending, Ranking::New];

/// Whether a test that reproduces a known bug should stop here. Such tests are `#[ignore = "bug: ..."]`; since CI
/// runs the ignored tests in release (`.ci/run`), they also skip with a reason unless `CLERK_KNOWN_BUGS` is set:
/// `CLERK_KNOWN_BUGS=1 cargo test -p clerk-core -- --ignored` shows them failing until the bug is fixed.
pub(super) fn skip_known_bug(test: &str) -> bool {
    let skip = std::env::var_os("CLERK_KNOWN_BUGS").is_none();
    if skip {
        eprintln!("{test}: skipped, reproduces a known bug (set CLERK_KNOWN_BUGS=1 to run it)");
    }
    skip
}

/// The small synthetic shop, generated once per test binary.
pub(super) fn shop() -> &'static SyntheticShop {
    static SHOP: OnceLock<SyntheticShop> = OnceLock::new();
    SHOP.get_or_init(|| SyntheticShop::generate(&ShopConfig::small()))
}

/// ClerkCore with default settings analysed on [`shop`], once per test binary.
pub(super) fn shop_model() -> &'static ClerkCore {
    static MODEL: OnceLock<ClerkCore> = OnceLock::new();
    MODEL.get_or_init(|| ClerkCore::new(Settings::default()).analysed(&dataset(&shop().products, &shop().orders)))
}

/// A dataset of `products` (catalog first) and `orders` (in the given, time, order).
pub(super) fn dataset(products: &[Product], orders: &[Order]) -> Dataset {
    let mut data = Dataset::new();
    for p in products {
        data.add_product(p.clone());
    }
    for o in orders {
        data.add_order(o);
    }
    data
}

/// Asserts that `scores` are finite, positive and sorted best first, ties by id.
pub(super) fn assert_ranked(what: &str, scores: &[(Arc<str>, f32)]) {
    for (id, s) in scores {
        assert!(s.is_finite() && *s > 0.0, "{what}: score of {id} is {s}");
    }
    for w in scores.windows(2) {
        let ((a, sa), (b, sb)) = (&w[0], &w[1]);
        assert!(sa > sb || (sa == sb && a < b), "{what}: {a} ({sa}) before {b} ({sb})");
    }
}

pub(super) fn pairs(v: &[Scored]) -> Vec<(Arc<str>, f32)> {
    v.iter().map(|s| (s.id.clone(), s.score)).collect()
}

pub(super) fn audience_pairs(v: &[AudienceMember]) -> Vec<(Arc<str>, f32)> {
    v.iter().map(|m| (m.customer.clone(), m.score)).collect()
}

/// Every look-up of `model` over `products` and `customers`, as plain data, for comparisons.
#[derive(Debug, PartialEq)]
pub(super) struct Answers {
    pub(super) related: Vec<Vec<Scored>>,
    pub(super) affinity: Vec<Vec<Scored>>,
    pub(super) audience: Vec<Vec<AudienceMember>>,
    pub(super) rankings: Vec<Vec<Scored>>,
}

pub(super) fn answers(
    model: &dyn IntentModel,
    products: &[String],
    customers: &[String],
    at: Option<Timestamp>,
) -> Answers {
    Answers {
        related: products.iter().flat_map(|p| RELATIONS.map(|r| model.related(p, r, 1000))).collect(),
        affinity: customers.iter().map(|c| model.customer_affinity(c, at, 1000)).collect(),
        audience: products.iter().map(|p| model.audience(p, at, 1000)).collect(),
        rankings: RANKINGS.iter().map(|&r| model.ranking(r, 1000)).collect(),
    }
}

/// A small random shop: a catalog (some products not indexable, a few `type`s, categories and brands, creation
/// times) and time-ordered orders of a few customers, guests and anonymous buyers.
#[derive(Clone, Debug)]
pub(super) struct Shop {
    pub(super) products: Vec<Product>,
    pub(super) orders: Vec<Order>,
}

impl Shop {
    pub(super) fn product_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.products.iter().map(|p| p.id.clone()).collect();
        for o in &self.orders {
            ids.extend(o.lines.iter().map(|l| l.product_id.clone()));
        }
        ids.sort();
        ids.dedup();
        ids
    }

    pub(super) fn customer_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.orders.iter().filter_map(Order::buyer_key).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    pub(super) fn non_indexable(&self) -> Vec<String> {
        self.products.iter().filter(|p| !p.index).map(|p| p.id.clone()).collect()
    }

    pub(super) fn data(&self) -> Dataset {
        dataset(&self.products, &self.orders)
    }
}

const T0: i64 = 1_700_000_000;

/// More non-empty orders than products (9 and `x` at most).
pub(super) const MANY: std::ops::Range<usize> = 11..40;

fn product_strategy(i: usize) -> impl Strategy<Value = Product> {
    (prop::bool::weighted(0.8), 0..4usize, 0..3usize, 0..3usize, prop::option::weighted(0.8, 0..60i64)).prop_map(
        move |(index, ty, cat, brand, created)| {
            let mut p = Product::new(format!("p{i:02}"));
            p.index = index;
            if ty < 3 {
                p.attributes.insert("type".into(), AttributeValue::Text(format!("t{ty}")));
            }
            p.categories = vec![format!("cat{cat}")];
            p.brand = Some(format!("b{brand}"));
            p.created_at = created.map(|d| Timestamp(T0 - d * DAY));
            p
        },
    )
}

/// Orders over `n_products` catalog products (and sometimes `x`, a product only orders know), times ascending
/// with ties, buyers among a few customers, an email guest and anonymous.
fn orders_strategy(
    n_products: usize,
    orders: std::ops::Range<usize>,
    allow_empty: bool,
) -> impl Strategy<Value = Vec<Order>> {
    let min_lines = usize::from(!allow_empty);
    let order = (0..4u32, 0..7usize, prop::collection::vec(0..n_products + 1, min_lines..6));
    prop::collection::vec(order, orders).prop_map(move |raw| {
        let mut t = T0;
        raw.into_iter()
            .enumerate()
            .map(|(k, (gap, buyer, lines))| {
                // Gaps of 0 (ties), hours, days, and weeks.
                t += [0, 3 * 3600, 4 * DAY, 15 * DAY][gap as usize];
                let mut o = Order::new(format!("o{k:03}"), None, Timestamp(t));
                match buyer {
                    0..=4 => o.customer_id = Some(format!("c{buyer}")),
                    5 => o.email = Some(" Guest@Example.com".into()),
                    _ => {}
                }
                o.lines = lines
                    .into_iter()
                    .map(|p| OrderLine::new(if p == n_products { "x".to_string() } else { format!("p{p:02}") }, 1.0))
                    .collect();
                o
            })
            .collect()
    })
}

/// Shops of 2 to 9 catalog products and a number of `orders` in the range.
///
/// `MANY` orders (and no empty order) is more orders than products: the workaround for the pair-count bug (see
/// `properties::pair_counts_match_a_naive_count`), which drops the pairs of product indices past the number of
/// orders.
pub(super) fn shop_strategy(orders: std::ops::Range<usize>, allow_empty: bool) -> impl Strategy<Value = Shop> {
    (2..10usize).prop_flat_map(move |n| {
        let products: Vec<_> = (0..n).map(product_strategy).collect();
        (products, orders_strategy(n, orders.clone(), allow_empty))
            .prop_map(|(products, orders)| Shop { products, orders })
    })
}

/// Settings that relate products on little data, with the affinity terms switched on or off.
pub(super) fn settings_strategy() -> impl Strategy<Value = Settings> {
    (1..6usize, 1..3u32, prop::sample::select(vec![0.0, 3.84]), prop::sample::select(vec![3.0, 14.0]), prop::bool::ANY)
        .prop_map(|(top_k, min_pair_count, min_llr, next_window_days, terms)| Settings {
            top_k,
            min_pair_count,
            min_llr,
            next_window_days,
            long_weight: if terms { 0.5 } else { 0.0 },
            repeat_prior_weight: if terms { 1.0 } else { 0.0 },
            due_weight: if terms { 1.0 } else { 0.0 },
            threads: Some(2),
            ..Settings::default()
        })
}
