//! Zoom's webhooks, as the hub receives them: the `endpoint.url_validation`
//! challenge, answered with the HMAC-SHA256 of its `plainToken` under the
//! channel's secret token, and the request signature (`x-zm-signature`),
//! the same v0 scheme as Slack's, checked by `hub_core::signing::verify_v0`.

use serde_json::{Value, json};

/// The answer to Zoom's `endpoint.url_validation` for `plain_token`.
#[must_use]
pub fn url_validation(secret_token: &str, plain_token: &str) -> Value {
    json!({
        "plainToken": plain_token,
        "encryptedToken": hub_core::signing::hmac_sha256_hex(secret_token, plain_token.as_bytes()),
    })
}
