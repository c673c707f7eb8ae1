//! The audit log: who did what, when, to what. Append-only, and tamper-evident:
//! each entry carries the SHA-256 of its own content and of the entry before,
//! so changing or removing any entry breaks every hash after it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ids::CommunityId;

/// The hash the first entry chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append; the store gives it its place in the chain.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// Who: `user:<email>`, `cli`, `system:<what>`.
    pub actor: String,
    /// What, as a dotted verb: `member.update`, `members.import`.
    pub action: String,
    /// The community it concerns, if any.
    pub community_id: Option<CommunityId>,
    /// What it was done to (an email, a slug, an id).
    pub subject: String,
    /// The change itself.
    pub details: serde_json::Value,
}

/// An entry of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// Its position, from 1.
    pub seq: i64,
    /// When, to the microsecond (what both databases keep).
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The community, if any.
    pub community_id: Option<CommunityId>,
    /// To what.
    pub subject: String,
    /// The change, as the JSON text that was hashed.
    pub details: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl AuditEvent {
    /// Places `new` after the entry `(prev_seq, prev_hash)` at time `at`.
    #[must_use]
    pub fn chain(new: NewAuditEvent, prev_seq: i64, prev_hash: &str, at: DateTime<Utc>) -> Self {
        let mut event = Self {
            seq: prev_seq + 1,
            at: at.trunc_subsecs(6),
            actor: new.actor,
            action: new.action,
            community_id: new.community_id,
            subject: new.subject,
            // serde_json's maps are sorted, so the text is canonical.
            details: new.details.to_string(),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        event.hash = event.computed_hash();
        event
    }

    /// The hash this entry's content calls for.
    #[must_use]
    pub fn computed_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let community = self.community_id.map(|c| c.to_string()).unwrap_or_default();
        for part in [
            self.seq.to_string().as_str(),
            &self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            &self.actor,
            &self.action,
            &community,
            &self.subject,
            &self.details,
            &self.prev_hash,
        ] {
            // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Where a chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokenChain {
    /// An entry's content does not match its hash: it was changed.
    #[error("audit entry {seq} was changed after it was written")]
    Altered {
        /// The entry.
        seq: i64,
    },
    /// An entry does not follow the one before: entries were removed or reordered.
    #[error(
        "audit entry {seq} does not follow the entry before it: entries were removed or reordered"
    )]
    Gap {
        /// The entry.
        seq: i64,
    },
}

/// Checks a chain given in order from its first entry.
///
/// # Errors
/// The first [`BrokenChain`] found.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> Result<u64, BrokenChain> {
    let mut prev_seq = 0;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut count = 0;
    for event in events {
        if event.seq != prev_seq + 1 || event.prev_hash != prev_hash {
            return Err(BrokenChain::Gap { seq: event.seq });
        }
        if event.computed_hash() != event.hash {
            return Err(BrokenChain::Altered { seq: event.seq });
        }
        prev_seq = event.seq;
        prev_hash.clone_from(&event.hash);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(subject: &str) -> NewAuditEvent {
        NewAuditEvent {
            actor: "cli".into(),
            action: "member.update".into(),
            community_id: None,
            subject: subject.into(),
            details: serde_json::json!({"b": 1, "a": [true]}),
        }
    }

    #[test]
    fn a_chain_verifies_until_an_entry_is_changed_or_removed() {
        let now = Utc::now();
        let first = AuditEvent::chain(entry("a"), 0, GENESIS_HASH, now);
        let second = AuditEvent::chain(entry("b"), first.seq, &first.hash, now);
        let third = AuditEvent::chain(entry("c"), second.seq, &second.hash, now);
        assert_eq!(verify_chain([&first, &second, &third]), Ok(3));

        let mut altered = second.clone();
        altered.subject = "mallory".into();
        assert_eq!(
            verify_chain([&first, &altered, &third]),
            Err(BrokenChain::Altered { seq: 2 })
        );
        assert_eq!(
            verify_chain([&first, &third]),
            Err(BrokenChain::Gap { seq: 3 })
        );
    }
}
