//! A community's archive of past announcements, as its readers meet it
//! (`/c/{slug}/announcements`: the list, newest first, and each
//! announcement rendered from its Markdown), and the lead's setting of who
//! may read it (`/communities/{slug}/archive`).
//!
//! Who reads is `hub_core::archive::admission`'s rule. A members-only
//! archive asks for an address; the sign-in link mailed to a member is a
//! page with a button (mail scanners open links too), and the button opens
//! a reader session: a cookie of this community's own, holding a token
//! signed for the community, the member and twelve hours, with no database
//! row. A logged-in lead or owner reads without one.

use askama::Template;
use axum::{
    Form,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use hub_core::{
    Email,
    access::{actor, visible_community},
    archive::{self, Admission, ArchiveError, Reader},
    ids::AnnouncementId,
    markdown,
    membership::{self, MembershipError},
    model::community::{ArchiveVisibility, Community},
};
use serde::Deserialize;

use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    session::{CurrentUser, cookie_header, cookie_name, read_cookie},
    templates::{
        ArchiveAskPage, ArchiveEntryPage, ArchiveGonePage, ArchivePage, ArchiveRow,
        ConfirmLinkPage, Nav,
    },
};

/// The reader cookie's name, before the community's slug: each community's
/// archive has its own, so a member of two reads both.
const READER_COOKIE: &str = "cophub_archive_";

fn nav(csrf: &CsrfToken) -> Nav {
    Nav {
        user_email: None,
        csrf: csrf.0.clone(),
    }
}

fn list_path(community: &Community) -> String {
    format!("/c/{}/announcements", community.slug)
}

fn reader_cookie(state: &AppState, community: &Community) -> String {
    cookie_name(
        &format!("{READER_COOKIE}{}", community.slug),
        state.settings.https(),
    )
}

async fn public_community(state: &AppState, slug: &str) -> Result<Community, AppError> {
    state
        .store
        .community_by_slug(slug)
        .await?
        .ok_or_else(|| AppError::NotFound("This community".into()))
}

fn no_archive() -> AppError {
    AppError::NotFound("This community's archive".into())
}

/// Who is asking: a lead (or owner) by their dashboard login, a member by
/// this archive's reader cookie, or anyone.
async fn reader(
    state: &AppState,
    user: Result<CurrentUser, AppError>,
    headers: &HeaderMap,
    community: &Community,
) -> Result<Reader, AppError> {
    match user {
        Ok(user) => {
            let store = state.store.as_ref();
            if visible_community(store, &user.0, community.slug.as_str())
                .await?
                .is_some()
            {
                return Ok(Reader::Lead);
            }
        }
        Err(AppError::LoginRequired) => {}
        Err(other) => return Err(other),
    }
    let Some(token) = read_cookie(headers, &reader_cookie(state, community)) else {
        return Ok(Reader::Anyone);
    };
    let signer = state.secret_keys()?.signer(archive::SESSION_PURPOSE);
    let Some(member) = archive::read_session_token(&signer, token, community.id, state.clock.now())
    else {
        return Ok(Reader::Anyone);
    };
    Ok(
        match archive::session_member(state.store.as_ref(), community, member).await? {
            Some(_) => Reader::Member,
            None => Reader::Anyone,
        },
    )
}

