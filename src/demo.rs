//! `cophub demo`: the whole hub on this machine with sample data, for a
//! newcomer to try every feature in a minute without any account.
//!
//! It makes a fresh data folder (a temporary one, deleted on exit, unless
//! `--keep DIR`), starts hub-testkit's fakes of Slack and Zoom and its
//! in-process mail sink on free loopback ports, points the configuration at
//! them, seeds a community through the same hub-core functions the
//! dashboard and the CLI call, and serves the dashboard with the worker —
//! so announcements, invitations and calls really go out, into the fakes.
//! Every page carries the demo label, and the demo's own pages show what
//! the mail sink and the fake Slack received.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, Utc};
use hub_core::{
    Email,
    auth::{hash_password, new_secret},
    model::{
        audit::NewAuditEvent,
        channel::{Channel, ChannelKind},
        community::{Community, NewCommunity},
        member::{ConsentChannel, ConsentSource, ConsentStatus, MemberUpdate},
        sync::{NewSyncJob, SyncDirection},
        user::NewUser,
    },
    ports::{
        clock::{Clock, SystemClock},
        store::Store,
    },
    secrets::SecretKeys,
};
use hub_testkit::{
    demo_mail::{DEFAULT_CAPACITY, DemoMailServer, DemoMailbox},
    slack::{FakeSlack, NewUser as SlackUser, SlackApp},
    zoom::FakeZoom,
};
use hub_web::demo::{DemoMail, DemoSlackPost, Simulated};
use tokio::net::TcpListener;

use crate::{
    Failure,
    adapters::Adapters,
    config::Config,
    server::{self, Worker},
};

/// Who the demo's changes are recorded as.
const ACTOR: &str = "demo";
/// The owner's login.
pub const OWNER_EMAIL: &str = "owner@example.org";
/// The community's slug.
pub const COMMUNITY_SLUG: &str = "demo";
/// People on the roster before Slack is read.
const ROSTER_SIZE: usize = 140;
/// People in the Slack workspace who are not on the roster.
const SLACK_ONLY: usize = 12;

/// What `cophub demo` was asked.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where to serve.
    pub listen: SocketAddr,
    /// Keep the data in this folder instead of a temporary one.
    pub keep: Option<PathBuf>,
}

/// Runs the demo until Ctrl-C or SIGTERM; then stops everything and
/// deletes the temporary data folder.
///
/// # Errors
/// [`Failure::Usage`] for a `--keep` folder that holds something already
/// or a data option the demo makes itself; [`Failure::Runtime`] when a
/// port cannot be bound or the sample data cannot be written.
pub async fn run(base: &Config, options: DemoOptions) -> Result<(), Failure> {
    let folder = DataFolder::make(options.keep.as_deref())?;
    let mail = DemoMailServer::start(DEFAULT_CAPACITY)
        .await
        .map_err(|e| Failure::Runtime(format!("could not start the demo's mail sink: {e}")))?;
    let slack = start_fake("Slack", async {
        FakeSlack::start_with(SlackApp::default(), "T0DEMO", "RSE Demo Workspace").await
    })
    .await?;
    let zoom = start_fake("Zoom", FakeZoom::start()).await?;
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        Failure::Runtime(format!(
            "could not listen on {}: {e} (choose another address with --listen)",
            options.listen
        ))
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("could not read the listen address: {e}")))?;

    let config = demo_config(base, folder.path(), address, &mail, &slack, &zoom);
    let public_url = config.public_base(address);
    let keys = Arc::new(config.secret_keys()?);
    let store = server::open_store(&config).await?;
    let adapters = Arc::new(Adapters::new(&config, &keys, &public_url)?);
    let engine = server::sync_engine(&config, store.clone(), adapters.clone())?;
    let password = new_secret().0[..20].to_owned();
    let seeded = seed(&store, &keys, &engine, &slack, &zoom, &password).await?;

    let worker = Worker::start(
        &config,
        store.clone(),
        adapters.clone(),
        keys.clone(),
        &public_url,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The same state `cophub serve` builds, with the fakes behind it.
    let mailer = adapters
        .mailer()
        .map(|mailer| Arc::new(mailer) as Arc<dyn hub_core::ports::mailer::Mailer>);
    let state = server::web_state(
        &config,
        store.clone(),
        clock,
        public_url.clone(),
        engine,
        keys,
        mailer,
    );
    let simulated = Arc::new(Simulation {
        mailbox: mail.mailbox(),
        slack: slack.clone(),
        conversations: seeded.conversations.clone(),
    });
    let app = hub_web::router(state.clone()).merge(hub_web::demo_router(state, simulated));
    let app = hub_web::demo::label(app).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(server::shutdown_signal())
            .await
    });

    println!(
        "cophub demo is running at {public_url}/ — log in as {OWNER_EMAIL} with the password {password}\n\
         This is a demo: the community \"{community}\" ({members} members), its Slack workspace and Zoom \
         account are sample data; Slack and Zoom are fakes running inside this process, and mail goes to a \
         local mail sink you can read at {public_url}/demo/mail. Nothing leaves this machine.\n\
         Data folder: {folder} ({fate}). Stop with Ctrl-C.",
        community = seeded.community.name,
        members = seeded.members,
        folder = folder.path().display(),
        fate = if folder.kept() {
            "kept"
        } else {
            "deleted when the demo stops; keep it with --keep DIR"
        },
    );

    let served = server.await;
    tracing::info!("stopping the demo");
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds.max(1));
    if tokio::time::timeout(grace, worker.stop()).await.is_err() {
        tracing::warn!("sends were still running when the grace period ended");
    }
    slack.shutdown().await;
    zoom.shutdown().await;
    mail.shutdown().await;
    drop(store);
    folder.finish()?;
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Runtime(format!("the demo server failed: {e}"))),
        Err(e) => Err(Failure::Runtime(format!(
            "the demo server task failed: {e}"
        ))),
    }
}

