//! The Core Importer: validates records in the internal format and stores them in batches through
//! [`DataStore`], for whole syncs ([`CoreImporter::sync`]) and single real-time updates
//! ([`CoreImporter::apply`]).

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use clerk_core::domain::{Category, Customer, Order, Product, RecordKind, Timestamp};
use clerk_core::intern::{FxHashMap, FxHasher};
use clerk_core::store::{DataStore, DynDataStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::{ImportError, SourceError};
use crate::importer::{Importer, RecordSink};
use crate::record::{Location, Record, SyncMode};
use crate::report::{Example, Outcome, SyncReport};
use crate::validate::{
    check_category, check_customer, check_line, check_order_head, check_product, FlagReason, Issue, RejectReason, Rules,
};

type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// The clock the Core Importer reads "now" from (injected in tests).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock, in whole seconds since 1970.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Timestamp(secs)
    })
}

/// Settings of the Core Importer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreConfig {
    /// Records per store call. Default 4096.
    pub batch_size: usize,
    /// How far in the future a time may lie, in seconds. Default one day.
    pub max_future_secs: i64,
    /// Examples kept per reason in a report. Default 5.
    pub examples_per_reason: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig { batch_size: 4096, max_future_secs: clerk_core::domain::DAY, examples_per_reason: 5 }
    }
}

/// Validates records and stores them through a [`DataStore`].
///
/// ```
/// use std::sync::Arc;
/// use clerk_core::{MemoryStore, Product};
/// use clerk_sync::{CoreImporter, RealtimeUpdate};
///
/// # futures::executor::block_on(async {
/// let core = CoreImporter::new(Arc::new(MemoryStore::new()));
/// let notice = core.apply(RealtimeUpdate::Product(Product::new("milk"))).await.unwrap();
/// assert_eq!(notice.position, 1);
/// # });
/// ```
#[derive(Clone)]
pub struct CoreImporter {
    store: DynDataStore,
    config: CoreConfig,
    clock: Clock,
    live: Arc<Mutex<LiveWrites>>,
}

/// Real-time writes made while syncs run, shared by the clones of one Core Importer: a real-time update wins
/// over a sync that is running when it arrives (the sync neither overwrites nor deletes what it wrote).
#[derive(Debug, Default)]
struct LiveWrites {
    syncs: usize,
    written: FxHashSet<(RecordKind, String)>,
}

fn lock(live: &Mutex<LiveWrites>) -> std::sync::MutexGuard<'_, LiveWrites> {
    // The guarded data is a counter and a set that stay valid whatever a panicking holder did.
    live.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for CoreImporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreImporter").field("store", &self.store).field("config", &self.config).finish()
    }
}

impl CoreImporter {
    /// A Core Importer over `store` with the default settings and the system clock.
    pub fn new(store: DynDataStore) -> Self {
        CoreImporter { store, config: CoreConfig::default(), clock: system_clock(), live: Arc::default() }
    }

    /// With these settings.
    pub fn with_config(mut self, config: CoreConfig) -> Self {
        self.config = config;
        self
    }

    /// With this clock (for tests and replays).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store written to.
    pub fn store(&self) -> &DynDataStore {
        &self.store
    }

    /// The rules at the clock's current time.
    pub fn rules(&self) -> Rules {
        Rules { now: (self.clock)(), max_future_secs: self.config.max_future_secs }
    }