/// The form asking for an address: empty, with an error, or saying a link
/// may be on its way.
fn ask_page(
    csrf: &CsrfToken,
    community: Community,
    status: StatusCode,
    email: String,
    error: Option<String>,
    sent_to: Option<String>,
) -> Result<Response, AppError> {
    let page = ArchiveAskPage {
        nav: nav(csrf),
        community,
        email,
        error,
        sent_to,
        link_minutes: archive::LINK_MINUTES,
        session_hours: archive::SESSION_HOURS,
        resend_minutes: membership::RESEND_AFTER_MINUTES,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}

/// A moment as the archive shows it: a date in the community's zone, and
/// the instant for `<time datetime>`.
fn shown(community: &Community, at: DateTime<Utc>) -> (String, String) {
    (
        at.with_timezone(&community.zone())
            .format("%-d %B %Y")
            .to_string(),
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// GET `/c/{slug}/announcements`: a page of the archive, or the form
/// asking for an address; `?cursor=` is where the page before ended.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: Result<CurrentUser, AppError>,
    headers: HeaderMap,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let community = public_community(&state, &slug).await?;
    let reader = reader(&state, user, &headers, &community).await?;
    match archive::admission(community.archive, reader) {
        Admission::NotFound => Err(no_archive()),
        Admission::AskForLink => {
            ask_page(&csrf, community, StatusCode::OK, String::new(), None, None)
        }
        Admission::Read => {
            let cursor = query.as_deref().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(key, _)| key == "cursor")
                    .map(|(_, value)| value.into_owned())
            });
            let page = archive::page(
                state.store.as_ref(),
                &community,
                cursor.as_deref(),
                state.clock.now(),
            )
            .await
            .map_err(archive_error)?;
            let entries = page
                .items
                .iter()
                .map(|announcement| {
                    let (date, datetime) = shown(&community, archive::published_at(announcement));
                    ArchiveRow {
                        id: announcement.id.to_string(),
                        title: announcement.title.clone(),
                        date,
                        datetime,
                    }
                })
                .collect();
            let page = ArchivePage {
                nav: nav(&csrf),
                community,
                entries,
                next: page.next_cursor,
                signed_in: reader == Reader::Member,
            }
            .render()?;
            Ok(Html(page).into_response())
        }
    }
}

/// GET `/c/{slug}/announcements/{id}`: one announcement, its Markdown
/// rendered and sanitized by the renderer list mail uses.
pub(crate) async fn show(
    State(state): State<AppState>,
    user: Result<CurrentUser, AppError>,
    headers: HeaderMap,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let community = public_community(&state, &slug).await?;
    let reader = reader(&state, user, &headers, &community).await?;
    match archive::admission(community.archive, reader) {
        Admission::NotFound => Err(no_archive()),
        Admission::AskForLink => {
            ask_page(&csrf, community, StatusCode::OK, String::new(), None, None)
        }
        Admission::Read => {
            let id: AnnouncementId = id
                .parse()
                .map_err(|_| AppError::NotFound("This announcement".into()))?;
            match archive::entry(state.store.as_ref(), &community, id, state.clock.now()).await {
                Ok(announcement) => {
                    let (date, datetime) = shown(&community, archive::published_at(&announcement));
                    let page = ArchiveEntryPage {
                        nav: nav(&csrf),
                        html: markdown::render(&announcement.body_markdown).html,
                        title: announcement.title,
                        date,
                        datetime,
                        edited: announcement.revision > 1,
                        community,
                    }
                    .render()?;
                    Ok(Html(page).into_response())
                }
                Err(ArchiveError::Retracted) => {
                    let page = ArchiveGonePage {
                        nav: nav(&csrf),
                        community,
                    }
                    .render()?;
                    Ok((StatusCode::GONE, Html(page)).into_response())
                }
                Err(other) => Err(archive_error(other)),
            }
        }
    }
}

