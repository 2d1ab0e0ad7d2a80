//! Fuzz target: the JSON request entry point (`Request::from_json`, `QueryEngine::handle_json_now` and
//! `Clerk::handle_json_now`) over a ClerkCore analysis of the small synthetic shop.
//!
//! Inputs: arbitrary text and bytes; structured requests (every `kind`, every field, with values drawn from
//! real ids, hostile ids, numbers at the edges, wrong types, nested junk); and those requests mutated byte-wise
//! (truncation, flips, repeats that nest deeply, JSON tokens inserted).
//!
//! Asserts, for every input: no panic (the entry point catches panics and reports `internal`, so an `internal`
//! error counts as a panic here, and the decoder and the engine are also called directly, outside the catch),
//! an answer within the time bound, always a JSON object that is either a response or `{"error": {"kind", ...}}`
//! with a documented kind; responses respect `limit`, have finite non-increasing scores and carry the analysis
//! version installed. Cases: `CLERK_FUZZ_CASES` (default 256).

#[path = "fixtures/hostile/harness.rs"]
mod harness;

use std::sync::{Arc, OnceLock};

use clerk::api::Request;
use clerk::core::domain::{Timestamp, DAY};
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::{Clerk, MemoryStore};
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

struct Fixture {
    shop: SyntheticShop,
    clerk: Clerk,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let shop = SyntheticShop::generate(&ShopConfig::small());
        let clerk = block_on(async {
            let store = Arc::new(MemoryStore::new());
            shop.load_into(&*store).await.expect("memory store");
            let clerk = Clerk::builder().store(store).build().await.expect("build");
            clerk.run_due(Timestamp(shop.end().secs() + DAY)).await.expect("first analysis");
            clerk
        });
        Fixture { shop, clerk }
    })
}

const KINDS: &[&str] = &[
    "alternatives",
    "complementary",
    "most_sold_with",
    "customer_picks",
    "customer_complementary",
    "customer_alternatives",
    "customer_discovery",
    "visitor",
    "popular",
    "trending",
    "new",
    "audience",
    "",
    "Popular",
];

const ERROR_KINDS: &[&str] = &["unknown_product", "unknown_customer", "malformed", "invalid_filter", "store", "model"];

const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "-1",
    "1e999",
    "0.5",
    "18446744073709551616",
    "\"kind\":",
    "\"limit\":",
    "\"products\":",
    "\"context\":",
    "[[[[[[[[",
    "{\"a\":",
    "\u{0}",
    "\u{feff}",
    "é",
    "🦀",
];

/// Checks one body through the three doors.
fn check(body: String) {
    let f = fixture();
    let version = f.clerk.engine().version();
    harness::bounded("handle_json", move || {
        let f = fixture();
        // 1. The decoder and the engine, outside any catch_unwind.
        if let Ok(request) = Request::from_json(&body) {
            match f.clerk.engine().query_now(&request) {
                Ok(r) => {
                    let max = request.limit;
                    assert!(r.items.len() <= max && r.customers.len() <= max, "more than limit {max}");
                    assert!(r.items.iter().all(|i| i.score.is_finite()), "non-finite score: {body}");
                    assert!(r.items.windows(2).all(|w| w[0].score >= w[1].score), "scores increase: {body}");
                    assert!(r.customers.iter().all(|c| c.score.is_finite()), "non-finite audience score: {body}");
                    assert_eq!(r.analysis_version, version);
                }
                Err(e) => assert!(ERROR_KINDS.contains(&e.kind()), "{body}: {e}"),
            }
        }
        // 2. The JSON entry points.
        for out in [f.clerk.engine().handle_json_now(&body), f.clerk.handle_json_now(&body)] {
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
            let o = v.as_object().unwrap_or_else(|| panic!("not an object: {out}"));
            match o.get("error") {
                Some(err) => {
                    let kind = err["kind"].as_str().unwrap_or_default();
                    assert!(ERROR_KINDS.contains(&kind), "error kind {kind:?} for {body:?}: {out}");
                    assert!(err["message"].is_string());
                }
                None => {
                    assert!(o["items"].is_array() && o["customers"].is_array(), "{out}");
                    assert_eq!(o["analysis_version"], json!(version));
                }
            }
        }
    });
}

/// Ids: real products and customers, and hostile ones.
fn id() -> impl Strategy<Value = Value> + Clone {
    let f = fixture();
    let products: Vec<String> = f.shop.products.iter().take(50).map(|p| p.id.clone()).collect();
    let customers: Vec<String> = f.shop.customers.iter().take(50).map(|c| c.id.clone()).collect();
    prop_oneof![
        4 => proptest::sample::select(products).prop_map(Value::from),
        2 => proptest::sample::select(customers).prop_map(Value::from),
        1 => "\\PC{0,20}".prop_map(Value::from),
        1 => Just(Value::from("\u{0}\u{1}\u{7f}")),
        1 => Just(Value::from("x".repeat(1025))),
        1 => Just(Value::from("")),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|n| json!(n)),
        1 => Just(Value::from("ALICE@Example.com ")),
    ]
}

fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn count() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..30).prop_map(Value::from),
        Just(json!(1000)),
        Just(json!(1001)),
        Just(json!(100_000)),
        Just(json!(1_000_000)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(2.5)),
        Just(json!("10")),
    ]
}

fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("2024-03-01")),
        Just(json!("1900-01-01 00:00:00")),
        Just(json!("1899-12-31 23:59:59")),
        Just(json!("9999-12-31 23:59:59")),
        Just(json!("9999-12-31T23:59:59-23:59")),
        Just(json!(Timestamp::MIN.secs())),
        Just(json!(Timestamp::MAX.secs())),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(-1.5e300)),
        "\\PC{0,20}".prop_map(Value::from),
    ]
}

fn filter() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("price < 20")),
        Just(json!("in_stock = true and categories in [1, 2]")),
        Just(json!("organic = true or not (price > 3)")),
        Just(json!("price >")),
        Just(json!("(".repeat(5000))),
        "\\PC{0,30}".prop_map(Value::from),
    ]
}

/// A request object: a kind and any of the fields, each with a likely-valid or hostile value.
fn request() -> impl Strategy<Value = Value> {
    let ids = || proptest::collection::vec(id(), 0..5).prop_map(Value::from);
    let context = (
        proptest::option::of(id()),
        proptest::option::of(ids()),
        proptest::option::of(ids()),
        proptest::option::of(ids()),
        proptest::option::of(junk()),
    )
        .prop_map(|(customer, viewed, basket, clicks, extra)| {
            let mut m = Map::new();
            for (k, v) in [("customer", customer), ("viewed", viewed), ("basket", basket), ("clicks", clicks)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            if let Some(x) = extra {
                m.insert("extra".into(), x);
            }
            Value::Object(m)
        });
    let window = (
        proptest::option::of(time()),
        proptest::option::of(time()),
        proptest::option::of(prop_oneof![Just(json!(30)), Just(json!(1e308)), Just(json!(-1)), Just(json!(0.0))]),
    )
        .prop_map(|(since, until, within)| {
            let mut m = Map::new();
            for (k, v) in [("since", since), ("until", until), ("within_days", within)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        });
    let segment = prop_oneof![
        Just(json!("interested")),
        Just(json!("purchased")),
        Just(json!("not_purchased")),
        Just(json!("nope")),
        Just(json!(1))
    ];
    let fields = (
        (
            proptest::sample::select(KINDS),
            proptest::option::of(ids()),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(segment),
            proptest::option::of(window),
        ),
        (
            proptest::option::of(count()),
            proptest::option::of(count()),
            proptest::option::of(ids()),
            proptest::option::of(filter()),
            proptest::option::of(context),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(time()),
            proptest::option::of(("[a-z]{1,6}", junk())),
        ),
    );
    fields.prop_map(
        |(
            (kind, products, customer, product, category, segment, window),
            (limit, offset, exclude, filter, context, data, fallback, at, extra),
        )| {
            let mut m = Map::new();
            m.insert("kind".into(), kind.into());
            let named = [
                ("products", products),
                ("customer", customer),
                ("product", product),
                ("category", category),
                ("segment", segment),
                ("window", window),
                ("limit", limit),
                ("offset", offset),
                ("exclude", exclude),
                ("filter", filter),
                ("context", context),
                ("include_product_data", data.map(Value::from)),
                ("allow_fallback", fallback.map(Value::from)),
                ("at", at),
            ];
            for (k, v) in named {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            Value::Object(m)
        },
    )
}

proptest! {
    #![proptest_config(harness::config())]

    #[test]
    fn arbitrary_text(body in "\\PC{0,400}") {
        check(body);
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn structured_requests(request in request()) {
        check(request.to_string());
    }

    #[test]
    fn mutated_requests(request in request(), muts in harness::mutations(6)) {
        let bytes = harness::mutate(request.to_string().into_bytes(), &muts, DICTIONARY);
        check(String::from_utf8_lossy(&bytes).into_owned());
    }
}

/// Inputs that would cost memory or stack without the documented bounds: a body over the size limit, nesting
/// far past serde_json's recursion limit, the largest lists and limits accepted, huge numbers.
#[test]
fn allocation_and_depth_bounds() {
    let f = fixture();
    let product = f.shop.products[0].id.clone();
    let many: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
    let bodies = [
        format!("{{\"kind\": \"popular\", \"filter\": \"{}\"}}", "x".repeat(2 << 20)),
        format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{{\"kind\": \"popular\", \"context\": {}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)),
        json!({"kind": "alternatives", "products": many, "limit": 1000, "offset": 100_000}).to_string(),
        json!({"kind": "complementary", "products": [product], "context": {"basket": many, "viewed": many}})
            .to_string(),
        json!({"kind": "audience", "product": product, "segment": "not_purchased", "limit": 1_000_000}).to_string(),
        json!({"kind": "popular", "limit": 1000, "offset": 100_000, "filter": "not (price > 1e308)"}).to_string(),
        format!("{{\"kind\": \"popular\", \"limit\": 1{}}}", "0".repeat(5000)),
        format!("{{\"kind\": \"popular\", \"limit\": 1e{}}}", "9".repeat(5000)),
        "\"\\ud800\"".to_owned(),
        "{\"kind\": \"popular\", \"kind\": \"audience\"}".to_owned(),
    ];
    for body in bodies {
        check(body);
    }
    let too_big = format!("{{\"kind\": \"popular\", \"filter\": \"{}\"}}", "x".repeat(2 << 20));
    let out = f.clerk.handle_json_now(&too_big);
    assert!(out.contains("\"malformed\""), "{}", &out[..out.len().min(200)]);
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(f.clerk.handle_json_now(&deep).contains("\"malformed\""));
}
