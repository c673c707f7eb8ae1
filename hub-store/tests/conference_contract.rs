//! The `ConferenceStore` contract: every test here runs on SQLite and on
//! PostgreSQL (`sqlite::name` and `postgres::name`), and is what proves both
//! implementations' queries. PostgreSQL runs need `COPHUB_TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hub_core::{
    Email,
    ids::{CommunityId, ConferenceId, ProposalId, RegistrationId, RoomId, SlotId},
    model::{
        audit::{NewAuditEvent, verify_chain},
        conference::{
            Conference, ConferencePhase, NewRegistrantLink, Placement, Proposal, ProposalState,
            RegistrantLinkPurpose, Registration, RegistrationStatus, Room, SessionFormat, Slot,
            Vote, VoteOutcome,
        },
    },
    ports::store::{Store, StoreError},
};
use hub_testkit::fixtures;

/// Declares each contract test once per backend. Several threads, so the
/// concurrent tests race for real.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = hub_testkit::database::TestDatabase::sqlite();
                    let store = hub_store::open(db.url()).await.unwrap();
                    super::$name(store, db.url()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = hub_testkit::database::TestDatabase::postgres().await else { return };
                    let store = hub_store::open(db.url()).await.unwrap();
                    super::$name(store, db.url()).await;
                }
            )*
        }
    };
}

contract!(
    a_conference_is_kept_whole_and_its_slug_is_unique_in_its_community,
    a_registration_is_unique_by_normalized_address,
    confirming_seats_until_the_capacity_then_waitlists,
    a_hundred_confirmations_at_once_seat_exactly_the_capacity,
    a_cancelled_seat_goes_to_the_first_waitlisted_and_the_votes_go_back,
    raising_the_capacity_fills_seats_in_waitlist_order,
    a_cancelled_registration_reopens_as_pending_with_its_new_name,
    a_registrant_link_works_once_before_it_expires_and_for_its_purpose,
    a_vote_counts_once_per_proposal_and_within_the_budget,
    ten_votes_at_once_on_a_budget_of_three_cast_three,
    proposals_list_in_order_with_proposer_and_votes_in_every_state,
    merging_moves_votes_once_per_voter_and_takes_the_session_off_the_schedule,
    the_schedule_is_replaced_whole_and_keeps_slack_conversations,
    the_venue_grid_changes_in_place_and_takes_placements_of_removed_rooms_and_slots,
    one_worker_at_a_time_opens_a_conferences_places_and_only_published_ones_are_listed,
);

fn audit(action: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor: "test".into(),
        action: action.into(),
        community_id: None,
        subject: "s".into(),
        details: serde_json::json!({"k": 1}),
    }
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

/// A fixed instant, `seconds` after a reference, whole seconds (what both
/// databases keep exactly).
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 5, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn new_conference(community: CommunityId, slug: &str, capacity: u32) -> Conference {
    Conference {
        id: ConferenceId::new(),
        community_id: community,
        slug: slug.into(),
        name: format!("Conference {slug}"),
        description: "All *about* it".into(),
        starts_on: NaiveDate::from_ymd_opt(2030, 6, 1).unwrap(),
        ends_on: NaiveDate::from_ymd_opt(2030, 6, 2).unwrap(),
        timezone: chrono_tz::Europe::Berlin,
        venue: None,
        capacity,
        phase: ConferencePhase::Registration,
        registration_closed: false,
        vote_budget: 3,
        show_up_factor: 0.7,
        ranking_public: false,
        created_at: at(0),
    }
}

async fn conference(store: &dyn Store, slug: &str, capacity: u32) -> Conference {
    let community = fixtures::community(store, slug).await;
    let conference = new_conference(community.id, slug, capacity);
    store
        .create_conference(&conference, audit("conference.create"))
        .await
        .unwrap();
    conference
}

fn new_registration(conference: ConferenceId, address: &str, asked: i64) -> Registration {
    Registration {
        id: RegistrationId::new(),
        conference_id: conference,
        email: email(address),
        name: format!("Name of {address}"),
        status: RegistrationStatus::Pending,
        created_at: at(asked),
        confirmed_at: None,
        seated_at: None,
        cancelled_at: None,
    }
}

async fn registered(
    store: &dyn Store,
    conference: ConferenceId,
    address: &str,
    asked: i64,
) -> Registration {
    let registration = new_registration(conference, address, asked);
    store
        .create_registration(&registration, audit("registration.create"))
        .await
        .unwrap();
    registration
}

/// A registration confirmed at `at(confirmed)`.
async fn confirmed(
    store: &dyn Store,
    conference: ConferenceId,
    address: &str,
    confirmed: i64,
) -> Registration {
    let registration = registered(store, conference, address, 0).await;
    store
        .confirm_registration(
            registration.id,
            at(confirmed),
            audit("registration.confirm"),
        )
        .await
        .unwrap()
}

fn new_proposal(conference: ConferenceId, proposer: RegistrationId, title: &str) -> Proposal {
    Proposal {
        id: ProposalId::new(),
        conference_id: conference,
        proposer,
        title: title.into(),
        description: format!("About {title}"),
        format: SessionFormat::Discussion,
        co_hosts: Vec::new(),
        state: ProposalState::Open,
        created_at: at(100),
    }
}

