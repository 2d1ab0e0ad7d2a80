//! ClerkCore: the reference [`IntentModel`], a sparse-matrix analysis of orders and catalog.
//!
//! It pre-computes, per product, the products bought together (order-level co-occurrence filtered by Dunning's
//! log-likelihood ratio), bought next (the same customer's later orders within a window), and alternatives
//! (same need in the catalog, shared buyers, rarely the same basket); per customer, a time-decayed affinity to
//! each product bought, with repurchase cycles; and popularity, trending and new rankings.

mod affinity;
mod analysis;
mod counts;
mod fold_in;
mod llr;
mod parallel;
mod relations;
mod settings;
mod similar;
mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use serde::{Deserialize, Serialize};

pub use llr::{llr, signed_llr};
pub use settings::Settings;

use self::analysis::decay;
use self::relations::{listed_count, rows_with, ALTERNATIVE, NEXT, SAME_CUSTOMERS, TOGETHER};
use self::state::State;
use crate::data::Dataset;
use crate::domain::{Order, Timestamp, DAY};
use crate::model::{AudienceMember, FoldInStats, IntentModel, ModelError, ModelStats, Ranking, Relation, Scored};

// 2: similar customers, and their setting. 3: symmetric pair counts held once per pair.
const FORMAT: u32 = 3;
const NAME: &str = "clerk-core";

/// The reference intent model. See the [module documentation](self).
#[derive(Debug, Default)]
pub struct ClerkCore {
    settings: Settings,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: State,
    /// Reverse of the bought-together, bought-next and same-customers lists: who leads to each product, sorted
    /// by source.
    incoming: Vec<Vec<Lead>>,
    /// Per product: its buyers, sorted (their history item is found by binary search: positions would shift
    /// with every fold-in).
    buyers_of: Vec<Vec<u32>>,
    /// Per product: each buyer's history item for it, in the order of `buyers_of` (a copy fold-in keeps in
    /// step). An audience reads the items of every buyer of hundreds of products; found in the buyers'
    /// histories, each cost a search with a cache miss per step, here they are read in a row.
    buyer_items: Vec<Vec<state::HistItem>>,
    /// Reverse of the similar customers: per customer, the customers who count them as similar, with the
    /// similarity.
    similar_to: Vec<Vec<(u32, f32)>>,
    /// Whether no product has more repeat buyers than buyers (so its repeat rate is at most 1), which lets an
    /// affinity bound a history item's score without reading the product's counts. True of every analysis
    /// and kept by fold-in (a repeat buyer is a buyer); checked once because a loaded state is only
    /// validated for its shape.
    rates_bounded: bool,
    /// The working lists of fold-ins, kept from one to the next.
    fold_changes: fold_in::Changes,
}

impl Inner {
    fn new(mut state: State) -> Self {
        state.rank_ids();
        let rates_bounded = state.repeat_buyers.iter().zip(&state.buyers).all(|(r, b)| r <= b);
        let mut inner = Inner {
            state,
            incoming: Vec::new(),
            buyers_of: Vec::new(),
            buyer_items: Vec::new(),
            similar_to: Vec::new(),
            rates_bounded,
            fold_changes: fold_in::Changes::with_room(),
        };
        inner.rebuild_derived();
        inner
    }

