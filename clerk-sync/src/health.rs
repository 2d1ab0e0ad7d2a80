//! Data health: checks of the store and the last sync reports, graded ok / warning / error.
//!
//! Most drops in prediction quality come from wrong data; these checks say where the data is wrong and how
//! much. [`DataHealth`] is serde-serialisable for machines and `Display`s as a table for people.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::BuildHasherDefault;

use clerk_core::domain::{RecordKind, Timestamp, DAY};
use clerk_core::intern::{FxHashMap, FxHasher};
use clerk_core::store::{Counts, DataStore, DataStoreExt, StoreResult};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::report::SyncReport;

type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// How healthy one aspect of the data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// Nothing to do.
    Ok,
    /// Worth a look: predictions may suffer.
    Warning,
    /// Broken: predictions will suffer.
    Error,
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grade::Ok => "ok",
            Grade::Warning => "warning",
            Grade::Error => "ERROR",
        })
    }
}

/// One graded check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// A stable snake_case name (`unknown_products`, `weekly_order_volume`, ...).
    pub name: String,
    /// The grade.
    pub grade: Grade,
    /// One line for people.
    pub summary: String,
    /// More lines (reasons, weeks, importers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// Orders placed in one week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekVolume {
    /// Monday 00:00 of the week.
    pub week_start: Timestamp,
    /// Orders placed that week.
    pub orders: u64,
}

/// The numbers behind the checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthFacts {
    /// Order lines in the store.
    pub order_lines: u64,
    /// Order lines naming a product the catalog lacks.
    pub unknown_product_lines: u64,
    /// Distinct product ids in orders that the catalog lacks.
    pub unknown_products: u64,
    /// Catalog products that no stored order line names.
    pub products_never_sold: u64,
    /// Catalog products without a price.
    pub products_without_price: u64,
    /// Catalog products without a category.
    pub products_without_category: u64,
    /// Catalog products with `index == false`.
    pub products_not_indexable: u64,
    /// Orders with neither customer id nor email (anonymous guests).
    pub orders_without_customer: u64,
    /// Distinct customer ids in orders without a customer record.
    pub customers_without_record: u64,
    /// Distinct customer ids in orders.
    pub customers_in_orders: u64,
    /// Rejections by reason over the latest sync of each importer.
    pub rejected_by_reason: BTreeMap<String, u64>,
}

/// Settings of the health checks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// A week with fewer orders than this share of the mean of the 4 weeks before is a sudden drop. Default 0.5.
    pub drop_ratio: f64,
    /// An importer without a successful sync for this long is stale (warning). Default 2 days.
    pub stale_after_secs: i64,
    /// A share of rejected records and lines above this is an error. Default 0.1.
    pub rejected_error_share: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { drop_ratio: 0.5, stale_after_secs: 2 * DAY, rejected_error_share: 0.1 }
    }
}

/// The data health report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataHealth {
    /// When it was computed.
    pub computed_at: Timestamp,
    /// The worst grade of the checks.
    pub grade: Grade,
    /// What the store holds.
    pub counts: Counts,
    /// The checks.
    pub checks: Vec<Check>,
    /// The numbers behind them.
    pub facts: HealthFacts,
    /// Orders per week, oldest first.
    pub weekly_orders: Vec<WeekVolume>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn pct(part: u64, whole: u64) -> String {
    format!("{:.1}%", 100.0 * share(part, whole))
}

/// Monday 00:00 of the week of `t` (1970-01-01 was a Thursday).
fn week_start(t: Timestamp) -> Timestamp {
    let days = t.secs().div_euclid(DAY);
    Timestamp((days - (days + 3).rem_euclid(7)) * DAY)
}

fn check(name: &str, grade: Grade, summary: String, details: Vec<String>) -> Check {
    Check { name: name.to_owned(), grade, summary, details }
}

impl DataHealth {
    /// Computes the health of `store` and of the latest of `reports` per importer, at `now`, with the default
    /// settings. Reads every order and product once.
    pub async fn compute(store: &dyn DataStore, reports: &[SyncReport], now: Timestamp) -> StoreResult<DataHealth> {
        Self::compute_with(store, reports, now, &HealthConfig::default()).await
    }

