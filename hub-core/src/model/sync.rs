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
    /// A plan removing more than this share of a side…
    pub max_remove_fraction: f64,
    /// …when it also removes more than this many people is held.
    pub max_remove_count: u32,
    /// How many members the last complete read of the channel found.
    pub last_seen: Option<u64>,
    /// When the schedule was made (its first tick comes after this).
    pub created_at: DateTime<Utc>,
}

/// A sync schedule to create.
#[derive(Debug, Clone)]
pub struct NewSyncJob {
    /// The direction.
    pub direction: SyncDirection,
    /// The cron expression, already checked.
    pub cron: String,
    /// The guardrail share.
    pub max_remove_fraction: f64,
    /// The guardrail count.
    pub max_remove_count: u32,
}

/// Where a sync run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRunState {
    /// Planned only: a dry run, or an observe-only channel.
    Planned,
    /// Planned and held for a lead's approval (a guardrail tripped).
    Held,
    /// Applied.
    Applied,
    /// Could not be completed (a failed read, a revoked token).
    Failed,
    /// A held plan a lead discarded.
    Discarded,
}
word_enum!(SyncRunState {
    Planned => "planned",
    Held => "held",
    Applied => "applied",
    Failed => "failed",
    Discarded => "discarded",
});

/// What a run counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SyncCounts {
    /// People added (to either side).
    pub added: u64,
    /// People removed from the channel, or taken off it in the hub.
    pub removed: u64,
    /// Hub members whose consent the sync set.
    pub updated: u64,
    /// People already in step.
    pub unchanged: u64,
    /// Channel accounts without an email.
    pub unmatched: u64,
    /// Changes that failed.
    pub errors: u64,
    /// Calls made to the channel's API.
    pub api_calls: u64,
    /// People mailed an invitation to join the tool by themselves.
    pub invited: u64,
}

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
    /// What it counted.
    pub counts: SyncCounts,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}
