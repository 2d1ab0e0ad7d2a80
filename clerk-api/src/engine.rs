//! The query engine: one consistent snapshot of model, catalog and purchase index per query.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::{Arc, OnceLock, RwLock};

use clerk_core::domain::Timestamp;
use clerk_core::intern::{FxHashMap, FxHasher};
use clerk_core::model::{IntentModel, ModelError, ModelStats, Ranking, Relation, Scored};
use clerk_core::store::DataStore;

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::QueryError;
use crate::fallback::Fallback;
use crate::filter::memo::FilterMemo;
use crate::filter::{Filter, FilterError};
use crate::history::{Bought, History};
use crate::keys::{self, Keys, ModelKeys, NONE};
use crate::request::{Query, Request, Segment};
use crate::response::{CustomerItem, Item, Reason, Response};
use crate::score::{by_rank, Blend, Candidate, Resolved, Scores};

/// Everything one query reads, consistent with itself: a model, the catalog and purchase index it is
/// answered against, the analysis version and the blend weights.
#[derive(Debug)]
pub struct Snapshot {
    /// The model.
    pub model: Arc<dyn IntentModel>,
    /// The catalog.
    pub catalog: Arc<Catalog>,
    /// Who bought what.
    pub history: Arc<History>,
    /// The analysis version (0 when the model was not loaded from a saved analysis).
    pub version: u64,
    /// The weights.
    pub blend: Arc<Blend>,
    rankings: [OnceLock<Arc<Vec<Scored>>>; 3],
    ranked: [OnceLock<Arc<RankIndex>>; 3],
    stats: OnceLock<ModelStats>,
    history_of_catalog: OnceLock<Arc<Vec<u32>>>,
    model_keys: OnceLock<Arc<ModelKeys>>,
    related: RwLock<RelatedMemo>,
    filters: RwLock<FxHashMap<Box<str>, Arc<FilterMemo>>>,
}

/// The most filters a snapshot remembers (each up to a byte per catalog product, and its category scans of the
/// rankings): a host's filters are few and repeated; past this, a new filter is parsed and evaluated per query.
const FILTER_MEMOS: usize = 8;

/// The most relation items a snapshot memoises (24 bytes each): past it, look-ups go to the model every time.
const RELATED_MEMO_ITEMS: usize = 4 << 20;

/// `related` lists of catalog products, resolved to catalog keys, as the model gave them for this snapshot.
#[derive(Debug, Default)]
struct RelatedMemo {
    lists: FxHashMap<(u32, u8), Arc<[Resolved]>>,
    items: usize,
}

/// A ranking's positions by category: what "best sellers of these categories" reads instead of testing every
/// product of the ranking.
#[derive(Debug)]
struct RankIndex {
    /// The catalog index of each position ([`NONE`] when the catalog has no record).
    keys: Vec<u32>,
    /// Per interned category, the positions of its products (directly in it), ascending.
    by_category: Vec<Vec<u32>>,
}

/// Ascending positions of the union of sorted lists (each position once): a k-way merge.
struct Merge<'a> {
    lists: Vec<&'a [u32]>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
    last: Option<u32>,
}

impl<'a> Merge<'a> {
    fn new(lists: Vec<&'a [u32]>) -> Self {
        let heap = lists.iter().enumerate().filter_map(|(i, l)| l.first().map(|&p| Reverse((p, i as u32)))).collect();
        Merge { lists, heap, last: None }
    }
}

impl Iterator for Merge<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        loop {
            let Reverse((p, i)) = self.heap.pop()?;
            let list = &mut self.lists[i as usize];
            *list = &list[1..];
            if let Some(&q) = list.first() {
                self.heap.push(Reverse((q, i)));
            }
            if self.last != Some(p) {
                self.last = Some(p);
                return Some(p);
            }
        }
    }
}

impl Snapshot {
    /// A snapshot of these parts.
    pub fn new(
        model: Arc<dyn IntentModel>,
        catalog: Arc<Catalog>,
        history: Arc<History>,
        version: u64,
        blend: Arc<Blend>,
    ) -> Self {
        Snapshot {
            model,
            catalog,
            history,
            version,
            blend,
            rankings: Default::default(),
            ranked: Default::default(),
            stats: OnceLock::new(),
            history_of_catalog: OnceLock::new(),
            model_keys: OnceLock::new(),
            related: RwLock::default(),
            filters: RwLock::default(),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Snapshot)) -> Snapshot {
        let mut s = Snapshot::new(
            self.model.clone(),
            self.catalog.clone(),
            self.history.clone(),
            self.version,
            self.blend.clone(),
        );
        f(&mut s);
        if Arc::ptr_eq(&s.catalog, &self.catalog) && Arc::ptr_eq(&s.history, &self.history) {
            if let Some(v) = self.history_of_catalog.get() {
                let _ = s.history_of_catalog.set(v.clone());
            }
        }
        // Model indices only grow (the `IntentModel::product_count` contract): the tables stay right for the
        // same model and catalog after a fold-in, and indices past them are looked up by id.
        if Arc::ptr_eq(&s.catalog, &self.catalog) && Arc::ptr_eq(&s.model, &self.model) {
            if let Some(v) = self.model_keys.get() {
                let _ = s.model_keys.set(v.clone());
            }
        }
        s
    }

    /// Builds the per-snapshot indices a query would otherwise build on first use.
    fn warmed(self) -> Self {
        self.history_of_catalog();
        self.model_keys();
        self
    }

    /// The model's dense indices against the catalog's, once per model and catalog.
    fn model_keys(&self) -> &ModelKeys {
        self.model_keys.get_or_init(|| Arc::new(ModelKeys::new(&*self.model, &self.catalog)))
    }

    /// The purchase-index product of each catalog product, once per catalog and purchase index.
    fn history_of_catalog(&self) -> &[u32] {
        self.history_of_catalog.get_or_init(|| Arc::new(keys::history_of_catalog(&self.catalog, &self.history)))
    }

