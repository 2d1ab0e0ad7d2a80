//! Fuzz target: the filter expression parser (`Filter::parse`) and evaluation (`Filter::matches`).
//!
//! Inputs: arbitrary text, arbitrary bytes read lossily, and grammar-aware ones: valid expressions generated
//! from the grammar of `docs/filters.md` (random spacing, keyword case, aliases, quotes, escapes) and then
//! mutated (bytes deleted, flipped, duplicated, repeated, grammar tokens inserted, truncated).
//!
//! Asserts, for every input: no panic, an answer within the time bound, and either a filter or a typed
//! `FilterError` whose position lies inside the text (plus one, for "end of input"); a parsed filter evaluates
//! against hostile products without panicking and prints as text that parses back to the same tree. Cases:
//! `CLERK_FUZZ_CASES` (default 256; `CLERK_FUZZ_CASES=100000 cargo test --release --test fuzz_filter` for a
//! long run).

#[path = "fixtures/hostile/harness.rs"]
mod harness;

use std::sync::OnceLock;

use clerk::api::filter::{Filter, MAX_DEPTH, MAX_FILTER_LEN, MAX_LIST};
use clerk::core::domain::{AttributeValue, Product, Scalar, Timestamp};
use proptest::prelude::*;

const DICTIONARY: &[&str] = &[
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    ",",
    " in ",
    " not in ",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "'",
    "\"",
    "\\",
    "\\'",
    "price",
    "categories",
    "attributes.",
    "created_at",
    "'2024-05-01'",
    "1e308",
    "1e309",
    "-",
    "+",
    ".",
    "e",
    "true",
    "false",
    "\u{0}",
    "\u{202e}",
    "é",
    "🦀",
    "\n",
    "\t",
];

fn products() -> &'static [Product] {
    static P: OnceLock<Vec<Product>> = OnceLock::new();
    P.get_or_init(|| {
        let mut nan = Product::new("nan");
        nan.price = Some(f64::NAN);
        nan.list_price = Some(f64::INFINITY);
        nan.attributes.insert("size".into(), AttributeValue::Number(f64::NAN));
        nan.attributes.insert(
            "tags".into(),
            AttributeValue::List(vec![
                Scalar::Number(f64::NEG_INFINITY),
                Scalar::Text("12".into()),
                Scalar::Bool(true),
            ]),
        );
        let mut full = Product::new("p\u{0}1");
        full.name = "é🦀".repeat(100);
        full.brand = Some("Acme".into());
        full.price = Some(-0.0);
        full.categories = vec!["12".into(), "".into(), "1e400".into()];
        full.created_at = Some(Timestamp::MAX);
        full.stock = Some(u64::MAX);
        full.attributes.insert("colour".into(), AttributeValue::Text("red".into()));
        full.attributes.insert("organic".into(), AttributeValue::Bool(false));
        let mut old = Product::new("");
        old.created_at = Some(Timestamp::MIN);
        old.price = Some(f64::MAX);
        vec![Product::new("plain"), nan, full, old]
    })
}

/// Parses `text` on a bounded thread and checks what comes back.
fn check(text: String) {
    let len = text.len();
    let result = harness::bounded("Filter::parse", move || {
        let parsed = Filter::parse(&text);
        if let Ok(f) = &parsed {
            for p in products() {
                let _ = f.matches(p);
                let _ = f.matches_id(&p.id, None);
            }
            let printed = f.to_string();
            match Filter::parse(&printed) {
                Ok(again) => assert_eq!(again.expr(), f.expr(), "{text:?} printed as {printed:?} parses differently"),
                // Printing adds parentheses around every `and`/`or` group, so a filter at the nesting limit may
                // print one level deeper than it was written.
                Err(e) => assert!(e.expected.contains("levels of nesting"), "{text:?} printed as {printed:?}: {e}"),
            }
        }
        parsed.map(|_| ()).map_err(|e| (e.position, e.to_string()))
    });
    if let Err((position, message)) = result {
        assert!(position <= len + 1, "error position {position} beyond the text ({len} bytes): {message}");
        assert!(!message.is_empty());
    }
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_owned()),
        Just("name".to_owned()),
        Just("brand".to_owned()),
        Just("price".to_owned()),
        Just("list_price".to_owned()),
        Just("categories".to_owned()),
        Just("category".to_owned()),
        Just("in_stock".to_owned()),
        Just("stock".to_owned()),
        Just("created_at".to_owned()),
        Just("index".to_owned()),
        "[a-z_][a-z0-9_]{0,8}".prop_map(|a| format!("attributes.{a}")),
        "[a-z_][a-z0-9_]{0,8}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|n| format!("{n}")),
        any::<i64>().prop_map(|n| n.to_string()),
        (-1e6f64..1e6).prop_map(|n| format!("{n:e}")),
        "[ -~]{0,12}".prop_map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))),
        "\\PC{0,12}".prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))),
        Just("'2024-05-01'".to_owned()),
        Just("'2024-05-01 10:00:00'".to_owned()),
        Just("'9999-12-31 23:59:59'".to_owned()),
        Just("true".to_owned()),
        Just("FALSE".to_owned()),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    let op = prop_oneof![Just("="), Just("=="), Just("!="), Just("<>"), Just("<"), Just("<="), Just(">"), Just(">=")];
    prop_oneof![
        (field(), op, value()).prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        (field(), any::<bool>(), proptest::collection::vec(value(), 0..6), any::<bool>()).prop_map(
            |(f, not, vs, comma)| {
                let trailing = if comma && !vs.is_empty() { "," } else { "" };
                format!("{f} {}in [{}{trailing}]", if not { "not " } else { "" }, vs.join(", "))
            }
        ),
    ]
}

