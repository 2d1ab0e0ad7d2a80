//! Every query kind against the fixed model: exact blends, exclusions, fallbacks and errors.

mod common;

use clerk_api::{Context, Fallback, Query, QueryError, Reason, Request, Response, Segment, Window};
use common::{engine, t};
use futures::executor::block_on;

fn run(req: Request) -> Response {
    block_on(async { engine().await.query(req).await.unwrap() })
}

fn run_err(req: Request) -> QueryError {
    block_on(async { engine().await.query(req).await.unwrap_err() })
}

fn scored(r: &Response) -> Vec<(String, f32, Reason)> {
    r.items.iter().map(|i| (i.id.to_string(), (i.score * 1e4).round() / 1e4, i.reason)).collect()
}

fn products(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn alternatives_skip_non_indexable_and_fall_back_to_popular() {
    let r = run(Request::new(Query::Alternatives { products: products(&["a"]) }).limit(5));
    assert_eq!(
        scored(&r),
        vec![
            ("b".into(), 1.0, Reason::Alternative),
            ("c".into(), 0.5, Reason::Alternative),
            // cat1's best sellers: a (the query), b, c (listed), hidden (not indexable), then k, scaled below c.
            ("k".into(), 0.1, Reason::Popular),
            // Then overall best sellers, scaled below k.
            ("x".into(), 0.05, Reason::Popular),
            ("y".into(), 0.035, Reason::Popular),
        ]
    );
    assert_eq!(r.fallback, Some(Fallback::Category));
    assert_eq!(r.model, "fixed");
    let r = run(Request::new(Query::Alternatives { products: products(&["a"]) }).limit(2));
    assert_eq!(r.fallback, None);
}

#[test]
fn complementary_blends_together_and_next() {
    let r = run(Request::new(Query::Complementary { products: products(&["a"]) }).allow_fallback(false));
    assert_eq!(
        scored(&r),
        vec![
            ("y".into(), 1.2, Reason::BoughtNext),
            ("x".into(), 1.0, Reason::BoughtTogether),
            ("z".into(), 0.35, Reason::BoughtNext),
        ]
    );
}

#[test]
fn complementary_uses_the_whole_basket_and_never_suggests_it() {
    let req = Request::new(Query::Complementary { products: products(&["a"]) })
        .context(Context::new().basket(["k"]))
        .allow_fallback(false);
    assert_eq!(
        scored(&run(req)),
        vec![
            ("x".into(), 2.0, Reason::BoughtTogether),
            ("z".into(), 1.35, Reason::BoughtTogether),
            ("y".into(), 1.2, Reason::BoughtNext),
        ]
    );
    // The basket alone: next purchase given the basket.
    let req = Request::new(Query::Complementary { products: vec![] })
        .context(Context::new().basket(["a", "x"]))
        .allow_fallback(false);
    assert_eq!(scored(&run(req)), vec![("y".into(), 1.2, Reason::BoughtNext), ("z".into(), 0.35, Reason::BoughtNext)]);
}

#[test]
fn complementary_adds_the_known_customer() {
    let req = Request::new(Query::Complementary { products: products(&["a"]) })
        .context(Context::new().customer("alice"))
        .allow_fallback(false);
    // alice's affinity x=1.0, a=1/3 (a is the query product, excluded) at weight 0.5.
    assert_eq!(
        scored(&run(req)),
        vec![
            ("x".into(), 1.5, Reason::BoughtTogether),
            ("y".into(), 1.2, Reason::BoughtNext),
            ("z".into(), 0.35, Reason::BoughtNext),
        ]
    );
}

#[test]
fn most_sold_with_is_bought_together_only() {
    let r = run(Request::new(Query::MostSoldWith { products: products(&["a"]) }).allow_fallback(false));
    assert_eq!(scored(&r), vec![("x".into(), 1.0, Reason::BoughtTogether), ("y".into(), 0.5, Reason::BoughtTogether)]);
}

#[test]
fn customer_picks_allow_repeats_and_add_complements() {
    let r = run(Request::new(Query::CustomerPicks { customer: "alice".into() }).allow_fallback(false));
    assert_eq!(
        scored(&r),
        vec![
            ("x".into(), 1.1667, Reason::History),
            ("a".into(), 0.3333, Reason::History),
            ("y".into(), 0.2, Reason::BoughtNext),
            ("z".into(), 0.0583, Reason::BoughtNext),
        ]
    );
}

#[test]
fn customer_complementary_excludes_what_they_bought() {
    let r = run(Request::new(Query::CustomerComplementary { customer: "alice".into() }).allow_fallback(false));
    assert_eq!(scored(&r), vec![("y".into(), 0.4, Reason::BoughtNext), ("z".into(), 0.1167, Reason::BoughtNext)]);
}

#[test]
fn customer_alternatives_are_substitutes_of_their_history() {
    let r = run(Request::new(Query::CustomerAlternatives { customer: "alice".into() }).allow_fallback(false));
    assert_eq!(scored(&r), vec![("b".into(), 0.3333, Reason::Alternative), ("c".into(), 0.1667, Reason::Alternative)]);
}

#[test]
fn customers_are_found_by_email() {
    let r = run(Request::new(Query::CustomerPicks { customer: " CAROL@example.com".into() }).allow_fallback(false));
    assert_eq!(scored(&r), vec![("z".into(), 1.0, Reason::History)]);
    // alice placed an order with her email too.
    let r = run(Request::new(Query::CustomerAlternatives { customer: "alice@example.com".into() }).limit(1));
    assert_eq!(r.ids(), vec!["b"]);
}

#[test]
fn cold_customers_fall_back_to_context_then_popular() {
    let r = run(Request::new(Query::CustomerPicks { customer: "nobody".into() }).limit(3));
    assert_eq!(r.ids(), vec!["x", "a", "b"]);
    assert_eq!(r.fallback, Some(Fallback::Popular));
    let req =
        Request::new(Query::CustomerPicks { customer: "nobody".into() }).context(Context::new().viewed(["a"])).limit(4);
    let r = run(req);
    assert_eq!(
        scored(&r),
        vec![
            ("b".into(), 1.0, Reason::Alternative),
            ("c".into(), 0.5, Reason::Alternative),
            ("x".into(), 0.5, Reason::BoughtTogether),
            ("y".into(), 0.25, Reason::BoughtTogether),
        ]
    );
    assert_eq!(r.fallback, Some(Fallback::Context));
    let e = run_err(Request::new(Query::CustomerPicks { customer: "nobody".into() }).allow_fallback(false));
    assert!(matches!(e, QueryError::UnknownCustomer { id } if id == "nobody"));
}

#[test]
fn visitor_answers_from_context() {
    let req = Request::new(Query::Visitor).context(Context::new().basket(["a"])).allow_fallback(false);
    assert_eq!(
        scored(&run(req)),
        vec![
            ("y".into(), 1.2, Reason::BoughtNext),
            ("x".into(), 1.0, Reason::BoughtTogether),
            ("z".into(), 0.35, Reason::BoughtNext),
        ]
    );
    // More recent views weigh more: a viewed last counts 1.0, k before it 0.8.
    let req = Request::new(Query::Visitor).context(Context::new().viewed(["k", "a"])).allow_fallback(false);
    let r = run(req);
    // b 1.0; x 0.5 + 0.8 * 0.5 = 0.9; c 0.5; z 0.4; y 0.25.
    assert_eq!(r.ids(), vec!["b", "x", "c", "z", "y"]);
    // Nothing known: category of nothing, then popular.
    let r = run(Request::new(Query::Visitor).limit(2));
    assert_eq!((r.ids(), r.fallback), (vec!["x", "a"], Some(Fallback::Popular)));
}

#[test]
fn visitor_falls_back_to_the_category_of_what_was_viewed() {
    let r = run(Request::new(Query::Visitor).context(Context::new().viewed(["d"])).limit(2));
    assert_eq!(r.fallback, Some(Fallback::Category));
    assert_eq!(r.ids(), vec!["d", "x"]);
}

#[test]
fn popular_trending_and_new_inside_a_category() {
    let r = run(Request::new(Query::Popular { category: Some("cat2".into()) }));
    assert_eq!(r.ids(), vec!["x", "y", "z", "d"], "cat3 sits under cat2");
    assert!(r.items.iter().all(|i| i.reason == Reason::Popular));
    let r = run(Request::new(Query::Popular { category: None }).limit(100));
    assert!(!r.ids().contains(&"hidden"));
    let r = run(Request::new(Query::Trending { category: Some("cat1".into()) }).limit(2));
    assert_eq!((r.ids(), r.fallback), (vec!["a", "b"], Some(Fallback::Popular)));
    let r = run(Request::new(Query::Trending { category: None }).allow_fallback(false));
    assert!(r.items.is_empty());
    let r = run(Request::new(Query::New { category: None }));
    assert_eq!(scored(&r), vec![("d".into(), 1.0, Reason::New), ("z".into(), 0.5, Reason::New)]);
}

#[test]
fn audience_segments_and_windows() {
    let aud = |segment, window| Request::new(Query::Audience { product: "x".into(), segment, window });
    let r = run(aud(Segment::Interested, Window::default()));
    assert_eq!(r.customer_ids(), vec!["alice", "bob", "dave"]);
    assert_eq!(r.customers[0].last_purchase, Some(t("2024-03-20")));
    assert!(r.items.is_empty());
    let r = run(aud(Segment::Purchased, Window::default()));
    assert_eq!(r.customer_ids(), vec!["alice", "erin"]);
    assert_eq!(r.customers[0].score, 0.9);
    // The latest order is 2024-03-25: erin's 2023 purchase is outside 30 days.
    let w = Window { within_days: Some(30.0), ..Window::default() };
    let r = run(aud(Segment::Purchased, w));
    assert_eq!(r.customer_ids(), vec!["alice"]);
    let r = run(aud(Segment::NotPurchased, w));
    assert_eq!(r.customer_ids(), vec!["bob", "dave", "carol@example.com", "erin"]);
    assert_eq!(r.customers[3].last_purchase, Some(t("2023-01-01")));
    let r = run(aud(Segment::NotPurchased, Window::default()).exclude(["dave"]).limit(2));
    assert_eq!(r.customer_ids(), vec!["bob", "carol@example.com"]);
    let r = run(aud(Segment::NotPurchased, Window::default()).offset(1).limit(1));
    assert_eq!(r.customer_ids(), vec!["dave"]);
    let w = Window { since: Some(t("2024-03-10")), until: Some(t("2024-03-30")), within_days: None };
    let r = run(aud(Segment::Purchased, w));
    assert_eq!(r.customers[0].last_purchase, Some(t("2024-03-20")));
}

#[test]
fn unknown_products() {
    let e = run_err(Request::new(Query::Audience {
        product: "nope".into(),
        segment: Segment::Interested,
        window: Window::default(),
    }));
    assert!(matches!(e, QueryError::UnknownProduct { id } if id == "nope"));
    let e = run_err(Request::new(Query::Alternatives { products: products(&["nope"]) }).allow_fallback(false));
    assert!(matches!(e, QueryError::UnknownProduct { .. }));
    let r = run(Request::new(Query::Alternatives { products: products(&["nope"]) }).limit(2));
    assert_eq!((r.ids(), r.fallback), (vec!["x", "a"], Some(Fallback::Popular)));
}

#[test]
fn filter_exclude_offset_and_product_data() {
    let req =
        Request::new(Query::Complementary { products: products(&["a"]) }).filter("price > 10").allow_fallback(false);
    assert_eq!(run(req).ids(), vec!["y", "z"]);
    let req = Request::new(Query::Complementary { products: products(&["a"]) }).exclude(["y"]).allow_fallback(false);
    assert_eq!(run(req).ids(), vec!["x", "z"]);
    let req = Request::new(Query::Complementary { products: products(&["a"]) }).offset(1).limit(1).with_product_data();
    let r = run(req);
    assert_eq!(r.ids(), vec!["x"]);
    assert_eq!(r.items[0].product.as_ref().map(|p| p.price), Some(Some(5.0)));
    let e = run_err(Request::new(Query::Popular { category: None }).filter("price >"));
    assert!(matches!(e, QueryError::InvalidFilter { position: 7, .. }), "{e}");
}
