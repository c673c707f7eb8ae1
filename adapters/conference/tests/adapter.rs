//! The conference channel through the engine's own parts: its registrants
//! as its members, a sync's removal as a cancellation that seats the next
//! on the waitlist, and an announcement through the outbox to each
//! registrant once — also when it goes to the email list too. On a fresh
//! database (SQLite, or PostgreSQL with `COPHUB_TEST_BACKEND=postgres`).
//!
//! Mail goes to a recording `Mailer` (the hub's port): the real SMTP path is
//! the end-to-end suite's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use hub_adapter_conference::WithConferences;
use hub_core::{
    Email,
    conferences::{
        channel,
        registration::{self, Mailing},
        setup::{self, ConferenceRequest},
    },
    model::{
        channel::{Channel, ChannelKind},
        community::Community,
        conference::{Conference, RegistrationStatus},
        member::{ConsentChannel, ConsentStatus, MemberUpdate, NewMember},
    },
    outbox::{Outbox, OutboxSettings},
    ports::{
        adapter::{AdapterError, AdapterFactory},
        clock::SystemClock,
        mailer::{MailError, Mailer, OutgoingMail},
        store::Store,
    },
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{FakeChannel, FakeChannels},
    fixtures,
};

/// Keeps what it is given; fails the addresses it is told to.
#[derive(Debug, Default)]
struct RecordingMailer {
    sent: Mutex<Vec<OutgoingMail>>,
    deferred: Mutex<Vec<String>>,
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        if self
            .deferred
            .lock()
            .unwrap()
            .contains(&mail.to.normalized().to_owned())
        {
            return Err(MailError::Transient("421 try later".into()));
        }
        self.sent.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

impl RecordingMailer {
    fn to(&self, address: &str) -> Vec<OutgoingMail> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.normalized() == address)
            .cloned()
            .collect()
    }
}

struct Setup {
    store: Arc<dyn Store>,
    mailer: Arc<RecordingMailer>,
    community: Community,
    conference: Conference,
    channel: Channel,
    _db: TestDatabase,
}

const PUBLIC_URL: &str = "https://hub.example.org";

async fn setup(capacity: u32) -> Setup {
    let db = TestDatabase::from_env().await;
    let store: Arc<dyn Store> = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    let request = ConferenceRequest {
        slug: "unconf".into(),
        name: "RSE Unconference".into(),
        description: String::new(),
        starts_on: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
        ends_on: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
        timezone: "Europe/Berlin".into(),
        venue: "Berlin".into(),
        capacity,
        vote_budget: 3,
        show_up_factor: 0.7,
        ranking_public: false,
    };
    let conference = setup::create(store.as_ref(), &community, &request, "test", Utc::now())
        .await
        .unwrap();
    let channel = store
        .channels(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| channel::conference_of(c) == Some(conference.id))
        .expect("creating a conference makes its channel");
    Setup {
        store,
        mailer: Arc::new(RecordingMailer::default()),
        community,
        conference,
        channel,
        _db: db,
    }
}

impl Setup {
    fn mailing(&self) -> Mailing<'_> {
        Mailing {
            mailer: Some(self.mailer.as_ref()),
            public_url: PUBLIC_URL,
        }
    }

    /// Registers and confirms `email` the way a person does: the link from
    /// the mail, used.
    async fn registrant(&self, email: &str) -> RegistrationStatus {
        registration::register(
            self.store.as_ref(),
            &self.mailing(),
            &self.community,
            &self.conference,
            email,
            "Someone",
            Utc::now(),
        )
        .await
        .unwrap();
        let mail = self.mailer.to(email).pop().unwrap();
        let token = mail
            .text
            .split_whitespace()
            .find(|w| w.contains("/confirm/"))
            .and_then(|w| w.rsplit('/').next())
            .unwrap()
            .to_owned();
        registration::confirm(
            self.store.as_ref(),
            &self.mailing(),
            &self.community,
            &self.conference,
            &token,
            Utc::now(),
        )
        .await
        .unwrap()
        .status
    }

    fn factory(&self, inner: FakeChannels) -> WithConferences {
        WithConferences::new(
            Arc::new(inner),
            self.store.clone(),
            Some(self.mailer.clone() as Arc<dyn Mailer>),
            PUBLIC_URL,
        )
    }
}

