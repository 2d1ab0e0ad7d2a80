//! A synthetic shop with known answers: the embedded default the quickstart runs on, and the ground truth tests
//! check the analysis against.
//!
//! [`SyntheticShop::generate`] builds, from a [`ShopConfig`] and nothing else (a seeded `StdRng`, no clock, no
//! hash-map order), a grocery-like shop:
//!
//! - a category tree of departments and categories, products with log-normal prices per category, list prices,
//!   brands, stock, creation times (a few products are new during the period), about 2% not indexable, and the
//!   attributes `type`, `size`, `organic` and `tags`; popularity is Zipf-like;
//! - **substitute groups**: 3-6 products of one category with the same `type` and different brands and sizes;
//!   each buyer mostly takes one favourite member, so members share buyers across the shop but rarely a basket;
//! - **complementary pairs** `(a, b)` in different departments: `b` joins most baskets that hold `a`;
//! - **sequences** `a -> b`: a durable `a` is followed by `b` in a later order of the same buyer within
//!   [`SEQUENCE_WINDOW_DAYS`], never in the same basket;
//! - **segments** of customers with preferred departments and signature products mostly they buy;
//! - **repurchase cycles**: each customer re-buys a few staples every N days (their own N, with jitter);
//! - **seasonality**: some products sell mainly inside a window of the period;
//! - guests: about 5% of orders carry only an email, about 2% neither an id nor an email.
//!
//! Orders have a grocery shape (median about 5 lines, mean about 9; quantities mostly 1-3; unit price = price).
//! The planted structure is returned beside the data as [`PlantedTruth`].
//!
//! ```
//! use clerk_core::synthetic::{ShopConfig, SyntheticShop};
//! use clerk_core::store::{DataStore, MemoryStore};
//!
//! let shop = SyntheticShop::generate(&ShopConfig::small());
//! assert_eq!(shop, SyntheticShop::generate(&ShopConfig::small())); // deterministic for a seed
//! let (a, b) = &shop.truth.complementary_pairs[0];
//! assert_ne!(a, b);
//! # futures::executor::block_on(async {
//! let store = MemoryStore::new();
//! shop.load_into(&store).await.unwrap();
//! assert_eq!(store.counts().await.unwrap().orders, shop.orders.len());
//! # });
//! ```

mod catalog;
mod sampling;
mod shoppers;

#[cfg(test)]
mod tests;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::domain::{AttributeValue, Category, Customer, Order, OrderLine, Product, Timestamp, DAY};
use crate::store::{DataStore, StoreResult};

use catalog::SEGMENTS;
use sampling::stream_rng;
use shoppers::{History, World, ANONYMOUS};

/// Days within which the second product of a planted sequence follows the first.
pub const SEQUENCE_WINDOW_DAYS: u32 = 30;

/// Records written per store call by [`SyntheticShop::load_into`].
pub const LOAD_BATCH: usize = 10_000;

/// The shape of a synthetic shop. Equal configs generate equal shops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShopConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Registered customers.
    pub customers: usize,
    /// Products, approximately (category sizes are rounded).
    pub products: usize,
    /// Length of the order history in days.
    pub days: u32,
    /// When the history starts.
    pub start: Timestamp,
    /// Mean days between two orders of an active customer (each customer has their own pace around it).
    pub mean_days_between_orders: f64,
}

/// 2024-01-01 00:00:00.
const DEFAULT_START: Timestamp = Timestamp(1_704_067_200);

impl Default for ShopConfig {
    /// The quickstart shop: 2,000 customers, about 3,000 products, one year (about 100k orders).
    fn default() -> Self {
        ShopConfig {
            seed: 42,
            customers: 2_000,
            products: 3_000,
            days: 365,
            start: DEFAULT_START,
            mean_days_between_orders: 7.0,
        }
    }
}