    fn rebuild_derived(&mut self) {
        let s = &self.state;
        let n = s.n_products();
        let mut incoming: Vec<Vec<Lead>> = vec![Vec::new(); n];
        for (slot, &kind) in AUDIENCE_KINDS.iter().enumerate() {
            for (i, row) in s.related[kind].iter().enumerate() {
                let i = i as u32;
                let n_i = rows_with(s, kind, i);
                for &(j, x) in row {
                    let mut counts = [0; 3];
                    counts[slot] = listed_count(s, kind, i, j, x, n_i);
                    incoming[j as usize].push(Lead { source: i, counts });
                }
            }
        }
        for list in &mut incoming {
            list.sort_by_key(|l| l.source);
            // A product in several lists of another is one lead, with a count per list.
            list.dedup_by(|later, kept| {
                let same = later.source == kept.source;
                if same {
                    for (k, l) in kept.counts.iter_mut().zip(later.counts) {
                        *k = (*k).max(l);
                    }
                }
                same
            });
        }
        let mut buyers_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut buyer_items: Vec<Vec<state::HistItem>> = vec![Vec::new(); n];
        for (c, hist) in s.history.iter().enumerate() {
            for h in hist {
                buyers_of[h.product as usize].push(c as u32);
                buyer_items[h.product as usize].push(*h);
            }
        }
        let mut similar_to: Vec<Vec<(u32, f32)>> = vec![Vec::new(); s.customers.len()];
        for (u, row) in s.similar.iter().enumerate() {
            for &(v, sim) in row {
                similar_to[v as usize].push((u as u32, sim));
            }
        }
        self.incoming = incoming;
        self.buyers_of = buyers_of;
        self.buyer_items = buyer_items;
        self.similar_to = similar_to;
    }
}

/// One product leading to another: the source, and the pair's count in each of the [`AUDIENCE_KINDS`] lists
/// of the source that hold the other (0 when not listed). Counts, not scores: the scores move with the
/// source's denominator at every order holding it, counts only when the pair itself moves, so a fold-in
/// updates few leads.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lead {
    source: u32,
    counts: [u32; 3],
}

