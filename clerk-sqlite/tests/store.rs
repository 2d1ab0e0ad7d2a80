//! The SQLite store against the `DataStore` contract: the conformance suite, a differential test against the
//! reference `MemoryStore`, and persistence across reopening.

mod common;

use std::sync::Arc;

use clerk_core::domain::{Category, Customer, Order, OrderLine, Product, RecordKind, Timestamp};
use clerk_core::store::conformance::{self, Op};
use clerk_core::store::{DataStore, OrderCursor, StoreError};
use clerk_sqlite::{SqliteError, SqliteStore, SCHEMA_VERSION};
use futures::executor::block_on;
use proptest::prelude::*;

#[test]
fn passes_the_conformance_suite_in_a_file() {
    let dir = common::TempDir::new("conformance");
    let store = SqliteStore::open(dir.path().join("shop.db")).unwrap();
    block_on(conformance::run_all(&store)).unwrap();
    assert!(store.check().unwrap().is_empty(), "{:?}", store.check());
}

#[test]
fn passes_the_conformance_suite_in_memory_and_as_a_trait_object() {
    let store: Arc<dyn DataStore> = Arc::new(SqliteStore::in_memory().unwrap());
    block_on(conformance::run_all(store.as_ref())).unwrap();
}

#[test]
fn everything_survives_reopening() {
    let dir = common::TempDir::new("reopen");
    let path = dir.path().join("shop.db");
    let (counts, position, changes, ids, orders, analysis) = block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        conformance::run_all(&store).await.unwrap();
        let mut c = Customer::new("cu");
        c.name = "Ann".into();
        store.upsert_customers(vec![c]).await.unwrap();
        store.upsert_categories(vec![Category::new("cat", "Dairy")]).await.unwrap();
        (
            store.counts().await.unwrap(),
            store.change_position().await.unwrap(),
            store.changes_since(3).await.unwrap(),
            store.ids(RecordKind::Product).await.unwrap(),
            store.read_orders(OrderCursor::START, usize::MAX).await.unwrap(),
            store.load_analysis().await.unwrap(),
        )
    });
    block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.counts().await.unwrap(), counts);
        assert_eq!(store.change_position().await.unwrap(), position);
        assert_eq!(store.changes_since(3).await.unwrap(), changes);
        assert_eq!(store.ids(RecordKind::Product).await.unwrap(), ids);
        assert_eq!(store.read_orders(OrderCursor::START, usize::MAX).await.unwrap(), orders);
        assert_eq!(store.load_analysis().await.unwrap(), analysis);
        assert_eq!(store.analysis_version().await.unwrap(), 2);
        assert_eq!(store.customer("cu").await.unwrap().map(|c| c.name), Some("Ann".into()));
        assert!(store.check().unwrap().is_empty());
        // Writing goes on from the stored position.
        store.upsert_products(vec![Product::new("after")]).await.unwrap();
        assert_eq!(store.change_position().await.unwrap(), position + 1);
    });
}

#[test]
fn two_handles_on_one_file_see_each_others_writes() {
    let dir = common::TempDir::new("two");
    let path = dir.path().join("shop.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    block_on(async {
        a.upsert_products(vec![Product::new("x")]).await.unwrap();
        b.upsert_products(vec![Product::new("y")]).await.unwrap();
        assert_eq!(a.change_position().await.unwrap(), 2);
        assert_eq!(b.ids(RecordKind::Product).await.unwrap(), vec!["x", "y"]);
        a.save_analysis(conformance_analysis()).await.unwrap();
        assert_eq!(b.save_analysis(conformance_analysis()).await.unwrap(), 2);
        assert_eq!(a.analysis_version().await.unwrap(), 2);
    });
}

fn conformance_analysis() -> clerk_core::store::SavedAnalysis {
    clerk_core::store::SavedAnalysis {
        version: 0,
        model: "m".into(),
        format: 1,
        data_position: 0,
        created_at: Timestamp(0),
        bytes: vec![1],
    }
}

