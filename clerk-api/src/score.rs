//! How signals are combined: every weight the engine uses lives in [`Blend`].
//!
//! Each signal is a list of scored ids from the model (`related`, `customer_affinity`). Model scores have
//! different scales per relation, so every list is first **normalised by its own best score** (its top item
//! counts 1.0), then multiplied by the signal's weight (and the seed's weight), and the contributions are
//! **summed per product**. An item's reason is the signal that contributed most to it. Ties in the final
//! ranking break by id, so answers are deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use clerk_core::model::Scored;
use serde::{Deserialize, Serialize};

use crate::keys::NONE;
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

/// A candidate of a blended answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) id: Arc<str>,
    /// The query's dense key ([`Keys`]) when a memoised list gave it, else [`NONE`] (looked up when the candidate
    /// is reached).
    pub(crate) key: u32,
    pub(crate) score: f32,
    pub(crate) reason: Reason,
}

#[derive(Clone, Copy, Debug)]
struct Acc {
    key: u32,
    total: f32,
    best: f32,
    reason: Reason,
}

/// Hashes ids for [`Scores`]: a word at a time, the tail folded into one word (the Fx hash mixes the tail byte by
/// byte, seven multiplications for a seven-digit id). Only [`Scores`] uses it: its map is never read in hash
/// order before the candidates are ranked by score and id.
#[derive(Clone, Copy, Debug, Default)]
struct IdHasher(u64);

const ID_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(ID_SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let tail = chunks.remainder();
        let word = tail.iter().fold((tail.len() as u64) << 56, |w, &b| (w << 8) | u64::from(b));
        self.add(word);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// How many distinct products a blended answer usually sums (ten lists of a hundred for a visitor): the map
/// starts that large instead of growing (and rehashing every id) eight times.
const EXPECTED_CANDIDATES: usize = 1024;

/// Sums weighted, normalised signal lists per product.
///
/// Keyed by the id itself: the model has just touched each id it returned, so hashing it is cheap, while a look-up
/// in the catalog's large index is a cache miss (a dense table by catalog index was tried and was slower for
/// this reason). Only the candidates the answer reaches are looked up there.
#[derive(Debug)]
pub(crate) struct Scores {
    map: HashMap<Arc<str>, Acc, BuildHasherDefault<IdHasher>>,
}

impl Default for Scores {
    fn default() -> Self {
        Scores { map: HashMap::with_capacity_and_hasher(EXPECTED_CANDIDATES, BuildHasherDefault::default()) }
    }
}

fn top_score(list: &[Scored]) -> Option<f32> {
    let top = list.iter().map(|s| s.score).filter(|s| s.is_finite()).fold(0.0f32, f32::max);
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
    pub(crate) fn add(&mut self, list: &[Scored], weight: f32, reason: Reason) {
        let Some(top) = top_score(list) else { return };
        self.add_inner(list.iter().map(|s| (&s.id, NONE, s.score)), weight / top, reason, false);
    }

    /// Adds `list` with its scores as they are, times `weight`: for relation lists, whose scores the
    /// [`IntentModel`](clerk_core::IntentModel) contract makes comparable across query products (so a strong
    /// partner of one basket item outweighs a weak partner of another).
    pub(crate) fn add_raw(&mut self, list: &[Scored], weight: f32, reason: Reason) {
        self.add_inner(list.iter().map(|s| (&s.id, NONE, s.score)), weight, reason, false);
    }

    /// [`add_raw`](Self::add_raw) for a list already resolved to catalog keys.
    pub(crate) fn add_resolved(&mut self, list: &[Resolved], weight: f32, reason: Reason) {
        self.add_inner(list.iter().map(|s| (&s.id, s.key, s.score)), weight, reason, false);
    }

    /// Like [`add`](Self::add) but only for products already present (a re-ranking boost).
    pub(crate) fn boost(&mut self, list: &[Scored], weight: f32, reason: Reason) {
        let Some(top) = top_score(list) else { return };
        self.add_inner(list.iter().map(|s| (&s.id, NONE, s.score)), weight / top, reason, true);
    }

    fn add_inner<'b>(
        &mut self,
        list: impl Iterator<Item = (&'b Arc<str>, u32, f32)>,
        weight: f32,
        reason: Reason,
        only_existing: bool,
    ) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        for (id, key, score) in list {
            if !(score.is_finite() && score > 0.0) {
                continue;
            }
            let part = weight * score;
            if only_existing {
                if let Some(a) = self.map.get_mut(id) {
                    a.total += part;
                }
                continue;
            }
            let a = match self.map.get_mut(id) {
                Some(a) => a,
                None => self.map.entry(id.clone()).or_insert(Acc { key, total: 0.0, best: 0.0, reason }),
            };
            if a.key == NONE {
                a.key = key;
            }
            a.total += part;
            if part > a.best {
                a.best = part;
                a.reason = reason;
            }
        }
    }

    /// The candidates with a positive, finite total, unordered.
    pub(crate) fn into_candidates(self) -> Vec<Candidate> {
        self.map
            .into_iter()
            .filter(|(_, a)| a.total.is_finite() && a.total > 0.0)
            .map(|(id, a)| Candidate { id, key: a.key, score: a.total, reason: a.reason })
            .collect()
    }

    /// The candidates, best first, ties by id.
    #[cfg(test)]
    pub(crate) fn into_sorted(self) -> Vec<Candidate> {
        let mut v = self.into_candidates();
        v.sort_unstable_by(by_rank);
        v
    }
}

/// Best first, ties by id.
pub(crate) fn by_rank(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
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

    fn s(id: &str, score: f32) -> Scored {
        Scored { id: id.into(), score }
    }

    #[test]
    fn lists_are_normalised_weighted_and_summed() {
        let mut sc = Scores::new();
        sc.add(&[s("a", 10.0), s("b", 5.0)], 1.0, Reason::BoughtTogether);
        sc.add(&[s("b", 2.0), s("c", 1.0)], 0.5, Reason::BoughtNext);
        let v = sc.into_sorted();
        let got: Vec<(&str, f32, Reason)> = v.iter().map(|c| (&*c.id, c.score, c.reason)).collect();
        assert_eq!(
            got,
            vec![
                ("a", 1.0, Reason::BoughtTogether),
                ("b", 1.0, Reason::BoughtTogether),
                ("c", 0.25, Reason::BoughtNext)
            ]
        );
    }

    #[test]
    fn boost_touches_only_present_items_and_bad_scores_are_ignored() {
        let mut sc = Scores::new();
        sc.add(&[s("a", 1.0), s("x", f32::NAN), s("y", -1.0)], 1.0, Reason::Alternative);
        sc.boost(&[s("a", 2.0), s("z", 4.0)], 1.0, Reason::History);
        let v = sc.into_sorted();
        assert_eq!(v.len(), 1);
        assert_eq!((&*v[0].id, v[0].score, v[0].reason), ("a", 1.5, Reason::Alternative));
    }
}