    /// The parsed filter of `text` with what this snapshot remembers of it (its verdicts per product), shared
    /// by the queries that send the same text.
    fn filter(&self, text: &str) -> Result<Arc<FilterMemo>, FilterError> {
        let full = {
            let memos = self.filters.read().unwrap_or_else(|e| e.into_inner());
            if let Some(memo) = memos.get(text) {
                return Ok(memo.clone());
            }
            memos.len() >= FILTER_MEMOS
        };
        let filter = Filter::parse(text)?;
        // A full memo stays full: a new filter is not remembered, and needs no write lock to learn so.
        if full {
            return Ok(Arc::new(FilterMemo::single(filter)));
        }
        let mut memos = self.filters.write().unwrap_or_else(|e| e.into_inner());
        if let Some(memo) = memos.get(text) {
            return Ok(memo.clone());
        }
        if memos.len() >= FILTER_MEMOS {
            return Ok(Arc::new(FilterMemo::single(filter)));
        }
        let memo = Arc::new(FilterMemo::shared(filter, self.catalog.len()));
        memos.insert(text.into(), memo.clone());
        Ok(memo)
    }

    /// The model's counts, once per snapshot (a fold-in needs [`QueryEngine::clear_caches`]).
    fn stats(&self) -> &ModelStats {
        self.stats.get_or_init(|| self.model.stats())
    }

    fn keys(&self) -> Keys<'_> {
        Keys::new(&self.catalog, &self.history, self.history_of_catalog())
    }

    fn ranking_slot(r: Ranking) -> usize {
        match r {
            Ranking::Popular => 0,
            Ranking::Trending => 1,
            Ranking::New => 2,
        }
    }

    /// A ranking's category index, built once per snapshot on first use.
    fn rank_index(&self, r: Ranking) -> Arc<RankIndex> {
        self.ranked[Self::ranking_slot(r)]
            .get_or_init(|| {
                let list = self.ranking(r);
                let catalog = &*self.catalog;
                let keys: Vec<u32> = list.iter().map(|s| catalog.index_of(&s.id).unwrap_or(NONE)).collect();
                let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); catalog.category_count()];
                for (pos, &k) in keys.iter().enumerate() {
                    if k != NONE {
                        for &c in catalog.categories_of(k) {
                            let l = &mut by_category[c as usize];
                            if l.last() != Some(&(pos as u32)) {
                                l.push(pos as u32);
                            }
                        }
                    }
                }
                Arc::new(RankIndex { keys, by_category })
            })
            .clone()
    }

    /// The full ranking, computed once per snapshot (a fold-in needs [`QueryEngine::clear_caches`]).
    fn ranking(&self, r: Ranking) -> Arc<Vec<Scored>> {
        self.rankings[Self::ranking_slot(r)]
            .get_or_init(|| {
                let n = self.stats().products.max(self.catalog.len()).saturating_add(1);
                Arc::new(self.model.ranking(r, n))
            })
            .clone()
    }

    /// The model's `related(id, rel, depth)`, resolved to catalog keys; memoised per snapshot for catalog
    /// products (a fold-in needs [`QueryEngine::clear_caches`], as for rankings).
    fn related(&self, id: &str, rel: Relation) -> Arc<[Resolved]> {
        let resolve = |v: Vec<Scored>| -> Arc<[Resolved]> {
            v.into_iter()
                .map(|s| Resolved { key: self.catalog.index_of(&s.id).unwrap_or(NONE), score: s.score, id: s.id })
                .collect()
        };
        let Some(p) = self.catalog.index_of(id) else { return resolve(self.model.related(id, rel, self.blend.depth)) };
        let slot = (p, rel as u8);
        if let Some(list) = self.related.read().unwrap_or_else(|e| e.into_inner()).lists.get(&slot) {
            return list.clone();
        }
        let list = resolve(self.model.related(id, rel, self.blend.depth));
        let mut memo = self.related.write().unwrap_or_else(|e| e.into_inner());
        if memo.items + list.len() <= RELATED_MEMO_ITEMS {
            memo.items += list.len();
            memo.lists.insert(slot, list.clone());
        }
        list
    }
}

struct Inner {
    store: Arc<dyn DataStore>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises snapshot changes: each reads the current snapshot and swaps in a changed one, and two of them
    /// interleaved would lose the first (a blend change could put back the model an install just replaced).
    /// Queries never take it.
    writer: std::sync::Mutex<()>,
}

/// Answers intent queries over any [`DataStore`] and any [`IntentModel`].
///
/// Cheap to clone and share between threads and tasks (an `Arc` inside). Each query takes the current
/// [`Snapshot`] once at its start, so every answer comes from one consistent version; installing a new model
/// never blocks running queries. Queries never read the store: the catalog and purchase index are read into
/// memory when the engine is built and on [`install`](Self::install) / [`refresh_catalog`](Self::refresh_catalog).
///
/// ```
/// use std::sync::Arc;
/// use clerk_api::{QueryEngine, Request, Query};
/// use clerk_core::{Dataset, IntentModel, MemoryStore, PopularityModel, Product};
/// use clerk_core::store::DataStore;
///
/// # futures::executor::block_on(async {
/// let store = Arc::new(MemoryStore::new());
/// store.upsert_products(vec![Product::new("milk"), Product::new("bread")]).await.unwrap();
/// let model = PopularityModel::new().analyse(&Dataset::from_store(&*store).await.unwrap()).unwrap();
/// let engine = QueryEngine::new(store, model).await.unwrap();
/// let response = engine.query(Request::new(Query::Popular { category: None })).await.unwrap();
/// assert_eq!(response.model, "popularity");
/// let json = engine.handle_json(r#"{"kind": "popular", "limit": 3}"#).await;
/// assert!(json.starts_with("{\"items\""));
/// # });
/// ```
#[derive(Clone)]
pub struct QueryEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.snapshot();
        f.debug_struct("QueryEngine")
            .field("store", &self.inner.store.name())
            .field("model", &s.model.name())
            .field("version", &s.version)
            .field("products", &s.catalog.len())
            .finish()
    }
}

