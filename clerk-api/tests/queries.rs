//! Every query kind against the fixed model: exact blends, exclusions, fallbacks and errors.
//!
//! Scores are computed by hand with the blend pinned in `common::blend()` (not the defaults) and the semantics
//! of e11d628: a relation list (`related`) adds its RAW scores times the weight (times the seed's weight); a
//! customer's affinity list is normalised by its top score first (`add`) or, as a re-ranking boost of
//! alternatives / most-sold-with, only raises items already listed. Seeds from a customer's history weigh
//! affinity / top affinity and use `history_together` / `history_next`. An item's reason is its largest part.
//! The fixed model (common::fixed): a Alt b 4, hidden 3, c 2; a BT x 10, y 5; a BN y 2, z 1; k BT x 1, z 1;
//! alice affinity x 3, a 1; carol z 1; bought by bob's similar customers y 4, x 2, hidden 1.8, c 1; popular x 100 a 90 b 80 y 70 z 60 c 50 k 40 hidden 30 d 20.
//! Pinned weights used below: together 1.0, next 0.3, alternative 0.9, basket 0.6, customer_affinity 0.5,
//! customer_boost 0.25, picks_history 1.0, picks_complementary 0.1, history_together 0.2, history_next 0.7,
//! discovery_similar 0.8, picks_similar 0.4, viewed 1.0, viewed_alternative 1.0, viewed_together 0.5, recency_decay 0.8, fallback_ceiling 0.5.

mod common;

use clerk_api::{Context, Fallback, Query, QueryError, Reason, Request, Response, Segment, Window};
use common::{blend, engine, t};
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
fn the_fixture_pins_its_blend() {
    let e = block_on(engine());
    assert_eq!(e.blend(), blend());
    assert_ne!(e.blend(), clerk_api::Blend::default(), "the pinned blend must not silently follow the defaults");
}

