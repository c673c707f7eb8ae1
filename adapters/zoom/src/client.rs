//! Zoom's API v2 over plain reqwest, with a Server-to-Server OAuth token
//! (`grant_type=account_credentials`): fetched once, shared by every call,
//! renewed five minutes before it expires or when Zoom says it has
//! (401, code 124), one renewal at a time.

use std::time::Duration;

use base64::Engine;
use hub_core::ports::adapter::AdapterError;
use reqwest::Method;
use serde_json::Value;
use tokio::{sync::Mutex, time::Instant};

/// Renew a token this long before Zoom says it expires.
const RENEW_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long a 429 without `Retry-After` waits, unless configured.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A Zoom account's Server-to-Server OAuth app.
#[derive(Clone)]
pub struct Credentials {
    /// The account id.
    pub account_id: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Where Zoom is reached.
#[derive(Debug, Clone)]
pub struct ZoomApi {
    /// The API base, `https://api.zoom.us/v2`.
    pub api_url: String,
    /// The token endpoint, `https://zoom.us/oauth/token`.
    pub oauth_url: String,
    /// Each call gives up after this long.
    pub timeout: Duration,
    /// How long a 429 without `Retry-After` waits.
    pub default_retry_after: Duration,
}

impl Default for ZoomApi {
    fn default() -> Self {
        Self {
            api_url: "https://api.zoom.us/v2".into(),
            oauth_url: "https://zoom.us/oauth/token".into(),
            timeout: Duration::from_secs(15),
            default_retry_after: DEFAULT_RETRY_AFTER,
        }
    }
}

/// The token in use, and when to stop using it.
struct Token {
    access_token: String,
    renew_at: Instant,
}

impl std::fmt::Debug for Token {
    // The token is a credential: never printed, not even by a `Debug` of the
    // client (tokio's `Mutex` prints what it holds).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("renew_at", &self.renew_at)
            .finish_non_exhaustive()
    }
}

/// A failed call, with Zoom's own code kept so a caller can treat some
/// refusals as done (3001, "Meeting does not exist", when deleting).
#[derive(Debug)]
pub struct CallError {
    /// The HTTP status Zoom answered with, when it answered.
    pub status: Option<u16>,
    /// Zoom's error code (`{"code": 3001, …}`), when its answer had one.
    pub code: Option<u64>,
    /// Zoom's error message, when its answer had one.
    pub message: Option<String>,
    /// The class the engine acts on.
    pub class: AdapterError,
}

impl CallError {
    /// Zoom refused the request with this HTTP status and code.
    #[must_use]
    pub fn is(&self, status: u16, code: u64) -> bool {
        self.status == Some(status) && self.code == Some(code)
    }
}

impl From<AdapterError> for CallError {
    fn from(class: AdapterError) -> Self {
        Self {
            status: None,
            code: None,
            message: None,
            class,
        }
    }
}

impl From<CallError> for AdapterError {
    fn from(error: CallError) -> Self {
        error.class
    }
}

/// A client for one Zoom account.
#[derive(Debug)]
pub struct ZoomClient {
    http: reqwest::Client,
    api: ZoomApi,
    credentials: Credentials,
    /// Held while a token is fetched, so concurrent calls wait for one renewal.
    token: Mutex<Option<Token>>,
}

impl ZoomClient {
    /// A client for `credentials` at `api`.
    ///
    /// # Errors
    /// `Transient` when the HTTP client cannot be built.
    pub fn new(api: ZoomApi, credentials: Credentials) -> Result<Self, AdapterError> {
        hub_core::tls::init();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(api.timeout))
            .timeout(api.timeout)
            .build()
            .map_err(|e| AdapterError::Transient(format!("could not build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            api,
            credentials,
            token: Mutex::new(None),
        })
    }