impl QueryEngine {
    /// An engine answering with `model`, reading the catalog and purchase index from `store` now. The analysis
    /// version is 0 until a saved analysis is installed ([`refresh`](Self::refresh)).
    pub async fn new(store: Arc<dyn DataStore>, model: Arc<dyn IntentModel>) -> Result<Self, QueryError> {
        let catalog = Catalog::from_store(&*store).await?;
        let history = History::from_store(&*store).await?;
        Ok(Self::from_parts(store, Snapshot::new(model, Arc::new(catalog), Arc::new(history), 0, Arc::default())))
    }

    /// The store's latest saved analysis newer than `current`, loaded with `template`'s
    /// [`IntentModel::load`], with its version.
    async fn saved_newer(
        store: &dyn DataStore,
        template: &dyn IntentModel,
        current: u64,
    ) -> Result<Option<(Arc<dyn IntentModel>, u64)>, QueryError> {
        let latest = store.analysis_version().await?;
        if latest <= current {
            return Ok(None);
        }
        let Some(saved) = store.load_analysis().await? else { return Ok(None) };
        if saved.model != template.name() || saved.format != template.format() {
            return Err(QueryError::Model(ModelError::Format {
                expected: format!("{} format {}", template.name(), template.format()),
                found: format!("{} format {}", saved.model, saved.format),
            }));
        }
        Ok(Some((template.load(&saved.bytes)?, saved.version)))
    }

    /// An engine that starts from the store's latest saved analysis (loaded with `template`'s
    /// [`IntentModel::load`]), or from `template` itself when nothing is saved yet.
    pub async fn from_saved(store: Arc<dyn DataStore>, template: Arc<dyn IntentModel>) -> Result<Self, QueryError> {
        // The catalog and purchase index are read once, after the analysis is loaded.
        let (model, version) = Self::saved_newer(&*store, &*template, 0).await?.unwrap_or((template, 0));
        let catalog = Catalog::from_store(&*store).await?;
        let history = History::from_store(&*store).await?;
        Ok(Self::from_parts(store, Snapshot::new(model, Arc::new(catalog), Arc::new(history), version, Arc::default())))
    }

