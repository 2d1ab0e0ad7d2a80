//! When to re-analyse the whole store, and when folding the new orders in is enough.
//!
//! A full analysis reads every order and rebuilds every relation; a fold-in
//! ([`IntentModel::fold_in`](clerk_core::IntentModel::fold_in)) updates only the products new orders touch, in
//! a fraction of the time, but cannot undo a deleted order nor see a changed catalog, and its relation scores
//! drift slowly from what a full analysis would give. [`decide`] is the pure rule that picks between them from
//! what the store says changed since the last full analysis ([`ChangeSummary`]), how much data there is
//! ([`Counts`]) and how old the analysis is.
//!
//! ```
//! use clerk::platform::analysis_policy::{decide, Action, AnalysisPolicy, Why};
//! use clerk::core::store::{ChangeSummary, Counts};
//!
//! let policy = AnalysisPolicy::default();
//! let counts = Counts { products: 300, orders: 5_000, customers: 200, ..Counts::default() };
//! let few = ChangeSummary { orders_written: 12, ..ChangeSummary::default() };
//! assert_eq!(decide(&policy, &few, &counts, Some(3_600)).action, Action::FoldIn);
//! let many = ChangeSummary { orders_written: 2_000, ..ChangeSummary::default() };
//! assert_eq!(decide(&policy, &many, &counts, Some(3_600)).why, Why::ChangedShare);
//! ```

use std::fmt;

use clerk_core::store::{ChangeSummary, Counts};
use serde::{Deserialize, Serialize};

/// The thresholds of the analysis policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisPolicy {
    /// A full analysis when the records changed since the last one (writes and deletions of every kind) reach
    /// this share of the records stored (orders, products, categories, customers). Default 0.2.
    pub full_when_changed_share: f64,
    /// A full analysis when the last one is at least this old, in seconds, and anything changed since.
    /// Default one day (86,400): a nightly re-analysis on a shop that keeps selling.
    pub full_when_older_than_secs: i64,
    /// A full analysis when product and category changes reach this share of the catalog (products and
    /// categories stored). Default 0.1.
    pub full_when_catalog_changed_share: f64,
    /// A full analysis when any order was deleted (a fold-in cannot take an order back out). Default `true`.
    pub full_on_order_deletions: bool,
    /// Fold new orders in between full analyses. With `false`, any change leads to a full analysis. Default
    /// `true`.
    pub fold_in: bool,
}

impl Default for AnalysisPolicy {
    fn default() -> Self {
        AnalysisPolicy {
            full_when_changed_share: 0.2,
            full_when_older_than_secs: 86_400,
            full_when_catalog_changed_share: 0.1,
            full_on_order_deletions: true,
            fold_in: true,
        }
    }
}

/// What to do about the changes since the last full analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing changed that the analysis needs.
    Nothing,
    /// Fold the new orders into the installed analysis and refresh the engine's catalog and purchase index.
    FoldIn,
    /// Analyse the whole store again, save the analysis and install it.
    Full,
}

/// Why [`decide`] chose its action: the first rule that matched, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The store holds neither orders nor products: there is nothing to analyse.
    NoData,
    /// There is no analysis yet.
    FirstAnalysis,
    /// Nothing changed since the last analysis.
    NoChanges,
    /// Orders were deleted (or replaced, which a fold-in would count twice).
    OrdersRemoved,
    /// The changes reach [`AnalysisPolicy::full_when_changed_share`] of the data.
    ChangedShare,
    /// The catalog changes reach [`AnalysisPolicy::full_when_catalog_changed_share`] of the catalog.
    CatalogChanged,
    /// The analysis is older than [`AnalysisPolicy::full_when_older_than_secs`].
    Age,
    /// Fold-ins are turned off ([`AnalysisPolicy::fold_in`] is `false`).
    FoldInOff,
    /// Few changes: new orders are folded in and the catalog is refreshed.
    FewChanges,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Why::NoData => "no data to analyse",
            Why::FirstAnalysis => "no analysis yet",
            Why::NoChanges => "nothing changed",
            Why::OrdersRemoved => "orders were deleted or replaced",
            Why::ChangedShare => "the changes passed the configured share of the data",
            Why::CatalogChanged => "the catalog changes passed the configured share of the catalog",
            Why::Age => "the analysis is older than the configured age",
            Why::FoldInOff => "fold-ins are turned off",
            Why::FewChanges => "few changes: fold in",
        })
    }
}

