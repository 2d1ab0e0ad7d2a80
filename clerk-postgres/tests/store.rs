//! The PostgreSQL store against the `DataStore` contract on a throwaway server: the conformance suite, reconnecting,
//! several stores (as several processes would) on one database, clear errors for unreachable servers, and a
//! differential test against the reference `MemoryStore`.
//!
//! One `#[test]` starts one server and runs every scenario in turn (starting a cluster takes a few seconds).

#[path = "common/pg.rs"]
mod pg;

use clerk_core::domain::{Customer, Order, OrderLine, Product, RecordKind, Timestamp};
use clerk_core::store::conformance::{self, Op};
use clerk_core::store::{DataStore, OrderCursor, SavedAnalysis, StoreError};
use clerk_postgres::{PgError, PgStore, SCHEMA_VERSION};
use futures::executor::block_on;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn analysis(bytes: Vec<u8>) -> SavedAnalysis {
    SavedAnalysis { version: 0, model: "m".into(), format: 1, data_position: 0, created_at: Timestamp(0), bytes }
}

#[test]
fn postgres_store() {
    let Some(server) = pg::server_or_skip("postgres_store") else { return };
    conformance_and_reconnect(&server);
    shared_by_several_stores(&server);
    errors_are_clear(&server);
    works_inside_a_tokio_runtime(&server);
    behaves_like_the_memory_store(&server);
}

fn conformance_and_reconnect(server: &pg::PgServer) {
    server.create_database("conformance").unwrap();
    let url = server.url("conformance");
    let before = block_on(async {
        let store = PgStore::connect(&url).await.unwrap();
        conformance::run_all(&store).await.unwrap();
        assert!(store.check().await.unwrap().is_empty());
        (
            store.counts().await.unwrap(),
            store.change_position().await.unwrap(),
            store.changes_since(3).await.unwrap(),
            store.read_orders(OrderCursor::START, usize::MAX).await.unwrap(),
            store.load_analysis().await.unwrap(),
        )
    });
    block_on(async {
        let store = PgStore::connect(&url).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
        let after = (
            store.counts().await.unwrap(),
            store.change_position().await.unwrap(),
            store.changes_since(3).await.unwrap(),
            store.read_orders(OrderCursor::START, usize::MAX).await.unwrap(),
            store.load_analysis().await.unwrap(),
        );
        assert_eq!(after, before);
        assert_eq!(store.analysis_version().await.unwrap(), 2);
    });
}

