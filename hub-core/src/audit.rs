//! The audit log as people read it: the filters a lead types turned into an
//! [`AuditQuery`], and the whole chain checked page by page (`cophub audit
//! verify`), so even a chain of millions of entries is never all in memory.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::{
    Email,
    ids::CommunityId,
    model::audit::{AuditEvent, AuditQuery, BrokenChain, ChainVerifier},
    page::decode_cursor,
    ports::store::{Store, StoreError},
};

/// Entries read per page when the chain is checked.
pub const VERIFY_PAGE: u32 = 1_000;

/// The longest actor or action filter taken.
const MAX_FILTER_CHARS: usize = 200;

/// A chain that checked out whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    /// How many entries it holds.
    pub entries: u64,
    /// The last entry's hash ([`GENESIS_HASH`](crate::model::audit::GENESIS_HASH)
    /// for an empty chain).
    pub last_hash: String,
}

/// Why the chain did not check out.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain breaks at `entry`.
    #[error("{}", describe(.broken, .entry))]
    Broken {
        /// How it breaks.
        broken: BrokenChain,
        /// The first entry that does not check out.
        entry: Box<AuditEvent>,
    },
    /// The chain could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the whole chain from its first entry, `page_size` entries at a
/// time, carrying the last hash from one page to the next.
///
/// # Errors
/// [`VerifyError::Broken`] naming the first entry that does not check out;
/// [`VerifyError::Store`] when the store fails.
pub async fn verify(store: &dyn Store, page_size: u32) -> Result<Intact, VerifyError> {
    let page_size = page_size.max(1);
    let mut verifier = ChainVerifier::new();
    // From the lowest seq there is, so an entry placed before the first is seen.
    let mut from = i64::MIN;
    loop {
        let page = store.audit_events(from, page_size).await?;
        for event in &page {
            verifier
                .check(event)
                .map_err(|broken| VerifyError::Broken {
                    broken,
                    entry: Box::new(event.clone()),
                })?;
        }
        match page.last() {
            Some(last) if page.len() == page_size as usize => from = last.seq + 1,
            _ => break,
        }
    }
    Ok(Intact {
        entries: verifier.entries(),
        last_hash: verifier.last_hash().to_owned(),
    })
}

/// One sentence naming the broken entry: its seq, when, who, what, and how
/// the chain breaks there.
fn describe(broken: &BrokenChain, entry: &AuditEvent) -> String {
    let how = match broken {
        BrokenChain::Altered { .. } => "its content was changed after it was written".to_owned(),
        BrokenChain::Gap { .. } => "it does not follow the entry before it, \
             so that entry was changed or entries were reordered"
            .to_owned(),
        BrokenChain::Removed { after: 0, .. } => "the entries before it were removed".to_owned(),
        BrokenChain::Removed { after, .. } => {
            format!("the entries between entry {after} and it were removed")
        }
    };
    format!(
        "the audit chain is broken at entry {} ({} by {}: {} on {:?}): {how}",
        entry.seq,
        entry.at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.actor,
        entry.action,
        entry.subject,
    )
}

/// The audit log's filters as typed: each may be empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// A person's email (their actions as a user and as a member), or an
    /// actor as the log writes it: `user:<email>`, `cli`, `system:sync`.
    pub actor: &'a str,
    /// The beginning of an action: `member.`, `channel.`.
    pub action: &'a str,
    /// The first day (`YYYY-MM-DD`, UTC).
    pub from: &'a str,
    /// The last day, included.
    pub to: &'a str,
    /// A cursor from a previous page.
    pub cursor: &'a str,
}

/// A filter that cannot be read; the message says which and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

