//! Fuzz target: the CSV importers with a column mapping (`CsvOrderImporter`, `CsvCatalogImporter`), plain and
//! gzip, through the Core Importer into a `MemoryStore`.
//!
//! Inputs: arbitrary bytes (also gzip-compressed, and gzip cut short) under fixed and random mappings (headers
//! present or not, other delimiters); structured files where good orders (`good-N`, rows together) and good
//! products sit among hostile rows: numbers that are not numbers, NaN and infinite values, negative and
//! overflowing quantities, times out of range, wrong field counts, non-UTF-8 cells, control characters, long
//! cells; and those files mutated byte-wise.
//!
//! Asserts, for every input: no panic, the sync returns within the time bound and completes, nothing is stored
//! that the report does not count, and every good order and product beside the hostile rows is stored as
//! given. Cases: `CLERK_FUZZ_CASES` (default 256).

#[path = "fixtures/hostile/harness.rs"]
mod harness;

use std::io::Write;
use std::sync::Arc;

use clerk::core::domain::{Order, OrderLine, Product, Timestamp};
use clerk::sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderMapping, ProductField, ProductMapping};
use clerk::sync::{CoreImporter, Importer, Outcome, SyncMode, SyncReport};
use clerk::{DataStore, MemoryStore};
use flate2::write::GzEncoder;
use flate2::Compression;
use futures::executor::block_on;
use proptest::prelude::*;

/// 2024-06-01: the clock of every sync.
const NOW: Timestamp = Timestamp(1_717_200_000);
const HEADER: &str = "order_id,customer_id,product_id,quantity,timestamp,price\n";
const DICTIONARY: &[&str] =
    &[",", ";", "\t", "\"", "\"\"", "\n", "\r\n", "\r", "NaN", "inf", "-1", "1e400", "\u{feff}", "\u{0}", "🦀"];

fn mapping() -> OrderMapping {
    OrderMapping::default_headers()
}