/// A fake started on its own task: the fakes panic when they cannot bind a
/// loopback port, which is turned into a sentence here.
async fn start_fake<T: Send + 'static>(
    name: &str,
    start: impl Future<Output = T> + Send + 'static,
) -> Result<T, Failure> {
    tokio::spawn(start).await.map_err(|e| {
        Failure::Runtime(format!(
            "could not start the demo's fake {name} on a loopback port: {e}"
        ))
    })
}

/// The configuration with everything pointed at this machine: the data in
/// `folder`, mail to the sink, Slack and Zoom at the fakes.
fn demo_config(
    base: &Config,
    folder: &Path,
    address: SocketAddr,
    mail: &DemoMailServer,
    slack: &FakeSlack,
    zoom: &FakeZoom,
) -> Config {
    let mut config = base.clone();
    config.data_dir = folder.to_owned();
    config.database_url = None;
    config.secret_key = None;
    config.server.listen = address;
    config.metrics.listen = None;
    config.server.shutdown_grace_seconds = config.server.shutdown_grace_seconds.min(5);
    config.mail.smtp_url = Some(mail.url().into());
    config.mail.from = "RSE hub <hub@example.org>".into();
    config.mail.dkim_domain = None;
    config.mail.rate_per_second = 0.0;
    let app = slack.app();
    config.slack.api_url = slack.api_url();
    config.slack.authorize_url = slack.authorize_url();
    config.slack.client_id = Some(app.client_id);
    config.slack.client_secret = Some(app.client_secret.into());
    config.slack.signing_secret = Some(app.signing_secret.into());
    config.zoom.api_url = zoom.api_url();
    config.zoom.oauth_url = zoom.oauth_url();
    config
}

/// The demo's data folder: temporary (deleted by [`DataFolder::finish`])
/// or the one `--keep` names.
enum DataFolder {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataFolder {
    fn make(keep: Option<&Path>) -> Result<Self, Failure> {
        let Some(dir) = keep else {
            return tempfile::Builder::new()
                .prefix("cophub-demo-")
                .tempdir()
                .map(Self::Temporary)
                .map_err(|e| {
                    Failure::Runtime(format!("could not make a temporary data folder: {e}"))
                });
        };
        if let Ok(mut entries) = std::fs::read_dir(dir)
            && entries.next().is_some()
        {
            return Err(Failure::Usage(format!(
                "--keep {}: the folder is not empty; the demo starts from nothing, so give it a new or empty folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::Runtime(format!(
                "could not create the folder {}: {e}",
                dir.display()
            ))
        })?;
        Ok(Self::Kept(dir.to_owned()))
    }

    fn path(&self) -> &Path {
        match self {
            Self::Temporary(dir) => dir.path(),
            Self::Kept(dir) => dir,
        }
    }

    fn kept(&self) -> bool {
        matches!(self, Self::Kept(_))
    }

