//! The crash test: a child process imports batches into a store and is killed mid-import; on reopening, the
//! store is consistent, every batch the child reported committed is there whole, and no batch is there in part.
//!
//! The child is this test binary itself, started again with `CLERK_SQLITE_CRASH_CHILD` set and filtered to
//! [`crash_child`] (which does nothing in a normal test run).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clerk_core::domain::{Order, OrderLine, Product, RecordKind, Timestamp};
use clerk_core::store::{DataStore, DataStoreExt, OrderCursor};
use clerk_sqlite::SqliteStore;
use futures::executor::block_on;
use futures::TryStreamExt;

const CHILD_ENV: &str = "CLERK_SQLITE_CRASH_CHILD";
const ORDERS_PER_BATCH: usize = 2000;
const LINES_PER_ORDER: usize = 8;
const PRODUCTS_PER_BATCH: usize = 50;

fn batch_orders(batch: usize) -> Vec<Order> {
    (0..ORDERS_PER_BATCH)
        .map(|i| {
            // Times out of write order, so the (time, seq) index is exercised.
            let time = Timestamp(((batch * ORDERS_PER_BATCH + i) * 7919 % 1_000_003) as i64);
            let mut o = Order::new(format!("b{batch}-o{i}"), Some(format!("c{}", i % 97)), time);
            o.lines = (0..LINES_PER_ORDER)
                .map(|l| OrderLine { product_id: format!("p{}", (i + l) % 500), quantity: 1.0, unit_price: Some(0.5) })
                .collect();
            o
        })
        .collect()
}

fn batch_products(batch: usize) -> Vec<Product> {
    (0..PRODUCTS_PER_BATCH).map(|i| Product::new(format!("b{batch}-p{i}"))).collect()
}

/// How many batches are stored, checking that none is there in part and that they run 0, 1, 2, ... without a gap.
async fn stored_batches(store: &SqliteStore) -> usize {
    let ids = store.ids(RecordKind::Order).await.unwrap();
    let mut per_batch = std::collections::BTreeMap::<usize, usize>::new();
    for id in &ids {
        let batch: usize = id[1..id.find('-').unwrap()].parse().unwrap();
        *per_batch.entry(batch).or_default() += 1;
    }
    let product_ids = store.ids(RecordKind::Product).await.unwrap();
    let mut products_per_batch = std::collections::BTreeMap::<usize, usize>::new();
    for id in &product_ids {
        let batch: usize = id[1..id.find('-').unwrap()].parse().unwrap();
        *products_per_batch.entry(batch).or_default() += 1;
    }
    for (batch, &n) in &per_batch {
        assert_eq!(n, ORDERS_PER_BATCH, "batch {batch} of orders is there in part");
    }
    for (batch, &n) in &products_per_batch {
        assert_eq!(n, PRODUCTS_PER_BATCH, "batch {batch} of products is there in part");
    }
    let batches = per_batch.len();
    assert!(per_batch.keys().copied().eq(0..batches), "batches are not contiguous: {:?}", per_batch.keys());
    // Products of a batch are written before its orders, so they may be one batch ahead.
    let product_batches = products_per_batch.len();
    assert!(product_batches == batches || product_batches == batches + 1, "{product_batches} vs {batches}");
    batches
}

/// The child: imports batches until killed (or, as a safety net, for at most a minute).
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let store = SqliteStore::open(&path).unwrap();
    block_on(async {
        let start = stored_batches(&store).await;
        let started = Instant::now();
        for batch in start.. {
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
            store.upsert_products(batch_products(batch)).await.unwrap();
            store.append_orders(batch_orders(batch)).await.unwrap();
            println!("committed {batch}");
        }
    });
}

/// Starts the child on `path`, lets it commit at least `min_batches` more batches, kills it at a moment that
/// varies from run to run, and returns the last batch it reported committed.
fn run_and_kill(path: &Path, min_batches: usize, round: u64) -> Option<usize> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last = None;
    let mut seen = 0;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("committed ") {
            last = Some(n.trim().parse::<usize>().unwrap());
            seen += 1;
            if seen >= min_batches {
                break;
            }
        }
    }
    // Somewhere inside the next batches: the child spends most of its time inside write transactions.
    let nanos = Instant::now().elapsed().subsec_nanos() as u64 ^ round.wrapping_mul(0x9e37_79b9);
    std::thread::sleep(Duration::from_millis(5 + nanos % 40));
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines printed before the kill and not read yet count as committed too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ") {
            last = Some(n.trim().parse::<usize>().unwrap());
        }
    }
    last
}

#[test]
fn a_killed_import_leaves_every_committed_batch_and_no_partial_one() {
    let dir = common::TempDir::new("crash");
    let path = dir.path().join("shop.db");
    let mut committed = None;
    for round in 0..5u64 {
        let last = run_and_kill(&path, 3, round).expect("the child reported no committed batch");
        assert!(committed.is_none_or(|c| last > c), "the child went backwards");
        committed = Some(last);

        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new(), "the store is not consistent after a crash");
        block_on(async {
            let batches = stored_batches(&store).await;
            // The batch in flight may have committed after the last report, never more than that one.
            assert!(batches == last + 1 || batches == last + 2, "{batches} batches stored, {last} reported");
            for batch in [0, last] {
                for o in batch_orders(batch).iter().step_by(199) {
                    assert_eq!(store.order(&o.id).await.unwrap().as_ref(), Some(o), "order {} lost", o.id);
                }
            }
            let counts = store.counts().await.unwrap();
            assert_eq!(counts.orders, batches * ORDERS_PER_BATCH);
            assert_eq!(counts.order_lines, batches * ORDERS_PER_BATCH * LINES_PER_ORDER);
            let all: Vec<Order> = store.order_stream(1000).try_collect().await.unwrap();
            assert_eq!(all.len(), counts.orders);
            assert!(all.windows(2).all(|w| w[0].time <= w[1].time));
            let position = store.change_position().await.unwrap();
            let changes = store.changes_since(0).await.unwrap();
            assert_eq!(changes.total(), position);
            assert_eq!(changes.orders_written as usize, counts.orders);
            let (written, _) = store.orders_written_after(0, 5).await.unwrap();
            assert_eq!(written.len(), 5);
            assert!(store.read_orders(OrderCursor::START, 10).await.unwrap().next.is_some());
        });
    }
}
