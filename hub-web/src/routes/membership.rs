//! Public pages where people act on their own membership, through links
//! mailed to them: join the email list (double opt-in) and choose how the
//! community reaches them. A mailed link opens a page with a button; only
//! the button acts, because mail scanners open links too.

use std::sync::Arc;

use askama::Template;
use axum::{
    Form,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use hub_core::{
    membership::{self, MembershipError, Preferences},
    model::{
        community::Community,
        member::{ConsentChannel, ConsentStatus},
    },
};
use serde::Deserialize;

use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    templates::{
        ChannelChoice, ConfirmLinkPage, JoinPage, Nav, NoticePage, PreferencesPage,
        PreferencesRequestPage,
    },
};

fn nav(csrf: &CsrfToken) -> Nav {
    Nav {
        user_email: None,
        csrf: csrf.0.clone(),
    }
}

async fn public_community(state: &AppState, slug: &str) -> Result<Community, AppError> {
    state
        .store
        .community_by_slug(slug)
        .await?
        .ok_or_else(|| AppError::NotFound("This community".into()))
}

fn mailer(state: &AppState) -> Option<&dyn hub_core::ports::mailer::Mailer> {
    state.mailer.as_ref().map(Arc::as_ref)
}

/// A membership error as a status and a sentence for the person.
fn refusal(error: MembershipError) -> Result<(StatusCode, String), AppError> {
    let status = match error {
        MembershipError::Email(_) | MembershipError::Name => StatusCode::UNPROCESSABLE_ENTITY,
        MembershipError::TooSoon => StatusCode::TOO_MANY_REQUESTS,
        MembershipError::SpentLink => StatusCode::GONE,
        MembershipError::NoMailer | MembershipError::Mail(_) => StatusCode::SERVICE_UNAVAILABLE,
        MembershipError::Store(e) => return Err(e.into()),
    };
    Ok((status, error.to_string()))
}

