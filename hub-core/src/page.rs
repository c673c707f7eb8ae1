//! Cursor pagination: a page of items and an opaque cursor to the next one.
//! Cursors are keyset positions, so a page costs the same at any depth.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;

/// One page of results.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Makes an opaque cursor from a keyset position.
#[must_use]
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// Reads a cursor made by [`encode_cursor`].
///
/// # Errors
/// [`InvalidCursor`] when the text was not made by `encode_cursor`.
pub fn decode_cursor(cursor: &str) -> Result<String, InvalidCursor> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(InvalidCursor)
}

/// A cursor that was not made by this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not valid; start again from the first page")]
pub struct InvalidCursor;