    /// An engine over an already built snapshot (no store read).
    pub fn from_parts(store: Arc<dyn DataStore>, snapshot: Snapshot) -> Self {
        QueryEngine {
            inner: Arc::new(Inner {
                store,
                snapshot: RwLock::new(Arc::new(snapshot.warmed())),
                writer: std::sync::Mutex::new(()),
            }),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn swap(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot.warmed());
        *self.inner.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// Changes the snapshot with `f`, one change at a time (see [`Inner::writer`]).
    fn update(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        // The guarded value is `()`: a panic while it was held leaves nothing inconsistent.
        let _writer = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let next = f(&self.snapshot());
        self.swap(next);
    }

    /// The version of the installed analysis.
    pub fn version(&self) -> u64 {
        self.snapshot().version
    }

    /// The store the engine reads catalogs and analyses from.
    pub fn store(&self) -> &Arc<dyn DataStore> {
        &self.inner.store
    }

    /// Swaps in a newly analysed model and re-reads the catalog and purchase index from the store.
    pub async fn install(&self, model: Arc<dyn IntentModel>, version: u64) -> Result<(), QueryError> {
        let catalog = Arc::new(Catalog::from_store(&*self.inner.store).await?);
        let history = Arc::new(History::from_store(&*self.inner.store).await?);
        self.update(|current| Snapshot::new(model, catalog, history, version, current.blend.clone()));
        Ok(())
    }

    /// Swaps in a model, keeping the current catalog and purchase index.
    pub fn install_model(&self, model: Arc<dyn IntentModel>, version: u64) {
        self.update(|current| {
            current.with(|s| {
                s.model = model;
                s.version = version;
            })
        });
    }

    /// Installs the store's latest saved analysis when it is newer than the installed one; returns whether it
    /// did. This is how a running engine picks up a new analysis without a restart.
    pub async fn refresh(&self) -> Result<bool, QueryError> {
        let current = self.snapshot();
        let Some((model, version)) = Self::saved_newer(&*self.inner.store, &*current.model, current.version).await?
        else {
            return Ok(false);
        };
        self.install(model, version).await?;
        Ok(true)
    }

    /// Re-reads the catalog and purchase index from the store, keeping the model.
    pub async fn refresh_catalog(&self) -> Result<(), QueryError> {
        let catalog = Arc::new(Catalog::from_store(&*self.inner.store).await?);
        let history = Arc::new(History::from_store(&*self.inner.store).await?);
        self.update(|current| {
            current.with(|s| {
                s.catalog = catalog;
                s.history = history;
            })
        });
        Ok(())
    }

    /// The blend weights in use.
    pub fn blend(&self) -> Blend {
        (*self.snapshot().blend).clone()
    }

    /// Replaces the blend weights.
    pub fn set_blend(&self, blend: Blend) {
        self.update(|current| current.with(|s| s.blend = Arc::new(blend)));
    }

    /// Drops what is cached per snapshot from the model (rankings, `related` lists, `stats`); call after
    /// [`IntentModel::fold_in`] on the installed model.
    pub fn clear_caches(&self) {
        self.update(|current| current.with(|_| {}));
    }

    /// Answers a request.
    pub async fn query(&self, request: Request) -> Result<Response, QueryError> {
        self.query_now(&request)
    }

    /// Answers a request without awaiting: queries never wait on I/O, so this is [`query`](Self::query) for
    /// callers without an executor (benchmarks, synchronous hosts).
    pub fn query_now(&self, request: &Request) -> Result<Response, QueryError> {
        let snap = self.snapshot();
        answer(&snap, request)
    }
}

/// Answers `req` against one snapshot.
fn answer(snap: &Snapshot, req: &Request) -> Result<Response, QueryError> {
    req.validate()?;
    let filter = req.filter.as_deref().map(|text| snap.filter(text)).transpose()?;
    if let Query::Audience { .. } = req.query {
        return audience(snap, req);
    }
    let mut run = Run::new(snap, req, filter);
    let ctx = &req.context;
    let blend = &*snap.blend;
    for id in &ctx.basket {
        let k = run.keys.key(id);
        run.excluded.insert(k);
    }
    // Catalog products whose categories the category fallback reads.
    let mut category_seeds: Vec<u32> = Vec::new();
    let catalog = &*snap.catalog;
    let mut chain: Vec<Fallback> = Vec::new();
    match &req.query {
        Query::Alternatives { products } | Query::Complementary { products } | Query::MostSoldWith { products } => {
            let seeds = dedup(products, blend.max_seeds);
            let mut scores = Scores::new();
            let mut basket_seeds: Vec<(u32, f32)> = Vec::new();
            for &p in &seeds {
                let k = run.keys.key(p);
                run.excluded.insert(k);
                match &req.query {
                    Query::Alternatives { .. } => scores.add_resolved(
                        &mut run.keys,
                        &snap.related(p, Relation::Alternative),
                        blend.alternative,
                        Reason::Alternative,
                    ),
                    Query::Complementary { .. } => basket_seeds.push((k, 1.0)),
                    _ => scores.add_resolved(
                        &mut run.keys,
                        &snap.related(p, Relation::BoughtTogether),
                        1.0,
                        Reason::BoughtTogether,
                    ),
                }
                if !req.allow_fallback && !product_known(snap, p) {
                    return Err(QueryError::UnknownProduct { id: p.to_owned() });
                }
            }
            let customer = ctx.customer.as_deref().map(|c| resolve(snap, c));
            if let Query::Complementary { .. } = req.query {
                for b in dedup(&ctx.basket, blend.max_context_items) {
                    basket_seeds.push((run.keys.key(b), blend.basket));
                }
                complementary(snap, &mut run.keys, &mut scores, &basket_seeds, blend.together, blend.next);
                if let Some(c) = &customer {
                    let aff = affinity_keyed(snap, &mut run.keys, c, req.at);
                    scores.add_keyed(&aff, blend.customer_affinity, Reason::History, true);
                }
            } else if let Some(c) = &customer {
                let aff = affinity_keyed(snap, &mut run.keys, c, req.at);
                scores.boost_keyed(&aff, blend.customer_boost, Reason::History);
            }
            run.push_scores(scores, None);
            if !run.full() {
                category_seeds.extend(seeds.iter().filter_map(|id| catalog.index_of(id)));
                category_seeds.extend(ctx.basket.iter().filter_map(|id| catalog.index_of(id)));
            }
            chain.extend([Fallback::Category, Fallback::Popular]);
        }
        Query::CustomerPicks { customer }
        | Query::CustomerComplementary { customer }
        | Query::CustomerAlternatives { customer } => {
            let c = resolve(snap, customer);
            let aff = affinity_keyed(snap, &mut run.keys, &c, req.at);
            let bought: &[Bought] = c.index.map_or(&[], |i| snap.history.bought(i));
            if aff.is_empty() && bought.is_empty() && !req.allow_fallback {
                return Err(QueryError::UnknownCustomer { id: customer.clone() });
            }
            let seeds = history_seeds(snap, &mut run.keys, &c, &aff);
            let picks = matches!(req.query, Query::CustomerPicks { .. });
            if !picks {
                run.bought_affinity.extend(aff.iter().map(|&(k, _)| k));
                run.bought = Some(bought);
            }
            let mut scores = Scores::new();
            match &req.query {
                Query::CustomerPicks { .. } => {
                    if aff.is_empty() {
                        scores.add_keyed(&seeds, blend.picks_history, Reason::History, true);
                    } else {
                        scores.add_keyed(&aff, blend.picks_history, Reason::History, true);
                    }
                    let (t, n, same) = (blend.history_together, blend.history_next, blend.history_customers);
                    let share = blend.picks_complementary / (t + n + same).max(f32::MIN_POSITIVE);
                    let relations = [
                        (Relation::BoughtTogether, share * t),
                        (Relation::BoughtNext, share * n),
                        (Relation::SameCustomers, share * same),
                    ];
                    relations_of_set(snap, &mut run.keys, &mut scores, &seeds, &relations, true);
                    if blend.picks_similar > 0.0 {
                        let similar = similar_keyed(snap, &mut run.keys, &c, false);
                        scores.add_keyed(&similar, blend.picks_similar, Reason::SimilarCustomers, true);
                    }
                }
                Query::CustomerComplementary { .. } => {
                    // What customers like this one bought carries their whole taste; the complements of single
                    // history items and the best sellers answer for a customer without similar customers (new,
                    // or folded in since the last analysis).
                    let similar = if blend.discovery_similar > 0.0 {
                        similar_keyed(snap, &mut run.keys, &c, true)
                    } else {
                        Vec::new()
                    };
                    if similar.is_empty() {
                        let relations = [
                            (Relation::BoughtTogether, blend.history_together),
                            (Relation::BoughtNext, blend.history_next),
                            (Relation::SameCustomers, blend.history_customers),
                        ];
                        relations_of_set(snap, &mut run.keys, &mut scores, &seeds, &relations, false);
                        let popular = snap.ranking(Ranking::Popular);
                        let top = &popular[..popular.len().min(blend.depth)];
                        scores.add(&mut run.keys, top, blend.discovery_popular, Reason::Popular);
                    } else {
                        scores.add_keyed(&similar, blend.discovery_similar, Reason::SimilarCustomers, true);
                    }
                }
                _ if ctx.has_products() => {
                    for &(k, w) in &seeds {
                        let list = snap.related(run.keys.id(k), Relation::Alternative);
                        scores.add_resolved(&mut run.keys, &list, blend.alternative * w, Reason::Alternative);
                    }
                }
                _ => {
                    // Without a context every part is an alternative, so the reason is too and only the sums
                    // matter: one set look-up. What the history, exclusions and the filter remove is made up by
                    // asking again for four times as many until the page is full or the list is complete.
                    let mut limit = run.need.saturating_mul(4).saturating_add(req.exclude.len()).saturating_add(32);
                    loop {
                        let list =
                            set_keyed(snap, &mut run.keys, &seeds, Relation::Alternative, blend.seed_depth, limit);
                        if list.len() < limit || run.count_accepted(&list) >= run.need {
                            scores.add_keyed(&list, blend.alternative, Reason::Alternative, false);
                            break;
                        }
                        limit = limit.saturating_mul(4);
                    }
                }
            }
            let cold = scores.is_empty();
            let weight = if cold { 1.0 } else { blend.context_on_customer };
            context_signal(snap, &mut run.keys, &mut scores, ctx, weight);
            let step = (cold && !scores.is_empty()).then_some(Fallback::Context);
            if step.is_none() || req.allow_fallback {
                run.push_scores(scores, step);
            }
            // Only a page the primary signal left short reads the categories.
            if !run.full() {
                category_seeds.extend(seeds.iter().filter_map(|&(k, _)| run.keys.catalog_index(k)));
            }
            category_seeds
                .extend(ctx.viewed.iter().chain(&ctx.basket).chain(&ctx.clicks).filter_map(|id| catalog.index_of(id)));
            chain.extend([Fallback::Category, Fallback::Popular]);
        }
        Query::Visitor => {
            let mut scores = Scores::new();
            context_signal(snap, &mut run.keys, &mut scores, ctx, 1.0);
            if let Some(c) = ctx.customer.as_deref() {
                let c = resolve(snap, c);
                let aff = affinity_keyed(snap, &mut run.keys, &c, req.at);
                scores.add_keyed(&aff, blend.customer_affinity, Reason::History, true);
            }
            run.push_scores(scores, None);
            category_seeds
                .extend(ctx.viewed.iter().chain(&ctx.basket).chain(&ctx.clicks).filter_map(|id| catalog.index_of(id)));
            chain.extend([Fallback::Category, Fallback::Popular]);
        }
        Query::Popular { category } | Query::Trending { category } | Query::New { category } => {
            let cats = category.as_deref().map(|c| snap.catalog.category_closure(c));
            let (ranking, reason) = match req.query {
                Query::Popular { .. } => (Ranking::Popular, Reason::Popular),
                Query::Trending { .. } => (Ranking::Trending, Reason::Trending),
                _ => (Ranking::New, Reason::New),
            };
            run.push_ranking(None, reason, ranking, cats.as_deref());
            if ranking == Ranking::Trending && req.allow_fallback {
                run.push_ranking(Some(Fallback::Popular), Reason::Popular, Ranking::Popular, cats.as_deref());
            }
        }
        Query::Audience { .. } => {}
    }
    if req.allow_fallback {
        for step in chain {
            match step {
                Fallback::Category => {
                    let mut cats: Vec<u32> =
                        category_seeds.iter().flat_map(|&p| snap.catalog.categories_of(p).iter().copied()).collect();
                    cats.sort_unstable();
                    cats.dedup();
                    if !cats.is_empty() {
                        run.push_ranking(Some(step), Reason::Popular, Ranking::Popular, Some(&cats));
                    }
                }
                _ => run.push_ranking(Some(step), Reason::Popular, Ranking::Popular, None),
            }
        }
    }
    Ok(run.finish())
}

/// Whether the catalog, the orders or the model know a product.
fn product_known(snap: &Snapshot, id: &str) -> bool {
    snap.catalog.contains(id)
        || snap.history.knows_product(id)
        || [Relation::Alternative, Relation::BoughtTogether, Relation::BoughtNext]
            .into_iter()
            .any(|r| !snap.model.related(id, r, 1).is_empty())
}

/// The first `max` distinct ids, in order.
fn dedup(ids: &[String], max: usize) -> Vec<&str> {
    let mut seen = FxHashSet::default();
    ids.iter().map(String::as_str).filter(|id| seen.insert(*id)).take(max).collect()
}

/// Adds the `BoughtTogether` and `BoughtNext` products of a weighted set of seeds (a basket, a history), with
/// one set look-up per relation.
fn complementary(
    snap: &Snapshot,
    keys: &mut Keys<'_>,
    scores: &mut Scores,
    seeds: &[(u32, f32)],
    together: f32,
    next: f32,
) {
    let relations = [(Relation::BoughtTogether, together), (Relation::BoughtNext, next)];
    relations_of_set(snap, keys, scores, seeds, &relations, false);
}

/// Adds, for each `(relation, weight)`, the products related to the weighted `seeds` (one set look-up each);
/// lists are scaled so their best item counts `weight` when `normalise`, else taken as they are.
fn relations_of_set(
    snap: &Snapshot,
    keys: &mut Keys<'_>,
    scores: &mut Scores,
    seeds: &[(u32, f32)],
    relations: &[(Relation, f32)],
    normalise: bool,
) {
    if seeds.is_empty() {
        return;
    }
    let b = &snap.blend;
    let per_seed = if seeds.len() > 1 { b.seed_depth } else { b.depth };
    for &(relation, weight) in relations {
        let reason = match relation {
            Relation::BoughtTogether => Reason::BoughtTogether,
            Relation::BoughtNext => Reason::BoughtNext,
            Relation::Alternative => Reason::Alternative,
            Relation::SameCustomers => Reason::SameCustomers,
        };
        if weight > 0.0 {
            let list = set_keyed(snap, keys, seeds, relation, per_seed, b.depth);
            scores.add_keyed(&list, weight, reason, normalise);
        }
    }
}

/// Adds the viewed, clicked and basket signals of a context, times `weight`.
fn context_signal(snap: &Snapshot, keys: &mut Keys<'_>, scores: &mut Scores, ctx: &Context, weight: f32) {
    let b = &snap.blend;
    for (list, w) in [(&ctx.viewed, b.viewed), (&ctx.clicks, b.clicks)] {
        let recent: Vec<&str> = dedup_recent(list, b.max_context_items);
        for (k, id) in recent.into_iter().enumerate() {
            let w = weight * w * b.recency(k);
            let alternatives = snap.related(id, Relation::Alternative);
            scores.add_resolved(keys, &alternatives, w * b.viewed_alternative, Reason::Alternative);
            let together = snap.related(id, Relation::BoughtTogether);
            scores.add_resolved(keys, &together, w * b.viewed_together, Reason::BoughtTogether);
        }
    }
    let basket: Vec<(u32, f32)> =
        dedup(&ctx.basket, b.max_context_items).into_iter().map(|id| (keys.key(id), weight * b.basket)).collect();
    complementary(snap, keys, scores, &basket, b.together, b.next);
}

/// The most recent `max` distinct ids, most recent first.
fn dedup_recent(ids: &[String], max: usize) -> Vec<&str> {
    let mut seen = FxHashSet::default();
    ids.iter().rev().map(String::as_str).filter(|id| seen.insert(*id)).take(max).collect()
}

/// A customer as the model and the purchase index know them.
struct Customer {
    key: Arc<str>,
    index: Option<u32>,
}

fn resolve(snap: &Snapshot, given: &str) -> Customer {
    match snap.history.resolve(given) {
        Some(i) => Customer { key: snap.history.key(i).cloned().unwrap_or_else(|| Arc::from(given)), index: Some(i) },
        None if given.contains('@') => Customer { key: Arc::from(given.trim().to_lowercase()), index: None },
        None => Customer { key: Arc::from(given), index: None },
    }
}

/// A model's list by id as `(key, score)`.
fn keyed_by_id(keys: &mut Keys<'_>, list: &[Scored]) -> Vec<(u32, f32)> {
    list.iter().map(|s| (keys.key(&s.id), s.score)).collect()
}

/// A model's list in its dense indices as `(key, score)` (an index the model has no id for is dropped).
fn keyed_by_index(
    model: &dyn IntentModel,
    mk: &ModelKeys,
    keys: &mut Keys<'_>,
    list: Vec<(u32, f32)>,
) -> Vec<(u32, f32)> {
    list.into_iter().filter_map(|(i, score)| Some((keys.of_model(model, mk, i)?, score))).collect()
}

/// The customer's affinity (`customer_affinity`, `depth` items) as `(key, score)`: through the model's dense
/// indices when it has them.
fn affinity_keyed(snap: &Snapshot, keys: &mut Keys<'_>, c: &Customer, at: Option<Timestamp>) -> Vec<(u32, f32)> {
    let (model, mk, depth) = (&*snap.model, snap.model_keys(), snap.blend.depth);
    if mk.indexed() {
        keyed_by_index(model, mk, keys, model.customer_affinity_indexed(&c.key, at, depth))
    } else {
        keyed_by_id(keys, &model.customer_affinity(&c.key, at, depth))
    }
}

/// What the customer's most similar customers bought (`bought_by_similar`, `depth` items) as `(key, score)`.
fn similar_keyed(snap: &Snapshot, keys: &mut Keys<'_>, c: &Customer, new_only: bool) -> Vec<(u32, f32)> {
    let (model, mk, depth) = (&*snap.model, snap.model_keys(), snap.blend.depth);
    if mk.indexed() {
        keyed_by_index(model, mk, keys, model.bought_by_similar_indexed(&c.key, new_only, depth))
    } else {
        keyed_by_id(keys, &model.bought_by_similar(&c.key, new_only, depth))
    }
}

/// The model's `related_to_set` as `(key, score)`: through the model's dense indices when it has them (the
/// seeds the model does not know are dropped either way).
fn set_keyed(
    snap: &Snapshot,
    keys: &mut Keys<'_>,
    seeds: &[(u32, f32)],
    relation: Relation,
    per_seed: usize,
    limit: usize,
) -> Vec<(u32, f32)> {
    let (model, mk) = (&*snap.model, snap.model_keys());
    if mk.indexed() {
        let seeds: Vec<(u32, f32)> =
            seeds.iter().filter_map(|&(k, score)| Some((keys.to_model(model, mk, k)?, score))).collect();
        keyed_by_index(model, mk, keys, model.related_to_set_indexed(&seeds, relation, per_seed, limit))
    } else {
        let seeds: Vec<Scored> = seeds.iter().map(|&(k, score)| Scored { id: keys.shared_id(k), score }).collect();
        keyed_by_id(keys, &model.related_to_set(&seeds, relation, per_seed, limit))
    }
}

/// The customer's top history items as seeds `(key, weight)`, with weights in (0, 1]: from the model's affinity
/// when it has any, else from the purchase index by recency (then order count).
fn history_seeds(snap: &Snapshot, keys: &mut Keys<'_>, c: &Customer, aff: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let b = &snap.blend;
    if let Some(top) = aff.first().map(|s| s.1).filter(|s| *s > 0.0) {
        return aff.iter().take(b.history_seeds).map(|&(k, score)| (k, score / top)).collect();
    }
    let Some(i) = c.index else { return Vec::new() };
    let mut bought: Vec<_> = snap.history.bought(i).to_vec();
    bought.sort_unstable_by(|x, y| y.last.cmp(&x.last).then(y.orders.cmp(&x.orders)).then(x.product.cmp(&y.product)));
    bought
        .iter()
        .take(b.history_seeds)
        .enumerate()
        .filter_map(|(k, x)| snap.history.products().id(x.product).map(|id| (keys.key(id), b.recency(k))))
        .collect()
}

type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// One query's answer being assembled.
struct Run<'a> {
    snap: &'a Snapshot,
    req: &'a Request,
    filter: Option<Arc<FilterMemo>>,
    keys: Keys<'a>,
    excluded: FxHashSet<u32>,
    /// The customer's history (purchase index, sorted by product), excluded from discovery answers.
    bought: Option<&'a [Bought]>,
    /// The customer's affinity products, excluded from discovery answers.
    bought_affinity: FxHashSet<u32>,
    need: usize,
    /// The answer so far as `(key, score, reason)`: ids are looked up from the keys for the page only.
    out: Vec<(u32, f32, Reason)>,
    seen: FxHashSet<u32>,
    fallback: Option<Fallback>,
}

impl<'a> Run<'a> {
    fn new(snap: &'a Snapshot, req: &'a Request, filter: Option<Arc<FilterMemo>>) -> Self {
        let mut keys = snap.keys();
        let excluded = req.exclude.iter().map(|id| keys.key(id)).collect();
        let need = req.offset.saturating_add(req.limit);
        Run {
            snap,
            req,
            filter,
            keys,
            excluded,
            bought: None,
            bought_affinity: FxHashSet::default(),
            need,
            out: Vec::new(),
            seen: FxHashSet::default(),
            fallback: None,
        }
    }