    /// Runs one sync of `importer`: reads its records, validates and stores them in batches, and after a full
    /// sync deletes the products, categories and customers of the importer's kinds the feed did not name.
    ///
    /// One bad record never stops the sync; the report says what was rejected and why. A failing store stops it
    /// with [`Outcome::Failed`] (what was stored stays stored).
    pub async fn sync(&self, importer: &mut dyn Importer, mode: SyncMode) -> SyncReport {
        let started = Instant::now();
        let rules = self.rules();
        let name = importer.name().to_owned();
        let kinds = importer.kinds();
        let mut report = SyncReport::new(name, mode.is_full(), rules.now);
        lock(&self.live).syncs += 1;
        let result = match Session::start(self.store.as_ref(), rules, &self.config, self.live.clone()).await {
            Err(e) => Err(ImportError::Store(e)),
            Ok(mut session) => {
                let read = importer.read(&mode, &mut session).await;
                let result = match read {
                    Ok(cursor) => session.finish(mode.is_full(), &kinds).await.map(|()| cursor),
                    Err(e) => Err(e),
                };
                let (importer, full) = (report.importer, report.full);
                report = session.report;
                report.importer = importer;
                report.full = full;
                result
            }
        };
        {
            let mut live = lock(&self.live);
            live.syncs -= 1;
            if live.syncs == 0 {
                live.written.clear();
            }
        }
        match result {
            Ok(cursor) => report.cursor = Some(cursor),
            Err(e) => report.outcome = Outcome::Failed(e.to_string()),
        }
        report.finished_at = (self.clock)();
        report.duration_secs = started.elapsed().as_secs_f64();
        report
    }

    /// Applies one real-time update with the same validation as a sync.
    ///
    /// The analysis learns about the change through the store: every write advances the store's change position
    /// ([`DataStore::changes_since`]), which the analysis polls to decide between a fold-in and a full
    /// re-analysis. The returned [`ChangeNotice`] carries that position, for hosts that want to push instead.
    pub async fn apply(&self, update: RealtimeUpdate) -> Result<ChangeNotice, ApplyError> {
        {
            let mut live = lock(&self.live);
            if live.syncs > 0 {
                let key = match &update {
                    RealtimeUpdate::Product(p) => Some((RecordKind::Product, p.id.clone())),
                    RealtimeUpdate::Category(c) => Some((RecordKind::Category, c.id.clone())),
                    RealtimeUpdate::Customer(c) => Some((RecordKind::Customer, c.id.clone())),
                    RealtimeUpdate::Removed { kind, id } => Some((*kind, id.clone())),
                    RealtimeUpdate::Order(_) => None,
                };
                live.written.extend(key);
            }
        }
        let rules = self.rules();
        let store = self.store.as_ref();
        let mut notice = ChangeNotice {
            kind: update.kind(),
            id: String::new(),
            change: Change::Unchanged,
            rejected_lines: Vec::new(),
            flags: Vec::new(),
            position: 0,
        };
        let written = match update {
            RealtimeUpdate::Product(p) => {
                check_product(&p, &rules).map_err(ApplyError::Rejected)?;
                for c in &p.categories {
                    if store.category(c).await?.is_none() {
                        notice.flags.push((FlagReason::UnknownCategory, format!("category {c:?} is unknown")));
                    }
                }
                notice.id.clone_from(&p.id);
                store.upsert_products(vec![p]).await?
            }
            RealtimeUpdate::Category(c) => {
                check_category(&c).map_err(ApplyError::Rejected)?;
                notice.id.clone_from(&c.id);
                store.upsert_categories(vec![c]).await?
            }
            RealtimeUpdate::Customer(c) => {
                check_customer(&c).map_err(ApplyError::Rejected)?;
                notice.id.clone_from(&c.id);
                store.upsert_customers(vec![c]).await?
            }
            RealtimeUpdate::Order(mut o) => {
                check_order_head(&o, &rules).map_err(ApplyError::Rejected)?;
                let mut kept = Vec::with_capacity(o.lines.len());
                for (i, line) in std::mem::take(&mut o.lines).into_iter().enumerate() {
                    match check_line(&line, i) {
                        Ok(()) => kept.push(line),
                        Err(issue) => notice.rejected_lines.push(issue),
                    }
                }
                if kept.is_empty() {
                    return Err(ApplyError::Rejected(Issue::new(
                        RejectReason::EmptyOrder,
                        "lines",
                        if notice.rejected_lines.is_empty() { "order has no lines" } else { "every line was rejected" },
                    )));
                }
                for line in &kept {
                    if store.product(&line.product_id).await?.is_none() {
                        notice
                            .flags
                            .push((FlagReason::UnknownProduct, format!("product {:?} is unknown", line.product_id)));
                    }
                }
                if let Some(c) = &o.customer_id {
                    if store.customer(c).await?.is_none() {
                        notice.flags.push((FlagReason::UnknownCustomer, format!("customer {c:?} is unknown")));
                    }
                }
                o.lines = kept;
                notice.id.clone_from(&o.id);
                store.append_orders(vec![o]).await?
            }
            RealtimeUpdate::Removed { kind, id } => {
                if id.is_empty() {
                    return Err(ApplyError::Rejected(Issue::new(RejectReason::MissingField, "id", "id is required")));
                }
                let n = store.delete(kind, std::slice::from_ref(&id)).await?;
                notice.id = id;
                notice.change = if n > 0 { Change::Deleted } else { Change::Unchanged };
                notice.position = store.change_position().await?;
                return Ok(notice);
            }
        };
        notice.change = if written.replaced > 0 { Change::Replaced } else { Change::Inserted };
        notice.position = store.change_position().await?;
        Ok(notice)
    }
}

