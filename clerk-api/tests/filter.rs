//! The filter language: parsing, errors with positions, semantics, and robustness on any input.

use clerk_api::filter::{CmpOp, Expr, Field, Filter, Value};
use clerk_core::domain::{AttributeValue, Product, Scalar, Timestamp};
use proptest::prelude::*;

fn product() -> Product {
    let mut p = Product::new("p1");
    p.name = "Red shoe".into();
    p.brand = Some("Acme".into());
    p.price = Some(150.0);
    p.categories = vec!["12".into(), "shoes".into()];
    p.stock = Some(3);
    p.created_at = Some(Timestamp::parse("2024-05-01").unwrap());
    p.attributes.insert("colour".into(), AttributeValue::Text("red".into()));
    p.attributes.insert(
        "sizes".into(),
        AttributeValue::List(vec![Scalar::Text("S".into()), Scalar::Text("M".into()), Scalar::Number(42.0)]),
    );
    p.attributes.insert("organic".into(), AttributeValue::Bool(true));
    p
}

fn holds(f: &str) -> bool {
    Filter::parse(f).unwrap_or_else(|e| panic!("{f}: {e}")).matches(&product())
}

#[test]
fn parses_into_a_typed_tree() {
    let f = Filter::parse("brand = 'Acme' and price > 100 and categories in [12, 14] and in_stock = true").unwrap();
    assert_eq!(
        f.expr(),
        &Expr::And(vec![
            Expr::Compare { field: Field::Brand, op: CmpOp::Eq, value: Value::Text("Acme".into()) },
            Expr::Compare { field: Field::Price, op: CmpOp::Gt, value: Value::Number(100.0) },
            Expr::In { field: Field::Categories, values: vec![Value::Number(12.0), Value::Number(14.0)] },
            Expr::Compare { field: Field::InStock, op: CmpOp::Eq, value: Value::Bool(true) },
        ])
    );
    assert!(f.matches(&product()));
}

#[test]
fn semantics() {
    for (f, want) in [
        ("brand = 'Acme' and price > 100 and categories in [12, 14] and in_stock = true", true),
        ("price >= 150 and price <= 150 and price != 151", true),
        ("price < 150", false),
        ("categories = 'shoes'", true),
        ("categories != 'shoes'", false),
        ("categories not in ['hats', 13]", true),
        ("colour = \"red\" and attributes.colour = 'red'", true),
        ("sizes = 'M' and sizes in [42] and sizes > 40", true),
        ("sizes = 'L'", false),
        ("organic = true and not organic = false", true),
        ("missing = 1", false),
        ("missing != 1", true),
        ("not (brand = 'Acme' or price > 1000)", false),
        ("brand = 'Other' or (stock > 2 and name = 'Red shoe')", true),
        ("created_at >= '2024-05-01' and created_at < '2024-05-02 00:00:00'", true),
        ("list_price > 0", false),
        ("id = 'p1' && index == true || stock = 0", true),
        ("price <> 150", false),
        ("categories in []", false),
    ] {
        assert_eq!(holds(f), want, "{f}");
    }
}

#[test]
fn products_without_a_record_have_only_an_id() {
    let f = Filter::parse("id = 'p9' and in_stock = true and index = true and price != 3").unwrap();
    assert!(f.matches_id("p9", None));
    assert!(!Filter::parse("price > 0").unwrap().matches_id("p9", None));
}

#[test]
fn errors_say_where_and_what_was_expected() {
    for (f, pos, expected) in [
        ("price >", 7, "a value after '>'"),
        ("price > 10 and", 14, "a condition, 'not' or '('"),
        ("brand = 'Acme", 13, "a closing ' for the string at 8"),
        ("(price > 1", 10, "')' to close the '(' at 0"),
        ("price 10", 6, "an operator (= != < <= > >= in) after 'price'"),
        ("price > 'cheap'", 8, "a number for price"),
        ("in_stock = 1", 11, "true or false for in_stock"),
        ("categories in 12", 14, "a list '[...]' after 'in'"),
        ("price > 1 price", 10, "'and', 'or' or the end of the filter"),
        ("created_at > 'yesterday'", 13, "a time such as '2024-05-01' or '2024-05-01 10:00:00' for created_at"),
        ("a = 1 ! b", 6, "'=' after '!'"),
        ("", 0, "a condition such as price > 10"),
        ("x = [1]", 4, "a single value after '=' (lists go with 'in')"),
        ("organic < true", 10, "a number or text (true/false only compare with = and !=) for attributes.organic"),
    ] {
        let e = Filter::parse(f).unwrap_err();
        assert_eq!((e.position, e.expected.as_str()), (pos, expected), "{f}: {e}");
    }
    assert_eq!(
        Filter::parse("price >").unwrap_err().to_string(),
        "expected a value after '>' at 7, found end of input"
    );
}

#[test]
fn hostile_input_is_bounded() {
    let deep = format!("{}price > 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Filter::parse(&deep).is_err());
    let nots = format!("{}price > 1", "not ".repeat(1000));
    assert!(Filter::parse(&nots).unwrap_err().expected.contains("levels of nesting"));
    let ok = format!("{}price > 1{}", "(".repeat(20), ")".repeat(20));
    assert!(Filter::parse(&ok).is_ok());
    let long = "price > 1 and ".repeat(1000);
    assert!(Filter::parse(&long).is_err());
    let list = format!("x in [{}]", vec!["1"; 2000].join(","));
    assert!(Filter::parse(&list).is_err());
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
        let _ = Filter::parse(&s);
    }

    #[test]
    fn never_panics_on_filter_like_text(s in "[a-z_. ()\\[\\],'\"0-9<>=!&|-]{0,120}") {
        if let Ok(f) = Filter::parse(&s) {
            let _ = f.matches(&product());
        }
    }

    #[test]
    fn printing_and_parsing_round_trips(
        field in prop::sample::select(vec!["price", "brand", "categories", "colour", "sizes", "stock"]),
        op in prop::sample::select(vec!["=", "!=", "<", ">=", "in"]),
        n in -1000.0f64..1000.0, text in "[a-zA-Z ']{0,8}", neg in any::<bool>(), or in any::<bool>(),
    ) {
        let value = match (field, op) {
            (_, "in") => format!("[{n}, 'x']"),
            ("price" | "stock", _) => format!("{n}"),
            _ => format!("'{}'", text.replace('\'', "\\'")),
        };
        let src = format!("{}{field} {op} {value} {} price > 1", if neg { "not " } else { "" }, if or { "or" } else { "and" });
        if let Ok(f) = Filter::parse(&src) {
            let again = Filter::parse(&f.to_string()).unwrap();
            prop_assert_eq!(f.expr(), again.expr());
        }
    }
}