    fn finish(self) -> Result<(), Failure> {
        match self {
            Self::Temporary(dir) => {
                let path = dir.path().to_owned();
                dir.close().map_err(|e| {
                    Failure::Runtime(format!(
                        "could not delete the demo's data folder {}: {e}",
                        path.display()
                    ))
                })
            }
            Self::Kept(dir) => {
                eprintln!("The demo's data is kept in {}.", dir.display());
                Ok(())
            }
        }
    }
}

/// What the seeding made that the rest of the demo needs.
struct Seeded {
    community: Community,
    members: usize,
    conversations: Vec<(String, String)>,
}

fn seed_failed(what: &str) -> impl FnOnce(String) -> Failure + '_ {
    move |error| Failure::Runtime(format!("could not seed the demo's {what}: {error}"))
}

/// The sample data, written through hub-core as the dashboard writes it.
async fn seed(
    store: &Arc<dyn Store>,
    keys: &SecretKeys,
    engine: &hub_core::sync::SyncEngine,
    slack: &FakeSlack,
    zoom: &FakeZoom,
    password: &str,
) -> Result<Seeded, Failure> {
    let now = Utc::now();
    seed_owner(store.as_ref(), password).await?;
    let community = NewCommunity::new(
        COMMUNITY_SLUG,
        "Research Software Engineers",
        "Europe/Berlin",
    )
    .map_err(|e| seed_failed("community")(e.to_string()))?;
    let community =
        hub_core::communities::create(store.as_ref(), community, Some(owner_email()?), ACTOR)
            .await?;

    // The roster, as a lead's CSV import would bring it.
    let people = people(ROSTER_SIZE + SLACK_ONLY);
    let mut csv = String::from("email,name,role,email_list\n");
    for (i, person) in people.iter().take(ROSTER_SIZE).enumerate() {
        let role = if i % 25 == 0 { "lead" } else { "member" };
        let list = match i % 10 {
            0..=5 | 9 => "yes",
            _ => "",
        };
        csv.push_str(&format!("{},{},{role},{list}\n", person.email, person.name));
    }
    hub_core::roster::import_csv(
        store.as_ref(),
        &community,
        csv.as_bytes(),
        hub_core::roster::ImportOptions {
            dry_run: false,
            skip_invalid: false,
        },
        ACTOR,
    )
    .await
    .map_err(|e| seed_failed("members")(format!("{e:?}")))?;
    // Every tenth person left the list by its unsubscribe link since.
    for member in store.all_members(community.id).await? {
        let index = people
            .iter()
            .position(|p| p.email == member.email.normalized());
        if index.is_some_and(|i| i % 10 == 9) {
            let update = MemberUpdate {
                consents: vec![(
                    ConsentChannel::Email,
                    ConsentStatus::OptedOut,
                    ConsentSource::Member,
                )],
                ..MemberUpdate::default()
            };
            hub_core::roster::change_member(store.as_ref(), member, update, ACTOR).await?;
        }
    }

    let list = add_channel(
        store,
        keys,
        &community,
        ChannelKind::EmailList,
        "RSE mailing list",
        serde_json::json!({"list_address": "rse@lists.example.org"}),
        None,
    )
    .await?;

    // The workspace: two of three people on the roster are in it, and some
    // who never joined the list.
    let general = slack.create_conversation("general", false);
    let random = slack.create_conversation("random", false);
    for (i, person) in people.iter().enumerate() {
        if i < ROSTER_SIZE && i % 3 == 2 {
            continue;
        }
        let user = slack.add_user(SlackUser::person(person.name.clone(), person.email.clone()));
        slack.join(&general, &user);
        if i % 2 == 0 {
            slack.join(&random, &user);
        }
    }
    let slack_channel = add_channel(
        store,
        keys,
        &community,
        ChannelKind::Slack,
        "Slack: RSE Demo Workspace",
        serde_json::json!({"conversations": [general], "team_id": slack.team_id(), "team_name": "RSE Demo Workspace"}),
        Some(slack.bot_token()),
    )
    .await?;
    store
        .create_sync_job(
            slack_channel.id,
            NewSyncJob {
                direction: SyncDirection::Import,
                cron: "@hourly".into(),
                max_remove_fraction: 0.10,
                max_remove_count: 5,
            },
            audit("sync_job.create", &community, "Slack"),
        )
        .await?;
    let run = engine
        .run(slack_channel.id, hub_core::sync::RunMode::Apply)
        .await?;
    if let Some(error) = run.error {
        return Err(seed_failed("Slack import")(error));
    }

    let app = zoom.app();
    let secret = serde_json::json!({
        "account_id": app.account_id,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "webhook_secret": app.webhook_secret,
    });
    add_channel(
        store,
        keys,
        &community,
        ChannelKind::Zoom,
        "Zoom",
        serde_json::json!({}),
        Some(secret.to_string()),
    )
    .await?;

    seed_call(store.as_ref(), &community, now).await?;
    seed_conference(store.as_ref(), &community, now).await?;

    let targets = vec![list.id, slack_channel.id];
    hub_core::announcements::publish(
        store.as_ref(),
        now,
        community.id,
        "Welcome to the Research Software Engineers hub",
        "Hello everyone!\n\nThis hub keeps **one roster** for our mailing list, Slack and Zoom. \
         Our weekly community call is on Thursdays; the invitation is in your inbox.\n\n\
         Proposals for the *RSE Unconference* are open: suggest a session!",
        targets.clone(),
        None,
        ACTOR,
    )
    .await?;
    hub_core::announcements::publish(
        store.as_ref(),
        now,
        community.id,
        "Reminder: unconference proposals close soon",
        "Two weeks left to propose a session for the unconference. \
         Half-baked ideas welcome — that is what the votes are for.",
        targets,
        Some(now + ChronoDuration::days(3)),
        ACTOR,
    )
    .await?;

    let members = store.all_members(community.id).await?.len();
    Ok(Seeded {
        community,
        members,
        conversations: vec![(general, "general".into()), (random, "random".into())],
    })
}

