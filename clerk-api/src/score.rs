//! How signals are combined: every weight the engine uses lives in [`Blend`].
//!
//! Each signal is a list of scored ids from the model (`related`, `customer_affinity`). Model scores have
//! different scales per relation, so every list is first **normalised by its own best score** (its top item
//! counts 1.0), then multiplied by the signal's weight (and the seed's weight), and the contributions are
//! **summed per product**. An item's reason is the signal that contributed most to it. Ties in the final
//! ranking break by id, so answers are deterministic.

use std::sync::Arc;

use clerk_core::intern::FxHashMap;
use clerk_core::model::Scored;
use serde::{Deserialize, Serialize};

use crate::keys::{Keys, NONE};
use crate::response::Reason;

/// The weights and depths of the blends. Defaults are documented on each field; they are starting points to
/// tune on real data, and the only place such numbers live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Blend {
    /// How many items to ask the model for per signal (each `related`/`customer_affinity` call). Bounds the
    /// primary answer of blended queries; fallbacks pad beyond it. Default 100.
    pub depth: usize,
    /// How many related items to ask the model for per seed when a set of seeds (a basket, a history) is
    /// looked up at once. Default 10: on the validation cut 10, 20 and 50 gave the same picks and basket
    /// completion (task 3 for guests 0.0644 -> 0.0647 at 10), at a fifth of the cost of 50.
    pub seed_depth: usize,
    /// Weight of the best sellers (normalised) in discovery answers, against the complements of the history.
    /// Default 1.0: what everyone buys is a fair guess of what a customer tries next.
    pub discovery_popular: f32,
    /// Weight of what the customer's most similar customers bought (normalised) in discovery answers.
    /// Default 1.0.
    pub discovery_similar: f32,
    /// Weight of what the customer's most similar customers bought (normalised) in customer picks, against the
    /// customer's own repeat purchases. Default 0.1.
    pub picks_similar: f32,
    /// Weight of `BoughtTogether` in complementary answers. Default 1.0.
    pub together: f32,
    /// Weight of `BoughtNext` in complementary answers. Default 0.3.
    pub next: f32,
    /// Weight of `Alternative` for alternatives queries. Default 1.0.
    pub alternative: f32,
    /// Weight of each basket item as a seed of complementary / visitor answers, relative to a query product
    /// (1.0). Default 1.0.
    pub basket: f32,
    /// Weight of the known customer's own affinity (repeat/due items) injected into complementary and visitor
    /// answers (next purchase given basket and customer). Default 0.5.
    pub customer_affinity: f32,
    /// Weight of the known customer's affinity as a re-ranking boost of alternatives and most-sold-with answers
    /// (only for items already in the answer). Default 0.3.
    pub customer_boost: f32,
    /// Weight of `customer_affinity` (repeat and due purchases) in customer picks. Default 1.0.
    pub picks_history: f32,
    /// Weight of the complementary-to-history part in customer picks, its best item against the best repeat
    /// item (both scaled to 1). Default 0.0: with what similar customers buy filling the list (`picks_similar`),
    /// the complements of the history added nothing on the validation cut (task 1 0.4140 without, 0.4138 at
    /// 0.1) and cost three set look-ups. A model without similar customers may want 0.1.
    pub picks_complementary: f32,
    /// Weight of `BoughtTogether` when the customer's history seeds complementary answers (picks, discovery).
    /// Default 0.6: a past basket's partners say less about later orders than the products bought next.
    pub history_together: f32,
    /// Weight of `BoughtNext` when the customer's history seeds complementary answers. Default 1.0.
    pub history_next: f32,
    /// Weight of `SameCustomers` (what customers with the same regulars buy again and again) when the
    /// customer's history seeds picks and discovery. Default 0.5.
    pub history_customers: f32,
    /// How many of the customer's top history items seed complementary/alternative signals (at most `depth`
    /// come from the model's affinity). Default 100.
    pub history_seeds: usize,
    /// Weight of a viewed product's signals in visitor context. Default 1.0.
    pub viewed: f32,
    /// Weight of a clicked product's signals in visitor context. Default 0.5.
    pub clicks: f32,
    /// For viewed/clicked products: weight of their `Alternative` relation. Default 1.0.
    pub viewed_alternative: f32,
    /// For viewed/clicked products: weight of their `BoughtTogether` relation. Default 0.5.
    pub viewed_together: f32,
    /// Each step back in the viewed/clicks lists multiplies the weight by this (the most recent is 1.0), and
    /// each further history seed of a customer without model affinity. Default 0.8.
    pub recency_decay: f32,
    /// Weight of the real-time context (viewed, clicks, basket) blended into customer-based answers. Default 0.5.
    pub context_on_customer: f32,
    /// The most recent items of each context list that are used as seeds. Default 20.
    pub max_context_items: usize,
    /// The most query products used as seeds. Default 50.
    pub max_seeds: usize,
    /// Fallback items are rescaled below the last item before them: the step's best item gets this fraction
    /// of that item's score, so scores never increase down the list. Default 0.5.
    pub fallback_ceiling: f32,
}