/// One change pushed by the shop as it happens.
#[derive(Clone, Debug, PartialEq)]
pub enum RealtimeUpdate {
    /// A product was added or changed.
    Product(Product),
    /// A category was added or changed.
    Category(Category),
    /// A customer was added or changed.
    Customer(Customer),
    /// An order was placed (or changed).
    Order(Order),
    /// A record was removed.
    Removed {
        /// Its kind.
        kind: RecordKind,
        /// Its id.
        id: String,
    },
}

impl RealtimeUpdate {
    /// The kind of record concerned.
    pub fn kind(&self) -> RecordKind {
        match self {
            RealtimeUpdate::Product(_) => RecordKind::Product,
            RealtimeUpdate::Category(_) => RecordKind::Category,
            RealtimeUpdate::Customer(_) => RecordKind::Customer,
            RealtimeUpdate::Order(_) => RecordKind::Order,
            RealtimeUpdate::Removed { kind, .. } => *kind,
        }
    }
}

/// What a real-time update did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new record.
    Inserted,
    /// A record replaced one with the same id.
    Replaced,
    /// A record was deleted.
    Deleted,
    /// Nothing (deleting an absent id).
    Unchanged,
}

/// The answer to a real-time update: what changed, and the store's change position after it (the analysis
/// reads changes after its own position).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeNotice {
    /// The kind of record.
    pub kind: RecordKind,
    /// Its id.
    pub id: String,
    /// What happened.
    pub change: Change,
    /// Order lines dropped by validation (the rest of the order was stored).
    pub rejected_lines: Vec<Issue>,
    /// Flags raised (unknown product, customer or category), with a message.
    pub flags: Vec<(FlagReason, String)>,
    /// The store's change position after the write.
    pub position: u64,
}

/// Why a real-time update was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The record breaks a rule.
    #[error("rejected: {0}")]
    Rejected(Issue),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone, Copy, Debug)]
enum OrderSlot {
    /// In batch `gen` at `idx` (stored already when `gen` is not the current batch).
    Batch { gen: u32, idx: u32 },
    /// Seen, but no line survived yet.
    Empty,
    /// The order was rejected as a whole; later parts are rejected with it.
    Rejected,
}

/// The sink side of one sync.
struct Session<'a> {
    store: &'a dyn DataStore,
    rules: Rules,
    batch_size: usize,
    examples: usize,
    report: SyncReport,
    known_products: FxHashSet<String>,
    known_categories: FxHashSet<String>,
    known_customers: FxHashSet<String>,
    seen_products: FxHashSet<String>,
    seen_categories: FxHashSet<String>,
    seen_customers: FxHashSet<String>,
    /// Ids of records rejected in this sync: a full sync does not delete their stored version.
    rejected_ids: FxHashSet<(RecordKind, String)>,
    orders: FxHashMap<String, OrderSlot>,
    empty_orders: Vec<(String, Location)>,
    customers_in_orders: FxHashSet<String>,
    gen: u32,
    products: Vec<Product>,
    categories: Vec<Category>,
    customers: Vec<Customer>,
    pending_orders: Vec<Order>,
    unreadable: Option<String>,
    live: Arc<Mutex<LiveWrites>>,
}

