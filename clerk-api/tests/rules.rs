//! Property tests of the rules every answer keeps, on random shops with the popularity model and with a random
//! fixed model: paging is consistent, excluded / basket / non-indexable ids never appear, the filter holds on
//! every returned product, ids are distinct and scores never increase down the list.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use clerk_api::{Context, Filter, Query, QueryEngine, Request, Segment, Window};
use clerk_core::domain::{Order, OrderLine, Product, Timestamp};
use clerk_core::model::{Ranking, Relation};
use clerk_core::store::DataStore;
use clerk_core::{Dataset, IntentModel, MemoryStore, PopularityModel};
use common::FixedModel;
use futures::executor::block_on;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Shop {
    products: Vec<(Option<f64>, u8, u8, bool)>,
    orders: Vec<(u8, Vec<u8>, i64)>,
    fixed: bool,
    rels: Vec<(u8, u8, u8, f32)>,
}

fn shop() -> impl Strategy<Value = Shop> {
    (
        prop::collection::vec((prop::option::of(0.0f64..100.0), 0u8..3, 0u8..3, prop::bool::weighted(0.8)), 3..25),
        prop::collection::vec((0u8..6, prop::collection::vec(0u8..30, 1..5), 0i64..10_000_000), 0..40),
        any::<bool>(),
        prop::collection::vec((0u8..30, 0u8..3, 0u8..30, 0.1f32..10.0), 0..120),
    )
        .prop_map(|(products, orders, fixed, rels)| Shop { products, orders, fixed, rels })
}

fn pid(i: u8, n: usize) -> String {
    format!("p{}", i as usize % n)
}

fn build(s: &Shop) -> QueryEngine {
    block_on(async {
        let n = s.products.len();
        let store = Arc::new(MemoryStore::new());
        let products: Vec<Product> = s
            .products
            .iter()
            .enumerate()
            .map(|(i, (price, brand, cat, index))| {
                let mut p = Product::new(format!("p{i}"));
                p.price = *price;
                p.brand = Some(["A", "B", "C"][*brand as usize].into());
                p.categories = vec![format!("c{cat}")];
                p.index = *index;
                p.in_stock = i % 3 != 0;
                p.created_at = Some(Timestamp(i as i64 * 1000));
                p
            })
            .collect();
        store.upsert_products(products).await.unwrap();
        let orders: Vec<Order> = s
            .orders
            .iter()
            .enumerate()
            .map(|(k, (c, ps, time))| {
                let mut o = Order::new(format!("o{k}"), Some(format!("c{c}")), Timestamp(*time));
                o.lines = ps.iter().map(|p| OrderLine::new(pid(*p, n), 1.0)).collect();
                o
            })
            .collect();
        store.append_orders(orders).await.unwrap();
        let model: Arc<dyn IntentModel> = if s.fixed {
            let mut m = FixedModel { customers: 6, ..FixedModel::default() };
            let rels = [Relation::Alternative, Relation::BoughtTogether, Relation::BoughtNext];
            for (from, r, to, score) in &s.rels {
                m.related.entry((pid(*from, n), rels[*r as usize])).or_default().push((pid(*to, n), *score));
            }
            for (i, (c, ps, _)) in s.orders.iter().enumerate() {
                let v = m.affinity.entry(format!("c{c}")).or_default();
                v.extend(ps.iter().map(|p| (pid(*p, n), 1.0 + i as f32)));
            }
            let pop: Vec<(String, f32)> = (0..n).map(|i| (format!("p{i}"), (n - i) as f32)).collect();
            m.rankings.insert(Ranking::Popular, pop.clone());
            m.rankings.insert(Ranking::Trending, pop.into_iter().step_by(2).collect());
            Arc::new(m)
        } else {
            PopularityModel::new().analyse(&Dataset::from_store(&*store).await.unwrap()).unwrap()
        };
        QueryEngine::new(store, model).await.unwrap()
    })
}

#[derive(Clone, Debug)]
struct Ask {
    kind: u8,
    products: Vec<u8>,
    customer: u8,
    basket: Vec<u8>,
    viewed: Vec<u8>,
    exclude: Vec<u8>,
    filter: Option<&'static str>,
    limit: usize,
    offset: usize,
    fallback: bool,
}

const FILTERS: [&str; 6] = [
    "price > 50",
    "brand = 'A' or brand = 'B'",
    "categories in ['c1', 'c2']",
    "in_stock = true",
    "not brand = 'C' and price <= 70",
    "id != 'p1'",
];

fn ask() -> impl Strategy<Value = Ask> {
    (
        0u8..10,
        prop::collection::vec(0u8..30, 1..3),
        0u8..8,
        prop::collection::vec(0u8..30, 0..3),
        prop::collection::vec(0u8..30, 0..3),
        prop::collection::vec(0u8..30, 0..4),
        prop::option::of(prop::sample::select(FILTERS.to_vec())),
        0usize..12,
        0usize..12,
        prop::bool::weighted(0.8),
    )
        .prop_map(|(kind, products, customer, basket, viewed, exclude, filter, limit, offset, fallback)| Ask {
            kind,
            products,
            customer,
            basket,
            viewed,
            exclude,
            filter,
            limit,
            offset,
            fallback,
        })
}