impl Lead {
    /// The source's best score for the product over the lists holding it: the score those lists show.
    fn score(&self, s: &State) -> f32 {
        let mut best = 0.0f32;
        for (&c, &kind) in self.counts.iter().zip(&AUDIENCE_KINDS) {
            if c > 0 {
                best = best.max(relations::score(c, rows_with(s, kind, self.source)));
            }
        }
        best
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    settings: Settings,
    state: State,
}

impl ClerkCore {
    /// A fresh (un-analysed) model with `settings`.
    pub fn new(settings: Settings) -> Self {
        ClerkCore { settings, inner: RwLock::default() }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Analyses `data` and returns the analysed model (the concrete type, for callers that need it).
    pub fn analysed(&self, data: &Dataset) -> ClerkCore {
        let state = analysis::analyse(data, &self.settings);
        ClerkCore { settings: self.settings.clone(), inner: RwLock::new(Inner::new(state)) }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The relations whose reverse ("who leads to this product") scores audiences.
const AUDIENCE_KINDS: [usize; 3] = [TOGETHER, NEXT, SAME_CUSTOMERS];

/// The most "leads to" sources an audience reads, strongest first.
const AUDIENCE_SOURCES: usize = 200;

/// What set look-ups reuse on one thread, so that a query allocates nothing proportional to the catalog.
#[derive(Default)]
struct Scratch {
    /// Dense sums by product index, all zero between look-ups.
    sums: Vec<f32>,
    /// The products a look-up reached, as bits, all zero between look-ups.
    seen: Vec<u64>,
    /// The indices of `sums` a look-up made non-zero.
    touched: Vec<u32>,
    /// The look-up's seeds as product indices.
    seeds: Vec<(u32, f32)>,
}

/// See `AFFINITY_SCRATCH`.
type AffinityScratch = (Vec<(u32, f32, f32)>, Vec<u32>);

/// Buckets of [`low_bucket`]: the top 11 bits below the sign of a non-negative f32 (its exponent and 3 mantissa
/// bits), so a bucket spans at most 1/8 of its lower edge.
const LOW_BUCKETS: usize = 1 << 11;

/// The bucket of a non-negative float: monotone in the value (the bits of non-negative floats order as they do).
fn low_bucket(x: f32) -> usize {
    (x.to_bits() >> 20) as usize & (LOW_BUCKETS - 1)
}

thread_local! {
    /// Per-customer scores and last purchases of an audience, reused across queries on this thread.
    static AUDIENCE_SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<Option<i64>>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };

    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());

    /// One affinity's indexable history items (positions in the history) with their score bounds, and how many
    /// lower bounds fall in each of [`LOW_BUCKETS`].
    static AFFINITY_SCRATCH: std::cell::RefCell<AffinityScratch> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The products related by relation `kind` to weighted seeds (product indices): each seed's best `per_seed`
/// partners, summed weighted in seed order, the seeds themselves and non-indexable products left out; the best
/// `limit`, ranked. `sums` must be all zero (and is left so) and `touched` empty.
fn set_top(
    s: &State,
    kind: usize,
    seeds: &[(u32, f32)],
    per_seed: usize,
    limit: usize,
    sums: &mut Vec<f32>,
    touched: &mut Vec<u32>,
) -> Vec<(u32, f32)> {
    if sums.len() < s.n_products() {
        sums.resize(s.n_products(), 0.0);
    }
    for &(p, w) in seeds {
        let row = s.related[kind].get(p as usize).map_or(&[][..], Vec::as_slice);
        for &(j, score) in row.iter().take(per_seed) {
            let sum = &mut sums[j as usize];
            if *sum == 0.0 {
                touched.push(j);
            }
            *sum += w * score;
        }
    }
    for &(p, _) in seeds {
        sums[p as usize] = 0.0;
    }
    let sums = &mut sums[..];
    let kept = relations::top_of(
        s,
        touched.iter().filter_map(|&j| {
            // Reset while reading: the next look-up finds the sums zero.
            let x = std::mem::replace(&mut sums[j as usize], 0.0);
            (x > 0.0 && x.is_finite() && s.indexable[j as usize]).then_some((j, x))
        }),
        limit,
    );
    touched.clear();
    kept
}

/// `related_to_set` over product indices: the seeds with a positive, finite weight, in their order.
fn related_to_seeds(
    s: &State,
    seeds: impl Iterator<Item = (u32, f32)>,
    relation: Relation,
    per_seed: usize,
    limit: usize,
) -> Vec<(u32, f32)> {
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Scratch { sums, touched, seeds: seed_ids, .. } = &mut *scratch;
        seed_ids.clear();
        seed_ids.extend(seeds.filter(|&(_, w)| w.is_finite() && w > 0.0));
        set_top(s, relation_index(relation), seed_ids, per_seed, limit, sums, touched)
    })
}

/// `customer_affinity` over product indices.
///
/// A long history (thousands of products on a real grocery) is cut before it is scored: each item's score lies
/// between bounds computed from the item alone ([`affinity::Scorer::bounds`]), so an item whose upper bound is
/// below a floor under the `limit`-th best lower bound cannot be in the answer and is never scored (scoring reads
/// per-product counts, a cache miss each, when the repeat and due weights are set) nor ranked. The answer is the
/// one scoring every item gives.
fn affinity_of(
    inner: &Inner,
    settings: &Settings,
    customer: &str,
    at: Option<Timestamp>,
    limit: usize,
) -> Vec<(u32, f32)> {
    let s = &inner.state;
    let Some(c) = s.customers.get(customer) else { return Vec::new() };
    if limit == 0 {
        return Vec::new();
    }
    let scorer = affinity::Scorer::new(s, settings, at.map_or(s.latest, Timestamp::secs));
    let hist = &s.history[c as usize];
    AFFINITY_SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (items, counts) = &mut *scratch;
        // The indexable items with their bounds, and the floor under the `limit`-th best score.
        items.clear();
        items.extend(hist.iter().enumerate().filter(|(_, h)| s.indexable[h.product as usize]).map(|(k, h)| {
            let (low, high) = scorer.bounds(h);
            (k as u32, low, high)
        }));
        let mut cut = 0.0f32;
        if inner.rates_bounded && items.len() > limit.saturating_mul(2) {
            // The lower edge of the bucket holding the `limit`-th best lower bound: at least `limit` items score
            // at least this, so anything scoring below it is out. One counting pass, where selecting the exact
            // bound would cost a selection over the whole history; the bucket's other items are scored too.
            counts.clear();
            counts.resize(LOW_BUCKETS, 0);
            for x in items.iter() {
                counts[low_bucket(x.1)] += 1;
            }
            let mut seen = 0usize;
            for b in (1..LOW_BUCKETS).rev() {
                seen += counts[b] as usize;
                if seen >= limit {
                    cut = f32::from_bits((b as u32) << 20);
                    break;
                }
            }
        }
        let v: Vec<(u32, f32)> = items
            .iter()
            .filter(|x| cut == 0.0 || x.2 >= cut)
            .map(|x| &hist[x.0 as usize])
            .map(|h| (h.product, scorer.score(h)))
            .filter(|&(_, score)| score > 0.0)
            .collect();
        relations::top(s, v, limit)
    })
}