    /// The access token, fetched or renewed first when needed.
    async fn access_token(&self, renew: bool) -> Result<String, AdapterError> {
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref()
            && !renew
            && Instant::now() < current.renew_at
        {
            return Ok(current.access_token.clone());
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.credentials.client_id, self.credentials.client_secret
        ));
        let response = self
            .http
            .post(&self.api.oauth_url)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .form(&[
                ("grant_type", "account_credentials"),
                ("account_id", self.credentials.account_id.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                AdapterError::Transient(format!("Zoom's token endpoint could not be reached: {e}"))
            })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status {
            200 => {}
            400 | 401 | 403 => {
                let why = body["reason"]
                    .as_str()
                    .or_else(|| body["error"].as_str())
                    .unwrap_or("refused");
                return Err(AdapterError::Auth(format!(
                    "Zoom refused the app's credentials ({why}): check the account id, client id and secret, then reconnect"
                )));
            }
            429 => {
                return Err(AdapterError::RateLimited {
                    retry_after: self.api.default_retry_after,
                });
            }
            _ => {
                return Err(AdapterError::Transient(format!(
                    "Zoom's token endpoint answered {status}"
                )));
            }
        }
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| AdapterError::Transient("Zoom's token answer had no token".into()))?
            .to_owned();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600));
        *token = Some(Token {
            access_token: access_token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_MARGIN),
        });
        Ok(access_token)
    }

    /// Calls `path` (under the API base) with an optional JSON body. A write
    /// is a call that changes something: its lost answer is `Ambiguous`.
    /// Answers with no body (204) give `Value::Null`.
    ///
    /// # Errors
    /// The [`AdapterError`] class of the failure; an expired token is renewed
    /// and the call made once more before `Auth` is given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AdapterError> {
        self.request(method, path, body).await.map_err(|e| e.class)
    }

    /// [`ZoomClient::call`], keeping Zoom's status, code and message with
    /// the failure.
    ///
    /// # Errors
    /// A [`CallError`] whose `class` is that of [`ZoomClient::call`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let write = method != Method::GET;
        let mut renew = false;
        for _ in 0..2 {
            let token = self.access_token(renew).await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.api.api_url))
                .bearer_auth(&token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    let what = if e.is_timeout() {
                        "did not answer in time"
                    } else {
                        "could not be reached"
                    };
                    let message = format!("Zoom {what} ({method} {path}): {e}");
                    return Err(if write && !e.is_connect() {
                        AdapterError::Ambiguous(message)
                    } else {
                        AdapterError::Transient(message)
                    }
                    .into());
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let bytes = response.bytes().await.map_err(|e| {
                let message = format!("Zoom's answer to {method} {path} was cut off: {e}");
                CallError::from(if write {
                    AdapterError::Ambiguous(message)
                } else {
                    AdapterError::Transient(message)
                })
            })?;
            if status == 204 || (200..300).contains(&status) && bytes.is_empty() {
                return Ok(Value::Null);
            }
            let answer = serde_json::from_slice::<Value>(&bytes);
            if (200..300).contains(&status) {
                return answer.map_err(|_| {
                    let message = format!("Zoom's answer to {method} {path} was not JSON");
                    CallError::from(if write {
                        AdapterError::Ambiguous(message)
                    } else {
                        AdapterError::Transient(message)
                    })
                });
            }
            let answer = answer.unwrap_or(Value::Null);
            let zoom_code = answer["code"].as_u64();
            let zoom_message = answer["message"].as_str().map(str::to_owned);
            let code = zoom_code.unwrap_or(0);
            let message = zoom_message.as_deref().unwrap_or("no message");
            let class = match status {
                401 if code == 124 && !renew => {
                    // The token expired under us: renew once, then call again.
                    renew = true;
                    continue;
                }
                401 | 403 => AdapterError::Auth(format!(
                    "Zoom refused {method} {path} (code {code}: {message}); reconnect the channel"
                )),
                429 => AdapterError::RateLimited {
                    retry_after: retry_after.unwrap_or(self.api.default_retry_after),
                },
                500..=599 => {
                    AdapterError::Transient(format!("Zoom answered {status} to {method} {path}"))
                }
                _ => AdapterError::Permanent(format!(
                    "Zoom refused {method} {path} (code {code}: {message})"
                )),
            };
            return Err(CallError {
                status: Some(status),
                code: zoom_code,
                message: zoom_message,
                class,
            });
        }
        Err(AdapterError::Auth(format!(
            "Zoom refused a freshly renewed token for {method} {path}; reconnect the channel"
        ))
        .into())
    }
}