fn shared_by_several_stores(server: &pg::PgServer) {
    server.create_database("shared").unwrap();
    let url = server.url("shared");
    let (a, b) = block_on(async { (PgStore::connect(&url).await.unwrap(), PgStore::connect(&url).await.unwrap()) });
    // Two writers on two threads: every position is taken once, none is lost.
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, store)| {
            std::thread::spawn(move || {
                block_on(async {
                    for batch in 0..20 {
                        let orders = (0..50)
                            .map(|i| {
                                let mut o = Order::new(format!("w{w}-{batch}-{i}"), None, Timestamp(i));
                                o.lines.push(OrderLine::new("p", 1.0));
                                o
                            })
                            .collect();
                        store.append_orders(orders).await.unwrap();
                        store.upsert_products(vec![Product::new(format!("w{w}-p{batch}"))]).await.unwrap();
                    }
                })
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    block_on(async {
        let position = a.change_position().await.unwrap();
        assert_eq!(position, 2 * 20 * 51);
        assert_eq!(b.counts().await.unwrap().orders, 2000);
        let (written, next) = b.orders_written_after(0, usize::MAX).await.unwrap();
        assert_eq!(written.len(), 2000);
        assert!(next <= position);
        assert_eq!(b.changes_since(0).await.unwrap().total(), position);
        assert!(a.check().await.unwrap().is_empty());
        // The newest analysis is seen by every store.
        a.save_analysis(analysis(vec![1])).await.unwrap();
        assert_eq!(b.save_analysis(analysis(vec![2])).await.unwrap(), 2);
        assert_eq!(a.analysis_version().await.unwrap(), 2);
        assert_eq!(a.load_analysis().await.unwrap().unwrap().bytes, vec![2]);
    });
}

fn errors_are_clear(server: &pg::PgServer) {
    block_on(async {
        // Nothing listens on this port.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = PgStore::connect(&format!("postgres://clerk@127.0.0.1:{port}/x")).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1 port {port}")), "{text}");
        match &err {
            StoreError::Backend { store: "postgres", source } => {
                assert!(matches!(source.downcast_ref::<PgError>(), Some(PgError::Connect { .. })), "{source:?}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
        // A database that does not exist.
        assert!(PgStore::connect(&server.url("no_such_database")).await.is_err());
        // A URL that is not one.
        match PgStore::connect("postgres://[bad").await {
            Err(StoreError::Backend { source, .. }) => {
                assert!(matches!(source.downcast_ref::<PgError>(), Some(PgError::Settings(_))));
            }
            other => panic!("expected a settings error, got {other:?}"),
        }
        // A NUL in an id is refused, not sent.
        server.create_database("errors").unwrap();
        let store = PgStore::connect(&server.url("errors")).await.unwrap();
        assert!(matches!(store.upsert_products(vec![Product::new("a\0b")]).await, Err(StoreError::Invalid(_))));
        // A database written by a newer build is refused.
        drop(store);
        server.psql("errors", &format!("UPDATE clerk_schema_version SET version = {}", SCHEMA_VERSION + 1)).unwrap();
        match PgStore::connect(&server.url("errors")).await {
            Err(StoreError::Backend { source, .. }) => {
                let e = source.downcast_ref::<PgError>().expect("a PgError");
                assert!(matches!(e, PgError::SchemaTooNew { .. }), "{e}");
            }
            other => panic!("expected a schema error, got {other:?}"),
        }
    });
}

/// A host on tokio awaits the store inside its runtime: the store's own runtime lives on its own threads.
fn works_inside_a_tokio_runtime(server: &pg::PgServer) {
    server.create_database("tokio").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = PgStore::connect(&server.url("tokio")).await.unwrap();
        store.upsert_products(vec![Product::new("p")]).await.unwrap();
        assert_eq!(store.ids(RecordKind::Product).await.unwrap(), vec!["p"]);
    });
}

// The differential test, as in clerk-sqlite: random operations give the same results as the reference store
// (`conformance::behaves_like_memory`).

fn id() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-e]{1,2}", 1 => "[a-zA-Z0-9_é✓ ]{1,8}"]
}

fn product() -> impl Strategy<Value = Product> {
    (id(), proptest::option::of(-1e6f64..1e6), ".{0,6}").prop_map(|(id, price, name)| Product {
        price,
        name: name.replace('\0', ""),
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

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(RecordKind::Product),
        Just(RecordKind::Customer),
        Just(RecordKind::Category),
        Just(RecordKind::Order)
    ];
    prop_oneof![
        3 => proptest::collection::vec(product(), 0..5).prop_map(Op::Products),
        1 => proptest::collection::vec(id().prop_map(Customer::new), 0..4).prop_map(Op::Customers),
        4 => proptest::collection::vec(order(), 0..6).prop_map(Op::Orders),
        2 => (kind, proptest::collection::vec(id(), 0..4)).prop_map(|(k, ids)| Op::Delete(k, ids)),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::Analysis),
    ]
}

fn behaves_like_the_memory_store(server: &pg::PgServer) {
    server.create_database("differential").unwrap();
    let url = server.url("differential");
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let strategy = (proptest::collection::vec(op(), 1..12), proptest::collection::vec(0u64..40, 1..4));
    runner
        .run(&strategy, |(ops, positions)| {
            block_on(async {
                let store = PgStore::connect(&url).await.unwrap();
                store.clone().drop_all().await.unwrap();
                let store = PgStore::connect(&url).await.unwrap();
                let compared = conformance::behaves_like_memory(&store, &ops, &positions).await;
                prop_assert!(compared.is_ok(), "{}", compared.unwrap_err());
                prop_assert!(store.check().await.unwrap().is_empty());
                Ok(())
            })
        })
        .unwrap();
}