fn notice(
    csrf: &CsrfToken,
    community: Community,
    status: StatusCode,
    heading: &'static str,
    text: String,
) -> Result<Response, AppError> {
    let page = NoticePage {
        nav: nav(csrf),
        community,
        heading,
        text,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}

pub(crate) async fn join_form(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = public_community(&state, &slug).await?;
    Ok(Html(
        JoinPage {
            nav: nav(&csrf),
            community,
            email: String::new(),
            name: String::new(),
            error: None,
        }
        .render()?,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct JoinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

pub(crate) async fn join(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    let asked = membership::request_join(
        state.store.as_ref(),
        mailer(&state),
        &state.settings.public_url,
        &community,
        &form.email,
        &form.name,
        state.clock.now(),
    )
    .await;
    match asked {
        Ok(()) => notice(
            &csrf,
            community,
            StatusCode::OK,
            "Check your inbox",
            format!(
                "We mailed a confirmation link to {}. Open it within {} days to join.",
                form.email.trim(),
                membership::JOIN_LINK_DAYS
            ),
        ),
        Err(error) => {
            let (status, message) = refusal(error)?;
            let page = JoinPage {
                nav: nav(&csrf),
                community,
                email: form.email,
                name: form.name,
                error: Some(message),
            }
            .render()?;
            Ok((status, Html(page)).into_response())
        }
    }
}

pub(crate) async fn join_link(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = public_community(&state, &slug).await?;
    Ok(Html(
        ConfirmLinkPage {
            nav: nav(&csrf),
            heading: "Confirm your subscription",
            text: format!(
                "Press the button to join the email list of {}.",
                community.name
            ),
            action: format!("/c/{slug}/join/{token}"),
            button: "Confirm",
            community,
        }
        .render()?,
    ))
}

pub(crate) async fn confirm_join(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    match membership::confirm_join(state.store.as_ref(), &community, &token, state.clock.now())
        .await
    {
        Ok(member) => {
            let text = format!(
                "{} is on the email list of {}. Every message has a link to leave.",
                member.email, community.name
            );
            notice(&csrf, community, StatusCode::OK, "You are subscribed", text)
        }
        Err(error) => {
            let (status, message) = refusal(error)?;
            notice(&csrf, community, status, "This link does not work", message)
        }
    }
}

pub(crate) async fn preferences_form(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = public_community(&state, &slug).await?;
    Ok(Html(
        PreferencesRequestPage {
            nav: nav(&csrf),
            community,
            error: None,
        }
        .render()?,
    ))
}

pub(crate) async fn request_preferences(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    let asked = membership::request_preferences(
        state.store.as_ref(),
        mailer(&state),
        &state.settings.public_url,
        &community,
        &form.email,
        state.clock.now(),
    )
    .await;
    match asked {
        // The same answer whether or not the address is a member.
        Ok(()) => notice(
            &csrf,
            community,
            StatusCode::OK,
            "Check your inbox",
            format!(
                "If {} is a member, a link to its preferences is on its way.",
                form.email.trim()
            ),
        ),
        Err(error) => {
            let (status, message) = refusal(error)?;
            let page = PreferencesRequestPage {
                nav: nav(&csrf),
                community,
                error: Some(message),
            }
            .render()?;
            Ok((status, Html(page)).into_response())
        }
    }
}

/// A channel as the public pages name it.
pub(crate) fn channel_label(channel: ConsentChannel) -> &'static str {
    match channel {
        ConsentChannel::Email => "the email list",
        ConsentChannel::Slack => "Slack",
        ConsentChannel::Zoom => "Zoom calls",
        ConsentChannel::Conference => "conferences",
    }
}

pub(crate) async fn preferences(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let community = public_community(&state, &slug).await?;
    let member = match membership::open_preferences(
        state.store.as_ref(),
        &community,
        &token,
        state.clock.now(),
    )
    .await
    {
        Ok(member) => member,
        Err(error) => {
            let (status, message) = refusal(error)?;
            return notice(&csrf, community, status, "This link does not work", message);
        }
    };
    let channels = ConsentChannel::ALL
        .iter()
        .map(|channel| ChannelChoice {
            value: channel.as_str(),
            label: channel_label(*channel),
            subscribed: member.consent(*channel) == ConsentStatus::Subscribed,
        })
        .collect();
    let page = PreferencesPage {
        nav: nav(&csrf),
        community,
        email: member.email.to_string(),
        token,
        channels,
    }
    .render()?;
    Ok(Html(page).into_response())
}

/// The form has one `channel` field per ticked box, which serde's form
/// decoding cannot gather; it is read by hand.
pub(crate) async fn save_preferences(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut submitted_csrf = String::new();
    let mut leave = false;
    let mut wanted = Vec::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => submitted_csrf = value.into_owned(),
            "action" => leave = value == "leave",
            "channel" => {
                let channel = value
                    .parse::<ConsentChannel>()
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                wanted.push(channel);
            }
            _ => {}
        }
    }
    csrf.verify(&submitted_csrf)?;
    let community = public_community(&state, &slug).await?;
    let choice = if leave {
        Preferences::LeaveEverything
    } else {
        Preferences::Channels(wanted)
    };
    match membership::save_preferences(
        state.store.as_ref(),
        &community,
        &token,
        &choice,
        state.clock.now(),
    )
    .await
    {
        Ok(member) => {
            let text = if leave {
                format!(
                    "{} has left every channel of {}. Nothing more will reach it.",
                    member.email, community.name
                )
            } else {
                format!(
                    "Saved: {} hears from {} only where it is ticked.",
                    member.email, community.name
                )
            };
            notice(
                &csrf,
                community,
                StatusCode::OK,
                "Your preferences are saved",
                text,
            )
        }
        Err(error) => {
            let (status, message) = refusal(error)?;
            notice(&csrf, community, status, "This link does not work", message)
        }
    }
}
