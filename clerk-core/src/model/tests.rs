//! The contract of [`PopularityModel`], on a shop small enough to derive every answer by hand.

use super::*;
use crate::domain::{Product, DAY};

const T: i64 = 1_700_000_000;

fn product(id: &str, category: &str, index: bool, created_days_ago: i64) -> Product {
    let mut p = Product::new(id);
    p.categories = vec![category.into()];
    p.index = index;
    p.created_at = Some(Timestamp(T - created_days_ago * DAY));
    p
}

fn order(id: &str, customer: Option<&str>, day: i64, products: &[&str]) -> Order {
    let mut o = Order::new(id, customer.map(String::from), Timestamp(T + day * DAY));
    o.lines = products.iter().map(|p| crate::domain::OrderLine::new(*p, 1.0)).collect();
    o
}

/// `a` in 3 orders (twice in one: counts once), `b` in 2, `c` in 1, `hidden` (not indexable) in 4; `a`, `b`
/// and `hidden` in category `food`, `c` in `home`. Customer `c1` orders 3 times, `c2` twice, a guest once.
fn data() -> Dataset {
    let mut data = Dataset::new();
    data.add_product(product("a", "food", true, 100));
    data.add_product(product("b", "food", true, 10));
    data.add_product(product("c", "home", true, 1));
    data.add_product(product("hidden", "food", false, 0));
    let orders = [
        order("o1", Some("c1"), 0, &["a", "a", "hidden"]),
        order("o2", Some("c2"), 1, &["a", "b", "hidden"]),
        order("o3", Some("c1"), 40, &["a", "b", "hidden"]),
        order("o4", Some("c1"), 50, &["c", "hidden"]),
        order("o5", None, 51, &["b"]),
        order("o6", Some("c2"), 52, &["b"]),
    ];
    for o in &orders {
        data.add_order(o);
    }
    data
}

fn audience(m: &dyn IntentModel, product: &str) -> Vec<(String, f32)> {
    m.audience(product, None, 10).into_iter().map(|a| (a.customer.to_string(), a.score)).collect()
}

fn ids(v: &[Scored]) -> Vec<(&str, f32)> {
    v.iter().map(|s| (&*s.id, s.score)).collect()
}

fn analysed() -> Arc<dyn IntentModel> {
    PopularityModel::new().analyse(&data()).unwrap()
}

#[test]
fn popular_ranks_by_distinct_orders_without_hidden_products() {
    let m = analysed();
    assert_eq!(ids(&m.ranking(Ranking::Popular, 10)), [("b", 4.0), ("a", 3.0), ("c", 1.0)]);
    assert_eq!(ids(&m.ranking(Ranking::Popular, 2)), [("b", 4.0), ("a", 3.0)]);
    // Trending: orders in the last 28 days before the last order (day 52): o4, o5, o6 (and o3 at day 40).
    assert_eq!(ids(&m.ranking(Ranking::Trending, 10)), [("b", 3.0), ("a", 1.0), ("c", 1.0)]);
    // New: newest first, the hidden product (created last) left out.
    let new = m.ranking(Ranking::New, 10);
    assert_eq!(new.iter().map(|s| &*s.id).collect::<Vec<_>>(), ["c", "b", "a"]);
    assert!(new.windows(2).all(|w| w[0].score > w[1].score && w[1].score > 0.0));
    let stats = m.stats();
    assert_eq!((stats.products, stats.customers, stats.orders, stats.relations), (4, 2, 6, 0));
    assert_eq!(stats.reference_time, Some(Timestamp(T + 52 * DAY)));
}

#[test]
fn alternatives_are_best_sellers_of_the_same_category() {
    let m = analysed();
    assert_eq!(ids(&m.related("a", Relation::Alternative, 10)), [("b", 4.0)]);
    assert_eq!(ids(&m.related("b", Relation::Alternative, 10)), [("a", 3.0)]);
    assert!(m.related("c", Relation::Alternative, 10).is_empty(), "alone in its category");
    assert_eq!(ids(&m.related("hidden", Relation::Alternative, 10)), [("b", 4.0), ("a", 3.0)]);
    assert!(m.related("a", Relation::BoughtTogether, 10).is_empty());
    assert!(m.related("a", Relation::BoughtNext, 10).is_empty());
    assert!(m.related("unknown", Relation::Alternative, 10).is_empty());
}

#[test]
fn audience_is_the_most_active_customers() {
    let m = analysed();
    assert_eq!(audience(&*m, "c"), [("c1".into(), 3.0), ("c2".into(), 2.0)]);
    assert_eq!(m.audience("a", None, 1).len(), 1);
    assert!(m.audience("unknown", None, 10).is_empty());
    assert!(m.customer_affinity("c1", None, 10).is_empty(), "no personal affinity");
}

#[test]
fn save_and_load_round_trip() {
    let m = analysed();
    let bytes = m.save().unwrap();
    let loaded = PopularityModel::new().load(&bytes).unwrap();
    assert_eq!(loaded.save().unwrap(), bytes);
    assert_eq!(loaded.stats(), m.stats());
    for r in [Ranking::Popular, Ranking::Trending, Ranking::New] {
        assert_eq!(loaded.ranking(r, 10), m.ranking(r, 10));
    }
    assert_eq!(loaded.related("a", Relation::Alternative, 10), m.related("a", Relation::Alternative, 10));
    assert_eq!(loaded.audience("a", None, 10), m.audience("a", None, 10));
    assert!(PopularityModel::new().load(&bytes[..bytes.len() / 2]).is_err());
    assert!(PopularityModel::new().load(b"garbage").is_err());
}

#[test]
fn fold_in_updates_the_counts() {
    let m = analysed();
    let stats = m
        .fold_in(&[
            order("o7", Some("c3"), 53, &["c", "c", "new"]),
            order("o8", Some("c3"), 54, &["c"]),
            order("o9", Some("c1"), 55, &[]),
        ])
        .unwrap();
    assert_eq!((stats.orders, stats.skipped, stats.products_touched), (2, 1, 3));
    assert_eq!(ids(&m.ranking(Ranking::Popular, 10)), [("b", 4.0), ("a", 3.0), ("c", 3.0), ("new", 1.0)]);
    assert_eq!(audience(&*m, "c"), [("c1".into(), 3.0), ("c2".into(), 2.0), ("c3".into(), 2.0)]);
    let s = m.stats();
    assert_eq!((s.products, s.customers, s.orders), (5, 3, 8));
    assert_eq!(s.reference_time, Some(Timestamp(T + 54 * DAY)));
}

#[test]
fn a_fresh_popularity_model_answers_nothing() {
    let m = PopularityModel::new();
    assert!(m.ranking(Ranking::Popular, 10).is_empty());
    assert!(m.related("a", Relation::Alternative, 10).is_empty());
    assert!(m.audience("a", None, 10).is_empty());
    assert_eq!(m.stats(), ModelStats::default());
}