impl Default for Blend {
    fn default() -> Self {
        Blend {
            depth: 100,
            seed_depth: 10,
            discovery_popular: 1.0,
            discovery_similar: 1.0,
            picks_similar: 0.1,
            together: 1.0,
            next: 0.3,
            alternative: 1.0,
            basket: 1.0,
            customer_affinity: 0.5,
            customer_boost: 0.3,
            picks_history: 1.0,
            picks_complementary: 0.0,
            history_together: 0.6,
            history_next: 1.0,
            history_customers: 0.5,
            history_seeds: 100,
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
}

impl Blend {
    /// The weight of the item `steps_back` from the most recent one.
    pub fn recency(&self, steps_back: usize) -> f32 {
        self.recency_decay.powi(steps_back.min(1000) as i32)
    }
}

/// A candidate of a blended answer: a product by its query key ([`Keys`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) key: u32,
    pub(crate) score: f32,
    pub(crate) reason: Reason,
}

#[derive(Clone, Copy, Debug)]
struct Acc {
    total: f32,
    best: f32,
    reason: Reason,
}

/// How many distinct products a blended answer usually sums (ten lists of a hundred for a visitor): the map
/// starts that large instead of growing (and rehashing) eight times.
const EXPECTED_CANDIDATES: usize = 1024;

/// Sums weighted, normalised signal lists per product.
///
/// Keyed by the query's dense key: memoised relation lists carry it, and the model's dense-index look-ups reach
/// it with one array read, so summing a list reads no id (an id hash reads the string behind a pointer, a
/// cache miss per item, and keeping the id clones an `Arc`). Lists of ids are keyed with one catalog look-up per
/// item.
#[derive(Debug)]
pub(crate) struct Scores {
    map: FxHashMap<u32, Acc>,
}

/// A map of that size is kept for the thread's next query beyond this many entries: one very large answer
/// does not pin its memory.
const MAX_SPARE_CAPACITY: usize = 16 * EXPECTED_CANDIDATES;

thread_local! {
    /// The last query's map, cleared: a map of a thousand entries is a 16 KiB allocation per query otherwise.
    static SPARE: std::cell::RefCell<Option<FxHashMap<u32, Acc>>> = const { std::cell::RefCell::new(None) };
}

impl Default for Scores {
    fn default() -> Self {
        let spare = SPARE.try_with(|s| s.borrow_mut().take()).ok().flatten();
        let map = spare.unwrap_or_else(|| FxHashMap::with_capacity_and_hasher(EXPECTED_CANDIDATES, Default::default()));
        Scores { map }
    }
}

impl Drop for Scores {
    fn drop(&mut self) {
        let mut map = std::mem::take(&mut self.map);
        if map.capacity() <= MAX_SPARE_CAPACITY {
            map.clear();
            // During thread teardown the spare is gone, and the map is simply freed.
            let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(map));
        }
    }
}

fn top_score(scores: impl Iterator<Item = f32>) -> Option<f32> {
    let top = scores.filter(|s| s.is_finite()).fold(0.0f32, f32::max);
    (top > 0.0).then_some(top)
}

impl Scores {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds `list`, normalised by its best score, times `weight`: for lists whose scale means nothing across
    /// calls (a customer's affinity).
    pub(crate) fn add(&mut self, keys: &mut Keys<'_>, list: &[Scored], weight: f32, reason: Reason) {
        let Some(top) = top_score(list.iter().map(|s| s.score)) else { return };
        self.add_inner(list.iter().map(|s| (keys.key(&s.id), s.score)), weight / top, reason, false);
    }

    /// Adds a relation list already resolved to catalog keys with its scores as they are, times `weight`: the
    /// [`IntentModel`](clerk_core::IntentModel) contract makes relation scores comparable across query products
    /// (so a strong partner of one basket item outweighs a weak partner of another).
    pub(crate) fn add_resolved(&mut self, keys: &mut Keys<'_>, list: &[Resolved], weight: f32, reason: Reason) {
        let items = list.iter().map(|s| (if s.key == NONE { keys.key(&s.id) } else { s.key }, s.score));
        self.add_inner(items, weight, reason, false);
    }