fn owner_email() -> Result<Email, Failure> {
    Email::parse(OWNER_EMAIL).map_err(|e| Failure::Runtime(e.to_string()))
}

async fn seed_owner(store: &dyn Store, password: &str) -> Result<(), Failure> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let entry = NewAuditEvent {
        actor: ACTOR.into(),
        action: "user.create".into(),
        community_id: None,
        subject: OWNER_EMAIL.into(),
        details: serde_json::json!({"owner": true}),
    };
    store
        .create_user(
            NewUser {
                email: owner_email()?,
                password_hash: hash,
                is_owner: true,
            },
            entry,
        )
        .await?;
    Ok(())
}

fn audit(action: &str, community: &Community, subject: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor: ACTOR.into(),
        action: action.into(),
        community_id: Some(community.id),
        subject: subject.into(),
        details: serde_json::json!({}),
    }
}

async fn add_channel(
    store: &Arc<dyn Store>,
    keys: &SecretKeys,
    community: &Community,
    kind: ChannelKind,
    name: &str,
    settings: serde_json::Value,
    secret: Option<String>,
) -> Result<Channel, Failure> {
    Ok(hub_core::channels::add(
        store.as_ref(),
        keys,
        community.id,
        hub_core::channels::ChannelRequest {
            kind,
            name: name.into(),
            settings,
            secret,
            min_interval_ms: 0,
        },
        ACTOR,
    )
    .await?)
}

/// The weekly call: Thursdays at 16:00 Berlin time, from next week.
async fn seed_call(
    store: &dyn Store,
    community: &Community,
    now: chrono::DateTime<Utc>,
) -> Result<(), Failure> {
    let today = now.date_naive();
    let ahead = (7 + 3 - i64::from(today.weekday().num_days_from_monday())) % 7;
    let first = today + ChronoDuration::days(if ahead == 0 { 7 } else { ahead });
    let request = hub_core::calls::schedule::CallRequest {
        title: "RSE community call".into(),
        agenda: "An hour to share what we are working on.\n\n\
                 1. Introductions of newcomers\n2. Lightning talks\n3. Open floor"
            .into(),
        starts_at_local: first.and_hms_opt(16, 0, 0).unwrap_or_default(),
        timezone: "Europe/Berlin".into(),
        duration_minutes: 60,
        rrule: Some("FREQ=WEEKLY;COUNT=12".into()),
        registration: false,
    };
    hub_core::calls::schedule::schedule(store, community.id, &request, ACTOR, now)
        .await
        .map_err(|e| seed_failed("weekly call")(e.to_string()))?;
    Ok(())
}

/// A two-day unconference in two months, taking proposals.
async fn seed_conference(
    store: &dyn Store,
    community: &Community,
    now: chrono::DateTime<Utc>,
) -> Result<(), Failure> {
    let starts_on: NaiveDate = now.date_naive() + ChronoDuration::days(60);
    let request = hub_core::conferences::setup::ConferenceRequest {
        slug: "unconf".into(),
        name: "RSE Unconference".into(),
        description: "Two days of sessions chosen by the people who come: propose one, \
                      vote for the ones you want, and the schedule builds itself."
            .into(),
        starts_on,
        ends_on: starts_on + ChronoDuration::days(1),
        timezone: "Europe/Berlin".into(),
        venue: "Heidelberg".into(),
        capacity: 80,
        vote_budget: 3,
        show_up_factor: 0.7,
        ranking_public: true,
    };
    let failed =
        |e: hub_core::conferences::ConferenceError| seed_failed("conference")(e.to_string());
    let conference = hub_core::conferences::setup::create(store, community, &request, ACTOR, now)
        .await
        .map_err(failed)?;
    hub_core::conferences::setup::advance(store, &conference, ACTOR)
        .await
        .map_err(failed)?;
    Ok(())
}

