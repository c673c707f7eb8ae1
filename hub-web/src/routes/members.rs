//! A community's roster on the dashboard: the list with search, filters and
//! cursor pages; adding and changing a member; CSV import and export.

use askama::Template;
use axum::{
    Form,
    extract::{Multipart, Path, Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    Email,
    access::actor,
    ids::MemberId,
    model::{
        community::Community,
        member::{
            CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, Member, MemberQuery,
            MemberState, MemberUpdate, NewMember, clean_name,
        },
    },
    page::decode_cursor,
    ports::store::StoreError,
    roster::{ImportError, ImportOptions, add_member, change_member, export_csv, import_csv},
};
use serde::Deserialize;

use super::{community, nav};
use crate::{
    AppState,
    csrf::CsrfToken,
    error::AppError,
    session::CurrentUser,
    templates::{
        CallJoined, ImportPage, ImportResult, MemberFormPage, MemberFormValues, RosterPage,
        RosterRow,
    },
};

/// Rows per roster page.
const PAGE_SIZE: u32 = 50;

/// The newest audit entries a member's page shows; the audit log has all.
const HISTORY_ROWS: u32 = 20;

/// The roster's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RosterParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    absent: String,
    #[serde(default)]
    after: String,
}

/// Reads the roster's filters; an unknown value is a 400 naming it.
pub(crate) fn member_query(
    q: &str,
    role: &str,
    state: &str,
    consent: &str,
    absent: &str,
    after: &str,
    limit: u32,
) -> Result<MemberQuery, AppError> {
    let bad = |e: hub_core::model::UnknownWord| AppError::BadRequest(e.to_string());
    let consent = match consent.split_once(':') {
        _ if consent.is_empty() => None,
        Some((channel, status)) => Some((
            channel.parse::<ConsentChannel>().map_err(bad)?,
            status.parse::<ConsentStatus>().map_err(bad)?,
        )),
        None => {
            return Err(AppError::BadRequest(format!(
                "consent {consent:?} must be channel:status, e.g. email:opted_out"
            )));
        }
    };
    Ok(MemberQuery {
        search: Some(q.trim().to_owned()).filter(|s| !s.is_empty()),
        role: (!role.is_empty())
            .then(|| role.parse())
            .transpose()
            .map_err(bad)?,
        state: (!state.is_empty())
            .then(|| state.parse())
            .transpose()
            .map_err(bad)?,
        consent,
        absent: (!absent.is_empty())
            .then(|| absent.parse())
            .transpose()
            .map_err(bad)?,
        after: (!after.is_empty())
            .then(|| decode_cursor(after))
            .transpose()
            .map_err(|e| AppError::BadRequest(e.to_string()))?,
        limit,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Query(params): Query<RosterParams>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let query = member_query(
        &params.q,
        &params.role,
        &params.state,
        &params.consent,
        &params.absent,
        &params.after,
        PAGE_SIZE,
    )?;
    let page = state.store.list_members(community.id, &query).await?;
    let link = |after: Option<&str>| {
        let mut pairs = vec![
            ("q", params.q.as_str()),
            ("role", params.role.as_str()),
            ("state", params.state.as_str()),
            ("consent", params.consent.as_str()),
            ("absent", params.absent.as_str()),
        ];
        if let Some(after) = after {
            pairs.push(("after", after));
        }
        let query = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        format!("/communities/{}/members?{query}", community.slug)
    };
    let next_url = page.next_cursor.as_deref().map(|c| link(Some(c)));
    let first_url = (!params.after.is_empty()).then(|| link(None));
    let rows = page
        .items
        .into_iter()
        .map(|member| RosterRow {
            email_consent: member.consent(ConsentChannel::Email).as_str(),
            slack_consent: member.consent(ConsentChannel::Slack).as_str(),
            zoom_consent: member.consent(ConsentChannel::Zoom).as_str(),
            conference_consent: member.consent(ConsentChannel::Conference).as_str(),
            member,
        })
        .collect();
    Ok(Html(
        RosterPage {
            nav: nav(&user, &csrf),
            community,
            rows,
            q: params.q,
            role: params.role,
            state: params.state,
            consent: params.consent,
            absent: params.absent,
            next_url,
            first_url,
        }
        .render()?,
    ))
}

/// Percent-encodes a query value (everything but unreserved characters).
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    member: Option<Member>,
    values: MemberFormValues,
    error: Option<String>,
) -> Result<String, AppError> {
    let bounces = match &member {
        Some(m) => state.store.bounce_record(m.id).await?,
        None => None,
    };
    let mut attended = Vec::new();
    if let Some(m) = &member {
        for call in state.store.community_calls(community.id).await? {
            for time in state.store.call_attendance(call.id).await? {
                if time.member_id == Some(m.id) {
                    attended.push(CallJoined {
                        title: call.title.clone(),
                        joined_at: time.joined_at,
                    });
                }
            }
        }
        attended.sort_by_key(|row| std::cmp::Reverse(row.joined_at));
    }
    // The channel accounts a lead linked to them by hand, by channel name.
    let mut linked = Vec::new();
    if let Some(m) = &member {
        let channels = state.store.channels(community.id).await?;
        for (channel, account) in state.store.member_account_links(m.id).await? {
            let channel = channels
                .iter()
                .find(|c| c.id == channel)
                .map_or_else(|| "a removed channel".to_owned(), |c| c.name.clone());
            linked.push((channel, account));
        }
    }
    // What people and syncs changed about this member, newest first.
    let history = match &member {
        Some(m) => {
            state
                .store
                .audit_page(&hub_core::model::audit::AuditQuery {
                    community: Some(community.id),
                    subject: Some(m.email.normalized().to_owned()),
                    limit: HISTORY_ROWS,
                    ..Default::default()
                })
                .await?
                .items
        }
        None => Vec::new(),
    };
    Ok(MemberFormPage {
        nav: nav(user, csrf),
        community,
        member,
        bounces,
        attended,
        linked,
        history,
        values,
        error,
    }
    .render()?)
}

/// Turns email delivery back on after bounces stopped it.
pub(crate) async fn resume_email(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<crate::csrf::TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let member = find_member(&state, &community, &id).await?;
    hub_core::bounces::resume(
        state.store.as_ref(),
        &member,
        &hub_core::access::actor(&user.0),
    )
    .await?;
    Ok(Redirect::to(&format!("/communities/{slug}/members/{}", member.id)).into_response())
}

pub(crate) async fn new(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    Ok(Html(
        form_page(
            &state,
            &user,
            &csrf,
            community,
            None,
            MemberFormValues::default(),
            None,
        )
        .await?,
    ))
}

/// A member form's fields, checked.
struct CheckedForm {
    name: String,
    role: CommunityRole,
    state: MemberState,
    email_consent: ConsentStatus,
}

fn check_form(values: &MemberFormValues) -> Result<CheckedForm, String> {
    let name = clean_name(&values.name).map_err(|e| e.to_string())?;
    let role = if values.role.is_empty() {
        Ok(CommunityRole::Member)
    } else {
        values.role.parse()
    };
    let state = if values.state.is_empty() {
        Ok(MemberState::Active)
    } else {
        values.state.parse()
    };
    let consent = if values.email_consent.is_empty() {
        Ok(ConsentStatus::None)
    } else {
        values.email_consent.parse()
    };
    Ok(CheckedForm {
        name,
        role: role.map_err(|e| e.to_string())?,
        state: state.map_err(|e| e.to_string())?,
        email_consent: consent.map_err(|e| e.to_string())?,
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(values): Form<MemberFormValues>,
) -> Result<Response, AppError> {
    csrf.verify(&values.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let checked = check_form(&values).and_then(|c| {
        Email::parse(&values.email)
            .map(|email| (email, c))
            .map_err(|e| e.to_string())
    });
    let (email, checked) = match checked {
        Ok(ok) => ok,
        Err(message) => {
            let page =
                form_page(&state, &user, &csrf, community, None, values, Some(message)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let member = NewMember {
        email,
        name: checked.name,
        role: checked.role,
        email_consent: Some(checked.email_consent).filter(|c| *c != ConsentStatus::None),
    };
    match add_member(state.store.as_ref(), community.id, member, &actor(&user.0)).await {
        Ok(created) => Ok(Redirect::to(&format!(
            "/communities/{}/members/{}",
            community.slug, created.id
        ))
        .into_response()),
        Err(StoreError::Conflict(message)) => {
            let page =
                form_page(&state, &user, &csrf, community, None, values, Some(message)).await?;
            Ok((StatusCode::CONFLICT, Html(page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn find_member(
    state: &AppState,
    community: &Community,
    id: &str,
) -> Result<Member, AppError> {
    let id: MemberId = id
        .parse()
        .map_err(|_| AppError::NotFound("This member".into()))?;
    state
        .store
        .member(community.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("This member".into()))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let member = find_member(&state, &community, &id).await?;
    let values = MemberFormValues {
        email: member.email.to_string(),
        name: member.name.clone(),
        role: member.role.to_string(),
        state: member.state.to_string(),
        email_consent: member.consent(ConsentChannel::Email).to_string(),
        csrf: String::new(),
    };
    Ok(Html(
        form_page(&state, &user, &csrf, community, Some(member), values, None).await?,
    ))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
    Form(values): Form<MemberFormValues>,
) -> Result<Response, AppError> {
    csrf.verify(&values.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let member = find_member(&state, &community, &id).await?;
    let checked = match check_form(&values) {
        Ok(checked) => checked,
        Err(message) => {
            let page = form_page(
                &state,
                &user,
                &csrf,
                community,
                Some(member),
                values,
                Some(message),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let mut update = MemberUpdate {
        name: Some(checked.name),
        role: Some(checked.role),
        state: Some(checked.state),
        consents: Vec::new(),
    };
    let before = member.consent(ConsentChannel::Email);
    if before != checked.email_consent {
        // A lead's explicit change on the member's page: the one way besides the
        // member's own action that may re-subscribe someone who opted out.
        update.consents.push((
            ConsentChannel::Email,
            checked.email_consent,
            ConsentSource::Lead,
        ));
    }
    let id = member.id;
    change_member(state.store.as_ref(), member, update, &actor(&user.0)).await?;
    Ok(Redirect::to(&format!("/communities/{}/members/{id}", community.slug)).into_response())
}

pub(crate) async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let community = community(&state, &user, &slug).await?;
    let members = state.store.all_members(community.id).await?;
    let disposition = format!("attachment; filename=\"{}-members.csv\"", community.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        export_csv(&members),
    )
        .into_response())
}

fn import_page(
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    result: Option<ImportResult>,
    error: Option<String>,
) -> Result<String, AppError> {
    Ok(ImportPage {
        nav: nav(user, csrf),
        community,
        result,
        error,
    }
    .render()?)
}

pub(crate) async fn import_form(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    Ok(Html(import_page(&user, &csrf, community, None, None)?))
}

pub(crate) async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let community = community(&state, &user, &slug).await?;
    let mut file = None;
    let mut submitted_csrf = String::new();
    let mut options = ImportOptions::default();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("the upload could not be read: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?),
            Some("csrf") => submitted_csrf = field.text().await.map_err(unreadable)?,
            Some("dry_run") => options.dry_run = true,
            Some("skip_invalid") => options.skip_invalid = true,
            _ => {}
        }
    }
    csrf.verify(&submitted_csrf)?;
    let Some(file) = file else {
        let page = import_page(
            &user,
            &csrf,
            community,
            None,
            Some("Choose a CSV file to import.".into()),
        )?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
    };
    let outcome = import_csv(
        state.store.as_ref(),
        &community,
        &file,
        options,
        &actor(&user.0),
    )
    .await;
    let (status, result, error) = match outcome {
        Ok(plan) => (
            StatusCode::OK,
            Some(ImportResult {
                dry_run: options.dry_run,
                rejected: false,
                plan,
            }),
            None,
        ),
        Err(ImportError::Rejected(plan)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(ImportResult {
                dry_run: options.dry_run,
                rejected: true,
                plan,
            }),
            None,
        ),
        Err(ImportError::Unreadable(e)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string()))
        }
        Err(ImportError::Store(StoreError::Conflict(message))) => {
            (StatusCode::CONFLICT, None, Some(message))
        }
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    Ok((
        status,
        Html(import_page(&user, &csrf, community, result, error)?),
    )
        .into_response())
}
