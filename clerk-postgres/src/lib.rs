//! `clerk-postgres`: a [`DataStore`] for clerk on PostgreSQL, shared by many processes.
//!
//! Several processes open one store: imports in one, the analysis in another, query engines in many, each
//! engine picking up the newest saved analysis ([`DataStore::analysis_version`] is one indexed row away).
//!
//! ```no_run
//! use clerk_core::store::DataStore;
//! use clerk_postgres::PgStore;
//!
//! # futures::executor::block_on(async {
//! let store = PgStore::connect("postgres://clerk@127.0.0.1:5432/shop").await?;
//! println!("{} orders", store.counts().await?.orders);
//! # Ok::<(), clerk_core::store::StoreError>(())
//! # });
//! ```
//!
//! # Runtime
//! The crate uses `tokio-postgres`, whose connection needs a tokio reactor. So that hosts on any executor (tokio,
//! async-std, `futures::executor::block_on`) can use the store, each connection is driven on a small background
//! thread of its own running a single-threaded tokio runtime; the store's futures only talk to it over channels
//! and never block the caller's thread. The thread ends when the store (every clone) is dropped.
//!
//! # Connections and concurrency
//! A store holds two connections: one for writes (calls take turns, each write is one transaction) and one for
//! reads (calls are pipelined). Writers in different processes serialise on the row that holds the change
//! position (`SELECT ... FOR UPDATE`), so positions stay gap-free and ordered across processes.
//!
//! # Schema
//! Tables are prefixed `clerk_` in the connection's default schema (set `options=-csearch_path=...` in the URL
//! to use another). The crate creates and migrates them, with the version in `clerk_schema_version`.

mod schema;

use clerk_core::store::codec;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clerk_core::domain::{Category, Customer, Order, Product, RecordKind, Timestamp};
use clerk_core::store::{
    ChangeSummary, Counts, DataStore, OrderCursor, OrderPage, SavedAnalysis, StoreError, StoreResult, WriteSummary,
};
use futures::lock::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Transaction};

pub use schema::SCHEMA_VERSION;

/// The name the store gives in errors and reports.
const NAME: &str = "postgres";

/// What can go wrong inside the PostgreSQL store. It reaches callers as the source of
/// [`StoreError::Backend`] (`store: "postgres"`), where a host may downcast to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection URL or settings string could not be read.
    #[error("invalid connection settings: {0}")]
    Settings(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        /// Host and port (never the password).
        target: String,
        /// The client's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed, or the connection broke.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    /// The background thread that drives the connection could not start or went away.
    #[error("connection thread: {0}")]
    Thread(String),
    /// The database was written by a newer build with a layout this build does not know.
    #[error("the database has schema version {found}; this build of clerk-postgres reads up to {supported}")]
    SchemaTooNew {
        /// The version found in the database.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },
    /// A stored record could not be encoded or decoded.
    #[error("{kind} {id:?}: {message}")]
    Codec {
        /// The kind of record.
        kind: &'static str,
        /// Its id, or the change position of an order.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// A number does not fit the database's 64-bit signed integers.
    #[error("{what} {value} is out of range")]
    OutOfRange {
        /// What the number is.
        what: &'static str,
        /// The number.
        value: u64,
    },
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        StoreError::Backend { store: NAME, source: Box::new(e) }
    }
}

fn backend(e: tokio_postgres::Error) -> StoreError {
    PgError::Postgres(e).into()
}

/// A [`DataStore`] on a PostgreSQL server. `Clone` shares the connections. See the [crate documentation](crate).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    target: String,
    writer: Mutex<Client>,
    reader: Client,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("server", &self.inner.target).finish()
    }
}

/// Change-log kinds, as stored in `clerk_changes.kind`.
const LOG_PRODUCT: i16 = 0;
const LOG_CATEGORY: i16 = 1;
const LOG_CUSTOMER: i16 = 2;
const LOG_ORDER_WRITTEN: i16 = 3;
const LOG_ORDER_DELETED: i16 = 4;

#[derive(Clone, Copy)]
struct Table {
    kind: RecordKind,
    name: &'static str,
    counter: &'static str,
    log: i16,
}

const PRODUCTS: Table =
    Table { kind: RecordKind::Product, name: "clerk_products", counter: "products", log: LOG_PRODUCT };