async fn id_set(store: &dyn DataStore, kind: RecordKind) -> Result<FxHashSet<String>, StoreError> {
    Ok(store.ids(kind).await?.into_iter().collect())
}

impl<'a> Session<'a> {
    async fn start(
        store: &'a dyn DataStore,
        rules: Rules,
        config: &CoreConfig,
        live: Arc<Mutex<LiveWrites>>,
    ) -> Result<Self, StoreError> {
        Ok(Session {
            store,
            rules,
            batch_size: config.batch_size.max(1),
            examples: config.examples_per_reason,
            report: SyncReport::new("", false, rules.now),
            known_products: id_set(store, RecordKind::Product).await?,
            known_categories: id_set(store, RecordKind::Category).await?,
            known_customers: id_set(store, RecordKind::Customer).await?,
            seen_products: FxHashSet::default(),
            seen_categories: FxHashSet::default(),
            seen_customers: FxHashSet::default(),
            rejected_ids: FxHashSet::default(),
            orders: FxHashMap::default(),
            empty_orders: Vec::new(),
            customers_in_orders: FxHashSet::default(),
            gen: 0,
            products: Vec::new(),
            categories: Vec::new(),
            customers: Vec::new(),
            pending_orders: Vec::new(),
            unreadable: None,
            live,
        })
    }

    // "Known" = stored before the sync, or stored in it.
    #[inline]
    fn product_known(&self, id: &str) -> bool {
        self.known_products.contains(id) || self.seen_products.contains(id)
    }

    #[inline]
    fn category_known(&self, id: &str) -> bool {
        self.known_categories.contains(id) || self.seen_categories.contains(id)
    }

    #[inline]
    fn customer_known(&self, id: &str) -> bool {
        self.known_customers.contains(id) || self.seen_customers.contains(id)
    }

    fn reject(&mut self, reason: RejectReason, location: Location, id: &str, message: impl FnOnce() -> String) {
        let stats = self.report.rejections.entry(reason).or_default();
        stats.count += 1;
        if stats.examples.len() < self.examples {
            stats.examples.push(Example { location, id: id.to_owned(), message: message() });
        }
    }

    fn reject_issue(&mut self, kind: RecordKind, location: Location, id: &str, issue: Issue) {
        *self.report.rejected.get_mut(kind) += 1;
        self.reject(issue.reason, location.with_field(issue.field), id, || issue.message);
    }

    fn flag(&mut self, reason: FlagReason, location: &Location, id: &str, message: impl FnOnce() -> String) {
        let stats = self.report.flags.entry(reason).or_default();
        stats.count += 1;
        if stats.examples.len() < self.examples {
            stats.examples.push(Example { location: location.clone(), id: id.to_owned(), message: message() });
        }
    }

    /// Drops the records a real-time update wrote during this sync: the newer write wins.
    fn keep_live<T>(&mut self, kind: RecordKind, records: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
        let live = lock(&self.live);
        if live.written.is_empty() {
            return records;
        }
        let before = records.len();
        let kept: Vec<T> = records.into_iter().filter(|r| !live.written.contains(&(kind, id(r).to_owned()))).collect();
        *self.report.stored.get_mut(kind) -= (before - kept.len()) as u64;
        kept
    }

    async fn flush_products(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::take(&mut self.products);
        let batch = self.keep_live(RecordKind::Product, batch, |p| &p.id);
        if !batch.is_empty() {
            self.store.upsert_products(batch).await?;
        }
        Ok(())
    }

    async fn flush_categories(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::take(&mut self.categories);
        let batch = self.keep_live(RecordKind::Category, batch, |c| &c.id);
        if !batch.is_empty() {
            self.store.upsert_categories(batch).await?;
        }
        Ok(())
    }