    fn full(&self) -> bool {
        self.out.len() >= self.need
    }

    fn is_bought(&self, key: u32) -> bool {
        let Some(bought) = self.bought else { return false };
        self.bought_affinity.contains(&key)
            || self.keys.history_index(key).is_some_and(|h| bought.binary_search_by_key(&h, |b| b.product).is_ok())
    }

    fn accept(&self, key: u32) -> bool {
        !self.excluded.contains(&key)
            && !self.is_bought(key)
            && !self.seen.contains(&key)
            && self.keys.indexable(key)
            && self.filter.as_ref().is_none_or(|f| f.matches(key, &self.keys))
    }

    /// How many items of a list (distinct products) would be accepted now.
    fn count_accepted(&self, list: &[(u32, f32)]) -> usize {
        list.iter().filter(|&&(k, score)| score.is_finite() && score > 0.0 && self.accept(k)).count()
    }

    fn push(&mut self, key: u32, score: f32, reason: Reason, step: Option<Fallback>) {
        self.seen.insert(key);
        self.out.push((key, score, reason));
        if self.fallback.is_none() {
            self.fallback = step;
        }
    }

    /// Appends the blended candidates, best first (ties by id): only the head that can fill the page is sorted
    /// unless exclusions and the filter reject enough of it.
    fn push_scores(&mut self, scores: Scores, step: Option<Fallback>) {
        let mut v = scores.into_candidates();
        let head = self.need.saturating_sub(self.out.len()).saturating_mul(2).saturating_add(16);
        if v.len() > head {
            v.select_nth_unstable_by(head - 1, by_rank(&self.keys));
            v[..head].sort_unstable_by(by_rank(&self.keys));
            self.push_candidates(&v[..head], step);
            if !self.full() {
                v[head..].sort_unstable_by(by_rank(&self.keys));
                self.push_candidates(&v[head..], step);
            }
        } else {
            v.sort_unstable_by(by_rank(&self.keys));
            self.push_candidates(&v, step);
        }
    }

