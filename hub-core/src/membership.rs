//! A member's own doings, reached by a link in their mail, never a password:
//! joining the list with double opt-in (the confirmation link expires after
//! a few days), and the preferences page (a short-lived, single-use link)
//! where they pick their channels or leave everything.
//!
//! Links are random secrets stored only as their SHA-256 hash.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{
    Email, InvalidEmail,
    auth::{hash_secret, new_secret},
    ids::CommunityId,
    model::{
        audit::NewAuditEvent,
        community::Community,
        member::{
            CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, Member, MemberState,
            MemberUpdate, NewMember, clean_name,
        },
        word_enum,
    },
    ports::{
        mailer::{MailError, Mailer, OutgoingMail},
        store::{Store, StoreError},
    },
};

/// How long a join confirmation link works.
pub const JOIN_LINK_DAYS: i64 = 3;
/// How long a preferences link works.
pub const PREFERENCES_LINK_MINUTES: i64 = 60;
/// One link of a kind per address this often, so the forms cannot be used
/// to flood someone's inbox.
pub const RESEND_AFTER_MINUTES: i64 = 10;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkPurpose {
    /// Confirms a join request.
    Join,
    /// Opens the preferences page.
    Preferences,
    /// Signs a member in to the community's archive (`crate::archive`).
    Archive,
}
word_enum!(LinkPurpose {
    Join => "join",
    Preferences => "preferences",
    Archive => "archive",
});