    async fn flush_customers(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::take(&mut self.customers);
        let batch = self.keep_live(RecordKind::Customer, batch, |c| &c.id);
        if !batch.is_empty() {
            self.store.upsert_customers(batch).await?;
        }
        Ok(())
    }

    async fn flush_orders(&mut self) -> Result<(), ImportError> {
        if !self.pending_orders.is_empty() {
            let batch = std::mem::replace(&mut self.pending_orders, Vec::with_capacity(self.batch_size));
            self.gen += 1;
            self.store.append_orders(batch).await?;
        }
        Ok(())
    }

    async fn flush_all(&mut self) -> Result<(), ImportError> {
        self.flush_categories().await?;
        self.flush_products().await?;
        self.flush_customers().await?;
        self.flush_orders().await
    }

    async fn product(&mut self, location: Location, p: Product) -> Result<(), ImportError> {
        self.report.read.products += 1;
        if let Err(issue) = check_product(&p, &self.rules) {
            self.rejected_ids.insert((RecordKind::Product, p.id.clone()));
            self.reject_issue(RecordKind::Product, location, &p.id, issue);
            return Ok(());
        }
        if !self.seen_products.insert(p.id.clone()) {
            self.report.rejected.products += 1;
            let msg = || format!("product {:?} appeared earlier in this sync", p.id);
            self.reject(RejectReason::DuplicateId, location.with_field("id"), &p.id, msg);
            return Ok(());
        }
        if let Some(c) = p.categories.iter().find(|c| !self.category_known(c)) {
            let msg = format!("category {c:?} is unknown");
            self.flag(FlagReason::UnknownCategory, &location, &p.id, || msg);
            self.report.flagged.products += 1;
        }
        self.report.stored.products += 1;
        self.products.push(p);
        if self.products.len() >= self.batch_size {
            self.flush_products().await?;
        }
        Ok(())
    }

    async fn category(&mut self, location: Location, c: Category) -> Result<(), ImportError> {
        self.report.read.categories += 1;
        if let Err(issue) = check_category(&c) {
            self.rejected_ids.insert((RecordKind::Category, c.id.clone()));
            self.reject_issue(RecordKind::Category, location, &c.id, issue);
            return Ok(());
        }
        if !self.seen_categories.insert(c.id.clone()) {
            self.report.rejected.categories += 1;
            let msg = || format!("category {:?} appeared earlier in this sync", c.id);
            self.reject(RejectReason::DuplicateId, location.with_field("id"), &c.id, msg);
            return Ok(());
        }
        self.report.stored.categories += 1;
        self.categories.push(c);
        if self.categories.len() >= self.batch_size {
            self.flush_categories().await?;
        }
        Ok(())
    }

    async fn customer(&mut self, location: Location, c: Customer) -> Result<(), ImportError> {
        self.report.read.customers += 1;
        if let Err(issue) = check_customer(&c) {
            self.rejected_ids.insert((RecordKind::Customer, c.id.clone()));
            self.reject_issue(RecordKind::Customer, location, &c.id, issue);
            return Ok(());
        }
        if !self.seen_customers.insert(c.id.clone()) {
            self.report.rejected.customers += 1;
            let msg = || format!("customer {:?} appeared earlier in this sync", c.id);
            self.reject(RejectReason::DuplicateId, location.with_field("id"), &c.id, msg);
            return Ok(());
        }
        self.report.stored.customers += 1;
        self.customers.push(c);
        if self.customers.len() >= self.batch_size {
            self.flush_customers().await?;
        }
        Ok(())
    }

