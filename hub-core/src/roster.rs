//! What people do with a community's roster, whoever asks (the dashboard, the
//! API, the command line): import a CSV, add and change members, export.
//! Every change is audited in the same transaction as the change.

use serde_json::json;

use crate::{
    ids::CommunityId,
    import::{ImportPlan, UnreadableCsv, parse_csv, plan_import},
    model::{
        audit::NewAuditEvent,
        community::Community,
        member::{ConsentChannel, ConsentStatus, Member, MemberUpdate, NewMember},
    },
    ports::store::{Store, StoreError},
};

/// Adds a member to a community.
///
/// # Errors
/// `Conflict` when the community has a member with that email.
pub async fn add_member(
    store: &dyn Store,
    community: CommunityId,
    member: NewMember,
    actor: &str,
) -> Result<Member, StoreError> {
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "member.create".into(),
        community_id: Some(community),
        subject: member.email.normalized().to_owned(),
        details: json!({"name": member.name, "role": member.role, "email_consent": member.email_consent}),
    };
    store.create_member(community, member, audit).await
}

/// Changes a member; a change that changes nothing writes nothing. The audit
/// entry records each changed field as `[before, after]`.
///
/// # Errors
/// `NotFound` when the member is gone; other [`StoreError`]s when storage fails.
pub async fn change_member(
    store: &dyn Store,
    member: Member,
    update: MemberUpdate,
    actor: &str,
) -> Result<Member, StoreError> {
    if update.changes_nothing_for(&member) {
        return Ok(member);
    }
    let mut details = serde_json::Map::new();
    if let Some(name) = update.name.as_ref().filter(|n| **n != member.name) {
        details.insert("name".into(), json!([member.name, name]));
    }
    if let Some(role) = update.role.filter(|r| *r != member.role) {
        details.insert("role".into(), json!([member.role, role]));
    }
    if let Some(state) = update.state.filter(|s| *s != member.state) {
        details.insert("state".into(), json!([member.state, state]));
    }
    for (channel, status, source) in &update.consents {
        let before = member.consent(*channel);
        if before != *status {
            details.insert(
                format!("{channel}_consent"),
                json!([before, status, source]),
            );
        }
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "member.update".into(),
        community_id: Some(member.community_id),
        subject: member.email.normalized().to_owned(),
        details: serde_json::Value::Object(details),
    };
    store
        .update_member(member.community_id, member.id, update, audit)
        .await
}

/// How an import runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Import the good rows and report the bad ones, instead of refusing all.
    pub skip_invalid: bool,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read as a members CSV.
    #[error(transparent)]
    Unreadable(#[from] UnreadableCsv),
    /// Some rows are bad; the plan lists each with its line.
    #[error("{} row(s) are invalid, so nothing was imported", .0.errors.len())]
    Rejected(ImportPlan),
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Imports a members CSV into a community: all of it or nothing, unless
/// `skip_invalid`. Returns the plan that was (or, dry, would be) applied.
///
/// # Errors
/// [`ImportError`]; in every case nothing was written.
pub async fn import_csv(
    store: &dyn Store,
    community: &Community,
    data: &[u8],
    options: ImportOptions,
    actor: &str,
) -> Result<ImportPlan, ImportError> {
    let parsed = parse_csv(data)?;
    let existing = store.all_members(community.id).await?;
    let plan = plan_import(parsed, &existing, options.skip_invalid)
        .map_err(|r| ImportError::Rejected(r.0))?;
    if !options.dry_run && (plan.created > 0 || plan.updated > 0) {
        let audit = NewAuditEvent {
            actor: actor.to_owned(),
            action: "members.import".to_owned(),
            community_id: Some(community.id),
            subject: community.slug.to_string(),
            details: json!({
                "created": plan.created,
                "updated": plan.updated,
                "unchanged": plan.unchanged,
                "skipped_rows": plan.errors.len(),
            }),
        };
        store.apply_import(community.id, &plan, audit).await?;
    }
    Ok(plan)
}

/// The columns of an export, which imports back unchanged.
pub const EXPORT_HEADER: [&str; 9] = [
    "email",
    "name",
    "role",
    "state",
    "email_list",
    "email_consent",
    "slack_consent",
    "zoom_consent",
    "conference_consent",
];

/// Writes members as CSV. `email_list` says `yes` for subscribed people, so
/// the file imports back without changing anyone's consent.
#[must_use]
pub fn export_csv(members: &[Member]) -> String {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(members.len() * 96 + 128));
    // Writing to memory cannot fail; a failure would only drop a row, so it is ignored.
    let _ = out.write_record(EXPORT_HEADER);
    for member in members {
        let consent = |channel| member.consent(channel).as_str();
        let _ = out.write_record([
            member.email.display(),
            &member.name,
            member.role.as_str(),
            member.state.as_str(),
            if member.consent(ConsentChannel::Email) == ConsentStatus::Subscribed {
                "yes"
            } else {
                "no"
            },
            consent(ConsentChannel::Email),
            consent(ConsentChannel::Slack),
            consent(ConsentChannel::Zoom),
            consent(ConsentChannel::Conference),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}
