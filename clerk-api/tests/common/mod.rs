//! A hand-made `IntentModel` with fixed answers, and a small shop, so each query kind's blend is asserted exactly.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::Arc;

use clerk_api::{Blend, QueryEngine};
use clerk_core::domain::{Category, Order, OrderLine, Product, Timestamp};
use clerk_core::model::{AudienceMember, FoldInStats, IntentModel, ModelError, ModelStats, Ranking, Relation, Scored};
use clerk_core::store::DataStore;
use clerk_core::{Dataset, MemoryStore};

/// Fixed answers. Deliberately breaks the "never return non-indexable" rule so the engine's guard is tested.
#[derive(Debug, Default, Clone)]
pub struct FixedModel {
    pub related: HashMap<(String, Relation), Vec<(String, f32)>>,
    pub affinity: HashMap<String, Vec<(String, f32)>>,
    pub audience: HashMap<String, Vec<(String, f32, Option<Timestamp>)>>,
    pub rankings: HashMap<Ranking, Vec<(String, f32)>>,
    pub similar: HashMap<String, Vec<(String, f32)>>,
    pub customers: usize,
}

fn scored(v: &[(String, f32)], limit: usize) -> Vec<Scored> {
    let mut v: Vec<Scored> = v.iter().map(|(id, s)| Scored { id: Arc::from(id.as_str()), score: *s }).collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    v.truncate(limit);
    v
}

impl FixedModel {
    pub fn rel(mut self, from: &str, r: Relation, to: &[(&str, f32)]) -> Self {
        self.related.insert((from.into(), r), to.iter().map(|(i, s)| (i.to_string(), *s)).collect());
        self
    }
    pub fn aff(mut self, c: &str, to: &[(&str, f32)]) -> Self {
        self.affinity.insert(c.into(), to.iter().map(|(i, s)| (i.to_string(), *s)).collect());
        self
    }
    pub fn sim(mut self, c: &str, to: &[(&str, f32)]) -> Self {
        self.similar.insert(c.into(), to.iter().map(|(i, s)| (i.to_string(), *s)).collect());
        self
    }
    pub fn rank(mut self, r: Ranking, to: &[(&str, f32)]) -> Self {
        self.rankings.insert(r, to.iter().map(|(i, s)| (i.to_string(), *s)).collect());
        self
    }
    pub fn aud(mut self, p: &str, to: &[(&str, f32, Option<Timestamp>)]) -> Self {
        self.audience.insert(p.into(), to.iter().map(|(i, s, t)| (i.to_string(), *s, *t)).collect());
        self
    }
}

impl IntentModel for FixedModel {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn format(&self) -> u32 {
        1
    }
    fn analyse(&self, _data: &Dataset) -> Result<Arc<dyn IntentModel>, ModelError> {
        Ok(Arc::new(self.clone()))
    }
    fn fold_in(&self, _orders: &[Order]) -> Result<FoldInStats, ModelError> {
        Ok(FoldInStats::default())
    }
    fn related(&self, product: &str, relation: Relation, limit: usize) -> Vec<Scored> {
        self.related.get(&(product.to_owned(), relation)).map_or_else(Vec::new, |v| scored(v, limit))
    }
    fn customer_affinity(&self, customer: &str, _at: Option<Timestamp>, limit: usize) -> Vec<Scored> {
        self.affinity.get(customer).map_or_else(Vec::new, |v| scored(v, limit))
    }
    fn bought_by_similar(&self, customer: &str, new_only: bool, limit: usize) -> Vec<Scored> {
        // The fixture's lists name products the customer bought: the engine must drop them either way.
        let _ = new_only;
        self.similar.get(customer).map_or_else(Vec::new, |v| scored(v, limit))
    }
    fn audience(&self, product: &str, _at: Option<Timestamp>, limit: usize) -> Vec<AudienceMember> {
        let mut v: Vec<AudienceMember> = self
            .audience
            .get(product)
            .map(|v| {
                v.iter()
                    .map(|(c, s, t)| AudienceMember { customer: Arc::from(c.as_str()), score: *s, last_purchase: *t })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.customer.cmp(&b.customer)));
        v.truncate(limit);
        v
    }
    fn ranking(&self, ranking: Ranking, limit: usize) -> Vec<Scored> {
        self.rankings.get(&ranking).map_or_else(Vec::new, |v| scored(v, limit))
    }
    fn stats(&self) -> ModelStats {
        ModelStats { products: 10, customers: self.customers, ..ModelStats::default() }
    }
    fn save(&self) -> Result<Vec<u8>, ModelError> {
        Ok(Vec::new())
    }
    fn load(&self, _bytes: &[u8]) -> Result<Arc<dyn IntentModel>, ModelError> {
        Ok(Arc::new(self.clone()))
    }
}

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn product(id: &str, cat: &str, price: f64) -> Product {
    let mut p = Product::new(id);
    p.categories = vec![cat.into()];
    p.price = Some(price);
    p.name = format!("Product {id}");
    p
}