    async fn order(&mut self, location: Location, mut o: Order, part: bool) -> Result<(), ImportError> {
        let n_lines = o.lines.len() as u64;
        self.report.lines.read += n_lines;
        let slot = self.orders.get(o.id.as_str()).copied();
        // A part of an order seen earlier (its lines arrive on many rows) is not another order; a repeated
        // whole order is, and is read (then rejected as a duplicate).
        if slot.is_none() || !part {
            self.report.read.orders += 1;
        }
        let head = match slot {
            Some(_) if !part => Err(Issue::new(
                RejectReason::DuplicateId,
                "id",
                format!("order {:?} appeared earlier in this sync", o.id),
            )),
            Some(OrderSlot::Rejected) => {
                // The order was rejected as a whole already; its later lines go with it.
                self.report.lines.rejected += n_lines;
                return Ok(());
            }
            Some(_) => Ok(()),
            None => check_order_head(&o, &self.rules),
        };
        if let Err(issue) = head {
            self.report.lines.rejected += n_lines;
            if slot.is_none() && !o.id.is_empty() {
                self.orders.insert(o.id.clone(), OrderSlot::Rejected);
            }
            self.reject_issue(RecordKind::Order, location, &o.id, issue);
            return Ok(());
        }

        // Lines: drop the bad ones (with their own location), flag unknown products.
        let all_good = o.lines.iter().enumerate().all(|(i, l)| check_line(l, i).is_ok());
        if !all_good {
            let lines = std::mem::take(&mut o.lines);
            o.lines.reserve(lines.len());
            for (i, line) in lines.into_iter().enumerate() {
                match check_line(&line, i) {
                    Ok(()) => o.lines.push(line),
                    Err(mut issue) => {
                        self.report.lines.rejected += 1;
                        let loc = if part {
                            let mut loc = location.clone();
                            loc.line = loc.line.map(|l| l + i as u64);
                            issue.field = issue.field.rsplit('.').next().unwrap_or_default().to_owned();
                            loc
                        } else {
                            location.clone()
                        };
                        self.reject(issue.reason, loc.with_field(issue.field), &o.id, || issue.message);
                    }
                }
            }
        }
        let mut flagged = false;
        for (i, line) in o.lines.iter().enumerate() {
            if !self.product_known(&line.product_id) {
                flagged = true;
                let stats = self.report.flags.entry(FlagReason::UnknownProduct).or_default();
                stats.count += 1;
                if stats.examples.len() < self.examples {
                    let mut loc = location.clone();
                    if part {
                        loc.line = loc.line.map(|l| l + i as u64);
                    }
                    stats.examples.push(Example {
                        location: loc.with_field(if part {
                            "product_id".to_owned()
                        } else {
                            format!("lines[{i}].product_id")
                        }),
                        id: o.id.clone(),
                        message: format!("product {:?} is not in the catalog", line.product_id),
                    });
                }
            }
        }

        if o.lines.is_empty() {
            if slot.is_none() {
                self.orders.insert(o.id.clone(), OrderSlot::Empty);
                self.empty_orders.push((o.id, location));
            }
            return Ok(());
        }
        self.report.lines.stored += o.lines.len() as u64;
        match slot {
            Some(OrderSlot::Batch { gen, idx }) if gen == self.gen => {
                self.pending_orders[idx as usize].lines.append(&mut o.lines);
                return Ok(());
            }
            Some(OrderSlot::Batch { .. }) => {
                // Stored in an earlier batch: read it back, extend it and write it again.
                match self.store.order(&o.id).await? {
                    Some(mut stored) => {
                        stored.lines.append(&mut o.lines);
                        o = stored;
                    }
                    None => self.report.stored.orders += 1,
                }
            }
            _ => {
                // A new order (or one whose earlier parts all had bad lines).
                if let Some(c) = &o.customer_id {
                    if !self.customer_known(c) {
                        flagged = true;
                        let msg = || format!("customer {c:?} has no customer record");
                        let stats = self.report.flags.entry(FlagReason::UnknownCustomer).or_default();
                        stats.count += 1;
                        if stats.examples.len() < self.examples {
                            stats.examples.push(Example {
                                location: location.clone().with_field("customer_id"),
                                id: o.id.clone(),
                                message: msg(),
                            });
                        }
                    }
                    if !self.customers_in_orders.contains(c.as_str()) {
                        self.customers_in_orders.insert(c.clone());
                    }
                }
                self.report.stored.orders += 1;
            }
        }
        if flagged {
            self.report.flagged.orders += 1;
        }
        let idx = self.pending_orders.len() as u32;
        self.orders.insert(o.id.clone(), OrderSlot::Batch { gen: self.gen, idx });
        self.pending_orders.push(o);
        if self.pending_orders.len() >= self.batch_size {
            self.flush_orders().await?;
        }
        Ok(())
    }

