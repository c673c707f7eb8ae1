//! API bearer tokens, whoever makes or revokes them (the dashboard, the
//! command line): one way to make a secret and keep only its hash, one rule
//! for who may see and revoke which token, each change audited.

use serde_json::json;

use crate::{
    auth::new_secret,
    ids::ApiTokenId,
    model::{
        audit::NewAuditEvent,
        user::{ApiToken, User},
    },
    ports::store::{Store, StoreError},
};

/// The longest token name, in characters: a label, not a note.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a token could not be made or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is empty, too long or holds control characters; the message
    /// says which.
    #[error("{0}")]
    Invalid(String),
    /// No such token, or one the person may not see (another user's, for
    /// anyone but an owner): the two answer alike, so ids reveal nothing.
    #[error("this API token was not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes an API token for `user` and returns its secret, the only time it
/// exists outside the request that uses it: the store keeps its hash.
/// `actor` is the audit actor (the user acting, or the command line).
///
/// # Errors
/// [`TokenError::Invalid`] for a bad name; [`TokenError::Store`] when
/// storage fails.
pub async fn create(
    store: &dyn Store,
    user: &User,
    name: &str,
    actor: &str,
) -> Result<String, TokenError> {
    let name = checked_name(name)?;
    let (token, hash) = new_secret();
    // The secret never enters the audit log; the name and owner identify it.
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "token.create".into(),
        community_id: None,
        subject: user.email.normalized().to_owned(),
        details: json!({"name": name}),
    };
    store.create_api_token(user.id, name, &hash, audit).await?;
    Ok(token)
}

/// The tokens `viewer` may see: their own, or everyone's for an owner.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn visible(store: &dyn Store, viewer: &User) -> Result<Vec<ApiToken>, StoreError> {
    store
        .api_tokens((!viewer.is_owner).then_some(viewer.id))
        .await
}

/// Revokes a token `actor` may see (see [`visible`]); the next request with
/// it is refused.
///
/// # Errors
/// [`TokenError::NotFound`] for an unknown token or another user's (for
/// anyone but an owner); [`TokenError::Store`] when storage fails.
pub async fn revoke(
    store: &dyn Store,
    actor: &User,
    id: ApiTokenId,
) -> Result<ApiToken, TokenError> {
    let token = store
        .api_token(id)
        .await?
        .filter(|t| actor.is_owner || t.user_id == actor.id)
        .ok_or(TokenError::NotFound)?;
    let audit = NewAuditEvent {
        actor: crate::access::actor(actor),
        action: "token.revoke".into(),
        community_id: None,
        subject: token.user_email.normalized().to_owned(),
        details: json!({"name": token.name, "token": token.id}),
    };
    match store.revoke_api_token(id, audit).await {
        Ok(()) => Ok(token),
        Err(StoreError::NotFound(_)) => Err(TokenError::NotFound),
        Err(e) => Err(e.into()),
    }
}

fn checked_name(name: &str) -> Result<&str, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::Invalid(
            "Give the token a name, to recognise it by later.".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::Invalid(format!(
            "A token's name has at most {MAX_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(TokenError::Invalid(
            "A token's name cannot hold line breaks or other control characters.".into(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_must_be_a_short_single_line() {
        assert_eq!(checked_name("  ci  ").ok(), Some("ci"));
        assert!(matches!(checked_name("   "), Err(TokenError::Invalid(_))));
        assert!(matches!(
            checked_name(&"x".repeat(MAX_NAME_CHARS + 1)),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(checked_name("a\nb"), Err(TokenError::Invalid(_))));
    }
}
