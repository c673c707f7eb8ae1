//! cophub's [`Store`](hub_core::ports::store::Store) on SQLite (the embedded,
//! single-machine default) and on PostgreSQL (several instances). The backend
//! is chosen once, from the URL scheme; each has its own migrations, applied
//! at start. Queries are checked at run time and proven by the contract suite
//! in `tests/contract.rs`, which runs against both.

mod audit_sql;
mod conference_sql;
mod error;
mod idempotency_sql;
mod postgres;
mod postgres_conference;
mod rows;
mod sql;
mod sqlite;
mod sqlite_conference;

use std::sync::Arc;

use hub_core::ports::store::Store;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs: one file, one machine.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs: many instances.
    Postgres,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no supported database.
    #[error("the database URL must start with sqlite: or postgres: (got {0:?})")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("could not apply the database migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl Backend {
    /// The backend a URL names.
    ///
    /// # Errors
    /// [`OpenError::UnsupportedUrl`] for any other scheme.
    pub fn of_url(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            // Never echo a whole URL: it may hold a password.
            let scheme = url.split(':').next().unwrap_or_default();
            Err(OpenError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }
}

/// Opens the database a URL names and brings its schema up to date.
///
/// # Errors
/// [`OpenError`] when the URL is not supported, the database cannot be
/// reached, or a migration fails.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    Ok(match Backend::of_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::open(url).await?),
        Backend::Postgres => Arc::new(PgStore::open(url).await?),
    })
}
