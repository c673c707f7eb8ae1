//! Installing the deployment's Slack app into a community's workspace with
//! OAuth v2 (the oauth2 crate): the authorize URL a lead is sent to, and the
//! exchange of the code Slack sends back for a bot token.
//!
//! Slack answers a failed exchange with HTTP 200 and `"ok": false`, which
//! the oauth2 crate sees as an unreadable token response; the error string
//! is read from the body it keeps.

use std::time::Duration;

use hub_core::ports::install::InstallFailure;
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpClientError, HttpRequest, HttpResponse, RedirectUrl,
    RefreshToken, RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
};
use serde::{Deserialize, Serialize};

/// The bot scopes cophub asks for, and why each.
pub const BOT_SCOPES: &[&str] = &[
    "users:read",       // the workspace's people
    "users:read.email", // …with their emails, to match them to members
    "channels:read",    // public conversations and their members
    "groups:read",      // private ones
    "channels:history", // finding our own posts before a retry
    "groups:history",
    "chat:write",      // posting, editing, retracting, reminders
    "channels:join",   // joining a public conversation to post there
    "channels:manage", // inviting and removing members, creating conversations
    "groups:write",
];

/// The deployment's Slack app.
#[derive(Debug, Clone)]
pub struct SlackApp {
    /// Its client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// Where leads approve the install (`https://slack.com/oauth/v2/authorize`).
    pub authorize_url: String,
    /// The Web API base; the exchange is its `oauth.v2.access`.
    pub api_url: String,
    /// Where Slack sends the lead back (`{public_url}/slack/oauth/callback`).
    pub redirect_url: String,
    /// How long the exchange may take.
    pub timeout: Duration,
}

/// What the token endpoint is given.
#[derive(Debug, Clone, Copy)]
enum Grant<'a> {
    /// The code a lead came back with.
    Code(&'a str),
    /// A refresh token (token rotation).
    Refresh(&'a str),
}

/// What Slack adds to the token response of an install.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct InstallFields {
    #[serde(default)]
    bot_user_id: Option<String>,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    team: Option<Team>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Team {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

impl ExtraTokenFields for InstallFields {}

/// A finished install: what the channel keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The bot token (`xoxb-…`).
    pub bot_token: String,
    /// The refresh token, where the app rotates tokens.
    pub refresh_token: Option<String>,
    /// When the bot token expires, where it does (Unix seconds).
    pub expires_at: Option<i64>,
    /// The workspace's id.
    pub team_id: String,
    /// The workspace's name.
    pub team_name: String,
    /// The bot's user id.
    pub bot_user_id: Option<String>,
}

impl Installation {
    /// The channel's secret: JSON the adapter reads (see `bot_token`).
    #[must_use]
    pub fn secret(&self) -> String {
        serde_json::json!({
            "bot_token": self.bot_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        })
        .to_string()
    }
}

/// Why an install did not finish.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The app's settings are unusable.
    #[error("the Slack app's settings are unusable: {0}")]
    Settings(String),
    /// Slack refused the exchange (`invalid_code`, `bad_redirect_uri`, …).
    #[error("Slack refused the install: {0}")]
    Refused(String),
    /// Slack could not be reached or answered nonsense.
    #[error("Slack could not be asked: {0}")]
    Unreachable(String),
}

type SlackOAuthClient = Client<
    BasicErrorResponse,
    StandardTokenResponse<InstallFields, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

impl SlackApp {
    fn client(&self) -> Result<SlackOAuthClient, InstallError> {
        let settings = |e: oauth2::url::ParseError| InstallError::Settings(e.to_string());
        let token_url = format!("{}/oauth.v2.access", self.api_url.trim_end_matches('/'));
        Ok(Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(self.authorize_url.clone()).map_err(settings)?)
            .set_token_uri(TokenUrl::new(token_url).map_err(settings)?)
            .set_redirect_uri(RedirectUrl::new(self.redirect_url.clone()).map_err(settings)?))
    }

    /// The URL that asks a lead to approve the install; `state` comes back
    /// with the code and ties it to the lead's session.
    ///
    /// # Errors
    /// [`InstallError::Settings`] when a configured URL is not one.
    pub fn authorize_url(&self, state: &str) -> Result<String, InstallError> {
        let state = state.to_owned();
        let (url, _) = self
            .client()?
            .authorize_url(|| CsrfToken::new(state))
            // Slack takes its scopes comma-separated, not space-separated.
            .add_extra_param("scope", BOT_SCOPES.join(","))
            .url();
        Ok(url.to_string())
    }

    /// Exchanges the code Slack sent back for the bot token.
    ///
    /// # Errors
    /// [`InstallError`] saying what went wrong.
    pub async fn exchange(&self, code: &str) -> Result<Installation, InstallError> {
        self.token(Grant::Code(code)).await
    }

    /// A fresh bot token for a refresh token (token rotation): Slack answers
    /// with a new refresh token too, and the old one is spent.
    ///
    /// # Errors
    /// [`InstallError::Refused`] for a spent or revoked refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Installation, InstallError> {
        self.token(Grant::Refresh(refresh_token)).await
    }

    async fn token(&self, grant: Grant<'_>) -> Result<Installation, InstallError> {
        hub_core::tls::init();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .build()
            .map_err(|e| InstallError::Unreachable(e.to_string()))?;
        let send = |request: HttpRequest| {
            let http = http.clone();
            async move { execute(&http, request).await }
        };
        let client = self.client()?;
        let answer = match grant {
            Grant::Code(code) => {
                client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .request_async(&send)
                    .await
            }
            Grant::Refresh(token) => {
                client
                    .exchange_refresh_token(&RefreshToken::new(token.to_owned()))
                    .request_async(&send)
                    .await
            }
        }
        .map_err(|e| match e {
            RequestTokenError::Parse(_, body) => {
                let error = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned));
                match error {
                    Some(error) => InstallError::Refused(error),
                    None => InstallError::Unreachable("Slack's answer was not a token".into()),
                }
            }
            RequestTokenError::ServerResponse(response) => {
                InstallError::Refused(response.error().to_string())
            }
            other => InstallError::Unreachable(other.to_string()),
        })?;
        let fields = answer.extra_fields();
        let team = fields
            .team
            .clone()
            .ok_or_else(|| InstallError::Refused("the answer names no workspace".into()))?;
        Ok(Installation {
            bot_token: answer.access_token().secret().clone(),
            refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
            expires_at: answer
                .expires_in()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map(|s| chrono::Utc::now().timestamp() + s),
            team_name: team.name.unwrap_or_else(|| team.id.clone()),
            team_id: team.id,
            bot_user_id: fields.bot_user_id.clone(),
        })
    }
}

