//! A community's channels on the dashboard, and installing the deployment's
//! Slack app into the community's workspace (OAuth v2: the lead is sent to
//! Slack with a `state` bound to their session and community, and comes back
//! to `/slack/oauth/callback` with a code).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    channels::{ChooseError, choose_groups, keep_slack_install},
    ids::CommunityId,
    model::sync::SyncDirection,
    ports::install::InstallFailure,
    sync::RunMode,
};
use serde::Deserialize;

use super::{community, nav};
use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    lookup,
    session::CurrentUser,
    templates::{ChannelsPage, ConversationsPage, GroupRow},
};

/// How long a lead has to approve the install at Slack.
const INSTALL_WINDOW_SECONDS: i64 = 15 * 60;
/// What the state's tag is for; a tag for anything else never verifies.
const STATE_PURPOSE: &str = "slack-install-state";

#[derive(Debug, Deserialize)]
pub(crate) struct NoticeQuery {
    #[serde(default)]
    connected: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let channels = state.store.channels(community.id).await?;
    // What connecting did depends on the tool: Slack's people are imported
    // at once, a Zoom account takes the calls scheduled from now on.
    let notice = query.connected.map(|name| {
        let zoom = channels
            .iter()
            .rev()
            .find(|c| c.name == name)
            .is_some_and(|c| c.kind == hub_core::model::channel::ChannelKind::Zoom);
        if zoom {
            format!("Connected {name}. Calls scheduled from now on are made there; give Zoom the webhook URL shown below to see who came.")
        } else {
            format!("Connected {name}. Its people are being imported into the roster; the Sync tab shows the run.")
        }
    });
    Ok(Html(
        ChannelsPage {
            nav: nav(&user, &csrf),
            community,
            channels,
            slack_install: state.slack_installer.is_some(),
            notice,
            public_url: state.settings.public_url.trim_end_matches('/').to_owned(),
        }
        .render()?,
    ))
}

/// The Zoom form: a Server-to-Server OAuth app's credentials and where the
/// channel schedules.
#[derive(Debug, Deserialize)]
pub(crate) struct ZoomForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    webhook_secret: String,
    /// Host users, comma-separated; empty for the app's account owner.
    #[serde(default)]
    hosts: String,
    /// A Team Chat channel id for announcements.
    #[serde(default)]
    chat_channel: String,
}

/// POST `/communities/{slug}/channels/zoom`: connects a Zoom account, its
/// credentials encrypted at rest.
pub(crate) async fn connect_zoom(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<ZoomForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let missing: Vec<&str> = [
        ("account id", &form.account_id),
        ("client id", &form.client_id),
        ("client secret", &form.client_secret),
        ("webhook secret token", &form.webhook_secret),
    ]
    .into_iter()
    .filter(|(_, value)| value.trim().is_empty())
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        return Err(AppError::Invalid(format!(
            "Zoom needs the app's {}: find them on the app's page at marketplace.zoom.us",
            missing.join(", ")
        )));
    }
    let hosts: Vec<&str> = form
        .hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut settings = serde_json::json!({});
    if !hosts.is_empty() {
        settings["hosts"] = serde_json::json!(hosts);
    }
    if !form.chat_channel.trim().is_empty() {
        settings["chat_channel"] = serde_json::json!(form.chat_channel.trim());
    }
    let secret = serde_json::json!({
        "account_id": form.account_id.trim(),
        "client_id": form.client_id.trim(),
        "client_secret": form.client_secret.trim(),
        "webhook_secret": form.webhook_secret.trim(),
    });
    let name = if form.name.trim().is_empty() {
        "Zoom".to_owned()
    } else {
        form.name.trim().to_owned()
    };
    hub_core::channels::add(
        state.store.as_ref(),
        state.secret_keys()?,
        community.id,
        hub_core::channels::ChannelRequest {
            kind: hub_core::model::channel::ChannelKind::Zoom,
            name: name.clone(),
            settings,
            secret: Some(secret.to_string()),
            min_interval_ms: 0,
        },
        &hub_core::access::actor(&user.0),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/communities/{}/channels?connected={}",
        community.slug.as_str(),
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    ))
    .into_response())
}

/// The `state` of an install: the community, when it expires, and a tag
/// over both with the user and the browser's CSRF cookie, so only the
/// session that started the install can finish it.
fn install_state(
    state: &AppState,
    community: CommunityId,
    expires: i64,
    user: &CurrentUser,
    csrf: &CsrfToken,
) -> Result<String, AppError> {
    let keys = state.secret_keys()?;
    let message = format!("{community}|{expires}|{}|{}", user.0.id, csrf.0);
    let tag = keys.signer(STATE_PURPOSE).tag(message.as_bytes(), 16);
    Ok(format!("{community}.{expires}.{}", hex::encode(tag)))
}