/// An [`Action`] and the rule that chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why.
    pub why: Why,
}

impl Decision {
    fn new(action: Action, why: Why) -> Self {
        Decision { action, why }
    }
}

/// Share of `part` in `whole`; a change to an empty store counts as everything.
fn share(part: u64, whole: usize) -> f64 {
    if whole == 0 {
        if part == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        part as f64 / whole as f64
    }
}

/// Decides between nothing, a fold-in and a full analysis.
///
/// `changes` is what changed after the data position of the last **full** analysis (fold-ins do not move it, so
/// changes add up until a full analysis), `counts` what the store holds now, and `analysis_age_secs` the age of
/// the last full analysis (`None` when there is none). The rules, first match wins:
///
/// 1. no analysis yet: [`Full`](Action::Full) ([`Why::FirstAnalysis`]), or [`Nothing`](Action::Nothing) when
///    the store holds neither orders nor products ([`Why::NoData`]);
/// 2. no change: nothing;
/// 3. an order deleted and [`AnalysisPolicy::full_on_order_deletions`]: full;
/// 4. changes / records >= [`AnalysisPolicy::full_when_changed_share`]: full;
/// 5. catalog changes / catalog >= [`AnalysisPolicy::full_when_catalog_changed_share`]: full;
/// 6. age >= [`AnalysisPolicy::full_when_older_than_secs`]: full;
/// 7. fold-ins off: full;
/// 8. otherwise: [`FoldIn`](Action::FoldIn) (with no new order this only refreshes the catalog).
///
/// Shares of a threshold that is not a finite positive number never trigger.
pub fn decide(
    policy: &AnalysisPolicy,
    changes: &ChangeSummary,
    counts: &Counts,
    analysis_age_secs: Option<i64>,
) -> Decision {
    let Some(age) = analysis_age_secs else {
        return if counts.orders == 0 && counts.products == 0 {
            Decision::new(Action::Nothing, Why::NoData)
        } else {
            Decision::new(Action::Full, Why::FirstAnalysis)
        };
    };
    if changes.total() == 0 {
        return Decision::new(Action::Nothing, Why::NoChanges);
    }
    if policy.full_on_order_deletions && changes.orders_deleted > 0 {
        return Decision::new(Action::Full, Why::OrdersRemoved);
    }
    let reached = |value: f64, threshold: f64| threshold.is_finite() && threshold > 0.0 && value >= threshold;
    let records = counts.orders + counts.products + counts.categories + counts.customers;
    if reached(share(changes.total(), records), policy.full_when_changed_share) {
        return Decision::new(Action::Full, Why::ChangedShare);
    }
    let catalog = counts.products + counts.categories;
    if reached(share(changes.products + changes.categories, catalog), policy.full_when_catalog_changed_share) {
        return Decision::new(Action::Full, Why::CatalogChanged);
    }
    if policy.full_when_older_than_secs >= 0 && age >= policy.full_when_older_than_secs {
        return Decision::new(Action::Full, Why::Age);
    }
    if !policy.fold_in {
        return Decision::new(Action::Full, Why::FoldInOff);
    }
    Decision::new(Action::FoldIn, Why::FewChanges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Counts {
        Counts { products: 1_000, categories: 50, customers: 950, orders: 8_000, order_lines: 70_000 }
    }

    fn orders(n: u64) -> ChangeSummary {
        ChangeSummary { orders_written: n, position: 100_000, ..ChangeSummary::default() }
    }

    const HOUR: i64 = 3_600;

    #[test]
    fn first_analysis_when_there_is_data() {
        let p = AnalysisPolicy::default();
        let d = decide(&p, &orders(8_000), &counts(), None);
        assert_eq!(d, Decision::new(Action::Full, Why::FirstAnalysis));
        let d = decide(&p, &ChangeSummary::default(), &Counts::default(), None);
        assert_eq!(d, Decision::new(Action::Nothing, Why::NoData));
        // A catalog without orders is worth an analysis (the "new" ranking).
        let catalog_only = Counts { products: 10, ..Counts::default() };
        assert_eq!(decide(&p, &ChangeSummary::default(), &catalog_only, None).action, Action::Full);
    }

    #[test]
    fn nothing_without_changes_even_when_old() {
        let p = AnalysisPolicy::default();
        let d = decide(&p, &ChangeSummary::default(), &counts(), Some(365 * 24 * HOUR));
        assert_eq!(d, Decision::new(Action::Nothing, Why::NoChanges));
    }

    #[test]
    fn few_new_orders_are_folded_in() {
        let p = AnalysisPolicy::default();
        for n in [1, 10, 100, 1_000, 1_999] {
            assert_eq!(decide(&p, &orders(n), &counts(), Some(HOUR)), Decision::new(Action::FoldIn, Why::FewChanges));
        }
    }

    #[test]
    fn changed_share_triggers_full_at_the_threshold() {
        let p = AnalysisPolicy::default();
        // 10,000 records: 20% is 2,000 changes.
        assert_eq!(decide(&p, &orders(1_999), &counts(), Some(HOUR)).action, Action::FoldIn);
        assert_eq!(decide(&p, &orders(2_000), &counts(), Some(HOUR)), Decision::new(Action::Full, Why::ChangedShare));
        let custom = AnalysisPolicy { full_when_changed_share: 0.01, ..p };
        assert_eq!(decide(&custom, &orders(100), &counts(), Some(HOUR)).why, Why::ChangedShare);
    }

    #[test]
    fn deletions_force_full_unless_turned_off() {
        let p = AnalysisPolicy::default();
        let c = ChangeSummary { orders_deleted: 1, ..orders(3) };
        assert_eq!(decide(&p, &c, &counts(), Some(HOUR)), Decision::new(Action::Full, Why::OrdersRemoved));
        let lenient = AnalysisPolicy { full_on_order_deletions: false, ..p };
        assert_eq!(decide(&lenient, &c, &counts(), Some(HOUR)).action, Action::FoldIn);
    }

    #[test]
    fn catalog_changes_force_full_at_their_own_share() {
        let p = AnalysisPolicy::default();
        // Catalog of 1,050: 10% is 105.
        let some = ChangeSummary { products: 104, ..ChangeSummary::default() };
        assert_eq!(decide(&p, &some, &counts(), Some(HOUR)).action, Action::FoldIn);
        let many = ChangeSummary { products: 100, categories: 5, ..ChangeSummary::default() };
        assert_eq!(decide(&p, &many, &counts(), Some(HOUR)), Decision::new(Action::Full, Why::CatalogChanged));
    }

    #[test]
    fn age_forces_full_only_with_changes() {
        let p = AnalysisPolicy::default();
        assert_eq!(decide(&p, &orders(1), &counts(), Some(24 * HOUR - 1)).action, Action::FoldIn);
        assert_eq!(decide(&p, &orders(1), &counts(), Some(24 * HOUR)), Decision::new(Action::Full, Why::Age));
        let weekly = AnalysisPolicy { full_when_older_than_secs: 7 * 24 * HOUR, ..p };
        assert_eq!(decide(&weekly, &orders(1), &counts(), Some(24 * HOUR)).action, Action::FoldIn);
    }

    #[test]
    fn fold_in_off_means_full_on_any_change() {
        let p = AnalysisPolicy { fold_in: false, ..AnalysisPolicy::default() };
        assert_eq!(decide(&p, &orders(1), &counts(), Some(HOUR)), Decision::new(Action::Full, Why::FoldInOff));
        assert_eq!(decide(&p, &ChangeSummary::default(), &counts(), Some(HOUR)).action, Action::Nothing);
    }

    #[test]
    fn broken_thresholds_never_trigger() {
        let p = AnalysisPolicy {
            full_when_changed_share: f64::NAN,
            full_when_catalog_changed_share: 0.0,
            full_when_older_than_secs: -1,
            ..AnalysisPolicy::default()
        };
        let c = ChangeSummary { products: 1_000, ..orders(9_000) };
        assert_eq!(decide(&p, &c, &counts(), Some(i64::MAX)).action, Action::FoldIn);
    }

    #[test]
    fn changes_to_an_empty_store_count_as_everything() {
        let p = AnalysisPolicy::default();
        let d = decide(&p, &ChangeSummary { customers: 1, ..ChangeSummary::default() }, &Counts::default(), Some(0));
        assert_eq!(d.why, Why::ChangedShare);
    }
}