fn catalog_mapping() -> ProductMapping {
    ProductMapping::new("id")
        .column("name", ProductField::Name)
        .column("price", ProductField::Price)
        .column("category", ProductField::Category)
        .column("stock", ProductField::Stock)
        .column("in_stock", ProductField::InStock)
        .column("created_at", ProductField::CreatedAt)
        .attribute("size")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

fn sync(mut importer: Box<dyn Importer>) -> (SyncReport, Arc<MemoryStore>) {
    harness::bounded("CSV sync", move || {
        block_on(async move {
            let store = Arc::new(MemoryStore::new());
            let core = CoreImporter::new(store.clone()).with_clock(Arc::new(|| NOW));
            let report = core.sync(importer.as_mut(), SyncMode::Full).await;
            (report, store)
        })
    })
}

fn check_accounting(report: &SyncReport, store: &MemoryStore) {
    assert_eq!(report.outcome, Outcome::Completed, "{report}");
    let counts = block_on(store.counts()).expect("counts");
    assert!(counts.products as u64 <= report.stored.products, "{report}");
    assert!(counts.orders as u64 <= report.stored.orders, "{report}");
    assert!(report.stored.products + report.rejected.products <= report.read.products, "{report}");
    assert!(report.stored.orders <= report.read.orders, "{report}");
    assert!(report.lines.stored + report.lines.rejected <= report.lines.read, "{report}");
}

fn orders(bytes: Vec<u8>, mapping: OrderMapping) -> (SyncReport, Arc<MemoryStore>) {
    sync(Box::new(CsvOrderImporter::from_bytes("orders", bytes, mapping)))
}

fn good_rows(i: usize) -> String {
    format!("good-{i},c{},p1,2,2024-05-01 10:00:00,1.5\ngood-{i},c{},p{i},1,2024-05-01 10:00:00,\n", i % 3, i % 3)
}

fn good_order(i: usize) -> Order {
    let mut o = Order::new(format!("good-{i}"), Some(format!("c{}", i % 3)), Timestamp(1_714_557_600));
    o.lines = vec![
        OrderLine { product_id: "p1".into(), quantity: 2.0, unit_price: Some(1.5) },
        OrderLine { product_id: format!("p{i}"), quantity: 1.0, unit_price: None },
    ];
    o
}

/// One hostile row (bytes, ending in a newline), never of a `good-` order.
fn hostile_row() -> impl Strategy<Value = Vec<u8>> {
    let fixed = proptest::sample::select(vec![
        "bad-1,c1,p1,abc,2024-05-01 10:00:00,1\n",
        "bad-2,c1,p1,NaN,2024-05-01 10:00:00,1\n",
        "bad-3,c1,p1,inf,2024-05-01 10:00:00,1\n",
        "bad-4,c1,p1,-3,2024-05-01 10:00:00,1\n",
        "bad-5,c1,p1,1e400,2024-05-01 10:00:00,1\n",
        "bad-6,c1,p1,18446744073709551616,2024-05-01 10:00:00,1\n",
        "bad-7,c1,p1,1,2024-13-01 10:00:00,1\n",
        "bad-8,c1,p1,1,9999-12-31 23:59:59,1\n",
        "bad-9,c1,p1,1,1899-12-31 23:59:59,1\n",
        "bad-10,c1,p1,1,99999999999999999999,1\n",
        "bad-11,c1,p1,1,2024-05-01 10:00:00,NaN\n",
        "bad-12,c1,p1,1,2024-05-01 10:00:00,-1\n",
        "bad-13,c1,p1,1,2024-05-01 10:00:00,cheap\n",
        "bad-14,c1,p1\n",
        "bad-15,c1,p1,1,2024-05-01 10:00:00,1,extra\n",
        "\n",
        ",,,,,\n",
        "bad-16,,,1,2024-05-01 10:00:00,\n",
        "bad-17,\u{0}\u{7},p\u{202e}1,1,2024-05-01 10:00:00,1\n",
        "\"bad-18\",\"c\"\"1\",\"p,1\",\"1\",\"2024-05-01 10:00:00\",\"1\"\n",
    ])
    .prop_map(|s| s.as_bytes().to_vec());
    let latin1 = Just(b"bad-19,c1,caf\xe9,1,2024-05-01 10:00:00,1\n".to_vec());
    let latin1_id = Just(b"bad-\xff,c1,p1,1,2024-05-01 10:00:00,1\n".to_vec());
    let long = Just(format!("bad-20,c1,{},1,2024-05-01 10:00:00,1\n", "p".repeat(100_000)).into_bytes());
    let random = "[^\n\r\"]{0,60}".prop_map(|s| format!("bad-r{}\n", s.replace("good-", "bad-")).into_bytes());
    prop_oneof![6 => fixed, 1 => latin1, 1 => latin1_id, 1 => long, 2 => random]
}

fn order_file() -> impl Strategy<Value = (Vec<u8>, usize)> {
    proptest::collection::vec(proptest::option::weighted(0.5, hostile_row()), 1..30).prop_map(|items| {
        let mut out = HEADER.as_bytes().to_vec();
        let mut g = 0;
        for item in items {
            match item {
                Some(row) => out.extend_from_slice(&row),
                None => {
                    out.extend_from_slice(good_rows(g).as_bytes());
                    g += 1;
                }
            }
        }
        (out, g)
    })
}

fn random_mapping() -> impl Strategy<Value = OrderMapping> {
    let header = prop_oneof![
        Just("order_id".to_owned()),
        Just("product_id".to_owned()),
        Just("timestamp".to_owned()),
        Just("quantity".to_owned()),
        Just("price".to_owned()),
        Just("missing".to_owned()),
        "\\PC{0,6}",
    ];
    (
        header.clone(),
        header.clone(),
        header.clone(),
        proptest::option::of(header.clone()),
        proptest::option::of(header),
        any::<bool>(),
        prop_oneof![Just(b','), Just(b';'), Just(b'\t'), any::<u8>()],
    )
        .prop_map(|(o, p, t, q, price, total, delim)| {
            let mut m = OrderMapping::new(&o, &p, &t).delimiter(delim);
            if let Some(q) = q {
                m = m.quantity(&q);
            }
            if let Some(h) = price {
                m = if total { m.line_total(&h) } else { m.unit_price(&h) };
            }
            m
        })
}

proptest! {
    #![proptest_config(harness::config())]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500), gz in 0u8..3) {
        let mut with_header = HEADER.as_bytes().to_vec();
        with_header.extend_from_slice(&bytes);
        for input in [bytes.clone(), with_header] {
            let input = match gz {
                0 => input,
                1 => gzip(&input),
                _ => {
                    let z = gzip(&input);
                    z[..z.len() / 2].to_vec()
                }
            };
            let (report, store) = orders(input.clone(), mapping());
            check_accounting(&report, &store);
            let catalog = CsvCatalogImporter::from_bytes("catalog", input, catalog_mapping());
            let (report, store) = sync(Box::new(catalog));
            check_accounting(&report, &store);
        }
    }

    #[test]
    fn random_mappings((file, _) in order_file(), m in random_mapping()) {
        let (report, store) = orders(file, m);
        check_accounting(&report, &store);
    }

    #[test]
    fn mutated_files((file, _) in order_file(), muts in harness::mutations(10), gz in any::<bool>()) {
        let bytes = harness::mutate(file, &muts, DICTIONARY);
        let bytes = if gz { gzip(&bytes) } else { bytes };
        let (report, store) = orders(bytes, mapping());
        check_accounting(&report, &store);
    }

    /// Every good order beside hostile rows is stored with all its lines, from plain and gzip files.
    #[test]
    fn good_orders_beside_hostile_rows_are_stored((file, goods) in order_file(), gz in any::<bool>()) {
        let bytes = if gz { gzip(&file) } else { file.clone() };
        let (report, store) = orders(bytes, mapping());
        check_accounting(&report, &store);
        for i in 0..goods {
            let stored = block_on(store.order(&format!("good-{i}"))).expect("read");
            prop_assert_eq!(stored, Some(good_order(i)), "{}\n{}", String::from_utf8_lossy(&file), report);
        }
    }

    /// Every good product beside hostile catalog rows is stored as given.
    #[test]
    fn good_products_beside_hostile_rows_are_stored(
        rows in proptest::collection::vec(proptest::option::weighted(0.5, proptest::sample::select(vec![
            "bad-1,Bad,NaN,c1,1,yes,2024-01-01,L\n",
            "bad-2,Bad,-1,c1,1,yes,2024-01-01,L\n",
            "bad-3,Bad,1,c1,-1,yes,2024-01-01,L\n",
            "bad-4,Bad,1,c1,18446744073709551616,yes,2024-01-01,L\n",
            "bad-5,Bad,1,c1,1,maybe,2024-01-01,L\n",
            "bad-6,Bad,1,c1,1,yes,9999-12-31,L\n",
            "bad-7,Bad,1,c1,1,yes,yesterday,L\n",
            "bad-8,Bad,1e999,c1,1,yes,2024-01-01,L\n",
            ",No id,1,c1,1,yes,2024-01-01,L\n",
            "bad-9,Too,few\n",
            "bad-10,\u{0}\u{202e},1,c1,1,yes,2024-01-01,L\n",
        ])), 1..30)
    ) {
        let mut file = "id,name,price,category,stock,in_stock,created_at,size\n".to_owned();
        let mut goods = 0;
        for row in rows {
            match row {
                Some(r) => file.push_str(r),
                None => {
                    file.push_str(&format!("good-{goods},Good {goods},{goods}.25,c{},{goods},yes,2024-01-0{},M\n",
                        goods % 4, 1 + goods % 9));
                    goods += 1;
                }
            }
        }
        let (report, store) =
            sync(Box::new(CsvCatalogImporter::from_bytes("catalog", file.clone().into_bytes(), catalog_mapping())));
        check_accounting(&report, &store);
        for i in 0..goods {
            let p: Option<Product> = block_on(store.product(&format!("good-{i}"))).expect("read");
            let p = p.unwrap_or_else(|| panic!("good-{i} lost\n{file}\n{report}"));
            prop_assert_eq!(p.price, Some(i as f64 + 0.25));
            prop_assert_eq!(p.stock, Some(i as u64));
        }
    }
}
