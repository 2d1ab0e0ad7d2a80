//! Helpers shared by the examples `import`, `bench`, `analysis_bench` and `load_test`: the data-source and
//! column flags and their mapping, importing a CSV order file (+ Complete Journey catalog) into a store, peak
//! memory, a seeded random generator and latency percentiles. Not every example uses every helper.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use clerk::core::MemoryStore;
use clerk::sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderField, OrderMapping, ProductMapping};
use clerk::sync::{CoreImporter, SyncMode, SyncReport};

/// The usage text of the column flags.
pub const COLUMN_FLAGS: &str =
    "[--customer-col C --order-col O --product-col P --quantity-col Q --time-col T --price-col V] [--line-total]";

/// The order field a column flag names (`--customer-col` ...), `None` for other flags.
pub fn column_flag(flag: &str) -> Option<OrderField> {
    Some(match flag {
        "--customer-col" => OrderField::CustomerId,
        "--order-col" => OrderField::OrderId,
        "--product-col" => OrderField::ProductId,
        "--quantity-col" => OrderField::Quantity,
        "--time-col" => OrderField::Time,
        "--price-col" => OrderField::UnitPrice,
        _ => return None,
    })
}

/// The data-source flags of the examples that import an order file: `--orders`, `--catalog`, the column flags
/// and `--line-total`.
#[derive(Debug, Default)]
pub struct Source {
    /// The order lines (CSV, gzip allowed).
    pub orders: Option<String>,
    /// The catalog (Complete Journey mapping).
    pub catalog: Option<String>,
    /// Column flags, in the order given.
    pub columns: Vec<(OrderField, String)>,
    /// Whether the price column holds the whole line's price.
    pub line_total: bool,
}

impl Source {
    /// Takes `flag`, reading its value with `value`, when it is a data-source flag; `false` for any other.
    pub fn take(&mut self, flag: &str, value: impl FnOnce() -> String) -> bool {
        if let Some(field) = column_flag(flag) {
            self.columns.push((field, value()));
            return true;
        }
        match flag {
            "--orders" => self.orders = Some(value()),
            "--catalog" => self.catalog = Some(value()),
            "--line-total" => self.line_total = true,
            _ => return false,
        }
        true
    }

    /// The order mapping of the column flags ([`order_mapping`]).
    pub fn mapping(&self) -> OrderMapping {
        order_mapping(&self.columns, self.line_total)
    }
}

/// The order mapping of the column flags: defaults `customer_id, order_id, product_id, quantity, timestamp,
/// price`; with `line_total` the price column holds the price of the whole line (Complete Journey's
/// `sales_value`).
pub fn order_mapping(columns: &[(OrderField, String)], line_total: bool) -> OrderMapping {
    let mut mapping = OrderMapping::default_headers();
    for (field, header) in columns {
        let field = if *field == OrderField::UnitPrice && line_total { OrderField::LineTotal } else { *field };
        mapping = mapping.column(header, field);
    }
    if line_total && !columns.iter().any(|(f, _)| *f == OrderField::UnitPrice) {
        mapping = mapping.line_total("price");
    }
    mapping
}

/// Imports the catalog (Complete Journey mapping) then the orders into `store` through the Core Importer; the
/// sync reports, catalog first. Exits with the orders' report when no order line was stored.
pub async fn import(
    store: Arc<MemoryStore>,
    orders: &str,
    catalog: Option<&str>,
    mapping: OrderMapping,
) -> Vec<SyncReport> {
    let core = CoreImporter::new(store);
    let mut reports = Vec::new();
    if let Some(catalog) = catalog {
        let mut importer = CsvCatalogImporter::from_path("catalog", catalog, ProductMapping::complete_journey());
        reports.push(core.sync(&mut importer, SyncMode::Full).await);
    }
    let mut importer = CsvOrderImporter::from_path("orders", orders, mapping);
    let report = core.sync(&mut importer, SyncMode::Full).await;
    if report.lines.stored == 0 {
        // Nothing to analyse: say why (a missing column, say) instead of failing later on empty data.
        eprintln!("{report}\nno order line of {orders} was stored; check the column flags ({COLUMN_FLAGS})");
        std::process::exit(1);
    }
    reports.push(report);
    reports
}

fn status_kb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak resident memory of this process in MiB (`VmHWM`), when the platform tells.
pub fn peak_rss_mb() -> Option<f64> {
    status_kb("VmHWM:").map(|kb| kb / 1024.0)
}

/// Current resident memory of this process in MiB (`VmRSS`).
pub fn rss_mb() -> Option<f64> {
    status_kb("VmRSS:").map(|kb| kb / 1024.0)
}

/// CPU time this process has used (user + system, all threads) in seconds, from `/proc/self/stat` (10 ms
/// ticks). On a shared machine it moves less than wall time: time spent waiting for a core is not counted.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are the
    // 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resets the peak (`VmHWM`) to the current resident size (Linux >= 4.0); whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// SplitMix64: a small seeded generator, so the examples need no extra dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draws indices with probability proportional to their weights.
#[derive(Clone, Debug)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// A sampler over `weights` (at least one positive).
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Weighted { cumulative }
    }

    /// One index.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// Latency figures of one series, in microseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Latency {
    /// How many timings.
    pub n: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Slowest.
    pub max_us: f64,
}

impl Latency {
    /// The figures of `nanos` (sorted in place), nearest-rank percentiles.
    pub fn of(nanos: &mut [u64]) -> Self {
        if nanos.is_empty() {
            return Latency::default();
        }
        nanos.sort_unstable();
        let n = nanos.len();
        let at = |q: f64| nanos[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1e3;
        let mean = nanos.iter().map(|&x| x as f64).sum::<f64>() / n as f64 / 1e3;
        let r = |x: f64| (x * 100.0).round() / 100.0;
        Latency {
            n,
            p50_us: r(at(0.5)),
            p99_us: r(at(0.99)),
            p999_us: r(at(0.999)),
            mean_us: r(mean),
            max_us: r(nanos[n - 1] as f64 / 1e3),
        }
    }
}

/// `nproc` and the 1-minute load average, for the record.
pub fn machine() -> serde_json::Value {
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    serde_json::json!({"nproc": nproc, "loadavg": load})
}
