//! The Store contract: every test here runs on SQLite and on PostgreSQL
//! (`sqlite::name` and `postgres::name`), and is what proves both
//! implementations' queries. PostgreSQL runs need `COPHUB_TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hub_core::{
    Email,
    import::{parse_csv, plan_import},
    model::{
        audit::{AuditQuery, NewAuditEvent, verify_chain},
        call::SentInvitation,
        community::NewCommunity,
        member::{
            CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, MemberQuery, MemberState,
            MemberUpdate, NewMember,
        },
        user::{NewUser, Session},
    },
    page::decode_cursor,
    ports::store::{Store, StoreError},
};

/// Declares each contract test once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = hub_testkit::database::TestDatabase::sqlite();
                    let store = hub_store::open(db.url()).await.unwrap();
                    super::$name(store, db.url()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
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
    users_are_unique_by_normalized_email,
    a_setup_link_makes_exactly_one_owner_even_when_raced,
    sessions_end_when_idle_too_old_or_logged_out,
    api_tokens_lead_to_their_user,
    community_slugs_are_unique_and_leads_see_only_their_own,
    a_nul_character_is_kept_by_sqlite_and_refused_by_postgresql_as_unstorable,
    the_roster_pages_by_cursor_and_filters_on_both_backends_alike,
    an_import_is_applied_whole_and_a_conflict_writes_nothing,
    member_updates_record_consent_with_its_source,
    the_audit_chain_stays_whole_under_concurrent_writers,
    the_audit_log_refuses_changes_at_the_database,
    the_audit_log_pages_newest_first_by_community_actor_action_and_days,
    verify_names_the_first_changed_or_removed_audit_entry_across_pages,
    what_is_written_survives_reopening,
    publishing_writes_the_announcement_and_its_deliveries_or_nothing,
    an_idempotency_key_publishes_once_per_token_for_a_day,
    concurrent_requests_with_one_idempotency_key_publish_once,
    concurrent_workers_never_claim_the_same_delivery,
    an_expired_lease_is_taken_over_and_only_the_holder_may_finish,
    held_channels_and_channels_to_reconnect_get_nothing,
    send_slots_are_spaced_across_callers,
    the_shared_sync_roster_reads_as_each_channels_own,
    bounces_score_once_a_day_and_stop_email_delivery_at_the_threshold,
    a_member_link_works_once_and_only_until_it_expires,
    pushed_events_are_kept_once_and_wait_until_processed,
    channels_are_found_by_kind_and_their_settings_change_audited,
    one_caller_at_a_time_refreshes_a_channels_secret,
    a_person_is_invited_into_a_channel_once,
    leaving_a_group_is_remembered_until_the_person_joins_again,
    a_call_is_kept_whole_with_its_rule_overrides_and_landings,
    a_calls_channels_catch_up_with_each_change_and_wait_for_zoom,
    each_invitation_version_goes_once_and_each_reminder_once,
    a_call_is_found_by_its_zoom_meeting_within_its_community_only,
    each_person_is_kept_once_per_time_a_call_is_held,
    a_time_held_keeps_its_start_and_end_and_a_call_its_recording,
    work_is_counted_by_channel_kind_and_state,
    a_sync_schedule_changes_direction_and_keeps_its_times,
    a_channel_account_is_linked_to_one_member_at_a_time,
    api_tokens_are_listed_per_user_and_a_revoked_one_is_refused_at_once,
    the_last_owner_stays_an_owner_even_when_two_step_down_at_once,
    community_leads_are_the_active_lead_members_of_each_community,
    archive_a_communitys_archive_setting_is_kept_and_its_change_audited,
    archive_pages_hold_what_went_out_newest_first_and_nothing_else,
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

fn new_user(address: &str, owner: bool) -> NewUser {
    NewUser {
        email: email(address),
        password_hash: "$argon2id$fake".into(),
        is_owner: owner,
    }
}

fn new_member(address: &str, role: CommunityRole) -> NewMember {
    NewMember {
        email: email(address),
        name: format!("Name of {address}"),
        role,
        email_consent: None,
    }
}

async fn community(store: &dyn Store, slug: &str) -> hub_core::model::community::Community {
    store
        .create_community(
            NewCommunity::new(slug, "A community", "Europe/Berlin").unwrap(),
            None,
            audit("c"),
        )
        .await
        .unwrap()
}

async fn users_are_unique_by_normalized_email(store: Arc<dyn Store>, _url: &str) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let user = store
        .create_user(new_user("Ada@Example.org", true), audit("u"))
        .await
        .unwrap();
    assert_eq!(user.email.display(), "Ada@Example.org");
    let again = store
        .create_user(new_user("ada@example.ORG", false), audit("u"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let found = store
        .user_credentials(&email("ADA@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, user.id);
    assert!(found.user.is_owner);
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn a_setup_link_makes_exactly_one_owner_even_when_raced(store: Arc<dyn Store>, _url: &str) {
    let now = Utc::now();
    store
        .replace_setup_token("hash-1", now + Duration::hours(1))
        .await
        .unwrap();
    assert!(store.setup_token_is_valid("hash-1", now).await.unwrap());
    assert!(
        !store
            .setup_token_is_valid("hash-1", now + Duration::hours(2))
            .await
            .unwrap()
    );
    assert!(!store.setup_token_is_valid("other", now).await.unwrap());

    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .redeem_setup_token(
                    "hash-1",
                    now,
                    new_user(&format!("owner{i}@example.org"), true),
                    audit("setup"),
                )
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(_))))
        .count();
    assert_eq!(winners, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert!(!store.setup_token_is_valid("hash-1", now).await.unwrap());
}

async fn sessions_end_when_idle_too_old_or_logged_out(store: Arc<dyn Store>, _url: &str) {
    let user = store
        .create_user(new_user("ada@example.org", false), audit("u"))
        .await
        .unwrap();
    let start = Utc::now();
    let session = |id: &str| Session {
        id_hash: id.into(),
        user_id: user.id,
        created_at: start,
        last_seen_at: start,
    };
    store.create_session(&session("live")).await.unwrap();
    store.create_session(&session("idle")).await.unwrap();
    store.create_session(&session("old")).await.unwrap();
    let later = start + Duration::minutes(30);
    let found = store
        .touch_session(
            "live",
            later,
            later - Duration::hours(1),
            later - Duration::days(7),
        )
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(user.id));
    // Used at `later`, so still alive an hour and a half after start.
    let much_later = start + Duration::minutes(80);
    assert!(
        store
            .touch_session(
                "live",
                much_later,
                much_later - Duration::hours(1),
                much_later - Duration::days(7)
            )
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .touch_session(
                "idle",
                much_later,
                much_later - Duration::hours(1),
                much_later - Duration::days(7)
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .touch_session(
                "old",
                later,
                later - Duration::hours(1),
                start + Duration::minutes(1)
            )
            .await
            .unwrap()
            .is_none()
    );
    store.delete_session("live").await.unwrap();
    assert!(
        store
            .touch_session(
                "live",
                later,
                later - Duration::hours(1),
                later - Duration::days(7)
            )
            .await
            .unwrap()
            .is_none()
    );
}

async fn api_tokens_lead_to_their_user(store: Arc<dyn Store>, _url: &str) {
    let user = store
        .create_user(new_user("ada@example.org", false), audit("u"))
        .await
        .unwrap();
    store
        .create_api_token(user.id, "ci", "token-hash", audit("t"))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_by_api_token("token-hash")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(user.id)
    );
    assert!(store.user_by_api_token("nope").await.unwrap().is_none());
}

async fn a_nul_character_is_kept_by_sqlite_and_refused_by_postgresql_as_unstorable(
    store: Arc<dyn Store>,
    url: &str,
) {
    let created = store
        .create_community(
            NewCommunity::new("nul", "Before\0after", "UTC").unwrap(),
            None,
            audit("c"),
        )
        .await;
    if url.starts_with("postgres") {
        let Err(StoreError::Unstorable(message)) = created else {
            panic!("PostgreSQL should refuse a NUL as unstorable, not {created:?}");
        };
        assert!(message.contains("NUL"), "{message}");
        assert!(store.community_by_slug("nul").await.unwrap().is_none());
    } else {
        assert_eq!(created.unwrap().name, "Before\0after");
    }
}

async fn community_slugs_are_unique_and_leads_see_only_their_own(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let owner = store
        .create_user(new_user("owner@example.org", true), audit("u"))
        .await
        .unwrap();
    let lead = store
        .create_user(new_user("Lead@Example.org", false), audit("u"))
        .await
        .unwrap();
    let first = store
        .create_community(
            NewCommunity::new("first", "First", "UTC").unwrap(),
            Some(new_member("LEAD@example.org", CommunityRole::Lead)),
            audit("c"),
        )
        .await
        .unwrap();
    let second = community(store.as_ref(), "second").await;
    let taken = store
        .create_community(
            NewCommunity::new("first", "Again", "UTC").unwrap(),
            None,
            audit("c"),
        )
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))));
    assert_eq!(store.communities_for(&owner).await.unwrap().len(), 2);
    let visible: Vec<_> = store
        .communities_for(&lead)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(visible, vec![first.id]);
    assert_eq!(
        store
            .community_by_slug("second")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(second.id)
    );

    // A lead who left, or is only a member, sees nothing.
    let member = store.all_members(first.id).await.unwrap().pop().unwrap();
    store
        .update_member(
            first.id,
            member.id,
            MemberUpdate {
                state: Some(MemberState::Left),
                ..MemberUpdate::default()
            },
            audit("m"),
        )
        .await
        .unwrap();
    assert!(store.communities_for(&lead).await.unwrap().is_empty());
}