const CATEGORIES: Table =
    Table { kind: RecordKind::Category, name: "clerk_categories", counter: "categories", log: LOG_CATEGORY };
const CUSTOMERS: Table =
    Table { kind: RecordKind::Customer, name: "clerk_customers", counter: "customers", log: LOG_CUSTOMER };

fn table(kind: RecordKind) -> Option<Table> {
    match kind {
        RecordKind::Product => Some(PRODUCTS),
        RecordKind::Category => Some(CATEGORIES),
        RecordKind::Customer => Some(CUSTOMERS),
        RecordKind::Order => None,
    }
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sat_usize(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn check_ids<'a>(kind: RecordKind, ids: impl Iterator<Item = &'a str>) -> StoreResult<()> {
    for id in ids {
        if id.is_empty() {
            return Err(StoreError::Invalid(format!("{kind} with an empty id")));
        }
        if id.contains('\0') {
            return Err(StoreError::Invalid(format!("{kind} id {id:?} holds a NUL character")));
        }
    }
    Ok(())
}

fn codec_error(kind: &'static str, id: &str, message: String) -> StoreError {
    PgError::Codec { kind, id: id.to_owned(), message }.into()
}

/// Host and port of a configuration, for messages (never the password).
fn describe(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!("{} port {}", hosts.join(","), if ports.is_empty() { "5432".into() } else { ports.join(",") })
}

/// Connects one client, its connection driven on a thread of its own.
async fn connect_client(config: Config, target: String) -> StoreResult<Client> {
    let (tx, rx) = futures::channel::oneshot::channel();
    let thread_target = target.clone();
    std::thread::Builder::new()
        .name("clerk-postgres".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(PgError::Thread(format!("cannot start a runtime: {e}"))));
                    return;
                }
            };
            runtime.block_on(async move {
                match config.connect(NoTls).await {
                    Ok((client, connection)) => {
                        if tx.send(Ok(client)).is_ok() {
                            // Runs until every handle of the client is dropped or the server goes away.
                            let _ = connection.await;
                        }
                    }
                    Err(source) => {
                        let _ = tx.send(Err(PgError::Connect { target: thread_target, source }));
                    }
                }
            });
        })
        .map_err(|e| PgError::Thread(format!("cannot start the connection thread: {e}")))?;
    match rx.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(PgError::Thread(format!("the connection thread for {target} stopped")).into()),
    }
}

