//! Every validation rule of the Core Importer, each with the reason and message it reports.

mod common;

use clerk_core::domain::{AttributeValue, Category, Customer, OrderLine, Product, RecordKind, Timestamp, DAY};
use clerk_core::DataStore;
use clerk_sync::validate::{check_category, check_customer, check_line, check_order, check_product, Rules};
use clerk_sync::{FlagReason, Location, Record, RejectReason, SourceError, SyncMode, VecImporter};
use common::{core, now, order};
use futures::executor::block_on;

fn rules() -> Rules {
    Rules::at(now())
}

fn reason_of_product(p: Product) -> RejectReason {
    check_product(&p, &rules()).expect_err("must be rejected").reason
}

#[test]
fn product_requires_an_id() {
    let issue = check_product(&Product::new(""), &rules()).unwrap_err();
    assert_eq!(issue.reason, RejectReason::MissingField);
    assert_eq!(issue.field, "id");
    assert_eq!(issue.message, "id is required");
    assert_eq!(reason_of_product(Product::new("  ")), RejectReason::MissingField);
}

#[test]
fn prices_must_not_be_negative_or_nan() {
    let p = Product { price: Some(-0.01), ..Product::new("p") };
    let issue = check_product(&p, &rules()).unwrap_err();
    assert_eq!((issue.reason, issue.field.as_str()), (RejectReason::NegativePrice, "price"));
    assert!(issue.message.contains("below 0"), "{}", issue.message);
    assert_eq!(reason_of_product(Product { list_price: Some(-1.0), ..Product::new("p") }), RejectReason::NegativePrice);
    assert_eq!(reason_of_product(Product { price: Some(f64::NAN), ..Product::new("p") }), RejectReason::NotFinite);
    assert!(check_product(&Product { price: Some(0.0), ..Product::new("p") }, &rules()).is_ok());
    let line = OrderLine { unit_price: Some(-2.0), ..OrderLine::new("p", 1.0) };
    assert_eq!(check_line(&line, 3).unwrap_err().field, "lines[3].unit_price");
}

#[test]
fn attribute_names_are_word_characters() {
    let mut p = Product::new("p");
    p.attributes.insert("colour name".into(), AttributeValue::from("red"));
    let issue = check_product(&p, &rules()).unwrap_err();
    assert_eq!(issue.reason, RejectReason::InvalidAttributeName);
    assert_eq!(issue.field, "attributes.colour name");
    let mut c = Customer::new("c");
    c.attributes.insert("ok_name_1".into(), AttributeValue::from(1.0));
    assert!(check_customer(&c).is_ok());
    c.attributes.insert("bad-name".into(), AttributeValue::from(1.0));
    assert_eq!(check_customer(&c).unwrap_err().reason, RejectReason::InvalidAttributeName);
    let mut p = Product::new("p");
    p.attributes.insert("size".into(), AttributeValue::Number(f64::INFINITY));
    assert_eq!(reason_of_product(p), RejectReason::NotFinite);
}

#[test]
fn quantity_must_be_positive() {
    for q in [0.0, -1.0] {
        let issue = check_line(&OrderLine::new("p", q), 0).unwrap_err();
        assert_eq!(issue.reason, RejectReason::QuantityNotPositive);
        assert_eq!(issue.field, "lines[0].quantity");
        assert!(issue.message.contains("not above 0"));
    }
    assert_eq!(check_line(&OrderLine::new("p", f64::NAN), 0).unwrap_err().reason, RejectReason::NotFinite);
    assert!(check_line(&OrderLine::new("p", 0.25), 0).is_ok());
    assert_eq!(check_line(&OrderLine::new("", 1.0), 1).unwrap_err().field, "lines[1].product_id");
}

#[test]
fn times_must_not_be_far_in_the_future() {
    let mut o = order("o", None, &[("p", 1.0)]);
    o.time = Timestamp(now().secs() + DAY - 1);
    assert!(check_order(&o, &rules()).is_ok(), "within the allowed day");
    o.time = Timestamp(now().secs() + 2 * DAY);
    let issue = check_order(&o, &rules()).unwrap_err();
    assert_eq!((issue.reason, issue.field.as_str()), (RejectReason::TimeInFuture, "time"));
    let p = Product { created_at: Some(Timestamp(now().secs() + 30 * DAY)), ..Product::new("p") };
    assert_eq!(reason_of_product(p), RejectReason::TimeInFuture);
}

#[test]
fn categories_need_a_name_and_no_self_parent() {
    assert_eq!(check_category(&Category::new("c", "")).unwrap_err().field, "name");
    let mut c = Category::new("c", "C");
    c.parent = Some("c".into());
    assert_eq!(check_category(&c).unwrap_err().reason, RejectReason::InvalidParent);
}

