//! Fuzz target: the JSON feed importer (`JsonFeedImporter`, NDJSON and arrays) through the Core Importer into a
//! `MemoryStore`.
//!
//! Inputs: arbitrary bytes as each kind of feed; and structured feeds where valid records (`good-N`) sit among
//! hostile items: arbitrary text lines, valid records mutated byte-wise, wrong types, out-of-range times and
//! numbers, deep nesting, duplicate keys, deletions of absent ids.
//!
//! Asserts, for every input: no panic, the sync returns within the time bound and completes (the store never
//! fails here), the counts add up (nothing stored that the report does not count) and every good record beside
//! the hostile ones is stored as given. Cases: `CLERK_FUZZ_CASES` (default 256).

#[path = "fixtures/hostile/harness.rs"]
mod harness;

use std::sync::Arc;

use clerk::core::domain::{Order, Product, RecordKind, Timestamp};
use clerk::sync::{CoreImporter, JsonFeedImporter, Outcome, SyncMode, SyncReport};
use clerk::{DataStore, MemoryStore};
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::{json, Value};

/// 2024-06-01: the clock of every sync (times up to a day later are accepted).
const NOW: Timestamp = Timestamp(1_717_200_000);

const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\n",
    "\r\n",
    "null",
    "true",
    "NaN",
    "-1",
    "1e999",
    "\"id\":",
    "\"price\":",
    "\"lines\":",
    "\"time\":",
    "\"deleted\": true",
    "\"modified_at\":",
    "\\u0000",
    "\u{feff}",
    "[[[[[[[[",
    "🦀",
];

/// Syncs `importer` fully into a fresh store, on a bounded thread.
fn sync(importer: JsonFeedImporter) -> (SyncReport, Arc<MemoryStore>) {
    harness::bounded("JsonFeedImporter sync", move || {
        block_on(async move {
            let store = Arc::new(MemoryStore::new());
            let clock = Arc::new(|| NOW);
            let core = CoreImporter::new(store.clone()).with_clock(clock);
            let mut importer = importer;
            let report = core.sync(&mut importer, SyncMode::Full).await;
            (report, store)
        })
    })
}

/// What holds after any sync into a fresh store.
fn check_accounting(report: &SyncReport, store: &MemoryStore) {
    assert_eq!(report.outcome, Outcome::Completed, "{report}");
    let counts = block_on(store.counts()).expect("counts");
    assert!(counts.products as u64 <= report.stored.products, "{report}");
    assert!(counts.categories as u64 <= report.stored.categories, "{report}");
    assert!(counts.customers as u64 <= report.stored.customers, "{report}");
    assert!(counts.orders as u64 <= report.stored.orders, "{report}");
    for kind in RecordKind::ALL {
        let (read, stored, rejected) = (report.read.get(kind), report.stored.get(kind), report.rejected.get(kind));
        assert!(stored + rejected <= read, "{kind}: read {read}, stored {stored}, rejected {rejected}: {report}");
    }
    assert!(report.lines.stored + report.lines.rejected <= report.lines.read, "{report}");
}

fn good_product(i: usize) -> Value {
    json!({"id": format!("good-{i}"), "name": format!("Good {i}"), "price": i as f64 + 0.5, "categories": ["c1"],
           "attributes": {"size": "L", "n": 3}})
}

fn good_order(i: usize) -> Value {
    json!({"id": format!("good-{i}"), "customer_id": format!("cust-{}", i % 3), "time": "2024-05-01 10:00:00",
           "lines": [{"product_id": "p1", "quantity": 2}, {"product_id": format!("p{i}"), "unit_price": 1.5}]})
}