    /// [`add`](Self::add) (when `normalise`) or [`add_resolved`](Self::add_resolved) for a list of
    /// `(key, score)`.
    pub(crate) fn add_keyed(&mut self, list: &[(u32, f32)], weight: f32, reason: Reason, normalise: bool) {
        let weight = if normalise {
            let Some(top) = top_score(list.iter().map(|s| s.1)) else { return };
            weight / top
        } else {
            weight
        };
        self.add_inner(list.iter().copied(), weight, reason, false);
    }

    /// Like [`add_keyed`](Self::add_keyed) with `normalise`, but only for products already present (a
    /// re-ranking boost).
    pub(crate) fn boost_keyed(&mut self, list: &[(u32, f32)], weight: f32, reason: Reason) {
        let Some(top) = top_score(list.iter().map(|s| s.1)) else { return };
        self.add_inner(list.iter().copied(), weight / top, reason, true);
    }

    fn add_inner(&mut self, list: impl Iterator<Item = (u32, f32)>, weight: f32, reason: Reason, only_existing: bool) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        for (key, score) in list {
            if !(score.is_finite() && score > 0.0) {
                continue;
            }
            let part = weight * score;
            if only_existing {
                if let Some(a) = self.map.get_mut(&key) {
                    a.total += part;
                }
                continue;
            }
            let a = self.map.entry(key).or_insert(Acc { total: 0.0, best: 0.0, reason });
            a.total += part;
            if part > a.best {
                a.best = part;
                a.reason = reason;
            }
        }
    }

    /// The candidates with a positive, finite total, unordered.
    pub(crate) fn into_candidates(mut self) -> Vec<Candidate> {
        // Sized once: collecting a filtered drain grows the vector (and copies it) several times.
        let mut v = Vec::with_capacity(self.map.len());
        v.extend(self.map.drain().filter(|(_, a)| a.total.is_finite() && a.total > 0.0).map(|(key, a)| Candidate {
            key,
            score: a.total,
            reason: a.reason,
        }));
        v
    }
}

/// Best first, ties by id.
pub(crate) fn by_rank<'k>(keys: &'k Keys<'_>) -> impl Fn(&Candidate, &Candidate) -> std::cmp::Ordering + 'k {
    move |a, b| b.score.total_cmp(&a.score).then_with(|| keys.cmp_ids(a.key, b.key))
}

/// One item of a relation list resolved to the catalog (`key` is [`NONE`] when the catalog has no such product).
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub(crate) id: Arc<str>,
    pub(crate) key: u32,
    pub(crate) score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::history::History;

    fn s(id: &str, score: f32) -> Scored {
        Scored { id: id.into(), score }
    }

    fn sorted<'k>(sc: Scores, keys: &'k Keys<'_>) -> Vec<(&'k str, f32, Reason)> {
        let mut v = sc.into_candidates();
        v.sort_unstable_by(by_rank(keys));
        v.iter().map(|c| (keys.id(c.key), c.score, c.reason)).collect()
    }

    #[test]
    fn lists_are_normalised_weighted_and_summed() {
        let (catalog, history) = (Catalog::new(), History::default());
        let mut keys = Keys::new(&catalog, &history, &[]);
        let mut sc = Scores::new();
        sc.add(&mut keys, &[s("a", 10.0), s("b", 5.0)], 1.0, Reason::BoughtTogether);
        sc.add(&mut keys, &[s("b", 2.0), s("c", 1.0)], 0.5, Reason::BoughtNext);
        assert_eq!(
            sorted(sc, &keys),
            vec![
                ("a", 1.0, Reason::BoughtTogether),
                ("b", 1.0, Reason::BoughtTogether),
                ("c", 0.25, Reason::BoughtNext)
            ]
        );
    }

    #[test]
    fn boost_touches_only_present_items_and_bad_scores_are_ignored() {
        let (catalog, history) = (Catalog::new(), History::default());
        let mut keys = Keys::new(&catalog, &history, &[]);
        let mut sc = Scores::new();
        sc.add(&mut keys, &[s("a", 1.0), s("x", f32::NAN), s("y", -1.0)], 1.0, Reason::Alternative);
        let boost = [(keys.key("a"), 2.0), (keys.key("z"), 4.0)];
        sc.boost_keyed(&boost, 1.0, Reason::History);
        assert_eq!(sorted(sc, &keys), vec![("a", 1.5, Reason::Alternative)]);
    }
}