async fn the_roster_pages_by_cursor_and_filters_on_both_backends_alike(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let c = community(store.as_ref(), "roster").await;
    let other = community(store.as_ref(), "other").await;
    let csv = "email,name,role,email_list\n\
        zoe@example.org,Zoë Zed,member,yes\n\
        Ada@Example.org,Ada Lovelace,lead,no\n\
        bob_x@example.org,Bob,member,yes\n\
        carl@example.org,Carl 100%,member,\n\
        dora@example.org,Dora,member,yes\n";
    let plan = plan_import(parse_csv(csv.as_bytes()).unwrap(), &[], false).unwrap();
    store.apply_import(c.id, &plan, audit("i")).await.unwrap();
    store
        .create_member(
            other.id,
            new_member("ada@example.org", CommunityRole::Member),
            audit("m"),
        )
        .await
        .unwrap();

    let emails = |page: &hub_core::page::Page<hub_core::model::member::Member>| {
        page.items
            .iter()
            .map(|m| m.email.normalized().to_owned())
            .collect::<Vec<_>>()
    };
    let query = |f: fn(&mut MemberQuery)| {
        let mut q = MemberQuery {
            limit: 2,
            ..MemberQuery::default()
        };
        f(&mut q);
        q
    };
    let first = store.list_members(c.id, &query(|_| {})).await.unwrap();
    assert_eq!(emails(&first), ["ada@example.org", "bob_x@example.org"]);
    let cursor = decode_cursor(first.next_cursor.as_deref().unwrap()).unwrap();
    let mut next = query(|_| {});
    next.after = Some(cursor);
    let second = store.list_members(c.id, &next).await.unwrap();
    assert_eq!(emails(&second), ["carl@example.org", "dora@example.org"]);
    next.after = Some(decode_cursor(second.next_cursor.as_deref().unwrap()).unwrap());
    let last = store.list_members(c.id, &next).await.unwrap();
    assert_eq!(emails(&last), ["zoe@example.org"]);
    assert!(last.next_cursor.is_none());

    let all = |f: fn(&mut MemberQuery)| {
        let mut q = MemberQuery {
            limit: 100,
            ..MemberQuery::default()
        };
        f(&mut q);
        q
    };
    let found = store
        .list_members(c.id, &all(|q| q.search = Some("ZOË".into())))
        .await
        .unwrap();
    assert_eq!(emails(&found), ["zoe@example.org"]);
    let found = store
        .list_members(c.id, &all(|q| q.search = Some("_x".into())))
        .await
        .unwrap();
    assert_eq!(
        emails(&found),
        ["bob_x@example.org"],
        "an underscore is a character, not a wildcard"
    );
    let found = store
        .list_members(c.id, &all(|q| q.search = Some("100%".into())))
        .await
        .unwrap();
    assert_eq!(emails(&found), ["carl@example.org"]);
    let found = store
        .list_members(c.id, &all(|q| q.role = Some(CommunityRole::Lead)))
        .await
        .unwrap();
    assert_eq!(emails(&found), ["ada@example.org"]);
    let found = store
        .list_members(
            c.id,
            &all(|q| q.consent = Some((ConsentChannel::Email, ConsentStatus::Subscribed))),
        )
        .await
        .unwrap();
    assert_eq!(
        emails(&found),
        ["bob_x@example.org", "dora@example.org", "zoe@example.org"]
    );
    assert!(
        found
            .items
            .iter()
            .all(|m| m.consent(ConsentChannel::Email) == ConsentStatus::Subscribed)
    );
    let found = store
        .list_members(
            c.id,
            &all(|q| q.consent = Some((ConsentChannel::Email, ConsentStatus::None))),
        )
        .await
        .unwrap();
    assert_eq!(emails(&found), ["ada@example.org", "carl@example.org"]);
    let found = store
        .list_members(c.id, &all(|q| q.state = Some(MemberState::Left)))
        .await
        .unwrap();
    assert!(found.items.is_empty());

    // Zoë (on the list) and Carl (not) are in Slack: "in Slack but not on
    // the list" is Carl alone, and "on the list but not in Slack" leaves Zoë out.
    for address in ["zoe@example.org", "carl@example.org"] {
        let member = store
            .member_by_email(c.id, &Email::parse(address).unwrap())
            .await
            .unwrap()
            .unwrap();
        store
            .update_member(
                c.id,
                member.id,
                MemberUpdate {
                    consents: vec![(
                        ConsentChannel::Slack,
                        ConsentStatus::Subscribed,
                        ConsentSource::Sync,
                    )],
                    ..MemberUpdate::default()
                },
                audit("m"),
            )
            .await
            .unwrap();
    }
    let found = store
        .list_members(
            c.id,
            &all(|q| {
                q.consent = Some((ConsentChannel::Slack, ConsentStatus::Subscribed));
                q.absent = Some(ConsentChannel::Email);
            }),
        )
        .await
        .unwrap();
    assert_eq!(emails(&found), ["carl@example.org"]);
    let found = store
        .list_members(
            c.id,
            &all(|q| {
                q.consent = Some((ConsentChannel::Email, ConsentStatus::Subscribed));
                q.absent = Some(ConsentChannel::Slack);
            }),
        )
        .await
        .unwrap();
    assert_eq!(emails(&found), ["bob_x@example.org", "dora@example.org"]);
}

async fn an_import_is_applied_whole_and_a_conflict_writes_nothing(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let c = community(store.as_ref(), "imports").await;
    let csv = "email,name\na@example.org,A\nb@example.org,B\nc@example.org,C\n";
    let plan = plan_import(parse_csv(csv.as_bytes()).unwrap(), &[], false).unwrap();
    // Someone adds b meanwhile: the plan's insert of b conflicts, so a and c must not appear either.
    store
        .create_member(
            c.id,
            new_member("b@example.org", CommunityRole::Member),
            audit("m"),
        )
        .await
        .unwrap();
    let result = store.apply_import(c.id, &plan, audit("i")).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.all_members(c.id).await.unwrap().len(), 1);

    let existing = store.all_members(c.id).await.unwrap();
    let plan = plan_import(parse_csv(csv.as_bytes()).unwrap(), &existing, false).unwrap();
    assert_eq!((plan.created, plan.updated), (2, 1));
    store.apply_import(c.id, &plan, audit("i")).await.unwrap();
    let members = store.all_members(c.id).await.unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[1].name, "B");

    // The same file again changes nothing.
    let plan = plan_import(parse_csv(csv.as_bytes()).unwrap(), &members, false).unwrap();
    assert_eq!((plan.created, plan.updated, plan.unchanged), (0, 0, 3));
}

