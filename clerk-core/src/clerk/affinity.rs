//! A customer's affinity to the products they bought: repeat, recency and due-ness.

use super::analysis::decay;
use super::settings::Settings;
use super::state::{HistItem, State};
use crate::domain::DAY;

/// Scores history items at one time `at`: what depends only on `at` and the settings (two decays, each a
/// `powf`) is computed once, not once per item of a history or an audience.
pub(crate) struct Scorer<'a> {
    s: &'a State,
    at: i64,
    short: f32,
    long: f32,
    long_weight: f32,
    repeat_prior_weight: Option<f32>,
    due_weight: Option<f32>,
}

impl<'a> Scorer<'a> {
    pub(crate) fn new(s: &'a State, settings: &Settings, at: i64) -> Self {
        let shift = at - s.reference;
        Scorer {
            s,
            at,
            short: decay(shift, settings.half_life_days),
            long: decay(shift, settings.long_half_life_days),
            long_weight: settings.long_weight as f32,
            repeat_prior_weight: (settings.repeat_prior_weight > 0.0).then_some(settings.repeat_prior_weight as f32),
            due_weight: (settings.due_weight > 0.0).then_some(settings.due_weight as f32),
        }
    }

    /// The recency part of [`score`](Self::score), from the history item alone.
    fn base(&self, h: &HistItem) -> f32 {
        let short = h.decayed * self.short;
        let long = h.decayed_long * self.long;
        short + self.long_weight * long
    }

    /// Bounds `(low, high)` of [`score`](Self::score) from the history item alone (no per-product count read),
    /// when no product's repeat rate exceeds 1 (repeat buyers are buyers). `score` multiplies the recency part
    /// by `1 + weight x rate` (rate in (0, 1]) and `1 + weight x due` (due at most 1, and not negative unless
    /// the scorer's time is before the last purchase); f32 rounding is monotone, so the same products with the
    /// factors at their extremes bound it. A non-finite or negative recency part gives `(0, inf)`: no bound.
    /// The lower bound holds where the score is positive and finite; the upper one always.
    pub(crate) fn bounds(&self, h: &HistItem) -> (f32, f32) {
        let base = self.base(h);
        if !(base.is_finite() && base >= 0.0) {
            return (0.0, f32::INFINITY);
        }
        let mut high = base;
        if let Some(weight) = self.repeat_prior_weight {
            high *= 1.0 + weight;
        }
        if let Some(weight) = self.due_weight {
            high *= 1.0 + weight;
        }
        // An overflowing score counts 0, so the recency part is a lower bound only where the bound is finite.
        let low = if self.at >= h.last && high.is_finite() { base } else { 0.0 };
        (low, high)
    }

    /// How likely the customer is to buy `h.product` again at the scorer's time.
    pub(crate) fn score(&self, h: &HistItem) -> f32 {
        let s = self.s;
        let mut score = self.base(h);
        let p = h.product as usize;
        if let Some(weight) = self.repeat_prior_weight {
            // Share of the product's buyers who bought it again, smoothed towards one half.
            let rate = (s.repeat_buyers[p] as f32 + 1.0) / (s.buyers[p] as f32 + 2.0);
            score *= 1.0 + weight * rate;
        }
        if let Some(weight) = self.due_weight {
            let cycle = if h.count >= 2 {
                (h.last - h.first) as f32 / DAY as f32 / (h.count - 1) as f32
            } else {
                s.cycle_days[p]
            };
            if cycle > 0.0 {
                let elapsed = (self.at - h.last) as f32 / DAY as f32;
                // Peaks when the usual interval has passed, fades for long-overdue products.
                let x = elapsed / cycle;
                let due = (x.min(1.0)) * (-(x - 1.0).max(0.0) / 2.0).exp();
                score *= 1.0 + weight * due;
            }
        }
        if score.is_finite() {
            score
        } else {
            0.0
        }
    }
}
