//! `PopularityModel`: the simplest model that answers, a baseline and a proof of the seam.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::{AudienceMember, FoldInStats, IntentModel, ModelError, ModelStats, Ranking, Relation, Scored};
use crate::data::Dataset;
use crate::domain::{Order, Timestamp, DAY};
use crate::intern::Interner;

/// Ranks by distinct orders and nothing else: every customer gets the best sellers, alternatives are the best
/// sellers of the product's first category, the audience of any product is the most active customers.
///
/// Use it as the baseline a smarter model must beat, and as the reference for how small an [`IntentModel`] can be.
#[derive(Debug, Default)]
pub struct PopularityModel {
    state: RwLock<State>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    products: Interner,
    orders_per_product: Vec<u32>,
    recent_per_product: Vec<u32>,
    category: Vec<Option<u32>>,
    categories: Interner,
    indexable: Vec<bool>,
    created: Vec<Option<Timestamp>>,
    customers: Interner,
    orders_per_customer: Vec<u32>,
    last_time: Option<Timestamp>,
    orders: usize,
}

const FORMAT: u32 = 1;
const RECENT: i64 = 28 * DAY;

impl PopularityModel {
    /// A fresh (un-analysed) model.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn top(scores: impl Iterator<Item = (u32, f32)>, ids: &Interner, limit: usize) -> Vec<Scored> {
    let mut v: Vec<(u32, f32)> = scores.filter(|&(_, s)| s > 0.0 && s.is_finite()).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| ids.ids()[a.0 as usize].cmp(&ids.ids()[b.0 as usize])));
    v.truncate(limit);
    v.into_iter().map(|(i, score)| Scored { id: ids.ids()[i as usize].clone(), score }).collect()
}

impl State {
    fn count(&mut self, customer: Option<&str>, time: Timestamp, products: &[u32]) {
        for &p in products {
            self.orders_per_product[p as usize] += 1;
        }
        if let Some(c) = customer {
            let c = self.customers.intern(c) as usize;
            if c == self.orders_per_customer.len() {
                self.orders_per_customer.push(0);
            }
            self.orders_per_customer[c] += 1;
        }
        self.last_time = self.last_time.max(Some(time));
        self.orders += 1;
    }

    fn grow(&mut self) {
        let n = self.products.len();
        self.orders_per_product.resize(n, 0);
        self.recent_per_product.resize(n, 0);
        self.category.resize(n, None);
        self.indexable.resize(n, true);
        self.created.resize(n, None);
    }
}

impl IntentModel for PopularityModel {
    fn name(&self) -> &'static str {
        "popularity"
    }

    fn format(&self) -> u32 {
        FORMAT
    }

    fn analyse(&self, data: &Dataset) -> Result<Arc<dyn IntentModel>, ModelError> {
        let mut s = State { products: data.products.clone(), ..State::default() };
        s.grow();
        for (i, entry) in data.catalog.iter().enumerate() {
            if let Some(p) = entry {
                s.category[i] = p.categories.first().map(|c| s.categories.intern(c));
                s.indexable[i] = p.index;
                s.created[i] = p.created_at;
            }
        }
        let last = data.last_time();
        for o in &data.orders {
            let customer = o.customer.map(|c| data.customers.ids()[c as usize].clone());
            s.count(customer.as_deref(), o.time, data.products_of(o));
            if last.is_some_and(|l| o.time.secs() > l.secs() - RECENT) {
                for &p in data.products_of(o) {
                    s.recent_per_product[p as usize] += 1;
                }
            }
        }
        Ok(Arc::new(PopularityModel { state: RwLock::new(s) }))
    }

    fn fold_in(&self, orders: &[Order]) -> Result<FoldInStats, ModelError> {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut stats = FoldInStats::default();
        for o in orders {
            if o.lines.is_empty() {
                stats.skipped += 1;
                continue;
            }
            let mut ps: Vec<u32> = o.lines.iter().map(|l| s.products.intern(&l.product_id)).collect();
            ps.sort_unstable();
            ps.dedup();
            s.grow();
            s.count(o.buyer_key().as_deref(), o.time, &ps);
            for &p in &ps {
                s.recent_per_product[p as usize] += 1;
            }
            stats.orders += 1;
            stats.products_touched += ps.len();
        }
        Ok(stats)
    }

    fn related(&self, product: &str, relation: Relation, limit: usize) -> Vec<Scored> {
        let s = self.read();
        let Some(q) = s.products.get(product) else { return Vec::new() };
        if relation != Relation::Alternative {
            return Vec::new();
        }
        let cat = s.category[q as usize];
        let scores = (0..s.products.len() as u32)
            .filter(|&p| p != q && s.indexable[p as usize] && (cat.is_none() || s.category[p as usize] == cat))
            .map(|p| (p, s.orders_per_product[p as usize] as f32));
        top(scores, &s.products, limit)
    }

    fn customer_affinity(&self, _customer: &str, _at: Option<Timestamp>, _limit: usize) -> Vec<Scored> {
        Vec::new()
    }

    fn audience(&self, product: &str, _at: Option<Timestamp>, limit: usize) -> Vec<AudienceMember> {
        let s = self.read();
        if s.products.get(product).is_none() {
            return Vec::new();
        }
        top((0..s.customers.len() as u32).map(|c| (c, s.orders_per_customer[c as usize] as f32)), &s.customers, limit)
            .into_iter()
            .map(|m| AudienceMember { customer: m.id, score: m.score, last_purchase: None })
            .collect()
    }

    fn ranking(&self, ranking: Ranking, limit: usize) -> Vec<Scored> {
        let s = self.read();
        let n = s.products.len() as u32;
        let ok = |p: &u32| s.indexable[*p as usize];
        match ranking {
            Ranking::Popular => {
                top((0..n).filter(ok).map(|p| (p, s.orders_per_product[p as usize] as f32)), &s.products, limit)
            }
            Ranking::Trending => {
                top((0..n).filter(ok).map(|p| (p, s.recent_per_product[p as usize] as f32)), &s.products, limit)
            }
            Ranking::New => {
                let newest = s.created.iter().flatten().map(|t| t.secs()).max().unwrap_or(0);
                // Scores are days older than the newest product, inverted, so they stay positive and finite.
                top(
                    (0..n).filter(ok).filter_map(|p| {
                        s.created[p as usize].map(|t| (p, 1.0 / (1.0 + (newest - t.secs()) as f32 / DAY as f32)))
                    }),
                    &s.products,
                    limit,
                )
            }
        }
    }

    fn stats(&self) -> ModelStats {
        let s = self.read();
        ModelStats {
            products: s.products.len(),
            customers: s.customers.len(),
            orders: s.orders,
            relations: 0,
            reference_time: s.last_time,
        }
    }

    fn save(&self) -> Result<Vec<u8>, ModelError> {
        postcard::to_stdvec(&*self.read()).map_err(|e| ModelError::Corrupt(e.to_string()))
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn IntentModel>, ModelError> {
        let state: State = postcard::from_bytes(bytes).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        Ok(Arc::new(PopularityModel { state: RwLock::new(state) }))
    }
}