#[async_trait::async_trait]
impl hub_core::ports::install::Installer for SlackApp {
    fn authorize_url(&self, state: &str) -> Result<String, InstallFailure> {
        Self::authorize_url(self, state).map_err(|e| InstallFailure::NotConfigured(e.to_string()))
    }

    async fn exchange(
        &self,
        code: &str,
    ) -> Result<hub_core::ports::install::Installation, InstallFailure> {
        match Self::exchange(self, code).await {
            Ok(installation) => Ok(hub_core::ports::install::Installation {
                secret: installation.secret(),
                team_id: installation.team_id,
                team_name: installation.team_name,
            }),
            Err(InstallError::Refused(e)) => Err(InstallFailure::Refused(e)),
            Err(InstallError::Unreachable(e)) => Err(InstallFailure::Unreachable(e)),
            Err(InstallError::Settings(e)) => Err(InstallFailure::NotConfigured(e)),
        }
    }
}

/// The rotation fields of a channel's secret.
#[derive(Debug, Deserialize)]
struct Rotating {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
}

#[async_trait::async_trait]
impl hub_core::ports::install::TokenRefresher for SlackApp {
    fn kind(&self) -> hub_core::model::channel::ChannelKind {
        hub_core::model::channel::ChannelKind::Slack
    }

    fn expires_before(&self, secret: &str, at: chrono::DateTime<chrono::Utc>) -> bool {
        serde_json::from_str::<Rotating>(secret).is_ok_and(|rotating| {
            rotating.refresh_token.is_some()
                && rotating
                    .expires_at
                    .is_some_and(|expires| expires < at.timestamp())
        })
    }

    async fn refresh(&self, secret: &str) -> Result<String, InstallFailure> {
        let refresh_token = serde_json::from_str::<Rotating>(secret)
            .ok()
            .and_then(|rotating| rotating.refresh_token)
            .ok_or_else(|| InstallFailure::Refused("the secret holds no refresh token".into()))?;
        match Self::refresh(self, &refresh_token).await {
            Ok(installation) => Ok(installation.secret()),
            Err(InstallError::Refused(e)) => Err(InstallFailure::Refused(e)),
            Err(InstallError::Unreachable(e)) => Err(InstallFailure::Unreachable(e)),
            Err(InstallError::Settings(e)) => Err(InstallFailure::NotConfigured(e)),
        }
    }
}

/// oauth2 5 speaks reqwest 0.12; this carries its request over our 0.13.
async fn execute(
    http: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
    let request = reqwest::Request::try_from(request).map_err(Box::new)?;
    let response = http.execute(request).await.map_err(Box::new)?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await.map_err(Box::new)?;
    answer.body(body.to_vec()).map_err(HttpClientError::Http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_asks_for_every_scope_comma_separated_and_carries_the_state() {
        let app = SlackApp {
            client_id: "1.2".into(),
            client_secret: "s".into(),
            authorize_url: "https://slack.com/oauth/v2/authorize".into(),
            api_url: "https://slack.com/api/".into(),
            redirect_url: "https://hub.example.org/slack/oauth/callback".into(),
            timeout: Duration::from_secs(5),
        };
        let url = app.authorize_url("st4te").unwrap_or_default();
        let parsed = url::Url::parse(&url).ok();
        let query: std::collections::HashMap<String, String> = parsed
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        assert_eq!(query.get("client_id").map(String::as_str), Some("1.2"));
        assert_eq!(query.get("state").map(String::as_str), Some("st4te"));
        assert_eq!(
            query.get("redirect_uri").map(String::as_str),
            Some("https://hub.example.org/slack/oauth/callback")
        );
        assert_eq!(query.get("scope").cloned(), Some(BOT_SCOPES.join(",")));
    }
}