    /// [`compute`](Self::compute) with other settings.
    pub async fn compute_with(
        store: &dyn DataStore,
        reports: &[SyncReport],
        now: Timestamp,
        config: &HealthConfig,
    ) -> StoreResult<DataHealth> {
        let counts = store.counts().await?;
        let mut facts = HealthFacts::default();
        let mut sold: FxHashMap<String, bool> =
            store.ids(RecordKind::Product).await?.into_iter().map(|id| (id, false)).collect();
        let customers: FxHashSet<String> = store.ids(RecordKind::Customer).await?.into_iter().collect();
        let mut unknown_products: FxHashSet<String> = FxHashSet::default();
        let mut buyers: FxHashSet<String> = FxHashSet::default();
        let mut weeks: BTreeMap<Timestamp, u64> = BTreeMap::new();
        let mut orders = store.order_stream(4096);
        while let Some(order) = orders.try_next().await? {
            *weeks.entry(week_start(order.time)).or_default() += 1;
            match &order.customer_id {
                Some(c) if !buyers.contains(c.as_str()) => {
                    buyers.insert(c.clone());
                }
                None if order.email.is_none() => facts.orders_without_customer += 1,
                _ => {}
            }
            for line in &order.lines {
                facts.order_lines += 1;
                match sold.get_mut(line.product_id.as_str()) {
                    Some(s) => *s = true,
                    None => {
                        facts.unknown_product_lines += 1;
                        if !unknown_products.contains(line.product_id.as_str()) {
                            unknown_products.insert(line.product_id.clone());
                        }
                    }
                }
            }
        }
        drop(orders);
        facts.unknown_products = unknown_products.len() as u64;
        facts.products_never_sold = sold.values().filter(|s| !**s).count() as u64;
        facts.customers_in_orders = buyers.len() as u64;
        facts.customers_without_record = buyers.iter().filter(|b| !customers.contains(b.as_str())).count() as u64;
        let mut products = store.all_products(4096);
        while let Some(p) = products.try_next().await? {
            facts.products_without_price += u64::from(p.price.is_none());
            facts.products_without_category += u64::from(p.categories.is_empty());
            facts.products_not_indexable += u64::from(!p.index);
        }
        drop(products);

        // The latest report of each importer.
        let mut latest: BTreeMap<&str, &SyncReport> = BTreeMap::new();
        let mut last_success: BTreeMap<&str, Timestamp> = BTreeMap::new();
        for r in reports {
            let e = latest.entry(r.importer.as_str()).or_insert(r);
            if r.finished_at >= e.finished_at {
                *e = r;
            }
            if r.succeeded() {
                let s = last_success.entry(r.importer.as_str()).or_insert(r.finished_at);
                *s = (*s).max(r.finished_at);
            }
        }

        let mut checks = Vec::new();

        // Rejected records by reason.
        let (mut rejected, mut read) = (0u64, 0u64);
        let mut details = Vec::new();
        for r in latest.values() {
            read += r.read.total() + r.lines.read;
            for (reason, stats) in &r.rejections {
                rejected += stats.count;
                *facts.rejected_by_reason.entry(reason.as_str().to_owned()).or_default() += stats.count;
                let example = stats.examples.first().map(|e| format!(" (e.g. {}: {})", e.location, e.message));
                details.push(format!("{}: {reason} {}{}", r.importer, stats.count, example.unwrap_or_default()));
            }
        }
        let grade = if rejected == 0 {
            Grade::Ok
        } else if share(rejected, read) > config.rejected_error_share {
            Grade::Error
        } else {
            Grade::Warning
        };
        checks.push(check(
            "rejected_records",
            grade,
            format!(
                "{rejected} records and lines rejected in the last syncs ({} of what was read)",
                pct(rejected, read)
            ),
            details,
        ));

        // Orders pointing at unknown products.
        let grade = match share(facts.unknown_product_lines, facts.order_lines) {
            s if s > 0.1 => Grade::Error,
            s if s > 0.0 => Grade::Warning,
            _ => Grade::Ok,
        };
        checks.push(check(
            "unknown_products",
            grade,
            format!(
                "{} order lines ({}) name {} products the catalog lacks",
                facts.unknown_product_lines,
                pct(facts.unknown_product_lines, facts.order_lines),
                facts.unknown_products
            ),
            Vec::new(),
        ));

        // Products never sold.
        let n = counts.products as u64;
        let grade = if n > 0 && share(facts.products_never_sold, n) > 0.5 { Grade::Warning } else { Grade::Ok };
        checks.push(check(
            "products_never_sold",
            grade,
            format!(
                "{} of {n} products ({}) were never sold",
                facts.products_never_sold,
                pct(facts.products_never_sold, n)
            ),
            Vec::new(),
        ));

        // Products without price or category.
        let grade = if share(facts.products_without_category, n) > 0.5 {
            Grade::Error
        } else if facts.products_without_category > 0 || facts.products_without_price > 0 {
            Grade::Warning
        } else {
            Grade::Ok
        };
        checks.push(check(
            "products_incomplete",
            grade,
            format!(
                "{} products ({}) have no price, {} ({}) no category",
                facts.products_without_price,
                pct(facts.products_without_price, n),
                facts.products_without_category,
                pct(facts.products_without_category, n)
            ),
            Vec::new(),
        ));

        // Orders without a customer.
        let o = counts.orders as u64;
        let grade = if share(facts.orders_without_customer, o) > 0.5 {
            Grade::Error
        } else if facts.orders_without_customer > 0 || facts.customers_without_record > 0 {
            Grade::Warning
        } else {
            Grade::Ok
        };
        checks.push(check(
            "orders_without_customer",
            grade,
            format!(
                "{} orders ({}) have no customer; {} of {} customers named by orders have no customer record",
                facts.orders_without_customer,
                pct(facts.orders_without_customer, o),
                facts.customers_without_record,
                facts.customers_in_orders
            ),
            Vec::new(),
        ));

        // Weekly volume and sudden drops (the last week may be partial and is not judged).
        let weekly: Vec<WeekVolume> = weeks.iter().map(|(&w, &n)| WeekVolume { week_start: w, orders: n }).collect();
        let mut drops = Vec::new();
        let judged = weekly.len().saturating_sub(1);
        for i in 1..judged {
            let before = &weekly[i.saturating_sub(4)..i];
            let mean = before.iter().map(|w| w.orders as f64).sum::<f64>() / before.len() as f64;
            if (weekly[i].orders as f64) < config.drop_ratio * mean {
                drops.push(format!(
                    "week of {}: {} orders, {:.0}% of the {:.0} a week before",
                    weekly[i].week_start,
                    weekly[i].orders,
                    100.0 * weekly[i].orders as f64 / mean,
                    mean
                ));
            }
        }
        let last = weekly.last().map(|w| w.week_start);
        let quiet = last.is_some_and(|l| now.secs() - l.secs() > 14 * DAY);
        let grade = if drops.is_empty() && !quiet { Grade::Ok } else { Grade::Warning };
        let mut summary = format!("{} weeks with orders, {} sudden drops", weekly.len(), drops.len());
        if let (true, Some(l)) = (quiet, last) {
            summary.push_str(&format!("; no orders since the week of {l}"));
        }
        checks.push(check("weekly_order_volume", grade, summary, drops));

        // Time since the last successful sync of each importer.
        let mut grade = Grade::Ok;
        let mut details = Vec::new();
        for (name, r) in &latest {
            match last_success.get(name) {
                None => {
                    grade = Grade::Error;
                    details.push(format!("{name}: no successful sync"));
                }
                Some(&t) => {
                    let age = now.secs() - t.secs();
                    if age > config.stale_after_secs || !r.succeeded() {
                        grade = grade.max(Grade::Warning);
                    }
                    let failed = if r.succeeded() { "" } else { " (the latest sync failed)" };
                    details.push(format!("{name}: last success {t}, {:.1} h ago{failed}", age as f64 / 3600.0));
                }
            }
        }
        checks.push(check(
            "last_successful_sync",
            if latest.is_empty() { Grade::Warning } else { grade },
            format!("{} importers", latest.len()),
            details,
        ));

        // Share of the catalog not indexable.
        let grade = if share(facts.products_not_indexable, n) > 0.2 { Grade::Warning } else { Grade::Ok };
        checks.push(check(
            "not_indexable",
            grade,
            format!(
                "{} products ({}) are marked not indexable",
                facts.products_not_indexable,
                pct(facts.products_not_indexable, n)
            ),
            Vec::new(),
        ));

        let grade = checks.iter().map(|c| c.grade).max().unwrap_or(Grade::Ok);
        Ok(DataHealth { computed_at: now, grade, counts, checks, facts, weekly_orders: weekly })
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for DataHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(f, "data health at {}: {}", self.computed_at, self.grade)?;
        writeln!(
            f,
            "  store: {} products, {} categories, {} customers, {} orders, {} order lines",
            c.products, c.categories, c.customers, c.orders, c.order_lines
        )?;
        writeln!(f, "  {:<8} {:<24} summary", "grade", "check")?;
        for check in &self.checks {
            writeln!(f, "  {:<8} {:<24} {}", check.grade.to_string(), check.name, check.summary)?;
            for d in check.details.iter().take(10) {
                writeln!(f, "  {:<8} {:<24}   - {d}", "", "")?;
            }
            if check.details.len() > 10 {
                writeln!(f, "  {:<8} {:<24}   ... and {} more", "", "", check.details.len() - 10)?;
            }
        }
        if let Some(max) = self.weekly_orders.iter().map(|w| w.orders).max() {
            writeln!(f, "  orders per week (last 8):")?;
            let from = self.weekly_orders.len().saturating_sub(8);
            for w in &self.weekly_orders[from..] {
                let bar = "#".repeat((40 * w.orders / max.max(1)) as usize);
                writeln!(f, "    {} {:>8} {bar}", w.week_start, w.orders)?;
            }
        }
        Ok(())
    }
}
