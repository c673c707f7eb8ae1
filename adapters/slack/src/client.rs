//! Slack's Web API over plain reqwest: one method call, its answer, and the
//! class of its failure. Slack answers HTTP 200 with `"ok": false` and an
//! error string for most failures; the rest are HTTP statuses (429 with
//! `Retry-After`, 5xx) or a lost connection.

use std::{ops::ControlFlow, time::Duration};

use hub_core::ports::adapter::AdapterError;
use serde_json::Value;

/// How long a 429 without `Retry-After` waits.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether a call changes something in Slack. A write whose answer was lost
/// may have been carried out (`Ambiguous`); a lost read is just `Transient`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only: safe to repeat.
    Read,
    /// Changes something: look before repeating.
    Write,
}

/// A Web API client for one bot token.
#[derive(Debug, Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api_url: String,
    token: String,
}

/// A failure with Slack's own error string kept, so callers can treat some
/// (`already_in_channel`, `message_not_found`) as done.
#[derive(Debug)]
pub struct CallError {
    /// Slack's error string, when Slack answered `"ok": false`.
    pub slack_error: Option<String>,
    /// The class the engine acts on.
    pub class: AdapterError,
}

impl From<CallError> for AdapterError {
    fn from(error: CallError) -> Self {
        error.class
    }
}

impl SlackClient {
    /// A client calling `api_url` (`https://slack.com/api/`) with `token`;
    /// every call gives up after `timeout`.
    ///
    /// # Errors
    /// `Transient` when the HTTP client cannot be built.
    pub fn new(api_url: &str, token: &str, timeout: Duration) -> Result<Self, AdapterError> {
        hub_core::tls::init();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|e| AdapterError::Transient(format!("could not build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            api_url: format!("{}/", api_url.trim_end_matches('/')),
            token: token.to_owned(),
        })
    }

    /// Calls `method` with form arguments (Slack's read methods take their
    /// arguments from the form or query, never from a JSON body, so every
    /// call is a form post).
    ///
    /// # Errors
    /// A [`CallError`] with the class of the failure.
    pub async fn call(
        &self,
        method: &str,
        form: &[(&str, String)],
        effect: Effect,
    ) -> Result<Value, CallError> {
        let sent = self
            .http
            .post(format!("{}{method}", self.api_url))
            .bearer_auth(&self.token)
            .form(form)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Err(lost(method, &e, effect)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return Err(lost(method, &e, effect)),
        };
        classify(method, status, retry_after, &body, effect)
    }
}

