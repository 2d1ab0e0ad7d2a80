//! The database layout and its migrations.
//!
//! The layout has a version, kept in the one-row table `schema_version`. [`migrate`] brings a database of any
//! older version up to [`SCHEMA_VERSION`] in one transaction, and refuses a database written by a newer build.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::SqliteError;

/// The layout version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// `MIGRATIONS[n]` brings a database from version `n` to version `n + 1`; version 0 is an empty file.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first layout.
    "
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (0);

    -- Counters kept with every write, so counts and the change position are one row away.
    CREATE TABLE state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        position INTEGER NOT NULL,
        products INTEGER NOT NULL,
        categories INTEGER NOT NULL,
        customers INTEGER NOT NULL,
        orders INTEGER NOT NULL,
        order_lines INTEGER NOT NULL
    );
    INSERT INTO state VALUES (1, 0, 0, 0, 0, 0, 0);

    -- Catalog records: the id as a column, the whole record as a MessagePack blob.
    CREATE TABLE products (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE categories (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE customers (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;

    -- Orders by the change position they were written at; the order with its lines is one blob.
    CREATE TABLE orders (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        time INTEGER NOT NULL,
        lines INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX orders_by_time ON orders (time, seq);

    -- The change log: every store call writes one kind, so its positions are one range [first, last].
    -- kind: 0 product, 1 category, 2 customer, 3 order written, 4 order deleted.
    CREATE TABLE changes (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, kind INTEGER NOT NULL);
    CREATE INDEX changes_by_last ON changes (last);

    -- The latest saved analysis.
    CREATE TABLE analysis (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        model TEXT NOT NULL,
        format INTEGER NOT NULL,
        data_position INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );
    ",
];

/// The version of the layout in `conn` (0 for an empty database).
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    Ok(conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional()?.unwrap_or(0))
}

/// Brings the database up to [`SCHEMA_VERSION`]; a no-op when it is there already.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    // IMMEDIATE takes the write lock first, so two processes opening a new file at once do not both migrate.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute("UPDATE schema_version SET version = ?1", [from as u32 + 1])?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_one_migration_per_version() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION as usize);
    }

    #[test]
    fn migrate_is_idempotent_and_refuses_newer_layouts() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&conn).unwrap(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        conn.execute("UPDATE schema_version SET version = ?1", [SCHEMA_VERSION + 1]).unwrap();
        match migrate(&mut conn) {
            Err(SqliteError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
