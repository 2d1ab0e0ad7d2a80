//! The platform in one handle: [`Clerk`] wires the three subsystems around one store so a host does not have to.
//!
//! A handle holds a store ([`MemoryStore`] by default), a model ([`ClerkCore`] by default), any number of
//! importers and the query engine. It has **no timer of its own**: the host calls [`Clerk::run_due`] from its own
//! loop, runtime or job scheduler, and that call
//!
//! 1. runs the importers the [`SyncScheduler`] says are due (the first sync of each is full, later ones
//!    incremental from the cursor the importer returned), and
//! 2. applies the [analysis policy](analysis_policy): a full analysis (read the store, analyse, save the analysis
//!    as the next version, install it in the engine) when enough changed or the analysis is old, otherwise a
//!    fold-in of the new orders.
//!
//! Real-time updates go in through [`Clerk::apply`]: the Core Importer validates and stores the change, and a
//! new order is folded into the installed analysis at once, so the next query sees it. Queries go through
//! [`Clerk::query`] or the JSON entry point [`Clerk::handle_json`].
//!
//! **Before the first analysis** the handle answers from the fallback: a [`ProvisionalModel`] counts best
//! sellers from the store, the engine's documented fallback chains pad every answer, and each response says so:
//! `model` is [`PROVISIONAL_MODEL`], `analysis_version` is 0 and `fallback` names a step (`popular` when the
//! engine's chain did not name an earlier one).
//!
//! **Restart.** A handle built on a store that holds a saved analysis of its model loads it
//! ([`IntentModel::load`]) instead of analysing; the next [`run_due`](Clerk::run_due) folds in (or re-analyses)
//! what changed after the position the saved analysis covers.
//!
//! **Runtimes.** The handle uses `futures` only and never spawns; every method is an `async fn` whose future is
//! `Send`, so it runs on any executor (`futures::executor::block_on` in the examples). A full analysis is
//! CPU-bound synchronous work inside [`run_due`](Clerk::run_due) and [`analyse_now`](Clerk::analyse_now) (about
//! a second per 100k orders in release builds); on an async server, call them from a blocking task (for tokio:
//! `spawn_blocking(move || block_on(clerk.run_due(now)))`). Queries never wait for an analysis: they read the
//! engine's current snapshot, and the new analysis is swapped in atomically when it is ready.
//!
//! ```
//! use clerk::platform::Clerk;
//! use clerk::api::{Query, Request};
//! use clerk::core::domain::Timestamp;
//! use clerk::core::synthetic::{ShopConfig, SyntheticShop};
//! use clerk::sync::{Record, VecImporter};
//! use clerk::core::domain::RecordKind;
//!
//! # futures::executor::block_on(async {
//! let shop = SyntheticShop::generate(&ShopConfig::small());
//! let records = shop.products.iter().cloned().map(Record::Product)
//!     .chain(shop.orders.iter().cloned().map(Record::Order));
//! let importer = VecImporter::new("shop", &[RecordKind::Product, RecordKind::Order]).with(records);
//! let clerk = Clerk::builder().importer(importer).build().await.unwrap();
//!
//! let run = clerk.run_due(Timestamp::parse("2024-06-01").unwrap()).await.unwrap();
//! assert!(run.analysis.is_some());
//! let answer = clerk.query(Request::new(Query::Popular { category: None }).limit(3)).await.unwrap();
//! assert_eq!(answer.model, "clerk-core");
//! # });
//! ```

pub mod analysis_policy;
mod error;
mod provisional;

use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use clerk_api::catalog::Catalog;
use clerk_api::history::History;
use clerk_api::json::{error_json, MAX_REQUEST_BYTES};
use clerk_api::{Fallback, QueryEngine, QueryError, Request, Response, Snapshot};
use clerk_core::clerk::{ClerkCore, Settings};
use clerk_core::data::Dataset;
use clerk_core::domain::{RecordKind, Timestamp};
use clerk_core::model::{FoldInStats, IntentModel, ModelStats};
use clerk_core::store::{ChangeSummary, DynDataStore, MemoryStore, SavedAnalysis};
use clerk_sync::core_importer::system_clock;
use clerk_sync::{
    Change, ChangeNotice, Clock, CoreConfig, CoreImporter, DataHealth, HealthConfig, Importer, ImporterSchedule,
    RealtimeUpdate, ScheduleConfig, SyncCursor, SyncMode, SyncReport, SyncScheduler,
};
use futures::lock::Mutex;
use serde::{Deserialize, Serialize};

