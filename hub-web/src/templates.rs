//! The dashboard's pages as typed askama templates (under `templates/`,
//! mirroring the handlers). askama escapes every value for HTML.

use askama::Template;
use hub_core::{
    ids::SyncRunId,
    import::ImportPlan,
    model::{
        announcement::{Announcement, Delivery},
        call::Call,
        channel::Channel,
        community::Community,
        member::Member,
        sync::{SyncJob, SyncRun},
    },
    sync::StoredPlan,
};

/// What every page's header shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nav {
    /// The logged-in user, if any (it renders as its email).
    pub(crate) user_email: Option<NavUser>,
    /// The CSRF token for the logout form.
    pub(crate) csrf: String,
}

/// The logged-in user as the header needs it: owners also get the Users link.
#[derive(Debug, Clone, Default)]
pub(crate) struct NavUser {
    pub(crate) email: String,
    pub(crate) is_owner: bool,
}

impl std::fmt::Display for NavUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.email)
    }
}

#[derive(Template)]
#[template(path = "errors/page.html")]
pub(crate) struct ErrorPage {
    pub(crate) status: u16,
    pub(crate) title: &'static str,
    pub(crate) message: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub(crate) struct LoginPage {
    pub(crate) nav: Nav,
    pub(crate) email: String,
    pub(crate) error: Option<String>,
}

#[derive(Template)]
#[template(path = "setup/form.html")]
pub(crate) struct SetupPage {
    pub(crate) nav: Nav,
    pub(crate) token: String,
    pub(crate) email: String,
    pub(crate) error: Option<String>,
}

#[derive(Template)]
#[template(path = "communities/list.html")]
pub(crate) struct CommunitiesPage {
    pub(crate) nav: Nav,
    pub(crate) is_owner: bool,
    pub(crate) communities: Vec<Community>,
    pub(crate) error: Option<String>,
    pub(crate) form: NewCommunityForm,
}

/// The values of the new-community form, kept when it is shown again with an error.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct NewCommunityForm {
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) timezone: String,
    #[serde(default)]
    pub(crate) lead_email: String,
    #[serde(default)]
    pub(crate) csrf: String,
}

/// One roster row, with each channel's consent as a word.
pub(crate) struct RosterRow {
    pub(crate) member: Member,
    pub(crate) email_consent: &'static str,
    pub(crate) slack_consent: &'static str,
    pub(crate) zoom_consent: &'static str,
    pub(crate) conference_consent: &'static str,
}

#[derive(Template)]
#[template(path = "members/list.html")]
pub(crate) struct RosterPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) rows: Vec<RosterRow>,
    pub(crate) q: String,
    pub(crate) role: String,
    pub(crate) state: String,
    pub(crate) consent: String,
    pub(crate) absent: String,
    pub(crate) next_url: Option<String>,
    pub(crate) first_url: Option<String>,
}

/// The roster's consent filter choices: `(value, label)`.
pub(crate) const CONSENT_CHOICES: &[(&str, &str)] = &[
    ("email:subscribed", "on the list"),
    ("email:opted_out", "opted out of email"),
    ("email:none", "never asked for email"),
    ("slack:subscribed", "in Slack"),
    ("slack:opted_out", "opted out of Slack"),
    ("zoom:subscribed", "registered for calls (Zoom)"),
    ("zoom:opted_out", "opted out of Zoom"),
    ("conference:subscribed", "registered for a conference"),
];

/// The roster's "not on" filter choices: `(value, label)`.
pub(crate) const ABSENT_CHOICES: &[(&str, &str)] = &[
    ("email", "not on the list"),
    ("slack", "not in Slack"),
    ("zoom", "not registered for calls"),
    ("conference", "not registered for a conference"),
];

#[derive(Template)]
#[template(path = "members/form.html")]
pub(crate) struct MemberFormPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    /// The member being edited; `None` when adding.
    pub(crate) member: Option<Member>,
    /// The member's bounces, if any.
    pub(crate) bounces: Option<hub_core::bounces::BounceRecord>,
    /// The calls they joined, newest first, as Zoom told it.
    pub(crate) attended: Vec<CallJoined>,
    /// Channel accounts linked to them by hand: (channel name, account id).
    pub(crate) linked: Vec<(String, String)>,
    /// The newest audit entries about them.
    pub(crate) history: Vec<hub_core::model::audit::AuditEvent>,
    pub(crate) values: MemberFormValues,
    pub(crate) error: Option<String>,
}

