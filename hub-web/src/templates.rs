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
    /// The logged-in user's email, if any.
    pub(crate) user_email: Option<String>,
    /// The CSRF token for the logout form.
    pub(crate) csrf: String,
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
    pub(crate) next_url: Option<String>,
    pub(crate) first_url: Option<String>,
}

#[derive(Template)]
#[template(path = "members/form.html")]
pub(crate) struct MemberFormPage {
    pub(crate) nav: Nav,
    pub(crate) community: Community,
    /// The member being edited; `None` when adding.
    pub(crate) member: Option<Member>,
    /// The member's bounces, if any.
    pub(crate) bounces: Option<hub_core::bounces::BounceRecord>,
    pub(crate) values: MemberFormValues,
    pub(crate) error: Option<String>,
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
    /// The channel ids checked in the form.
    pub(crate) chosen: Vec<String>,
    pub(crate) error: Option<String>,
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
    pub(crate) error: Option<String>,
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
