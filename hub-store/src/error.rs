//! Translating driver errors into the store's own, at the edge of this crate.

use hub_core::ports::store::StoreError;

/// Maps a driver error; `conflict` says what a uniqueness violation means here.
pub(crate) fn store_error(error: sqlx::Error, conflict: &str) -> StoreError {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(conflict.to_owned())
        }
        // PostgreSQL's text and jsonb cannot hold U+0000 (22021, 22P05).
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
            StoreError::Unstorable(
                "the text holds a NUL character (U+0000), which cannot be stored".to_owned(),
            )
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(error.to_string()),
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Maps a driver error where no uniqueness rule applies.
pub(crate) fn internal(error: sqlx::Error) -> StoreError {
    store_error(error, "the change conflicts with existing data")
}

/// A stored value that the code cannot read: a bug or a hand-edited database.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("unreadable stored value: {what}").into())
}

/// Why an owner cannot stop being one: an instance without an owner could
/// not be managed from the dashboard again.
pub(crate) const LAST_OWNER: &str =
    "This is the last owner, and cophub needs at least one: make someone else an owner first.";