/// One time a member joined a call.
pub(crate) struct CallJoined {
    pub(crate) title: String,
    pub(crate) joined_at: chrono::DateTime<chrono::Utc>,
}

/// The member form's fields, as submitted.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct MemberFormValues {
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) email_consent: String,
    #[serde(default)]
    pub(crate) csrf: String,
}

#[derive(Template)]
#[template(path = "members/import.html")]
pub(crate) struct ImportPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) result: Option<ImportResult>,
    pub(crate) error: Option<String>,
}

/// What an import did or would do.
pub(crate) struct ImportResult {
    pub(crate) dry_run: bool,
    pub(crate) rejected: bool,
    pub(crate) plan: ImportPlan,
}

/// A channel with a sync schedule, on the Sync page.
pub(crate) struct SyncChannelRow {
    pub(crate) channel: Channel,
    pub(crate) job: SyncJob,
    pub(crate) health: String,
    pub(crate) latest: Option<SyncRun>,
    /// The run a guardrail holds, waiting for a lead.
    pub(crate) held: Option<SyncRunId>,
}

/// A recent run, with its channel's name.
pub(crate) struct SyncRunRow {
    pub(crate) channel_name: String,
    pub(crate) run: SyncRun,
}

#[derive(Template)]
#[template(path = "sync/list.html")]
pub(crate) struct SyncPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channels: Vec<SyncChannelRow>,
    pub(crate) runs: Vec<SyncRunRow>,
}

#[derive(Template)]
#[template(path = "sync/run.html")]
pub(crate) struct SyncRunPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channel: Channel,
    pub(crate) job: SyncJob,
    pub(crate) run: SyncRun,
    pub(crate) plan: StoredPlan,
    /// Whether this is the held plan a lead may approve or discard now.
    pub(crate) decidable: bool,
}

/// An announcement in the list, with each delivery in a few words.
pub(crate) struct AnnouncementRow {
    pub(crate) announcement: Announcement,
    pub(crate) states: String,
}

#[derive(Template)]
#[template(path = "announcements/list.html")]
pub(crate) struct AnnouncementsPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channels: Vec<Channel>,
    pub(crate) rows: Vec<AnnouncementRow>,
    pub(crate) title: String,
    pub(crate) body_markdown: String,
    /// The form's "send at", as typed (local to the community).
    pub(crate) send_at: String,
    /// The channel ids checked in the form.
    pub(crate) chosen: Vec<String>,
    pub(crate) error: Option<String>,
    /// The draft as each chosen channel will show it, when asked.
    pub(crate) previews: Vec<hub_core::announcements::ChannelPreview>,
}

/// A delivery with its channel's name.
pub(crate) struct DeliveryRow {
    pub(crate) delivery: Delivery,
    pub(crate) channel_name: String,
    /// Failed or dead: a lead may send it again.
    pub(crate) retryable: bool,
}

#[derive(Template)]
#[template(path = "announcements/show.html")]
pub(crate) struct AnnouncementPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) announcement: Announcement,
    pub(crate) deliveries: Vec<DeliveryRow>,
    /// Whether a delivery may still change, so the table keeps itself fresh.
    pub(crate) live: bool,
    pub(crate) error: Option<String>,
}

/// An announcement's deliveries table alone, fetched again while it moves.
#[derive(Template)]
#[template(path = "announcements/deliveries.html")]
pub(crate) struct DeliveriesFragment {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) announcement: Announcement,
    pub(crate) deliveries: Vec<DeliveryRow>,
    pub(crate) live: bool,
}

/// Where an unsubscribe link's page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnsubscribeOutcome {
    /// The link was opened: ask before doing anything (mail scanners open
    /// links too).
    Confirm,
    /// This request unsubscribed them.
    Done,
    /// They had left before.
    Already,
}

#[derive(Template)]
#[template(path = "public/unsubscribe.html")]
pub(crate) struct UnsubscribePage {
    pub(crate) nav: Nav,
    pub(crate) token: String,
    pub(crate) community: String,
    pub(crate) channel: &'static str,
    pub(crate) email: String,
    pub(crate) outcome: UnsubscribeOutcome,
}

