//! Logins as an owner manages them: who is an owner, and what each user
//! leads (a user leads a community where an active member with the same
//! email has the lead role).

use serde_json::json;

use crate::{
    ids::UserId,
    model::{
        audit::NewAuditEvent,
        user::{CommunityLead, User},
    },
    ports::store::{Store, StoreError},
};

/// A user with the communities it leads.
#[derive(Debug, Clone)]
pub struct UserOverview {
    /// The user.
    pub user: User,
    /// The lead memberships with the user's email, by community name.
    pub leads: Vec<CommunityLead>,
}

/// Every user with what they lead, and every community's leads (a lead need
/// not have a login: leads are members).
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn overview(
    store: &dyn Store,
) -> Result<(Vec<UserOverview>, Vec<CommunityLead>), StoreError> {
    let leads = store.community_leads().await?;
    let users = store
        .users()
        .await?
        .into_iter()
        .map(|user| UserOverview {
            leads: leads
                .iter()
                .filter(|l| l.email.normalized() == user.email.normalized())
                .cloned()
                .collect(),
            user,
        })
        .collect();
    Ok((users, leads))
}

/// Makes `user` an owner or takes that from it, on `actor`'s word (an owner:
/// the caller checks). The store refuses to take it from the last owner.
///
/// # Errors
/// `NotFound` for an unknown user; `Conflict` for the last owner.
pub async fn set_owner(
    store: &dyn Store,
    actor: &User,
    user: UserId,
    is_owner: bool,
) -> Result<User, StoreError> {
    // The subject is filled in from the stored user so the entry names a
    // person, not an id; an unknown id is refused before anything is written.
    let target = store
        .users()
        .await?
        .into_iter()
        .find(|u| u.id == user)
        .ok_or_else(|| StoreError::NotFound("This user".into()))?;
    let audit = NewAuditEvent {
        actor: crate::access::actor(actor),
        action: if is_owner {
            "user.owner_granted"
        } else {
            "user.owner_removed"
        }
        .into(),
        community_id: None,
        subject: target.email.normalized().to_owned(),
        details: json!({"owner": is_owner}),
    };
    store.set_owner(user, is_owner, audit).await
}