impl PgStore {
    /// Connects to the server named by `url` (`postgres://user:password@host:port/database?options`, or the
    /// `key=value` form), creating or migrating the schema.
    ///
    /// A connection attempt gives up after 10 s unless the URL sets `connect_timeout`. An unreachable server, a
    /// refused login or a database written by a newer build are a [`StoreError::Backend`] whose source is a
    /// [`PgError`] naming the host and port, never a panic.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| PgError::Settings(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("clerk");
        }
        Self::connect_config(config).await
    }

    /// Connects with a ready [`Config`] (see [`connect`](Self::connect)).
    pub async fn connect_config(config: Config) -> StoreResult<Self> {
        let target = describe(&config);
        let mut writer = connect_client(config.clone(), target.clone()).await?;
        schema::migrate(&mut writer).await?;
        let reader = connect_client(config, target.clone()).await?;
        Ok(PgStore { inner: Arc::new(Inner { target, writer: Mutex::new(writer), reader }) })
    }

    /// The schema version of the database (always [`SCHEMA_VERSION`] after a successful connect).
    pub async fn schema_version(&self) -> StoreResult<i32> {
        schema::version(&self.inner.reader).await.map_err(backend)
    }

    /// Drops every `clerk_` table, and so all data of the store: for tests and for starting over.
    pub async fn drop_all(self) -> StoreResult<()> {
        let client = self.inner.writer.lock().await;
        client.batch_execute(schema::DROP).await.map_err(backend)
    }

    /// Checks the counters against the tables; returns the problems found, empty when the store is sound.
    pub async fn check(&self) -> StoreResult<Vec<String>> {
        let mut client = self.inner.writer.lock().await;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(backend)?;
        let counts = read_counts(&tx).await?;
        let one = |sql: &'static str| {
            let tx = &tx;
            async move { tx.query_one(sql, &[]).await.map(|r| unsigned(r.get::<_, i64>(0))).map_err(backend) }
        };
        let mut problems = Vec::new();
        let pairs = [
            ("products", counts.products as u64, one("SELECT COUNT(*) FROM clerk_products").await?),
            ("categories", counts.categories as u64, one("SELECT COUNT(*) FROM clerk_categories").await?),
            ("customers", counts.customers as u64, one("SELECT COUNT(*) FROM clerk_customers").await?),
            ("orders", counts.orders as u64, one("SELECT COUNT(*) FROM clerk_orders").await?),
            (
                "order lines",
                counts.order_lines as u64,
                one("SELECT COALESCE(SUM(lines), 0)::BIGINT FROM clerk_orders").await?,
            ),
        ];
        for (what, counter, real) in pairs {
            if counter != real {
                problems.push(format!("{what}: the counter says {counter}, the table holds {real}"));
            }
        }
        let position = one("SELECT position FROM clerk_state").await?;
        let logged = one("SELECT COALESCE(MAX(last), 0) FROM clerk_changes").await?;
        if logged > position {
            problems.push(format!("the change log reaches {logged}, past the position {position}"));
        }
        tx.commit().await.map_err(backend)?;
        Ok(problems)
    }

    async fn upsert<T: serde::Serialize>(
        &self,
        table: Table,
        records: Vec<T>,
        id: impl Fn(&T) -> &str,
    ) -> StoreResult<WriteSummary> {
        check_ids(table.kind, records.iter().map(&id))?;
        if records.is_empty() {
            return Ok(WriteSummary::default());
        }
        // The last record of an id wins; earlier ones in the same batch count as replaced, as in MemoryStore.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(id(r), i);
        }
        let mut ids = Vec::with_capacity(last.len());
        let mut blobs = Vec::with_capacity(last.len());
        for (i, r) in records.iter().enumerate() {
            if last.get(id(r)) == Some(&i) {
                ids.push(id(r).to_owned());
                blobs.push(codec::encode(r).map_err(|m| codec_error(table.kind.as_str(), id(r), m))?);
            }
        }
        let mut client = self.inner.writer.lock().await;
        let tx = client.transaction().await.map_err(backend)?;
        lock_state(&tx).await?;
        let existing: std::collections::HashSet<String> = tx
            .query(&format!("SELECT id FROM {} WHERE id = ANY($1)", table.name), &[&ids])
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut summary = WriteSummary::default();
        let mut seen = std::collections::HashSet::with_capacity(records.len());
        for r in &records {
            let id = id(r);
            if existing.contains(id) || !seen.insert(id) {
                summary.replaced += 1;
            } else {
                summary.inserted += 1;
            }
        }
        tx.execute(
            &format!(
                "INSERT INTO {} (id, data) SELECT * FROM UNNEST($1::TEXT[], $2::BYTEA[]) \
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
                table.name
            ),
            &[&ids, &blobs],
        )
        .await
        .map_err(backend)?;
        log_range(&tx, table.log, sat_usize(records.len())).await?;
        tx.execute(&format!("UPDATE clerk_state SET {0} = {0} + $1", table.counter), &[&sat_usize(summary.inserted)])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(summary)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, table: Table, id: &str) -> StoreResult<Option<T>> {
        let row = self
            .inner
            .reader
            .query_opt(&format!("SELECT data FROM {} WHERE id = $1", table.name), &[&id])
            .await
            .map_err(backend)?;
        row.map(|r| codec::decode(r.get::<_, &[u8]>(0)).map_err(|m| codec_error(table.kind.as_str(), id, m)))
            .transpose()
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let limit = sat_usize(limit);
        let rows = match after {
            Some(a) => {
                let sql = format!("SELECT id, data FROM {} WHERE id > $1 ORDER BY id LIMIT $2", table.name);
                self.inner.reader.query(&sql, &[&a, &limit]).await
            }
            None => {
                let sql = format!("SELECT id, data FROM {} ORDER BY id LIMIT $1", table.name);
                self.inner.reader.query(&sql, &[&limit]).await
            }
        }
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                codec::decode(r.get::<_, &[u8]>(1))
                    .map_err(|m| codec_error(table.kind.as_str(), r.get::<_, &str>(0), m))
            })
            .collect()
    }
}