impl ShopConfig {
    /// A small shop for unit tests: 200 customers, about 300 products, 120 days (a few thousand orders).
    pub fn small() -> Self {
        ShopConfig { customers: 200, products: 300, days: 120, mean_days_between_orders: 5.0, ..Self::default() }
    }

    /// A shop `factor` times the size of a real grocery data set of one year (2,469 customers, about 68k
    /// products, 155k orders and 1.46M order lines at `factor` 1).
    pub fn scaled(factor: f64) -> Self {
        let factor = if factor.is_finite() && factor > 0.0 { factor } else { 1.0 };
        ShopConfig {
            customers: ((2_469.0 * factor).round() as usize).max(1),
            products: ((68_000.0 * factor).round() as usize).max(40),
            days: 365,
            mean_days_between_orders: 5.5,
            ..Self::default()
        }
    }

    /// This config with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A customer segment of the planted truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment's name (`families`, `students`, ...).
    pub name: String,
    /// Ids of its customers.
    pub customers: Vec<String>,
    /// Products bought mostly by this segment.
    pub signature_products: Vec<String>,
}

/// What the generator planted, by product and customer id, for tests to check the analysis against.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlantedTruth {
    /// Groups of substitutes: same category and `type`, different brand or size. Buyers stick to one member.
    pub substitute_groups: Vec<Vec<String>>,
    /// `(a, b)`: `b` joins most baskets holding `a`. The products are in different departments.
    pub complementary_pairs: Vec<(String, String)>,
    /// `(a, b)`: most buyers of `a` buy `b` in a later order within [`Self::sequence_window_days`].
    pub sequences: Vec<(String, String)>,
    /// Days within which a sequence's `b` follows its `a`.
    pub sequence_window_days: u32,
    /// Customer segments and their signature products.
    pub segments: Vec<Segment>,
    /// `(customer, product, cycle_days)`: the customer re-buys the product about every `cycle_days` days.
    pub repurchase: Vec<(String, String, u32)>,
    /// Products that sell mainly inside their season window.
    pub seasonal: Vec<String>,
    /// The season window `[from, to)` of each product of [`Self::seasonal`], in the same order.
    pub season_windows: Vec<(Timestamp, Timestamp)>,
    /// Products that entered the catalog during the period (their `created_at`); they sell only after it.
    pub new_products: Vec<String>,
}

/// A generated shop: catalog, customers, orders sorted by time, and the planted truth.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticShop {
    /// The config it was generated from.
    pub config: ShopConfig,
    /// Departments (roots) and their categories.
    pub categories: Vec<Category>,
    /// The catalog.
    pub products: Vec<Product>,
    /// Registered customers.
    pub customers: Vec<Customer>,
    /// Orders in time order (ids `o0000001`, ... in the same order).
    pub orders: Vec<Order>,
    /// What was planted.
    pub truth: PlantedTruth,
}