/// The small shop: a b c in cat1; x y z in cat2; d in cat3 (under cat2); k in cat1; `hidden` not indexable.
pub async fn shop() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let mut hidden = product("hidden", "cat1", 1.0);
    hidden.index = false;
    let mut products = vec![
        product("a", "cat1", 10.0),
        product("b", "cat1", 20.0),
        product("c", "cat1", 30.0),
        product("k", "cat1", 1.0),
        product("x", "cat2", 5.0),
        product("y", "cat2", 15.0),
        product("z", "cat2", 25.0),
        product("d", "cat3", 50.0),
        hidden,
    ];
    products[0].brand = Some("Acme".into());
    store.upsert_products(products).await.unwrap();
    let mut cat3 = Category::new("cat3", "Cat 3");
    cat3.parent = Some("cat2".into());
    store.upsert_categories(vec![Category::new("cat1", "Cat 1"), Category::new("cat2", "Cat 2"), cat3]).await.unwrap();
    let order = |id: &str, c: Option<&str>, email: Option<&str>, time: &str, ps: &[&str]| {
        let mut o = Order::new(id, c.map(str::to_owned), t(time));
        o.email = email.map(str::to_owned);
        o.lines = ps.iter().map(|p| OrderLine::new(*p, 1.0)).collect();
        o
    };
    store
        .append_orders(vec![
            order("o1", Some("alice"), Some("Alice@Example.com"), "2024-01-01", &["a"]),
            order("o2", Some("alice"), None, "2024-03-01", &["x"]),
            order("o3", Some("alice"), None, "2024-03-20", &["x"]),
            order("o4", Some("bob"), None, "2024-02-01", &["y"]),
            order("o5", None, Some("Carol@Example.com"), "2024-03-25", &["z"]),
            order("o6", Some("erin"), None, "2023-01-01", &["x"]),
        ])
        .await
        .unwrap();
    store
}

pub fn fixed() -> FixedModel {
    use Relation::*;
    FixedModel { customers: 5, ..FixedModel::default() }
        .rel("a", Alternative, &[("b", 4.0), ("c", 2.0), ("hidden", 3.0)])
        .rel("a", BoughtTogether, &[("x", 10.0), ("y", 5.0)])
        .rel("a", BoughtNext, &[("y", 2.0), ("z", 1.0)])
        .rel("k", BoughtTogether, &[("x", 1.0), ("z", 1.0)])
        .aff("alice", &[("x", 3.0), ("a", 1.0)])
        .aff("carol@example.com", &[("z", 1.0)])
        .sim("bob", &[("y", 4.0), ("x", 2.0), ("hidden", 1.8), ("c", 1.0)])
        .rank(
            Ranking::Popular,
            &[
                ("x", 100.0),
                ("a", 90.0),
                ("b", 80.0),
                ("y", 70.0),
                ("z", 60.0),
                ("c", 50.0),
                ("k", 40.0),
                ("hidden", 30.0),
                ("d", 20.0),
            ],
        )
        .rank(Ranking::New, &[("d", 1.0), ("z", 0.5)])
        .aud("x", &[("alice", 0.9, Some(t("2024-03-20"))), ("bob", 0.5, None), ("dave", 0.1, None)])
}

/// The weights every exact score in the tests is computed with, pinned here so that tuning the defaults in
/// `clerk-api/src/score.rs` never moves them. Every field is listed (a new field fails to compile here, on
/// purpose). Weights that meet in one test differ from each other and from 1.0 where a swapped or ignored
/// weight would otherwise go unnoticed (`alternative` vs `viewed_alternative`, `next` vs `history_together`,
/// `together` vs `history_next`, `basket` vs `recency_decay`).
pub fn blend() -> Blend {
    Blend {
        depth: 100,
        seed_depth: 100,
        discovery_popular: 0.0,
        discovery_similar: 0.8,
        picks_similar: 0.4,
        together: 1.0,
        next: 0.3,
        alternative: 0.9,
        basket: 0.6,
        customer_affinity: 0.5,
        customer_boost: 0.25,
        picks_history: 1.0,
        picks_complementary: 0.1,
        history_together: 0.2,
        history_next: 0.7,
        history_customers: 0.0,
        history_seeds: 50,
        viewed: 1.0,
        clicks: 0.5,
        viewed_alternative: 1.0,
        viewed_together: 0.5,
        recency_decay: 0.8,
        context_on_customer: 0.5,
        max_context_items: 20,
        max_seeds: 50,
        fallback_ceiling: 0.5,
    }
}

/// The engine over [`shop`] and [`fixed`], with the pinned [`blend`].
pub async fn engine() -> QueryEngine {
    let engine = QueryEngine::new(shop().await, Arc::new(fixed())).await.unwrap();
    engine.set_blend(blend());
    engine
}