/// A link to store (its hash, never the secret).
#[derive(Debug, Clone)]
pub struct NewMemberLink {
    /// SHA-256 of the secret in the link.
    pub token_hash: String,
    /// What it is for.
    pub purpose: LinkPurpose,
    /// The community.
    pub community_id: CommunityId,
    /// Whose.
    pub email: Email,
    /// The name they gave (join) or have.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A stored link that still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLink {
    /// What it is for.
    pub purpose: LinkPurpose,
    /// The community.
    pub community_id: CommunityId,
    /// Whose.
    pub email: Email,
    /// The name given.
    pub name: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Why a member's request did nothing.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The address is not one.
    #[error(transparent)]
    Email(#[from] InvalidEmail),
    /// The name is not acceptable.
    #[error("the name must be at most 200 characters, without control characters")]
    Name,
    /// A link of this kind went to this address minutes ago.
    #[error(
        "a link was mailed to this address a few minutes ago: use the one in that message, or ask again in 10 minutes"
    )]
    TooSoon,
    /// The link expired, was used, or never existed.
    #[error("this link has expired or was used already: ask for a new one")]
    SpentLink,
    /// This hub has no mail server.
    #[error("this hub cannot send mail yet; ask the community's lead")]
    NoMailer,
    /// The mail server did not take the message.
    #[error("the message could not be sent just now ({0}); try again in a few minutes")]
    Mail(#[from] MailError),
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Mails a confirmation link to someone who asked to join the community's
/// email list. Nothing else changes until they confirm.
///
/// # Errors
/// [`MembershipError`]: a bad address or name, a request made minutes ago,
/// no mail server or a failed send; nothing is stored then.
#[allow(clippy::too_many_arguments)] // one request, each part distinct
pub async fn request_join(
    store: &dyn Store,
    mailer: Option<&dyn Mailer>,
    public_url: &str,
    community: &Community,
    email: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), MembershipError> {
    let email = Email::parse(email)?;
    let name = clean_name(name).map_err(|_| MembershipError::Name)?;
    let mailer = mailer.ok_or(MembershipError::NoMailer)?;
    let link = issue(
        store,
        community.id,
        LinkPurpose::Join,
        &email,
        &name,
        now,
        Duration::days(JOIN_LINK_DAYS),
    )
    .await?;
    let url = format!("{public_url}/c/{}/join/{link}", community.slug);
    let text = format!(
        "Someone, hopefully you, asked to join the email list of {community}.\n\n\
         To confirm, open this link within {JOIN_LINK_DAYS} days and press the button:\n{url}\n\n\
         If it was not you, ignore this message: nothing happens without the confirmation.\n",
        community = community.name
    );
    Ok(send(
        mailer,
        &email,
        &format!("Confirm your subscription to {}", community.name),
        text,
        &link,
        public_url,
    )
    .await?)
}

/// Confirms a join: the person becomes a member (or is one again) with the
/// email list's consent set by their own action. The link works once.
///
/// # Errors
/// [`MembershipError::SpentLink`] for an expired, used or unknown link.
pub async fn confirm_join(
    store: &dyn Store,
    community: &Community,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Member, MembershipError> {
    let link = spend(store, community, token, LinkPurpose::Join, now).await?;
    let actor = crate::access::member_actor(&link.email);
    let member = match store.member_by_email(community.id, &link.email).await? {
        Some(member) => member,
        None => {
            let audit = NewAuditEvent {
                actor: actor.clone(),
                action: "member.join".into(),
                community_id: Some(community.id),
                subject: link.email.normalized().to_owned(),
                details: serde_json::json!({"via": "join form"}),
            };
            let new = NewMember {
                email: link.email.clone(),
                name: link.name.clone(),
                role: CommunityRole::Member,
                email_consent: None,
            };
            store.create_member(community.id, new, audit).await?
        }
    };
    let update = MemberUpdate {
        state: Some(MemberState::Active),
        consents: vec![(
            ConsentChannel::Email,
            ConsentStatus::Subscribed,
            ConsentSource::Member,
        )],
        ..MemberUpdate::default()
    };
    Ok(crate::roster::change_member(store, member, update, &actor).await?)
}

/// Mails a preferences link to a member of the community. Says nothing about
/// whether the address is a member: a stranger's address gets no mail and
/// the same answer.
///
/// # Errors
/// [`MembershipError`]: a bad address, a request made minutes ago, no mail
/// server or a failed send.
pub async fn request_preferences(
    store: &dyn Store,
    mailer: Option<&dyn Mailer>,
    public_url: &str,
    community: &Community,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), MembershipError> {
    let email = Email::parse(email)?;
    let mailer = mailer.ok_or(MembershipError::NoMailer)?;
    let Some(member) = store.member_by_email(community.id, &email).await? else {
        return Ok(());
    };
    let link = issue(
        store,
        community.id,
        LinkPurpose::Preferences,
        &member.email,
        &member.name,
        now,
        Duration::minutes(PREFERENCES_LINK_MINUTES),
    )
    .await?;
    let url = format!("{public_url}/c/{}/preferences/{link}", community.slug);
    let text = format!(
        "Here is your link to choose how {community} reaches you. It works once, \
         for {PREFERENCES_LINK_MINUTES} minutes:\n{url}\n\n\
         If you did not ask for it, ignore this message.\n",
        community = community.name
    );
    Ok(send(
        mailer,
        &member.email,
        &format!("Your preferences for {}", community.name),
        text,
        &link,
        public_url,
    )
    .await?)
}

/// The member a preferences link belongs to, without using it up (mail
/// scanners open links too).
///
/// # Errors
/// [`MembershipError::SpentLink`] for an expired, used or unknown link.
pub async fn open_preferences(
    store: &dyn Store,
    community: &Community,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Member, MembershipError> {
    let link = store
        .member_link(&hash_secret(token), LinkPurpose::Preferences, now)
        .await?
        .filter(|l| l.community_id == community.id)
        .ok_or(MembershipError::SpentLink)?;
    member_of(store, community, &link.email).await
}

/// What a member chose on the preferences page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preferences {
    /// The channels they want; the others they leave (a channel they never
    /// joined stays as it was).
    Channels(Vec<ConsentChannel>),
    /// Opt out of every channel.
    LeaveEverything,
}

/// Saves a member's choice, as their own action; the link is used up.
///
/// # Errors
/// [`MembershipError::SpentLink`] for an expired, used or unknown link.
pub async fn save_preferences(
    store: &dyn Store,
    community: &Community,
    token: &str,
    choice: &Preferences,
    now: DateTime<Utc>,
) -> Result<Member, MembershipError> {
    let link = spend(store, community, token, LinkPurpose::Preferences, now).await?;
    let member = member_of(store, community, &link.email).await?;
    let consents = ConsentChannel::ALL
        .iter()
        .filter_map(|channel| {
            let wanted = match choice {
                Preferences::Channels(wanted) => wanted.contains(channel),
                Preferences::LeaveEverything => false,
            };
            let now = member.consent(*channel);
            let next = match (wanted, now) {
                (true, _) => ConsentStatus::Subscribed,
                (false, ConsentStatus::None) => return None,
                (false, _) => ConsentStatus::OptedOut,
            };
            (next != now).then_some((*channel, next, ConsentSource::Member))
        })
        .collect();
    let update = MemberUpdate {
        consents,
        ..MemberUpdate::default()
    };
    let actor = crate::access::member_actor(&member.email);
    Ok(crate::roster::change_member(store, member, update, &actor).await?)
}

/// The member a link names; a link whose member is gone is as good as spent.
async fn member_of(
    store: &dyn Store,
    community: &Community,
    email: &Email,
) -> Result<Member, MembershipError> {
    store
        .member_by_email(community.id, email)
        .await?
        .ok_or(MembershipError::SpentLink)
}

/// Uses a link up: it must be this community's, of this kind, unused and
/// unexpired.
pub(crate) async fn spend(
    store: &dyn Store,
    community: &Community,
    token: &str,
    purpose: LinkPurpose,
    now: DateTime<Utc>,
) -> Result<MemberLink, MembershipError> {
    store
        .spend_member_link(&hash_secret(token), purpose, now)
        .await?
        .filter(|l| l.community_id == community.id)
        .ok_or(MembershipError::SpentLink)
}

/// Stores a new link and returns its secret, unless one of its kind went to
/// this address within [`RESEND_AFTER_MINUTES`].
pub(crate) async fn issue(
    store: &dyn Store,
    community: CommunityId,
    purpose: LinkPurpose,
    email: &Email,
    name: &str,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<String, MembershipError> {
    let recent = store
        .recent_member_links(
            community,
            email,
            purpose,
            now - Duration::minutes(RESEND_AFTER_MINUTES),
        )
        .await?;
    if recent > 0 {
        return Err(MembershipError::TooSoon);
    }
    let (secret, hash) = new_secret();
    store
        .create_member_link(NewMemberLink {
            token_hash: hash,
            purpose,
            community_id: community,
            email: email.clone(),
            name: name.to_owned(),
            created_at: now,
            expires_at: now + lifetime,
        })
        .await?;
    Ok(secret)
}

/// Mails a message carrying a link; its Message-ID is made from the link,
/// so a resent message is recognisably the same.
pub(crate) async fn send(
    mailer: &dyn Mailer,
    to: &Email,
    subject: &str,
    text: String,
    link: &str,
    public_url: &str,
) -> Result<(), MailError> {
    let host = crate::ports::mailer::message_host(public_url);
    let mail = OutgoingMail {
        to: to.clone(),
        subject: subject.to_owned(),
        text,
        html: None,
        message_id: format!("{}@{host}", &hash_secret(link)[..32]),
        calendar: None,
    };
    mailer.send(&mail).await
}
