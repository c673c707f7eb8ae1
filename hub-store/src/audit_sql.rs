//! The audit log as people read it, the part both backends share: one page,
//! newest first, by community, actor, action prefix and time, with the seq
//! as the keyset cursor. The SQL is built for the filters that are set, so
//! each shape gets its own plan; a community's page walks the
//! `audit_by_community (community_id, seq)` index backwards and stops at the
//! page's end, the whole log walks the primary key. A filter that matches
//! rarely reads further back (a rare actor among 500,000 entries: about
//! 0.1 s on SQLite), which an owner's occasional search can afford, so the
//! filters have no index of their own.
//!
//! Prefixes are compared with `substr(…) = $n`, not `LIKE`: SQLite's `LIKE`
//! ignores letter case and PostgreSQL's does not, and the two must agree.

use chrono::{DateTime, Utc};
use hub_core::{
    model::audit::{AuditEvent, AuditQuery},
    page::{Page, encode_cursor},
    ports::store::StoreError,
};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use uuid::Uuid;

use crate::{error::internal, rows::AuditRow};

/// A value the page's SQL binds, in order.
#[derive(Debug)]
enum Param {
    Community(Uuid),
    Text(String),
    Time(DateTime<Utc>),
    Seq(i64),
}

/// One page's SQL and its parameters.
#[derive(Debug)]
struct PageSelect {
    sql: String,
    params: Vec<Param>,
}

/// Builds the page's SQL; the limit is one more than asked, to see whether
/// a next page exists.
fn page_select(query: &AuditQuery) -> PageSelect {
    let mut params = Vec::new();
    let mut param = |value: Param| {
        params.push(value);
        format!("${}", params.len())
    };
    let mut conditions = Vec::new();
    if let Some(community) = query.community {
        conditions.push(format!(
            "community_id = {}",
            param(Param::Community(community.0))
        ));
    }
    if let Some(before) = query.before {
        conditions.push(format!("seq < {}", param(Param::Seq(before))));
    }
    if let Some(since) = query.since {
        conditions.push(format!("at >= {}", param(Param::Time(since))));
    }
    if let Some(until) = query.until {
        conditions.push(format!("at < {}", param(Param::Time(until))));
    }
    if let Some(prefix) = query.action_prefix.as_deref() {
        // The length is a number we counted, never text someone typed.
        let length = prefix.chars().count();
        conditions.push(format!(
            "substr(action, 1, {length}) = {}",
            param(Param::Text(prefix.to_owned()))
        ));
    }
    if let Some(subject) = query.subject.as_deref() {
        conditions.push(format!(
            "subject = {}",
            param(Param::Text(subject.to_owned()))
        ));
    }
    if !query.actors.is_empty() {
        let mut any = Vec::new();
        for actor in &query.actors {
            let under = format!("{actor}:");
            let length = under.chars().count();
            any.push(format!("actor = {}", param(Param::Text(actor.clone()))));
            any.push(format!(
                "substr(actor, 1, {length}) = {}",
                param(Param::Text(under))
            ));
        }
        conditions.push(format!("({})", any.join(" OR ")));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    PageSelect {
        sql: format!(
            "SELECT seq, at, actor, action, community_id, subject, details, prev_hash, hash \
             FROM audit_events{filter} ORDER BY seq DESC LIMIT {}",
            query.limit.clamp(1, 500) + 1
        ),
        params,
    }
}

/// Binds a [`PageSelect`]'s parameters to a query of either backend.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Community(id) => query.bind(id),
                Param::Text(text) => query.bind(text),
                Param::Time(at) => query.bind(at),
                Param::Seq(seq) => query.bind(seq),
            };
        }
        query
    }};
}

/// The page of `rows` (one more than the limit when a next page exists).
fn page_of(query: &AuditQuery, mut rows: Vec<AuditRow>) -> Page<AuditEvent> {
    let limit = query.limit.clamp(1, 500) as usize;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let items: Vec<AuditEvent> = rows.into_iter().map(AuditRow::into_event).collect();
    let next_cursor = has_more
        .then(|| items.last().map(|e| encode_cursor(&e.seq.to_string())))
        .flatten();
    Page { items, next_cursor }
}

/// One page of the log on SQLite.
pub(crate) async fn page_sqlite(
    pool: &SqlitePool,
    query: &AuditQuery,
) -> Result<Page<AuditEvent>, StoreError> {
    let select = page_select(query);
    let rows = bind_all!(
        sqlx::query_as::<_, AuditRow>(AssertSqlSafe(select.sql)),
        select.params
    )
    .fetch_all(pool)
    .await
    .map_err(internal)?;
    Ok(page_of(query, rows))
}

/// One page of the log on PostgreSQL.
pub(crate) async fn page_postgres(
    pool: &PgPool,
    query: &AuditQuery,
) -> Result<Page<AuditEvent>, StoreError> {
    let select = page_select(query);
    let rows = bind_all!(
        sqlx::query_as::<_, AuditRow>(AssertSqlSafe(select.sql)),
        select.params
    )
    .fetch_all(pool)
    .await
    .map_err(internal)?;
    Ok(page_of(query, rows))
}

#[cfg(test)]
mod tests {
    use hub_core::ids::CommunityId;

    use super::*;

    #[test]
    fn only_the_filters_that_are_set_reach_the_sql() {
        let all = page_select(&AuditQuery {
            limit: 50,
            ..AuditQuery::default()
        });
        assert!(!all.sql.contains("WHERE"), "{}", all.sql);
        assert!(all.sql.ends_with("ORDER BY seq DESC LIMIT 51"));
        assert!(all.params.is_empty());

        let some = page_select(&AuditQuery {
            community: Some(CommunityId(Uuid::nil())),
            actors: vec!["system:sync".into()],
            action_prefix: Some("membér.".into()),
            before: Some(10),
            limit: 5000,
            ..AuditQuery::default()
        });
        assert!(
            some.sql.contains(
                "WHERE community_id = $1 AND seq < $2 AND substr(action, 1, 7) = $3 \
                 AND (actor = $4 OR substr(actor, 1, 12) = $5)"
            ),
            "{}",
            some.sql
        );
        assert!(some.sql.ends_with("LIMIT 501"), "the limit is capped");
        assert_eq!(some.params.len(), 5);
    }
}