pub(crate) async fn install(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let installer = state.slack_installer()?;
    let expires = state.clock.now().timestamp() + INSTALL_WINDOW_SECONDS;
    let oauth_state = install_state(&state, community.id, expires, &user, &csrf)?;
    let url = installer
        .authorize_url(&oauth_state)
        .map_err(|e| AppError::Upstream(e.to_string()))?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

pub(crate) async fn callback(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let refused = || {
        AppError::BadRequest(
            "this Slack install link is not yours, is out of date or was already used; start again from the community's Channels page".into(),
        )
    };
    let oauth_state = query.state.as_deref().ok_or_else(refused)?;
    let mut parts = oauth_state.splitn(3, '.');
    let (Some(community_id), Some(expires), Some(tag)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let community_id: CommunityId = community_id.parse().map_err(|_| refused())?;
    let expires: i64 = expires.parse().map_err(|_| refused())?;
    let tag = hex::decode(tag).map_err(|_| refused())?;
    let message = format!("{community_id}|{expires}|{}|{}", user.0.id, csrf.0);
    let keys = state.secret_keys()?;
    if !keys.signer(STATE_PURPOSE).verify(message.as_bytes(), &tag)
        || state.clock.now().timestamp() > expires
    {
        return Err(refused());
    }
    // The lead may have lost the community since; they see only their own.
    let community = state
        .store
        .community(community_id)
        .await?
        .ok_or_else(refused)?;
    let community = super::community(&state, &user, community.slug.as_str()).await?;
    if let Some(error) = query.error {
        return Err(AppError::BadRequest(format!(
            "Slack did not install the app ({error}); nothing was changed"
        )));
    }
    let code = query.code.ok_or_else(refused)?;
    let installation = state
        .slack_installer()?
        .exchange(&code)
        .await
        .map_err(|e| match e {
            InstallFailure::Refused(why) => AppError::BadRequest(format!(
                "Slack refused the install ({why}); start again from the Channels page"
            )),
            other => AppError::Upstream(other.to_string()),
        })?;
    let actor = format!("user:{}", user.0.email);
    let (channel, _) = keep_slack_install(
        state.store.as_ref(),
        keys,
        community.id,
        &installation,
        &actor,
    )
    .await?;
    // The first import now, so the roster fills while the lead watches.
    if let Ok(engine) = state.sync_engine()
        && let Err(e) = engine.run(channel.id, RunMode::Apply).await
    {
        tracing::warn!(channel = %channel.id, error = %e, "the first Slack import failed");
    }
    let to = format!(
        "/communities/{}/channels?connected={}",
        community.slug,
        url::form_urlencoded::byte_serialize(channel.name.as_bytes()).collect::<String>()
    );
    Ok(Redirect::to(&to).into_response())
}

pub(crate) async fn conversations(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?;
    let groups = state.sync_engine()?.groups(channel.id).await?;
    let chosen: Vec<String> = channel.settings["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    let groups = groups
        .into_iter()
        .map(|group| GroupRow {
            chosen: chosen.contains(&group.id),
            announces: chosen.first() == Some(&group.id),
            group,
        })
        .collect();
    let keeps_in_step = state
        .store
        .sync_job_of(channel.id)
        .await?
        .is_some_and(|job| job.direction == SyncDirection::Mirror);
    Ok(Html(
        ConversationsPage {
            nav: nav(&user, &csrf),
            community,
            channel,
            groups,
            keeps_in_step,
        }
        .render()?,
    ))
}

pub(crate) async fn choose_conversations(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, AppError> {
    // Repeated `conversation` fields: read the pairs as they come.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect::<Vec<_>>()
    };
    csrf.verify(field("csrf").first().map_or("", String::as_str))?;
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?;
    let mut chosen = field("conversation");
    if let Some(announce) = field("announce").into_iter().next() {
        if !chosen.contains(&announce) {
            return Err(AppError::Invalid(
                "the conversation for announcements must be one of those in use".into(),
            ));
        }
        chosen.retain(|id| *id != announce);
        chosen.insert(0, announce);
    }
    let available = state.sync_engine()?.groups(channel.id).await?;
    choose_groups(
        state.store.as_ref(),
        &channel,
        &chosen,
        &available,
        &format!("user:{}", user.0.email),
    )
    .await
    .map_err(|e| match e {
        ChooseError::Unknown(_) => AppError::Invalid(e.to_string()),
        ChooseError::Store(e) => e.into(),
    })?;
    // Whether the sync only reads Slack's people, or also invites members
    // who consent and takes out those who left or opted out.
    let direction = match field("sync").first().map(String::as_str) {
        None => None,
        Some("import") => Some(SyncDirection::Import),
        Some("mirror") => Some(SyncDirection::Mirror),
        Some(other) => {
            return Err(AppError::Invalid(format!(
                "sync {other:?} must be import or mirror"
            )));
        }
    };
    if let Some(direction) = direction {
        hub_core::sync::change_direction(
            state.store.as_ref(),
            &channel,
            direction,
            &format!("user:{}", user.0.email),
        )
        .await?;
    }
    Ok(Redirect::to(&format!("/communities/{}/channels", community.slug)).into_response())
}