async fn proposed(
    store: &dyn Store,
    conference: ConferenceId,
    proposer: RegistrationId,
    title: &str,
) -> Proposal {
    let proposal = new_proposal(conference, proposer, title);
    store
        .create_proposal(&proposal, audit("proposal.create"))
        .await
        .unwrap();
    proposal
}

async fn audit_count(store: &dyn Store) -> usize {
    let events = store.audit_events(1, 100_000).await.unwrap();
    assert_eq!(
        verify_chain(&events),
        Ok(u64::try_from(events.len()).unwrap())
    );
    events.len()
}

fn room(conference: ConferenceId, name: &str, position: u32) -> Room {
    Room {
        id: RoomId::new(),
        conference_id: conference,
        name: name.into(),
        capacity: 20,
        position,
        zoom_meeting_id: None,
        join_url: None,
    }
}

fn slot(conference: ConferenceId, hour: i64) -> Slot {
    Slot {
        id: SlotId::new(),
        conference_id: conference,
        starts_at: at(hour * 3600),
        ends_at: at(hour * 3600 + 2700),
    }
}

fn placement(proposal: ProposalId, room: &Room, slot: &Slot) -> Placement {
    Placement {
        proposal_id: proposal,
        room_id: room.id,
        slot_id: slot.id,
        pinned: false,
        slack_conversation: None,
        slack_url: None,
    }
}

async fn statuses(store: &dyn Store, conference: ConferenceId) -> (usize, usize, usize, usize) {
    let all = store.registrations(conference).await.unwrap();
    let of = |status| all.iter().filter(|r| r.status == status).count();
    (
        of(RegistrationStatus::Pending),
        of(RegistrationStatus::Confirmed),
        of(RegistrationStatus::Waitlisted),
        of(RegistrationStatus::Cancelled),
    )
}