/// The join form.
#[derive(Template)]
#[template(path = "public/join.html")]
pub(crate) struct JoinPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) error: Option<String>,
}

/// A button that uses a mailed link (mail scanners open links; only the
/// button acts).
#[derive(Template)]
#[template(path = "public/confirm.html")]
pub(crate) struct ConfirmLinkPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) heading: &'static str,
    pub(crate) text: String,
    pub(crate) action: String,
    pub(crate) button: &'static str,
}

/// A one-paragraph outcome.
#[derive(Template)]
#[template(path = "public/notice.html")]
pub(crate) struct NoticePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) heading: &'static str,
    pub(crate) text: String,
}

/// Asks for an address to mail a preferences link to.
#[derive(Template)]
#[template(path = "public/preferences_request.html")]
pub(crate) struct PreferencesRequestPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) error: Option<String>,
}

/// One channel on the preferences page.
#[derive(Debug, Clone)]
pub(crate) struct ChannelChoice {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
    pub(crate) subscribed: bool,
}

/// The preferences page.
#[derive(Template)]
#[template(path = "public/preferences.html")]
pub(crate) struct PreferencesPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) email: String,
    pub(crate) token: String,
    pub(crate) channels: Vec<ChannelChoice>,
}

#[derive(Template)]
#[template(path = "channels/list.html")]
pub(crate) struct ChannelsPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channels: Vec<Channel>,
    /// The deployment's Slack app is configured: the lead can install it.
    pub(crate) slack_install: bool,
    /// What the last action did, for the lead.
    pub(crate) notice: Option<String>,
    /// The hub's public URL, without a trailing slash: a Zoom channel's
    /// webhook URL starts with it.
    pub(crate) public_url: String,
}

/// One conversation a lead can choose.
pub(crate) struct GroupRow {
    pub(crate) group: hub_core::ports::adapter::RemoteGroup,
    pub(crate) chosen: bool,
    pub(crate) announces: bool,
}

#[derive(Template)]
#[template(path = "channels/conversations.html")]
pub(crate) struct ConversationsPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) channel: Channel,
    pub(crate) groups: Vec<GroupRow>,
    /// Whether the channel's sync is a mirror (it invites and takes out).
    pub(crate) keeps_in_step: bool,
}

/// Where a call stands in one channel.
pub(crate) struct LandingRow {
    pub(crate) channel: String,
    pub(crate) kind: String,
    pub(crate) state: &'static str,
    pub(crate) error: Option<String>,
}

/// A call as the calls page lists it.
pub(crate) struct CallRow {
    pub(crate) call: Call,
    /// Its next occurrence (or its last), for people.
    pub(crate) when: String,
    /// Its repeat rule, when it repeats.
    pub(crate) repeats: Option<String>,
    pub(crate) landings: Vec<LandingRow>,
    /// Who came, once Zoom told of anyone joining.
    pub(crate) attended: Option<AttendedRow>,
}

/// A call's attendance as the calls page shows it.
pub(crate) struct AttendedRow {
    /// Different people who joined, over every time it was held.
    pub(crate) people: usize,
    /// When it was last held, for people.
    pub(crate) last: String,
}

#[derive(Template)]
#[template(path = "calls/list.html")]
pub(crate) struct CallsPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) upcoming: Vec<CallRow>,
    pub(crate) past: Vec<CallRow>,
    pub(crate) form: crate::routes::calls::ScheduleForm,
    pub(crate) feed_url: String,
    pub(crate) error: Option<String>,
}

/// A signed-in registrant, as their conference page shows them.
pub(crate) struct RegistrantView {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) status: &'static str,
    pub(crate) seated: bool,
    pub(crate) waitlist_position: Option<usize>,
    pub(crate) votes_left: u32,
}

/// One proposed session on the public page.
pub(crate) struct ConferenceProposalRow {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) format: &'static str,
    pub(crate) proposer: String,
    pub(crate) co_hosts: String,
    /// Shown when the lead lets registrants see the ranking.
    pub(crate) votes: Option<u32>,
    pub(crate) voted: bool,
    pub(crate) mine: bool,
}

/// One of the community's next calls, as a conference page lists it.
pub(crate) struct UpcomingCall {
    pub(crate) title: String,
    pub(crate) when: String,
    /// Only for registrants with a seat.
    pub(crate) join_url: Option<String>,
}