/// `bought_by_similar` over product indices.
fn similar_of(inner: &Inner, settings: &Settings, customer: &str, new_only: bool, limit: usize) -> Vec<(u32, f32)> {
    let s = &inner.state;
    let Some(c) = s.customers.get(customer) else { return Vec::new() };
    let pick = |lists: &similar::SimilarLists| -> Vec<(u32, f32)> {
        let list = if new_only { &lists.new } else { &lists.all };
        list.iter().copied().filter(|&(p, _)| s.indexable[p as usize]).take(limit).collect()
    };
    if let Some(lists) = s.similar_lists.get(c as usize) {
        return pick(lists);
    }
    // A customer first seen in a fold-in has no neighbours from the analysis: find them now, from the same
    // cosine over the buyers of their few products.
    let neighbours = similar::neighbours_of(&s.history, &inner.buyers_of, c, settings);
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Scratch { sums, seen, touched, .. } = &mut *scratch;
        let lists = similar::bought_by_neighbours(s, c, &neighbours, settings.similar_products, sums, seen, touched);
        pick(&lists)
    })
}

fn relation_index(relation: Relation) -> usize {
    match relation {
        Relation::BoughtTogether => TOGETHER,
        Relation::BoughtNext => NEXT,
        Relation::Alternative => ALTERNATIVE,
        Relation::SameCustomers => SAME_CUSTOMERS,
    }
}

fn scored(s: &State, v: impl IntoIterator<Item = (u32, f32)>) -> Vec<Scored> {
    v.into_iter().map(|(p, score)| Scored { id: s.products.ids()[p as usize].clone(), score }).collect()
}