async fn member_updates_record_consent_with_its_source(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "consent").await;
    let mut member = new_member("ada@example.org", CommunityRole::Member);
    member.email_consent = Some(ConsentStatus::Subscribed);
    let created = store.create_member(c.id, member, audit("m")).await.unwrap();
    assert_eq!(
        created.consent(ConsentChannel::Email),
        ConsentStatus::Subscribed
    );
    assert_eq!(created.consent(ConsentChannel::Slack), ConsentStatus::None);
    let updated = store
        .update_member(
            c.id,
            created.id,
            MemberUpdate {
                name: Some("Ada L.".into()),
                role: Some(CommunityRole::Lead),
                consents: vec![(
                    ConsentChannel::Email,
                    ConsentStatus::OptedOut,
                    ConsentSource::Member,
                )],
                ..MemberUpdate::default()
            },
            audit("m"),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Ada L.");
    // The search index follows renames.
    let search = |term: &str| MemberQuery {
        search: Some(term.into()),
        limit: 10,
        ..MemberQuery::default()
    };
    assert_eq!(
        store
            .list_members(c.id, &search("ada l."))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        store
            .list_members(c.id, &search("name of ada"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .list_members(c.id, &search("ADA@EXAMPLE"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(updated.role, CommunityRole::Lead);
    let consent = updated
        .consents
        .iter()
        .find(|c| c.channel == ConsentChannel::Email)
        .unwrap();
    assert_eq!(
        (consent.status, consent.source),
        (ConsentStatus::OptedOut, ConsentSource::Member)
    );

    let other = community(store.as_ref(), "elsewhere").await;
    let missing = store
        .update_member(other.id, created.id, MemberUpdate::default(), audit("m"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "a member is only found in its own community"
    );
    assert!(store.member(other.id, created.id).await.unwrap().is_none());
}

async fn the_audit_chain_stays_whole_under_concurrent_writers(store: Arc<dyn Store>, _url: &str) {
    let writers = (0..6).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..5 {
                store
                    .append_audit(audit(&format!("w{w}.{i}")))
                    .await
                    .unwrap();
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
    let events = store.audit_events(1, 1000).await.unwrap();
    assert_eq!(events.len(), 30);
    assert_eq!(verify_chain(&events), Ok(30));
}

async fn the_audit_log_refuses_changes_at_the_database(store: Arc<dyn Store>, url: &str) {
    use sqlx::{Connection, Executor};
    store.append_audit(audit("a")).await.unwrap();
    let (update, delete) = if url.starts_with("sqlite:") {
        let mut raw = sqlx::SqliteConnection::connect(url).await.unwrap();
        (
            raw.execute("UPDATE audit_events SET subject = 'mallory'")
                .await
                .map(drop),
            raw.execute("DELETE FROM audit_events").await.map(drop),
        )
    } else {
        let mut raw = sqlx::PgConnection::connect(url).await.unwrap();
        (
            raw.execute("UPDATE audit_events SET subject = 'mallory'")
                .await
                .map(drop),
            raw.execute("DELETE FROM audit_events").await.map(drop),
        )
    };
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let events = store.audit_events(1, 10).await.unwrap();
    assert_eq!(events[0].subject, "s");
    assert_eq!(verify_chain(&events), Ok(1));
}

/// The seqs of a page walk: every page of `query` by its cursor, `limit` at a time.
async fn audit_walk(store: &dyn Store, query: AuditQuery, limit: u32) -> Vec<i64> {
    let mut seqs = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .audit_page(&AuditQuery {
                before,
                limit,
                ..query.clone()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        seqs.extend(page.items.iter().map(|e| e.seq));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        before = Some(decode_cursor(&cursor).unwrap().parse().unwrap());
    }
    seqs
}

async fn the_audit_log_pages_newest_first_by_community_actor_action_and_days(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let a = community(store.as_ref(), "audited").await;
    let b = community(store.as_ref(), "elsewhere").await;
    let actors = [
        "user:ada@example.org",
        "system:sync:chan-1",
        "system:syncer",
        "member:ada@example.org",
    ];
    let actions = [
        "member.update",
        "channel.add",
        "members.import",
        "Member.odd",
    ];
    for i in 0..24_usize {
        let community_id = match i % 3 {
            0 => Some(a.id),
            1 => Some(b.id),
            _ => None,
        };
        store
            .append_audit(NewAuditEvent {
                actor: actors[i % 4].into(),
                action: actions[(i / 2) % 4].into(),
                community_id,
                subject: format!("subject {i}"),
                details: serde_json::json!({"i": i, "html": "<b>&</b>"}),
            })
            .await
            .unwrap();
    }
    let all = store.audit_events(1, 1000).await.unwrap();
    let expect = |keep: &dyn Fn(&hub_core::model::audit::AuditEvent) -> bool| -> Vec<i64> {
        all.iter()
            .rev()
            .filter(|e| keep(e))
            .map(|e| e.seq)
            .collect()
    };
    let query = |f: fn(&mut AuditQuery)| {
        let mut query = AuditQuery::default();
        f(&mut query);
        query
    };

    // The whole log, entries without a community too, newest first, in pages.
    let whole = audit_walk(store.as_ref(), AuditQuery::default(), 5).await;
    assert_eq!(whole, expect(&|_| true));
    assert_eq!(whole.len(), all.len());

    // One community's entries only, and the details come back as written.
    let in_a = AuditQuery {
        community: Some(a.id),
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_walk(store.as_ref(), in_a.clone(), 3).await,
        expect(&|e| e.community_id == Some(a.id))
    );
    let first = store
        .audit_page(&AuditQuery {
            limit: 1,
            ..in_a.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        first.items[0].seq,
        all.iter()
            .rev()
            .find(|e| e.community_id == Some(a.id))
            .unwrap()
            .seq
    );
    assert!(first.items[0].details.contains("<b>&</b>"));
    assert!(first.next_cursor.is_some());

    // An actor and the actors under it, not one that merely begins alike.
    let sync = AuditQuery {
        actors: vec!["system:sync".into()],
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_walk(store.as_ref(), sync, 2).await,
        expect(&|e| e.actor == "system:sync:chan-1")
    );
    let ada = AuditQuery {
        community: Some(a.id),
        actors: vec![
            "user:ada@example.org".into(),
            "member:ada@example.org".into(),
        ],
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_walk(store.as_ref(), ada, 2).await,
        expect(&|e| e.community_id == Some(a.id) && e.actor.ends_with(":ada@example.org"))
    );

    // An action prefix, with letter case as written on both backends.
    let members = query(|q| q.action_prefix = Some("member.".into()));
    assert_eq!(
        audit_walk(store.as_ref(), members, 4).await,
        expect(&|e| e.action.starts_with("member."))
    );
    let upper = query(|q| q.action_prefix = Some("Member.".into()));
    assert_eq!(
        audit_walk(store.as_ref(), upper, 4).await,
        expect(&|e| e.action == "Member.odd")
    );
    let none = query(|q| q.action_prefix = Some("%".into()));
    assert!(audit_walk(store.as_ref(), none, 4).await.is_empty());

    // A time range: from one entry's time, up to another's.
    let (since, until) = (all[5].at, all[17].at);
    let range = AuditQuery {
        since: Some(since),
        until: Some(until),
        ..AuditQuery::default()
    };
    let in_range = audit_walk(store.as_ref(), range, 4).await;
    assert_eq!(in_range, expect(&|e| e.at >= since && e.at < until));
    assert!(in_range.contains(&all[5].seq) && !in_range.contains(&all[17].seq));
    let later = AuditQuery {
        since: Some(Utc::now() + Duration::days(1)),
        ..AuditQuery::default()
    };
    assert!(audit_walk(store.as_ref(), later, 4).await.is_empty());
}

/// Runs statements straight on the database, as someone with its keys could.
async fn tamper(url: &str, statements: &[&'static str]) {
    use sqlx::{Connection, Executor};
    if url.starts_with("sqlite:") {
        let mut raw = sqlx::SqliteConnection::connect(url).await.unwrap();
        for statement in statements {
            raw.execute(*statement).await.unwrap();
        }
    } else {
        let mut raw = sqlx::PgConnection::connect(url).await.unwrap();
        for statement in statements {
            raw.execute(*statement).await.unwrap();
        }
    }
}

async fn verify_names_the_first_changed_or_removed_audit_entry_across_pages(
    store: Arc<dyn Store>,
    url: &str,
) {
    use hub_core::{
        audit::{VerifyError, verify},
        model::audit::BrokenChain,
    };
    for i in 0..7 {
        store.append_audit(audit(&format!("a{i}"))).await.unwrap();
    }
    // Pages of three: entry 4 opens the second page.
    let intact = verify(store.as_ref(), 3).await.unwrap();
    assert_eq!(intact.entries, 7);
    assert_eq!(
        intact.last_hash,
        store.audit_events(7, 1).await.unwrap()[0].hash
    );

    // The append-only guard is the database's own; someone who drops it can
    // change an entry, but not without verify noticing.
    if url.starts_with("sqlite:") {
        tamper(
            url,
            &[
                "DROP TRIGGER audit_events_no_update",
                "DROP TRIGGER audit_events_no_delete",
            ],
        )
        .await;
    } else {
        tamper(
            url,
            &["DROP TRIGGER audit_events_no_change ON audit_events"],
        )
        .await;
    }
    tamper(
        url,
        &["UPDATE audit_events SET details = '{\"k\":2}' WHERE seq = 4"],
    )
    .await;
    match verify(store.as_ref(), 3).await {
        Err(
            error @ VerifyError::Broken {
                broken: BrokenChain::Altered { seq: 4 },
                ..
            },
        ) => {
            let sentence = error.to_string();
            assert!(sentence.contains("entry 4"), "{sentence}");
            assert!(sentence.contains("by test: a3"), "{sentence}");
            assert!(sentence.contains("changed"), "{sentence}");
        }
        other => panic!("{other:?}"),
    }

    tamper(
        url,
        &["UPDATE audit_events SET details = '{\"k\":1}' WHERE seq = 4"],
    )
    .await;
    assert_eq!(verify(store.as_ref(), 3).await.unwrap().entries, 7);

    tamper(url, &["DELETE FROM audit_events WHERE seq = 4"]).await;
    match verify(store.as_ref(), 3).await {
        Err(
            error @ VerifyError::Broken {
                broken: BrokenChain::Removed { seq: 5, after: 3 },
                ..
            },
        ) => assert!(error.to_string().contains("removed"), "{error}"),
        other => panic!("{other:?}"),
    }
    // The whole-log page shows what is left; verify is what tells.
    let page = store
        .audit_page(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 6);
}

async fn what_is_written_survives_reopening(store: Arc<dyn Store>, url: &str) {
    let c = community(store.as_ref(), "durable").await;
    store
        .create_member(
            c.id,
            new_member("ada@example.org", CommunityRole::Lead),
            audit("m"),
        )
        .await
        .unwrap();
    drop(store);
    // Opening again runs the migrations again, which must be a no-op.
    let reopened = hub_store::open(url).await.unwrap();
    let c = reopened
        .community_by_slug("durable")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reopened.all_members(c.id).await.unwrap().len(), 1);
    assert_eq!(
        verify_chain(&reopened.audit_events(1, 100).await.unwrap()),
        Ok(2)
    );
}

async fn webhook_channel(
    store: &dyn Store,
    community: hub_core::ids::CommunityId,
    interval: u32,
) -> hub_core::model::channel::Channel {
    store
        .create_channel(
            community,
            hub_core::model::channel::NewChannel {
                kind: hub_core::model::channel::ChannelKind::Webhook,
                name: "hook".into(),
                settings: serde_json::json!({"url": "https://example.org/hook"}),
                encrypted_secret: Some("v1.sealed".into()),
                min_interval_ms: interval,
            },
            audit("channel"),
        )
        .await
        .unwrap()
}

fn announcement(
    title: &str,
    targets: Vec<hub_core::ids::ChannelId>,
) -> hub_core::model::announcement::NewAnnouncement {
    hub_core::model::announcement::NewAnnouncement {
        title: title.into(),
        body_markdown: "Hello **all**".into(),
        author: "test".into(),
        send_at: None,
        due_at: Utc::now(),
        targets,
    }
}

async fn publishing_writes_the_announcement_and_its_deliveries_or_nothing(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let c = community(store.as_ref(), "news").await;
    let other = community(store.as_ref(), "other").await;
    let ours = webhook_channel(store.as_ref(), c.id, 0).await;
    let theirs = webhook_channel(store.as_ref(), other.id, 0).await;
    let (sent, deliveries) = store
        .publish(c.id, announcement("Hello", vec![ours.id]), audit("p"))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0].state,
        hub_core::model::announcement::DeliveryState::Pending
    );
    assert_eq!(store.deliveries(sent.id).await.unwrap().len(), 1);
    let read = store.announcement(sent.id).await.unwrap().unwrap();
    assert_eq!((read.title.as_str(), read.community_id), ("Hello", c.id));
    let (second, _) = store
        .publish(c.id, announcement("Second", vec![ours.id]), audit("p"))
        .await
        .unwrap();
    let newest_first: Vec<_> = store
        .announcements(c.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(newest_first, [second.id, sent.id]);
    assert_eq!(store.announcements(c.id, 1).await.unwrap().len(), 1);
    assert!(store.announcements(other.id, 10).await.unwrap().is_empty());
    assert!(
        store
            .announcement(hub_core::ids::AnnouncementId::new())
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.channels(c.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].settings["url"], "https://example.org/hook");

    let refused = store
        .publish(
            c.id,
            announcement("Elsewhere", vec![ours.id, theirs.id]),
            audit("p"),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
    let summary = store.outbox_summary().await.unwrap();
    assert_eq!(
        summary.by_state.values().sum::<u64>(),
        2,
        "the refused announcement left no delivery behind"
    );
}

/// A user with one API token per hash in `hashes`.
async fn api_tokens(store: &dyn Store, hashes: &[&str]) {
    let user = store
        .create_user(new_user("client@example.org", false), audit("u"))
        .await
        .unwrap();
    for hash in hashes {
        store
            .create_api_token(user.id, "client", hash, audit("t"))
            .await
            .unwrap();
    }
}

fn idempotency_key(
    token_hash: &str,
    key: &str,
    body: &str,
) -> hub_core::idempotency::IdempotencyKey {
    hub_core::idempotency::IdempotencyKey::new(token_hash, key, "POST /news", body.as_bytes())
        .unwrap()
}

/// The answer kept with a key: the announcement's id and its deliveries.
fn answer(
    announcement: &hub_core::model::announcement::Announcement,
    deliveries: &[hub_core::model::announcement::Delivery],
) -> hub_core::idempotency::KeptResponse {
    hub_core::idempotency::KeptResponse {
        status: 201,
        body: serde_json::json!({"id": announcement.id, "deliveries": deliveries.len()})
            .to_string(),
    }
}

async fn an_idempotency_key_publishes_once_per_token_for_a_day(store: Arc<dyn Store>, _url: &str) {
    use hub_core::idempotency::KeyUse;
    let c = community(store.as_ref(), "news").await;
    let other = community(store.as_ref(), "other").await;
    let ours = webhook_channel(store.as_ref(), c.id, 0).await;
    let theirs = webhook_channel(store.as_ref(), other.id, 0).await;
    api_tokens(store.as_ref(), &["token-a", "token-b"]).await;
    let now = Utc::now();
    let publish = |key: hub_core::idempotency::IdempotencyKey, at, target| {
        let store = store.clone();
        async move {
            store
                .publish_once(
                    &key,
                    at,
                    c.id,
                    announcement("Hello", vec![target]),
                    audit("announcement.publish"),
                    &answer,
                )
                .await
        }
    };
    let count = || async { store.announcements(c.id, 100).await.unwrap().len() };

    let key = idempotency_key("token-a", "k1", "body");
    assert_eq!(store.kept_key(&key, now).await.unwrap(), None, "a new key");
    let KeyUse::First(first) = publish(key.clone(), now, ours.id).await.unwrap() else {
        panic!("a new key publishes");
    };
    assert_eq!(first.status, 201);
    assert_eq!(
        publish(key.clone(), now + Duration::hours(1), ours.id)
            .await
            .unwrap(),
        KeyUse::Repeat(first.clone()),
        "the same request gets the first answer"
    );
    assert_eq!(
        store.kept_key(&key, now).await.unwrap(),
        Some(KeyUse::Repeat(first.clone()))
    );
    assert_eq!(count().await, 1, "published once");

    let other_body = idempotency_key("token-a", "k1", "another body");
    assert_eq!(
        publish(other_body.clone(), now, ours.id).await.unwrap(),
        KeyUse::Mismatch
    );
    assert_eq!(
        store.kept_key(&other_body, now).await.unwrap(),
        Some(KeyUse::Mismatch)
    );
    let other_token = idempotency_key("token-b", "k1", "body");
    let KeyUse::First(theirs_first) = publish(other_token, now, ours.id).await.unwrap() else {
        panic!("keys are per token");
    };
    assert_ne!(theirs_first.body, first.body);
    assert_eq!(count().await, 2);

    // A refused request keeps nothing: the key stays free for a corrected one.
    let refused = idempotency_key("token-a", "k2", "body");
    let error = publish(refused.clone(), now, theirs.id).await;
    assert!(matches!(error, Err(StoreError::NotFound(_))), "{error:?}");
    assert_eq!(store.kept_key(&refused, now).await.unwrap(), None);
    assert!(matches!(
        publish(refused, now, ours.id).await.unwrap(),
        KeyUse::First(_)
    ));
    assert_eq!(count().await, 3);

    // A key of no token is refused.
    let unknown = idempotency_key("no-such-token", "k1", "body");
    let error = publish(unknown, now, ours.id).await;
    assert!(matches!(error, Err(StoreError::NotFound(_))), "{error:?}");

    // After 24 hours the key is new, with a new answer kept for it.
    let day = hub_core::idempotency::KEY_LIFETIME;
    assert_eq!(
        store
            .kept_key(&key, now + day - Duration::seconds(1))
            .await
            .unwrap(),
        Some(KeyUse::Repeat(first.clone()))
    );
    assert_eq!(
        store
            .kept_key(&key, now + day + Duration::seconds(1))
            .await
            .unwrap(),
        None
    );
    let later = now + day + Duration::seconds(1);
    let KeyUse::First(again) = publish(other_body.clone(), later, ours.id).await.unwrap() else {
        panic!("an expired key is new, whatever its old request");
    };
    assert_ne!(again.body, first.body);
    assert_eq!(
        store.kept_key(&other_body, later).await.unwrap(),
        Some(KeyUse::Repeat(again))
    );
    assert_eq!(count().await, 4);
    // Writing it purged the other expired keys.
    assert_eq!(
        store
            .kept_key(&idempotency_key("token-b", "k1", "body"), now)
            .await
            .unwrap(),
        None,
        "purged"
    );
}

async fn concurrent_requests_with_one_idempotency_key_publish_once(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::idempotency::KeyUse;
    let c = community(store.as_ref(), "news").await;
    let ours = webhook_channel(store.as_ref(), c.id, 0).await;
    api_tokens(store.as_ref(), &["token-a"]).await;
    let key = idempotency_key("token-a", "raced", "body");
    let now = Utc::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                store
                    .publish_once(
                        &key,
                        now,
                        c.id,
                        announcement("Raced", vec![ours.id]),
                        audit("announcement.publish"),
                        &answer,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut first = Vec::new();
    let mut repeats = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            KeyUse::First(response) => first.push(response),
            KeyUse::Repeat(response) => repeats.push(response),
            KeyUse::Mismatch => panic!("the same request"),
        }
    }
    assert_eq!(first.len(), 1, "one request published");
    assert!(
        repeats.iter().all(|r| *r == first[0]),
        "the others waited and got its answer"
    );
    assert_eq!(store.announcements(c.id, 100).await.unwrap().len(), 1);
}

async fn concurrent_workers_never_claim_the_same_delivery(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "busy").await;
    let channel = webhook_channel(store.as_ref(), c.id, 0).await;
    for i in 0..120 {
        store
            .publish(
                c.id,
                announcement(&format!("n{i}"), vec![channel.id]),
                audit("p"),
            )
            .await
            .unwrap();
    }
    let workers = (0..4).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let now = Utc::now();
                let claimed = store
                    .claim_deliveries(&format!("w{w}"), now, now + Duration::minutes(5), 7)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for work in claimed {
                    assert_eq!(work.channel.id, work.delivery.channel_id);
                    assert_eq!(work.encrypted_secret.as_deref(), Some("v1.sealed"));
                    assert_eq!(work.delivery.attempts, 1);
                    mine.push(work.delivery.id);
                }
            }
        })
    });
    let mut all = Vec::new();
    for worker in futures::future::join_all(workers).await {
        all.extend(worker.unwrap());
    }
    assert_eq!(all.len(), 120);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120, "a delivery was claimed twice");
}

async fn an_expired_lease_is_taken_over_and_only_the_holder_may_finish(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::outbox::Finish;
    let c = community(store.as_ref(), "crash").await;
    let channel = webhook_channel(store.as_ref(), c.id, 0).await;
    let (sent, _) = store
        .publish(c.id, announcement("Hi", vec![channel.id]), audit("p"))
        .await
        .unwrap();
    let now = Utc::now();
    let first = store
        .claim_deliveries("a", now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let id = first[0].delivery.id;
    assert!(
        store
            .claim_deliveries(
                "b",
                now + Duration::seconds(30),
                now + Duration::seconds(90),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .renew_lease(id, "a", now + Duration::seconds(61))
            .await
            .unwrap()
    );
    let later = now + Duration::seconds(62);
    let second = store
        .claim_deliveries("b", later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the dead worker's lease ran out");
    assert_eq!(second[0].delivery.attempts, 2);
    assert_eq!(
        second[0].delivery.possible_duplicates, 1,
        "a was mid-send: it may have arrived"
    );
    let done = Finish::Sent {
        remote_ref: "r1".into(),
        possible_duplicate: false,
    };
    assert!(
        !store.finish_delivery(id, "a", done.clone()).await.unwrap(),
        "a lost its lease"
    );
    assert!(!store.renew_lease(id, "a", later).await.unwrap());
    assert!(store.finish_delivery(id, "b", done.clone()).await.unwrap());
    assert!(
        !store.finish_delivery(id, "b", done).await.unwrap(),
        "finished once"
    );
    let delivery = store.deliveries(sent.id).await.unwrap().pop().unwrap();
    assert_eq!(
        delivery.state,
        hub_core::model::announcement::DeliveryState::Sent
    );
    assert_eq!(delivery.remote_ref.as_deref(), Some("r1"));

    // A retry refunds its attempt when asked and waits for its time.
    let (sent, _) = store
        .publish(c.id, announcement("Again", vec![channel.id]), audit("p"))
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries("b", later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    let retry_at = later + Duration::seconds(120);
    let retry = Finish::Retry {
        at: retry_at,
        error: "429".into(),
        refund_attempt: true,
        possible_duplicate: false,
    };
    assert!(
        store
            .finish_delivery(claimed[0].delivery.id, "b", retry)
            .await
            .unwrap()
    );
    let waiting = store.deliveries(sent.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (waiting.state, waiting.attempts),
        (hub_core::model::announcement::DeliveryState::RetryWait, 0)
    );
    assert_eq!(waiting.last_error.as_deref(), Some("429"));
    assert!(
        store
            .claim_deliveries(
                "b",
                later + Duration::seconds(119),
                later + Duration::seconds(200),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_deliveries(
                "b",
                later + Duration::seconds(121),
                later + Duration::seconds(200),
                10
            )
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn held_channels_and_channels_to_reconnect_get_nothing(store: Arc<dyn Store>, _url: &str) {
    use hub_core::model::channel::ChannelHealth;
    let c = community(store.as_ref(), "held").await;
    let channel = webhook_channel(store.as_ref(), c.id, 0).await;
    store
        .publish(c.id, announcement("Hi", vec![channel.id]), audit("p"))
        .await
        .unwrap();
    let now = Utc::now();
    store
        .hold_channel_until(channel.id, now + Duration::seconds(30))
        .await
        .unwrap();
    // A shorter hold never shortens a longer one.
    store
        .hold_channel_until(channel.id, now + Duration::seconds(5))
        .await
        .unwrap();
    assert!(
        store
            .claim_deliveries(
                "w",
                now + Duration::seconds(10),
                now + Duration::seconds(70),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    store
        .set_channel_health(
            channel.id,
            &ChannelHealth::NeedsReconnect {
                last_error: "token_revoked".into(),
            },
        )
        .await
        .unwrap();
    let after_hold = now + Duration::seconds(31);
    assert!(
        store
            .claim_deliveries("w", after_hold, after_hold + Duration::seconds(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store.channels(c.id).await.unwrap();
    assert_eq!(
        listed[0].health,
        ChannelHealth::NeedsReconnect {
            last_error: "token_revoked".into()
        }
    );
    store
        .set_channel_health(channel.id, &ChannelHealth::Ok)
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_deliveries("w", after_hold, after_hold + Duration::seconds(60), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let missing = store
        .set_channel_health(hub_core::ids::ChannelId::new(), &ChannelHealth::Ok)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

async fn send_slots_are_spaced_across_callers(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "paced").await;
    let channel = webhook_channel(store.as_ref(), c.id, 250).await;
    let now = Utc::now();
    let interval = Duration::milliseconds(250);
    let callers = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve_send_slot(channel.id, now, interval)
                .await
                .unwrap()
        })
    });
    let mut slots: Vec<_> = futures::future::join_all(callers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    slots.sort();
    assert_eq!(slots[0], now, "the first caller may send at once");
    for pair in slots.windows(2) {
        // Databases keep microseconds, so allow for the first slot's nanoseconds.
        let gap = pair[1] - pair[0];
        assert!(
            (gap - interval).abs() < Duration::microseconds(1),
            "{slots:?}"
        );
    }
}

async fn the_shared_sync_roster_reads_as_each_channels_own(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "roster").await;
    let other = community(store.as_ref(), "other").await;
    store
        .create_member(
            other.id,
            new_member("elsewhere@example.org", CommunityRole::Member),
            audit("m"),
        )
        .await
        .unwrap();
    let statuses = [
        ConsentStatus::Subscribed,
        ConsentStatus::OptedOut,
        ConsentStatus::None,
    ];
    for i in 0..12_usize {
        let created = store
            .create_member(
                c.id,
                new_member(&format!("p{i}@example.org"), CommunityRole::Member),
                audit("m"),
            )
            .await
            .unwrap();
        // A different mix of consents per member, some channels unset.
        let consents = hub_core::sync::HubRoster::CHANNELS
            .iter()
            .enumerate()
            .filter(|(n, _)| (i + n) % 4 != 0)
            .map(|(n, channel)| (*channel, statuses[(i + n) % 3], ConsentSource::Lead))
            .collect();
        let update = MemberUpdate {
            consents,
            state: (i == 5).then_some(hub_core::model::member::MemberState::Left),
            ..MemberUpdate::default()
        };
        store
            .update_member(c.id, created.id, update, audit("m"))
            .await
            .unwrap();
    }
    let shared = store.sync_roster_all(c.id).await.unwrap();
    assert_eq!(shared.people.len(), 12, "only this community's members");
    for channel in hub_core::sync::HubRoster::CHANNELS {
        let mut own = store.sync_roster(c.id, channel).await.unwrap();
        let mut from_shared = shared.for_channel(channel);
        own.sort_by(|a, b| a.email.normalized().cmp(b.email.normalized()));
        from_shared.sort_by(|a, b| a.email.normalized().cmp(b.email.normalized()));
        assert_eq!(own, from_shared, "{channel}");
    }
}

async fn bounces_score_once_a_day_and_stop_email_delivery_at_the_threshold(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::{
        bounces::BounceKind,
        model::member::{ConsentChannel, ConsentSource, ConsentStatus, MemberUpdate},
    };
    let c = community(store.as_ref(), "list").await;
    let subscribed = |address: &str| {
        let mut member = new_member(address, CommunityRole::Member);
        member.email_consent = Some(ConsentStatus::Subscribed);
        member
    };
    let bouncing = store
        .create_member(c.id, subscribed("gone@example.net"), audit("m"))
        .await
        .unwrap();
    store
        .create_member(c.id, subscribed("fine@example.net"), audit("m"))
        .await
        .unwrap();
    assert_eq!(store.bounce_record(bouncing.id).await.unwrap(), None);

    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap();
    let first = store
        .record_bounce(
            bouncing.id,
            BounceKind::Soft,
            "4.2.2 full",
            day(1),
            audit("b"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.score.score, 0.5);
    assert_eq!(first.counted, 1);
    assert_eq!(first.last_reason, "4.2.2 full");
    // A second bounce the same day does not count.
    assert_eq!(
        store
            .record_bounce(bouncing.id, BounceKind::Hard, "5.1.1", day(1), audit("b"))
            .await
            .unwrap(),
        None
    );
    let mut last = first;
    for d in 2..=6 {
        last = store
            .record_bounce(
                bouncing.id,
                BounceKind::Hard,
                "5.1.1 unknown",
                day(d),
                audit("b"),
            )
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(last.score.score, 5.5);
    assert_eq!(last.counted, 6);
    assert_eq!(last.email_disabled_at, Some(day(6)));
    assert_eq!(store.bounce_record(bouncing.id).await.unwrap(), Some(last));

    // Their consent is untouched, but the list no longer mails them.
    let member = store.member(c.id, bouncing.id).await.unwrap().unwrap();
    assert_eq!(
        member.consent(ConsentChannel::Email),
        ConsentStatus::Subscribed
    );
    let list = store
        .create_channel(
            c.id,
            hub_core::model::channel::NewChannel {
                kind: hub_core::model::channel::ChannelKind::EmailList,
                name: "list".into(),
                settings: serde_json::json!({"list_address": "list@example.org"}),
                encrypted_secret: None,
                min_interval_ms: 0,
            },
            audit("channel"),
        )
        .await
        .unwrap();
    let (_, deliveries) = store
        .publish(c.id, announcement("News", vec![list.id]), audit("p"))
        .await
        .unwrap();
    let expanded = store
        .expand_recipients(deliveries[0].id, ConsentChannel::Email, Utc::now())
        .await
        .unwrap();
    assert_eq!(expanded, 1, "only the member who does not bounce");

    // A lead's explicit consent change turns delivery back on.
    store
        .update_member(
            c.id,
            bouncing.id,
            MemberUpdate {
                consents: vec![(
                    ConsentChannel::Email,
                    ConsentStatus::Subscribed,
                    ConsentSource::Lead,
                )],
                ..MemberUpdate::default()
            },
            audit("m"),
        )
        .await
        .unwrap();
    let cleared = store.bounce_record(bouncing.id).await.unwrap().unwrap();
    assert_eq!(cleared.email_disabled_at, None);
}

async fn a_member_link_works_once_and_only_until_it_expires(store: Arc<dyn Store>, _url: &str) {
    use hub_core::membership::{LinkPurpose, NewMemberLink};
    let c = community(store.as_ref(), "links").await;
    let now = Utc::now();
    let link = |hash: &str, expires| NewMemberLink {
        token_hash: hash.into(),
        purpose: LinkPurpose::Join,
        community_id: c.id,
        email: email("Ada@Example.net"),
        name: "Ada".into(),
        created_at: now,
        expires_at: expires,
    };
    store
        .create_member_link(link("h1", now + Duration::days(3)))
        .await
        .unwrap();
    store
        .create_member_link(link("old", now - Duration::seconds(1)))
        .await
        .unwrap();
    let read = store
        .member_link("h1", LinkPurpose::Join, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.email.display(), read.name.as_str()),
        ("Ada@Example.net", "Ada")
    );
    assert_eq!(
        store
            .member_link("h1", LinkPurpose::Preferences, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .member_link("old", LinkPurpose::Join, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .recent_member_links(
                c.id,
                &email("ada@example.net"),
                LinkPurpose::Join,
                now - Duration::minutes(10)
            )
            .await
            .unwrap(),
        2
    );
    // Of two concurrent uses, one gets the link.
    let (a, b) = tokio::join!(
        store.spend_member_link("h1", LinkPurpose::Join, now),
        store.spend_member_link("h1", LinkPurpose::Join, now)
    );
    assert_eq!(
        usize::from(a.unwrap().is_some()) + usize::from(b.unwrap().is_some()),
        1
    );
    assert_eq!(
        store
            .member_link("h1", LinkPurpose::Join, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .spend_member_link("old", LinkPurpose::Join, now)
            .await
            .unwrap(),
        None
    );
}

async fn pushed_events_are_kept_once_and_wait_until_processed(store: Arc<dyn Store>, _url: &str) {
    let now = Utc::now();
    let event = |id: &str, at| hub_core::model::event::InboundEvent {
        source: "slack".into(),
        event_id: id.into(),
        routing_key: "T1".into(),
        kind: "team_join".into(),
        payload: serde_json::json!({"event": {"type": "team_join"}, "n": id}),
        received_at: at,
        processed_at: None,
        outcome: None,
    };
    assert!(
        store
            .record_inbound_event(&event("Ev1", now - Duration::minutes(5)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_inbound_event(&event("Ev1", now))
            .await
            .unwrap(),
        "a retry is kept once"
    );
    assert!(
        store
            .record_inbound_event(&event("Ev2", now))
            .await
            .unwrap()
    );
    let waiting = store
        .unprocessed_inbound_events("slack", now - Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "only what waited long enough");
    assert_eq!(waiting[0], event("Ev1", waiting[0].received_at));
    store
        .finish_inbound_event("slack", "Ev1", "done", now)
        .await
        .unwrap();
    assert!(
        store
            .unprocessed_inbound_events("slack", now + Duration::minutes(1), 10)
            .await
            .unwrap()
            .iter()
            .all(|e| e.event_id == "Ev2")
    );
    assert!(matches!(
        store
            .finish_inbound_event("slack", "Ev9", "done", now)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn channels_are_found_by_kind_and_their_settings_change_audited(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let c = community(store.as_ref(), "kinds").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let of_kind = store
        .channels_of_kind(hub_core::model::channel::ChannelKind::Webhook)
        .await
        .unwrap();
    assert_eq!(of_kind.len(), 1);
    assert!(
        store
            .channels_of_kind(hub_core::model::channel::ChannelKind::Slack)
            .await
            .unwrap()
            .is_empty()
    );
    let settings = serde_json::json!({"url": "https://example.org/other"});
    let changed = store
        .change_channel_settings(hook.id, &settings, audit("channel.settings"))
        .await
        .unwrap();
    assert_eq!(changed.settings, settings);
    assert_eq!(store.channels(c.id).await.unwrap()[0].settings, settings);
    let last = store.audit_events(1, 100).await.unwrap();
    assert_eq!(last.last().unwrap().action, "channel.settings");
    assert!(matches!(
        store
            .change_channel_settings(hub_core::ids::ChannelId::new(), &settings, audit("x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn one_caller_at_a_time_refreshes_a_channels_secret(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "refresh").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let now = Utc::now();
    let until = now + Duration::seconds(30);
    let (a, b) = tokio::join!(
        store.claim_secret_refresh(hook.id, "a", now, until),
        store.claim_secret_refresh(hook.id, "b", now, until)
    );
    assert_eq!(
        usize::from(a.unwrap()) + usize::from(b.unwrap()),
        1,
        "one holder"
    );
    let holder = if store
        .store_refreshed_secret(hook.id, "v1.fresh", "a")
        .await
        .unwrap()
    {
        "a"
    } else {
        assert!(
            store
                .store_refreshed_secret(hook.id, "v1.fresh", "b")
                .await
                .unwrap()
        );
        "b"
    };
    let (_, secret) = store.channel_with_secret(hook.id).await.unwrap().unwrap();
    assert_eq!(secret.as_deref(), Some("v1.fresh"));
    assert!(
        !store
            .store_refreshed_secret(hook.id, "v1.late", holder)
            .await
            .unwrap(),
        "storing gave the lease back"
    );
    // A lease that ran out can be taken; a released one too.
    assert!(
        store
            .claim_secret_refresh(hook.id, "c", now, now + Duration::seconds(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_secret_refresh(hook.id, "d", now, until)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_secret_refresh(hook.id, "d", now + Duration::seconds(2), until)
            .await
            .unwrap()
    );
    store.release_secret_refresh(hook.id, "d").await.unwrap();
    assert!(
        store
            .claim_secret_refresh(hook.id, "e", now, until)
            .await
            .unwrap()
    );
}

async fn a_person_is_invited_into_a_channel_once(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "invites").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let other = webhook_channel(store.as_ref(), c.id, 0).await;
    let now = Utc::now();
    let nia = email("Nia@Example.net");
    let same = email("nia@example.net");
    let (a, b) = tokio::join!(
        store.claim_invitation(hook.id, &nia, now),
        store.claim_invitation(hook.id, &same, now)
    );
    assert_eq!(
        usize::from(a.unwrap()) + usize::from(b.unwrap()),
        1,
        "once, by normalized email"
    );
    assert!(
        store.claim_invitation(other.id, &nia, now).await.unwrap(),
        "per channel"
    );
    store.forget_invitation(hook.id, &nia).await.unwrap();
    assert!(
        store.claim_invitation(hook.id, &nia, now).await.unwrap(),
        "forgotten: invited again"
    );
}

async fn leaving_a_group_is_remembered_until_the_person_joins_again(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let c = community(store.as_ref(), "groups").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let now = Utc::now();
    store
        .record_group_membership(hook.id, "C1", "U1", false, now)
        .await
        .unwrap();
    store
        .record_group_membership(hook.id, "C1", "U1", false, now)
        .await
        .unwrap();
    store
        .record_group_membership(hook.id, "C2", "U2", false, now)
        .await
        .unwrap();
    assert_eq!(
        store.group_departures(hook.id).await.unwrap(),
        [
            ("C1".to_owned(), "U1".to_owned()),
            ("C2".to_owned(), "U2".to_owned())
        ]
    );
    store
        .record_group_membership(hook.id, "C1", "U1", true, now)
        .await
        .unwrap();
    assert_eq!(
        store.group_departures(hook.id).await.unwrap(),
        [("C2".to_owned(), "U2".to_owned())]
    );
}

async fn channel_of_kind(
    store: &dyn Store,
    community: hub_core::ids::CommunityId,
    kind: hub_core::model::channel::ChannelKind,
) -> hub_core::model::channel::Channel {
    store
        .create_channel(
            community,
            hub_core::model::channel::NewChannel {
                kind,
                name: format!("{kind:?}"),
                settings: serde_json::json!({}),
                encrypted_secret: None,
                min_interval_ms: 0,
            },
            audit("channel"),
        )
        .await
        .unwrap()
}

fn weekly_call(community: hub_core::ids::CommunityId) -> hub_core::model::call::Call {
    use hub_core::model::call::{Call, CallStatus, OccurrenceOverride};
    let at = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").unwrap();
    let zone = chrono_tz::America::New_York;
    Call {
        id: hub_core::ids::CallId::new(),
        community_id: community,
        title: "Community call".into(),
        agenda: "1. News".into(),
        starts_at_local: at("2026-10-20 10:00"),
        timezone: zone,
        duration_minutes: 60,
        recurrence: Some(
            hub_core::calls::recurrence::Recurrence::parse(
                "FREQ=WEEKLY;BYDAY=TU;COUNT=6",
                at("2026-10-20 10:00"),
                zone,
            )
            .unwrap(),
        ),
        overrides: vec![OccurrenceOverride {
            original: at("2026-11-03 10:00"),
            starts_at_local: at("2026-11-04 15:00"),
            duration_minutes: 90,
        }],
        cancelled_occurrences: vec![at("2026-11-10 10:00")],
        registration: true,
        status: CallStatus::Scheduled,
        zoom_meeting_id: None,
        join_url: None,
        recording_url: None,
        sequence: 0,
        created_at: Utc::now(),
    }
}

/// The call as JSON without its creation time, whose precision the two
/// databases keep differently.
fn call_fields(call: &hub_core::model::call::Call) -> serde_json::Value {
    let mut value = serde_json::to_value(call).unwrap();
    value.as_object_mut().unwrap().remove("created_at");
    value
}

async fn a_call_is_kept_whole_with_its_rule_overrides_and_landings(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::model::{call::LandingState, channel::ChannelKind};
    let rse = community(store.as_ref(), "rse").await;
    let other = community(store.as_ref(), "other").await;
    let zoom = channel_of_kind(store.as_ref(), rse.id, ChannelKind::Zoom).await;
    let slack = channel_of_kind(store.as_ref(), rse.id, ChannelKind::Slack).await;
    let foreign = channel_of_kind(store.as_ref(), other.id, ChannelKind::Slack).await;

    let call = weekly_call(rse.id);
    let refused = store
        .create_call(
            &call,
            &[zoom.id, foreign.id],
            Utc::now(),
            audit("call.schedule"),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
    assert!(store.call(call.id).await.unwrap().is_none(), "nothing kept");

    store
        .create_call(
            &call,
            &[zoom.id, slack.id],
            Utc::now(),
            audit("call.schedule"),
        )
        .await
        .unwrap();
    let kept = store.call(call.id).await.unwrap().unwrap();
    assert_eq!(call_fields(&kept), call_fields(&call));
    assert_eq!(kept.occurrences().len(), 6);
    let listed = store.community_calls(rse.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(store.community_calls(other.id).await.unwrap().is_empty());

    let landings = store.call_landings(call.id).await.unwrap();
    assert_eq!(landings.len(), 2);
    for landing in &landings {
        assert_eq!(landing.state, LandingState::Pending);
        assert_eq!((landing.revision, landing.landed_revision), (1, 0));
        assert_eq!(
            landing.pending,
            vec![hub_core::ports::adapter::CallScope::Series]
        );
    }
    let log = store.audit_events(1, 1000).await.unwrap();
    assert_eq!(
        log.iter().filter(|e| e.action == "call.schedule").count(),
        1,
        "the refused one is not audited"
    );
}

async fn a_calls_channels_catch_up_with_each_change_and_wait_for_zoom(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::{
        model::{
            call::{CallJoin, LandingOutcome, LandingState},
            channel::ChannelKind,
        },
        ports::adapter::CallScope,
    };
    let rse = community(store.as_ref(), "rse").await;
    let zoom = channel_of_kind(store.as_ref(), rse.id, ChannelKind::Zoom).await;
    let slack = channel_of_kind(store.as_ref(), rse.id, ChannelKind::Slack).await;
    let mut call = weekly_call(rse.id);
    let now = Utc::now();
    store
        .create_call(&call, &[zoom.id, slack.id], now, audit("call.schedule"))
        .await
        .unwrap();
    let lease = now + chrono::Duration::minutes(5);

    // Slack waits for the Zoom meeting, whose link it shows.
    let first = store
        .claim_call_landings("a", now, lease, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].landing.channel_id, zoom.id);
    assert_eq!(first[0].call.id, call.id);
    assert_eq!(first[0].channel.id, zoom.id);
    assert!(
        store
            .claim_call_landings("b", now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "held, and Slack waits"
    );

    let landed = LandingOutcome::Landed {
        revision: 1,
        remote_ref: Some("81234567890".into()),
        join: Some(CallJoin {
            meeting_id: "81234567890".into(),
            join_url: "https://zoom.example/j/81234567890".into(),
        }),
    };
    assert!(
        !store
            .finish_call_landing("b", call.id, zoom.id, &landed, now)
            .await
            .unwrap(),
        "only the holder finishes"
    );
    assert!(
        store
            .finish_call_landing("a", call.id, zoom.id, &landed, now)
            .await
            .unwrap()
    );
    let kept = store.call(call.id).await.unwrap().unwrap();
    assert_eq!(
        kept.join_url.as_deref(),
        Some("https://zoom.example/j/81234567890")
    );
    assert_eq!(kept.zoom_meeting_id.as_deref(), Some("81234567890"));

    let second = store
        .claim_call_landings("a", now, lease, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].landing.channel_id, slack.id);
    assert_eq!(
        second[0].call.join_url.as_deref(),
        Some("https://zoom.example/j/81234567890")
    );
    let slack_revision = second[0].landing.revision;
    assert_eq!(slack_revision, 2, "the new link is a change for Slack");

    // A change made while Slack's attempt is on its way is carried out after it.
    let moved = call.occurrences()[1].original;
    call.overrides
        .push(hub_core::model::call::OccurrenceOverride {
            original: moved,
            starts_at_local: moved + chrono::Duration::hours(1),
            duration_minutes: 60,
        });
    call.zoom_meeting_id = kept.zoom_meeting_id.clone();
    call.join_url = kept.join_url.clone();
    call.sequence = 1;
    store
        .change_call(
            &call,
            CallScope::Occurrence(moved),
            now,
            audit("call.change"),
        )
        .await
        .unwrap();
    assert!(
        store
            .finish_call_landing(
                "a",
                call.id,
                slack.id,
                &LandingOutcome::Landed {
                    revision: slack_revision,
                    remote_ref: Some("C1:1.0".into()),
                    join: None
                },
                now,
            )
            .await
            .unwrap()
    );
    let landings = store.call_landings(call.id).await.unwrap();
    let slack_landing = landings.iter().find(|l| l.channel_id == slack.id).unwrap();
    assert_eq!(slack_landing.state, LandingState::Pending);
    assert_eq!(slack_landing.remote_ref.as_deref(), Some("C1:1.0"));
    assert_eq!(
        slack_landing.pending,
        vec![CallScope::Series],
        "the series covers the occurrence"
    );
    let zoom_landing = landings.iter().find(|l| l.channel_id == zoom.id).unwrap();
    assert_eq!(zoom_landing.pending, vec![CallScope::Occurrence(moved)]);
    assert_eq!(zoom_landing.remote_ref.as_deref(), Some("81234567890"));

    // Zoom first again; a retry waits, a refusal stops.
    let third = store
        .claim_call_landings("a", now, lease, 10)
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].landing.channel_id, zoom.id);
    let later = now + chrono::Duration::minutes(1);
    assert!(
        store
            .finish_call_landing(
                "a",
                call.id,
                zoom.id,
                &LandingOutcome::Retry {
                    at: later,
                    error: "Zoom answered 503".into()
                },
                now
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_call_landings("a", now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "Slack still waits for Zoom"
    );
    let retried = store
        .claim_call_landings("a", later, later + chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].landing.attempts, 1);
    assert_eq!(
        retried[0].landing.last_error.as_deref(),
        Some("Zoom answered 503")
    );
    assert!(
        store
            .finish_call_landing(
                "a",
                call.id,
                zoom.id,
                &LandingOutcome::Failed {
                    error: "refused".into()
                },
                later
            )
            .await
            .unwrap()
    );
    let after_failure = store
        .claim_call_landings("a", later, later + chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(
        after_failure.len(),
        1,
        "a refused Zoom no longer holds Slack back"
    );
    assert_eq!(after_failure[0].landing.channel_id, slack.id);
    let zoom_landing = store
        .call_landings(call.id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.channel_id == zoom.id)
        .unwrap();
    assert_eq!(zoom_landing.state, LandingState::Failed);
    assert_eq!(zoom_landing.last_error.as_deref(), Some("refused"));

    // An expired lease is taken over.
    let taken = store
        .claim_call_landings(
            "b",
            later + chrono::Duration::minutes(6),
            later + chrono::Duration::minutes(11),
            10,
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert!(
        !store
            .finish_call_landing(
                "a",
                call.id,
                slack.id,
                &LandingOutcome::Failed {
                    error: "late".into()
                },
                later
            )
            .await
            .unwrap()
    );
}

async fn each_invitation_version_goes_once_and_each_reminder_once(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::model::{channel::ChannelKind, member::ConsentStatus};
    let rse = community(store.as_ref(), "rse").await;
    let list = channel_of_kind(store.as_ref(), rse.id, ChannelKind::EmailList).await;
    let mut ids = Vec::new();
    for (address, email) in [
        ("a@example.org", true),
        ("b@example.org", true),
        ("c@example.org", false),
    ] {
        let status = if email {
            ConsentStatus::Subscribed
        } else {
            ConsentStatus::OptedOut
        };
        let member = store
            .create_member(
                rse.id,
                NewMember {
                    email_consent: Some(status),
                    ..new_member(address, CommunityRole::Member)
                },
                audit("member"),
            )
            .await
            .unwrap();
        ids.push(member.id);
    }
    // b takes Zoom too, so b may be registered for the call's meeting.
    store
        .update_member(
            rse.id,
            ids[1],
            MemberUpdate {
                consents: vec![(
                    ConsentChannel::Zoom,
                    ConsentStatus::Subscribed,
                    ConsentSource::Lead,
                )],
                ..MemberUpdate::default()
            },
            audit("m"),
        )
        .await
        .unwrap();
    let mut call = weekly_call(rse.id);
    store
        .create_call(&call, &[list.id], Utc::now(), audit("call.schedule"))
        .await
        .unwrap();

    let first = store.call_invitees(call.id, 0, false, 10).await.unwrap();
    assert_eq!(first.len(), 2, "only those who take the email: {first:?}");
    assert!(first.iter().all(|i| i.invited_sequence.is_none()));
    assert!(
        store
            .call_invitees(call.id, 0, true, 10)
            .await
            .unwrap()
            .is_empty(),
        "no one to cancel for yet"
    );
    store
        .record_invitations(
            call.id,
            &[SentInvitation {
                member_id: first[0].member_id,
                join_url: Some("https://zoom.example/w/1?tk=first".into()),
            }],
            0,
            Utc::now(),
        )
        .await
        .unwrap();
    let rest = store.call_invitees(call.id, 0, false, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].member_id, first[0].member_id);
    assert!(
        first
            .iter()
            .all(|i| i.takes_zoom == (i.member_id == ids[1])),
        "b takes Zoom, a does not: {first:?}"
    );
    store
        .record_invitations(
            call.id,
            &[SentInvitation {
                member_id: rest[0].member_id,
                join_url: None,
            }],
            0,
            Utc::now(),
        )
        .await
        .unwrap();
    assert!(
        store
            .call_invitees(call.id, 0, false, 10)
            .await
            .unwrap()
            .is_empty()
    );
    call.sequence = 1;
    let update = store.call_invitees(call.id, 1, false, 10).await.unwrap();
    assert_eq!(update.len(), 2);
    assert!(update.iter().all(|i| i.invited_sequence == Some(0)));
    let own_link = |invitees: &[hub_core::model::call::Invitee]| {
        invitees
            .iter()
            .find(|i| i.member_id == first[0].member_id)
            .and_then(|i| i.join_url.clone())
    };
    assert_eq!(
        own_link(&update).as_deref(),
        Some("https://zoom.example/w/1?tk=first")
    );
    // The update is recorded without a link: the one given first stays.
    let again: Vec<SentInvitation> = update
        .iter()
        .map(|i| SentInvitation {
            member_id: i.member_id,
            join_url: None,
        })
        .collect();
    store
        .record_invitations(call.id, &again, 1, Utc::now())
        .await
        .unwrap();
    let next = store.call_invitees(call.id, 2, false, 10).await.unwrap();
    assert_eq!(
        own_link(&next).as_deref(),
        Some("https://zoom.example/w/1?tk=first")
    );

    let occurrence = call.occurrences()[0].original;
    let (a, b) = tokio::join!(
        store.claim_reminders(call.id, occurrence, Utc::now(), 1),
        store.claim_reminders(call.id, occurrence, Utc::now(), 1)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 2, "{a:?} {b:?}");
    assert_ne!(
        a[0].member_id, b[0].member_id,
        "two claimers never take the same person"
    );
    assert!(
        store
            .claim_reminders(call.id, occurrence, Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let next = call.occurrences()[1].original;
    assert_eq!(
        store
            .claim_reminders(call.id, next, Utc::now(), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .scheduled_calls()
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == call.id)
    );
}

/// A call of `community` whose Zoom landing made meeting `meeting_id`.
async fn call_in_zoom_meeting(
    store: &dyn Store,
    community: hub_core::ids::CommunityId,
    meeting_id: &str,
) -> hub_core::model::call::Call {
    use hub_core::model::{
        call::{CallJoin, LandingOutcome},
        channel::ChannelKind,
    };
    let zoom = channel_of_kind(store, community, ChannelKind::Zoom).await;
    let call = weekly_call(community);
    let now = Utc::now();
    store
        .create_call(&call, &[zoom.id], now, audit("call.schedule"))
        .await
        .unwrap();
    let owner = format!("zoom-{meeting_id}");
    let claimed = store
        .claim_call_landings(&owner, now, now + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert!(claimed.iter().any(|c| c.call.id == call.id));
    let landed = LandingOutcome::Landed {
        revision: 1,
        remote_ref: Some(meeting_id.into()),
        join: Some(CallJoin {
            meeting_id: meeting_id.into(),
            join_url: format!("https://zoom.example/j/{meeting_id}"),
        }),
    };
    assert!(
        store
            .finish_call_landing(&owner, call.id, zoom.id, &landed, now)
            .await
            .unwrap()
    );
    store.call(call.id).await.unwrap().unwrap()
}

async fn a_call_is_found_by_its_zoom_meeting_within_its_community_only(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let rse = community(store.as_ref(), "rse").await;
    let other = community(store.as_ref(), "other").await;
    assert!(
        store
            .call_by_zoom_meeting(rse.id, "81234567890")
            .await
            .unwrap()
            .is_none()
    );
    let call = call_in_zoom_meeting(store.as_ref(), rse.id, "81234567890").await;
    let found = store
        .call_by_zoom_meeting(rse.id, "81234567890")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call_fields(&found), call_fields(&call));
    assert!(
        store
            .call_by_zoom_meeting(other.id, "81234567890")
            .await
            .unwrap()
            .is_none(),
        "another community's meeting is not this one's call"
    );
    assert!(
        store
            .call_by_zoom_meeting(rse.id, "8123456789")
            .await
            .unwrap()
            .is_none()
    );
}

async fn each_person_is_kept_once_per_time_a_call_is_held(store: Arc<dyn Store>, _url: &str) {
    use hub_core::model::call::Attendance;
    let rse = community(store.as_ref(), "rse").await;
    let ada = store
        .create_member(
            rse.id,
            new_member("ada@example.org", CommunityRole::Member),
            audit("m"),
        )
        .await
        .unwrap();
    let call = call_in_zoom_meeting(store.as_ref(), rse.id, "81234567890").await;
    let at = |minute: u32| Utc.with_ymd_and_hms(2026, 10, 20, 14, minute, 0).unwrap();
    let member = Attendance {
        call_id: call.id,
        instance: "week1==".into(),
        person: format!("member:{}", ada.id),
        member_id: Some(ada.id),
        name: "Ada L.".into(),
        email: Some("Ada@Example.org".into()),
        joined_at: at(2),
    };
    let guest = Attendance {
        person: "name:Phone user".into(),
        member_id: None,
        name: "Phone user".into(),
        email: None,
        joined_at: at(5),
        ..member.clone()
    };
    assert!(store.record_attendance(&member).await.unwrap());
    assert!(store.record_attendance(&guest).await.unwrap());
    let rejoined = Attendance {
        joined_at: at(30),
        ..member.clone()
    };
    assert!(
        !store.record_attendance(&rejoined).await.unwrap(),
        "a rejoin is the same person"
    );
    let next_week = Attendance {
        instance: "week2==".into(),
        joined_at: at(40),
        ..member.clone()
    };
    assert!(store.record_attendance(&next_week).await.unwrap());
    let unknown = Attendance {
        call_id: hub_core::ids::CallId::new(),
        ..member.clone()
    };
    assert!(!store.record_attendance(&unknown).await.unwrap());

    assert_eq!(
        store.call_attendance(call.id).await.unwrap(),
        [member, guest, next_week],
        "by join time, the first join kept"
    );
    assert!(
        store
            .call_attendance(hub_core::ids::CallId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_time_held_keeps_its_start_and_end_and_a_call_its_recording(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::model::call::CallInstance;
    let rse = community(store.as_ref(), "rse").await;
    let call = call_in_zoom_meeting(store.as_ref(), rse.id, "81234567890").await;
    let at = |day: u32, hour: u32| Utc.with_ymd_and_hms(2026, 10, day, hour, 0, 0).unwrap();
    // The end may arrive first; the start fills in without erasing it.
    store
        .record_call_instance(call.id, "week2==", None, Some(at(27, 15)))
        .await
        .unwrap();
    store
        .record_call_instance(call.id, "week2==", Some(at(27, 14)), None)
        .await
        .unwrap();
    store
        .record_call_instance(call.id, "week1==", Some(at(20, 14)), None)
        .await
        .unwrap();
    store
        .record_call_instance(call.id, "week3==", None, None)
        .await
        .unwrap();
    let instance = |name: &str, started, ended| CallInstance {
        call_id: call.id,
        instance: name.into(),
        started_at: started,
        ended_at: ended,
    };
    assert_eq!(
        store.call_instances(call.id).await.unwrap(),
        [
            instance("week1==", Some(at(20, 14)), None),
            instance("week2==", Some(at(27, 14)), Some(at(27, 15))),
            instance("week3==", None, None),
        ]
    );
    let refused = store
        .record_call_instance(hub_core::ids::CallId::new(), "x", Some(at(20, 14)), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );

    store
        .set_call_recording(call.id, "https://zoom.example/rec/share/abc")
        .await
        .unwrap();
    let kept = store.call(call.id).await.unwrap().unwrap();
    assert_eq!(
        kept.recording_url.as_deref(),
        Some("https://zoom.example/rec/share/abc")
    );
    assert_eq!(
        kept.zoom_meeting_id.as_deref(),
        Some("81234567890"),
        "the meeting stays"
    );
    // A person's change of the call keeps the recording.
    let mut retitled = kept.clone();
    retitled.title = "Renamed".into();
    store
        .change_call(
            &retitled,
            hub_core::ports::adapter::CallScope::Series,
            Utc::now(),
            audit("call.change"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.call(call.id).await.unwrap().unwrap().recording_url,
        kept.recording_url
    );
    let refused = store
        .set_call_recording(hub_core::ids::CallId::new(), "https://x.example")
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
}

async fn work_is_counted_by_channel_kind_and_state(store: Arc<dyn Store>, _url: &str) {
    use hub_core::model::{
        channel::{ChannelKind, NewChannel},
        sync::{NewSyncJob, SyncDirection, SyncRun, SyncRunState},
    };
    let empty = store.work_counts().await.unwrap();
    assert!(empty.deliveries.is_empty() && empty.sync_runs.is_empty());

    let c = community(store.as_ref(), "counted").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let slack = store
        .create_channel(
            c.id,
            NewChannel {
                kind: ChannelKind::Slack,
                name: "workspace".into(),
                settings: serde_json::json!({}),
                encrypted_secret: Some("v1.sealed".into()),
                min_interval_ms: 0,
            },
            audit("channel"),
        )
        .await
        .unwrap();
    for title in ["One", "Two"] {
        store
            .publish(
                c.id,
                announcement(title, vec![hook.id, slack.id]),
                audit("p"),
            )
            .await
            .unwrap();
    }
    // One webhook delivery is sent; everything else still waits.
    let now = Utc::now();
    let claimed = store
        .claim_deliveries("w", now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    let sent = claimed
        .iter()
        .find(|work| work.channel.id == hook.id)
        .unwrap()
        .delivery
        .id;
    let done = hub_core::outbox::Finish::Sent {
        remote_ref: "r".into(),
        possible_duplicate: false,
    };
    assert!(store.finish_delivery(sent, "w", done).await.unwrap());

    let job = store
        .create_sync_job(
            slack.id,
            NewSyncJob {
                direction: SyncDirection::Mirror,
                cron: "0 0 * * * *".into(),
                max_remove_fraction: 0.1,
                max_remove_count: 10,
            },
            audit("sync"),
        )
        .await
        .unwrap();
    for state in [
        SyncRunState::Applied,
        SyncRunState::Applied,
        SyncRunState::Failed,
    ] {
        store
            .record_sync_run(&SyncRun {
                id: hub_core::ids::SyncRunId::new(),
                job_id: job.id,
                state,
                plan: serde_json::json!({}),
                counts: hub_core::model::sync::SyncCounts::default(),
                error: None,
                started_at: now,
                finished_at: Some(now),
            })
            .await
            .unwrap();
    }

    let counts = store.work_counts().await.unwrap();
    let key = |kind: &str, state: &str| (kind.to_owned(), state.to_owned());
    let deliveries = |kind: &str, state: &str| {
        counts
            .deliveries
            .get(&key(kind, state))
            .copied()
            .unwrap_or(0)
    };
    let claimed_of = |channel| claimed.iter().filter(|w| w.channel.id == channel).count() as u64;
    assert_eq!(counts.deliveries.values().sum::<u64>(), 4, "{counts:?}");
    assert_eq!(deliveries("webhook", "sent"), 1);
    assert_eq!(deliveries("webhook", "sending"), claimed_of(hook.id) - 1);
    assert_eq!(deliveries("webhook", "pending"), 2 - claimed_of(hook.id));
    assert_eq!(deliveries("slack", "sending"), claimed_of(slack.id));
    assert_eq!(deliveries("slack", "pending"), 2 - claimed_of(slack.id));
    assert_eq!(counts.sync_runs.len(), 2, "{:?}", counts.sync_runs);
    assert_eq!(counts.sync_runs[&key("slack", "applied")], 2);
    assert_eq!(counts.sync_runs[&key("slack", "failed")], 1);
}

async fn api_tokens_are_listed_per_user_and_a_revoked_one_is_refused_at_once(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let ada = store
        .create_user(new_user("ada@example.org", true), audit("u"))
        .await
        .unwrap();
    let bob = store
        .create_user(new_user("Bob@Example.org", false), audit("u"))
        .await
        .unwrap();
    for (user, name, hash) in [
        (&ada, "ci", "hash-ada-ci"),
        (&bob, "laptop", "hash-bob-laptop"),
        (&ada, "backup", "hash-ada-backup"),
    ] {
        store
            .create_api_token(user.id, name, hash, audit("token.create"))
            .await
            .unwrap();
    }

    let ada_tokens = store.api_tokens(Some(ada.id)).await.unwrap();
    let names = |tokens: &[hub_core::model::user::ApiToken]| {
        tokens.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&ada_tokens), ["backup", "ci"], "newest first");
    assert!(ada_tokens.iter().all(|t| t.user_id == ada.id));
    let all = store.api_tokens(None).await.unwrap();
    assert_eq!(names(&all), ["backup", "laptop", "ci"]);
    let laptop = &all[1];
    assert_eq!(laptop.user_id, bob.id);
    assert_eq!(laptop.user_email.display(), "Bob@Example.org");
    assert_eq!(
        store.api_token(laptop.id).await.unwrap().map(|t| t.name),
        Some("laptop".to_owned())
    );

    store
        .revoke_api_token(laptop.id, audit("token.revoke"))
        .await
        .unwrap();
    assert!(
        store
            .user_by_api_token("hash-bob-laptop")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.api_token(laptop.id).await.unwrap().is_none());
    assert!(store.api_tokens(Some(bob.id)).await.unwrap().is_empty());
    assert!(matches!(
        store
            .revoke_api_token(laptop.id, audit("token.revoke"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .user_by_api_token("hash-ada-ci")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id),
        "other tokens still work"
    );
    let revocations = store
        .audit_page(&AuditQuery {
            action_prefix: Some("token.revoke".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        revocations.items.len(),
        1,
        "only the revocation that happened"
    );
}

async fn the_last_owner_stays_an_owner_even_when_two_step_down_at_once(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let ada = store
        .create_user(new_user("ada@example.org", true), audit("u"))
        .await
        .unwrap();
    let bob = store
        .create_user(new_user("bob@example.org", false), audit("u"))
        .await
        .unwrap();
    let owner_changes = || async {
        store
            .audit_page(&AuditQuery {
                action_prefix: Some("user.owner".into()),
                limit: 50,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
            .len()
    };

    assert!(matches!(
        store.set_owner(ada.id, false, audit("user.owner")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .set_owner(hub_core::ids::UserId::new(), true, audit("user.owner"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(owner_changes().await, 0, "a refused change writes nothing");

    assert!(
        store
            .set_owner(bob.id, true, audit("user.owner"))
            .await
            .unwrap()
            .is_owner
    );
    assert!(
        !store
            .set_owner(ada.id, false, audit("user.owner"))
            .await
            .unwrap()
            .is_owner
    );
    let users = store.users().await.unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| (u.email.normalized().to_owned(), u.is_owner))
            .collect::<Vec<_>>(),
        [
            ("ada@example.org".to_owned(), false),
            ("bob@example.org".to_owned(), true)
        ]
    );
    // A non-owner losing what it does not have is no change to the owners.
    store
        .set_owner(ada.id, false, audit("user.owner"))
        .await
        .unwrap();
    assert!(matches!(
        store.set_owner(bob.id, false, audit("user.owner")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(owner_changes().await, 3);

    // Two owners stepping down at once: one of them must stay.
    store
        .set_owner(ada.id, true, audit("user.owner"))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.set_owner(ada.id, false, audit("user.owner")),
        store.set_owner(bob.id, false, audit("user.owner")),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one steps down: {:?} / {:?}",
        a.map(|u| u.is_owner),
        b.map(|u| u.is_owner)
    );
    assert!(matches!(a.err().or(b.err()), Some(StoreError::Conflict(_))));
    let owners = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_owner)
        .count();
    assert_eq!(owners, 1);
}

async fn community_leads_are_the_active_lead_members_of_each_community(
    store: Arc<dyn Store>,
    _url: &str,
) {
    let a = community(store.as_ref(), "alpha").await;
    let b = community(store.as_ref(), "beta").await;
    let ada = store
        .create_member(
            a.id,
            new_member("Ada@Example.org", CommunityRole::Lead),
            audit("m"),
        )
        .await
        .unwrap();
    store
        .create_member(
            a.id,
            new_member("plain@example.org", CommunityRole::Member),
            audit("m"),
        )
        .await
        .unwrap();
    let gone = store
        .create_member(
            b.id,
            new_member("gone@example.org", CommunityRole::Lead),
            audit("m"),
        )
        .await
        .unwrap();
    store
        .update_member(
            b.id,
            gone.id,
            MemberUpdate {
                state: Some(MemberState::Left),
                ..MemberUpdate::default()
            },
            audit("m"),
        )
        .await
        .unwrap();
    store
        .create_member(
            b.id,
            new_member("ada@example.org", CommunityRole::Lead),
            audit("m"),
        )
        .await
        .unwrap();

    let leads = store.community_leads().await.unwrap();
    let seen = leads
        .iter()
        .map(|l| {
            (
                l.community_slug.as_str(),
                l.email.normalized(),
                l.community_id,
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(
        seen,
        [
            ("alpha", "ada@example.org", a.id),
            ("beta", "ada@example.org", b.id)
        ]
    );
    assert_eq!(leads[0].member_id, ada.id);
    assert_eq!(leads[0].email.display(), "Ada@Example.org");
    assert_eq!(leads[0].name, "Name of Ada@Example.org");
    assert_eq!(leads[0].community_name, "A community");
}

async fn archive_a_communitys_archive_setting_is_kept_and_its_change_audited(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::{
        membership::{LinkPurpose, NewMemberLink},
        model::community::ArchiveVisibility,
    };
    let c = community(store.as_ref(), "news").await;
    let other = community(store.as_ref(), "other").await;
    assert_eq!(c.archive, ArchiveVisibility::Members, "the default");

    let changed = store
        .set_archive_visibility(c.id, ArchiveVisibility::Public, audit("community.archive"))
        .await
        .unwrap();
    assert_eq!(
        (changed.id, changed.archive),
        (c.id, ArchiveVisibility::Public)
    );
    let by_slug = store.community_by_slug("news").await.unwrap().unwrap();
    assert_eq!(by_slug.archive, ArchiveVisibility::Public);
    let by_id = store.community(c.id).await.unwrap().unwrap();
    assert_eq!(by_id.archive, ArchiveVisibility::Public);
    let owner = store
        .create_user(new_user("owner@example.org", true), audit("u"))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .communities_for(&owner)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.slug.to_string(), c.archive))
        .collect();
    assert_eq!(
        listed,
        [
            ("news".to_owned(), ArchiveVisibility::Public),
            ("other".to_owned(), ArchiveVisibility::Members)
        ],
        "only the community asked for changed"
    );
    store
        .set_archive_visibility(other.id, ArchiveVisibility::Off, audit("community.archive"))
        .await
        .unwrap();
    assert_eq!(
        store.community(other.id).await.unwrap().unwrap().archive,
        ArchiveVisibility::Off
    );

    // Each change is audited, under its community.
    let entries = store
        .audit_page(&AuditQuery {
            community: Some(c.id),
            action_prefix: Some("community.archive".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(entries.len(), 1);
    assert!(matches!(
        store
            .set_archive_visibility(
                hub_core::ids::CommunityId::new(),
                ArchiveVisibility::Off,
                audit("community.archive"),
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    // A sign-in link to the archive is a member link like the others.
    let now = Utc::now();
    store
        .create_member_link(NewMemberLink {
            token_hash: "archive-hash".into(),
            purpose: LinkPurpose::Archive,
            community_id: c.id,
            email: email("ada@example.org"),
            name: "Ada".into(),
            created_at: now,
            expires_at: now + Duration::minutes(60),
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .recent_member_links(
                c.id,
                &email("ada@example.org"),
                LinkPurpose::Archive,
                now - Duration::minutes(10)
            )
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .spend_member_link("archive-hash", LinkPurpose::Preferences, now)
            .await
            .unwrap()
            .is_none(),
        "a link is good for its own purpose only"
    );
    let spent = store
        .spend_member_link("archive-hash", LinkPurpose::Archive, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (spent.purpose, spent.community_id),
        (LinkPurpose::Archive, c.id)
    );
}

async fn archive_pages_hold_what_went_out_newest_first_and_nothing_else(
    store: Arc<dyn Store>,
    _url: &str,
) {
    use hub_core::{
        announcements::AnnouncementChange,
        archive::{ArchivePosition, published_at},
    };
    let c = community(store.as_ref(), "news").await;
    let other = community(store.as_ref(), "other").await;
    let ours = webhook_channel(store.as_ref(), c.id, 0).await;
    let theirs = webhook_channel(store.as_ref(), other.id, 0).await;
    let start = Utc::now();
    let publish = |community, channel, title: String, send_at| {
        let store = store.clone();
        async move {
            let mut new = announcement(&title, vec![channel]);
            new.send_at = send_at;
            new.due_at = send_at.unwrap_or(new.due_at);
            store.publish(community, new, audit("p")).await.unwrap().0
        }
    };
    let mut written = Vec::new();
    // Scheduled ones that went out earlier, three of them at the same
    // moment (ordered by id among themselves), and one still to go.
    for minutes_ago in [60, 5, 5, 5, 30] {
        let send_at = start - Duration::minutes(minutes_ago);
        written.push(
            publish(
                c.id,
                ours.id,
                format!("sent {minutes_ago} ago"),
                Some(send_at),
            )
            .await,
        );
    }
    let later = start + Duration::days(1);
    written.push(publish(c.id, ours.id, "tomorrow".into(), Some(later)).await);
    for n in 0..22 {
        written.push(publish(c.id, ours.id, format!("at once {n}"), None).await);
    }
    let retracted = publish(c.id, ours.id, "taken back".into(), None).await;
    store
        .change_announcement(
            retracted.id,
            &AnnouncementChange::Retract,
            Utc::now(),
            audit("r"),
        )
        .await
        .unwrap();
    written.push(store.announcement(retracted.id).await.unwrap().unwrap());
    publish(other.id, theirs.id, "another community".into(), None).await;

    let now = Utc::now();
    // What the rule says is in the archive, newest first.
    let mut expected: Vec<_> = written
        .iter()
        .filter(|a| hub_core::archive::in_archive(a, now))
        .map(|a| (published_at(a), a.id))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        expected.len(),
        27,
        "tomorrow's and the retracted one are out"
    );

    // Pages of four: the three at one moment straddle a page's end.
    let mut seen = Vec::new();
    let mut after: Option<ArchivePosition> = None;
    loop {
        let page = store
            .archived_announcements(c.id, now, after.as_ref(), 4)
            .await
            .unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|a| (published_at(a), a.id)));
        match page.last() {
            Some(last) if page.len() == 4 => after = Some(ArchivePosition::of(last)),
            _ => break,
        }
    }
    let ids = |list: &[(chrono::DateTime<Utc>, hub_core::ids::AnnouncementId)]| {
        list.iter().map(|(_, id)| *id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&seen), ids(&expected), "every one once, in order");

    // Tomorrow's shows once it is due; nothing shows before it was written.
    let tomorrow = store
        .archived_announcements(c.id, later, None, 1)
        .await
        .unwrap();
    assert_eq!(tomorrow[0].title, "tomorrow");
    assert!(
        store
            .archived_announcements(c.id, start - Duration::hours(2), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .archived_announcements(hub_core::ids::CommunityId::new(), now, None, 50)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_sync_schedule_changes_direction_and_keeps_its_times(store: Arc<dyn Store>, _url: &str) {
    use hub_core::model::sync::{NewSyncJob, SyncDirection};
    let c = community(store.as_ref(), "direction").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    let missing = store
        .change_sync_direction(hook.id, SyncDirection::Mirror, audit("sync.direction"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let job = store
        .create_sync_job(
            hook.id,
            NewSyncJob {
                direction: SyncDirection::Import,
                cron: "0 15 * * * *".into(),
                max_remove_fraction: 0.2,
                max_remove_count: 7,
            },
            audit("sync"),
        )
        .await
        .unwrap();
    let changed = store
        .change_sync_direction(hook.id, SyncDirection::Mirror, audit("sync.direction"))
        .await
        .unwrap();
    assert_eq!(changed.direction, SyncDirection::Mirror);
    assert_eq!(
        (changed.id, changed.cron.as_str(), changed.max_remove_count),
        (job.id, "0 15 * * * *", 7)
    );
    assert!((changed.max_remove_fraction - 0.2).abs() < f64::EPSILON);
    let read = store.sync_job_of(hook.id).await.unwrap().unwrap();
    assert_eq!(read.direction, SyncDirection::Mirror);
}

async fn a_channel_account_is_linked_to_one_member_at_a_time(store: Arc<dyn Store>, _url: &str) {
    let c = community(store.as_ref(), "links").await;
    let hook = webhook_channel(store.as_ref(), c.id, 0).await;
    assert!(
        store
            .channel_account_links(hook.id)
            .await
            .unwrap()
            .is_empty()
    );
    let mut members = Vec::new();
    for address in ["ada@example.org", "Bob@Example.org"] {
        members.push(
            store
                .create_member(c.id, new_member(address, CommunityRole::Member), audit("m"))
                .await
                .unwrap(),
        );
    }
    store
        .link_channel_account(hook.id, "U1", members[0].id, audit("member.account_linked"))
        .await
        .unwrap();
    store
        .link_channel_account(hook.id, "U2", members[0].id, audit("member.account_linked"))
        .await
        .unwrap();
    // Linked again: the newer link wins.
    store
        .link_channel_account(hook.id, "U1", members[1].id, audit("member.account_linked"))
        .await
        .unwrap();
    let links: Vec<(String, String)> = store
        .channel_account_links(hook.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(account, email)| (account, email.normalized().to_owned()))
        .collect();
    assert_eq!(
        links,
        [
            ("U1".to_owned(), "bob@example.org".to_owned()),
            ("U2".to_owned(), "ada@example.org".to_owned()),
        ]
    );
    assert_eq!(
        store.member_account_links(members[0].id).await.unwrap(),
        [(hook.id, "U2".to_owned())]
    );
}