/// A conference's public page.
#[derive(Template)]
#[template(path = "public/conference.html")]
pub(crate) struct ConferencePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) conference: hub_core::model::conference::Conference,
    pub(crate) path: String,
    pub(crate) days: String,
    pub(crate) phase: &'static str,
    pub(crate) registration_open: bool,
    pub(crate) proposals_open: bool,
    pub(crate) voting_open: bool,
    pub(crate) published: bool,
    pub(crate) seats_left: usize,
    pub(crate) formats: Vec<&'static str>,
    pub(crate) registrant: Option<RegistrantView>,
    pub(crate) proposals: Vec<ConferenceProposalRow>,
    pub(crate) calls: Vec<UpcomingCall>,
    pub(crate) form_email: String,
    pub(crate) form_name: String,
    pub(crate) form_title: String,
    pub(crate) form_description: String,
    pub(crate) form_format: String,
    pub(crate) form_co_hosts: String,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

/// One session in a schedule cell.
pub(crate) struct ScheduleCell {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) hosts: String,
    pub(crate) votes: u32,
    pub(crate) expected: u32,
    pub(crate) pinned: bool,
    pub(crate) slack_url: Option<String>,
}

/// One slot's row of a schedule grid.
pub(crate) struct ScheduleRow {
    pub(crate) slot_id: String,
    pub(crate) when: String,
    pub(crate) cells: Vec<Option<ScheduleCell>>,
}

