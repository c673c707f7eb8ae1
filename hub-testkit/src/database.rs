//! A fresh, empty database per test, on SQLite or PostgreSQL.
//!
//! PostgreSQL tests need a server: `COPHUB_TEST_DATABASE_URL` names one (the
//! project's test command always sets it). Without it they are skipped with
//! a line on stderr, unless `COPHUB_TEST_REQUIRE_POSTGRES=1`, which turns the
//! skip into a failure so a misconfigured run cannot pass by running nothing.

use std::str::FromStr;

use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};

/// The variable naming the PostgreSQL server for tests.
pub const DATABASE_URL_VAR: &str = "COPHUB_TEST_DATABASE_URL";

/// A database that exists for one test and is removed after it.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// The URL to open it with.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new SQLite file in a temporary folder.
    ///
    /// # Panics
    /// When no temporary folder can be made.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the test database");
        let url = format!("sqlite://{}/cophub.db", dir.path().display());
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new database on the test PostgreSQL server, or `None` (with a note on
    /// stderr) when no server is configured.
    ///
    /// # Panics
    /// When the server cannot be reached, or no server is configured but
    /// `COPHUB_TEST_REQUIRE_POSTGRES=1`.
    #[allow(clippy::expect_used)]
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
            assert!(
                std::env::var("COPHUB_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{DATABASE_URL_VAR} is not set but COPHUB_TEST_REQUIRE_POSTGRES=1"
            );
            eprintln!(
                "skipped: {DATABASE_URL_VAR} is not set, so this PostgreSQL test did not run"
            );
            return None;
        };
        let name = format!("cophub_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("the test PostgreSQL server answers");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("a test database can be created");
        let url = with_database(&admin_url, &name);
        Some(Self {
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// The backend `COPHUB_TEST_BACKEND` names (`sqlite`, the default, or
    /// `postgres`), for suites that run whole on one backend per run.
    ///
    /// # Panics
    /// When `postgres` is asked for and no server is configured.
    #[allow(clippy::expect_used)]
    pub async fn from_env() -> Self {
        match std::env::var("COPHUB_TEST_BACKEND").as_deref() {
            Ok("postgres") => Self::postgres()
                .await
                .expect("COPHUB_TEST_BACKEND=postgres needs COPHUB_TEST_DATABASE_URL"),
            _ => Self::sqlite(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime guarantee, so the cleanup gets its own.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let _ = admin
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    // Check the URL parses before rewriting it, so a typo fails loudly.
    assert!(
        PgConnectOptions::from_str(url).is_ok(),
        "{DATABASE_URL_VAR} is not a PostgreSQL URL"
    );
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut rewritten = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        rewritten.push('?');
        rewritten.push_str(query);
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
