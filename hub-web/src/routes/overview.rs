//! A community at a glance, the page a lead opens first: each channel's
//! health with what to do about it, the next calls, the last sync runs and
//! the plans waiting for approval, and the deliveries that failed or wait
//! to be tried again.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Html,
};
use chrono::{DateTime, Utc};
use hub_core::{
    model::{
        announcement::{Announcement, Delivery, DeliveryState},
        call::CallStatus,
        channel::{Channel, ChannelHealth},
        community::Community,
        sync::SyncRun,
    },
    sync::StoredPlan,
};

use super::{community, nav};
use crate::{AppState, csrf::CsrfToken, error::AppError, session::CurrentUser, templates::Nav};

/// Calls listed.
const NEXT_CALLS: usize = 5;
/// Recent announcements whose deliveries are looked at.
const RECENT_ANNOUNCEMENTS: u32 = 20;

#[derive(Template)]
#[template(path = "communities/overview.html")]
pub(crate) struct OverviewPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channels: Vec<ChannelRow>,
    pub(crate) calls: Vec<CallRow>,
    pub(crate) runs: Vec<RunRow>,
    pub(crate) held_plans: Vec<HeldRow>,
    pub(crate) deliveries: Vec<DeliveryRow>,
}

/// A channel, its health and where to mend it.
pub(crate) struct ChannelRow {
    pub(crate) channel: Channel,
    pub(crate) health: &'static str,
    pub(crate) last_error: Option<String>,
    /// What a lead does about it, and where.
    pub(crate) fix: Option<(&'static str, String)>,
}

/// A call's next occurrence.
pub(crate) struct CallRow {
    pub(crate) title: String,
    /// Local to the call, with its zone.
    pub(crate) when: String,
    pub(crate) starts_at: DateTime<Utc>,
}

/// A channel's latest sync run.
pub(crate) struct RunRow {
    pub(crate) channel_name: String,
    pub(crate) run: SyncRun,
}

/// A plan a guardrail holds, and why.
pub(crate) struct HeldRow {
    pub(crate) channel_name: String,
    pub(crate) run: SyncRun,
    pub(crate) reason: String,
}

/// A delivery that needs a look.
pub(crate) struct DeliveryRow {
    pub(crate) announcement: Announcement,
    pub(crate) channel_name: String,
    pub(crate) delivery: Delivery,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let store = state.store.as_ref();
    let now = Utc::now();
    let channels = store.channels(community.id).await?;
    let channels_page = format!("/communities/{}/channels", community.slug);

    let mut runs = Vec::new();
    let mut held_plans = Vec::new();
    for channel in &channels {
        let Some(job) = store.sync_job_of(channel.id).await? else {
            continue;
        };
        let recent = store.sync_runs(job.id, 10).await?;
        if let Some(held) = hub_core::sync::held_run(&recent) {
            held_plans.push(HeldRow {
                channel_name: channel.name.clone(),
                reason: StoredPlan::read(&held.plan)
                    .held
                    .map_or_else(|| "a guardrail".to_owned(), |hold| hold.describe()),
                run: held.clone(),
            });
        }
        if let Some(latest) = recent.into_iter().next() {
            runs.push(RunRow {
                channel_name: channel.name.clone(),
                run: latest,
            });
        }
    }
    runs.sort_by_key(|row| std::cmp::Reverse(row.run.started_at));

    let mut calls: Vec<CallRow> = store
        .community_calls(community.id)
        .await?
        .into_iter()
        .filter(|call| call.status != CallStatus::Cancelled)
        .filter_map(|call| {
            let next = call.next_occurrence(now)?;
            Some(CallRow {
                when: format!(
                    "{} {}",
                    next.starts_at
                        .with_timezone(&call.timezone)
                        .format("%a %-d %b %Y, %H:%M"),
                    call.timezone.name()
                ),
                starts_at: next.starts_at,
                title: call.title,
            })
        })
        .collect();
    calls.sort_by_key(|row| row.starts_at);
    calls.truncate(NEXT_CALLS);

    let mut deliveries = Vec::new();
    for announcement in store
        .announcements(community.id, RECENT_ANNOUNCEMENTS)
        .await?
    {
        for delivery in store.deliveries(announcement.id).await? {
            if matches!(
                delivery.state,
                DeliveryState::Failed | DeliveryState::Dead | DeliveryState::RetryWait
            ) {
                let channel_name = channels
                    .iter()
                    .find(|c| c.id == delivery.channel_id)
                    .map_or_else(|| "a removed channel".to_owned(), |c| c.name.clone());
                deliveries.push(DeliveryRow {
                    announcement: announcement.clone(),
                    channel_name,
                    delivery,
                });
            }
        }
    }

    let channels = channels
        .into_iter()
        .map(|channel| {
            let (health, last_error, fix) = match &channel.health {
                ChannelHealth::Ok => ("ok", None, None),
                ChannelHealth::NeedsReconnect { last_error } => (
                    "needs reconnect",
                    Some(last_error.clone()),
                    Some((
                        "Reconnect it",
                        format!("{channels_page}#channel-{}", channel.id),
                    )),
                ),
                ChannelHealth::Failing { last_error } => (
                    "failing",
                    Some(last_error.clone()),
                    Some((
                        "Check its settings",
                        format!("{channels_page}#channel-{}", channel.id),
                    )),
                ),
            };
            ChannelRow {
                channel,
                health,
                last_error,
                fix,
            }
        })
        .collect();

    Ok(Html(
        OverviewPage {
            nav: nav(&user, &csrf),
            community,
            channels,
            calls,
            runs,
            held_plans,
            deliveries,
        }
        .render()?,
    ))
}