impl SyntheticShop {
    /// Generates the shop `config` describes. Deterministic: equal configs give equal shops.
    pub fn generate(config: &ShopConfig) -> SyntheticShop {
        let config = config.clone();
        let start = config.start.secs();
        let days = config.days.max(1);
        let end = start + i64::from(days) * DAY;
        let cat = catalog::build(&ShopConfig { days, ..config.clone() }, &mut stream_rng(config.seed, 1));

        // Customers and their segments.
        let mut rng = stream_rng(config.seed, 2);
        let mut customers = Vec::with_capacity(config.customers);
        let mut segment_of = Vec::with_capacity(config.customers);
        let width = config.customers.to_string().len().max(5);
        for c in 0..config.customers {
            let mut x: f64 = rng.gen();
            let segment = SEGMENTS
                .iter()
                .position(|s| {
                    x -= s.share;
                    x < 0.0
                })
                .unwrap_or(SEGMENTS.len() - 1);
            let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
            let mut customer = Customer::new(format!("c{:0width$}", c + 1));
            customer.name = format!("{first} {last}");
            customer.email = Some(format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), c + 1));
            let age = if rng.gen_bool(0.6) {
                SEGMENTS[segment].age_band
            } else {
                AGE_BANDS[rng.gen_range(0..AGE_BANDS.len())]
            };
            customer.attributes.insert("age_band".into(), AttributeValue::Text(age.into()));
            let region = REGIONS[rng.gen_range(0..REGIONS.len())];
            customer.attributes.insert("region".into(), AttributeValue::Text(region.into()));
            customers.push(customer);
            segment_of.push(segment);
        }

        // Registered customers shop in parallel, each from a stream of its own, merged in customer order.
        let world = World::new(&cat, config.seed, start, end, config.mean_days_between_orders.max(0.5));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = config.customers.div_ceil(threads).max(1);
        let mut history = History::default();
        let parts: Vec<History> = std::thread::scope(|scope| {
            let handles: Vec<_> = segment_of
                .chunks(chunk)
                .enumerate()
                .map(|(k, segments)| {
                    let world = &world;
                    scope.spawn(move || {
                        let mut part = History::default();
                        for (j, &segment) in segments.iter().enumerate() {
                            world.customer((k * chunk + j) as u32, segment, &mut part);
                        }
                        part
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        for part in parts {
            history.append(part);
        }

        // Guests: about 5% of all orders with an email only, 2% with nothing.
        let registered = history.orders.len();
        let guest_orders = (registered as f64 * 0.07 / 0.93).round() as usize;
        let email_orders = (guest_orders as f64 * 5.0 / 7.0).round() as usize;
        let mut guests = History::default();
        let first_guest = config.customers as u32;
        world.guests(email_orders, guest_orders - email_orders, first_guest, &mut guests);
        history.append(guests);
        drop(world);

        history.orders.sort_unstable_by_key(|o| (o.time, o.buyer, o.start));
        let orders = materialise(&history, &cat.products, &customers, first_guest, threads);

        let pid = |i: u32| cat.products[i as usize].id.clone();
        let mut segments: Vec<Segment> = SEGMENTS
            .iter()
            .zip(&cat.signatures)
            .map(|(s, sig)| Segment {
                name: s.name.into(),
                customers: Vec::new(),
                signature_products: sig.iter().map(|&i| pid(i)).collect(),
            })
            .collect();
        for (c, &s) in segment_of.iter().enumerate() {
            segments[s].customers.push(customers[c].id.clone());
        }
        let truth = PlantedTruth {
            substitute_groups: cat.groups.iter().map(|g| g.iter().map(|&i| pid(i)).collect()).collect(),
            complementary_pairs: cat.pairs.iter().map(|&(a, b)| (pid(a), pid(b))).collect(),
            sequences: cat.sequences.iter().map(|&(a, b)| (pid(a), pid(b))).collect(),
            sequence_window_days: SEQUENCE_WINDOW_DAYS,
            segments,
            repurchase: history
                .staples
                .iter()
                .map(|&(c, p, cycle)| (customers[c as usize].id.clone(), pid(p), cycle))
                .collect(),
            seasonal: cat.seasonal.iter().map(|&i| pid(i)).collect(),
            season_windows: cat
                .seasonal
                .iter()
                .map(|&i| {
                    let (from, to) = cat.meta[i as usize].season.unwrap_or((start, end));
                    (Timestamp(from), Timestamp(to))
                })
                .collect(),
            new_products: cat.new_products.iter().map(|&i| pid(i)).collect(),
        };
        drop(history);
        let catalog::Catalog { categories, products, .. } = cat;
        SyntheticShop { config, categories, products, customers, orders, truth }
    }

    /// Writes the shop into `store` in batches of [`LOAD_BATCH`]: categories, products, customers, then orders.
    pub async fn load_into(&self, store: &dyn DataStore) -> StoreResult<()> {
        for batch in self.categories.chunks(LOAD_BATCH) {
            store.upsert_categories(batch.to_vec()).await?;
        }
        for batch in self.products.chunks(LOAD_BATCH) {
            store.upsert_products(batch.to_vec()).await?;
        }
        for batch in self.customers.chunks(LOAD_BATCH) {
            store.upsert_customers(batch.to_vec()).await?;
        }
        for batch in self.orders.chunks(LOAD_BATCH) {
            store.append_orders(batch.to_vec()).await?;
        }
        Ok(())
    }

    /// Like [`load_into`](Self::load_into), but moves the records into the store instead of copying them, so a
    /// large shop is not held twice. Returns the planted truth.
    pub async fn into_store(self, store: &dyn DataStore) -> StoreResult<PlantedTruth> {
        let SyntheticShop { categories, products, customers, orders, truth, .. } = self;
        store.upsert_categories(categories).await?;
        for batch in batches(products) {
            store.upsert_products(batch).await?;
        }
        for batch in batches(customers) {
            store.upsert_customers(batch).await?;
        }
        for batch in batches(orders) {
            store.append_orders(batch).await?;
        }
        Ok(truth)
    }

    /// Order lines over all orders.
    pub fn order_lines(&self) -> usize {
        self.orders.iter().map(|o| o.lines.len()).sum()
    }

    /// The time just after the history: `start + days`.
    pub fn end(&self) -> Timestamp {
        Timestamp(self.config.start.secs() + i64::from(self.config.days.max(1)) * DAY)
    }
}

/// Turns the compact, sorted orders into [`Order`]s, in parallel over `threads` contiguous slices.
fn materialise(
    history: &History,
    products: &[Product],
    customers: &[Customer],
    first_guest: u32,
    threads: usize,
) -> Vec<Order> {
    // A dense copy of what lines need, so the hot loop does not chase whole product records.
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let prices: Vec<Option<f64>> = products.iter().map(|p| p.price).collect();
    let width = history.orders.len().to_string().len().max(7);
    let chunk = history.orders.len().div_ceil(threads.max(1)).max(1);
    let make = |k: usize, o: &shoppers::CompactOrder| {
        let (customer_id, email) = match o.buyer {
            ANONYMOUS => (None, None),
            b if (b as usize) < customers.len() => {
                let c = &customers[b as usize];
                (Some(c.id.clone()), c.email.clone())
            }
            b => (None, Some(format!("guest{}@example.net", b - first_guest + 1))),
        };
        let lines = history.lines[o.start..o.start + o.len as usize]
            .iter()
            .map(|l| OrderLine {
                product_id: ids[l.product as usize].clone(),
                quantity: f64::from(l.milli) / 1000.0,
                unit_price: prices[l.product as usize],
            })
            .collect();
        Order { id: format!("o{:0width$}", k + 1), customer_id, email, time: Timestamp(o.time), lines }
    };
    let parts: Vec<Vec<Order>> = std::thread::scope(|scope| {
        let handles: Vec<_> = history
            .orders
            .chunks(chunk)
            .enumerate()
            .map(|(n, slice)| {
                let make = &make;
                scope.spawn(move || slice.iter().enumerate().map(|(j, o)| make(n * chunk + j, o)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut orders = Vec::with_capacity(history.orders.len());
    for part in parts {
        orders.extend(part);
    }
    orders
}

/// Splits `items` into owned batches of [`LOAD_BATCH`], front to back, releasing each as it is handed out.
fn batches<T>(items: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut rest = items.into_iter();
    std::iter::from_fn(move || {
        let batch: Vec<T> = rest.by_ref().take(LOAD_BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    })
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kara", "Liam", "Mia", "Noah",
    "Olga", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Yara", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski", "Lopez",
    "Meyer", "Novak", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber",
];
const AGE_BANDS: &[&str] = &["18-24", "25-34", "35-44", "45-54", "55+"];
const REGIONS: &[&str] = &["north", "south", "east", "west"];