#[tokio::test]
async fn its_members_are_the_registrants_with_a_seat_or_waiting() {
    let s = setup(1).await;
    assert_eq!(
        s.registrant("ada@example.org").await,
        RegistrationStatus::Confirmed
    );
    assert_eq!(
        s.registrant("bob@example.org").await,
        RegistrationStatus::Waitlisted
    );
    // Asked, never confirmed: not a member of the channel.
    registration::register(
        s.store.as_ref(),
        &s.mailing(),
        &s.community,
        &s.conference,
        "cy@example.org",
        "Cy",
        Utc::now(),
    )
    .await
    .unwrap();
    let adapter = s
        .factory(FakeChannels(HashMap::new()))
        .adapter(&s.channel, None)
        .unwrap();
    assert!(adapter.capabilities().per_recipient);
    let page = adapter.list_members(None).await.unwrap();
    let mut emails: Vec<_> = page
        .members
        .iter()
        .map(|m| m.email.as_ref().unwrap().normalized().to_owned())
        .collect();
    emails.sort();
    assert_eq!(emails, ["ada@example.org", "bob@example.org"]);
    assert!(page.next_cursor.is_none());

    // Confirming put them on the roster with the conference's consent only.
    let ada = s
        .store
        .member_by_email(s.community.id, &Email::parse("ada@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ada.consent(ConsentChannel::Conference),
        ConsentStatus::Subscribed
    );
    assert_eq!(ada.consent(ConsentChannel::Email), ConsentStatus::None);

    // Joining is registering: a sync mails the page, the tool adds nobody.
    let invite = adapter.outside_invite().unwrap();
    assert_eq!(
        invite.link,
        "https://hub.example.org/c/rse/conferences/unconf"
    );
    assert!(matches!(
        adapter
            .add_member(&Email::parse("x@example.org").unwrap(), "X")
            .await,
        Err(AdapterError::Unsupported(_))
    ));
    assert!(adapter.health().await.is_ok());
}

#[tokio::test]
async fn a_removal_cancels_the_registration_and_seats_the_first_who_waits() {
    let s = setup(1).await;
    s.registrant("ada@example.org").await;
    s.registrant("bob@example.org").await;
    let adapter = s
        .factory(FakeChannels(HashMap::new()))
        .adapter(&s.channel, None)
        .unwrap();
    let ada = adapter
        .list_members(None)
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.email.as_ref().unwrap().normalized() == "ada@example.org")
        .unwrap();
    adapter.remove_member(&ada.external_id).await.unwrap();
    // Twice is harmless.
    adapter.remove_member(&ada.external_id).await.unwrap();
    let registrations = s.store.registrations(s.conference.id).await.unwrap();
    let status = |email: &str| {
        registrations
            .iter()
            .find(|r| r.email.normalized() == email)
            .unwrap()
            .status
    };
    assert_eq!(status("ada@example.org"), RegistrationStatus::Cancelled);
    assert_eq!(status("bob@example.org"), RegistrationStatus::Confirmed);
    assert!(
        s.mailer
            .to("bob@example.org")
            .iter()
            .any(|m| m.subject.contains("You have a seat")),
        "Bob was told"
    );
    assert!(matches!(
        adapter.remove_member("not-an-id").await,
        Err(AdapterError::Permanent(_))
    ));
}