impl IntentModel for ClerkCore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn format(&self) -> u32 {
        FORMAT
    }

    fn analyse(&self, data: &Dataset) -> Result<Arc<dyn IntentModel>, ModelError> {
        Ok(Arc::new(self.analysed(data)))
    }

    fn fold_in(&self, orders: &[Order]) -> Result<FoldInStats, ModelError> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        Ok(fold_in::fold_in(&mut inner, &self.settings, orders))
    }

    fn related(&self, product: &str, relation: Relation, limit: usize) -> Vec<Scored> {
        let inner = self.read();
        let s = &inner.state;
        let Some(p) = s.products.get(product) else { return Vec::new() };
        let kind = relation_index(relation);
        let row = s.related[kind].get(p as usize).map_or(&[][..], Vec::as_slice);
        scored(s, row.iter().copied().filter(|&(j, _)| s.indexable[j as usize] && j != p).take(limit))
    }

    fn related_to_set(&self, seeds: &[Scored], relation: Relation, per_seed: usize, limit: usize) -> Vec<Scored> {
        let inner = self.read();
        let s = &inner.state;
        let seeds = seeds.iter().filter_map(|x| s.products.get(&x.id).map(|p| (p, x.score)));
        scored(s, related_to_seeds(s, seeds, relation, per_seed, limit))
    }

    fn customer_affinity(&self, customer: &str, at: Option<Timestamp>, limit: usize) -> Vec<Scored> {
        let inner = self.read();
        scored(&inner.state, affinity_of(&inner, &self.settings, customer, at, limit))
    }

    fn product_count(&self) -> usize {
        self.read().state.n_products()
    }

    fn product_index(&self, id: &str) -> Option<u32> {
        self.read().state.products.get(id)
    }

    fn product_id(&self, index: u32) -> Option<Arc<str>> {
        self.read().state.products.id(index).cloned()
    }

    fn related_to_set_indexed(
        &self,
        seeds: &[(u32, f32)],
        relation: Relation,
        per_seed: usize,
        limit: usize,
    ) -> Vec<(u32, f32)> {
        let inner = self.read();
        let s = &inner.state;
        // An index the model does not have is no seed, as an unknown id is none in `related_to_set`.
        let seeds = seeds.iter().copied().filter(|&(p, _)| (p as usize) < s.n_products());
        related_to_seeds(s, seeds, relation, per_seed, limit)
    }

    fn customer_affinity_indexed(&self, customer: &str, at: Option<Timestamp>, limit: usize) -> Vec<(u32, f32)> {
        affinity_of(&self.read(), &self.settings, customer, at, limit)
    }

    fn bought_by_similar(&self, customer: &str, new_only: bool, limit: usize) -> Vec<Scored> {
        let inner = self.read();
        scored(&inner.state, similar_of(&inner, &self.settings, customer, new_only, limit))
    }

    fn bought_by_similar_indexed(&self, customer: &str, new_only: bool, limit: usize) -> Vec<(u32, f32)> {
        similar_of(&self.read(), &self.settings, customer, new_only, limit)
    }

    fn audience(&self, product: &str, at: Option<Timestamp>, limit: usize) -> Vec<AudienceMember> {
        let inner = self.read();
        let s = &inner.state;
        let Some(y) = s.products.get(product) else { return Vec::new() };
        let at = at.map_or(s.latest, Timestamp::secs);
        let settings = &self.settings;
        let scorer = affinity::Scorer::new(s, settings, at);
        let n = s.customers.len();
        AUDIENCE_SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let (scores, last) = &mut *scratch;
            scores.clear();
            scores.resize(n, 0.0);
            last.clear();
            last.resize(n, None);
            // Every customer, by how much they shop: the prior that breaks ties among the rest.
            if settings.audience_activity_weight > 0.0 {
                let shift = decay(at - s.reference, settings.half_life_days);
                let top = s.activity.iter().copied().fold(0.0f32, f32::max).max(f32::MIN_POSITIVE);
                let w = settings.audience_activity_weight as f32 / top;
                for (score, &a) in scores.iter_mut().zip(&s.activity) {
                    *score = w * a * shift;
                }
            }
            // Customers who lead to the product: they bought what is bought with it or before it. The strongest
            // sources carry the signal; a best seller's thousands of weak ones only cost time.
            let mut sources: Vec<(u32, f32)> =
                inner.incoming[y as usize].iter().map(|l| (l.source, l.score(s))).collect();
            if sources.len() > AUDIENCE_SOURCES {
                sources.select_nth_unstable_by(AUDIENCE_SOURCES, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                sources.truncate(AUDIENCE_SOURCES);
                sources.sort_unstable_by_key(|e| e.0);
            }
            let related_weight = settings.audience_related_weight as f32;
            for &(i, rel) in &sources {
                let i = i as usize;
                for (&c, h) in inner.buyers_of[i].iter().zip(&inner.buyer_items[i]) {
                    scores[c as usize] += related_weight * rel * scorer.score(h);
                }
            }
            // Customers whose most similar customers buy it.
            let similar_weight = settings.audience_similar_weight as f32;
            if similar_weight > 0.0 {
                for &v in &inner.buyers_of[y as usize] {
                    for &(u, sim) in inner.similar_to.get(v as usize).map_or(&[][..], Vec::as_slice) {
                        scores[u as usize] += similar_weight * sim;
                    }
                }
            }
            // Customers who buy it themselves, the more so when due.
            for (&c, h) in inner.buyers_of[y as usize].iter().zip(&inner.buyer_items[y as usize]) {
                scores[c as usize] += settings.audience_own_weight as f32 * scorer.score(h);
                last[c as usize] = Some(h.last);
            }
            let ids = s.customers.ids();
            let by = |a: &(u32, f32), b: &(u32, f32)| {
                b.1.total_cmp(&a.1).then_with(|| ids[a.0 as usize].cmp(&ids[b.0 as usize]))
            };
            let mut v: Vec<(u32, f32)> = scores
                .iter()
                .enumerate()
                .filter(|(_, sc)| sc.is_finite() && **sc > 0.0)
                .map(|(c, &sc)| (c as u32, sc))
                .collect();
            if v.len() > limit {
                v.select_nth_unstable_by(limit, by);
                v.truncate(limit);
            }
            v.sort_unstable_by(by);
            v.into_iter()
                .map(|(c, score)| AudienceMember {
                    customer: ids[c as usize].clone(),
                    score,
                    last_purchase: last[c as usize].map(Timestamp),
                })
                .collect()
        })
    }

    fn ranking(&self, ranking: Ranking, limit: usize) -> Vec<Scored> {
        let inner = self.read();
        let s = &inner.state;
        let settings = &self.settings;
        let n = s.n_products() as u32;
        let mut v: Vec<(u32, f32)> = match ranking {
            Ranking::Popular => {
                let now = decay(s.latest - s.reference, settings.popularity_half_life_days);
                (0..n).map(|p| (p, s.popularity[p as usize] * now)).collect()
            }
            Ranking::Trending => {
                let ratio = settings.trending_recent_days / settings.trending_baseline_days;
                let prior = settings.trending_prior;
                (0..n)
                    .filter(|&p| s.recent[p as usize] > 0)
                    .map(|p| {
                        let recent = f64::from(s.recent[p as usize]);
                        let expected = f64::from(s.baseline[p as usize]) * ratio;
                        // Smoothed growth: a product with 2 sales and no baseline stays near 1.
                        (p, ((recent + prior) / (expected + prior)) as f32)
                    })
                    .collect()
            }
            Ranking::New => {
                let newest = s.created.iter().flatten().max().copied().unwrap_or(0);
                (0..n)
                    .filter_map(|p| s.created[p as usize].map(|t| (p, 1.0 / (1.0 + (newest - t) as f32 / DAY as f32))))
                    .collect()
            }
        };
        v.retain(|&(p, score)| s.indexable[p as usize] && score > 0.0 && score.is_finite());
        scored(s, relations::top(s, v, limit))
    }

    fn stats(&self) -> ModelStats {
        let inner = self.read();
        let s = &inner.state;
        ModelStats {
            products: s.n_products(),
            customers: s.customers.len(),
            orders: s.orders as usize,
            relations: s.related.iter().flatten().map(Vec::len).sum(),
            reference_time: (s.orders > 0).then_some(Timestamp(s.latest)),
        }
    }

    fn save(&self) -> Result<Vec<u8>, ModelError> {
        let inner = self.read();
        // Settings travel with the state: a loaded analysis answers as it was computed.
        let saved = SavedRef { settings: &self.settings, state: &inner.state };
        postcard::to_stdvec(&saved).map_err(|e| ModelError::Corrupt(e.to_string()))
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn IntentModel>, ModelError> {
        let saved: Saved = postcard::from_bytes(bytes).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        saved.state.validate().map_err(ModelError::Corrupt)?;
        Ok(Arc::new(ClerkCore { settings: saved.settings, inner: RwLock::new(Inner::new(saved.state)) }))
    }
}

#[derive(Serialize)]
struct SavedRef<'a> {
    settings: &'a Settings,
    state: &'a State,
}