/// A person of the sample data.
struct Person {
    name: String,
    email: String,
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Fatima", "Gustav", "Hana", "Ines", "Jonas",
    "Kwame", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko",
    "Ulla", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Björn", "Carmen", "Dana",
];
const LAST_NAMES: &[&str] = &[
    "Achterberg",
    "Bianchi",
    "Castro",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoffmann",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Abara",
    "Brennan",
    "Costa",
    "Dahl",
];
const DOMAINS: &[&str] = &[
    "uni-nordstadt.example",
    "lab.example.org",
    "institute.example",
    "polytechnic.example",
    "observatory.example",
];

/// `count` distinct people with plausible names, the same every run.
fn people(count: usize) -> Vec<Person> {
    (0..count)
        .map(|i| {
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            // A different last name for each round through the first names.
            let last = LAST_NAMES
                [(i / FIRST_NAMES.len() + 7 * (i % FIRST_NAMES.len())) % LAST_NAMES.len()];
            let domain = DOMAINS[i % DOMAINS.len()];
            Person {
                name: format!("{first} {last}"),
                email: format!("{}.{}@{domain}", ascii(first), ascii(last)),
            }
        })
        .collect()
}

/// A name as letters an address may hold: accents dropped, lower case.
fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' | 'à' | 'å' | 'ä' => 'a',
            'é' | 'ë' => 'e',
            'í' => 'i',
            'ó' | 'ö' | 'ø' => 'o',
            'ü' | 'ú' => 'u',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

/// What the demo's pages read from the sink and the fake Slack.
#[derive(Debug)]
struct Simulation {
    mailbox: DemoMailbox,
    slack: FakeSlack,
    /// The conversations' ids and names.
    conversations: Vec<(String, String)>,
}

fn readable(message: hub_testkit::demo_mail::DemoMessage) -> DemoMail {
    let readable = message.readable();
    DemoMail {
        number: message.number,
        received_at: message.received_at,
        mail_from: message.mail_from,
        rcpt_to: message.rcpt_to,
        headers: readable.headers,
        text: readable.text,
        html: readable.html,
        parts: readable.parts,
    }
}

impl Simulated for Simulation {
    fn mail(&self) -> Vec<DemoMail> {
        self.mailbox.messages().into_iter().map(readable).collect()
    }

    fn mail_message(&self, number: u64) -> Option<DemoMail> {
        self.mailbox.message(number).map(readable)
    }

    fn slack_posts(&self) -> Vec<DemoSlackPost> {
        let mut posts: Vec<((i64, u32), DemoSlackPost)> = Vec::new();
        for id in self.slack.conversations() {
            let name = self
                .conversations
                .iter()
                .find(|(known, _)| *known == id)
                .map_or_else(|| id.clone(), |(_, name)| name.clone());
            for message in self.slack.messages(&id) {
                // Slack's ts is "seconds.microseconds".
                let (seconds, micros) = message.ts.split_once('.').unwrap_or((&message.ts, "0"));
                let at = (
                    seconds.parse().unwrap_or_default(),
                    micros.parse().unwrap_or_default(),
                );
                let posted_at =
                    chrono::DateTime::from_timestamp(at.0, at.1 * 1000).unwrap_or_default();
                posts.push((
                    at,
                    DemoSlackPost {
                        conversation: name.clone(),
                        posted_at,
                        user: message.user,
                        text: message.text,
                        reply: message.thread_ts.is_some(),
                    },
                ));
            }
        }
        posts.sort_by_key(|(at, _)| *at);
        posts.into_iter().map(|(_, post)| post).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_people_are_distinct_and_their_addresses_valid() {
        let people = people(ROSTER_SIZE + SLACK_ONLY);
        let mut emails: Vec<&str> = people.iter().map(|p| p.email.as_str()).collect();
        emails.sort_unstable();
        emails.dedup();
        assert_eq!(emails.len(), people.len());
        assert!(emails.iter().all(|e| Email::parse(e).is_ok()), "{emails:?}");
        assert_eq!(people[25].email, "zoe.zhang@uni-nordstadt.example");
    }
}