/// A hostile item (one JSON line, no newline inside) that never names a `good-` id.
fn hostile(kind: RecordKind) -> impl Strategy<Value = String> {
    let template = match kind {
        RecordKind::Order => good_order(0),
        _ => good_product(0),
    }
    .to_string()
    .replace("good-", "bad-");
    let wrong_types = prop_oneof![
        Just(json!({"id": "bad-1", "price": "cheap"})),
        Just(json!({"id": "bad-2", "price": -1})),
        Just(json!({"id": "bad-3", "price": 1e308, "list_price": -0.0})),
        Just(json!({"id": "bad-4", "stock": -5})),
        Just(json!({"id": "bad-5", "stock": 18_446_744_073_709_551_616u128.to_string()})),
        Just(json!({"id": "bad-6", "created_at": "9999-12-31 23:59:59"})),
        Just(json!({"id": "bad-7", "created_at": i64::MIN})),
        Just(json!({"id": "bad-8", "modified_at": "yesterday"})),
        Just(json!({"id": "bad-9", "deleted": "yes"})),
        Just(json!({"id": "bad-10", "deleted": true})),
        Just(json!({"id": "bad-11", "time": "2024-01-01", "lines": [{"product_id": "p", "quantity": -3}]})),
        Just(json!({"id": "bad-12", "time": "2024-01-01", "lines": [{"product_id": "p", "quantity": 1e300}]})),
        Just(json!({"id": "bad-13", "time": Timestamp::MAX.secs() + 1, "lines": []})),
        Just(json!({"id": "bad-14", "attributes": {"bad name": 1}})),
        Just(json!({"id": "bad-15", "attributes": {"x": [[1]]}})),
        Just(json!({"id": "", "name": "no id"})),
        Just(json!({"id": null})),
        Just(json!({"id": ["bad-16"]})),
        Just(json!(["bad-17"])),
        Just(json!(null)),
        Just(json!("bad-18")),
        Just(json!({"id": "bad-19", "unknown_field": 1})),
    ]
    .prop_map(|v| v.to_string());
    prop_oneof![
        3 => wrong_types,
        2 => "[^\n\r]{0,80}",
        3 => harness::mutations(5).prop_map(move |m| {
            let bytes = harness::mutate(template.clone().into_bytes(), &m, DICTIONARY);
            String::from_utf8_lossy(&bytes).replace(['\n', '\r'], " ").replace("good-", "bad-")
        }),
        1 => Just(format!("{}1{}", "[".repeat(5000), "]".repeat(5000))),
        1 => Just(format!("{{\"id\": \"bad-deep\", \"attributes\": {{\"a\": {}1{}}}}}", "[".repeat(200), "]".repeat(200))),
        1 => Just("{\"id\": \"bad-dup\", \"id\": \"bad-dup2\", \"price\": 1}".to_owned()),
    ]
}

/// Good items (by index) interleaved with hostile lines.
fn feed(kind: RecordKind) -> impl Strategy<Value = (Vec<Option<String>>, usize)> {
    proptest::collection::vec(proptest::option::weighted(0.6, hostile(kind)), 1..40).prop_map(|mut items| {
        // A feed whose first non-blank character is `[` is read as one array (documented), so an NDJSON line
        // may not start with one.
        for h in items.iter_mut().flatten() {
            if h.trim_start().starts_with('[') {
                h.insert(0, 'x');
            }
        }
        let goods = items.iter().filter(|i| i.is_none()).count();
        (items, goods)
    })
}

fn ndjson(items: &[Option<String>], good: fn(usize) -> Value) -> String {
    let mut g = 0;
    let mut out = String::new();
    for item in items {
        match item {
            Some(h) => out.push_str(h),
            None => {
                out.push_str(&good(g).to_string());
                g += 1;
            }
        }
        out.push('\n');
    }
    out
}