async fn a_conference_is_kept_whole_and_its_slug_is_unique_in_its_community(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let community = fixtures::community(store.as_ref(), "peers").await;
    let mut later = new_conference(community.id, "later", 50);
    later.starts_on = NaiveDate::from_ymd_opt(2031, 1, 10).unwrap();
    later.ends_on = later.starts_on;
    later.venue = Some("Town hall, room 2".into());
    later.registration_closed = true;
    later.ranking_public = true;
    later.show_up_factor = 0.55;
    later.phase = ConferencePhase::SchedulePublished;
    store
        .create_conference(&later, audit("conference.create"))
        .await
        .unwrap();
    let sooner = new_conference(community.id, "sooner", 10);
    store
        .create_conference(&sooner, audit("conference.create"))
        .await
        .unwrap();

    let found = store.conference(later.id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&found).unwrap(),
        serde_json::to_value(&later).unwrap()
    );
    let by_slug = store
        .conference_by_slug(community.id, "later")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_slug.id, later.id);
    assert!(
        store
            .conference_by_slug(community.id, "none")
            .await
            .unwrap()
            .is_none()
    );
    let listed: Vec<ConferenceId> = store
        .community_conferences(community.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![sooner.id, later.id], "by first day");

    let again = store
        .create_conference(
            &new_conference(community.id, "later", 5),
            audit("conference.create"),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let other = fixtures::community(store.as_ref(), "others").await;
    store
        .create_conference(
            &new_conference(other.id, "later", 5),
            audit("conference.create"),
        )
        .await
        .expect("a slug is unique within its community only");
    let orphan = store
        .create_conference(
            &new_conference(CommunityId::new(), "orphan", 5),
            audit("conference.create"),
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");

    let mut changed = sooner.clone();
    changed.slug = "renamed".into();
    changed.capacity = 12;
    changed.phase = ConferencePhase::Voting;
    changed.venue = Some("Library".into());
    changed.created_at = at(999);
    store
        .update_conference(&changed, audit("conference.update"))
        .await
        .unwrap();
    let found = store.conference(sooner.id).await.unwrap().unwrap();
    assert_eq!(
        (
            found.slug.as_str(),
            found.capacity,
            found.phase,
            found.venue.as_deref()
        ),
        ("renamed", 12, ConferencePhase::Voting, Some("Library"))
    );
    assert_eq!(
        found.created_at, sooner.created_at,
        "the creation time stays"
    );
    let mut taken = changed.clone();
    taken.slug = "later".into();
    let taken = store
        .update_conference(&taken, audit("conference.update"))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let unknown = store
        .update_conference(
            &new_conference(community.id, "ghost", 1),
            audit("conference.update"),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    audit_count(store.as_ref()).await;
}

async fn a_registration_is_unique_by_normalized_address(store: Arc<dyn Store>, _url: &str) {
    let conf = conference(store.as_ref(), "reg", 10).await;
    let ada = registered(store.as_ref(), conf.id, "Ada@Example.org", 2).await;
    let bob = registered(store.as_ref(), conf.id, "bob@example.org", 1).await;
    assert_eq!(
        store.registration(ada.id).await.unwrap().as_ref(),
        Some(&ada)
    );
    let found = store
        .registration_by_email(conf.id, &email("ADA@example.ORG"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ada.id);
    assert_eq!(found.email.display(), "Ada@Example.org");

    let before = audit_count(store.as_ref()).await;
    let again = store
        .create_registration(
            &new_registration(conf.id, "ada@EXAMPLE.org", 3),
            audit("registration.create"),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(audit_count(store.as_ref()).await, before, "nothing written");

    let elsewhere = conference(store.as_ref(), "elsewhere", 10).await;
    registered(store.as_ref(), elsewhere.id, "ada@example.org", 0).await;
    let unknown = store
        .create_registration(
            &new_registration(ConferenceId::new(), "cy@example.org", 0),
            audit("registration.create"),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );

    let order: Vec<RegistrationId> = store
        .registrations(conf.id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(order, vec![bob.id, ada.id], "in the order people asked");
}

async fn confirming_seats_until_the_capacity_then_waitlists(store: Arc<dyn Store>, _url: &str) {
    let conf = conference(store.as_ref(), "seats", 2).await;
    let first = confirmed(store.as_ref(), conf.id, "a@example.org", 10).await;
    assert_eq!(first.status, RegistrationStatus::Confirmed);
    assert_eq!(
        (first.confirmed_at, first.seated_at),
        (Some(at(10)), Some(at(10)))
    );
    assert!(first.has_seat());
    confirmed(store.as_ref(), conf.id, "b@example.org", 11).await;
    let third = confirmed(store.as_ref(), conf.id, "c@example.org", 12).await;
    assert_eq!(third.status, RegistrationStatus::Waitlisted);
    assert_eq!((third.confirmed_at, third.seated_at), (Some(at(12)), None));
    assert_eq!(store.registration(third.id).await.unwrap().unwrap(), third);

    let before = audit_count(store.as_ref()).await;
    let again = store
        .confirm_registration(first.id, at(50), audit("registration.confirm"))
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "a confirmed registration is returned as it is"
    );
    assert_eq!(
        audit_count(store.as_ref()).await,
        before,
        "with no audit entry"
    );
    let unknown = store
        .confirm_registration(RegistrationId::new(), at(50), audit("registration.confirm"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn a_hundred_confirmations_at_once_seat_exactly_the_capacity(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "rush", 10).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            registered(store.as_ref(), conf.id, &format!("p{i:03}@example.org"), i)
                .await
                .id,
        );
    }
    let before = audit_count(store.as_ref()).await;
    let confirmations = ids.into_iter().enumerate().map(|(i, id)| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .confirm_registration(
                    id,
                    at(1000 + i64::try_from(i).unwrap()),
                    audit("registration.confirm"),
                )
                .await
        })
    });
    let outcomes: Vec<Registration> = futures::future::join_all(confirmations)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let seated = outcomes
        .iter()
        .filter(|r| r.status == RegistrationStatus::Confirmed)
        .count();
    assert_eq!(seated, 10);
    assert_eq!(statuses(store.as_ref(), conf.id).await, (0, 10, 90, 0));
    assert_eq!(audit_count(store.as_ref()).await, before + 100);
}

async fn a_cancelled_seat_goes_to_the_first_waitlisted_and_the_votes_go_back(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "cancel", 2).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let bob = confirmed(store.as_ref(), conf.id, "bob@example.org", 2).await;
    // Waitlisted in the order they confirmed, not the order they asked.
    let dan = confirmed(store.as_ref(), conf.id, "dan@example.org", 4).await;
    let cy = confirmed(store.as_ref(), conf.id, "cy@example.org", 3).await;
    assert_eq!(
        (cy.status, dan.status),
        (
            RegistrationStatus::Waitlisted,
            RegistrationStatus::Waitlisted
        )
    );
    let talk = proposed(store.as_ref(), conf.id, bob.id, "Talk").await;
    for voter in [ada.id, bob.id] {
        store
            .cast_vote(voter, talk.id, 3, at(20), audit("vote.cast"))
            .await
            .unwrap();
    }

    // A waitlisted person leaving frees no seat.
    let (gone, seated) = store
        .cancel_registration(dan.id, at(30), audit("registration.cancel"))
        .await
        .unwrap();
    assert_eq!(gone.status, RegistrationStatus::Cancelled);
    assert_eq!(gone.cancelled_at, Some(at(30)));
    assert!(seated.is_empty());

    let (gone, seated) = store
        .cancel_registration(ada.id, at(40), audit("registration.cancel"))
        .await
        .unwrap();
    assert_eq!(gone.status, RegistrationStatus::Cancelled);
    assert_eq!(seated.len(), 1);
    assert_eq!(seated[0].id, cy.id);
    assert_eq!(seated[0].status, RegistrationStatus::Confirmed);
    assert_eq!(seated[0].seated_at, Some(at(40)));
    assert_eq!(
        seated[0].confirmed_at,
        Some(at(3)),
        "the waitlist's order stays"
    );
    assert_eq!(
        store.conference_votes(conf.id).await.unwrap(),
        vec![Vote {
            proposal_id: talk.id,
            registration_id: bob.id
        }],
        "the cancelled person's vote is given back"
    );

    let before = audit_count(store.as_ref()).await;
    let (twice, seated) = store
        .cancel_registration(ada.id, at(50), audit("registration.cancel"))
        .await
        .unwrap();
    assert_eq!(twice, gone, "cancelling twice changes nothing");
    assert!(seated.is_empty());
    assert_eq!(audit_count(store.as_ref()).await, before);
    assert_eq!(statuses(store.as_ref(), conf.id).await, (0, 2, 0, 2));
    let unknown = store
        .cancel_registration(RegistrationId::new(), at(50), audit("registration.cancel"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn raising_the_capacity_fills_seats_in_waitlist_order(store: Arc<dyn Store>, _url: &str) {
    let conf = conference(store.as_ref(), "grow", 1).await;
    confirmed(store.as_ref(), conf.id, "a@example.org", 1).await;
    let mut waiting = Vec::new();
    for (i, address) in ["d@example.org", "b@example.org", "c@example.org"]
        .iter()
        .enumerate()
    {
        let r = confirmed(
            store.as_ref(),
            conf.id,
            address,
            10 - i64::try_from(i).unwrap(),
        )
        .await;
        assert_eq!(r.status, RegistrationStatus::Waitlisted);
        waiting.push(r);
    }
    let before = audit_count(store.as_ref()).await;
    assert!(
        store
            .fill_seats(conf.id, at(20), audit("seats.fill"))
            .await
            .unwrap()
            .is_empty(),
        "no seat is free yet"
    );
    let mut bigger = conf.clone();
    bigger.capacity = 3;
    store
        .update_conference(&bigger, audit("conference.update"))
        .await
        .unwrap();
    let seated = store
        .fill_seats(conf.id, at(30), audit("seats.fill"))
        .await
        .unwrap();
    let seated: Vec<(RegistrationId, Option<DateTime<Utc>>)> =
        seated.iter().map(|r| (r.id, r.seated_at)).collect();
    // Confirmed at 8 (c), 9 (b), 10 (d): the first two fit.
    assert_eq!(
        seated,
        vec![(waiting[2].id, Some(at(30))), (waiting[1].id, Some(at(30)))]
    );
    assert_eq!(statuses(store.as_ref(), conf.id).await, (0, 3, 1, 0));
    assert_eq!(
        audit_count(store.as_ref()).await,
        before + 2,
        "the update and the fill that seated people"
    );
    let unknown = store
        .fill_seats(ConferenceId::new(), at(30), audit("seats.fill"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn a_cancelled_registration_reopens_as_pending_with_its_new_name(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "again", 5).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 5).await;
    store
        .cancel_registration(ada.id, at(6), audit("registration.cancel"))
        .await
        .unwrap();
    let reopened = store
        .reopen_registration(ada.id, "Ada L.", at(7), audit("registration.reopen"))
        .await
        .unwrap();
    assert_eq!(reopened.status, RegistrationStatus::Pending);
    assert_eq!(reopened.name, "Ada L.");
    assert_eq!(reopened.created_at, ada.created_at);
    assert_eq!(
        (
            reopened.confirmed_at,
            reopened.seated_at,
            reopened.cancelled_at
        ),
        (None, None, None)
    );
    assert_eq!(store.registration(ada.id).await.unwrap().unwrap(), reopened);

    let before = audit_count(store.as_ref()).await;
    let unchanged = store
        .reopen_registration(ada.id, "Someone else", at(8), audit("registration.reopen"))
        .await
        .unwrap();
    assert_eq!(unchanged, reopened, "a pending registration stays as it is");
    let bob = confirmed(store.as_ref(), conf.id, "bob@example.org", 9).await;
    let kept = store
        .reopen_registration(bob.id, "Robert", at(10), audit("registration.reopen"))
        .await
        .unwrap();
    assert_eq!(kept, bob, "so does a confirmed one");
    assert_eq!(
        audit_count(store.as_ref()).await,
        before + 2,
        "only Bob's registration and confirmation"
    );
    let unknown = store
        .reopen_registration(
            RegistrationId::new(),
            "X",
            at(10),
            audit("registration.reopen"),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn a_registrant_link_works_once_before_it_expires_and_for_its_purpose(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "links", 5).await;
    let ada = registered(store.as_ref(), conf.id, "ada@example.org", 0).await;
    let link = |hash: &str, purpose, made: i64| NewRegistrantLink {
        token_hash: hash.into(),
        purpose,
        registration_id: ada.id,
        created_at: at(made),
        expires_at: at(made + 3600),
    };
    store
        .create_registrant_link(&link("confirm-1", RegistrantLinkPurpose::Confirm, 0))
        .await
        .unwrap();
    store
        .create_registrant_link(&link("confirm-2", RegistrantLinkPurpose::Confirm, 600))
        .await
        .unwrap();
    store
        .create_registrant_link(&link("access-1", RegistrantLinkPurpose::Access, 600))
        .await
        .unwrap();

    let spend = |hash: &'static str, purpose, now: i64| {
        let store = store.clone();
        async move {
            store
                .spend_registrant_link(hash, purpose, at(now))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        spend("confirm-1", RegistrantLinkPurpose::Access, 10).await,
        None,
        "only for its purpose"
    );
    assert_eq!(
        spend("confirm-1", RegistrantLinkPurpose::Confirm, 3600).await,
        None,
        "only before it expires"
    );
    assert_eq!(
        spend("confirm-2", RegistrantLinkPurpose::Confirm, 700).await,
        Some(ada.id)
    );
    assert_eq!(
        spend("confirm-2", RegistrantLinkPurpose::Confirm, 701).await,
        None,
        "only once"
    );
    assert_eq!(
        spend("access-1", RegistrantLinkPurpose::Access, 700).await,
        Some(ada.id)
    );
    assert_eq!(
        spend("unknown", RegistrantLinkPurpose::Access, 700).await,
        None
    );

    let recent = |purpose, since: i64| {
        let store = store.clone();
        async move {
            store
                .recent_registrant_links(ada.id, purpose, at(since))
                .await
                .unwrap()
        }
    };
    assert_eq!(recent(RegistrantLinkPurpose::Confirm, -1).await, 2);
    assert_eq!(recent(RegistrantLinkPurpose::Confirm, 300).await, 1);
    assert_eq!(recent(RegistrantLinkPurpose::Access, 300).await, 1);
    assert_eq!(recent(RegistrantLinkPurpose::Access, 900).await, 0);

    let orphan = NewRegistrantLink {
        registration_id: RegistrationId::new(),
        ..link("orphan", RegistrantLinkPurpose::Access, 0)
    };
    let orphan = store.create_registrant_link(&orphan).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
}

async fn a_vote_counts_once_per_proposal_and_within_the_budget(store: Arc<dyn Store>, _url: &str) {
    let conf = conference(store.as_ref(), "votes", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let mut proposals = Vec::new();
    for title in ["One", "Two", "Three"] {
        proposals.push(proposed(store.as_ref(), conf.id, ada.id, title).await);
    }
    // The same person in another conference, with votes of their own there.
    let other = conference(store.as_ref(), "other-votes", 10).await;
    let ada_there = confirmed(store.as_ref(), other.id, "ada@example.org", 1).await;
    let there = proposed(store.as_ref(), other.id, ada_there.id, "Elsewhere").await;
    assert_eq!(
        store
            .cast_vote(ada_there.id, there.id, 2, at(5), audit("vote.cast"))
            .await
            .unwrap(),
        VoteOutcome::Cast
    );

    let before = audit_count(store.as_ref()).await;
    let vote = |proposal: ProposalId| {
        let store = store.clone();
        async move {
            store
                .cast_vote(ada.id, proposal, 2, at(10), audit("vote.cast"))
                .await
                .unwrap()
        }
    };
    assert_eq!(vote(proposals[0].id).await, VoteOutcome::Cast);
    assert_eq!(vote(proposals[0].id).await, VoteOutcome::AlreadyVoted);
    assert_eq!(
        vote(proposals[1].id).await,
        VoteOutcome::Cast,
        "votes in another conference do not count"
    );
    assert_eq!(vote(proposals[2].id).await, VoteOutcome::OverBudget);
    assert_eq!(
        audit_count(store.as_ref()).await,
        before + 2,
        "only cast votes"
    );

    assert!(
        store
            .withdraw_vote(ada.id, proposals[1].id, audit("vote.withdraw"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .withdraw_vote(ada.id, proposals[1].id, audit("vote.withdraw"))
            .await
            .unwrap(),
        "there is no vote left to withdraw"
    );
    assert_eq!(audit_count(store.as_ref()).await, before + 3);
    assert_eq!(
        vote(proposals[2].id).await,
        VoteOutcome::Cast,
        "a freed vote"
    );
    let mut votes = store.conference_votes(conf.id).await.unwrap();
    votes.sort_by_key(|v| v.proposal_id);
    let mut expected = vec![
        Vote {
            proposal_id: proposals[0].id,
            registration_id: ada.id,
        },
        Vote {
            proposal_id: proposals[2].id,
            registration_id: ada.id,
        },
    ];
    expected.sort_by_key(|v| v.proposal_id);
    assert_eq!(votes, expected);

    for (registration, proposal) in [
        (RegistrationId::new(), proposals[0].id),
        (ada.id, ProposalId::new()),
        (ada.id, there.id),
    ] {
        let missing = store
            .cast_vote(registration, proposal, 5, at(10), audit("vote.cast"))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }
}

async fn ten_votes_at_once_on_a_budget_of_three_cast_three(store: Arc<dyn Store>, _url: &str) {
    let conf = conference(store.as_ref(), "vote-rush", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let mut proposals = Vec::new();
    for i in 0..10 {
        proposals.push(proposed(store.as_ref(), conf.id, ada.id, &format!("Session {i}")).await);
    }
    let before = audit_count(store.as_ref()).await;
    let votes = proposals.iter().map(|proposal| {
        let store = store.clone();
        let proposal = proposal.id;
        tokio::spawn(async move {
            store
                .cast_vote(ada.id, proposal, 3, at(10), audit("vote.cast"))
                .await
        })
    });
    let outcomes: Vec<VoteOutcome> = futures::future::join_all(votes)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let cast = outcomes.iter().filter(|o| **o == VoteOutcome::Cast).count();
    let over = outcomes
        .iter()
        .filter(|o| **o == VoteOutcome::OverBudget)
        .count();
    assert_eq!((cast, over), (3, 7));
    assert_eq!(store.conference_votes(conf.id).await.unwrap().len(), 3);
    assert_eq!(audit_count(store.as_ref()).await, before + 3);
}

async fn proposals_list_in_order_with_proposer_and_votes_in_every_state(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "talks", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "Ada@Example.org", 1).await;
    let bob = confirmed(store.as_ref(), conf.id, "bob@example.org", 2).await;
    let mut first = new_proposal(conf.id, bob.id, "First");
    first.created_at = at(200);
    first.format = SessionFormat::Workshop;
    first.co_hosts = vec![email("Cy@Example.org"), email("dan@example.org")];
    store
        .create_proposal(&first, audit("proposal.create"))
        .await
        .unwrap();
    let mut second = new_proposal(conf.id, ada.id, "Second");
    second.created_at = at(300);
    store
        .create_proposal(&second, audit("proposal.create"))
        .await
        .unwrap();
    assert_eq!(store.proposal(first.id).await.unwrap().unwrap(), first);
    for voter in [ada.id, bob.id] {
        store
            .cast_vote(voter, first.id, 3, at(400), audit("vote.cast"))
            .await
            .unwrap();
    }

    let mut withdrawn = second.clone();
    withdrawn.title = "Second, renamed".into();
    withdrawn.description = "Changed".into();
    withdrawn.format = SessionFormat::Panel;
    withdrawn.co_hosts = vec![email("eve@example.org")];
    withdrawn.state = ProposalState::Withdrawn;
    store
        .update_proposal(&withdrawn, audit("proposal.update"))
        .await
        .unwrap();

    let listed = store.proposals(conf.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].proposal, first);
    assert_eq!(
        (listed[0].proposer_name.as_str(), listed[0].votes),
        ("Name of bob@example.org", 2)
    );
    assert_eq!(listed[1].proposal, withdrawn, "every state is listed");
    assert_eq!(listed[1].proposer_email.display(), "Ada@Example.org");
    assert_eq!(listed[1].votes, 0);

    let stranger = conference(store.as_ref(), "strangers", 10).await;
    let cy = confirmed(store.as_ref(), stranger.id, "cy@example.org", 1).await;
    let outsider = store
        .create_proposal(
            &new_proposal(conf.id, cy.id, "Not mine"),
            audit("proposal.create"),
        )
        .await;
    assert!(
        matches!(outsider, Err(StoreError::NotFound(_))),
        "{outsider:?}"
    );
    let nowhere = store
        .create_proposal(
            &new_proposal(ConferenceId::new(), ada.id, "Nowhere"),
            audit("proposal.create"),
        )
        .await;
    assert!(
        matches!(nowhere, Err(StoreError::NotFound(_))),
        "{nowhere:?}"
    );
    let unknown = store
        .update_proposal(
            &new_proposal(conf.id, ada.id, "Ghost"),
            audit("proposal.update"),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    audit_count(store.as_ref()).await;
}

async fn merging_moves_votes_once_per_voter_and_takes_the_session_off_the_schedule(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "merge", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let bob = confirmed(store.as_ref(), conf.id, "bob@example.org", 2).await;
    let cy = confirmed(store.as_ref(), conf.id, "cy@example.org", 3).await;
    let merged = proposed(store.as_ref(), conf.id, ada.id, "Merged").await;
    let into = proposed(store.as_ref(), conf.id, bob.id, "Into").await;
    // Ada and Bob voted for both; Cy only for the merged one.
    for (voter, proposal) in [
        (ada.id, merged.id),
        (ada.id, into.id),
        (bob.id, merged.id),
        (bob.id, into.id),
        (cy.id, merged.id),
    ] {
        store
            .cast_vote(voter, proposal, 3, at(10), audit("vote.cast"))
            .await
            .unwrap();
    }
    let hall = room(conf.id, "Hall", 0);
    let morning = slot(conf.id, 1);
    let afternoon = slot(conf.id, 5);
    store
        .replace_venue_grid(
            conf.id,
            std::slice::from_ref(&hall),
            &[morning.clone(), afternoon.clone()],
            audit("grid"),
        )
        .await
        .unwrap();
    store
        .replace_placements(
            conf.id,
            &[
                placement(merged.id, &hall, &morning),
                placement(into.id, &hall, &afternoon),
            ],
            audit("schedule"),
        )
        .await
        .unwrap();

    let before = audit_count(store.as_ref()).await;
    let co_hosts = vec![email("ada@example.org")];
    store
        .merge_proposal(merged.id, into.id, &co_hosts, audit("proposal.merge"))
        .await
        .unwrap();
    assert_eq!(audit_count(store.as_ref()).await, before + 1);

    let listed = store.proposals(conf.id).await.unwrap();
    let of = |id: ProposalId| listed.iter().find(|s| s.proposal.id == id).unwrap();
    let (gone, kept) = (of(merged.id), of(into.id));
    assert_eq!(gone.proposal.state, ProposalState::Merged(into.id));
    assert_eq!(gone.votes, 0);
    assert_eq!(kept.votes, 3, "one vote each for Ada, Bob and Cy");
    assert_eq!(kept.proposal.co_hosts, co_hosts);
    assert_eq!(
        store
            .placements(conf.id)
            .await
            .unwrap()
            .iter()
            .map(|p| p.proposal_id)
            .collect::<Vec<_>>(),
        vec![into.id],
        "the merged session leaves the schedule"
    );
    // Ada's other vote came back to her.
    let third = proposed(store.as_ref(), conf.id, cy.id, "Third").await;
    assert_eq!(
        store
            .cast_vote(ada.id, third.id, 2, at(20), audit("vote.cast"))
            .await
            .unwrap(),
        VoteOutcome::Cast
    );

    let unknown = store
        .merge_proposal(ProposalId::new(), into.id, &[], audit("proposal.merge"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    let unknown = store
        .merge_proposal(third.id, ProposalId::new(), &[], audit("proposal.merge"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn the_schedule_is_replaced_whole_and_keeps_slack_conversations(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "schedule", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let [one, two, three] = [
        proposed(store.as_ref(), conf.id, ada.id, "One").await,
        proposed(store.as_ref(), conf.id, ada.id, "Two").await,
        proposed(store.as_ref(), conf.id, ada.id, "Three").await,
    ];
    let (hall, lab) = (room(conf.id, "Hall", 0), room(conf.id, "Lab", 1));
    let (early, late) = (slot(conf.id, 1), slot(conf.id, 2));
    store
        .replace_venue_grid(
            conf.id,
            &[lab.clone(), hall.clone()],
            &[late.clone(), early.clone()],
            audit("grid"),
        )
        .await
        .unwrap();
    let mut pinned = placement(one.id, &hall, &early);
    pinned.pinned = true;
    let first = vec![placement(two.id, &lab, &late), pinned.clone()];
    store
        .replace_placements(conf.id, &first, audit("schedule"))
        .await
        .unwrap();
    assert_eq!(
        store.placements(conf.id).await.unwrap(),
        vec![pinned.clone(), placement(two.id, &lab, &late)],
        "by slot, then room"
    );
    store
        .set_session_conversation(one.id, "C0ONE", "https://slack.example/C0ONE")
        .await
        .unwrap();
    let unplaced = store
        .set_session_conversation(three.id, "C0THREE", "https://slack.example/C0THREE")
        .await;
    assert!(
        matches!(unplaced, Err(StoreError::NotFound(_))),
        "{unplaced:?}"
    );

    // Sessions move; one keeps its conversation, one leaves, one arrives.
    let second = vec![
        placement(one.id, &lab, &late),
        placement(three.id, &hall, &early),
    ];
    store
        .replace_placements(conf.id, &second, audit("schedule"))
        .await
        .unwrap();
    let now = store.placements(conf.id).await.unwrap();
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], placement(three.id, &hall, &early));
    assert_eq!(
        (
            now[1].proposal_id,
            now[1].room_id,
            now[1].slack_conversation.as_deref(),
            now[1].slack_url.as_deref()
        ),
        (
            one.id,
            lab.id,
            Some("C0ONE"),
            Some("https://slack.example/C0ONE")
        )
    );

    let clash = store
        .replace_placements(
            conf.id,
            &[
                placement(one.id, &hall, &early),
                placement(two.id, &hall, &early),
            ],
            audit("schedule"),
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let elsewhere = conference(store.as_ref(), "schedule-elsewhere", 10).await;
    let foreign_room = room(elsewhere.id, "Foreign", 0);
    store
        .replace_venue_grid(
            elsewhere.id,
            std::slice::from_ref(&foreign_room),
            &[],
            audit("grid"),
        )
        .await
        .unwrap();
    let before = audit_count(store.as_ref()).await;
    let foreign = store
        .replace_placements(
            conf.id,
            &[
                placement(two.id, &lab, &early),
                placement(one.id, &foreign_room, &late),
            ],
            audit("schedule"),
        )
        .await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound(_))),
        "{foreign:?}"
    );
    assert_eq!(
        store.placements(conf.id).await.unwrap(),
        now,
        "nothing written"
    );
    assert_eq!(audit_count(store.as_ref()).await, before);
    let unknown = store
        .replace_placements(ConferenceId::new(), &[], audit("schedule"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );

    store
        .replace_placements(conf.id, &[], audit("schedule"))
        .await
        .unwrap();
    assert!(store.placements(conf.id).await.unwrap().is_empty());
}

async fn the_venue_grid_changes_in_place_and_takes_placements_of_removed_rooms_and_slots(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conf = conference(store.as_ref(), "grid", 10).await;
    let ada = confirmed(store.as_ref(), conf.id, "ada@example.org", 1).await;
    let [one, two, three] = [
        proposed(store.as_ref(), conf.id, ada.id, "One").await,
        proposed(store.as_ref(), conf.id, ada.id, "Two").await,
        proposed(store.as_ref(), conf.id, ada.id, "Three").await,
    ];
    let (hall, lab, attic) = (
        room(conf.id, "Hall", 0),
        room(conf.id, "Lab", 1),
        room(conf.id, "Attic", 2),
    );
    let (early, late) = (slot(conf.id, 1), slot(conf.id, 2));
    store
        .replace_venue_grid(
            conf.id,
            &[hall.clone(), lab.clone(), attic.clone()],
            &[early.clone(), late.clone()],
            audit("grid"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.conference_rooms(conf.id).await.unwrap(),
        vec![hall.clone(), lab.clone(), attic.clone()]
    );
    assert_eq!(
        store.conference_slots(conf.id).await.unwrap(),
        vec![early.clone(), late.clone()]
    );
    store
        .set_room_meeting(hall.id, "8812345", "https://zoom.example/j/8812345")
        .await
        .unwrap();
    let unknown = store
        .set_room_meeting(RoomId::new(), "1", "https://x")
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    store
        .replace_placements(
            conf.id,
            &[
                placement(one.id, &hall, &early),
                placement(two.id, &lab, &late),
                placement(three.id, &attic, &early),
            ],
            audit("schedule"),
        )
        .await
        .unwrap();

    // The hall is renamed and moves last; the lab goes, the late slot goes,
    // a new room and a new slot come; the early slot moves.
    let mut renamed = hall.clone();
    renamed.name = "Great hall".into();
    renamed.capacity = 80;
    renamed.position = 5;
    let mut moved = early.clone();
    moved.starts_at = at(600);
    moved.ends_at = at(3000);
    let cellar = room(conf.id, "Cellar", 0);
    let evening = slot(conf.id, 9);
    let before = audit_count(store.as_ref()).await;
    store
        .replace_venue_grid(
            conf.id,
            &[renamed.clone(), attic.clone(), cellar.clone()],
            &[moved.clone(), evening.clone()],
            audit("grid"),
        )
        .await
        .unwrap();
    assert_eq!(audit_count(store.as_ref()).await, before + 1);
    let rooms = store.conference_rooms(conf.id).await.unwrap();
    assert_eq!(
        rooms.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["Cellar", "Attic", "Great hall"]
    );
    let great = rooms.iter().find(|r| r.id == hall.id).unwrap();
    assert_eq!(great.capacity, 80);
    assert_eq!(
        (great.zoom_meeting_id.as_deref(), great.join_url.as_deref()),
        (Some("8812345"), Some("https://zoom.example/j/8812345")),
        "a room keeps its meeting"
    );
    assert_eq!(
        store.conference_slots(conf.id).await.unwrap(),
        vec![moved.clone(), evening.clone()]
    );
    let placed: Vec<ProposalId> = store
        .placements(conf.id)
        .await
        .unwrap()
        .iter()
        .map(|p| p.proposal_id)
        .collect();
    assert_eq!(
        placed.len(),
        2,
        "the session in the removed lab and late slot went with them"
    );
    assert!(placed.contains(&one.id) && placed.contains(&three.id));

    let nowhere = store
        .replace_venue_grid(ConferenceId::new(), &[], &[], audit("grid"))
        .await;
    assert!(
        matches!(nowhere, Err(StoreError::NotFound(_))),
        "{nowhere:?}"
    );
}

async fn one_worker_at_a_time_opens_a_conferences_places_and_only_published_ones_are_listed(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let conference = conference(store.as_ref(), "places", 10).await;
    assert!(store.published_conferences().await.unwrap().is_empty());
    let published = Conference {
        phase: ConferencePhase::SchedulePublished,
        ..conference.clone()
    };
    store
        .update_conference(&published, audit("conference.phase"))
        .await
        .unwrap();
    let listed = store.published_conferences().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, conference.id);

    let (now, until) = (at(100), at(700));
    assert!(
        store
            .claim_conference_places(conference.id, "a", now, until)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_conference_places(conference.id, "b", now, until)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        store
            .claim_conference_places(conference.id, "a", now, until)
            .await
            .unwrap(),
        "its owner may renew it"
    );
    assert!(
        store
            .claim_conference_places(conference.id, "b", at(701), at(1300))
            .await
            .unwrap(),
        "a lease run out is taken over"
    );
    // Only its owner gives it back.
    store
        .release_conference_places(conference.id, "a")
        .await
        .unwrap();
    assert!(
        !store
            .claim_conference_places(conference.id, "a", at(702), at(1300))
            .await
            .unwrap()
    );
    store
        .release_conference_places(conference.id, "b")
        .await
        .unwrap();
    assert!(
        store
            .claim_conference_places(conference.id, "a", at(703), at(1300))
            .await
            .unwrap()
    );
}
