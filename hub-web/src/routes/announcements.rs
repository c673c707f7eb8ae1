//! A community's announcements on the dashboard: the list with a plain
//! compose form, and each announcement's page with every channel's delivery
//! (post, edits, retraction), a retry button for what failed, and edit and
//! retract.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use hub_core::{
    access::actor,
    announcements::{AnnouncementChange, ChannelPreview, change, publish, retry_delivery},
    ids::{AnnouncementId, ChannelId, DeliveryId},
    model::{
        announcement::{Announcement, DeliveryState},
        community::Community,
    },
};
use serde::Deserialize;

use super::{community, nav};
use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    lookup,
    session::CurrentUser,
    templates::{
        AnnouncementPage, AnnouncementRow, AnnouncementsPage, DeliveriesFragment, DeliveryRow,
    },
};

/// How many announcements the list shows.
const LISTED: u32 = 50;

/// The compose form, kept when it is shown again with an error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ComposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body_markdown: String,
    /// The chosen channels' ids (one field per checked box).
    #[serde(default)]
    channel: Vec<String>,
    /// When to send, local to the community (a `datetime-local` field);
    /// empty: now.
    #[serde(default)]
    pub(crate) send_at: String,
}

/// When the form asks to send: `None` for now, else the instant its local
/// time names in the community's timezone.
fn send_time(community: &Community, form: &ComposeForm) -> Result<Option<DateTime<Utc>>, String> {
    let text = form.send_at.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let local = hub_core::calls::schedule::read_local(text).ok_or_else(|| {
        format!("Send at: {text:?} is not a date and time like 2027-01-12T10:00.")
    })?;
    Ok(Some(hub_core::calls::recurrence::local_instant(
        community.zone(),
        local,
    )))
}

async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    form: ComposeForm,
    error: Option<String>,
) -> Result<String, AppError> {
    compose_page(state, user, csrf, community, form, error, Vec::new()).await
}

/// The list with the compose form, filled in, and the previews asked for.
async fn compose_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    form: ComposeForm,
    error: Option<String>,
    previews: Vec<ChannelPreview>,
) -> Result<String, AppError> {
    let channels = state.store.channels(community.id).await?;
    let mut rows = Vec::new();
    for announcement in state.store.announcements(community.id, LISTED).await? {
        let deliveries = state.store.deliveries(announcement.id).await?;
        let states = deliveries
            .iter()
            .map(|d| {
                let name = channels
                    .iter()
                    .find(|c| c.id == d.channel_id)
                    .map_or("?", |c| c.name.as_str());
                format!("{name} {} {}", d.action, d.state)
            })
            .collect::<Vec<_>>()
            .join(" · ");
        rows.push(AnnouncementRow {
            announcement,
            states,
        });
    }
    Ok(AnnouncementsPage {
        nav: nav(user, csrf),
        community,
        channels,
        rows,
        title: form.title,
        body_markdown: form.body_markdown,
        send_at: form.send_at,
        chosen: form.channel,
        error,
        previews,
    }
    .render()?)
}

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    Ok(Html(
        list_page(
            &state,
            &user,
            &csrf,
            community,
            ComposeForm::default(),
            None,
        )
        .await?,
    ))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    raw: axum::extract::RawForm,
) -> Result<Response, AppError> {
    // Repeated `channel` fields: parsed from the raw form, which the plain
    // `Form` extractor cannot collect into a list.
    let form = compose_form(&raw.0);
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let targets = chosen_targets(&state, &community, &form).await?;
    let send_at = match send_time(&community, &form) {
        Ok(at) => at,
        Err(message) => {
            let page = list_page(&state, &user, &csrf, community, form, Some(message)).await?;
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let published = publish(
        state.store.as_ref(),
        state.clock.now(),
        community.id,
        &form.title,
        &form.body_markdown,
        targets,
        send_at,
        &actor(&user.0),
    )
    .await;
    match published {
        Ok((announcement, _)) => Ok(to_page(&community, announcement.id)),
        Err(hub_core::announcements::PublishError::Store(e)) => Err(e.into()),
        Err(invalid) => {
            let page = list_page(
                &state,
                &user,
                &csrf,
                community,
                form,
                Some(invalid.to_string()),
            )
            .await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
    }
}

/// The channels the form chose, each once; one not of this community is a 400.
async fn chosen_targets(
    state: &AppState,
    community: &Community,
    form: &ComposeForm,
) -> Result<Vec<ChannelId>, AppError> {
    let channels = state.store.channels(community.id).await?;
    let mut targets = Vec::new();
    for id in &form.channel {
        let id: Option<ChannelId> = id.parse().ok();
        match id.filter(|id| channels.iter().any(|c| c.id == *id)) {
            Some(id) if !targets.contains(&id) => targets.push(id),
            Some(_) => {}
            None => {
                return Err(AppError::BadRequest(
                    "a chosen channel is not one of this community's".into(),
                ));
            }
        }
    }
    Ok(targets)
}

/// The compose form again, with the draft as each chosen channel will show
/// it; nothing is sent or kept.
pub(crate) async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    raw: axum::extract::RawForm,
) -> Result<Response, AppError> {
    let form = compose_form(&raw.0);
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let targets = chosen_targets(&state, &community, &form).await?;
    let previewed = hub_core::announcements::preview(
        state.sync_engine()?,
        state.clock.now(),
        community.id,
        &form.title,
        &form.body_markdown,
        &targets,
        &actor(&user.0),
    )
    .await;
    let (status, error, previews) = match previewed {
        Ok(previews) => (axum::http::StatusCode::OK, None, previews),
        Err(hub_core::announcements::PublishError::Store(e)) => return Err(e.into()),
        Err(invalid) => (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Some(invalid.to_string()),
            Vec::new(),
        ),
    };
    let page = compose_page(&state, &user, &csrf, community, form, error, previews).await?;
    Ok((status, Html(page)).into_response())
}

fn compose_form(body: &[u8]) -> ComposeForm {
    let mut form = ComposeForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "csrf" => form.csrf = value.into_owned(),
            "title" => form.title = value.into_owned(),
            "body_markdown" => form.body_markdown = value.into_owned(),
            "channel" => form.channel.push(value.into_owned()),
            "send_at" => form.send_at = value.into_owned(),
            _ => {}
        }
    }
    form
}