#[test]
fn bad_files_are_errors_not_panics() {
    let dir = common::TempDir::new("bad");
    // Not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
    assert!(matches!(SqliteStore::open(&junk), Err(StoreError::Backend { store: "sqlite", .. })));
    // A folder that does not exist.
    assert!(SqliteStore::open(dir.path().join("missing/sub/shop.db")).is_err());
    // A newer layout.
    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute("UPDATE schema_version SET version = ?1", [SCHEMA_VERSION + 1])
        .unwrap();
    match SqliteStore::open(&newer) {
        Err(StoreError::Backend { store: "sqlite", source }) => {
            let e = source.downcast_ref::<SqliteError>().expect("a SqliteError");
            assert!(matches!(e, SqliteError::SchemaTooNew { .. }), "{e}");
            assert!(e.to_string().contains("schema version"), "{e}");
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_corrupt_record_is_an_error_not_a_panic() {
    let dir = common::TempDir::new("corrupt");
    let path = dir.path().join("shop.db");
    let store = SqliteStore::open(&path).unwrap();
    block_on(async {
        store.upsert_products(vec![Product::new("p")]).await.unwrap();
        let mut o = Order::new("o", None, Timestamp(1));
        o.lines.push(OrderLine::new("p", 1.0));
        store.append_orders(vec![o]).await.unwrap();
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("UPDATE products SET data = x'c1ff'; UPDATE orders SET data = x'00';").unwrap();
    drop(conn);
    block_on(async {
        assert!(matches!(store.product("p").await, Err(StoreError::Backend { .. })));
        assert!(matches!(store.order("o").await, Err(StoreError::Backend { .. })));
        assert!(store.read_orders(OrderCursor::START, 10).await.is_err());
        assert!(store.products_page(None, 10).await.is_err());
        // Everything that does not decode records still works.
        assert_eq!(store.counts().await.unwrap().orders, 1);
        assert_eq!(store.ids(RecordKind::Order).await.unwrap(), vec!["o"]);
    });
}

// The differential test: random operations on the SQLite store and the reference store give the same results
// (`conformance::behaves_like_memory`).

fn id() -> impl Strategy<Value = String> {
    // A small id space, so that replacements and deletes of existing records happen often.
    prop_oneof![3 => "[a-e]{1,2}", 1 => "[a-zA-Z0-9_é✓ ]{1,8}"]
}

fn product() -> impl Strategy<Value = Product> {
    (id(), proptest::option::of(-1e6f64..1e6), ".{0,6}").prop_map(|(id, price, name)| Product {
        price,
        name,
        ..Product::new(id)
    })
}

fn order() -> impl Strategy<Value = Order> {
    (id(), proptest::option::of(id()), -5i64..5, proptest::collection::vec((id(), 0.001f64..100.0), 0..4)).prop_map(
        |(id, customer, time, lines)| {
            let mut o = Order::new(id, customer, Timestamp(time));
            o.lines = lines.into_iter().map(|(p, q)| OrderLine::new(p, q)).collect();
            o
        },
    )
}

fn kind() -> impl Strategy<Value = RecordKind> {
    prop_oneof![
        Just(RecordKind::Product),
        Just(RecordKind::Customer),
        Just(RecordKind::Category),
        Just(RecordKind::Order)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => proptest::collection::vec(product(), 0..5).prop_map(Op::Products),
        1 => proptest::collection::vec(id().prop_map(Customer::new), 0..4).prop_map(Op::Customers),
        4 => proptest::collection::vec(order(), 0..6).prop_map(Op::Orders),
        2 => (kind(), proptest::collection::vec(id(), 0..4)).prop_map(|(k, ids)| Op::Delete(k, ids)),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::Analysis),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_the_memory_store(ops in proptest::collection::vec(op(), 1..16), positions in proptest::collection::vec(0u64..40, 1..4)) {
        let sqlite = SqliteStore::in_memory().unwrap();
        let compared = block_on(conformance::behaves_like_memory(&sqlite, &ops, &positions));
        prop_assert!(compared.is_ok(), "{}", compared.unwrap_err());
        prop_assert!(sqlite.check().unwrap().is_empty());
    }
}
