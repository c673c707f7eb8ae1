//! Logins. A user is not a member: a user acts as lead of every community
//! where a member with the same email has the lead role.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    Email,
    ids::{ApiTokenId, CommunityId, MemberId, UserId},
};

/// A login: an email and (stored elsewhere) an argon2id password hash.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its email, also how it is matched to members.
    pub email: Email,
    /// Owners can do everything on the instance.
    pub is_owner: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login email.
    pub email: Email,
    /// The PHC-format argon2id hash, never the password.
    pub password_hash: String,
    /// Whether the user is an instance owner.
    pub is_owner: bool,
}

/// A browser session, known to the store by the hash of its cookie value.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value, hex.
    pub id_hash: String,
    /// Who is logged in.
    pub user_id: UserId,
    /// When the session began (for the absolute timeout).
    pub created_at: DateTime<Utc>,
    /// When it was last used (for the idle timeout).
    pub last_seen_at: DateTime<Utc>,
}

/// An API bearer token as people see it: never its secret, which is shown
/// once when it is made and stored only as a hash.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    /// Its id, which names it on the tokens page and in the audit log.
    pub id: ApiTokenId,
    /// Whose it is: requests with it act as this user.
    pub user_id: UserId,
    /// That user's email, so an owner's list of every token reads by person.
    pub user_email: Email,
    /// The name its maker gave it, to recognise it by.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// An active member with the lead role, with the community it leads: what
/// makes a user a lead there (a user leads where a member has its email).
#[derive(Debug, Clone, Serialize)]
pub struct CommunityLead {
    /// The community.
    pub community_id: CommunityId,
    /// Its slug, for links.
    pub community_slug: String,
    /// Its name.
    pub community_name: String,
    /// The member, for a link to the page where its role is changed.
    pub member_id: MemberId,
    /// The member's email.
    pub email: Email,
    /// The member's name, maybe empty.
    pub name: String,
}
