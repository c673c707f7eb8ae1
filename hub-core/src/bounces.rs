//! Bounces: who a returned message was for, and what it does to them.
//!
//! List mail is sent with a VERP envelope sender (`bounces+b<member><tag>@…`),
//! so a bounce names the member even when the report does not. Reports are
//! RFC 3464 delivery status notifications. Scoring follows GNU Mailman: a
//! hard bounce counts 1, a soft one 0.5, at most one bounce a day counts, a
//! score older than a week starts again, and at the threshold (5) email
//! delivery to that member is disabled until a lead turns it back on.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    ids::MemberId,
    model::{audit::NewAuditEvent, member::ConsentChannel},
    ports::store::{Store, StoreError},
    signing::Signer,
};

/// The signing purpose of VERP addresses.
pub const PURPOSE: &str = "verp";
/// Mailman's `bounce_score_threshold`.
pub const THRESHOLD: f64 = 5.0;
/// Mailman's `bounce_info_stale_after`, in days.
pub const STALE_AFTER_DAYS: i64 = 7;
const TAG_LEN: usize = 8;
/// The longest local part RFC 5321 allows.
const MAX_LOCAL_PART: usize = 64;

/// What an address under the list's bounce address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerpKind {
    /// The envelope sender of a list message: a bounce for this member.
    Bounce,
    /// The List-Unsubscribe mailto: this member asks to leave.
    Unsubscribe,
}

impl VerpKind {
    fn letter(self) -> char {
        match self {
            Self::Bounce => 'b',
            Self::Unsubscribe => 'u',
        }
    }
}

/// A bounce address too long to carry a member (RFC 5321 allows 64
/// characters before the `@`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the bounce address {0:?} must look like name@domain with a name of at most 13 characters, so that the member can be added to it"
)]
pub struct BadBounceAddress(pub String);

/// `base` with the member encoded after a `+`: `bounces+b…@lists.example.org`.
///
/// # Errors
/// [`BadBounceAddress`] when `base` has no `@` or its local part is too long.
pub fn verp_address(
    base: &str,
    kind: VerpKind,
    member: MemberId,
    signer: &Signer,
) -> Result<String, BadBounceAddress> {
    let (local, domain) = split_address(base).ok_or_else(|| BadBounceAddress(base.into()))?;
    let message = verp_message(kind, member);
    let tag = signer.tag(&message, TAG_LEN);
    let encoded = format!(
        "{local}+{}{}{}",
        kind.letter(),
        hex::encode(member.0.as_bytes()),
        hex::encode(tag)
    );
    if encoded.len() > MAX_LOCAL_PART {
        return Err(BadBounceAddress(base.into()));
    }
    Ok(format!("{encoded}@{domain}"))
}

/// The member and purpose an address made by [`verp_address`] names, if it
/// is one and its signature holds. Letter case is ignored (mail servers may
/// change it).
#[must_use]
pub fn read_verp(address: &str, signer: &Signer) -> Option<(VerpKind, MemberId)> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = address.rsplit_once('@')?;
    let (_, detail) = local.rsplit_once('+')?;
    let detail = detail.to_ascii_lowercase();
    let kind = match detail.chars().next()? {
        'b' => VerpKind::Bounce,
        'u' => VerpKind::Unsubscribe,
        _ => return None,
    };
    let bytes = hex::decode(detail.get(1..)?).ok()?;
    if bytes.len() != 16 + TAG_LEN {
        return None;
    }
    let (id, tag) = bytes.split_at(16);
    let member = MemberId(uuid::Uuid::from_slice(id).ok()?);
    signer
        .verify(&verp_message(kind, member), tag)
        .then_some((kind, member))
}

fn verp_message(kind: VerpKind, member: MemberId) -> Vec<u8> {
    let mut message = vec![kind.letter() as u8];
    message.extend_from_slice(member.0.as_bytes());
    message
}

fn split_address(address: &str) -> Option<(&str, &str)> {
    let (local, domain) = address.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !local.contains('+')).then_some((local, domain))
}

/// How bad a bounce is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BounceKind {
    /// The address does not work (5.x.x): counts 1.
    Hard,
    /// Delivery is delayed or the mailbox is full (4.x.x): counts 0.5.
    Soft,
}

impl BounceKind {
    fn weight(self) -> f64 {
        match self {
            Self::Hard => 1.0,
            Self::Soft => 0.5,
        }
    }
}

/// A member's bounce record.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceScore {
    /// The score since the record was last fresh.
    pub score: f64,
    /// The day of the last bounce that counted.
    pub last_bounce_on: NaiveDate,
}