proptest! {
    #![proptest_config(harness::config())]

    #[test]
    fn arbitrary_bytes_as_any_feed(bytes in proptest::collection::vec(any::<u8>(), 0..1200), kind in 0usize..4) {
        let kind = RecordKind::ALL[kind];
        let importer = JsonFeedImporter::new("fuzz").feed(kind, clerk::sync::FeedSource::Bytes(Arc::from(bytes)));
        let (report, store) = sync(importer);
        check_accounting(&report, &store);
    }

    #[test]
    fn mutated_feeds(items in feed(RecordKind::Order), muts in harness::mutations(10), array in any::<bool>()) {
        let text = ndjson(&items.0, good_order);
        let text = if array { format!("[{}]", text.trim_end().replace('\n', ",")) } else { text };
        let bytes = harness::mutate(text.into_bytes(), &muts, DICTIONARY);
        let importer = JsonFeedImporter::new("fuzz")
            .orders(clerk::sync::FeedSource::Bytes(Arc::from(bytes.clone())))
            .products(clerk::sync::FeedSource::Bytes(Arc::from(bytes)));
        let (report, store) = sync(importer);
        check_accounting(&report, &store);
    }

    /// NDJSON: every good product beside hostile lines is stored, as given.
    #[test]
    fn good_products_beside_hostile_lines_are_stored((items, goods) in feed(RecordKind::Product)) {
        let text = ndjson(&items, good_product);
        let (report, store) = sync(JsonFeedImporter::new("fuzz").products(text.as_str()));
        check_accounting(&report, &store);
        for i in 0..goods {
            let stored = block_on(store.product(&format!("good-{i}"))).expect("read");
            let want: Product = serde_json::from_value(good_product(i)).expect("good product");
            prop_assert_eq!(stored.as_ref(), Some(&want), "{}\n{}", text, report);
        }
    }

    /// NDJSON: every good order beside hostile lines is stored with all its lines.
    #[test]
    fn good_orders_beside_hostile_lines_are_stored((items, goods) in feed(RecordKind::Order)) {
        let text = ndjson(&items, good_order);
        let (report, store) = sync(JsonFeedImporter::new("fuzz").orders(text.as_str()));
        check_accounting(&report, &store);
        for i in 0..goods {
            let stored = block_on(store.order(&format!("good-{i}"))).expect("read");
            let want: Order = serde_json::from_value(good_order(i)).expect("good order");
            prop_assert_eq!(stored.as_ref(), Some(&want), "{}\n{}", text, report);
        }
    }

    /// Arrays: items that are valid JSON but not valid records do not take the good ones down.
    #[test]
    fn good_products_beside_hostile_array_items_are_stored((items, goods) in feed(RecordKind::Product)) {
        let parts: Vec<String> = {
            let mut g = 0;
            items
                .iter()
                .filter_map(|item| match item {
                    // Only hostile items that are JSON values on their own (an array is one document).
                    Some(h) => serde_json::from_str::<Value>(h).ok().map(|v| v.to_string()),
                    None => {
                        g += 1;
                        Some(good_product(g - 1).to_string())
                    }
                })
                .collect()
        };
        let text = format!("[{}]", parts.join(",\n"));
        let (report, store) = sync(JsonFeedImporter::new("fuzz").products(text.as_str()));
        check_accounting(&report, &store);
        for i in 0..goods {
            let stored = block_on(store.product(&format!("good-{i}"))).expect("read");
            prop_assert!(stored.is_some(), "good-{} lost\n{}\n{}", i, text, report);
        }
    }
}

/// A Latin-1 (not UTF-8) line in an NDJSON feed must cost that line only: it is reported, and the good records
/// after it are stored.
///
/// A line that is not UTF-8 in an NDJSON feed is one malformed record; the records after it are stored
/// (regression: the reader used to stop at such a line).
#[test]
fn latin1_line_in_ndjson_costs_one_line() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(good_product(0).to_string().as_bytes());
    bytes.extend_from_slice(b"\n{\"id\": \"caf\xe9\", \"name\": \"Caf\xe9 cr\xe8me\"}\n");
    bytes.extend_from_slice(good_product(1).to_string().as_bytes());
    bytes.push(b'\n');
    let importer = JsonFeedImporter::new("latin1").products(clerk::sync::FeedSource::Bytes(Arc::from(bytes)));
    let (report, store) = sync(importer);
    check_accounting(&report, &store);
    assert!(block_on(store.product("good-0")).unwrap().is_some());
    assert!(
        block_on(store.product("good-1")).unwrap().is_some(),
        "the record after the Latin-1 line was lost: {report}"
    );
    assert_eq!(report.rejected.products, 1, "{report}");
}

/// Every rejected record was read: `read >= stored + rejected` for every kind.
///
/// A repeated whole order is read, then rejected as a duplicate (regression: it used to be counted rejected
/// but not read).
#[test]
fn duplicate_order_ids_are_counted_as_read() {
    let line = good_order(0).to_string();
    let (report, store) = sync(JsonFeedImporter::new("dup").orders(format!("{line}\n{line}\n")));
    check_accounting(&report, &store);
    assert_eq!((report.read.orders, report.stored.orders, report.rejected.orders), (2, 1, 1), "{report}");
}