#[test]
fn alternatives_skip_non_indexable_and_fall_back_to_popular() {
    let r = run(Request::new(Query::Alternatives { products: products(&["a"]) }).limit(5));
    assert_eq!(
        scored(&r),
        vec![
            // Raw Alternative scores times alternative 0.9: b 4 * 0.9 = 3.6, (hidden 2.7 skipped), c 2 * 0.9 = 1.8.
            ("b".into(), 3.6, Reason::Alternative),
            ("c".into(), 1.8, Reason::Alternative),
            // cat1's best sellers: a (the query), b, c (listed), hidden (not indexable), then k, scaled below c:
            // 40 * (1.8 * 0.5 / 100) = 0.36.
            ("k".into(), 0.36, Reason::Popular),
            // Then overall best sellers, scaled below k: scale 0.36 * 0.5 / 100 = 0.0018; x 100 -> 0.18, y 70 -> 0.126.
            ("x".into(), 0.18, Reason::Popular),
            ("y".into(), 0.126, Reason::Popular),
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
    // together 1.0 * (x 10, y 5) + next 0.3 * (y 2, z 1): x 10; y 5 + 0.6 = 5.6 (together is its larger part);
    // z 0.3.
    assert_eq!(
        scored(&r),
        vec![
            ("x".into(), 10.0, Reason::BoughtTogether),
            ("y".into(), 5.6, Reason::BoughtTogether),
            ("z".into(), 0.3, Reason::BoughtNext),
        ]
    );
}

#[test]
fn complementary_uses_the_whole_basket_and_never_suggests_it() {
    let req = Request::new(Query::Complementary { products: products(&["a"]) })
        .context(Context::new().basket(["k"]))
        .allow_fallback(false);
    // a as above (x 10, y 5.6, z 0.3) plus basket k at basket 0.6 * together 1.0 * (x 1, z 1): x 10.6;
    // z 0.3 + 0.6 = 0.9 (together 0.6 is its larger part); y 5.6. Raw scores: k's weak partners add little.
    assert_eq!(
        scored(&run(req)),
        vec![
            ("x".into(), 10.6, Reason::BoughtTogether),
            ("y".into(), 5.6, Reason::BoughtTogether),
            ("z".into(), 0.9, Reason::BoughtTogether),
        ]
    );
    // The basket alone: next purchase given the basket. a at basket 0.6: x 6 (in the basket, excluded);
    // y 0.6 * 5 + 0.6 * 0.3 * 2 = 3 + 0.36 = 3.36 (together); z 0.6 * 0.3 * 1 = 0.18 (next). x has no lists.
    let req = Request::new(Query::Complementary { products: vec![] })
        .context(Context::new().basket(["a", "x"]))
        .allow_fallback(false);
    assert_eq!(
        scored(&run(req)),
        vec![("y".into(), 3.36, Reason::BoughtTogether), ("z".into(), 0.18, Reason::BoughtNext)]
    );
}

#[test]
fn complementary_adds_the_known_customer() {
    let req = Request::new(Query::Complementary { products: products(&["a"]) })
        .context(Context::new().customer("alice"))
        .allow_fallback(false);
    // alice's affinity is normalised by its top: x 3/3 = 1.0, a 1/3 (a is the query product, excluded), times
    // customer_affinity 0.5: x 10 + 0.5 = 10.5 (together 10 is its larger part); y 5.6; z 0.3.
    assert_eq!(
        scored(&run(req)),
        vec![
            ("x".into(), 10.5, Reason::BoughtTogether),
            ("y".into(), 5.6, Reason::BoughtTogether),
            ("z".into(), 0.3, Reason::BoughtNext),
        ]
    );
}

#[test]
fn most_sold_with_is_bought_together_only() {
    // Raw BoughtTogether scores at weight 1.0 (not a blend weight): x 10, y 5.
    let r = run(Request::new(Query::MostSoldWith { products: products(&["a"]) }).allow_fallback(false));
    assert_eq!(scored(&r), vec![("x".into(), 10.0, Reason::BoughtTogether), ("y".into(), 5.0, Reason::BoughtTogether)]);
}

#[test]
fn a_known_customer_boosts_most_sold_with_only_for_listed_items() {
    // alice's affinity normalised (x 1.0, a 1/3) times customer_boost 0.25 raises x to 10 + 0.25 = 10.25; a (the
    // query) stays out, nothing new is added, and the reason stays the relation's.
    let req = Request::new(Query::MostSoldWith { products: products(&["a"]) })
        .context(Context::new().customer("alice"))
        .allow_fallback(false);
    assert_eq!(
        scored(&run(req)),
        vec![("x".into(), 10.25, Reason::BoughtTogether), ("y".into(), 5.0, Reason::BoughtTogether)]
    );
}

#[test]
fn customer_picks_allow_repeats_and_add_complements() {
    let r = run(Request::new(Query::CustomerPicks { customer: "alice".into() }).allow_fallback(false));
    // History: affinity normalised times picks_history 1.0: x 1.0, a 1/3. The seeds x (1.0, no lists) and a (1/3)
    // are looked up as a set, without the seeds themselves; each relation's list is normalised and weighs its
    // share of picks_complementary 0.1 over history_together 0.2 + history_next 0.7 (+ history_customers 0):
    // together: a's (x 10 (a seed, out), y 5) / 3 -> y alone, normalised 1.0, times 0.1 * 0.2 / 0.9 = 0.0222;
    // next: a's (y 2, z 1) / 3 -> normalised y 1.0, z 0.5, times 0.1 * 0.7 / 0.9 = 0.0778: y 0.0778, z 0.0389.
    // x 1.0 and a 0.3333 (history); y 0.0222 + 0.0778 = 0.1 (next 0.0778 > together 0.0222); z 0.0389.
    assert_eq!(
        scored(&r),
        vec![
            ("x".into(), 1.0, Reason::History),
            ("a".into(), 0.3333, Reason::History),
            ("y".into(), 0.1, Reason::BoughtNext),
            ("z".into(), 0.0389, Reason::BoughtNext),
        ]
    );
}

#[test]
fn customer_complementary_excludes_what_they_bought() {
    let r = run(Request::new(Query::CustomerComplementary { customer: "alice".into() }).allow_fallback(false));
    // Seeds x (1.0, no lists) and a (1/3): history_together 0.2 * (x 10, y 5) / 3 = x 0.6667 (bought, excluded),
    // y 0.3333; history_next 0.7 * (y 2, z 1) / 3 = y 0.4667, z 0.2333. y 0.3333 + 0.4667 = 0.8 (next).
    assert_eq!(scored(&r), vec![("y".into(), 0.8, Reason::BoughtNext), ("z".into(), 0.2333, Reason::BoughtNext)]);
}

#[test]
fn discovery_comes_from_similar_customers_when_the_customer_has_them() {
    let r = run(Request::new(Query::CustomerComplementary { customer: "bob".into() }).allow_fallback(false));
    // bob bought y (excluded); similar customers' list normalised by its top (y 4) times discovery_similar 0.8:
    // x 2/4 * 0.8 = 0.4, c 1/4 * 0.8 = 0.2; hidden is not indexable.
    assert_eq!(
        scored(&r),
        vec![("x".into(), 0.4, Reason::SimilarCustomers), ("c".into(), 0.2, Reason::SimilarCustomers)]
    );
}

#[test]
fn picks_add_what_similar_customers_bought() {
    let r = run(Request::new(Query::CustomerPicks { customer: "bob".into() }).allow_fallback(false));
    // bob has no model affinity: the seed is y from the purchase index (weight 1.0, no lists), history 1.0.
    // Similar customers, normalised, times picks_similar 0.4: y 0.4 (adds to history, which stays its reason),
    // x 0.2, c 0.1.
    assert_eq!(
        scored(&r),
        vec![
            ("y".into(), 1.4, Reason::History),
            ("x".into(), 0.2, Reason::SimilarCustomers),
            ("c".into(), 0.1, Reason::SimilarCustomers)
        ]
    );
}

#[test]
fn customer_alternatives_are_substitutes_of_their_history() {
    let r = run(Request::new(Query::CustomerAlternatives { customer: "alice".into() }).allow_fallback(false));
    // Seed a (1/3) at alternative 0.9, weight 0.3: b 4 * 0.3 = 1.2, (hidden 0.9 skipped), c 2 * 0.3 = 0.6.
    assert_eq!(scored(&r), vec![("b".into(), 1.2, Reason::Alternative), ("c".into(), 0.6, Reason::Alternative)]);
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
    // Cold: the context counts fully (1.0). viewed a: viewed_alternative 1.0 * (b 4, hidden 3, c 2), viewed_together
    // 0.5 * (x 10, y 5) = x 5, y 2.5. Best four indexable: x 5, b 4, y 2.5, c 2.
    assert_eq!(
        scored(&r),
        vec![
            ("x".into(), 5.0, Reason::BoughtTogether),
            ("b".into(), 4.0, Reason::Alternative),
            ("y".into(), 2.5, Reason::BoughtTogether),
            ("c".into(), 2.0, Reason::Alternative),
        ]
    );
    assert_eq!(r.fallback, Some(Fallback::Context));
    let e = run_err(Request::new(Query::CustomerPicks { customer: "nobody".into() }).allow_fallback(false));
    assert!(matches!(e, QueryError::UnknownCustomer { id } if id == "nobody"));
}

#[test]
fn visitor_answers_from_context() {
    let req = Request::new(Query::Visitor).context(Context::new().basket(["a"])).allow_fallback(false);
    // Basket a at basket 0.6: together x 6, y 3; next 0.3 * 0.6 = 0.18 * (y 2, z 1) = y 0.36, z 0.18.
    assert_eq!(
        scored(&run(req)),
        vec![
            ("x".into(), 6.0, Reason::BoughtTogether),
            ("y".into(), 3.36, Reason::BoughtTogether),
            ("z".into(), 0.18, Reason::BoughtNext),
        ]
    );
    // More recent views weigh more: a viewed last counts 1.0, k before it recency_decay 0.8.
    let req = Request::new(Query::Visitor).context(Context::new().viewed(["k", "a"])).allow_fallback(false);
    let r = run(req);
    // a: b 4, c 2 (alternative 1.0), x 10 * 0.5 = 5, y 5 * 0.5 = 2.5 (together 0.5); k at 0.8: x, z 0.8 * 0.5 * 1
    // = 0.4. x 5.4; b 4; y 2.5; c 2; z 0.4.
    assert_eq!(
        scored(&r),
        vec![
            ("x".into(), 5.4, Reason::BoughtTogether),
            ("b".into(), 4.0, Reason::Alternative),
            ("y".into(), 2.5, Reason::BoughtTogether),
            ("c".into(), 2.0, Reason::Alternative),
            ("z".into(), 0.4, Reason::BoughtTogether),
        ]
    );
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
    // The answer is x 10, y 5.6, z 0.3: the second item is y (price 15).
    let req = Request::new(Query::Complementary { products: products(&["a"]) }).offset(1).limit(1).with_product_data();
    let r = run(req);
    assert_eq!(r.ids(), vec!["y"]);
    assert_eq!(r.items[0].product.as_ref().map(|p| p.price), Some(Some(15.0)));
    let e = run_err(Request::new(Query::Popular { category: None }).filter("price >"));
    assert!(matches!(e, QueryError::InvalidFilter { position: 7, .. }), "{e}");
}