/// The grid's rows as pages show them, in the conference's zone.
pub(crate) fn schedule_rows(
    conference: &hub_core::model::conference::Conference,
    rows: Vec<hub_core::conferences::schedule::GridRow>,
) -> Vec<ScheduleRow> {
    rows.into_iter()
        .map(|row| {
            let start = row.slot.starts_at.with_timezone(&conference.timezone);
            let end = row.slot.ends_at.with_timezone(&conference.timezone);
            ScheduleRow {
                slot_id: row.slot.id.to_string(),
                when: format!(
                    "{} {}–{}",
                    start.format("%a %-d %b"),
                    start.format("%H:%M"),
                    end.format("%H:%M")
                ),
                cells: row
                    .cells
                    .into_iter()
                    .map(|cell| {
                        cell.map(|c| ScheduleCell {
                            id: c.proposal.proposal.id.to_string(),
                            hosts: std::iter::once(c.proposal.proposer_name.clone())
                                .chain(c.proposal.proposal.co_hosts.iter().map(ToString::to_string))
                                .collect::<Vec<_>>()
                                .join(", "),
                            title: c.proposal.proposal.title,
                            votes: c.proposal.votes,
                            expected: c.expected,
                            pinned: c.placement.pinned,
                            slack_url: c.placement.slack_url,
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A conference's published schedule.
#[derive(Template)]
#[template(path = "public/schedule.html")]
pub(crate) struct SchedulePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) conference: hub_core::model::conference::Conference,
    pub(crate) path: String,
    pub(crate) days: String,
    pub(crate) rooms: Vec<String>,
    pub(crate) rows: Vec<ScheduleRow>,
}

/// A community's conferences and the form to make one.
#[derive(Template)]
#[template(path = "conferences/list.html")]
pub(crate) struct ConferenceListPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    /// Slug, name, days, phase.
    pub(crate) rows: Vec<(String, String, String, &'static str)>,
    pub(crate) form: crate::routes::conferences::SettingsForm,
    pub(crate) error: Option<String>,
}

/// One registration on the lead's page.
pub(crate) struct RegistrationRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) status: &'static str,
    pub(crate) cancellable: bool,
}

/// One proposal in the lead's ranking.
pub(crate) struct LeadProposalRow {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) format: &'static str,
    pub(crate) proposer: String,
    pub(crate) co_hosts: String,
    pub(crate) votes: u32,
    pub(crate) placed: bool,
}

/// A session the builder could not place, and why.
pub(crate) struct UnfittedRow {
    pub(crate) title: String,
    pub(crate) reason: String,
}

/// One conference's page for its leads.
#[derive(Template)]
#[template(path = "conferences/show.html")]
pub(crate) struct ConferenceManagePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) conference: hub_core::model::conference::Conference,
    pub(crate) path: String,
    pub(crate) public_path: String,
    pub(crate) days: String,
    pub(crate) phase: &'static str,
    pub(crate) next_phase: Option<&'static str>,
    pub(crate) can_publish: bool,
    pub(crate) registration_open: bool,
    pub(crate) settings: crate::routes::conferences::SettingsForm,
    pub(crate) rooms_text: String,
    pub(crate) slots_text: String,
    pub(crate) seated: usize,
    pub(crate) waitlisted: usize,
    pub(crate) registrations: Vec<RegistrationRow>,
    pub(crate) proposals: Vec<LeadProposalRow>,
    /// Id and label of each room, for the pin form.
    pub(crate) room_choices: Vec<(String, String)>,
    /// Id and label of each slot, for the pin form.
    pub(crate) slot_choices: Vec<(String, String)>,
    pub(crate) rooms: Vec<String>,
    pub(crate) rows: Vec<ScheduleRow>,
    /// Placed, clashes, the baseline's clashes: the last build's outcome.
    pub(crate) report: Option<(usize, u32, u32)>,
    pub(crate) unfitted: Vec<UnfittedRow>,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
pub(crate) struct TokensPage {
    pub(crate) nav: Nav,
    pub(crate) is_owner: bool,
    /// The signed-in user's own tokens.
    pub(crate) own: Vec<hub_core::model::user::ApiToken>,
    /// Everyone else's (an owner's page only).
    pub(crate) others: Vec<hub_core::model::user::ApiToken>,
    /// The new token's name, kept when the form comes back with an error.
    pub(crate) name: String,
    pub(crate) max_name_chars: usize,
    pub(crate) error: Option<String>,
}

/// The answer to making a token: the only time its secret is shown.
#[derive(Template)]
#[template(path = "tokens/created.html")]
pub(crate) struct TokenCreatedPage {
    pub(crate) nav: Nav,
    pub(crate) name: String,
    pub(crate) token: String,
}

/// A community with its active leads.
pub(crate) struct CommunityLeads {
    pub(crate) community: Community,
    /// Each lead, and whether a user has its email (a lead without one
    /// cannot sign in yet).
    pub(crate) leads: Vec<(hub_core::model::user::CommunityLead, bool)>,
}

#[derive(Template)]
#[template(path = "users/list.html")]
pub(crate) struct UsersPage {
    pub(crate) nav: Nav,
    /// The signed-in owner, whose own row says "you".
    pub(crate) me: hub_core::ids::UserId,
    pub(crate) users: Vec<hub_core::users::UserOverview>,
    pub(crate) communities: Vec<CommunityLeads>,
    pub(crate) error: Option<String>,
}

/// One announcement in the archive's list.
pub(crate) struct ArchiveRow {
    pub(crate) id: String,
    pub(crate) title: String,
    /// When it went out, as a date in the community's zone.
    pub(crate) date: String,
    /// The same instant for `<time datetime>`.
    pub(crate) datetime: String,
}

/// A page of the archive of past announcements.
#[derive(Template)]
#[template(path = "public/archive.html")]
pub(crate) struct ArchivePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) entries: Vec<ArchiveRow>,
    /// The cursor of the next (older) page.
    pub(crate) next: Option<String>,
    /// A member reads by a mailed link, and may sign out.
    pub(crate) signed_in: bool,
}

/// One announcement of the archive.
#[derive(Template)]
#[template(path = "public/archive_entry.html")]
pub(crate) struct ArchiveEntryPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) title: String,
    pub(crate) date: String,
    pub(crate) datetime: String,
    /// Edited after it went out.
    pub(crate) edited: bool,
    /// The body, rendered and sanitized by `hub_core::markdown`.
    pub(crate) html: String,
}

/// A members-only archive asks for an address to mail a link to.
#[derive(Template)]
#[template(path = "public/archive_ask.html")]
pub(crate) struct ArchiveAskPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    pub(crate) email: String,
    pub(crate) error: Option<String>,
    /// The address asked for: the answer, the same for members and others.
    pub(crate) sent_to: Option<String>,
    pub(crate) link_minutes: i64,
    pub(crate) session_hours: i64,
    pub(crate) resend_minutes: i64,
}

/// An announcement of the archive its leads retracted.
#[derive(Template)]
#[template(path = "public/archive_gone.html")]
pub(crate) struct ArchiveGonePage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
}
