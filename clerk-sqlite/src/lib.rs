//! `clerk-sqlite`: a durable, embedded [`DataStore`] for clerk on SQLite.
//!
//! One file holds the shop's records, the change log and the latest saved analysis, so a restarted process
//! answers queries without importing or analysing again. SQLite is compiled into the crate (`rusqlite` with its
//! `bundled` feature): a fresh machine needs nothing installed.
//!
//! ```
//! use clerk_core::store::DataStore;
//! use clerk_core::Product;
//! use clerk_sqlite::SqliteStore;
//!
//! # futures::executor::block_on(async {
//! let dir = std::env::temp_dir().join(format!("clerk-sqlite-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("shop.db");
//! let store = SqliteStore::open(&path).unwrap();
//! store.upsert_products(vec![Product::new("milk")]).await.unwrap();
//! drop(store);
//! let reopened = SqliteStore::open(&path).unwrap();
//! assert!(reopened.product("milk").await.unwrap().is_some());
//! # std::fs::remove_dir_all(&dir).ok();
//! # });
//! ```
//!
//! # Durability
//! Every store call is one SQLite transaction: a batch of records lands whole or not at all. The database runs
//! in WAL mode; with the default [`Durability::Normal`] a killed process loses nothing that was committed, and
//! a power cut may lose the last transactions but never leaves the file inconsistent. [`Durability::Full`]
//! syncs every commit to disk.
//!
//! # Blocking
//! SQLite is a synchronous library. The async methods do their work inline and return ready futures: a call
//! blocks its thread for as long as the statement takes (microseconds for a look-up, tens of milliseconds for
//! a batch of 4,096 orders). The crate starts no runtime and no threads; a host on a multi-threaded runtime
//! that minds such pauses may wrap calls in its own `spawn_blocking`.
//!
//! # Sharing
//! [`Clone`] shares one connection (calls are serialised by a mutex). Several processes may open the same file:
//! SQLite's locking serialises their writes, every change position is taken inside the writing transaction, and
//! a writer that finds the file locked waits up to [`SqliteOptions::busy_timeout`]. For many processes on many
//! machines use a server database (`clerk-postgres`).

mod schema;

use clerk_core::store::codec;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use clerk_core::domain::{Category, Customer, Order, Product, RecordKind, Timestamp};
use clerk_core::store::{
    ChangeSummary, Counts, DataStore, OrderCursor, OrderPage, SavedAnalysis, StoreError, StoreResult, WriteSummary,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

pub use schema::SCHEMA_VERSION;

/// The name the store gives in errors and reports.
const NAME: &str = "sqlite";

/// What can go wrong inside the SQLite store. It reaches callers as the source of
/// [`StoreError::Backend`] (`store: "sqlite"`), where a host may downcast to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// SQLite itself failed (I/O, a locked or corrupt file, a full disk).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer build with a layout this build does not know.
    #[error("the database has schema version {found}; this build of clerk-sqlite reads up to {supported}")]
    SchemaTooNew {
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
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

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        StoreError::Backend { store: NAME, source: Box::new(e) }
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    SqliteError::Sqlite(e).into()
}

/// How hard SQLite works to keep commits on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a killed process loses no committed transaction; a power cut or an
    /// operating-system crash may lose the latest ones but leaves the file consistent. The default.
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is on disk before the call returns.
    Full,
}

/// Settings for [`SqliteStore::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a call waits for another process's write lock before it fails. Default 5 s.
    pub busy_timeout: Duration,
    /// Commit durability. Default [`Durability::Normal`].
    pub durability: Durability,
    /// SQLite's page cache in KiB. Default 65,536 (64 MiB).
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { busy_timeout: Duration::from_secs(5), durability: Durability::Normal, cache_kib: 64 * 1024 }
    }
}

/// A [`DataStore`] in one SQLite file. See the [crate documentation](crate) for durability, blocking and
/// sharing.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish()
    }
}

/// Change-log kinds, as stored in `changes.kind`.
const LOG_PRODUCT: i64 = 0;
const LOG_CATEGORY: i64 = 1;
const LOG_CUSTOMER: i64 = 2;
const LOG_ORDER_WRITTEN: i64 = 3;
const LOG_ORDER_DELETED: i64 = 4;

/// The catalog tables, by kind.
#[derive(Clone, Copy)]
struct Table {
    kind: RecordKind,
    name: &'static str,
    counter: &'static str,
    log: i64,
}