#[tokio::test]
async fn an_announcement_reaches_each_registrant_once_even_beside_the_email_list() {
    let s = setup(10).await;
    s.registrant("ada@example.org").await;
    s.registrant("bob@example.org").await;
    s.registrant("dee@example.org").await;
    // Ada also takes the email list; Cy is on the list and not registered.
    let ada = s
        .store
        .member_by_email(s.community.id, &Email::parse("ada@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    let subscribe = MemberUpdate {
        consents: vec![(
            ConsentChannel::Email,
            ConsentStatus::Subscribed,
            hub_core::model::member::ConsentSource::Lead,
        )],
        ..MemberUpdate::default()
    };
    hub_core::roster::change_member(s.store.as_ref(), ada, subscribe, "test")
        .await
        .unwrap();
    hub_core::roster::add_member(
        s.store.as_ref(),
        s.community.id,
        NewMember {
            email: Email::parse("cy@example.org").unwrap(),
            name: "Cy".into(),
            role: hub_core::model::member::CommunityRole::Member,
            email_consent: Some(ConsentStatus::Subscribed),
        },
        "test",
    )
    .await
    .unwrap();
    let list = fixtures::channel(s.store.as_ref(), s.community.id, ChannelKind::EmailList, 0).await;
    let list_fake = FakeChannel::new();
    list_fake.set_per_recipient(true);
    // Dee's mail server defers the first try.
    s.mailer
        .deferred
        .lock()
        .unwrap()
        .push("dee@example.org".into());

    channel::announce(
        s.store.as_ref(),
        &s.community,
        &s.conference,
        "The schedule is out",
        "See you there.",
        "test",
        Utc::now(),
    )
    .await
    .unwrap();
    let factory: Arc<dyn AdapterFactory> =
        Arc::new(s.factory(FakeChannels(HashMap::from([(list.id, list_fake.clone())]))));
    let keys = Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap());
    let outbox = Outbox::new(
        s.store.clone(),
        factory,
        keys,
        Arc::new(SystemClock),
        OutboxSettings::default(),
        "test-worker".into(),
    );
    outbox.run_once().await.unwrap();

    let mut by_list: Vec<String> = list_fake.copies().into_iter().map(|(_, to)| to).collect();
    by_list.sort();
    assert_eq!(by_list.len(), 2, "{by_list:?}");
    assert!(by_list.iter().any(|t| t.contains("ada@example.org")));
    assert!(by_list.iter().any(|t| t.contains("cy@example.org")));
    let schedule_mails = |to: &str| {
        s.mailer
            .to(to)
            .into_iter()
            .filter(|m| m.subject == "The schedule is out")
            .collect::<Vec<_>>()
    };
    assert!(
        schedule_mails("ada@example.org").is_empty(),
        "the list reached Ada"
    );
    let bob = schedule_mails("bob@example.org");
    assert_eq!(bob.len(), 1);
    assert!(bob[0].text.contains("See you there."));
    assert!(
        bob[0]
            .text
            .contains("https://hub.example.org/c/rse/conferences/unconf")
    );
    assert!(
        schedule_mails("dee@example.org").is_empty(),
        "Dee's copy waits for a retry"
    );
    let announcement = s
        .store
        .announcements(s.community.id, 10)
        .await
        .unwrap()
        .remove(0);
    let deliveries = s.store.deliveries(announcement.id).await.unwrap();
    let to_conference = deliveries
        .iter()
        .find(|d| d.channel_id == s.channel.id)
        .unwrap();
    let (counts, _) = s.store.recipient_counts(to_conference.id).await.unwrap();
    assert_eq!(counts.total, 2, "Bob and Dee; Ada has hers from the list");
    assert_eq!(counts.sent, 1);
}

#[tokio::test]
async fn inviting_the_email_list_announces_the_page_to_the_list_alone() {
    let s = setup(10).await;
    let refused = channel::invite_list(
        s.store.as_ref(),
        &s.community,
        &s.conference,
        PUBLIC_URL,
        "test",
        Utc::now(),
    )
    .await;
    assert!(
        refused.unwrap_err().to_string().contains("no email list"),
        "without a list there is nobody to invite"
    );
    let list = fixtures::channel(s.store.as_ref(), s.community.id, ChannelKind::EmailList, 0).await;
    let announcement = channel::invite_list(
        s.store.as_ref(),
        &s.community,
        &s.conference,
        PUBLIC_URL,
        "test",
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(announcement.title, "Register for RSE Unconference");
    assert!(
        announcement
            .body_markdown
            .contains("https://hub.example.org/c/rse/conferences/unconf")
    );
    let targets: Vec<_> = s
        .store
        .deliveries(announcement.id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.channel_id)
        .collect();
    assert_eq!(
        targets,
        [list.id],
        "the list's members, not the registrants"
    );
}