impl BounceScore {
    /// Whether email delivery should stop.
    #[must_use]
    pub fn over_threshold(&self) -> bool {
        self.score >= THRESHOLD
    }
}

/// The record after a bounce on `today`; `None` when a bounce already
/// counted today (Mailman counts at most one a day).
#[must_use]
pub fn next_score(
    previous: Option<&BounceScore>,
    kind: BounceKind,
    today: NaiveDate,
) -> Option<BounceScore> {
    let carried = match previous {
        Some(p) if p.last_bounce_on == today => return None,
        Some(p) if (today - p.last_bounce_on).num_days() <= STALE_AFTER_DAYS => p.score,
        _ => 0.0,
    };
    Some(BounceScore {
        score: carried + kind.weight(),
        last_bounce_on: today,
    })
}

/// A member's bounce record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceRecord {
    /// The current score.
    pub score: BounceScore,
    /// The last reason given (status and diagnostic).
    pub last_reason: String,
    /// How many bounces counted, ever.
    pub counted: u64,
    /// Since when email delivery is stopped for them, if it is.
    pub email_disabled_at: Option<DateTime<Utc>>,
}

/// What a returned message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// A bounce counted; `record` is the member's record after it.
    Counted {
        /// Whose.
        member: MemberId,
        /// Their record now.
        record: BounceRecord,
    },
    /// A bounce for a member who already bounced today: not counted again.
    AlreadyCountedToday(MemberId),
    /// A message to a member's unsubscribe address: they left the list.
    Unsubscribed(MemberId),
    /// A message to an unsubscribe address of someone who had left.
    AlreadyUnsubscribed(MemberId),
}

/// Why a returned message changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Not a delivery report (an auto-reply, say).
    #[error(transparent)]
    NotABounce(#[from] NotABounce),
    /// Addressed to no bounce address this hub made (or a forged one).
    #[error(
        "the message is not addressed to a bounce or unsubscribe address this hub made ({0}); pass the envelope recipient with --recipient"
    )]
    NotOurs(String),
    /// The member it names is not in the hub.
    #[error("the member this bounce names is not in the hub")]
    UnknownMember,
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes in a message returned to a list's bounce address: a bounce is
/// scored for the member its VERP address names, and a message to a
/// member's unsubscribe address unsubscribes them. `recipient` is the
/// envelope recipient when the MTA passes it; otherwise the message's
/// `X-Original-To`, `Delivered-To` or `To` header is used.
///
/// # Errors
/// [`IntakeError`]; in every case nothing changed.
pub async fn take_in(
    store: &dyn Store,
    verp: &Signer,
    raw: &[u8],
    recipient: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let address = match recipient {
        Some(recipient) => recipient.to_owned(),
        None => addressed_to(raw).unwrap_or_default(),
    };
    let (kind, member_id) = read_verp(&address, verp).ok_or_else(|| {
        IntakeError::NotOurs(if address.is_empty() {
            "no recipient".into()
        } else {
            address.clone()
        })
    })?;
    let member = store
        .member_by_id(member_id)
        .await?
        .ok_or(IntakeError::UnknownMember)?;
    if kind == VerpKind::Unsubscribe {
        return Ok(
            match crate::unsubscribe::opt_out(store, member, ConsentChannel::Email).await? {
                crate::unsubscribe::Unsubscribed::Now(_) => Intake::Unsubscribed(member_id),
                crate::unsubscribe::Unsubscribed::Already(_) => {
                    Intake::AlreadyUnsubscribed(member_id)
                }
            },
        );
    }
    let report = parse_report(raw)?;
    let kind = if report.failed.iter().any(|f| f.kind == BounceKind::Hard) {
        BounceKind::Hard
    } else {
        BounceKind::Soft
    };
    let reason = report
        .failed
        .iter()
        .find(|f| f.kind == kind)
        .map(|f| f.reason.clone())
        .unwrap_or_default();
    let audit = NewAuditEvent {
        actor: "system:bounces".into(),
        action: "member.bounce".into(),
        community_id: Some(member.community_id),
        subject: member.email.normalized().to_owned(),
        details: serde_json::json!({"kind": kind, "reason": reason}),
    };
    match store
        .record_bounce(member_id, kind, &reason, now, audit)
        .await?
    {
        Some(record) => Ok(Intake::Counted {
            member: member_id,
            record,
        }),
        None => Ok(Intake::AlreadyCountedToday(member_id)),
    }
}