pub use analysis_policy::{decide, Action, AnalysisPolicy, Decision, Why};
pub use error::{ClerkError, ClerkResult};
pub use provisional::{ProvisionalModel, PROVISIONAL_MODEL};

/// Orders read per store call when folding in.
const FOLD_PAGE: usize = 4096;

/// What one [`Clerk::run_due`] did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The time the host passed in.
    pub at: Timestamp,
    /// The syncs that ran, in the order they ran.
    pub syncs: Vec<SyncReport>,
    /// What changed in the store after the last full analysis, as the policy saw it.
    pub changes: ChangeSummary,
    /// What the analysis policy decided, and why.
    pub decision: Decision,
    /// The full analysis, when one ran.
    pub analysis: Option<AnalysisReport>,
    /// The fold-in, when one ran (orders folded in; 0 when only the catalog was refreshed).
    pub fold_in: Option<FoldInStats>,
    /// When the next importer is due ([`Clerk::next_wake`]).
    pub next_wake: Option<Timestamp>,
}

/// What one full analysis did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// The version the store gave the saved analysis.
    pub version: u64,
    /// The store's change position the analysis covers.
    pub data_position: u64,
    /// Orders that arrived while it ran and were folded in before it was installed.
    pub caught_up: usize,
    /// Seconds spent reading the store.
    pub read_secs: f64,
    /// Seconds spent analysing.
    pub analyse_secs: f64,
    /// Seconds spent saving and installing.
    pub install_secs: f64,
    /// The analysed model's counts.
    pub stats: ModelStats,
}

/// What one real-time update did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// What the Core Importer did with it.
    pub notice: ChangeNotice,
    /// The fold-in of the new order, `None` when the update was not a new order (a catalog or customer change
    /// reaches the engine at the next [`Clerk::run_due`]; a replaced or deleted order leads to a full analysis
    /// there).
    pub fold_in: Option<FoldInStats>,
}

/// Where the handle's analysis stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Whether an analysis of the handle's model is installed (`false`: answers are provisional).
    pub analysed: bool,
    /// The name of the model answering ([`PROVISIONAL_MODEL`] before the first analysis).
    pub model: String,
    /// The version of the installed analysis (0 before the first).
    pub analysis_version: u64,
    /// The store's change position the last full analysis covers.
    pub analysis_position: u64,
    /// When the last full analysis was made.
    pub analysed_at: Option<Timestamp>,
    /// The change position up to which new orders are folded into the installed analysis.
    pub folded_position: u64,
}

/// Builds a [`Clerk`]. Every part has a default: an empty [`MemoryStore`], [`ClerkCore`] with default
/// settings, no importers, the default [`AnalysisPolicy`], [`ScheduleConfig`], [`CoreConfig`] and
/// [`HealthConfig`], and the system clock.
#[derive(Default)]
pub struct ClerkBuilder {
    store: Option<DynDataStore>,
    model: Option<Arc<dyn IntentModel>>,
    importers: Vec<(Box<dyn Importer>, bool)>,
    policy: AnalysisPolicy,
    schedule: ScheduleConfig,
    core: CoreConfig,
    health: HealthConfig,
    clock: Option<Clock>,
}

impl std::fmt::Debug for ClerkBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkBuilder")
            .field("store", &self.store)
            .field("model", &self.model.as_ref().map(|m| m.name()))
            .field("importers", &self.importers.iter().map(|(i, _)| i.name()).collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish()
    }
}