    fn push_candidates(&mut self, cands: &[Candidate], step: Option<Fallback>) {
        for c in cands {
            if self.full() {
                return;
            }
            if self.accept(c.key) {
                self.push(c.key, c.score, c.reason, step);
            }
        }
    }

    /// Appends a ranking (only its products in `categories`, when given), scaled below the last item listed so
    /// far.
    fn push_ranking(&mut self, step: Option<Fallback>, reason: Reason, ranking: Ranking, categories: Option<&[u32]>) {
        if self.full() {
            return;
        }
        let list = self.snap.ranking(ranking);
        let Some(top) = list.first().map(|s| s.score).filter(|s| s.is_finite() && *s > 0.0) else { return };
        let scale = match self.out.last() {
            Some(&(_, last, _)) => last * self.snap.blend.fallback_ceiling / top,
            None => 1.0,
        };
        let index = self.snap.rank_index(ranking);
        let take = |run: &mut Self, pos: u32| -> bool {
            if run.full() {
                return false;
            }
            let s = &list[pos as usize];
            if s.score.is_finite() && s.score > 0.0 {
                let k = match index.keys[pos as usize] {
                    NONE => run.keys.key(&s.id),
                    k => k,
                };
                if run.accept(k) {
                    run.push(k, s.score * scale, reason, step);
                }
            }
            true
        };
        match categories {
            None => {
                for pos in 0..list.len() as u32 {
                    if !take(self, pos) {
                        return;
                    }
                }
            }
            Some(cats) => {
                // With a filter, each category's positions that pass (remembered per snapshot): a category
                // the filter excludes is skipped instead of scanned.
                let memo = self.filter.clone();
                let slot = Snapshot::ranking_slot(ranking);
                let lists = cats
                    .iter()
                    .filter_map(|&c| {
                        let positions = index.by_category.get(c as usize)?;
                        Some(match &memo {
                            Some(m) => m.in_category(slot, c, positions, &index.keys, &self.keys).unwrap_or(positions),
                            None => positions.as_slice(),
                        })
                    })
                    .collect();
                for pos in Merge::new(lists) {
                    if !take(self, pos) {
                        return;
                    }
                }
            }
        }
    }