/// Turns email delivery back on for a member whose bounces stopped it (a
/// lead's action, audited as theirs), and starts their score again.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn resume(
    store: &dyn Store,
    member: &crate::model::member::Member,
    actor: &str,
) -> Result<(), StoreError> {
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "member.email_delivery_resumed".into(),
        community_id: Some(member.community_id),
        subject: member.email.normalized().to_owned(),
        details: serde_json::json!({}),
    };
    store.resume_email_delivery(member.id, audit).await
}

/// One failed recipient in a delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// The address that failed (`Final-Recipient`).
    pub address: String,
    /// Hard or soft.
    pub kind: BounceKind,
    /// The status code and diagnostic, for the member's page.
    pub reason: String,
}

/// What a returned message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceReport {
    /// Where it was sent (the envelope recipient: our VERP address), when
    /// the message or the caller says.
    pub to: Option<String>,
    /// The recipients that failed or were delayed.
    pub failed: Vec<FailedRecipient>,
}

/// A message that is not a delivery report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotABounce {
    /// It could not be parsed as a message at all.
    #[error("the input is not an email message: {0}")]
    Unreadable(String),
    /// It is a message, but not an RFC 3464 report with a failed recipient.
    #[error(
        "the message is not a delivery status report (multipart/report; report-type=delivery-status) naming a failed recipient"
    )]
    NoReport,
}