impl ClerkBuilder {
    /// Uses this store (default: a new, empty [`MemoryStore`]).
    pub fn store(mut self, store: DynDataStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses this model: a fresh (un-analysed) value whose settings every analysis uses (default:
    /// [`ClerkCore`] with default [`Settings`]).
    pub fn model(mut self, model: Arc<dyn IntentModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Adds an importer, scheduled by the [`SyncScheduler`] and due at once.
    pub fn importer(mut self, importer: impl Importer) -> Self {
        self.importers.push((Box::new(importer), false));
        self
    }

    /// Adds a boxed importer; `realtime` says the shop also pushes real-time updates for its data through
    /// [`Clerk::apply`], so the scheduler syncs it less often.
    pub fn boxed_importer(mut self, importer: Box<dyn Importer>, realtime: bool) -> Self {
        self.importers.push((importer, realtime));
        self
    }

    /// Uses this analysis policy.
    pub fn analysis_policy(mut self, policy: AnalysisPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses these scheduler settings.
    pub fn schedule(mut self, config: ScheduleConfig) -> Self {
        self.schedule = config;
        self
    }

    /// Uses these Core Importer settings.
    pub fn core_config(mut self, config: CoreConfig) -> Self {
        self.core = config;
        self
    }

    /// Uses these data-health thresholds.
    pub fn health_config(mut self, config: HealthConfig) -> Self {
        self.health = config;
        self
    }

    /// Reads "now" from this clock (validation of times by the Core Importer, the time of analyses made by
    /// [`Clerk::analyse_now`]). Default: the system clock. [`Clerk::run_due`] uses the time it is given.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Builds the handle: loads the store's saved analysis when it was made by the same model (name and format),
    /// else counts best sellers for the provisional answers. Never analyses; the first [`Clerk::run_due`] does.
    pub async fn build(self) -> ClerkResult<Clerk> {
        let store: DynDataStore = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let template = self.model.unwrap_or_else(|| Arc::new(ClerkCore::new(Settings::default())));
        let clock = self.clock.unwrap_or_else(system_clock);

        let mut names = HashSet::new();
        let mut scheduler = SyncScheduler::new(self.schedule);
        let mut importers = Vec::with_capacity(self.importers.len());
        for (importer, realtime) in self.importers {
            let name = importer.name().to_owned();
            if !names.insert(name.clone()) {
                return Err(ClerkError::Config(format!("two importers are named {name:?}")));
            }
            // Due at once, whatever time the host's first `run_due` passes.
            scheduler.register(&name, Timestamp::MIN);
            if realtime {
                scheduler.set_realtime(&name, true, Timestamp::MIN);
            }
            importers.push(Entry { importer, cursor: None });
        }

        let position = store.change_position().await?;
        let saved = store.load_analysis().await?;
        let saved = saved.filter(|s| s.model == template.name() && s.format == template.format());
        let catalog = Arc::new(Catalog::from_store(&*store).await?);
        let history = Arc::new(History::from_store(&*store).await?);
        let (model, state): (Arc<dyn IntentModel>, ModelState) = match saved {
            Some(saved) => (
                template.load(&saved.bytes)?,
                ModelState {
                    analysed: true,
                    version: saved.version,
                    analysis_position: saved.data_position,
                    analysed_at: Some(saved.created_at),
                    folded: saved.data_position,
                    engine_position: position,
                    replaced: HashSet::new(),
                },
            ),
            None => {
                let data = Dataset::from_store(&*store).await?;
                (
                    Arc::new(ProvisionalModel::new(&data)?),
                    ModelState {
                        analysed: false,
                        version: 0,
                        analysis_position: 0,
                        analysed_at: None,
                        folded: data.position,
                        engine_position: position,
                        replaced: HashSet::new(),
                    },
                )
            }
        };
        let snapshot = Snapshot::new(model, catalog, history, state.version, Arc::default());
        let engine = QueryEngine::from_parts(store.clone(), snapshot);
        let core = CoreImporter::new(store.clone()).with_config(self.core).with_clock(clock.clone());
        Ok(Clerk {
            inner: Arc::new(Inner {
                store,
                template,
                engine,
                core,
                policy: self.policy,
                health: self.health,
                clock,
                runner: Mutex::new(Runner { importers, scheduler }),
                model: Mutex::new(state),
                reports: StdMutex::new(BTreeMap::new()),
            }),
        })
    }
}

struct Entry {
    importer: Box<dyn Importer>,
    cursor: Option<SyncCursor>,
}

/// What only one `run_due` / `analyse_now` at a time touches.
struct Runner {
    importers: Vec<Entry>,
    scheduler: SyncScheduler,
}

/// The installed analysis' bookkeeping; held briefly (never during an analysis).
#[derive(Debug)]
struct ModelState {
    analysed: bool,
    version: u64,
    /// Data position of the last full analysis (fold-ins do not move it).
    analysis_position: u64,
    analysed_at: Option<Timestamp>,
    /// Orders written at or before this position are in the installed model.
    folded: u64,
    /// The position the engine's catalog and purchase index were read at (or before).
    engine_position: u64,
    /// Orders replaced by real-time updates since the last full analysis: never folded in (they would count
    /// twice), and they make the next `run_due` analyse in full.
    replaced: HashSet<String>,
}

struct Inner {
    store: DynDataStore,
    template: Arc<dyn IntentModel>,
    engine: QueryEngine,
    core: CoreImporter,
    policy: AnalysisPolicy,
    health: HealthConfig,
    clock: Clock,
    runner: Mutex<Runner>,
    model: Mutex<ModelState>,
    reports: StdMutex<BTreeMap<String, SyncReport>>,
}

/// The platform in one handle. See the [module documentation](self).
///
/// Cheap to clone (an `Arc` inside) and shared between tasks and threads: queries run concurrently with each
/// other, with real-time updates and with a running analysis; `run_due` and `analyse_now` run one at a time.
#[derive(Clone)]
pub struct Clerk {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Clerk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clerk")
            .field("store", &self.inner.store.name())
            .field("model", &self.inner.template.name())
            .field("engine", &self.inner.engine)
            .finish()
    }
}

impl Clerk {
    /// A builder with every default.
    pub fn builder() -> ClerkBuilder {
        ClerkBuilder::default()
    }

    /// The embedded default: an empty [`MemoryStore`], [`ClerkCore`], no importers. Feed it with
    /// [`apply`](Self::apply) or through [`core_importer`](Self::core_importer), then call
    /// [`run_due`](Self::run_due).
    pub async fn in_memory() -> ClerkResult<Clerk> {
        Self::builder().build().await
    }

    /// The store.
    pub fn store(&self) -> &DynDataStore {
        &self.inner.store
    }

    /// The query engine (for its lower-level calls: blend weights, snapshots).
    pub fn engine(&self) -> &QueryEngine {
        &self.inner.engine
    }

    /// The Core Importer writing to the store (for one-off syncs of importers the handle does not schedule).
    /// Orders written this way are folded in or analysed at the next [`run_due`](Self::run_due).
    pub fn core_importer(&self) -> &CoreImporter {
        &self.inner.core
    }

    /// The analysis policy.
    pub fn analysis_policy(&self) -> &AnalysisPolicy {
        &self.inner.policy
    }

    /// Where the analysis stands.
    pub async fn status(&self) -> Status {
        let st = self.inner.model.lock().await;
        Status {
            analysed: st.analysed,
            model: self.inner.engine.snapshot().model.name().to_owned(),
            analysis_version: st.version,
            analysis_position: st.analysis_position,
            analysed_at: st.analysed_at,
            folded_position: st.folded,
        }
    }

    /// Every importer's schedule (interval, next run, real-time), by name.
    pub async fn schedule(&self) -> Vec<ImporterSchedule> {
        self.inner.runner.lock().await.scheduler.status().into_iter().cloned().collect()
    }

    /// When the next importer is due, `None` without importers. A host's loop can sleep until then (and call
    /// [`run_due`](Self::run_due) earlier to pick up real-time changes in the analysis).
    pub async fn next_wake(&self) -> Option<Timestamp> {
        self.inner.runner.lock().await.scheduler.next_wake()
    }

    /// The latest sync report of each importer, by importer name.
    pub fn sync_reports(&self) -> Vec<SyncReport> {
        self.inner.reports.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Runs what is due at `now`: the importers the scheduler says are due, then the analysis policy (a full
    /// analysis, a fold-in or nothing). The host calls it from its own loop; see the module docs for runtimes.
    ///
    /// A failing importer does not stop the run: its report says why and the scheduler retries it sooner.
    pub async fn run_due(&self, now: Timestamp) -> ClerkResult<RunReport> {
        let mut runner = self.inner.runner.lock().await;
        let due: Vec<String> = runner.scheduler.due(now).into_iter().map(str::to_owned).collect();
        let mut syncs = Vec::with_capacity(due.len());
        for name in due {
            let Some(entry) = runner.importers.iter_mut().find(|e| e.importer.name() == name) else {
                runner.scheduler.unregister(&name);
                continue;
            };
            let mode = entry.cursor.clone().map_or(SyncMode::Full, SyncMode::Incremental);
            let report = self.inner.core.sync(entry.importer.as_mut(), mode).await;
            if report.succeeded() {
                entry.cursor = report.cursor.clone().or(entry.cursor.take());
            }
            runner.scheduler.record(&report, now);
            self.inner.reports.lock().unwrap_or_else(|e| e.into_inner()).insert(name, report.clone());
            syncs.push(report);
        }
        let (changes, decision, analysis, fold_in) = self.apply_policy(now).await?;
        let next_wake = runner.scheduler.next_wake();
        drop(runner);
        Ok(RunReport { at: now, syncs, changes, decision, analysis, fold_in, next_wake })
    }

    /// Runs a full analysis now, whatever the policy says, and installs it. Uses the handle's clock for the
    /// analysis time.
    pub async fn analyse_now(&self) -> ClerkResult<AnalysisReport> {
        let _runner = self.inner.runner.lock().await;
        self.full_analysis((self.inner.clock)()).await
    }

    /// What the analysis policy would decide at `now`, without doing it.
    pub async fn decide(&self, now: Timestamp) -> ClerkResult<(ChangeSummary, Decision)> {
        let (position, analysed_at, replaced) = {
            let st = self.inner.model.lock().await;
            (st.analysis_position, st.analysed.then_some(st.analysed_at).flatten(), st.replaced.len() as u64)
        };
        let counts = self.inner.store.counts().await?;
        let mut changes = self.inner.store.changes_since(position).await?;
        // A replaced order is, for the analysis, an order taken back out and a new one written.
        changes.orders_deleted += replaced;
        let age = analysed_at.map(|t| now.secs().saturating_sub(t.secs()));
        Ok((changes, decide(&self.inner.policy, &changes, &counts, age)))
    }

    async fn apply_policy(
        &self,
        now: Timestamp,
    ) -> ClerkResult<(ChangeSummary, Decision, Option<AnalysisReport>, Option<FoldInStats>)> {
        let (changes, decision) = self.decide(now).await?;
        Ok(match decision.action {
            Action::Nothing => (changes, decision, None, None),
            Action::Full => (changes, decision, Some(self.full_analysis(now).await?), None),
            Action::FoldIn => {
                let mut st = self.inner.model.lock().await;
                let model = self.inner.engine.snapshot().model.clone();
                let stats = self.catch_up(&mut st, &*model).await?;
                self.inner.engine.clear_caches();
                self.refresh_engine_catalog(&mut st).await?;
                (changes, decision, None, Some(stats))
            }
        })
    }

    /// Folds every order written after `st.folded` into `model`.
    async fn catch_up(&self, st: &mut ModelState, model: &dyn IntentModel) -> ClerkResult<FoldInStats> {
        let mut total = FoldInStats::default();
        loop {
            let (mut orders, next) = self.inner.store.orders_written_after(st.folded, FOLD_PAGE).await?;
            if orders.is_empty() {
                break;
            }
            let read = orders.len();
            if !st.replaced.is_empty() {
                orders.retain(|o| !st.replaced.contains(&o.id));
            }
            let stats = model.fold_in(&orders)?;
            total.orders += stats.orders;
            total.skipped += stats.skipped;
            total.products_touched += stats.products_touched;
            st.folded = next.max(st.folded);
            if read < FOLD_PAGE {
                break;
            }
        }
        Ok(total)
    }

    /// Re-reads the engine's catalog and purchase index when the store moved since they were read.
    async fn refresh_engine_catalog(&self, st: &mut ModelState) -> ClerkResult<()> {
        let position = self.inner.store.change_position().await?;
        if position > st.engine_position {
            self.inner.engine.refresh_catalog().await?;
            st.engine_position = position;
        }
        Ok(())
    }

    /// Reads the store, analyses it, saves the analysis and installs it (the caller holds the runner lock).
    async fn full_analysis(&self, now: Timestamp) -> ClerkResult<AnalysisReport> {
        let inner = &*self.inner;
        let started = Instant::now();
        let data = Dataset::from_store(&*inner.store).await?;
        let read_secs = started.elapsed().as_secs_f64();

        // Until the first analysis is installed, let the provisional answers see everything just read.
        {
            let mut st = inner.model.lock().await;
            if !st.analysed && data.position > st.folded {
                let position = inner.store.change_position().await?;
                inner.engine.install(Arc::new(ProvisionalModel::new(&data)?), 0).await?;
                st.folded = data.position;
                st.engine_position = position;
            }
        }

        let started = Instant::now();
        let model = inner.template.analyse(&data)?;
        let analyse_secs = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let saved = SavedAnalysis {
            version: 0,
            model: model.name().to_owned(),
            format: model.format(),
            data_position: data.position,
            created_at: now,
            bytes: model.save()?,
        };
        let version = inner.store.save_analysis(saved).await?;
        let mut st = inner.model.lock().await;
        // Orders that arrived while the analysis ran (real-time updates folded into the old model) go into the
        // new one before it answers.
        st.folded = data.position;
        st.replaced.clear();
        let caught_up = self.catch_up(&mut st, &*model).await?;
        let position = inner.store.change_position().await?;
        inner.engine.install(model.clone(), version).await?;
        st.analysed = true;
        st.version = version;
        st.analysis_position = data.position;
        st.analysed_at = Some(now);
        st.engine_position = position;
        drop(st);
        Ok(AnalysisReport {
            version,
            data_position: data.position,
            caught_up: caught_up.orders,
            read_secs,
            analyse_secs,
            install_secs: started.elapsed().as_secs_f64(),
            stats: model.stats(),
        })
    }

    /// Applies one real-time update through the Core Importer (same validation as a sync). A new order is folded
    /// into the installed analysis at once (with any other order written since the last fold-in), so the next
    /// query sees it; other changes reach the engine at the next [`run_due`](Self::run_due).
    pub async fn apply(&self, update: RealtimeUpdate) -> ClerkResult<ApplyReport> {
        let notice = self.inner.core.apply(update).await?;
        let fold_in = match (notice.kind, notice.change) {
            (RecordKind::Order, Change::Inserted) => {
                let mut st = self.inner.model.lock().await;
                let model = self.inner.engine.snapshot().model.clone();
                let stats = self.catch_up(&mut st, &*model).await?;
                self.inner.engine.clear_caches();
                Some(stats)
            }
            (RecordKind::Order, Change::Replaced) => {
                self.inner.model.lock().await.replaced.insert(notice.id.clone());
                None
            }
            _ => None,
        };
        Ok(ApplyReport { notice, fold_in })
    }

    /// Answers a request. Before the first analysis the answer is provisional and says so (see the module docs).
    pub async fn query(&self, request: Request) -> ClerkResult<Response> {
        Ok(self.query_now(&request)?)
    }

    /// [`query`](Self::query) without awaiting (queries never wait on I/O).
    pub fn query_now(&self, request: &Request) -> Result<Response, QueryError> {
        let mut response = self.inner.engine.query_now(request)?;
        if response.model == PROVISIONAL_MODEL && response.fallback.is_none() {
            response.fallback = Some(Fallback::Popular);
        }
        Ok(response)
    }

    /// The JSON entry point: a request as JSON text in (the shapes of `docs/api.md`), the response or
    /// `{"error": ...}` out. Never panics.
    pub async fn handle_json(&self, body: &str) -> String {
        self.handle_json_now(body)
    }

    /// [`handle_json`](Self::handle_json) without awaiting.
    pub fn handle_json_now(&self, body: &str) -> String {
        let result = catch_unwind(AssertUnwindSafe(|| {
            if body.len() > MAX_REQUEST_BYTES {
                return Err(QueryError::malformed("", format!("request larger than {MAX_REQUEST_BYTES} bytes")));
            }
            let request = Request::from_json(body)?;
            let response = self.query_now(&request)?;
            serde_json::to_string(&response).map_err(|e| QueryError::Internal(e.to_string()))
        }))
        .unwrap_or_else(|_| Err(QueryError::Internal("the query panicked".into())));
        result.unwrap_or_else(|e| error_json(&e))
    }

    /// The data-health report of the store and the latest sync of each importer, at `now`.
    pub async fn health(&self, now: Timestamp) -> ClerkResult<DataHealth> {
        let reports = self.sync_reports();
        Ok(DataHealth::compute_with(&*self.inner.store, &reports, now, &self.inner.health).await?)
    }
}
