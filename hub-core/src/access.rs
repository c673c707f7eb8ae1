//! Who may see what. An owner sees every community; anyone else sees the
//! communities where an active member with their email is a lead, and for any
//! other community the answer is "not found", never "forbidden", so ids and
//! slugs reveal nothing.

use crate::{
    model::{community::Community, user::User},
    ports::store::{Store, StoreError},
};

/// The community with this slug, if the user may see it.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn visible_community(
    store: &dyn Store,
    user: &User,
    slug: &str,
) -> Result<Option<Community>, StoreError> {
    if user.is_owner {
        return store.community_by_slug(slug).await;
    }
    Ok(store
        .communities_for(user)
        .await?
        .into_iter()
        .find(|c| c.slug.as_str() == slug))
}

/// The audit actor for a user.
#[must_use]
pub fn actor(user: &User) -> String {
    format!("user:{}", user.email.normalized())
}
