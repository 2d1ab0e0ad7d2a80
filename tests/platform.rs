//! The `Clerk` handle end to end on a small synthetic shop: provisional answers before the first analysis, the
//! first analysis by `run_due`, the analysis policy (fold-in for a few orders, full analysis after a big change,
//! a deletion or with age), a real-time order that changes a customer's picks, and a restart that loads the
//! saved analysis instead of analysing again.

use std::sync::{Arc, OnceLock};

use clerk::api::{Fallback, Query, Request};
use clerk::core::domain::{Order, OrderLine, RecordKind, Timestamp, DAY};
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::platform::{Action, AnalysisPolicy, Clerk, ClerkError, Why, PROVISIONAL_MODEL};
use clerk::sync::{Clock, RealtimeUpdate, Record, VecImporter};
use clerk::{DataStore, MemoryStore};
use futures::executor::block_on;

fn shop() -> &'static SyntheticShop {
    static SHOP: OnceLock<SyntheticShop> = OnceLock::new();
    SHOP.get_or_init(|| SyntheticShop::generate(&ShopConfig::small()))
}

/// A month after the shop's last order.
fn now() -> Timestamp {
    Timestamp(shop().end().secs() + 30 * DAY)
}

fn clock() -> Clock {
    let t = now();
    Arc::new(move || t)
}

fn importer() -> VecImporter {
    let s = shop();
    let records = s
        .categories
        .iter()
        .cloned()
        .map(Record::Category)
        .chain(s.products.iter().cloned().map(Record::Product))
        .chain(s.customers.iter().cloned().map(Record::Customer))
        .chain(s.orders.iter().cloned().map(Record::Order));
    VecImporter::new("shop", &[RecordKind::Category, RecordKind::Product, RecordKind::Customer, RecordKind::Order])
        .with(records)
}

async fn loaded_store() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    shop().load_into(&*store).await.expect("memory store");
    store
}

fn alternatives_of_a_substitute() -> Request {
    let p = shop().truth.substitute_groups[0][0].clone();
    Request::new(Query::Alternatives { products: vec![p] }).limit(3)
}

fn order(id: &str, customer: &str, time: Timestamp, products: &[&str]) -> Order {
    let mut o = Order::new(id, Some(customer.into()), time);
    o.lines = products.iter().map(|p| OrderLine::new(*p, 1.0)).collect();
    o
}