/// Where a message says it was delivered: `X-Original-To` or
/// `Delivered-To` (set by the receiving MTA), else `To`.
fn recipient_header(headers: &[mailparse::MailHeader<'_>]) -> Option<String> {
    ["X-Original-To", "Delivered-To", "To"]
        .iter()
        .find_map(|name| {
            headers
                .iter()
                .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
                .map(|h| h.get_value().trim().to_owned())
        })
}

/// [`recipient_header`] of a raw message, reading its headers only.
fn addressed_to(raw: &[u8]) -> Option<String> {
    mailparse::parse_headers(raw)
        .ok()
        .and_then(|(headers, _)| recipient_header(&headers))
}

/// Reads an RFC 3464 delivery status notification.
///
/// # Errors
/// [`NotABounce`] when the input is not one (an auto-reply, say).
pub fn parse_report(raw: &[u8]) -> Result<BounceReport, NotABounce> {
    let mail = mailparse::parse_mail(raw).map_err(|e| NotABounce::Unreadable(e.to_string()))?;
    let to = recipient_header(&mail.headers);
    let is_report = mail.ctype.mimetype.eq_ignore_ascii_case("multipart/report");
    let status_part = mail.subparts.iter().find(|p| {
        let t = p.ctype.mimetype.to_ascii_lowercase();
        t == "message/delivery-status" || t == "message/global-delivery-status"
    });
    let (true, Some(part)) = (is_report, status_part) else {
        return Err(NotABounce::NoReport);
    };
    let body = part
        .get_body_raw()
        .map_err(|e| NotABounce::Unreadable(e.to_string()))?;
    let failed = delivery_status_fields(&String::from_utf8_lossy(&body));
    if failed.is_empty() {
        return Err(NotABounce::NoReport);
    }
    Ok(BounceReport { to, failed })
}

/// The per-recipient groups of a `message/delivery-status` body: header-like
/// fields in blank-line separated groups, the first being per-message.
fn delivery_status_fields(body: &str) -> Vec<FailedRecipient> {
    let normalized = body.replace("\r\n", "\n");
    let mut failed = Vec::new();
    for group in normalized.split("\n\n") {
        let mut recipient = None;
        let mut action = None;
        let mut status = String::new();
        let mut diagnostic = String::new();
        // Unfold continuation lines first.
        let unfolded = group.replace("\n ", " ").replace("\n\t", " ");
        for line in unfolded.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                // Final-Recipient wins; Original-Recipient only stands in.
                field @ ("final-recipient" | "original-recipient")
                    if field == "final-recipient" || recipient.is_none() =>
                {
                    // "rfc822; someone@example.org"
                    let address = value.split_once(';').map_or(value, |(_, a)| a).trim();
                    recipient = Some(address.trim_matches(['<', '>']).to_owned());
                }
                "action" => action = Some(value.to_ascii_lowercase()),
                "status" => status = value.to_owned(),
                "diagnostic-code" => diagnostic = value.to_owned(),
                _ => {}
            }
        }
        let (Some(address), Some(action)) = (recipient, action) else {
            continue;
        };
        let kind = match action.as_str() {
            "failed" if !status.starts_with('4') => BounceKind::Hard,
            "failed" | "delayed" => BounceKind::Soft,
            _ => continue, // delivered, relayed, expanded: not a bounce
        };
        let reason = [status.as_str(), diagnostic.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        failed.push(FailedRecipient {
            address,
            kind,
            reason: reason.chars().take(300).collect(),
        });
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKeys;

    fn signer() -> Signer {
        SecretKeys::from_hex_list(&SecretKeys::generate_hex())
            .unwrap()
            .signer(PURPOSE)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_verp_address_names_its_member_and_survives_case_changes() {
        let signer = signer();
        let member = MemberId::new();
        let address = verp_address(
            "bounces@lists.example.org",
            VerpKind::Bounce,
            member,
            &signer,
        )
        .unwrap();
        assert!(address.split('@').next().unwrap().len() <= 64, "{address}");
        assert!(address.ends_with("@lists.example.org"));
        assert_eq!(
            read_verp(&address, &signer),
            Some((VerpKind::Bounce, member))
        );
        assert_eq!(
            read_verp(&format!("<{}>", address.to_uppercase()), &signer),
            Some((VerpKind::Bounce, member))
        );
        let unsubscribe = verp_address(
            "bounces@lists.example.org",
            VerpKind::Unsubscribe,
            member,
            &signer,
        )
        .unwrap();
        assert_eq!(
            read_verp(&unsubscribe, &signer),
            Some((VerpKind::Unsubscribe, member))
        );
        // A bounce address cannot be turned into an unsubscribe request.
        let swapped = address.replacen("+b", "+u", 1);
        assert_eq!(read_verp(&swapped, &signer), None);
        assert_eq!(read_verp("bounces@lists.example.org", &signer), None);
        assert_eq!(read_verp(&address, &self::signer()), None);
    }

    #[test]
    fn a_bounce_address_must_leave_room_for_the_member() {
        let signer = signer();
        assert!(verp_address("x", VerpKind::Bounce, MemberId::new(), &signer).is_err());
        assert!(
            verp_address(
                "a-very-long-bounce-name@example.org",
                VerpKind::Bounce,
                MemberId::new(),
                &signer
            )
            .is_err()
        );
    }

    #[test]
    fn scoring_follows_mailman() {
        let first = next_score(None, BounceKind::Hard, day(1)).unwrap();
        assert_eq!(first.score, 1.0);
        assert_eq!(next_score(Some(&first), BounceKind::Hard, day(1)), None);
        let soft = next_score(Some(&first), BounceKind::Soft, day(2)).unwrap();
        assert_eq!(soft.score, 1.5);
        // A week without bounces and the score starts again.
        let stale = next_score(Some(&soft), BounceKind::Hard, day(10)).unwrap();
        assert_eq!(stale.score, 1.0);
        let mut score = first;
        for d in 2..=5 {
            score = next_score(Some(&score), BounceKind::Hard, day(d)).unwrap();
        }
        assert_eq!(score.score, 5.0);
        assert!(score.over_threshold());
    }

    const REPORT: &str = "From: MAILER-DAEMON@mx.example.net\r\n\
To: bounces+bX@lists.example.org\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
\r\n\
Final-Recipient: rfc822; gone@example.net\r\n\
Original-Recipient: rfc822;gone@example.net\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address\r\n\
\x20rejected: User unknown\r\n\
\r\n\
Final-Recipient: rfc822; full@example.net\r\n\
Action: delayed\r\n\
Status: 4.2.2\r\n\
\r\n\
Final-Recipient: rfc822; fine@example.net\r\n\
Action: delivered\r\n\
Status: 2.0.0\r\n\
--B\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
Message-ID: <x@lists.example.org>\r\n\
--B--\r\n";

    #[test]
    fn a_delivery_report_names_each_failed_recipient() {
        let report = parse_report(REPORT.as_bytes()).unwrap();
        assert_eq!(report.to.as_deref(), Some("bounces+bX@lists.example.org"));
        assert_eq!(report.failed.len(), 2);
        assert_eq!(report.failed[0].address, "gone@example.net");
        assert_eq!(report.failed[0].kind, BounceKind::Hard);
        assert!(
            report.failed[0].reason.contains("User unknown"),
            "{:?}",
            report.failed[0]
        );
        assert_eq!(report.failed[1].kind, BounceKind::Soft);
    }

    #[test]
    fn an_auto_reply_is_not_a_bounce() {
        let reply = "From: a@example.net\r\nSubject: Out of office\r\n\r\nBack Monday.\r\n";
        assert_eq!(parse_report(reply.as_bytes()), Err(NotABounce::NoReport));
    }
}
