//! A community's calendar feeds: the public one (`/c/{slug}/calendar.ics`,
//! no join links) and each member's private one, behind a signed token that
//! names the member (no database row: it never expires, and it stops working
//! when the member leaves).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::{
    Email,
    calls::ical::{self, Entry, Sender},
    ids::{CallId, MemberId},
    model::{community::Community, member::MemberState},
    ports::store::{Store, StoreError},
    signing::Signer,
};

/// The signing purpose of feed tokens.
pub const PURPOSE: &str = "calendar-feed";
const TAG_LEN: usize = 16;

/// The token of a member's private feed, as it goes into a URL.
#[must_use]
pub fn feed_token(signer: &Signer, member: MemberId) -> String {
    let mut bytes = member.0.as_bytes().to_vec();
    let tag = signer.tag(&bytes, TAG_LEN);
    bytes.extend(tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The member a feed token names, when it was made by this hub.
#[must_use]
pub fn read_feed_token(signer: &Signer, token: &str) -> Option<MemberId> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != 16 + TAG_LEN {
        return None;
    }
    let (id, tag) = bytes.split_at(16);
    if !signer.verify(id, tag) {
        return None;
    }
    uuid::Uuid::from_slice(id).ok().map(MemberId)
}

/// Who the community's invitations come from.
#[must_use]
pub fn sender(community: &Community, from: &Email, public_url: &str) -> Sender {
    let host = crate::ports::mailer::message_host(public_url);
    Sender {
        name: community.name.clone(),
        email: from.clone(),
        uid_host: host,
    }
}

/// Where a community's calls page is.
#[must_use]
pub fn calls_page(community: &Community, public_url: &str) -> String {
    format!(
        "{}/c/{}/calls",
        public_url.trim_end_matches('/'),
        community.slug.as_str()
    )
}

/// Why a private feed is not served.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The token was not made here, or its member left.
    #[error("this calendar link is not valid: ask the community's lead for a new one")]
    NotValid,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The community's calendar: every call, cancelled ones marked so, and the
/// sessions of its published conference schedules, with
/// join links only when `member` (from a private feed's token) is given and
/// still takes part.
///
/// # Errors
/// [`FeedError::NotValid`] for a member who is not (or no longer) in the
/// community; storage failures.
pub async fn calendar(
    store: &dyn Store,
    community: &Community,
    sender: &Sender,
    public_url: &str,
    member: Option<MemberId>,
    now: DateTime<Utc>,
) -> Result<String, FeedError> {
    if let Some(member) = member {
        let active = store
            .member(community.id, member)
            .await?
            .is_some_and(|m| m.state == MemberState::Active);
        if !active {
            return Err(FeedError::NotValid);
        }
    }
    let calls = store.community_calls(community.id).await?;
    // A member registered for a call has a join link of their own; the
    // meeting's link would ask them to register again.
    let own_links: std::collections::HashMap<CallId, String> = match member {
        Some(member) => store.member_join_links(member).await?.into_iter().collect(),
        None => std::collections::HashMap::new(),
    };
    let page = calls_page(community, public_url);
    let entries: Vec<Entry<'_>> = calls
        .iter()
        .map(|call| Entry {
            call,
            page_url: Some(&page),
            join_url: member.and_then(|_| {
                own_links
                    .get(&call.id)
                    .map(String::as_str)
                    .or(call.join_url.as_deref())
            }),
        })
        .collect();
    let sessions = crate::conferences::calendar::community_sessions(
        store,
        community,
        sender,
        public_url,
        member.is_some(),
    )
    .await?;
    Ok(ical::feed_with_sessions(sender, &entries, &sessions, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_token_names_its_member_and_a_changed_one_names_nobody() {
        let keys =
            crate::secrets::SecretKeys::from_hex_list(&crate::secrets::SecretKeys::generate_hex())
                .unwrap_or_else(|e| panic!("{e}"));
        let signer = keys.signer(PURPOSE);
        let member = MemberId::new();
        let token = feed_token(&signer, member);
        assert_eq!(read_feed_token(&signer, &token), Some(member));
        let mut changed = token.clone().into_bytes();
        changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            read_feed_token(&signer, &String::from_utf8_lossy(&changed)),
            None
        );
        let other = keys.signer("unsubscribe");
        assert_eq!(
            read_feed_token(&other, &token),
            None,
            "tokens of another purpose do not pass"
        );
    }
}