fn archive_error(error: ArchiveError) -> AppError {
    match error {
        ArchiveError::NotFound => AppError::NotFound("This announcement".into()),
        ArchiveError::Retracted => AppError::Gone(error.to_string()),
        ArchiveError::Cursor(e) => AppError::BadRequest(e.to_string()),
        ArchiveError::Store(e) => e.into(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// POST `/c/{slug}/announcements`: mails a sign-in link, if the address is
/// an active member's. The answer is sent before the mail and is the same
/// whatever becomes of it, so neither its words nor its timing tell whether
/// the address is a member's; a failed send is logged.
pub(crate) async fn request_link(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<AskForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    match archive::admission(community.archive, Reader::Anyone) {
        Admission::NotFound => return Err(no_archive()),
        Admission::Read => return Ok(Redirect::to(&list_path(&community)).into_response()),
        Admission::AskForLink => {}
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(error) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return ask_page(
                &csrf,
                community,
                status,
                form.email,
                Some(error.to_string()),
                None,
            );
        }
    };
    let Some(mailer) = state.mailer.clone() else {
        let error = MembershipError::NoMailer.to_string();
        let status = StatusCode::SERVICE_UNAVAILABLE;
        return ask_page(&csrf, community, status, form.email, Some(error), None);
    };
    let store = state.store.clone();
    let public_url = state.settings.public_url.clone();
    let now = state.clock.now();
    let to = community.clone();
    let address = email.clone();
    tokio::spawn(async move {
        let slug = to.slug.as_str();
        match archive::mail_link(
            store.as_ref(),
            mailer.as_ref(),
            &public_url,
            &to,
            &address,
            now,
        )
        .await
        {
            Ok(asked) => tracing::debug!(community = slug, ?asked, "archive link asked for"),
            Err(error) => tracing::warn!(community = slug, %error, "archive link not sent"),
        }
    });
    ask_page(
        &csrf,
        community,
        StatusCode::OK,
        String::new(),
        None,
        Some(email.to_string()),
    )
}

/// GET `/c/{slug}/announcements/sign-in/{token}`: the button that uses the
/// link.
pub(crate) async fn link_page(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = public_community(&state, &slug).await?;
    if !community.archive.is_on() {
        return Err(no_archive());
    }
    Ok(Html(
        ConfirmLinkPage {
            nav: nav(&csrf),
            heading: "Read past announcements",
            text: format!(
                "Press the button to read the past announcements of {} on this browser for {} hours.",
                community.name,
                archive::SESSION_HOURS
            ),
            action: format!("{}/sign-in/{token}", list_path(&community)),
            button: "Sign in",
            community,
        }
        .render()?,
    ))
}

/// POST `/c/{slug}/announcements/sign-in/{token}`: uses the link up and
/// opens a reader session.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, token)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    if !community.archive.is_on() {
        return Err(no_archive());
    }
    let now = state.clock.now();
    let member = match archive::sign_in(state.store.as_ref(), &community, &token, now).await {
        Ok(member) => member,
        Err(MembershipError::Store(e)) => return Err(e.into()),
        Err(error) => return Err(AppError::Gone(error.to_string())),
    };
    let signer = state.secret_keys()?.signer(archive::SESSION_PURPOSE);
    let session = archive::session_token(
        &signer,
        community.id,
        member.id,
        archive::session_expiry(now),
    );
    let cookie = cookie_header(
        &reader_cookie(&state, &community),
        &session,
        archive::SESSION_HOURS * 3600,
        state.settings.https(),
    );
    let mut response = Redirect::to(&list_path(&community)).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// POST `/c/{slug}/announcements/sign-out`: ends the reader session.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = public_community(&state, &slug).await?;
    let cookie = cookie_header(
        &reader_cookie(&state, &community),
        "",
        0,
        state.settings.https(),
    );
    let mut response = Redirect::to(&list_path(&community)).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SettingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    archive: String,
}

/// POST `/communities/{slug}/archive`: a lead sets who may read the
/// archive (audited).
pub(crate) async fn change(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<SettingForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = super::community(&state, &user, &slug).await?;
    let visibility: ArchiveVisibility = form
        .archive
        .parse()
        .map_err(|e: hub_core::model::UnknownWord| AppError::Invalid(e.to_string()))?;
    archive::set_visibility(
        state.store.as_ref(),
        &community,
        visibility,
        &actor(&user.0),
    )
    .await?;
    Ok(Redirect::to(&format!("/communities/{}#archive", community.slug)).into_response())
}