const PRODUCTS: Table = Table { kind: RecordKind::Product, name: "products", counter: "products", log: LOG_PRODUCT };
const CATEGORIES: Table =
    Table { kind: RecordKind::Category, name: "categories", counter: "categories", log: LOG_CATEGORY };
const CUSTOMERS: Table =
    Table { kind: RecordKind::Customer, name: "customers", counter: "customers", log: LOG_CUSTOMER };

fn table(kind: RecordKind) -> Option<Table> {
    match kind {
        RecordKind::Product => Some(PRODUCTS),
        RecordKind::Category => Some(CATEGORIES),
        RecordKind::Customer => Some(CUSTOMERS),
        RecordKind::Order => None,
    }
}

/// A `u64` as SQLite's `i64`, saturating (positions and limits never get near `i64::MAX`).
fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sat_usize(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An `i64` read from the file as a `u64` (the store only writes non-negative counts and positions).
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn check_ids<'a>(kind: RecordKind, ids: impl Iterator<Item = &'a str>) -> StoreResult<()> {
    for id in ids {
        if id.is_empty() {
            return Err(StoreError::Invalid(format!("{kind} with an empty id")));
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when absent) the store in the file at `path` with default [`SqliteOptions`], creating or
    /// migrating its schema.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// Opens (creating when absent) the store in the file at `path`, creating or migrating its schema.
    ///
    /// Fails with [`StoreError::Backend`] when the file cannot be opened or created, is not a SQLite database,
    /// or was written by a newer build ([`SqliteError::SchemaTooNew`]).
    pub fn open_with(path: impl AsRef<Path>, options: &SqliteOptions) -> StoreResult<Self> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(path, OpenFlags::default()).map_err(backend)?;
        Self::setup(conn, Some(path.to_owned()), options)
    }

    /// A store in memory, gone when the last handle is dropped (for tests).
    pub fn in_memory() -> StoreResult<Self> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::setup(conn, None, &SqliteOptions::default())
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>, options: &SqliteOptions) -> StoreResult<Self> {
        conn.busy_timeout(options.busy_timeout).map_err(backend)?;
        // journal_mode answers with the mode it set ("memory" for an in-memory database).
        let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(backend)?;
        let synchronous = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous).map_err(backend)?;
        conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib)).map_err(backend)?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn)?;
        Ok(SqliteStore { inner: Arc::new(Inner { path, conn: Mutex::new(conn) }) })
    }

    /// The file the store lives in (`None` for [`in_memory`](Self::in_memory)).
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The schema version of the open file (always [`SCHEMA_VERSION`] after a successful open).
    pub fn schema_version(&self) -> StoreResult<u32> {
        schema::version(&self.conn()).map_err(backend)
    }

    /// Checks the file for corruption (`PRAGMA integrity_check`) and the counters against the tables; returns
    /// the problems found, empty when the store is sound.
    pub fn check(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(backend)?;
        let mut problems = Vec::new();
        {
            let mut stmt = tx.prepare("PRAGMA integrity_check").map_err(backend)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
            for row in rows {
                let row = row.map_err(backend)?;
                if row != "ok" {
                    problems.push(row);
                }
            }
        }
        let counts = read_counts(&tx)?;
        let actual = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0)).map(unsigned).map_err(backend);
        let pairs = [
            ("products", counts.products as u64, actual("SELECT COUNT(*) FROM products")?),
            ("categories", counts.categories as u64, actual("SELECT COUNT(*) FROM categories")?),
            ("customers", counts.customers as u64, actual("SELECT COUNT(*) FROM customers")?),
            ("orders", counts.orders as u64, actual("SELECT COUNT(*) FROM orders")?),
            ("order lines", counts.order_lines as u64, actual("SELECT COALESCE(SUM(lines), 0) FROM orders")?),
        ];
        for (what, counter, real) in pairs {
            if counter != real {
                problems.push(format!("{what}: the counter says {counter}, the table holds {real}"));
            }
        }
        let position = actual("SELECT position FROM state")?;
        let logged = actual("SELECT COALESCE(MAX(last), 0) FROM changes")?;
        if logged > position {
            problems.push(format!("the change log reaches {logged}, past the position {position}"));
        }
        let newest_order = actual("SELECT COALESCE(MAX(seq), 0) FROM orders")?;
        if newest_order > position {
            problems.push(format!("an order was written at {newest_order}, past the position {position}"));
        }
        Ok(problems)
    }

    // A panic while the lock was held cannot leave the database half-written: an open transaction rolls back
    // when it is dropped during the unwind. So a poisoned lock is safe to use.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let out = f(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    fn upsert<T: serde::Serialize>(
        &self,
        table: Table,
        records: Vec<T>,
        id: impl Fn(&T) -> &str,
    ) -> StoreResult<WriteSummary> {
        check_ids(table.kind, records.iter().map(&id))?;
        if records.is_empty() {
            return Ok(WriteSummary::default());
        }
        let encoded = records
            .iter()
            .map(|r| codec::encode(r).map_err(|m| codec_error(table.kind.as_str(), id(r), m)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(|tx| {
            let mut summary = WriteSummary::default();
            {
                let mut insert = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {} (id, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        table.name
                    ))
                    .map_err(backend)?;
                let mut update = tx
                    .prepare_cached(&format!("UPDATE {} SET data = ?2 WHERE id = ?1", table.name))
                    .map_err(backend)?;
                for (record, data) in records.iter().zip(&encoded) {
                    let id = id(record);
                    if insert.execute(params![id, data]).map_err(backend)? == 1 {
                        summary.inserted += 1;
                    } else {
                        update.execute(params![id, data]).map_err(backend)?;
                        summary.replaced += 1;
                    }
                }
            }
            let n = sat_usize(records.len());
            log_range(tx, table.log, n)?;
            tx.execute(&format!("UPDATE state SET {0} = {0} + ?1", table.counter), [sat_usize(summary.inserted)])
                .map_err(backend)?;
            Ok(summary)
        })
    }

    fn get<T: serde::de::DeserializeOwned>(&self, table: Table, id: &str) -> StoreResult<Option<T>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT data FROM {} WHERE id = ?1", table.name)).map_err(backend)?;
        let data: Option<Vec<u8>> = stmt.query_row([id], |r| r.get(0)).optional().map_err(backend)?;
        data.map(|d| codec::decode(&d).map_err(|m| codec_error(table.kind.as_str(), id, m))).transpose()
    }

    fn page<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let conn = self.conn();
        let sql = match after {
            Some(_) => format!("SELECT id, data FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2", table.name),
            None => format!("SELECT id, data FROM {} ORDER BY id LIMIT ?2", table.name),
        };
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let mut rows = match after {
            Some(a) => stmt.query(params![a, sat_usize(limit)]),
            None => stmt.query(params![rusqlite::types::Null, sat_usize(limit)]),
        }
        .map_err(backend)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(backend)? {
            let id: String = row.get(0).map_err(backend)?;
            let data = row.get_ref(1).map_err(backend)?.as_blob().map_err(|e| backend(e.into()))?;
            out.push(codec::decode(data).map_err(|m| codec_error(table.kind.as_str(), &id, m))?);
        }
        Ok(out)
    }
}

