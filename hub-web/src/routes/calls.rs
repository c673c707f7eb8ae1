//! A community's calls on the dashboard: the schedule form, the upcoming and
//! past calls with where each stands in every channel (Zoom, Slack, the
//! email invitations), join and recording links, who came (as Zoom told),
//! the calendar feed to add, and cancelling a call.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    access::actor,
    calls::{
        attendance,
        schedule::{self, CallError, CallRequest},
    },
    model::{call::Call, community::Community},
};
use serde::Deserialize;

use super::{community, nav};
use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    lookup,
    session::CurrentUser,
    templates::{AttendedRow, CallRow, CallsPage, LandingRow},
};

/// The schedule form, kept when it is shown again with an error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) agenda: String,
    /// `YYYY-MM-DDTHH:MM`, as a `datetime-local` field sends it.
    #[serde(default)]
    pub(crate) starts_at: String,
    #[serde(default)]
    pub(crate) timezone: String,
    #[serde(default)]
    pub(crate) duration_minutes: String,
    /// `none`, `daily`, `weekly`, `biweekly` or `monthly`.
    #[serde(default)]
    pub(crate) repeats: String,
    #[serde(default)]
    pub(crate) occurrences: String,
    /// A whole RRULE, which wins over `repeats`.
    #[serde(default)]
    pub(crate) rrule: String,
    #[serde(default)]
    pub(crate) registration: Option<String>,
}

impl ScheduleForm {
    fn defaults(community: &Community) -> Self {
        Self {
            timezone: community.timezone.clone(),
            duration_minutes: "60".into(),
            repeats: "none".into(),
            occurrences: "10".into(),
            ..Self::default()
        }
    }

    /// The call it asks for, or a sentence saying which field is wrong.
    fn request(&self) -> Result<CallRequest, String> {
        let starts_at_local = schedule::read_local(&self.starts_at)
            .ok_or_else(|| "give the start as a date and time (2027-01-12 10:00)".to_owned())?;
        let duration_minutes = self
            .duration_minutes
            .trim()
            .parse()
            .map_err(|_| "give the length in whole minutes".to_owned())?;
        let rrule = if self.rrule.trim().is_empty() {
            let count: u32 =
                self.occurrences.trim().parse().map_err(|_| {
                    "give how many times the call happens as a whole number".to_owned()
                })?;
            match self.repeats.as_str() {
                "" | "none" => None,
                "daily" => Some(format!("FREQ=DAILY;COUNT={count}")),
                "weekly" => Some(format!("FREQ=WEEKLY;COUNT={count}")),
                "biweekly" => Some(format!("FREQ=WEEKLY;INTERVAL=2;COUNT={count}")),
                "monthly" => Some(format!("FREQ=MONTHLY;COUNT={count}")),
                other => return Err(format!("{other:?} is not a choice of repeat")),
            }
        } else {
            Some(self.rrule.trim().to_owned())
        };
        Ok(CallRequest {
            title: self.title.clone(),
            agenda: self.agenda.clone(),
            starts_at_local,
            timezone: self.timezone.clone(),
            duration_minutes,
            rrule,
            registration: self.registration.is_some(),
        })
    }
}

async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    form: ScheduleForm,
    error: Option<String>,
) -> Result<String, AppError> {
    let now = state.clock.now();
    let channels = state.store.channels(community.id).await?;
    let mut upcoming = Vec::new();
    let mut past = Vec::new();
    for call in state.store.community_calls(community.id).await? {
        let landings = state
            .store
            .call_landings(call.id)
            .await?
            .into_iter()
            .map(|landing| {
                let channel = channels.iter().find(|c| c.id == landing.channel_id);
                LandingRow {
                    channel: channel.map_or_else(|| "?".into(), |c| c.name.clone()),
                    kind: channel.map_or_else(String::new, |c| c.kind.to_string()),
                    state: landing.state.as_str(),
                    error: landing.last_error,
                }
            })
            .collect();
        let next = call.next_occurrence(now);
        let attended = attendance::summarize(
            &state.store.call_attendance(call.id).await?,
            &state.store.call_instances(call.id).await?,
        )
        .map(|summary| AttendedRow {
            people: summary.people,
            last: describe_held(&call, &summary),
        });
        let row = CallRow {
            when: describe_next(&call, now),
            repeats: call.recurrence.as_ref().map(ToString::to_string),
            landings,
            attended,
            call,
        };
        if next.is_some() {
            upcoming.push(row);
        } else {
            past.push(row);
        }
    }
    upcoming.sort_by_key(|row| row.call.next_occurrence(now).map(|o| o.starts_at));
    let public_url = state.settings.public_url.trim_end_matches('/');
    Ok(CallsPage {
        nav: nav(user, csrf),
        feed_url: format!("{public_url}/c/{}/calendar.ics", community.slug.as_str()),
        community,
        upcoming,
        past,
        form,
        error,
    }
    .render()?)
}

/// The next occurrence (or the last, for a call that is over), for people.
fn describe_next(call: &Call, now: chrono::DateTime<chrono::Utc>) -> String {
    let occurrence = call
        .next_occurrence(now)
        .or_else(|| call.occurrences().last().copied());
    occurrence.map_or_else(String::new, |o| {
        format!(
            "{} {} · {} min",
            o.starts_at
                .with_timezone(&call.timezone)
                .format("%a %-d %b %Y, %H:%M"),
            call.timezone.name(),
            o.duration_minutes
        )
    })
}

/// When the call was last held, in its own zone: the start, and the end
/// where Zoom told it.
fn describe_held(call: &Call, summary: &attendance::AttendanceSummary) -> String {
    let local = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&call.timezone);
    let started = local(summary.last_started).format("%a %-d %b %Y, %H:%M");
    match summary.last_ended {
        Some(ended) => format!(
            "{started}–{} {}",
            local(ended).format("%H:%M"),
            call.timezone.name()
        ),
        None => format!("{started} {}", call.timezone.name()),
    }
}

/// GET `/communities/{slug}/calls`.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let form = ScheduleForm::defaults(&community);
    Ok(Html(
        list_page(&state, &user, &csrf, community, form, None).await?,
    ))
}

/// POST `/communities/{slug}/calls`: schedules a call in every channel.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let refused = match form.request() {
        Ok(request) => match schedule::schedule(
            state.store.as_ref(),
            community.id,
            &request,
            &actor(&user.0),
            state.clock.now(),
        )
        .await
        {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/communities/{}/calls",
                    community.slug.as_str()
                ))
                .into_response());
            }
            Err(CallError::Store(e)) => return Err(e.into()),
            Err(invalid) => invalid.to_string(),
        },
        Err(sentence) => sentence,
    };
    let page = list_page(&state, &user, &csrf, community, form, Some(refused)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
}

/// POST `/communities/{slug}/calls/{id}/cancel`: cancels the whole call.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let call = lookup::call(&state, &community, &id).await?;
    schedule::cancel(
        state.store.as_ref(),
        call,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(|e| match e {
        CallError::Store(e) => e.into(),
        other => AppError::BadRequest(other.to_string()),
    })?;
    Ok(Redirect::to(&format!("/communities/{}/calls", community.slug.as_str())).into_response())
}