/// A filter that follows the grammar (its values may still be of the wrong kind for the field).
fn expression() -> impl Strategy<Value = String> {
    comparison().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), prop_oneof![Just(" and "), Just(" AND "), Just(" && ")])
                .prop_map(|(a, b, op)| format!("{a}{op}{b}")),
            (inner.clone(), inner.clone(), prop_oneof![Just(" or "), Just(" Or "), Just(" || ")])
                .prop_map(|(a, b, op)| format!("{a}{op}{b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.prop_map(|a| format!("( {a} )")),
        ]
    })
}

proptest! {
    #![proptest_config(harness::config())]

    #[test]
    fn arbitrary_text(text in "\\PC{0,300}") {
        check(text);
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn grammar_expressions(text in expression()) {
        check(text);
    }

    #[test]
    fn mutated_expressions(text in expression(), muts in harness::mutations(8)) {
        let bytes = harness::mutate(text.into_bytes(), &muts, DICTIONARY);
        check(String::from_utf8_lossy(&bytes).into_owned());
    }
}

/// The documented limits hold and come back as typed errors, quickly, whatever the shape of the input.
#[test]
fn limits_are_typed_errors() {
    let long = format!("price > 1 and {}", "x = 1 and ".repeat(MAX_FILTER_LEN / 10));
    let deep_parens = format!("{}price > 1{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
    let deep_not = format!("{}price > 1", "not ".repeat(MAX_DEPTH + 1));
    let open_parens = "(".repeat(MAX_FILTER_LEN);
    let big_list = format!("price in [{}]", vec!["1"; MAX_LIST + 1].join(","));
    for text in [long, deep_parens, deep_not, open_parens, big_list] {
        let shown = text.chars().take(40).collect::<String>();
        let err = harness::bounded("Filter::parse", move || Filter::parse(&text).map(|_| ()));
        assert!(err.is_err(), "{shown}... parsed");
    }
    // Right at the limits it parses.
    let at_depth = format!("{}price > 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(Filter::parse(&at_depth).is_ok());
    let at_list = format!("price in [{}]", vec!["1"; MAX_LIST].join(","));
    assert!(Filter::parse(&at_list).is_ok());
}

/// Regression inputs: numbers at the edges of `f64`, lone signs and dots, escapes at the end, multi-byte
/// characters where a token is expected, times out of range.
#[test]
fn regression_inputs() {
    for text in [
        "price > 1e308",
        "price > 1e309",
        "price > -",
        "price > .",
        "price > +.e-",
        "price > 1e",
        "price in [",
        "price in [1,",
        "name = 'abc\\",
        "name = \"\\x\"",
        "é = 1",
        "price 🦀 1",
        "created_at > '10000-01-01'",
        "created_at > '1899-12-31'",
        "created_at > 99999999999999999999",
        "not",
        "()",
        "not in [1]",
        "price not 1",
        "a.b.c.d = 1",
        "attributes. = 1",
        "&",
        "|",
        "!",
        "",
        "   ",
    ] {
        check(text.to_owned());
    }
}