    async fn delete(&mut self, location: Location, kind: RecordKind, id: String) -> Result<(), ImportError> {
        *self.report.read.get_mut(kind) += 1;
        if id.is_empty() {
            *self.report.rejected.get_mut(kind) += 1;
            self.reject(RejectReason::MissingField, location.with_field("id"), "", || "id is required".to_owned());
            return Ok(());
        }
        // Pending writes go first, so that a delete after an upsert of the same id wins.
        self.flush_all().await?;
        let n = self.store.delete(kind, std::slice::from_ref(&id)).await?;
        *self.report.deleted.get_mut(kind) += n as u64;
        match kind {
            RecordKind::Product => {
                self.known_products.remove(&id);
                self.seen_products.remove(&id);
            }
            RecordKind::Category => {
                self.known_categories.remove(&id);
                self.seen_categories.remove(&id);
            }
            RecordKind::Customer => {
                self.known_customers.remove(&id);
                self.seen_customers.remove(&id);
            }
            RecordKind::Order => {
                self.orders.remove(&id);
            }
        }
        Ok(())
    }

    async fn finish(&mut self, full: bool, kinds: &[RecordKind]) -> Result<(), ImportError> {
        self.flush_all().await?;
        for (id, location) in std::mem::take(&mut self.empty_orders) {
            if matches!(self.orders.get(id.as_str()), Some(OrderSlot::Empty)) {
                self.report.rejected.orders += 1;
                self.reject(RejectReason::EmptyOrder, location.with_field("lines"), &id, || {
                    "no line of the order is valid; the order was not stored".to_owned()
                });
            }
        }
        self.report.customers_in_orders = self.customers_in_orders.len() as u64;
        if !full {
            return Ok(());
        }
        if let Some(why) = self.unreadable.take() {
            self.report.mirror_skipped = Some(why);
            return Ok(());
        }
        for &kind in kinds {
            let seen = match kind {
                RecordKind::Product => &self.seen_products,
                RecordKind::Category => &self.seen_categories,
                RecordKind::Customer => &self.seen_customers,
                RecordKind::Order => continue,
            };
            let absent: Vec<String> =
                self.store.ids(kind).await?.into_iter().filter(|id| !seen.contains(id.as_str())).collect();
            let absent: Vec<String> = {
                let live = lock(&self.live);
                absent
                    .into_iter()
                    .filter(|id| {
                        !self.rejected_ids.contains(&(kind, id.clone())) && !live.written.contains(&(kind, id.clone()))
                    })
                    .collect()
            };
            if !absent.is_empty() {
                let n = self.store.delete(kind, &absent).await?;
                *self.report.deleted.get_mut(kind) += n as u64;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl RecordSink for Session<'_> {
    async fn record(&mut self, location: Location, record: Record) -> Result<(), ImportError> {
        match record {
            Record::Product(p) => self.product(location, p).await,
            Record::Category(c) => self.category(location, c).await,
            Record::Customer(c) => self.customer(location, c).await,
            Record::Order(o) => self.order(location, o, false).await,
            Record::OrderPart(o) => self.order(location, o, true).await,
            Record::Delete { kind, id } => self.delete(location, kind, id).await,
        }
    }

    fn source_error(&mut self, error: SourceError) {
        if error.reason == RejectReason::UnreadableSource && self.unreadable.is_none() {
            self.unreadable = Some(format!("{} could not be read", error.location.source));
        }
        self.report.lines.read += error.lines;
        self.report.lines.rejected += error.lines;
        if let Some(kind) = error.kind {
            *self.report.read.get_mut(kind) += 1;
            *self.report.rejected.get_mut(kind) += 1;
        }
        self.reject(error.reason, error.location, &error.id, || error.message);
    }
}