    fn finish(self) -> Response {
        let snap = self.snap;
        let keys = &self.keys;
        let items = self
            .out
            .into_iter()
            .skip(self.req.offset)
            .take(self.req.limit)
            .map(|(key, score, reason)| {
                let product = if self.req.include_product_data { keys.product(key).cloned() } else { None };
                Item { id: keys.shared_id(key), score, reason, product }
            })
            .collect();
        Response {
            items,
            customers: Vec::new(),
            analysis_version: snap.version,
            model: snap.model.name().to_owned(),
            fallback: self.fallback,
        }
    }
}

/// The last purchase time in `since..=until` of a customer's purchases of one product (sorted by time).
fn last_in(times: &[(u32, Timestamp)], since: Timestamp, until: Timestamp) -> Option<Timestamp> {
    let end = times.partition_point(|&(_, t)| t <= until);
    times[..end].last().map(|&(_, t)| t).filter(|&t| t >= since)
}

/// Customers for a product.
fn audience(snap: &Snapshot, req: &Request) -> Result<Response, QueryError> {
    let Query::Audience { product, segment, window } = &req.query else {
        return Err(QueryError::Internal("audience called for another kind".into()));
    };
    let history = &*snap.history;
    let stats = snap.stats();
    let n_all = history.customer_keys().len().max(stats.customers).saturating_add(1);
    let need = req.offset.saturating_add(req.limit);
    // `interested` lists the model's own ranking: ask for the page (and what the exclusions may remove), and
    // for everyone only when that came out short. The other segments score every customer.
    let mut ask = match segment {
        Segment::Interested => need.saturating_add(req.exclude.len()).max(1).min(n_all),
        _ => n_all,
    };
    let mut members = snap.model.audience(product, req.at, ask);
    let known = !members.is_empty() || snap.catalog.contains(product) || history.knows_product(product);
    if !known {
        return Err(QueryError::UnknownProduct { id: product.clone() });
    }
    let now = req.at.or(history.last_time()).or(stats.reference_time).unwrap_or_default();
    let mut since = window.since.unwrap_or(Timestamp::MIN);
    if let Some(d) = window.within_days {
        let secs = (d * clerk_core::domain::DAY as f64).min(1e15) as i64;
        since = since.max(Timestamp(now.secs().saturating_sub(secs)));
    }
    let until = window.until.unwrap_or(Timestamp::MAX);
    // Every purchase of the product as (customer, time), sorted: one customer's purchases are a run.
    let buyers = history.buyers(product);
    let purchases_of = |c: u32| {
        let lo = buyers.partition_point(|&(x, _)| x < c);
        let hi = lo + buyers[lo..].partition_point(|&(x, _)| x <= c);
        &buyers[lo..hi]
    };
    let excluded: HashSet<&str> = req.exclude.iter().map(String::as_str).collect();
    let mut out: Vec<CustomerItem> = Vec::new();
    match segment {
        Segment::Interested => loop {
            for m in &members {
                if m.score.is_finite() && !excluded.contains(&*m.customer) {
                    let last = m
                        .last_purchase
                        .or_else(|| history.resolve(&m.customer).and_then(|c| last_in(purchases_of(c), since, until)));
                    out.push(CustomerItem {
                        id: m.customer.clone(),
                        score: m.score,
                        reason: Reason::Interested,
                        last_purchase: last,
                    });
                }
            }
            if out.len() >= need || members.len() < ask || ask >= n_all {
                break;
            }
            out.clear();
            ask = n_all;
            members = snap.model.audience(product, req.at, ask);
        },
        Segment::Purchased | Segment::NotPurchased => {
            // Dense by purchase-index customer: the model's score (the last one listed for an id), and whether
            // the request excludes them.
            let n = history.customer_keys().len();
            let mut score_of: Vec<f32> = vec![0.0; n];
            let mut others: FxHashMap<Arc<str>, f32> = FxHashMap::default();
            for m in members.into_iter().filter(|m| m.score.is_finite()) {
                match history.index_of_key(&m.customer) {
                    Some(c) => score_of[c as usize] = m.score,
                    None => {
                        others.insert(m.customer, m.score);
                    }
                }
            }
            let mut is_excluded = vec![false; n];
            for id in &req.exclude {
                if let Some(c) = history.index_of_key(id) {
                    is_excluded[c as usize] = true;
                }
            }
            // Per customer who bought: the last purchase ever and inside the window.
            let mut ever: Vec<Option<Timestamp>> = vec![None; n];
            let mut in_window: Vec<Option<Timestamp>> = vec![None; n];
            for run in buyers.chunk_by(|a, b| a.0 == b.0) {
                let c = run[0].0 as usize;
                ever[c] = run.last().map(|&(_, t)| t);
                in_window[c] = last_in(run, since, until);
            }
            let keys = history.customer_keys();
            if *segment == Segment::Purchased {
                for (c, t) in in_window.iter().enumerate() {
                    if let (Some(t), false) = (t, is_excluded[c]) {
                        out.push(CustomerItem {
                            id: keys[c].clone(),
                            score: score_of[c],
                            reason: Reason::Purchased,
                            last_purchase: Some(*t),
                        });
                    }
                }
            } else {
                // Rank by (score, id) first and build items only for the page.
                let mut picked: Vec<(f32, u32)> = (0..n)
                    .filter(|&c| in_window[c].is_none() && !is_excluded[c])
                    .map(|c| (score_of[c], c as u32))
                    .collect();
                let cmp = |a: &(f32, u32), b: &(f32, u32)| {
                    b.0.total_cmp(&a.0).then_with(|| keys[a.1 as usize].cmp(&keys[b.1 as usize]))
                };
                if need < picked.len() && need > 0 {
                    picked.select_nth_unstable_by(need - 1, cmp);
                    picked.truncate(need);
                }
                out.extend(picked.into_iter().map(|(score, c)| CustomerItem {
                    id: keys[c as usize].clone(),
                    score,
                    reason: Reason::NotPurchased,
                    last_purchase: ever[c as usize],
                }));
                for (id, score) in others {
                    if history.resolve(&id).is_none() && !excluded.contains(&*id) {
                        out.push(CustomerItem { id, score, reason: Reason::NotPurchased, last_purchase: None });
                    }
                }
            }
        }
    }
    let end = need.min(out.len());
    let cmp = |a: &CustomerItem, b: &CustomerItem| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id));
    if end < out.len() && end > 0 {
        out.select_nth_unstable_by(end - 1, cmp);
        out.truncate(end);
    }
    out.sort_unstable_by(cmp);
    let customers = out.into_iter().skip(req.offset).take(req.limit).collect();
    Ok(Response {
        items: Vec::new(),
        customers,
        analysis_version: snap.version,
        model: snap.model.name().to_owned(),
        fallback: None,
    })
}
