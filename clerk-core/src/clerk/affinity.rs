//! A customer's affinity to the products they bought: repeat, recency and due-ness.

use super::analysis::decay;
use super::settings::Settings;
use super::state::{HistItem, State};
use crate::domain::DAY;

/// How likely the customer is to buy `h.product` again at time `at`.
pub(crate) fn score(s: &State, settings: &Settings, h: &HistItem, at: i64) -> f32 {
    let shift = at - s.reference;
    let short = h.decayed * decay(shift, settings.half_life_days);
    let long = h.decayed_long * decay(shift, settings.long_half_life_days);
    let mut score = short + settings.long_weight as f32 * long;
    let p = h.product as usize;
    if settings.repeat_prior_weight > 0.0 {
        // Share of the product's buyers who bought it again, smoothed towards one half.
        let rate = (s.repeat_buyers[p] as f32 + 1.0) / (s.buyers[p] as f32 + 2.0);
        score *= 1.0 + settings.repeat_prior_weight as f32 * rate;
    }
    if settings.due_weight > 0.0 {
        let cycle =
            if h.count >= 2 { (h.last - h.first) as f32 / DAY as f32 / (h.count - 1) as f32 } else { s.cycle_days[p] };
        if cycle > 0.0 {
            let elapsed = (at - h.last) as f32 / DAY as f32;
            // Peaks when the usual interval has passed, fades for long-overdue products.
            let x = elapsed / cycle;
            let due = (x.min(1.0)) * (-(x - 1.0).max(0.0) / 2.0).exp();
            score *= 1.0 + settings.due_weight as f32 * due;
        }
    }
    if score.is_finite() {
        score
    } else {
        0.0
    }
}
