//! The database layout and its migrations.
//!
//! The layout has a version, kept in the one-row table `clerk_schema_version`. [`migrate`] brings a database of
//! any older version up to [`SCHEMA_VERSION`] in one transaction (under an advisory lock, so processes starting
//! together do not race), and refuses a database written by a newer build.

use tokio_postgres::Client;

use crate::PgError;

/// The layout version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key held while migrating ("clerk" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6c65_726b;

/// `MIGRATIONS[n]` brings a database from version `n` to version `n + 1`; version 0 has no clerk tables.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first layout. Ids use the "C" collation so that id order is byte order, as in Rust.
    r#"
    CREATE TABLE clerk_schema_version (version INTEGER NOT NULL);
    INSERT INTO clerk_schema_version (version) VALUES (0);

    CREATE TABLE clerk_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        position BIGINT NOT NULL,
        products BIGINT NOT NULL,
        categories BIGINT NOT NULL,
        customers BIGINT NOT NULL,
        orders BIGINT NOT NULL,
        order_lines BIGINT NOT NULL
    );
    INSERT INTO clerk_state VALUES (1, 0, 0, 0, 0, 0, 0);

    CREATE TABLE clerk_products (id TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL);
    CREATE TABLE clerk_categories (id TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL);
    CREATE TABLE clerk_customers (id TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL);

    CREATE TABLE clerk_orders (
        seq BIGINT PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        time BIGINT NOT NULL,
        lines INTEGER NOT NULL,
        data BYTEA NOT NULL
    );
    CREATE INDEX clerk_orders_by_time ON clerk_orders (time, seq);

    -- kind: 0 product, 1 category, 2 customer, 3 order written, 4 order deleted.
    CREATE TABLE clerk_changes (first BIGINT PRIMARY KEY, last BIGINT NOT NULL, kind SMALLINT NOT NULL);
    CREATE INDEX clerk_changes_by_last ON clerk_changes (last);

    CREATE TABLE clerk_analysis_version (version BIGINT NOT NULL);
    INSERT INTO clerk_analysis_version VALUES (0);
    CREATE TABLE clerk_analysis (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL,
        model TEXT NOT NULL,
        format BIGINT NOT NULL,
        data_position BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        bytes BYTEA NOT NULL
    );
    -- The analysis is written once and read whole: no compression attempt, stored out of line.
    ALTER TABLE clerk_analysis ALTER COLUMN bytes SET STORAGE EXTERNAL;
    "#,
];

/// Drops every table of the layout.
pub(crate) const DROP: &str = "DROP TABLE IF EXISTS clerk_schema_version, clerk_state, clerk_products, \
    clerk_categories, clerk_customers, clerk_orders, clerk_changes, clerk_analysis_version, clerk_analysis";

/// The version of the layout (0 when the clerk tables do not exist).
pub(crate) async fn version(client: &impl tokio_postgres::GenericClient) -> Result<i32, tokio_postgres::Error> {
    let exists: bool = client.query_one("SELECT to_regclass('clerk_schema_version') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client.query_opt("SELECT version FROM clerk_schema_version", &[]).await?.map_or(0, |r| r.get(0)))
}

/// Brings the database up to [`SCHEMA_VERSION`]; a no-op when it is there already.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    let found = version(&tx).await?;
    if found > SCHEMA_VERSION {
        return Err(PgError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.batch_execute(sql).await?;
        let to = i32::try_from(from + 1).unwrap_or(i32::MAX);
        tx.execute("UPDATE clerk_schema_version SET version = $1", &[&to]).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_one_migration_per_version() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION as usize);
    }
}