fn codec_error(kind: &'static str, id: &str, message: String) -> StoreError {
    SqliteError::Codec { kind, id: id.to_owned(), message }.into()
}

/// Takes `n` change positions for one call's records of one kind and logs them as one range; returns the first.
fn log_range(tx: &Transaction<'_>, kind: i64, n: i64) -> StoreResult<i64> {
    let position: i64 = tx.query_row("SELECT position FROM state", [], |r| r.get(0)).map_err(backend)?;
    if n > 0 {
        tx.execute("UPDATE state SET position = ?1", [position + n]).map_err(backend)?;
        tx.prepare_cached("INSERT INTO changes (first, last, kind) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![position + 1, position + n, kind]))
            .map_err(backend)?;
    }
    Ok(position + 1)
}

fn read_counts(conn: &Connection) -> StoreResult<Counts> {
    conn.query_row("SELECT products, categories, customers, orders, order_lines FROM state", [], |r| {
        let get = |i: usize| r.get::<_, i64>(i).map(|v| unsigned(v) as usize);
        Ok(Counts { products: get(0)?, categories: get(1)?, customers: get(2)?, orders: get(3)?, order_lines: get(4)? })
    })
    .map_err(backend)
}

fn decode_order(seq: i64, data: &[u8]) -> StoreResult<Order> {
    codec::decode(data).map_err(|m| codec_error("order", &format!("at position {seq}"), m))
}

#[async_trait]
impl DataStore for SqliteStore {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn upsert_products(&self, products: Vec<Product>) -> StoreResult<WriteSummary> {
        self.upsert(PRODUCTS, products, |p| &p.id)
    }

    async fn upsert_categories(&self, categories: Vec<Category>) -> StoreResult<WriteSummary> {
        self.upsert(CATEGORIES, categories, |c| &c.id)
    }

    async fn upsert_customers(&self, customers: Vec<Customer>) -> StoreResult<WriteSummary> {
        self.upsert(CUSTOMERS, customers, |c| &c.id)
    }

    async fn append_orders(&self, orders: Vec<Order>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Order, orders.iter().map(|o| o.id.as_str()))?;
        if orders.is_empty() {
            return Ok(WriteSummary::default());
        }
        let encoded = orders
            .iter()
            .map(|o| codec::encode_compact(o).map_err(|m| codec_error("order", &o.id, m)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(|tx| {
            let first = log_range(tx, LOG_ORDER_WRITTEN, sat_usize(orders.len()))?;
            let mut summary = WriteSummary::default();
            let mut lines_delta: i64 = 0;
            {
                // Most orders are new: one INSERT that does nothing on a taken id; only then the old order is
                // removed (for its line count) and the new one inserted at its new position.
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO orders (seq, id, time, lines, data) VALUES (?1, ?2, ?3, ?4, ?5) \
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .map_err(backend)?;
                let mut remove =
                    tx.prepare_cached("DELETE FROM orders WHERE id = ?1 RETURNING lines").map_err(backend)?;
                for (i, (order, data)) in orders.iter().zip(&encoded).enumerate() {
                    let lines = sat_usize(order.lines.len());
                    let row = params![first + sat_usize(i), order.id, order.time.secs(), lines, data];
                    lines_delta += lines;
                    if insert.execute(row).map_err(backend)? == 1 {
                        summary.inserted += 1;
                        continue;
                    }
                    let old: i64 = remove.query_row([&order.id], |r| r.get(0)).map_err(backend)?;
                    lines_delta -= old;
                    summary.replaced += 1;
                    insert.execute(row).map_err(backend)?;
                }
            }
            tx.execute(
                "UPDATE state SET orders = orders + ?1, order_lines = order_lines + ?2",
                params![sat_usize(summary.inserted), lines_delta],
            )
            .map_err(backend)?;
            Ok(summary)
        })
    }

    async fn delete(&self, kind: RecordKind, ids: &[String]) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            let mut existed = 0usize;
            match table(kind) {
                Some(t) => {
                    let mut stmt =
                        tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", t.name)).map_err(backend)?;
                    for id in ids {
                        existed += stmt.execute([id]).map_err(backend)?;
                    }
                    drop(stmt);
                    tx.execute(&format!("UPDATE state SET {0} = {0} - ?1", t.counter), [sat_usize(existed)])
                        .map_err(backend)?;
                    log_range(tx, t.log, sat_usize(existed))?;
                }
                None => {
                    let mut stmt =
                        tx.prepare_cached("DELETE FROM orders WHERE id = ?1 RETURNING lines").map_err(backend)?;
                    let mut lines = 0i64;
                    for id in ids {
                        if let Some(n) = stmt.query_row([id], |r| r.get::<_, i64>(0)).optional().map_err(backend)? {
                            existed += 1;
                            lines += n;
                        }
                    }
                    drop(stmt);
                    tx.execute(
                        "UPDATE state SET orders = orders - ?1, order_lines = order_lines - ?2",
                        params![sat_usize(existed), lines],
                    )
                    .map_err(backend)?;
                    log_range(tx, LOG_ORDER_DELETED, sat_usize(existed))?;
                }
            }
            Ok(existed)
        })
    }

    async fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        self.get(PRODUCTS, id)
    }

    async fn category(&self, id: &str) -> StoreResult<Option<Category>> {
        self.get(CATEGORIES, id)
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        self.get(CUSTOMERS, id)
    }

    async fn order(&self, id: &str) -> StoreResult<Option<Order>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT seq, data FROM orders WHERE id = ?1").map_err(backend)?;
        let row: Option<(i64, Vec<u8>)> =
            stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(backend)?;
        row.map(|(seq, data)| decode_order(seq, &data)).transpose()
    }

    async fn ids(&self, kind: RecordKind) -> StoreResult<Vec<String>> {
        let name = table(kind).map_or("orders", |t| t.name);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT id FROM {name} ORDER BY id")).map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(backend)
    }

    async fn products_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Product>> {
        self.page(PRODUCTS, after, limit)
    }

    async fn categories_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Category>> {
        self.page(CATEGORIES, after, limit)
    }

    async fn customers_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Customer>> {
        self.page(CUSTOMERS, after, limit)
    }

    async fn counts(&self) -> StoreResult<Counts> {
        read_counts(&self.conn())
    }

    async fn read_orders(&self, cursor: OrderCursor, limit: usize) -> StoreResult<OrderPage> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, time, data FROM orders WHERE (time, seq) > (?1, ?2) ORDER BY time, seq LIMIT ?3",
            )
            .map_err(backend)?;
        let mut rows = stmt.query(params![cursor.time.secs(), sat(cursor.seq), sat_usize(limit)]).map_err(backend)?;
        let mut orders = Vec::new();
        let mut last = None;
        while let Some(row) = rows.next().map_err(backend)? {
            let seq: i64 = row.get(0).map_err(backend)?;
            let time: i64 = row.get(1).map_err(backend)?;
            let data = row.get_ref(2).map_err(backend)?.as_blob().map_err(|e| backend(e.into()))?;
            orders.push(decode_order(seq, data)?);
            last = Some(OrderCursor { time: Timestamp(time), seq: unsigned(seq) });
        }
        let next = if orders.len() == limit { last } else { None };
        Ok(OrderPage { orders, next })
    }

    async fn orders_written_after(&self, position: u64, limit: usize) -> StoreResult<(Vec<Order>, u64)> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT seq, data FROM orders WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(backend)?;
        let mut rows = stmt.query(params![sat(position), sat_usize(limit)]).map_err(backend)?;
        let mut orders = Vec::new();
        let mut next = position;
        while let Some(row) = rows.next().map_err(backend)? {
            let seq: i64 = row.get(0).map_err(backend)?;
            let data = row.get_ref(1).map_err(backend)?.as_blob().map_err(|e| backend(e.into()))?;
            orders.push(decode_order(seq, data)?);
            next = unsigned(seq);
        }
        Ok((orders, next))
    }

    async fn change_position(&self) -> StoreResult<u64> {
        let conn = self.conn();
        conn.query_row("SELECT position FROM state", [], |r| r.get(0)).map(unsigned).map_err(backend)
    }

    async fn changes_since(&self, position: u64) -> StoreResult<ChangeSummary> {
        let mut conn = self.conn();
        // One read transaction: the position and the counts come from the same snapshot.
        let tx = conn.transaction().map_err(backend)?;
        let mut summary = ChangeSummary {
            position: tx.query_row("SELECT position FROM state", [], |r| r.get(0)).map(unsigned).map_err(backend)?,
            ..ChangeSummary::default()
        };
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT kind, SUM(last - MAX(first, ?1 + 1) + 1) FROM changes WHERE last > ?1 GROUP BY kind",
                )
                .map_err(backend)?;
            let rows = stmt.query_map([sat(position)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
            for row in rows.map_err(backend)? {
                let (kind, n) = row.map_err(backend)?;
                let n = unsigned(n);
                match kind {
                    LOG_PRODUCT => summary.products = n,
                    LOG_CATEGORY => summary.categories = n,
                    LOG_CUSTOMER => summary.customers = n,
                    LOG_ORDER_WRITTEN => summary.orders_written = n,
                    LOG_ORDER_DELETED => summary.orders_deleted = n,
                    _ => {}
                }
            }
        }
        tx.finish().map_err(backend)?;
        Ok(summary)
    }

    async fn save_analysis(&self, analysis: SavedAnalysis) -> StoreResult<u64> {
        let data_position = i64::try_from(analysis.data_position)
            .map_err(|_| SqliteError::OutOfRange { what: "data position", value: analysis.data_position })?;
        self.write(|tx| {
            let version: i64 =
                tx.query_row("SELECT COALESCE(MAX(version), 0) FROM analysis", [], |r| r.get(0)).map_err(backend)?;
            let version = version + 1;
            tx.execute(
                "INSERT OR REPLACE INTO analysis (id, version, model, format, data_position, created_at, bytes) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    version,
                    analysis.model,
                    analysis.format,
                    data_position,
                    analysis.created_at.secs(),
                    analysis.bytes
                ],
            )
            .map_err(backend)?;
            Ok(unsigned(version))
        })
    }

    async fn load_analysis(&self) -> StoreResult<Option<SavedAnalysis>> {
        let conn = self.conn();
        conn.query_row("SELECT version, model, format, data_position, created_at, bytes FROM analysis", [], |r| {
            Ok(SavedAnalysis {
                version: unsigned(r.get(0)?),
                model: r.get(1)?,
                format: r.get(2)?,
                data_position: unsigned(r.get(3)?),
                created_at: Timestamp(r.get(4)?),
                bytes: r.get(5)?,
            })
        })
        .optional()
        .map_err(backend)
    }

    async fn analysis_version(&self) -> StoreResult<u64> {
        let conn = self.conn();
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM analysis", [], |r| r.get(0))
            .map(unsigned)
            .map_err(backend)
    }
}