fn request(a: &Ask, n: usize) -> Request {
    let ids = |v: &[u8]| v.iter().map(|p| pid(*p, n)).collect::<Vec<_>>();
    let customer = format!("c{}", a.customer);
    let query = match a.kind {
        0 => Query::Alternatives { products: ids(&a.products) },
        1 => Query::Complementary { products: ids(&a.products) },
        2 => Query::MostSoldWith { products: ids(&a.products) },
        3 => Query::CustomerPicks { customer },
        4 => Query::CustomerComplementary { customer },
        5 => Query::CustomerAlternatives { customer },
        6 => Query::Visitor,
        7 => Query::Popular { category: (a.customer % 2 == 0).then(|| format!("c{}", a.customer % 3)) },
        8 => Query::Trending { category: None },
        _ => Query::New { category: None },
    };
    let mut r = Request::new(query)
        .limit(a.limit)
        .offset(a.offset)
        .exclude(ids(&a.exclude))
        .context(Context::new().basket(ids(&a.basket)).viewed(ids(&a.viewed)).customer(format!("c{}", a.customer)))
        .allow_fallback(a.fallback);
    r.filter = a.filter.map(str::to_owned);
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_answer_keeps_the_rules(s in shop(), asks in prop::collection::vec(ask(), 1..6)) {
        let engine = build(&s);
        let n = s.products.len();
        let snap = engine.snapshot();
        for a in &asks {
            let req = request(a, n);
            let r = match engine.query_now(&req) {
                Ok(r) => r,
                Err(e) => {
                    // Only unknown ids without fallback may fail.
                    prop_assert!(!a.fallback, "{e}");
                    continue;
                }
            };
            prop_assert!(r.items.len() <= req.limit);
            let filter = req.filter.as_deref().map(|f| Filter::parse(f).unwrap());
            let banned: HashSet<&String> = req.exclude.iter().chain(&req.context.basket).collect();
            let mut seen = HashSet::new();
            let mut last = f32::INFINITY;
            for item in &r.items {
                prop_assert!(seen.insert(item.id.clone()), "duplicate {}", item.id);
                prop_assert!(!banned.contains(&item.id.to_string()), "{} is excluded or in the basket", item.id);
                prop_assert!(snap.catalog.is_indexable(&item.id), "{} is not indexable", item.id);
                if let Some(f) = &filter {
                    prop_assert!(f.matches_id(&item.id, snap.catalog.get(&item.id).map(|p| &**p)), "{} fails the filter", item.id);
                }
                prop_assert!(item.score.is_finite() && item.score <= last, "scores must not increase");
                last = item.score;
            }
            if matches!(req.query, Query::Alternatives { .. } | Query::Complementary { .. } | Query::MostSoldWith { .. }) {
                for p in req.query_products() {
                    prop_assert!(!seen.contains(p.as_str()), "query product {p} returned");
                }
            }
        }
    }

    #[test]
    fn pages_are_slices_of_one_list(s in shop(), a in ask()) {
        let engine = build(&s);
        let req = request(&a, s.products.len());
        let mut whole = req.clone();
        whole.offset = 0;
        whole.limit = req.offset + req.limit;
        match (engine.query_now(&req), engine.query_now(&whole)) {
            (Ok(page), Ok(whole)) => {
                let want: Vec<_> = whole.items.iter().skip(req.offset).map(|i| (i.id.clone(), i.score, i.reason)).collect();
                let got: Vec<_> = page.items.iter().map(|i| (i.id.clone(), i.score, i.reason)).collect();
                prop_assert_eq!(got, want);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "page {:?} vs whole {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn audience_pages_are_slices_and_respect_exclusions(s in shop(), p in 0u8..30, seg in 0u8..3, limit in 0usize..8, offset in 0usize..8, ex in 0u8..6) {
        let engine = build(&s);
        let segment = [Segment::Interested, Segment::Purchased, Segment::NotPurchased][seg as usize];
        let req = Request::new(Query::Audience { product: pid(p, s.products.len()), segment, window: Window::default() })
            .limit(limit).offset(offset).exclude([format!("c{ex}")]);
        let mut whole = req.clone();
        whole.offset = 0;
        whole.limit = offset + limit;
        if let (Ok(page), Ok(whole)) = (engine.query_now(&req), engine.query_now(&whole)) {
            prop_assert_eq!(&page.customers[..], &whole.customers[offset.min(whole.customers.len())..]);
            let ex = format!("c{ex}");
            prop_assert!(page.customers.iter().all(|c| *c.id != *ex));
        }
    }
}

trait QueryProducts {
    fn query_products(&self) -> Vec<String>;
}

impl QueryProducts for Request {
    fn query_products(&self) -> Vec<String> {
        match &self.query {
            Query::Alternatives { products } | Query::Complementary { products } | Query::MostSoldWith { products } => {
                products.clone()
            }
            _ => Vec::new(),
        }
    }
}
