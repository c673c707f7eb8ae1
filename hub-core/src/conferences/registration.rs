//! Registration: a person registers with their address and confirms by a
//! mailed link; confirmed people are seated up to the capacity, the rest
//! wait in the order they confirmed, and a cancellation seats the first who
//! waits (and tells them). Registrants act later (propose, vote, cancel)
//! through a mailed single-use link, which opens a registrant session: a
//! token signed for that registration and a few hours, kept in a cookie.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{ConferenceError, audit};
use crate::{
    Email,
    access::member_actor,
    auth::{hash_secret, new_secret},
    ids::RegistrationId,
    model::{
        community::Community,
        conference::{
            Conference, NewRegistrantLink, RegistrantLinkPurpose, Registration, RegistrationStatus,
        },
        member::{
            CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, MemberState, MemberUpdate,
            NewMember, clean_name,
        },
    },
    ports::{mailer::Mailer, store::Store},
    signing::Signer,
};

/// How long a confirmation link works.
pub const CONFIRM_LINK_DAYS: i64 = 3;
/// How long a sign-in link works.
pub const ACCESS_LINK_MINUTES: i64 = 60;
/// How long a registrant session lasts.
pub const SESSION_HOURS: i64 = 12;
/// One link of a kind per registration this often, so the form cannot be
/// used to flood someone's inbox.
pub const RESEND_AFTER_MINUTES: i64 = 10;
/// The signing purpose of registrant sessions.
pub const SESSION_PURPOSE: &str = "conference-registrant";
const TAG_LEN: usize = 16;

/// How the hub reaches people: its mail server (if any) and the base of
/// the links it writes.
#[derive(Clone, Copy)]
pub struct Mailing<'a> {
    /// The mail server.
    pub mailer: Option<&'a dyn Mailer>,
    /// `public_url`, without a trailing slash.
    pub public_url: &'a str,
}

impl std::fmt::Debug for Mailing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailing")
            .field("mailer", &self.mailer.is_some())
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The conference's public page.
#[must_use]
pub fn conference_page(public_url: &str, community: &Community, conference: &Conference) -> String {
    format!(
        "{}/c/{}/conferences/{}",
        public_url.trim_end_matches('/'),
        community.slug.as_str(),
        conference.slug
    )
}