pub(crate) async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let announcement = lookup::announcement(&state, &community, &id).await?;
    Ok(Html(
        show_page(&state, &user, &csrf, community, announcement, None).await?,
    ))
}

async fn show_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    announcement: Announcement,
    error: Option<String>,
) -> Result<String, AppError> {
    let deliveries = delivery_rows(state, &community, &announcement).await?;
    Ok(AnnouncementPage {
        nav: nav(user, csrf),
        live: still_moving(&deliveries),
        community,
        announcement,
        deliveries,
        error,
    }
    .render()?)
}

/// Each delivery with its channel's name.
async fn delivery_rows(
    state: &AppState,
    community: &Community,
    announcement: &Announcement,
) -> Result<Vec<DeliveryRow>, AppError> {
    let channels = state.store.channels(community.id).await?;
    Ok(state
        .store
        .deliveries(announcement.id)
        .await?
        .into_iter()
        .map(|delivery| DeliveryRow {
            channel_name: channels
                .iter()
                .find(|c| c.id == delivery.channel_id)
                .map_or_else(|| "?".to_owned(), |c| c.name.clone()),
            retryable: matches!(delivery.state, DeliveryState::Failed | DeliveryState::Dead),
            delivery,
        })
        .collect())
}

/// Whether some delivery may still change by itself (the page then keeps
/// its table up to date).
fn still_moving(rows: &[DeliveryRow]) -> bool {
    rows.iter().any(|row| {
        matches!(
            row.delivery.state,
            DeliveryState::Pending | DeliveryState::Sending | DeliveryState::RetryWait
        )
    })
}

/// The deliveries table alone, which the announcement's page fetches again
/// while a delivery is still on its way.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let announcement = lookup::announcement(&state, &community, &id).await?;
    let deliveries = delivery_rows(&state, &community, &announcement).await?;
    Ok(Html(
        DeliveriesFragment {
            nav: nav(&user, &csrf),
            live: still_moving(&deliveries),
            community,
            announcement,
            deliveries,
        }
        .render()?,
    ))
}

/// The edit form.
#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body_markdown: String,
}

pub(crate) async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let current = lookup::announcement(&state, &community, &id).await?;
    let edit = AnnouncementChange::Edit {
        title: form.title,
        body_markdown: form.body_markdown,
    };
    changed(&state, &user, &csrf, community, current, edit).await
}

pub(crate) async fn retract(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let current = lookup::announcement(&state, &community, &id).await?;
    changed(
        &state,
        &user,
        &csrf,
        community,
        current,
        AnnouncementChange::Retract,
    )
    .await
}

async fn changed(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    current: Announcement,
    edit: AnnouncementChange,
) -> Result<Response, AppError> {
    let result = change(
        state.store.as_ref(),
        state.clock.now(),
        current.id,
        edit,
        &actor(&user.0),
    )
    .await;
    match result {
        Ok(_) => Ok(to_page(&community, current.id)),
        Err(hub_core::announcements::PublishError::Store(e)) => Err(e.into()),
        Err(invalid) => {
            let page = show_page(
                state,
                user,
                csrf,
                community,
                current,
                Some(invalid.to_string()),
            )
            .await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
    }
}

pub(crate) async fn retry(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id, delivery)): Path<(String, String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let current = lookup::announcement(&state, &community, &id).await?;
    let delivery: DeliveryId = lookup::id(&delivery, "This delivery")?;
    retry_delivery(
        state.store.as_ref(),
        state.clock.now(),
        current.id,
        delivery,
        &actor(&user.0),
    )
    .await?;
    Ok(to_page(&community, current.id))
}

fn to_page(community: &Community, announcement: AnnouncementId) -> Response {
    Redirect::to(&format!(
        "/communities/{}/announcements/{announcement}",
        community.slug
    ))
    .into_response()
}