/// Takes the write lock of the store: the one row of `clerk_state`. Writers in every process queue here.
async fn lock_state(tx: &Transaction<'_>) -> StoreResult<i64> {
    let row = tx.query_one("SELECT position FROM clerk_state FOR UPDATE", &[]).await.map_err(backend)?;
    Ok(row.get(0))
}

/// Takes `n` change positions for one call's records of one kind and logs them as one range; returns the first.
/// The caller holds the state row ([`lock_state`]).
async fn log_range(tx: &Transaction<'_>, kind: i16, n: i64) -> StoreResult<i64> {
    let row = tx.query_one("SELECT position FROM clerk_state", &[]).await.map_err(backend)?;
    let position: i64 = row.get(0);
    if n > 0 {
        tx.execute("UPDATE clerk_state SET position = $1", &[&(position + n)]).await.map_err(backend)?;
        tx.execute(
            "INSERT INTO clerk_changes (first, last, kind) VALUES ($1, $2, $3)",
            &[&(position + 1), &(position + n), &kind],
        )
        .await
        .map_err(backend)?;
    }
    Ok(position + 1)
}

async fn read_counts(client: &impl tokio_postgres::GenericClient) -> StoreResult<Counts> {
    let r = client
        .query_one("SELECT products, categories, customers, orders, order_lines FROM clerk_state", &[])
        .await
        .map_err(backend)?;
    let get = |i: usize| unsigned(r.get::<_, i64>(i)) as usize;
    Ok(Counts { products: get(0), categories: get(1), customers: get(2), orders: get(3), order_lines: get(4) })
}

fn decode_order(row: &Row, seq_col: usize, data_col: usize) -> StoreResult<Order> {
    codec::decode(row.get::<_, &[u8]>(data_col))
        .map_err(|m| codec_error("order", &format!("at position {}", row.get::<_, i64>(seq_col)), m))
}

#[async_trait]
impl DataStore for PgStore {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn upsert_products(&self, products: Vec<Product>) -> StoreResult<WriteSummary> {
        self.upsert(PRODUCTS, products, |p| &p.id).await
    }

    async fn upsert_categories(&self, categories: Vec<Category>) -> StoreResult<WriteSummary> {
        self.upsert(CATEGORIES, categories, |c| &c.id).await
    }

    async fn upsert_customers(&self, customers: Vec<Customer>) -> StoreResult<WriteSummary> {
        self.upsert(CUSTOMERS, customers, |c| &c.id).await
    }

    async fn append_orders(&self, orders: Vec<Order>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Order, orders.iter().map(|o| o.id.as_str()))?;
        if orders.is_empty() {
            return Ok(WriteSummary::default());
        }
        // Each order takes the next position; of several with one id in a batch only the last is kept.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(orders.len());
        for (i, o) in orders.iter().enumerate() {
            last.insert(&o.id, i);
        }
        let all_ids: Vec<&str> = last.keys().copied().collect();
        let n = last.len();
        let (mut offsets, mut ids, mut times, mut lines, mut blobs) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (i, o) in orders.iter().enumerate() {
            if last.get(o.id.as_str()) == Some(&i) {
                offsets.push(sat_usize(i));
                ids.push(o.id.as_str());
                times.push(o.time.secs());
                lines.push(i32::try_from(o.lines.len()).unwrap_or(i32::MAX));
                blobs.push(codec::encode_compact(o).map_err(|m| codec_error("order", &o.id, m))?);
            }
        }
        let mut client = self.inner.writer.lock().await;
        let tx = client.transaction().await.map_err(backend)?;
        lock_state(&tx).await?;
        let removed = tx
            .query("DELETE FROM clerk_orders WHERE id = ANY($1) RETURNING id, lines", &[&all_ids])
            .await
            .map_err(backend)?;
        let removed_lines: i64 = removed.iter().map(|r| i64::from(r.get::<_, i32>(1))).sum();
        let existing: std::collections::HashSet<&str> = removed.iter().map(|r| r.get::<_, &str>(0)).collect();
        let mut summary = WriteSummary::default();
        let mut seen = std::collections::HashSet::with_capacity(orders.len());
        for o in &orders {
            if existing.contains(o.id.as_str()) || !seen.insert(o.id.as_str()) {
                summary.replaced += 1;
            } else {
                summary.inserted += 1;
            }
        }
        let first = log_range(&tx, LOG_ORDER_WRITTEN, sat_usize(orders.len())).await?;
        let seqs: Vec<i64> = offsets.iter().map(|o| first + o).collect();
        let params: [&(dyn ToSql + Sync); 5] = [&seqs, &ids, &times, &lines, &blobs];
        tx.execute(
            "INSERT INTO clerk_orders (seq, id, time, lines, data) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::INT[], $5::BYTEA[])",
            &params,
        )
        .await
        .map_err(backend)?;
        let added_lines: i64 = lines.iter().map(|&l| i64::from(l)).sum();
        tx.execute(
            "UPDATE clerk_state SET orders = orders + $1, order_lines = order_lines + $2",
            &[&sat_usize(summary.inserted), &(added_lines - removed_lines)],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(summary)
    }