/// Registers a person, or mails again what they need: a confirmation link
/// while unconfirmed, a sign-in link once registered. The same address in
/// any letter case is the same registration. The answer is the same either
/// way, so the form tells no one who registered.
///
/// # Errors
/// [`ConferenceError::Closed`] when registration is closed; a bad address
/// or name; a link mailed minutes ago; no mail server or a failed send.
pub async fn register(
    store: &dyn Store,
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    email: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), ConferenceError> {
    if !conference.registration_open() {
        return Err(ConferenceError::Closed(format!(
            "registration for {} is closed",
            conference.name
        )));
    }
    let email = Email::parse(email)?;
    let name = clean_name(name).map_err(|_| {
        ConferenceError::invalid("a name must be at most 200 characters, without line breaks")
    })?;
    let mailer = mailing.mailer.ok_or(ConferenceError::NoMailer)?;
    let actor = member_actor(&email);
    let registration = match store.registration_by_email(conference.id, &email).await? {
        Some(existing) if existing.status == RegistrationStatus::Cancelled => {
            let entry = audit(
                &actor,
                "registration.reopen",
                conference,
                json!({"email": email.normalized()}),
            );
            store
                .reopen_registration(existing.id, &name, now, entry)
                .await?
        }
        Some(existing) => existing,
        None => {
            let registration = Registration {
                id: RegistrationId::new(),
                conference_id: conference.id,
                email: email.clone(),
                name,
                status: RegistrationStatus::Pending,
                created_at: super::stored(now),
                confirmed_at: None,
                seated_at: None,
                cancelled_at: None,
            };
            let entry = audit(
                &actor,
                "registration.create",
                conference,
                json!({"email": email.normalized()}),
            );
            match store.create_registration(&registration, entry).await {
                Ok(()) => registration,
                // Someone registered the address a moment ago: theirs it is.
                Err(crate::ports::store::StoreError::Conflict(_)) => store
                    .registration_by_email(conference.id, &email)
                    .await?
                    .ok_or(ConferenceError::NotFound("the registration"))?,
                Err(other) => return Err(other.into()),
            }
        }
    };
    let page = conference_page(mailing.public_url, community, conference);
    if registration.status == RegistrationStatus::Pending {
        let link = issue(store, &registration, RegistrantLinkPurpose::Confirm, now).await?;
        let text = format!(
            "Someone, hopefully you, registered {email} for {conference} ({days}).\n\n\
             To confirm, open this link within {CONFIRM_LINK_DAYS} days and press the button:\n{page}/confirm/{link}\n\n\
             If it was not you, ignore this message: nothing happens without the confirmation.\n",
            email = registration.email,
            conference = conference.name,
            days = days(conference),
        );
        crate::membership::send(
            mailer,
            &registration.email,
            &format!("Confirm your registration for {}", conference.name),
            text,
            &link,
            mailing.public_url,
        )
        .await?;
    } else {
        mail_access_link(
            store,
            mailer,
            mailing.public_url,
            conference,
            &page,
            &registration,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Confirms a registration by its mailed link: the person is seated, or
/// waitlisted when every seat is taken, and told which. The link works
/// once.
///
/// # Errors
/// [`ConferenceError::SpentLink`] for an expired, used or unknown link.
pub async fn confirm(
    store: &dyn Store,
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Registration, ConferenceError> {
    let registration = spend(
        store,
        conference,
        token,
        RegistrantLinkPurpose::Confirm,
        now,
    )
    .await?;
    let entry = audit(
        &member_actor(&registration.email),
        "registration.confirm",
        conference,
        json!({"email": registration.email.normalized()}),
    );
    let confirmed = store
        .confirm_registration(registration.id, now, entry)
        .await?;
    join_roster(store, conference, &confirmed).await?;
    if confirmed.status == RegistrationStatus::Waitlisted
        && let Some(mailer) = mailing.mailer
    {
        let text = format!(
            "Every seat of {} is taken, so you are on the waitlist. When someone cancels, \
             the first on the list gets their seat and a message saying so.\n\n{}\n",
            conference.name,
            conference_page(mailing.public_url, community, conference)
        );
        let sent = mailer
            .send(&plain_mail(
                &confirmed.email,
                &format!("You are on the waitlist for {}", conference.name),
                text,
                &format!("waitlist-{}", confirmed.id),
                mailing.public_url,
            ))
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not mail a waitlist notice; the page shows it too");
        }
    }
    Ok(confirmed)
}

/// Puts a confirmed registrant on the community's roster (the conference
/// mirrored into the hub): a member with the conference's consent, set by
/// their own action; no other channel's consent changes, so a registrant
/// is not subscribed to the email list.
async fn join_roster(
    store: &dyn Store,
    conference: &Conference,
    registrant: &Registration,
) -> Result<(), ConferenceError> {
    let actor = member_actor(&registrant.email);
    let member = match store
        .member_by_email(conference.community_id, &registrant.email)
        .await?
    {
        Some(member) => member,
        None => {
            let new = NewMember {
                email: registrant.email.clone(),
                name: registrant.name.clone(),
                role: CommunityRole::Member,
                email_consent: None,
            };
            match crate::roster::add_member(store, conference.community_id, new, &actor).await {
                Ok(member) => member,
                // Added a moment ago by another request or a sync.
                Err(crate::ports::store::StoreError::Conflict(_)) => store
                    .member_by_email(conference.community_id, &registrant.email)
                    .await?
                    .ok_or(ConferenceError::NotFound("the member"))?,
                Err(other) => return Err(other.into()),
            }
        }
    };
    let update = MemberUpdate {
        state: Some(MemberState::Active),
        consents: vec![(
            ConsentChannel::Conference,
            ConsentStatus::Subscribed,
            ConsentSource::Member,
        )],
        ..MemberUpdate::default()
    };
    crate::roster::change_member(store, member, update, &actor).await?;
    Ok(())
}

/// Mails a registered person a sign-in link. Says nothing about whether
/// the address is registered: a stranger's address gets no mail and the
/// same answer.
///
/// # Errors
/// A bad address, a link mailed minutes ago, no mail server or a failed
/// send.
pub async fn request_access(
    store: &dyn Store,
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), ConferenceError> {
    let email = Email::parse(email)?;
    let mailer = mailing.mailer.ok_or(ConferenceError::NoMailer)?;
    let Some(registration) = store.registration_by_email(conference.id, &email).await? else {
        return Ok(());
    };
    if registration.status == RegistrationStatus::Cancelled {
        return Ok(());
    }
    let page = conference_page(mailing.public_url, community, conference);
    if registration.status == RegistrationStatus::Pending {
        // Not confirmed: the confirmation is what they need.
        return register(
            store,
            mailing,
            community,
            conference,
            email.normalized(),
            &registration.name,
            now,
        )
        .await;
    }
    mail_access_link(
        store,
        mailer,
        mailing.public_url,
        conference,
        &page,
        &registration,
        now,
    )
    .await
}

/// Uses a sign-in link up and returns whose it is.
///
/// # Errors
/// [`ConferenceError::SpentLink`] for an expired, used or unknown link, or
/// a registration cancelled since.
pub async fn sign_in(
    store: &dyn Store,
    conference: &Conference,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Registration, ConferenceError> {
    let registration = spend(store, conference, token, RegistrantLinkPurpose::Access, now).await?;
    if registration.status == RegistrationStatus::Cancelled {
        return Err(ConferenceError::SpentLink);
    }
    Ok(registration)
}

/// The token of a registrant session, valid until `expires`.
#[must_use]
pub fn session_token(
    signer: &Signer,
    registration: RegistrationId,
    expires: DateTime<Utc>,
) -> String {
    let mut bytes = registration.0.as_bytes().to_vec();
    bytes.extend(expires.timestamp().to_be_bytes());
    let tag = signer.tag(&bytes, TAG_LEN);
    bytes.extend(tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The registration a session token names, while it lasts.
#[must_use]
pub fn read_session_token(
    signer: &Signer,
    token: &str,
    now: DateTime<Utc>,
) -> Option<RegistrationId> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != 16 + 8 + TAG_LEN {
        return None;
    }
    let (message, tag) = bytes.split_at(24);
    if !signer.verify(message, tag) {
        return None;
    }
    let expires = i64::from_be_bytes(message[16..24].try_into().ok()?);
    if now.timestamp() >= expires {
        return None;
    }
    uuid::Uuid::from_slice(&message[..16])
        .ok()
        .map(RegistrationId)
}

/// When a session opened now ends.
#[must_use]
pub fn session_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(SESSION_HOURS)
}

/// The registration of a session, if it is this conference's and not
/// cancelled.
///
/// # Errors
/// [`ConferenceError::NotRegistrant`] otherwise.
pub async fn registrant(
    store: &dyn Store,
    conference: &Conference,
    id: RegistrationId,
) -> Result<Registration, ConferenceError> {
    store
        .registration(id)
        .await?
        .filter(|r| r.conference_id == conference.id && r.status != RegistrationStatus::Cancelled)
        .ok_or(ConferenceError::NotRegistrant)
}

/// Cancels a registration (by the person, or a lead); the first on the
/// waitlist gets the seat and is told.
///
/// # Errors
/// [`ConferenceError::Closed`] once the conference is over.
pub async fn cancel(
    store: &dyn Store,
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    registration: &Registration,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Registration, ConferenceError> {
    if conference.phase == crate::model::conference::ConferencePhase::Done {
        return Err(ConferenceError::Closed("this conference is over".into()));
    }
    let entry = audit(
        actor,
        "registration.cancel",
        conference,
        json!({"email": registration.email.normalized()}),
    );
    let (cancelled, seated) = store
        .cancel_registration(registration.id, now, entry)
        .await?;
    tell_seated(mailing, community, conference, &seated).await;
    Ok(cancelled)
}

/// Tells each newly seated person they have a seat. A message that cannot
/// be sent is logged: the seat is theirs either way, and their page says so.
pub async fn tell_seated(
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    seated: &[Registration],
) {
    let Some(mailer) = mailing.mailer else { return };
    let page = conference_page(mailing.public_url, community, conference);
    for person in seated {
        let text = format!(
            "Good news: a seat of {} freed up and it is yours. You are registered ({}).\n\n\
             The conference page: {page}\n\
             If you can no longer come, cancel there, so the next person on the waitlist gets the seat.\n",
            conference.name,
            days(conference)
        );
        let sent = mailer
            .send(&plain_mail(
                &person.email,
                &format!("You have a seat at {}", conference.name),
                text,
                &format!("seated-{}", person.id),
                mailing.public_url,
            ))
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, registration = %person.id, "could not tell a person they were seated");
        }
    }
}

fn days(conference: &Conference) -> String {
    if conference.starts_on == conference.ends_on {
        conference.starts_on.format("%-d %B %Y").to_string()
    } else {
        format!(
            "{} to {}",
            conference.starts_on.format("%-d %B %Y"),
            conference.ends_on.format("%-d %B %Y")
        )
    }
}

fn plain_mail(
    to: &Email,
    subject: &str,
    text: String,
    key: &str,
    public_url: &str,
) -> crate::ports::mailer::OutgoingMail {
    let host = crate::ports::mailer::message_host(public_url);
    crate::ports::mailer::OutgoingMail {
        to: to.clone(),
        subject: subject.to_owned(),
        text,
        html: None,
        message_id: format!("{key}@{host}"),
        calendar: None,
    }
}

async fn mail_access_link(
    store: &dyn Store,
    mailer: &dyn Mailer,
    public_url: &str,
    conference: &Conference,
    page: &str,
    registration: &Registration,
    now: DateTime<Utc>,
) -> Result<(), ConferenceError> {
    let link = issue(store, registration, RegistrantLinkPurpose::Access, now).await?;
    let standing = match registration.status {
        RegistrationStatus::Waitlisted => "You are on the waitlist.",
        _ => "You are registered.",
    };
    let text = format!(
        "{standing} Here is your link to {conference}, to propose sessions, vote, or cancel. \
         It works once, for {ACCESS_LINK_MINUTES} minutes:\n{page}/sign-in/{link}\n\n\
         If you did not ask for it, ignore this message.\n",
        conference = conference.name
    );
    crate::membership::send(
        mailer,
        &registration.email,
        &format!("Your link to {}", conference.name),
        text,
        &link,
        public_url,
    )
    .await?;
    Ok(())
}

async fn spend(
    store: &dyn Store,
    conference: &Conference,
    token: &str,
    purpose: RegistrantLinkPurpose,
    now: DateTime<Utc>,
) -> Result<Registration, ConferenceError> {
    let id = store
        .spend_registrant_link(&hash_secret(token.trim()), purpose, now)
        .await?
        .ok_or(ConferenceError::SpentLink)?;
    store
        .registration(id)
        .await?
        .filter(|r| r.conference_id == conference.id)
        .ok_or(ConferenceError::SpentLink)
}

async fn issue(
    store: &dyn Store,
    registration: &Registration,
    purpose: RegistrantLinkPurpose,
    now: DateTime<Utc>,
) -> Result<String, ConferenceError> {
    let recent = store
        .recent_registrant_links(
            registration.id,
            purpose,
            now - Duration::minutes(RESEND_AFTER_MINUTES),
        )
        .await?;
    if recent > 0 {
        return Err(ConferenceError::TooSoon);
    }
    let lifetime = match purpose {
        RegistrantLinkPurpose::Confirm => Duration::days(CONFIRM_LINK_DAYS),
        RegistrantLinkPurpose::Access => Duration::minutes(ACCESS_LINK_MINUTES),
    };
    let (secret, hash) = new_secret();
    store
        .create_registrant_link(&NewRegistrantLink {
            token_hash: hash,
            purpose,
            registration_id: registration.id,
            created_at: now,
            expires_at: now + lifetime,
        })
        .await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKeys;

    #[allow(clippy::unwrap_used)]
    #[test]
    fn a_session_token_names_its_registration_until_it_expires() {
        let keys = SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap();
        let signer = keys.signer(SESSION_PURPOSE);
        let now = Utc::now();
        let id = RegistrationId::new();
        let token = session_token(&signer, id, now + Duration::hours(1));
        assert_eq!(read_session_token(&signer, &token, now), Some(id));
        assert_eq!(
            read_session_token(&signer, &token, now + Duration::hours(2)),
            None
        );
        let other = keys.signer("calendar-feed");
        assert_eq!(read_session_token(&other, &token, now), None);
        let mut altered = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
        altered[20] ^= 1;
        assert_eq!(
            read_session_token(&signer, &URL_SAFE_NO_PAD.encode(altered), now),
            None
        );
    }
}