impl SlackClient {
    /// Reads a paginated read method page by page (at most `max_pages`),
    /// handing each answer to `page`, which says whether to read on. A
    /// cursor that comes back twice is a broken read, not an endless one.
    ///
    /// # Errors
    /// The first failed page's [`AdapterError`].
    pub async fn pages(
        &self,
        method: &str,
        form: &[(&str, String)],
        max_pages: usize,
        mut page: impl FnMut(&Value) -> ControlFlow<()>,
    ) -> Result<(), AdapterError> {
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let mut args = form.to_vec();
            if let Some(cursor) = &cursor {
                args.push(("cursor", cursor.clone()));
            }
            let answer = self.call(method, &args, Effect::Read).await?;
            if page(&answer).is_break() {
                return Ok(());
            }
            match next_cursor(&answer) {
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(AdapterError::Transient(format!(
                        "Slack returned the cursor {next:?} twice ({method})"
                    )));
                }
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// The class of a request that got no complete answer.
fn lost(method: &str, error: &reqwest::Error, effect: Effect) -> CallError {
    let what = if error.is_timeout() {
        "did not answer in time"
    } else {
        "could not be reached"
    };
    let message = format!("Slack {what} ({method}): {error}");
    // A request that never connected was not carried out.
    let class = if effect == Effect::Write && !error.is_connect() {
        AdapterError::Ambiguous(message)
    } else {
        AdapterError::Transient(message)
    };
    CallError {
        slack_error: None,
        class,
    }
}

/// The answer of one call, or the class of its failure.
///
/// # Errors
/// A [`CallError`] for every answer but `"ok": true`.
pub fn classify(
    method: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    effect: Effect,
) -> Result<Value, CallError> {
    let plain = |class| CallError {
        slack_error: None,
        class,
    };
    match status {
        429 => {
            return Err(plain(AdapterError::RateLimited {
                retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            }));
        }
        500..=599 => {
            return Err(plain(AdapterError::Transient(format!(
                "Slack answered {status} to {method}"
            ))));
        }
        200 => {}
        _ => {
            return Err(plain(AdapterError::Permanent(format!(
                "Slack answered {status} to {method}"
            ))));
        }
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        // Something answered, but not Slack's JSON: a proxy's page, a cut body.
        let message = format!("Slack's answer to {method} was not JSON");
        return Err(plain(match effect {
            Effect::Write => AdapterError::Ambiguous(message),
            Effect::Read => AdapterError::Transient(message),
        }));
    };
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(answer);
    }
    let error = answer
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error")
        .to_owned();
    let message = format!("Slack refused {method}: {error}");
    let class = match error.as_str() {
        "not_authed"
        | "invalid_auth"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "no_permission"
        | "missing_scope"
        | "not_allowed_token_type"
        | "org_login_required"
        | "ekm_access_denied"
        | "team_access_not_granted"
        | "two_factor_setup_required" => AdapterError::Auth(format!(
            "{message}; reconnect Slack from the channel's page"
        )),
        "ratelimited" | "rate_limited" => AdapterError::RateLimited {
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            AdapterError::Transient(message)
        }
        _ => AdapterError::Permanent(message),
    };
    Err(CallError {
        slack_error: Some(error),
        class,
    })
}

/// The `response_metadata.next_cursor` of a paginated answer; `None` on the
/// last page (Slack sends an empty string there).
#[must_use]
pub fn next_cursor(answer: &Value) -> Option<String> {
    answer
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|cursor| !cursor.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(status: u16, body: &str, effect: Effect) -> AdapterError {
        match classify("chat.postMessage", status, None, body.as_bytes(), effect) {
            Ok(_) => panic!("expected a failure"),
            Err(e) => e.class,
        }
    }

    #[test]
    fn revoked_and_invalid_tokens_ask_for_a_reconnect() {
        for error in [
            "token_revoked",
            "invalid_auth",
            "not_authed",
            "missing_scope",
        ] {
            let body = format!(r#"{{"ok":false,"error":"{error}"}}"#);
            assert!(matches!(
                class_of(200, &body, Effect::Read),
                AdapterError::Auth(_)
            ));
        }
    }

    #[test]
    fn a_429_waits_as_long_as_slack_asks() {
        let Err(e) = classify("x", 429, Some(Duration::from_secs(7)), b"", Effect::Write) else {
            panic!("expected a failure");
        };
        assert!(matches!(
            e.class,
            AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)
        ));
    }

    #[test]
    fn a_garbled_answer_to_a_write_is_ambiguous_and_to_a_read_transient() {
        assert!(matches!(
            class_of(200, "<html>oops", Effect::Write),
            AdapterError::Ambiguous(_)
        ));
        assert!(matches!(
            class_of(200, "<html>oops", Effect::Read),
            AdapterError::Transient(_)
        ));
        assert!(matches!(
            class_of(503, "", Effect::Write),
            AdapterError::Transient(_)
        ));
    }

    #[test]
    fn a_refusal_is_permanent_and_keeps_slacks_word() {
        let Err(e) = classify(
            "conversations.invite",
            200,
            None,
            br#"{"ok":false,"error":"already_in_channel"}"#,
            Effect::Write,
        ) else {
            panic!("expected a failure");
        };
        assert_eq!(e.slack_error.as_deref(), Some("already_in_channel"));
        assert!(matches!(e.class, AdapterError::Permanent(_)));
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let last = serde_json::json!({"ok": true, "response_metadata": {"next_cursor": ""}});
        assert_eq!(next_cursor(&last), None);
        let more =
            serde_json::json!({"ok": true, "response_metadata": {"next_cursor": "dXNlcjpVMDY="}});
        assert_eq!(next_cursor(&more).as_deref(), Some("dXNlcjpVMDY="));
    }
}
