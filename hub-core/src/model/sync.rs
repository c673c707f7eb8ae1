//! Membership sync schedules and the record of each run.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::word_enum;
use crate::ids::{ChannelId, SyncJobId, SyncRunId};

/// Which way members flow between the hub and a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncDirection {
    /// Channel → hub.
    Import,
    /// Hub → channel.
    Export,
    /// Both ways.
    Mirror,
    /// Report only.
    Observe,
}
word_enum!(SyncDirection {
    Import => "import",
    Export => "export",
    Mirror => "mirror",
    Observe => "observe",
});

/// A channel's sync schedule.
#[derive(Debug, Clone, Serialize)]
pub struct SyncJob {
    /// Its id.
    pub id: SyncJobId,
    /// The channel.
    pub channel_id: ChannelId,
    /// The direction.
    pub direction: SyncDirection,
    /// A cron expression as people type it (five fields, `@daily`, `@hourly`),
    /// read in the community's timezone.
    pub cron: String,
    /// A plan removing more than this share of a side is held…
    pub max_remove_fraction: f64,
    /// …when it also removes more than this many people.
    pub max_remove_count: u32,
}

/// Where a sync run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRunState {
    /// Planned and held for a lead's approval (a guardrail tripped).
    Held,
    /// Applied.
    Applied,
    /// Planned only (a dry run, or a lead discarded it).
    Discarded,
    /// Could not be completed.
    Failed,
}
word_enum!(SyncRunState {
    Held => "held",
    Applied => "applied",
    Discarded => "discarded",
    Failed => "failed",
});

/// One run of a sync job, with its plan and counts.
#[derive(Debug, Clone, Serialize)]
pub struct SyncRun {
    /// Its id.
    pub id: SyncRunId,
    /// The job.
    pub job_id: SyncJobId,
    /// Where it stands.
    pub state: SyncRunState,
    /// The plan, as stored for the diff view.
    pub plan: serde_json::Value,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}
