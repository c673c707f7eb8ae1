//! The archive of past announcements: a community's public pages that keep
//! what it announced after the channels forgot it (Slack's free plan drops
//! history after 90 days). A lead chooses who reads it
//! ([`ArchiveVisibility`]): nobody, members, or anyone.
//!
//! Only what went out is there: an announcement that is due (no `send_at`,
//! or one that has passed) and not retracted. A members-only archive asks
//! for an address and mails a single-use link (a member link, stored as its
//! hash, of purpose [`LinkPurpose::Archive`]) to an active member; using it
//! opens a reader session, a token signed for the community, the member and
//! twelve hours, kept in a cookie with no database row. The answer to the
//! ask is the same whether or not the address is a member's.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::json;

use crate::{
    Email,
    ids::{AnnouncementId, CommunityId, MemberId},
    membership::{self, LinkPurpose, MembershipError},
    model::{
        announcement::Announcement,
        audit::NewAuditEvent,
        community::{ArchiveVisibility, Community},
        member::{Member, MemberState},
    },
    page::{InvalidCursor, Page, decode_cursor, encode_cursor},
    ports::{
        mailer::Mailer,
        store::{Store, StoreError},
    },
    signing::Signer,
};

/// Announcements per page of the archive.
pub const PAGE_SIZE: u32 = 20;
/// How long a mailed sign-in link works.
pub const LINK_MINUTES: i64 = 60;
/// How long a reader session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The signing purpose of reader sessions.
pub const SESSION_PURPOSE: &str = "archive-reader";
const TAG_LEN: usize = 16;
/// Community id, member id, expiry.
const MESSAGE_LEN: usize = 16 + 16 + 8;

/// Who asks to read the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Nobody we know.
    Anyone,
    /// An active member, signed in by a mailed link.
    Member,
    /// A logged-in lead of the community, or an owner.
    Lead,
}

/// What the archive does for a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// There is no archive to show: "not found".
    NotFound,
    /// Asks for an address to mail a sign-in link to.
    AskForLink,
    /// Shows it.
    Read,
}

/// The visibility rule: who reads a community's archive.
#[must_use]
pub fn admission(visibility: ArchiveVisibility, reader: Reader) -> Admission {
    match (visibility, reader) {
        (ArchiveVisibility::Off, _) => Admission::NotFound,
        (ArchiveVisibility::Public, _)
        | (ArchiveVisibility::Members, Reader::Member | Reader::Lead) => Admission::Read,
        (ArchiveVisibility::Members, Reader::Anyone) => Admission::AskForLink,
    }
}

/// When an announcement went out, or is to: its `send_at`, else when it was
/// written. The archive is ordered by it.
#[must_use]
pub fn published_at(announcement: &Announcement) -> DateTime<Utc> {
    announcement.send_at.unwrap_or(announcement.created_at)
}

/// Whether an announcement belongs in the archive at `now`: due, and not
/// retracted. [`Store::archived_announcements`] applies the same rule in
/// SQL, which the store's contract test holds it to.
#[must_use]
pub fn in_archive(announcement: &Announcement, now: DateTime<Utc>) -> bool {
    announcement.retracted_at.is_none() && published_at(announcement) <= now
}

/// Why the archive cannot show what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not in this community's archive: never there, another community's,
    /// or not due yet.
    #[error("this announcement is not in the archive")]
    NotFound,
    /// It went out, and the community's leads took it back.
    #[error("this announcement was retracted by the community's leads")]
    Retracted,
    /// A page cursor this server did not make.
    #[error(transparent)]
    Cursor(#[from] InvalidCursor),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a page of the archive ends: the keyset the next page starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePosition {
    /// The last announcement's [`published_at`].
    pub published_at: DateTime<Utc>,
    /// The last announcement's id.
    pub id: AnnouncementId,
}

impl ArchivePosition {
    /// The position just after `announcement`.
    #[must_use]
    pub fn of(announcement: &Announcement) -> Self {
        Self {
            published_at: published_at(announcement),
            id: announcement.id,
        }
    }