impl AuditFilter<'_> {
    /// The query these filters ask for, in `community` (`None`: the whole
    /// log), at most `limit` entries a page.
    ///
    /// # Errors
    /// [`InvalidFilter`] for an actor that is neither an email nor an actor
    /// name, a day that is not `YYYY-MM-DD`, a range that ends before it
    /// begins, or a cursor this server did not make.
    pub fn query(
        &self,
        community: Option<CommunityId>,
        limit: u32,
    ) -> Result<AuditQuery, InvalidFilter> {
        let since = day(self.from, "from")?;
        let last = day(self.to, "to")?;
        if let (Some(since), Some(last)) = (since, last)
            && last < since
        {
            return Err(InvalidFilter(format!(
                "the days end ({last}) before they begin ({since})"
            )));
        }
        let action = self.action.trim();
        if action.chars().count() > MAX_FILTER_CHARS {
            return Err(InvalidFilter("the action filter is too long".into()));
        }
        let before = match self.cursor.trim() {
            "" => None,
            cursor => Some(
                decode_cursor(cursor)
                    .ok()
                    .and_then(|seq| seq.parse::<i64>().ok())
                    .ok_or_else(|| {
                        InvalidFilter(
                            "the cursor is not valid; start again from the first page".into(),
                        )
                    })?,
            ),
        };
        Ok(AuditQuery {
            community,
            actors: actors(self.actor)?,
            action_prefix: Some(action.to_owned()).filter(|a| !a.is_empty()),
            subject: None,
            since: since.map(midnight),
            until: last
                .map(|d| d.checked_add_days(Days::new(1)).unwrap_or(d))
                .map(midnight),
            before,
            limit,
        })
    }
}

fn day(text: &str, name: &str) -> Result<Option<NaiveDate>, InvalidFilter> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            InvalidFilter(format!(
                "{name} {text:?} is not a day; write it as 2026-03-01"
            ))
        })
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The actors an actor filter names: an email stands for the person as a
/// user and as a member; anything else is taken as the log writes it, with
/// an email after `user:` or `member:` normalized.
fn actors(text: &str) -> Result<Vec<String>, InvalidFilter> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.chars().count() > MAX_FILTER_CHARS || text.chars().any(char::is_control) {
        return Err(InvalidFilter("the actor filter is too long".into()));
    }
    let email = |text: &str| {
        Email::parse(text).map_err(|_| {
            InvalidFilter(format!(
                "the actor {text:?} is neither an email address nor an actor like system:sync"
            ))
        })
    };
    Ok(match text.split_once(':') {
        None if text.contains('@') => {
            let email = email(text)?;
            vec![
                format!("user:{}", email.normalized()),
                format!("member:{}", email.normalized()),
            ]
        }
        Some((kind @ ("user" | "member"), address)) => {
            vec![format!("{kind}:{}", email(address)?.normalized())]
        }
        _ => vec![text.to_owned()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::encode_cursor;

    #[test]
    fn an_email_stands_for_the_person_as_user_and_member() {
        let query = AuditFilter {
            actor: " Ada@Example.org ",
            ..AuditFilter::default()
        }
        .query(None, 50)
        .unwrap();
        assert_eq!(
            query.actors,
            ["user:ada@example.org", "member:ada@example.org"]
        );
        let query = AuditFilter {
            actor: "user:Ada@Example.org",
            ..AuditFilter::default()
        }
        .query(None, 50)
        .unwrap();
        assert_eq!(query.actors, ["user:ada@example.org"]);
        let query = AuditFilter {
            actor: "system:sync",
            ..AuditFilter::default()
        }
        .query(None, 50)
        .unwrap();
        assert_eq!(query.actors, ["system:sync"]);
        assert!(
            AuditFilter {
                actor: "not an @ email",
                ..AuditFilter::default()
            }
            .query(None, 50)
            .is_err()
        );
    }

    #[test]
    fn days_are_whole_utc_days_and_the_cursor_is_a_seq() {
        let query = AuditFilter {
            from: "2026-03-01",
            to: "2026-03-01",
            cursor: &encode_cursor("42"),
            action: " member. ",
            ..AuditFilter::default()
        }
        .query(Some(CommunityId(uuid::Uuid::nil())), 20)
        .unwrap();
        assert_eq!(
            query.since.unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            query.until.unwrap().to_rfc3339(),
            "2026-03-02T00:00:00+00:00"
        );
        assert_eq!(query.before, Some(42));
        assert_eq!(query.action_prefix.as_deref(), Some("member."));
        assert_eq!(query.limit, 20);

        for bad in [
            AuditFilter {
                from: "1 March",
                ..AuditFilter::default()
            },
            AuditFilter {
                from: "2026-03-02",
                to: "2026-03-01",
                ..AuditFilter::default()
            },
            AuditFilter {
                cursor: "not-ours!",
                ..AuditFilter::default()
            },
        ] {
            assert!(bad.query(None, 50).is_err(), "{bad:?}");
        }
    }
}
