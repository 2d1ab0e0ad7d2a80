//! The JSON entry point: shapes, typed errors with paths, and no panic on any input.

mod common;

use clerk_api::{Query, QueryEngine, Request};
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::{json, Value};

fn engine() -> QueryEngine {
    block_on(common::engine())
}

fn call(e: &QueryEngine, body: &str) -> Value {
    let out = block_on(e.handle_json(body));
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("not JSON: {out}: {err}"))
}

#[test]
fn answers_with_the_documented_shape() {
    let e = engine();
    let v = call(
        &e,
        r#"{"kind": "complementary", "products": ["a"], "limit": 2, "include_product_data": true,
            "context": {"basket": ["k"], "customer": "alice"}, "filter": "price < 100"}"#,
    );
    assert_eq!(v["items"][0]["id"], "x");
    assert_eq!(v["items"][0]["reason"], "bought_together");
    assert_eq!(v["items"][0]["product"]["price"], 5.0);
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["customers"], json!([]));
    assert_eq!(v["analysis_version"], 0);
    assert_eq!(v["model"], "fixed");
    assert_eq!(v["fallback"], Value::Null);

    let v = call(&e, r#"{"kind": "popular", "limit": 1}"#);
    assert_eq!(v["items"], json!([{"id": "x", "score": 100.0, "reason": "popular"}]));

    let v = call(&e, r#"{"kind": "audience", "product": "x", "segment": "purchased", "window": {"within_days": 30}}"#);
    assert_eq!(
        v["customers"],
        json!([{"id": "alice", "score": 0.9, "reason": "purchased", "last_purchase": "2024-03-20 00:00:00"}])
    );

    let v = call(&e, r#"{"kind": "customer_discovery", "customer": "alice@example.com", "limit": 1}"#);
    assert_eq!(v["items"][0]["id"], "y");
    let v = call(&e, r#"{"kind": "alternatives", "products": [404], "limit": 1}"#);
    assert_eq!(v["fallback"], "popular");
}

#[test]
fn errors_are_typed_and_carry_the_path() {
    let e = engine();
    for (body, kind, path) in [
        ("", "malformed", ""),
        ("{", "malformed", ""),
        ("[]", "malformed", ""),
        (r#"{"products": ["a"]}"#, "malformed", "kind"),
        (r#"{"kind": "nope"}"#, "malformed", "kind"),
        (r#"{"kind": "alternatives"}"#, "malformed", "products"),
        (r#"{"kind": "alternatives", "products": ["a", 1.5]}"#, "malformed", "products[1]"),
        (r#"{"kind": "alternatives", "products": ["a"], "limit": -1}"#, "malformed", "limit"),
        (r#"{"kind": "alternatives", "products": ["a"], "limit": 100000}"#, "malformed", "limit"),
        (r#"{"kind": "popular", "customer": "a"}"#, "malformed", "customer"),
        (r#"{"kind": "popular", "colour": "red"}"#, "malformed", "colour"),
        (r#"{"kind": "visitor", "context": {"basket": "a"}}"#, "malformed", "context.basket"),
        (r#"{"kind": "visitor", "context": {"viewed": [""]}}"#, "malformed", "context.viewed[0]"),
        (r#"{"kind": "visitor", "context": {"cart": []}}"#, "malformed", "context.cart"),
        (r#"{"kind": "audience", "product": "x", "segment": "all"}"#, "malformed", "segment"),
        (
            r#"{"kind": "audience", "product": "x", "segment": "purchased", "window": {"since": "soon"}}"#,
            "malformed",
            "window.since",
        ),
        (r#"{"kind": "audience", "product": "x", "window": {"within_days": 3}}"#, "malformed", "window"),
        (r#"{"kind": "complementary", "products": []}"#, "malformed", "products"),
        (r#"{"kind": "popular", "at": true}"#, "malformed", "at"),
    ] {
        let v = call(&e, body);
        assert_eq!(v["error"]["kind"], kind, "{body}: {v}");
        assert_eq!(v["error"]["path"], path, "{body}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let v = call(&e, r#"{"kind": "popular", "filter": "price > 1 and (brand = 'x'"}"#);
    assert_eq!(v["error"]["kind"], "invalid_filter");
    assert_eq!(v["error"]["position"], 26);
    assert_eq!(v["error"]["expected"], "')' to close the '(' at 14");
    let v = call(&e, r#"{"kind": "audience", "product": "nope"}"#);
    assert_eq!(v["error"], json!({"kind": "unknown_product", "id": "nope", "message": "unknown product \"nope\""}));
    let v = call(&e, r#"{"kind": "customer_picks", "customer": "zed", "allow_fallback": false}"#);
    assert_eq!(v["error"]["kind"], "unknown_customer");
}

#[test]
fn requests_round_trip_through_json() {
    let req = Request::new(Query::Complementary { products: vec!["a".into()] })
        .limit(3)
        .offset(2)
        .exclude(["b"])
        .filter("price > 1")
        .context(clerk_api::Context::new().basket(["k"]).customer("alice"))
        .with_product_data()
        .allow_fallback(false)
        .at(common::t("2024-04-01"));
    let text = serde_json::to_string(&req).unwrap();
    assert_eq!(Request::from_json(&text).unwrap(), req);
    let back: Request = serde_json::from_str(&text).unwrap();
    assert_eq!(back, req);
}

fn valid_requests() -> Vec<&'static str> {
    vec![
        r#"{"kind": "alternatives", "products": ["a", "b"], "limit": 3, "offset": 1, "exclude": ["c"]}"#,
        r#"{"kind": "complementary", "products": [], "context": {"basket": ["a", "k"], "viewed": ["x"]}}"#,
        r#"{"kind": "most_sold_with", "products": ["a"], "filter": "price > 1 and brand != 'Acme'"}"#,
        r#"{"kind": "customer_picks", "customer": "alice", "at": "2024-04-01"}"#,
        r#"{"kind": "customer_alternatives", "customer": "bob", "include_product_data": true}"#,
        r#"{"kind": "visitor", "context": {"customer": "alice", "clicks": ["a"]}}"#,
        r#"{"kind": "trending", "category": "cat1", "allow_fallback": true}"#,
        r#"{"kind": "new", "category": null}"#,
        r#"{"kind": "audience", "product": "x", "segment": "not_purchased", "window": {"since": 0, "until": "2030-01-01"}}"#,
    ]
}

#[test]
fn valid_requests_answer() {
    let e = engine();
    for body in valid_requests() {
        let v = call(&e, body);
        assert!(v.get("error").is_none(), "{body}: {v}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        let e = engine();
        let v = call(&e, &s);
        prop_assert!(v.get("error").is_some() || v.get("items").is_some());
    }

    #[test]
    fn mutated_requests_never_panic(
        which in 0usize..9, cut in 0usize..200, pos in 0usize..200,
        insert in prop::sample::select(vec!["", "\"", "{", "]", "null", "-1", "1e400", "\"\\u0000\"", ",", "[[[[", "\"kind\":"]),
    ) {
        let e = engine();
        let base = valid_requests()[which];
        let mut s: String = base.chars().take(cut.max(pos)).collect();
        let p = pos.min(s.len());
        let p = (0..=p).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        s.insert_str(p, insert);
        s.push_str(&base.chars().skip(cut.max(pos) + 1).collect::<String>());
        let v = call(&e, &s);
        prop_assert!(v.get("error").is_some() || v.get("items").is_some());
    }

    #[test]
    fn field_values_of_any_type_never_panic(
        which in 0usize..9,
        field in prop::sample::select(vec!["kind", "products", "product", "customer", "limit", "offset", "exclude",
            "filter", "context", "window", "segment", "at", "category", "include_product_data", "allow_fallback"]),
        value in prop::sample::select(vec![json!(null), json!(-1), json!(1.5), json!(u64::MAX), json!("x"),
            json!(""), json!([]), json!([1, "a", null]), json!({}), json!({"basket": [1]}), json!(true)]),
    ) {
        let e = engine();
        let mut v: Value = serde_json::from_str(valid_requests()[which]).unwrap();
        v[field] = value;
        let out = call(&e, &v.to_string());
        prop_assert!(out.get("error").is_some() || out.get("items").is_some());
    }
}