#[test]
fn empty_orders_are_rejected() {
    let issue = check_order(&order("o", None, &[]), &rules()).unwrap_err();
    assert_eq!((issue.reason, issue.message.as_str()), (RejectReason::EmptyOrder, "order has no lines"));
    let issue = check_order(&order("o", None, &[("p", 0.0)]), &rules()).unwrap_err();
    assert_eq!((issue.reason, issue.message.as_str()), (RejectReason::EmptyOrder, "every line was rejected"));
}

#[test]
fn the_core_importer_reports_every_rule_with_location_and_keeps_the_good_records() {
    block_on(async {
        let (core, store) = core();
        let mut bad_attr = Product::new("attr");
        bad_attr.attributes.insert("bad name".into(), AttributeValue::from("x"));
        let mut future = order("future", Some("c1"), &[("p1", 1.0)]);
        future.time = Timestamp(now().secs() + 10 * DAY);
        let mut importer = VecImporter::new("feed", &[RecordKind::Product, RecordKind::Customer, RecordKind::Order]);
        importer
            .push(Record::Product(Product::new("p1")))
            .push(Record::Product(Product::new("")))
            .push(Record::Product(Product { price: Some(-1.0), ..Product::new("neg") }))
            .push(Record::Product(bad_attr))
            .push(Record::Product(Product::new("p1")))
            .push(Record::Customer(Customer::new("c1")))
            .push(Record::Order(order("o1", Some("c1"), &[("p1", 1.0), ("p1", 0.0), ("ghost", 2.0)])))
            .push(Record::Order(order("o1", Some("c1"), &[("p1", 1.0)])))
            .push(Record::Order(order("o2", Some("stranger"), &[("p1", 1.0)])))
            .push(Record::Order(order("empty", None, &[])))
            .push(Record::Order(future))
            .push_error(
                SourceError::new(Location::source("feed"), RejectReason::Malformed, "bad row")
                    .of_kind(RecordKind::Order),
            );
        let report = core.sync(&mut importer, SyncMode::Incremental(clerk_sync::SyncCursor(String::new()))).await;
        assert!(report.succeeded(), "{report}");
        assert_eq!(report.rejected_for(RejectReason::MissingField), 1);
        assert_eq!(report.rejected_for(RejectReason::NegativePrice), 1);
        assert_eq!(report.rejected_for(RejectReason::InvalidAttributeName), 1);
        assert_eq!(report.rejected_for(RejectReason::DuplicateId), 2);
        assert_eq!(report.rejected_for(RejectReason::QuantityNotPositive), 1);
        assert_eq!(report.rejected_for(RejectReason::EmptyOrder), 1);
        assert_eq!(report.rejected_for(RejectReason::TimeInFuture), 1);
        assert_eq!(report.rejected_for(RejectReason::Malformed), 1);
        assert_eq!(report.flagged_for(FlagReason::UnknownProduct), 1);
        assert_eq!(report.flagged_for(FlagReason::UnknownCustomer), 1);
        // Examples carry the location, the id and a message.
        let dup = &report.rejections[&RejectReason::DuplicateId].examples;
        assert_eq!(dup[0].id, "p1");
        assert_eq!(dup[0].location.item, Some(4));
        assert!(dup[0].message.contains("appeared earlier"));
        let q = &report.rejections[&RejectReason::QuantityNotPositive].examples[0];
        assert_eq!(q.location.field.as_deref(), Some("lines[1].quantity"));
        // Good records are all stored; o1 keeps its two good lines.
        assert_eq!(store.ids(RecordKind::Product).await.unwrap(), vec!["p1".to_owned()]);
        assert_eq!(store.order("o1").await.unwrap().unwrap().lines.len(), 2);
        assert!(store.order("o2").await.unwrap().is_some(), "unknown customers are flagged, not rejected");
        assert!(store.order("empty").await.unwrap().is_none());
        assert_eq!(report.stored.orders, 2);
        assert_eq!(report.lines, clerk_sync::report::LineCounts { read: 6, stored: 3, rejected: 3 });
        let text = report.to_string();
        assert!(text.contains("rejected quantity_not_positive: 1"), "{text}");
    });
}

#[test]
fn reasons_and_reports_serialise_in_snake_case_and_round_trip() {
    assert_eq!(serde_json::to_string(&RejectReason::QuantityNotPositive).unwrap(), "\"quantity_not_positive\"");
    assert_eq!(serde_json::to_string(&FlagReason::UnknownProduct).unwrap(), "\"unknown_product\"");
    assert_eq!(RejectReason::EmptyOrder.to_string(), "empty_order");
    block_on(async {
        let (core, _) = core();
        let mut importer = VecImporter::new("feed", &[RecordKind::Order]).with([Record::Order(order(
            "o",
            Some("c"),
            &[("p", 1.0), ("p", -1.0)],
        ))]);
        let report = core.sync(&mut importer, SyncMode::Full).await;
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"quantity_not_positive\":{\"count\":1"), "{json}");
        let back: clerk_sync::SyncReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    });
    let loc = Location::line(&std::sync::Arc::from("orders.csv"), 12).with_field("quantity");
    assert_eq!(loc.to_string(), "orders.csv:12 (quantity)");
}
