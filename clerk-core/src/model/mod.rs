//! The `IntentModel` seam: what an analysis computes and how the query engine asks for it.
//!
//! [`crate::clerk::ClerkCore`] is the reference implementation and [`PopularityModel`] a deliberately simple
//! baseline. A host plugs its own model by implementing [`IntentModel`].

mod popularity;
#[cfg(test)]
mod tests;
mod types;

use std::fmt::Debug;
use std::sync::Arc;

pub use popularity::PopularityModel;
pub use types::{AudienceMember, FoldInStats, ModelError, ModelStats, Ranking, Relation, Scored};

use crate::data::Dataset;
use crate::domain::{Order, Timestamp};

/// A model of customer intent: an analysis of a shop and the look-ups the query engine combines.
///
/// # Contract
/// - A model value is both its settings and its analysed state. A fresh value (before any analysis) answers
///   every look-up with nothing. [`analyse`](Self::analyse) returns a new, analysed model with the same settings;
///   the old one keeps answering until the caller swaps it, so queries never wait on an analysis.
/// - [`fold_in`](Self::fold_in) updates the model in place for new orders (interior mutability); a look-up sees
///   either all or none of one fold-in.
/// - Look-ups never return a product marked `index: false`, never return the queried product itself, and
///   return scores that are finite and sorted best first (ties by id).
/// - Scores of one relation are comparable across query products (ClerkCore's bought-together and bought-next
///   scores are conditional probabilities), because the query engine sums the lists of several products of a
///   basket as they are. Affinity scores need only be comparable within one customer.
/// - [`save`](Self::save) and [`load`](Self::load) round-trip the analysed state exactly.
/// - Results are deterministic for the same data and settings.
pub trait IntentModel: Send + Sync + Debug + 'static {
    /// The model's name, stored with saved analyses.
    fn name(&self) -> &'static str;

    /// The version of the layout [`save`](Self::save) writes.
    fn format(&self) -> u32;

    /// A full analysis of `data`: a new model with this model's settings.
    fn analyse(&self, data: &Dataset) -> Result<Arc<dyn IntentModel>, ModelError>;

    /// Folds new orders into the analysis without a full re-analysis.
    fn fold_in(&self, orders: &[Order]) -> Result<FoldInStats, ModelError>;

    /// Products related to `product` by `relation`, best first, at most `limit`.
    fn related(&self, product: &str, relation: Relation, limit: usize) -> Vec<Scored>;

    /// Products related to a weighted set of products (a basket, a customer's history): the sum over the seeds
    /// of `weight x score` of each seed's `relation` list (its best `per_seed`), without the seeds themselves,
    /// best first, at most `limit`. The default asks [`related`](Self::related) once per seed; a model with dense
    /// indices can do better.
    fn related_to_set(&self, seeds: &[Scored], relation: Relation, per_seed: usize, limit: usize) -> Vec<Scored> {
        let mut sums: std::collections::HashMap<Arc<str>, f32> = std::collections::HashMap::new();
        for seed in seeds.iter().filter(|s| s.score.is_finite() && s.score > 0.0) {
            for r in self.related(&seed.id, relation, per_seed) {
                *sums.entry(r.id).or_default() += seed.score * r.score;
            }
        }
        for seed in seeds {
            sums.remove(&seed.id);
        }
        let mut v: Vec<Scored> = sums
            .into_iter()
            .filter(|(_, s)| s.is_finite() && *s > 0.0)
            .map(|(id, score)| Scored { id, score })
            .collect();
        v.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        v.truncate(limit);
        v
    }

    /// The products `customer` has bought, scored by how likely they buy each again at `at` (the model's own
    /// reference time when `None`): repeat, recency and due-ness. Best first, at most `limit`.
    fn customer_affinity(&self, customer: &str, at: Option<Timestamp>, limit: usize) -> Vec<Scored>;

    /// How many products the model has dense indices for (`0..product_count()`), for callers that combine many
    /// look-ups and would rather not hash and clone an id per listed product. The default, 0, means the model
    /// has no dense indices: callers then use the id look-ups only.
    ///
    /// An index names the same product for the life of the model value: [`fold_in`](Self::fold_in) may only add
    /// indices at the end, so a caller may keep its own tables by index between fold-ins.
    fn product_count(&self) -> usize {
        0
    }

    /// The dense index of a product id, `None` when the model does not know the product (or has no indices).
    fn product_index(&self, id: &str) -> Option<u32> {
        let _ = id;
        None
    }

    /// The id of the product at a dense index, the inverse of [`product_index`](Self::product_index).
    fn product_id(&self, index: u32) -> Option<Arc<str>> {
        let _ = index;
        None
    }

    /// [`related_to_set`](Self::related_to_set) over dense indices: seeds and answer are `(index, score)` pairs,
    /// with the same answer in the same order. The default translates through
    /// [`product_id`](Self::product_id) and [`product_index`](Self::product_index); a model with dense
    /// indices answers without touching an id.
    fn related_to_set_indexed(
        &self,
        seeds: &[(u32, f32)],
        relation: Relation,
        per_seed: usize,
        limit: usize,
    ) -> Vec<(u32, f32)> {
        let seeds: Vec<Scored> =
            seeds.iter().filter_map(|&(p, score)| Some(Scored { id: self.product_id(p)?, score })).collect();
        self.related_to_set(&seeds, relation, per_seed, limit)
            .into_iter()
            .filter_map(|s| Some((self.product_index(&s.id)?, s.score)))
            .collect()
    }

    /// [`customer_affinity`](Self::customer_affinity) as `(index, score)` pairs, with the same answer in the
    /// same order. The default translates through [`product_index`](Self::product_index).
    fn customer_affinity_indexed(&self, customer: &str, at: Option<Timestamp>, limit: usize) -> Vec<(u32, f32)> {
        self.customer_affinity(customer, at, limit)
            .into_iter()
            .filter_map(|s| Some((self.product_index(&s.id)?, s.score)))
            .collect()
    }

    /// Products bought by the customers most similar to `customer` (by what they buy), scored by the summed
    /// similarity of the similar customers who bought each, best first, at most `limit`: only products the
    /// customer has not bought when `new_only` (discoveries), else those too (how typical each of the
    /// customer's own products is among customers like them). The default has no notion of similar customers
    /// and returns nothing.
    fn bought_by_similar(&self, customer: &str, new_only: bool, limit: usize) -> Vec<Scored> {
        let _ = (customer, new_only, limit);
        Vec::new()
    }

    /// [`bought_by_similar`](Self::bought_by_similar) as `(index, score)` pairs, with the same answer in the
    /// same order. The default translates through [`product_index`](Self::product_index).
    fn bought_by_similar_indexed(&self, customer: &str, new_only: bool, limit: usize) -> Vec<(u32, f32)> {
        self.bought_by_similar(customer, new_only, limit)
            .into_iter()
            .filter_map(|s| Some((self.product_index(&s.id)?, s.score)))
            .collect()
    }

    /// Customers scored by their intent to buy `product`, best first, at most `limit`.
    fn audience(&self, product: &str, at: Option<Timestamp>, limit: usize) -> Vec<AudienceMember>;

    /// Non-personal rankings (popular, trending, new), best first, at most `limit`.
    fn ranking(&self, ranking: Ranking, limit: usize) -> Vec<Scored>;

    /// Counts describing the analysed state.
    fn stats(&self) -> ModelStats;

    /// The analysed state as bytes, for [`crate::store::DataStore::save_analysis`].
    fn save(&self) -> Result<Vec<u8>, ModelError>;

    /// A model with this model's settings and the analysed state in `bytes` (written by `save` at the same
    /// `format`).
    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn IntentModel>, ModelError>;
}

/// A shared model handle.
pub type DynIntentModel = Arc<dyn IntentModel>;
