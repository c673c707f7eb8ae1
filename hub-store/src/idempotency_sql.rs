//! Idempotency keys in storage (`Store::publish_once`, `Store::kept_key`):
//! the SQL both backends run, the row they read, and each backend's
//! transaction, which differ only in the connection and the purge.
//!
//! A key is claimed by inserting its row (`ON CONFLICT DO NOTHING`) at the
//! start of the transaction that publishes, and its answer is written into
//! that row before the commit. On SQLite the transaction holds the write
//! lock from its start (`BEGIN IMMEDIATE`), so a second request with the key
//! waits for the first to commit and then reads its answer. On PostgreSQL
//! the second insert waits on the first one's uncommitted row (the primary
//! key), then finds it committed — or claims the key itself if the first
//! rolled back. Either way the announcement is written once, together with
//! its answer: a crash before the commit leaves neither, and a retry
//! publishes it then.

use chrono::{DateTime, Utc};
use hub_core::{
    idempotency::{IdempotencyKey, KeptResponse, KeyUse, kept_since},
    ids::CommunityId,
    model::{announcement::NewAnnouncement, audit::NewAuditEvent},
    ports::store::{Respond, StoreError},
};
use sqlx::{PgConnection, SqliteConnection};

use crate::{
    conference_sql::write_error,
    error::{corrupt, internal},
    postgres::{self, PgStore},
    sqlite::{self, SqliteStore},
};

/// A key's own expired row, deleted before claiming the key again. On
/// PostgreSQL this waits while another transaction holds that row.
const FORGET_EXPIRED: &str = "DELETE FROM idempotency_keys \
     WHERE token_hash = $1 AND idempotency_key = $2 AND created_at < $3";

/// Claims a key: one row affected when it was free.
const CLAIM: &str = "INSERT INTO idempotency_keys \
     (token_hash, idempotency_key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (token_hash, idempotency_key) DO NOTHING";

/// A live key's request and answer.
const KEPT: &str = "SELECT request_hash, status, body FROM idempotency_keys \
     WHERE token_hash = $1 AND idempotency_key = $2 AND created_at >= $3";

/// Keeps the answer in the claimed row, in the claiming transaction.
const KEEP: &str = "UPDATE idempotency_keys SET status = $3, body = $4 \
     WHERE token_hash = $1 AND idempotency_key = $2";

/// Up to 1,000 expired keys of any token. SQLite holds the one write lock.
const PURGE_SQLITE: &str = "DELETE FROM idempotency_keys WHERE rowid IN \
     (SELECT rowid FROM idempotency_keys WHERE created_at < $1 LIMIT 1000)";

/// Up to 1,000 expired keys of any token that no other transaction holds, so
/// the purge never waits (nor makes anyone wait on it for long).
const PURGE_POSTGRES: &str = "WITH old AS MATERIALIZED (\
     SELECT token_hash, idempotency_key FROM idempotency_keys WHERE created_at < $1 \
     LIMIT 1000 FOR UPDATE SKIP LOCKED) \
     DELETE FROM idempotency_keys k USING old \
     WHERE k.token_hash = old.token_hash AND k.idempotency_key = old.idempotency_key";

/// What a key stands for, as both databases return it.
#[derive(Debug, sqlx::FromRow)]
struct KeptRow {
    request_hash: String,
    status: Option<i32>,
    body: Option<String>,
}

impl KeptRow {
    /// What the key means for a request fingerprinted as `request_hash`.
    fn into_use(self, request_hash: &str) -> Result<KeyUse, StoreError> {
        // Only the claiming transaction sees the row without its answer.
        let (Some(status), Some(body)) = (self.status, self.body) else {
            return Err(corrupt("an idempotency key without its answer"));
        };
        let status = u16::try_from(status).map_err(|_| corrupt(format!("HTTP status {status}")))?;
        Ok(KeyUse::of_kept(
            &self.request_hash,
            request_hash,
            KeptResponse { status, body },
        ))
    }
}

/// `NotFound` for a key whose API token is gone; else the driver's error.
fn claim_error(error: sqlx::Error) -> StoreError {
    write_error(
        error,
        "this idempotency key is in use",
        "the API token of this idempotency key",
    )
}

