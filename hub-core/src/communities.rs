//! Creating a community, whoever asks (the dashboard, the API, the command
//! line), with its first lead and the audit entry in one transaction.

use serde_json::json;

use crate::{
    Email,
    model::{
        audit::NewAuditEvent,
        community::{Community, NewCommunity},
        member::{CommunityRole, NewMember},
    },
    ports::store::{Store, StoreError},
};

/// Creates a community; `lead` becomes its first lead member.
///
/// # Errors
/// `Conflict` when the slug is taken; other [`StoreError`]s when storage fails.
pub async fn create(
    store: &dyn Store,
    community: NewCommunity,
    lead: Option<Email>,
    actor: &str,
) -> Result<Community, StoreError> {
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "community.create".into(),
        community_id: None,
        subject: community.slug.to_string(),
        details: json!({"name": community.name, "timezone": community.timezone, "lead": lead.as_ref().map(Email::normalized)}),
    };
    let first_lead = lead.map(|email| NewMember {
        email,
        name: String::new(),
        role: CommunityRole::Lead,
        email_consent: None,
    });
    store.create_community(community, first_lead, audit).await
}
