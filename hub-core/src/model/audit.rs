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

/// Filters and position for one page of the log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this community's entries; `None`: every entry, with or without one.
    pub community: Option<CommunityId>,
    /// Only entries by one of these actors, or by an actor under one of them
    /// (`system:sync` takes in `system:sync:<channel>`); empty: anyone.
    pub actors: Vec<String>,
    /// Only actions that begin with this (`member.`).
    pub action_prefix: Option<String>,
    /// Only entries about this subject (a member's normalized email, a
    /// channel's name), as written.
    pub subject: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Start below this seq (the cursor).
    pub before: Option<i64>,
    /// At most this many (1 to 500).
    pub limit: u32,
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
    /// Entries are missing before this one: the entries after `after` (`0`:
    /// from the first) and before `seq` were removed.
    #[error("the audit entries after {after} and before {seq} were removed")]
    Removed {
        /// The entry the chain continues with.
        seq: i64,
        /// The last entry before the missing ones.
        after: i64,
    },
}

impl BrokenChain {
    /// The entry where the chain breaks.
    #[must_use]
    pub fn seq(&self) -> i64 {
        match self {
            Self::Altered { seq } | Self::Gap { seq } | Self::Removed { seq, .. } => *seq,
        }
    }
}

/// Checks a chain one entry at a time, so a long chain can be read page by
/// page: only the last entry's seq and hash are kept between pages.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev_seq: i64,
    prev_hash: String,
    entries: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev_seq: 0,
            prev_hash: GENESIS_HASH.to_owned(),
            entries: 0,
        }
    }
}

impl ChainVerifier {
    /// A verifier expecting the chain's first entry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next entry against the ones before.
    ///
    /// # Errors
    /// The [`BrokenChain`] this entry shows; the verifier is then left as it
    /// was, before this entry.
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), BrokenChain> {
        if event.seq > self.prev_seq + 1 {
            return Err(BrokenChain::Removed {
                seq: event.seq,
                after: self.prev_seq,
            });
        }
        if event.seq != self.prev_seq + 1 || event.prev_hash != self.prev_hash {
            return Err(BrokenChain::Gap { seq: event.seq });
        }
        if event.computed_hash() != event.hash {
            return Err(BrokenChain::Altered { seq: event.seq });
        }
        self.prev_seq = event.seq;
        self.prev_hash.clone_from(&event.hash);
        self.entries += 1;
        Ok(())
    }

    /// How many entries were checked.
    #[must_use]
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The seq of the last entry checked (`0` before the first).
    #[must_use]
    pub fn last_seq(&self) -> i64 {
        self.prev_seq
    }

    /// The hash of the last entry checked ([`GENESIS_HASH`] before the first).
    #[must_use]
    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }
}

/// Checks a chain given in order from its first entry.
///
/// # Errors
/// The first [`BrokenChain`] found.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> Result<u64, BrokenChain> {
    let mut verifier = ChainVerifier::new();
    for event in events {
        verifier.check(event)?;
    }
    Ok(verifier.entries())
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
            Err(BrokenChain::Removed { seq: 3, after: 1 })
        );
        assert_eq!(
            verify_chain([&second, &third]),
            Err(BrokenChain::Removed { seq: 2, after: 0 })
        );
        assert_eq!(
            verify_chain([&first, &third, &second]),
            Err(BrokenChain::Removed { seq: 3, after: 1 })
        );
        // An entry rewritten with a fresh hash of its own breaks the next link.
        let mut rewritten = second.clone();
        rewritten.subject = "mallory".into();
        rewritten.hash = rewritten.computed_hash();
        assert_eq!(
            verify_chain([&first, &rewritten, &third]),
            Err(BrokenChain::Gap { seq: 3 })
        );
    }

    #[test]
    fn a_chain_checked_page_by_page_carries_the_last_hash_across() {
        let now = Utc::now();
        let mut chain = vec![AuditEvent::chain(entry("0"), 0, GENESIS_HASH, now)];
        for i in 1..10 {
            let prev = &chain[i - 1];
            let next = AuditEvent::chain(entry(&i.to_string()), prev.seq, &prev.hash, now);
            chain.push(next);
        }
        let mut verifier = ChainVerifier::new();
        for page in chain.chunks(3) {
            for event in page {
                verifier.check(event).unwrap();
            }
        }
        assert_eq!(verifier.entries(), 10);
        assert_eq!(verifier.last_seq(), 10);
        assert_eq!(verifier.last_hash(), chain[9].hash);

        let mut verifier = ChainVerifier::new();
        for event in &chain[..4] {
            verifier.check(event).unwrap();
        }
        // A fresh verifier on the next page would take entry 5 for a removal;
        // this one knows entry 4 and accepts it.
        assert!(verifier.check(&chain[4]).is_ok());
        assert_eq!(
            verifier.check(&chain[6]),
            Err(BrokenChain::Removed { seq: 7, after: 5 })
        );
        assert_eq!(verifier.last_seq(), 5, "a failed check changes nothing");
    }
}