/// The row a claim ran into, read after it: the other request's answer.
fn lost_claim(row: Option<KeptRow>, key: &IdempotencyKey) -> Result<KeyUse, StoreError> {
    // The claim found a live row; only the token's deletion removes it since.
    row.ok_or_else(|| StoreError::NotFound("the API token of this idempotency key".into()))?
        .into_use(&key.request_hash)
}

impl SqliteStore {
    /// `Store::publish_once` on SQLite.
    pub(crate) async fn publish_with_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
        community: CommunityId,
        announcement: NewAnnouncement,
        audit: NewAuditEvent,
        respond: &Respond,
    ) -> Result<KeyUse, StoreError> {
        let since = kept_since(now);
        let mut tx = self.write().await?;
        if !claim_sqlite(&mut tx, key, now).await? {
            let row = sqlx::query_as::<_, KeptRow>(KEPT)
                .bind(&key.token_hash)
                .bind(&key.key)
                .bind(since)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
            return lost_claim(row, key);
        }
        sqlx::query(PURGE_SQLITE)
            .bind(since)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let (published, deliveries) =
            sqlite::publish_in(&mut tx, community, announcement, audit, now).await?;
        let response = respond(&published, &deliveries);
        keep_sqlite(&mut tx, key, &response).await?;
        tx.commit().await.map_err(internal)?;
        Ok(KeyUse::First(response))
    }

    /// `Store::kept_key` on SQLite.
    pub(crate) async fn read_kept_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyUse>, StoreError> {
        sqlx::query_as::<_, KeptRow>(KEPT)
            .bind(&key.token_hash)
            .bind(&key.key)
            .bind(kept_since(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(|row| row.into_use(&key.request_hash))
            .transpose()
    }
}

/// Frees the key if it expired, then claims it; whether the claim held.
async fn claim_sqlite(
    conn: &mut SqliteConnection,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    sqlx::query(FORGET_EXPIRED)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(kept_since(now))
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    let claimed = sqlx::query(CLAIM)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(&key.request_hash)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(claim_error)?;
    Ok(claimed.rows_affected() == 1)
}

async fn keep_sqlite(
    conn: &mut SqliteConnection,
    key: &IdempotencyKey,
    response: &KeptResponse,
) -> Result<(), StoreError> {
    sqlx::query(KEEP)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(i32::from(response.status))
        .bind(&response.body)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}

impl PgStore {
    /// `Store::publish_once` on PostgreSQL.
    pub(crate) async fn publish_with_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
        community: CommunityId,
        announcement: NewAnnouncement,
        audit: NewAuditEvent,
        respond: &Respond,
    ) -> Result<KeyUse, StoreError> {
        let since = kept_since(now);
        let mut tx = self.write().await?;
        if !claim_postgres(&mut tx, key, now).await? {
            // READ COMMITTED: this statement sees the row the claim waited for.
            let row = sqlx::query_as::<_, KeptRow>(KEPT)
                .bind(&key.token_hash)
                .bind(&key.key)
                .bind(since)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
            return lost_claim(row, key);
        }
        sqlx::query(PURGE_POSTGRES)
            .bind(since)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let (published, deliveries) =
            postgres::publish_in(&mut tx, community, announcement, audit, now).await?;
        let response = respond(&published, &deliveries);
        keep_postgres(&mut tx, key, &response).await?;
        tx.commit().await.map_err(internal)?;
        Ok(KeyUse::First(response))
    }

    /// `Store::kept_key` on PostgreSQL.
    pub(crate) async fn read_kept_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyUse>, StoreError> {
        sqlx::query_as::<_, KeptRow>(KEPT)
            .bind(&key.token_hash)
            .bind(&key.key)
            .bind(kept_since(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(|row| row.into_use(&key.request_hash))
            .transpose()
    }
}

/// Frees the key if it expired, then claims it, waiting while another
/// transaction holds it; whether the claim held.
async fn claim_postgres(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    sqlx::query(FORGET_EXPIRED)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(kept_since(now))
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    let claimed = sqlx::query(CLAIM)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(&key.request_hash)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(claim_error)?;
    Ok(claimed.rows_affected() == 1)
}

async fn keep_postgres(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    response: &KeptResponse,
) -> Result<(), StoreError> {
    sqlx::query(KEEP)
        .bind(&key.token_hash)
        .bind(&key.key)
        .bind(i32::from(response.status))
        .bind(&response.body)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}