    async fn delete(&self, kind: RecordKind, ids: &[String]) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut client = self.inner.writer.lock().await;
        let tx = client.transaction().await.map_err(backend)?;
        lock_state(&tx).await?;
        let existed = match table(kind) {
            Some(t) => {
                let n = tx
                    .execute(&format!("DELETE FROM {} WHERE id = ANY($1)", t.name), &[&ids])
                    .await
                    .map_err(backend)?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                tx.execute(&format!("UPDATE clerk_state SET {0} = {0} - $1", t.counter), &[&sat_usize(n)])
                    .await
                    .map_err(backend)?;
                log_range(&tx, t.log, sat_usize(n)).await?;
                n
            }
            None => {
                let rows = tx
                    .query("DELETE FROM clerk_orders WHERE id = ANY($1) RETURNING lines", &[&ids])
                    .await
                    .map_err(backend)?;
                let lines: i64 = rows.iter().map(|r| i64::from(r.get::<_, i32>(0))).sum();
                tx.execute(
                    "UPDATE clerk_state SET orders = orders - $1, order_lines = order_lines - $2",
                    &[&sat_usize(rows.len()), &lines],
                )
                .await
                .map_err(backend)?;
                log_range(&tx, LOG_ORDER_DELETED, sat_usize(rows.len())).await?;
                rows.len()
            }
        };
        tx.commit().await.map_err(backend)?;
        Ok(existed)
    }

    async fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        self.get(PRODUCTS, id).await
    }

    async fn category(&self, id: &str) -> StoreResult<Option<Category>> {
        self.get(CATEGORIES, id).await
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        self.get(CUSTOMERS, id).await
    }

    async fn order(&self, id: &str) -> StoreResult<Option<Order>> {
        let row = self
            .inner
            .reader
            .query_opt("SELECT seq, data FROM clerk_orders WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        row.map(|r| decode_order(&r, 0, 1)).transpose()
    }

    async fn ids(&self, kind: RecordKind) -> StoreResult<Vec<String>> {
        let name = table(kind).map_or("clerk_orders", |t| t.name);
        let rows =
            self.inner.reader.query(&format!("SELECT id FROM {name} ORDER BY id"), &[]).await.map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn products_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Product>> {
        self.page(PRODUCTS, after, limit).await
    }

    async fn categories_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Category>> {
        self.page(CATEGORIES, after, limit).await
    }

    async fn customers_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Customer>> {
        self.page(CUSTOMERS, after, limit).await
    }

    async fn counts(&self) -> StoreResult<Counts> {
        read_counts(&self.inner.reader).await
    }

    async fn read_orders(&self, cursor: OrderCursor, limit: usize) -> StoreResult<OrderPage> {
        let rows = self
            .inner
            .reader
            .query(
                "SELECT seq, time, data FROM clerk_orders WHERE (time, seq) > ($1, $2) ORDER BY time, seq LIMIT $3",
                &[&cursor.time.secs(), &sat(cursor.seq), &sat_usize(limit)],
            )
            .await
            .map_err(backend)?;
        let mut orders = Vec::with_capacity(rows.len());
        for r in &rows {
            orders.push(decode_order(r, 0, 2)?);
        }
        let next = match rows.last() {
            Some(r) if orders.len() == limit => {
                Some(OrderCursor { time: Timestamp(r.get(1)), seq: unsigned(r.get(0)) })
            }
            _ => None,
        };
        Ok(OrderPage { orders, next })
    }

    async fn orders_written_after(&self, position: u64, limit: usize) -> StoreResult<(Vec<Order>, u64)> {
        let rows = self
            .inner
            .reader
            .query(
                "SELECT seq, data FROM clerk_orders WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&sat(position), &sat_usize(limit)],
            )
            .await
            .map_err(backend)?;
        let mut orders = Vec::with_capacity(rows.len());
        for r in &rows {
            orders.push(decode_order(r, 0, 1)?);
        }
        let next = rows.last().map_or(position, |r| unsigned(r.get(0)));
        Ok((orders, next))
    }

    async fn change_position(&self) -> StoreResult<u64> {
        let row = self.inner.reader.query_one("SELECT position FROM clerk_state", &[]).await.map_err(backend)?;
        Ok(unsigned(row.get(0)))
    }

    async fn changes_since(&self, position: u64) -> StoreResult<ChangeSummary> {
        // One statement, so the position and the counts come from the same snapshot.
        let rows = self
            .inner
            .reader
            .query(
                "SELECT -1::SMALLINT, position FROM clerk_state \
                 UNION ALL \
                 SELECT kind, SUM(last - GREATEST(first, $1::BIGINT + 1) + 1)::BIGINT FROM clerk_changes \
                 WHERE last > $1::BIGINT GROUP BY kind",
                &[&sat(position)],
            )
            .await
            .map_err(backend)?;
        let mut summary = ChangeSummary::default();
        for r in &rows {
            let n = unsigned(r.get(1));
            match r.get::<_, i16>(0) {
                -1 => summary.position = n,
                LOG_PRODUCT => summary.products = n,
                LOG_CATEGORY => summary.categories = n,
                LOG_CUSTOMER => summary.customers = n,
                LOG_ORDER_WRITTEN => summary.orders_written = n,
                LOG_ORDER_DELETED => summary.orders_deleted = n,
                _ => {}
            }
        }
        Ok(summary)
    }

    async fn save_analysis(&self, analysis: SavedAnalysis) -> StoreResult<u64> {
        let data_position = i64::try_from(analysis.data_position)
            .map_err(|_| PgError::OutOfRange { what: "data position", value: analysis.data_position })?;
        let mut client = self.inner.writer.lock().await;
        let tx = client.transaction().await.map_err(backend)?;
        // The analysis has a lock of its own, so saving one does not hold up imports.
        let row = tx.query_one("SELECT version FROM clerk_analysis_version FOR UPDATE", &[]).await.map_err(backend)?;
        let version: i64 = row.get::<_, i64>(0) + 1;
        tx.execute(
            "INSERT INTO clerk_analysis (id, version, model, format, data_position, created_at, bytes) \
             VALUES (1, $1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, model = EXCLUDED.model, \
             format = EXCLUDED.format, data_position = EXCLUDED.data_position, \
             created_at = EXCLUDED.created_at, bytes = EXCLUDED.bytes",
            &[
                &version,
                &analysis.model,
                &i64::from(analysis.format),
                &data_position,
                &analysis.created_at.secs(),
                &analysis.bytes,
            ],
        )
        .await
        .map_err(backend)?;
        tx.execute("UPDATE clerk_analysis_version SET version = $1", &[&version]).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(unsigned(version))
    }

    async fn load_analysis(&self) -> StoreResult<Option<SavedAnalysis>> {
        let row = self
            .inner
            .reader
            .query_opt("SELECT version, model, format, data_position, created_at, bytes FROM clerk_analysis", &[])
            .await
            .map_err(backend)?;
        let Some(r) = row else { return Ok(None) };
        let format: i64 = r.get(2);
        Ok(Some(SavedAnalysis {
            version: unsigned(r.get(0)),
            model: r.get(1),
            format: u32::try_from(format).unwrap_or(u32::MAX),
            data_position: unsigned(r.get(3)),
            created_at: Timestamp(r.get(4)),
            bytes: r.get(5),
        }))
    }

    async fn analysis_version(&self) -> StoreResult<u64> {
        let row =
            self.inner.reader.query_one("SELECT version FROM clerk_analysis_version", &[]).await.map_err(backend)?;
        Ok(unsigned(row.get(0)))
    }
}