#[test]
fn before_the_first_analysis_answers_are_provisional_and_say_so() {
    block_on(async {
        let store = loaded_store().await;
        let clerk = Clerk::builder().store(store).clock(clock()).build().await.unwrap();
        let status = clerk.status().await;
        assert!(!status.analysed);
        assert_eq!(status.model, PROVISIONAL_MODEL);

        let popular = clerk.query(Request::new(Query::Popular { category: None }).limit(5)).await.unwrap();
        assert_eq!(popular.model, PROVISIONAL_MODEL);
        assert_eq!(popular.analysis_version, 0);
        assert_eq!(popular.fallback, Some(Fallback::Popular));
        assert_eq!(popular.items.len(), 5, "best sellers are counted from the store at once");

        let alternatives = clerk.query(alternatives_of_a_substitute()).await.unwrap();
        assert_eq!(alternatives.model, PROVISIONAL_MODEL);
        assert_eq!(alternatives.fallback, Some(Fallback::Category));
        assert_eq!(alternatives.items.len(), 3);

        let c = shop().customers[0].id.clone();
        let picks = clerk.query(Request::new(Query::CustomerPicks { customer: c })).await.unwrap();
        assert!(picks.fallback.is_some());

        let json = clerk.handle_json(r#"{"kind": "trending", "limit": 2}"#).await;
        assert!(json.contains(r#""model":"provisional""#) && json.contains(r#""fallback":"popular""#), "{json}");
        let json = clerk.handle_json(r#"{"kind": "nope"}"#).await;
        assert!(json.starts_with(r#"{"error":{"kind":"malformed""#), "{json}");
    });
}

#[test]
fn run_due_imports_analyses_and_then_answers_from_the_model() {
    block_on(async {
        let clerk = Clerk::builder().importer(importer()).clock(clock()).build().await.unwrap();
        assert_eq!(clerk.query(alternatives_of_a_substitute()).await.unwrap().items.len(), 0, "empty store");

        let run = clerk.run_due(now()).await.unwrap();
        assert_eq!(run.syncs.len(), 1);
        assert!(run.syncs[0].succeeded() && run.syncs[0].full, "{}", run.syncs[0]);
        assert_eq!((run.decision.action, run.decision.why), (Action::Full, Why::FirstAnalysis));
        let analysis = run.analysis.as_ref().unwrap();
        assert_eq!(analysis.version, 1);
        assert_eq!(analysis.stats.orders, shop().orders.len());
        assert!(run.next_wake.is_some_and(|t| t > now()));

        let answer = clerk.query(alternatives_of_a_substitute()).await.unwrap();
        assert_eq!((answer.model.as_str(), answer.analysis_version, answer.fallback), ("clerk-core", 1, None));
        let group = &shop().truth.substitute_groups[0];
        assert!(answer.ids().iter().all(|id| group.iter().any(|m| m == id)), "{:?} not in {group:?}", answer.ids());
        assert!(clerk.status().await.analysed);

        // Nothing is due a minute later and nothing changed.
        let run = clerk.run_due(Timestamp(now().secs() + 60)).await.unwrap();
        assert!(run.syncs.is_empty());
        assert_eq!((run.decision.action, run.decision.why), (Action::Nothing, Why::NoChanges));

        let health = clerk.health(now()).await.unwrap();
        assert_eq!(health.counts.orders, shop().orders.len());
        assert_eq!(clerk.sync_reports().len(), 1);
    });
}

#[test]
fn the_policy_folds_in_a_few_orders_and_re_analyses_after_a_big_change() {
    block_on(async {
        let store = loaded_store().await;
        let clerk = Clerk::builder().store(store.clone()).clock(clock()).build().await.unwrap();
        let run = clerk.run_due(now()).await.unwrap();
        assert_eq!(run.analysis.map(|a| a.version), Some(1));

        // A few orders: folded in, no new version.
        let last = shop().orders.last().unwrap().time;
        let few: Vec<Order> = (0..5)
            .map(|k| {
                let o = &shop().orders[k];
                Order { id: format!("new{k}"), time: Timestamp(last.secs() + 3600), ..o.clone() }
            })
            .collect();
        store.append_orders(few).await.unwrap();
        let run = clerk.run_due(Timestamp(now().secs() + 3600)).await.unwrap();
        assert_eq!((run.decision.action, run.decision.why), (Action::FoldIn, Why::FewChanges));
        assert_eq!(run.fold_in.map(|f| f.orders), Some(5));
        assert_eq!(run.changes.orders_written, 5);
        assert!(run.analysis.is_none());
        assert_eq!(clerk.status().await.analysis_version, 1);

        // The same changes, counted since the last full analysis, stay a fold-in; nothing more to fold.
        let run = clerk.run_due(Timestamp(now().secs() + 7200)).await.unwrap();
        assert_eq!(run.decision.action, Action::FoldIn);
        assert_eq!(run.fold_in.map(|f| f.orders), Some(0));

        // A big change: a third of the history again, under new ids.
        let many: Vec<Order> = shop().orders[..shop().orders.len() / 3]
            .iter()
            .map(|o| Order { id: format!("again-{}", o.id), time: Timestamp(o.time.secs() + 60), ..o.clone() })
            .collect();
        store.append_orders(many).await.unwrap();
        let run = clerk.run_due(Timestamp(now().secs() + 10_800)).await.unwrap();
        assert_eq!((run.decision.action, run.decision.why), (Action::Full, Why::ChangedShare));
        assert_eq!(run.analysis.as_ref().map(|a| a.version), Some(2));
        assert_eq!(clerk.query(alternatives_of_a_substitute()).await.unwrap().analysis_version, 2);

        // A deleted order cannot be folded out.
        clerk.apply(RealtimeUpdate::Removed { kind: RecordKind::Order, id: "new0".into() }).await.unwrap();
        let run = clerk.run_due(Timestamp(now().secs() + 14_400)).await.unwrap();
        assert_eq!((run.decision.action, run.decision.why), (Action::Full, Why::OrdersRemoved));

        // Age: one order a day later is re-analysed in full.
        store.append_orders(vec![order("late", "c00001", Timestamp(last.secs() + DAY), &["p000001"])]).await.unwrap();
        let run = clerk.run_due(Timestamp(now().secs() + 14_400 + DAY)).await.unwrap();
        assert_eq!((run.decision.action, run.decision.why), (Action::Full, Why::Age));
        assert_eq!(clerk.status().await.analysis_version, 4);
    });
}

#[test]
fn the_policy_is_configurable() {
    block_on(async {
        let store = loaded_store().await;
        let policy = AnalysisPolicy { fold_in: false, ..AnalysisPolicy::default() };
        let clerk = Clerk::builder().store(store.clone()).analysis_policy(policy).clock(clock()).build().await.unwrap();
        clerk.analyse_now().await.unwrap();
        let last = shop().orders.last().unwrap().time;
        store.append_orders(vec![order("one", "c00001", last, &["p000001"])]).await.unwrap();
        let (changes, decision) = clerk.decide(now()).await.unwrap();
        assert_eq!(changes.orders_written, 1);
        assert_eq!((decision.action, decision.why), (Action::Full, Why::FoldInOff));
    });
}

#[test]
fn a_real_time_order_changes_a_customers_picks() {
    block_on(async {
        let store = loaded_store().await;
        let clerk = Clerk::builder().store(store).clock(clock()).build().await.unwrap();
        clerk.run_due(now()).await.unwrap();
        let customer = shop().customers[0].id.clone();
        let picks = Request::new(Query::CustomerPicks { customer: customer.clone() }).limit(100);
        let discovery = Request::new(Query::CustomerComplementary { customer: customer.clone() }).limit(10);
        let rank = |r: &clerk::api::Response, p: &str| r.ids().iter().position(|id| *id == p);

        // The best seller the customer never bought.
        let bought: std::collections::HashSet<&str> = shop()
            .orders
            .iter()
            .filter(|o| o.customer_id.as_deref() == Some(customer.as_str()))
            .flat_map(|o| o.lines.iter().map(|l| l.product_id.as_str()))
            .collect();
        let popular = clerk.query(Request::new(Query::Popular { category: None }).limit(1000)).await.unwrap();
        let product = popular.ids().into_iter().find(|p| !bought.contains(p)).unwrap().to_owned();
        let picks_before = clerk.query(picks.clone()).await.unwrap();
        let discovery_before = clerk.query(discovery.clone()).await.unwrap();
        assert!(rank(&discovery_before, &product).is_some(), "a best seller is a discovery before it is bought");

        // The customer buys it three times, through the handle.
        let last = shop().orders.last().unwrap().time;
        let mut folded = 0;
        for k in 0..3 {
            let o = order(&format!("rt{k}"), &customer, Timestamp(last.secs() + (k + 1) * DAY), &[&product]);
            let report = clerk.apply(RealtimeUpdate::Order(o)).await.unwrap();
            folded += report.fold_in.map_or(0, |f| f.orders);
        }
        assert_eq!(folded, 3);

        let picks_after = clerk.query(picks).await.unwrap();
        let discovery_after = clerk.query(discovery).await.unwrap();
        assert_eq!(picks_after.analysis_version, 1, "folded in, not re-analysed");
        // Now a repeat purchase: it climbs the picks, and is no discovery any more.
        let (before, after) = (rank(&picks_before, &product), rank(&picks_after, &product));
        assert!(after.is_some_and(|a| before.is_none_or(|b| a < b)), "rank {before:?} -> {after:?}");
        assert_eq!(rank(&discovery_after, &product), None);
        assert_ne!(discovery_before.ids(), discovery_after.ids());
        let affinity = clerk.engine().snapshot().model.customer_affinity(&customer, None, 20);
        assert!(affinity.iter().any(|s| *s.id == product));

        // A rejected update is a typed error.
        let empty = order("rt-empty", &customer, last, &[]);
        assert!(matches!(clerk.apply(RealtimeUpdate::Order(empty)).await, Err(ClerkError::Apply(_))));
    });
}

#[test]
fn a_restart_loads_the_saved_analysis_and_answers_the_same() {
    block_on(async {
        let store = loaded_store().await;
        let first = Clerk::builder().store(store.clone()).clock(clock()).build().await.unwrap();
        first.run_due(now()).await.unwrap();
        assert_eq!(store.analysis_version().await.unwrap(), 1);

        let second = Clerk::builder().store(store.clone()).clock(clock()).build().await.unwrap();
        let status = second.status().await;
        assert!(status.analysed);
        assert_eq!((status.model.as_str(), status.analysis_version), ("clerk-core", 1));
        assert_eq!(store.analysis_version().await.unwrap(), 1, "nothing was analysed or saved again");

        let c = shop().customers[3].id.clone();
        let p = shop().truth.complementary_pairs[0].0.clone();
        let requests = [
            alternatives_of_a_substitute(),
            Request::new(Query::Complementary { products: vec![p.clone()] }),
            Request::new(Query::CustomerPicks { customer: c }),
            Request::new(Query::Trending { category: None }),
            Request::new(Query::Audience {
                product: p,
                segment: clerk::api::Segment::Interested,
                window: Default::default(),
            }),
        ];
        for r in requests {
            let (a, b) = (first.query(r.clone()).await.unwrap(), second.query(r.clone()).await.unwrap());
            assert_eq!(a, b, "{r:?}");
        }
        let run = second.run_due(Timestamp(now().secs() + 60)).await.unwrap();
        assert_eq!(run.decision.why, Why::NoChanges);

        // A store analysed by another model is analysed again by this one at the first run.
        let other = Clerk::builder()
            .store(store.clone())
            .model(Arc::new(clerk::core::PopularityModel::new()))
            .clock(clock())
            .build()
            .await
            .unwrap();
        assert!(!other.status().await.analysed);
        let run = other.run_due(now()).await.unwrap();
        assert_eq!(run.decision.why, Why::FirstAnalysis);
        assert_eq!(other.query(alternatives_of_a_substitute()).await.unwrap().model, "popularity");
    });
}

#[test]
fn importers_need_distinct_names() {
    let built = block_on(Clerk::builder().importer(importer()).importer(importer()).build());
    assert!(matches!(built, Err(ClerkError::Config(_))));
}

/// The handle and its futures can move between threads: any executor can run them.
#[test]
fn the_handle_and_its_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Clerk>();
    block_on(async {
        let clerk = Clerk::in_memory().await.unwrap();
        let (run, analyse) = (clerk.run_due(now()), clerk.analyse_now());
        let apply = clerk.apply(RealtimeUpdate::Removed { kind: RecordKind::Order, id: "x".into() });
        let query = clerk.query(Request::new(Query::Popular { category: None }));
        let (health, json, build) = (clerk.health(now()), clerk.handle_json("{}"), Clerk::builder().build());
        send(&run);
        send(&analyse);
        send(&apply);
        send(&query);
        send(&health);
        send(&json);
        send(&build);
        // An empty store: nothing to analyse, and every query answers (with nothing) instead of failing.
        assert_eq!(run.await.unwrap().decision.why, Why::NoData);
        assert!(query.await.unwrap().items.is_empty());
        assert!(analyse.await.is_ok());
        assert!(apply.await.is_ok());
        assert!(health.await.is_ok());
        assert!(json.await.contains("error"));
        assert!(build.await.is_ok());
    });
}