    /// The position as an opaque cursor.
    #[must_use]
    pub fn encode(&self) -> String {
        encode_cursor(&format!(
            "{}/{}",
            self.published_at
                .to_rfc3339_opts(SecondsFormat::Nanos, true),
            self.id
        ))
    }

    /// Reads a cursor made by [`ArchivePosition::encode`].
    ///
    /// # Errors
    /// [`InvalidCursor`] for anything else.
    pub fn decode(cursor: &str) -> Result<Self, InvalidCursor> {
        let text = decode_cursor(cursor)?;
        let (at, id) = text.split_once('/').ok_or(InvalidCursor)?;
        Ok(Self {
            published_at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| InvalidCursor)?
                .with_timezone(&Utc),
            id: id.parse().map_err(|_| InvalidCursor)?,
        })
    }
}

/// One page of the archive, newest first; `cursor` is the `next_cursor` of
/// the page before (none, or empty, for the first).
///
/// # Errors
/// [`ArchiveError::Cursor`] for a cursor this server did not make.
pub async fn page(
    store: &dyn Store,
    community: &Community,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Page<Announcement>, ArchiveError> {
    let after = cursor
        .filter(|c| !c.is_empty())
        .map(ArchivePosition::decode)
        .transpose()?;
    let mut items = store
        .archived_announcements(community.id, now, after.as_ref(), PAGE_SIZE + 1)
        .await?;
    let size = PAGE_SIZE as usize;
    let next_cursor = if items.len() > size {
        items.truncate(size);
        items.last().map(|last| ArchivePosition::of(last).encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// One announcement of the archive.
///
/// # Errors
/// [`ArchiveError::NotFound`] unless it is this community's and due;
/// [`ArchiveError::Retracted`] when it went out and was taken back.
pub async fn entry(
    store: &dyn Store,
    community: &Community,
    id: AnnouncementId,
    now: DateTime<Utc>,
) -> Result<Announcement, ArchiveError> {
    let announcement = crate::access::community_announcement(store, community, id)
        .await?
        .filter(|a| published_at(a) <= now)
        .ok_or(ArchiveError::NotFound)?;
    if announcement.retracted_at.is_some() {
        return Err(ArchiveError::Retracted);
    }
    Ok(announcement)
}

/// What became of an ask for a sign-in link. The person who asked is told
/// the same in every case; this is for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// A link went to the member.
    Mailed,
    /// The address is no active member's: nothing was sent.
    NotAMember,
    /// A link went to this member minutes ago: nothing more was sent.
    TooSoon,
    /// The archive is not members-only: there is nothing to sign in to.
    NotMembersOnly,
}

/// Mails a single-use sign-in link to the archive, if `email` is an active
/// member's and no link went to them in the last
/// [`membership::RESEND_AFTER_MINUTES`]. A stranger's address, or a repeated
/// ask, sends nothing and fails nothing, so whoever asked learns nothing
/// about who is a member.
///
/// # Errors
/// [`MembershipError::Mail`] when the mail server refuses the message;
/// `Store` when storage fails.
pub async fn mail_link(
    store: &dyn Store,
    mailer: &dyn Mailer,
    public_url: &str,
    community: &Community,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<Asked, MembershipError> {
    if community.archive != ArchiveVisibility::Members {
        return Ok(Asked::NotMembersOnly);
    }
    let Some(member) = store
        .member_by_email(community.id, email)
        .await?
        .filter(|m| m.state == MemberState::Active)
    else {
        return Ok(Asked::NotAMember);
    };
    let link = match membership::issue(
        store,
        community.id,
        LinkPurpose::Archive,
        &member.email,
        &member.name,
        now,
        Duration::minutes(LINK_MINUTES),
    )
    .await
    {
        Ok(link) => link,
        Err(MembershipError::TooSoon) => return Ok(Asked::TooSoon),
        Err(other) => return Err(other),
    };
    let public_url = public_url.trim_end_matches('/');
    let url = format!(
        "{public_url}/c/{}/announcements/sign-in/{link}",
        community.slug
    );
    let text = format!(
        "Here is your link to the past announcements of {community}. It works once, \
         for {LINK_MINUTES} minutes, and keeps you signed in on that browser for \
         {SESSION_HOURS} hours:\n{url}\n\n\
         If you did not ask for it, ignore this message.\n",
        community = community.name
    );
    membership::send(
        mailer,
        &member.email,
        &format!("Past announcements of {}", community.name),
        text,
        &link,
        public_url,
    )
    .await?;
    Ok(Asked::Mailed)
}

/// Uses a sign-in link up and returns the member it signs in, who must
/// still be an active member of a members-only archive.
///
/// # Errors
/// [`MembershipError::SpentLink`] for an expired, used or unknown link, or
/// one whose member left or whose archive is no longer members-only.
pub async fn sign_in(
    store: &dyn Store,
    community: &Community,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Member, MembershipError> {
    let link = membership::spend(store, community, token.trim(), LinkPurpose::Archive, now).await?;
    if community.archive != ArchiveVisibility::Members {
        return Err(MembershipError::SpentLink);
    }
    store
        .member_by_email(community.id, &link.email)
        .await?
        .filter(|m| m.state == MemberState::Active)
        .ok_or(MembershipError::SpentLink)
}

/// When a session opened now ends.
#[must_use]
pub fn session_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(SESSION_HOURS)
}

/// The token of a reader session of `member` in `community`'s archive,
/// valid until `expires`.
#[must_use]
pub fn session_token(
    signer: &Signer,
    community: CommunityId,
    member: MemberId,
    expires: DateTime<Utc>,
) -> String {
    let mut bytes = Vec::with_capacity(MESSAGE_LEN + TAG_LEN);
    bytes.extend(community.0.as_bytes());
    bytes.extend(member.0.as_bytes());
    bytes.extend(expires.timestamp().to_be_bytes());
    let tag = signer.tag(&bytes, TAG_LEN);
    bytes.extend(tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The member a session token names, if it was made for `community`'s
/// archive and has not expired.
#[must_use]
pub fn read_session_token(
    signer: &Signer,
    token: &str,
    community: CommunityId,
    now: DateTime<Utc>,
) -> Option<MemberId> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != MESSAGE_LEN + TAG_LEN {
        return None;
    }
    let (message, tag) = bytes.split_at(MESSAGE_LEN);
    if !signer.verify(message, tag) || message[..16] != *community.0.as_bytes() {
        return None;
    }
    let expires = i64::from_be_bytes(message[32..40].try_into().ok()?);
    if now.timestamp() >= expires {
        return None;
    }
    uuid::Uuid::from_slice(&message[16..32]).ok().map(MemberId)
}

/// The member of a session, if they are still an active member of
/// `community` (a member who left stops reading at once).
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn session_member(
    store: &dyn Store,
    community: &Community,
    member: MemberId,
) -> Result<Option<Member>, StoreError> {
    Ok(store
        .member(community.id, member)
        .await?
        .filter(|m| m.state == MemberState::Active))
}

/// Changes who may read a community's archive, as a lead asked; audited.
/// Asking for what is already set changes nothing.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn set_visibility(
    store: &dyn Store,
    community: &Community,
    visibility: ArchiveVisibility,
    actor: &str,
) -> Result<Community, StoreError> {
    if community.archive == visibility {
        return Ok(community.clone());
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "community.archive".into(),
        community_id: Some(community.id),
        subject: community.slug.to_string(),
        details: json!({"from": community.archive.as_str(), "to": visibility.as_str()}),
    };
    store
        .set_archive_visibility(community.id, visibility, audit)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKeys;

    fn announcement(send_at: Option<i64>, retracted: bool) -> Announcement {
        let written = DateTime::from_timestamp(1_000_000, 0).unwrap();
        Announcement {
            id: AnnouncementId::new(),
            community_id: CommunityId::new(),
            title: "Call".into(),
            body_markdown: "Hi".into(),
            author: "cli".into(),
            send_at: send_at.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
            created_at: written,
            revision: 1,
            retracted_at: retracted.then_some(written),
        }
    }

    #[test]
    fn off_hides_the_archive_from_everyone_and_public_shows_it_to_anyone() {
        for reader in [Reader::Anyone, Reader::Member, Reader::Lead] {
            assert_eq!(
                admission(ArchiveVisibility::Off, reader),
                Admission::NotFound
            );
            assert_eq!(
                admission(ArchiveVisibility::Public, reader),
                Admission::Read
            );
        }
    }

    #[test]
    fn a_members_archive_asks_strangers_for_a_link_and_lets_members_and_leads_read() {
        let members = ArchiveVisibility::Members;
        assert_eq!(admission(members, Reader::Anyone), Admission::AskForLink);
        assert_eq!(admission(members, Reader::Member), Admission::Read);
        assert_eq!(admission(members, Reader::Lead), Admission::Read);
    }

    #[test]
    fn new_communities_keep_their_archive_for_members() {
        assert_eq!(ArchiveVisibility::default(), ArchiveVisibility::Members);
        assert_eq!("public".parse(), Ok(ArchiveVisibility::Public));
        assert!("everyone".parse::<ArchiveVisibility>().is_err());
    }

    #[test]
    fn only_what_went_out_and_stayed_out_is_in_the_archive() {
        let now = DateTime::from_timestamp(2_000_000, 0).unwrap();
        assert!(in_archive(&announcement(None, false), now));
        assert!(in_archive(&announcement(Some(1_500_000), false), now));
        assert!(in_archive(&announcement(Some(2_000_000), false), now));
        assert!(
            !in_archive(&announcement(Some(2_000_001), false), now),
            "scheduled for later"
        );
        assert!(!in_archive(&announcement(None, true), now), "retracted");
    }

    #[test]
    fn a_scheduled_announcement_is_placed_when_it_goes_out() {
        let scheduled = announcement(Some(1_500_000), false);
        assert_eq!(
            published_at(&scheduled),
            DateTime::from_timestamp(1_500_000, 0).unwrap()
        );
        let at_once = announcement(None, false);
        assert_eq!(published_at(&at_once), at_once.created_at);
    }

    #[test]
    fn a_position_survives_its_cursor_and_a_made_up_cursor_is_refused() {
        let position = ArchivePosition {
            published_at: DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            id: AnnouncementId::new(),
        };
        assert_eq!(ArchivePosition::decode(&position.encode()), Ok(position));
        for bad in [
            "",
            "%%%",
            &encode_cursor("yesterday/x"),
            &encode_cursor("no slash"),
        ] {
            assert_eq!(ArchivePosition::decode(bad), Err(InvalidCursor), "{bad:?}");
        }
    }

    #[test]
    fn a_session_reads_only_in_its_community_until_it_expires() {
        let keys = SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap();
        let signer = keys.signer(SESSION_PURPOSE);
        let (community, member) = (CommunityId::new(), MemberId::new());
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let token = session_token(&signer, community, member, session_expiry(now));
        assert_eq!(
            read_session_token(&signer, &token, community, now),
            Some(member)
        );
        let later = now + Duration::hours(SESSION_HOURS);
        assert_eq!(read_session_token(&signer, &token, community, later), None);
        assert_eq!(
            read_session_token(&signer, &token, CommunityId::new(), now),
            None,
            "another community's archive"
        );
        let other_purpose = keys.signer("conference-registrant");
        assert_eq!(
            read_session_token(&other_purpose, &token, community, now),
            None
        );
        let mut altered = URL_SAFE_NO_PAD.decode(&token).unwrap();
        altered[20] ^= 1;
        assert_eq!(
            read_session_token(&signer, &URL_SAFE_NO_PAD.encode(altered), community, now),
            None,
            "another member"
        );
        assert_eq!(read_session_token(&signer, "garbage", community, now), None);
    }
}
