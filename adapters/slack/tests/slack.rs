//! The Slack adapter against hub-testkit's fake Slack, which follows Slack's
//! method pages and shares nothing with the adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use hub_adapter_slack::{SlackAdapter, SlackApi, calls::CallPost};
use hub_core::{
    Email,
    ids::{AnnouncementId, CallId, CommunityId},
    model::{announcement::Announcement, call::Call},
    ports::adapter::{AdapterError, ChannelAdapter},
    sync::read_remote,
};
use hub_testkit::slack::{FakeSlack, Fault, NewUser};
use serde_json::json;

fn api(slack: &FakeSlack) -> SlackApi {
    SlackApi {
        api_url: slack.api_url(),
        timeout: Duration::from_secs(1),
    }
}

fn adapter(slack: &FakeSlack, conversations: &[&str]) -> SlackAdapter {
    SlackAdapter::new(
        &api(slack),
        &json!({"conversations": conversations}),
        Some(&slack.bot_token()),
    )
    .unwrap()
}

fn announcement(title: &str, body: &str) -> Announcement {
    Announcement {
        id: AnnouncementId::new(),
        community_id: CommunityId::new(),
        title: title.into(),
        body_markdown: body.into(),
        author: "user:lead@example.org".into(),
        send_at: None,
        created_at: Utc::now(),
        revision: 1,
        retracted_at: None,
    }
}

/// Every section text of every message, in thread order.
fn section_texts(slack: &FakeSlack, conversation: &str) -> Vec<String> {
    slack
        .messages(conversation)
        .iter()
        .flat_map(|m| m.blocks.as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "section")
        .map(|b| b["text"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_mirror_reads_every_person_of_a_large_workspace_through_short_pages() {
    let slack = FakeSlack::start().await;
    slack.set_short_pages(true);
    slack.add_users(3000);
    slack.add_user(NewUser {
        name: "deploybot".into(),
        real_name: "Deploy Bot".into(),
        is_bot: true,
        ..NewUser::default()
    });
    let gone = slack.add_user(NewUser::person("Gone Person", "gone@example.org"));
    slack.remove_user(&gone);
    slack.add_user(NewUser {
        is_restricted: true,
        ..NewUser::person("Guest Person", "guest@example.org")
    });
    let hidden = slack.add_user(NewUser {
        email: None,
        ..NewUser::person("No Email", "unused@example.org")
    });

    let remote = read_remote(&adapter(&slack, &[])).await.unwrap();
    assert_eq!(
        remote.members.len(),
        3001,
        "3,000 people and the one without an email; no bot, Slackbot, deleted account or guest"
    );
    let unmatched: Vec<_> = remote
        .members
        .iter()
        .filter(|m| m.email.is_none())
        .collect();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].external_id, hidden);
    let mut emails: Vec<_> = remote
        .members
        .iter()
        .filter_map(|m| m.email.as_ref().map(|e| e.normalized().to_owned()))
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 3000, "every person exactly once");
    assert_eq!(remote.members[0].name, "Person 0");
    // Pages of up to 1,000 asked, every other one short: more than 3 calls, far fewer than 3,000.
    assert!(
        remote.api_calls >= 4 && remote.api_calls <= 8,
        "{}",
        remote.api_calls
    );
    assert_eq!(slack.calls("users.list"), u64::from(remote.api_calls));

    let with_guests = SlackAdapter::new(
        &api(&slack),
        &json!({"conversations": [], "include_guests": true}),
        Some(&slack.bot_token()),
    )
    .unwrap();
    let all = read_remote(&with_guests).await.unwrap();
    assert_eq!(all.members.len(), 3002, "the guest too, when the lead asks");
}

#[tokio::test]
async fn export_invites_workspace_members_into_every_conversation_a_thousand_at_a_time() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(2500);
    let general = slack.create_conversation("general", false);
    let private = slack.create_conversation("leads", true);
    slack.join(&general, &people[0]);
    let first = adapter(&slack, &[&general, &private]);

    let changes = first.settle_groups(&people, &[]).await.unwrap();
    assert_eq!(slack.calls("conversations.invite"), 3 + 3);
    assert_eq!(changes.added, 2499 + 2500);
    for conversation in [&general, &private] {
        let members = slack.members(conversation);
        assert!(people.iter().all(|p| members.contains(p)));
    }

    // In step now: a second run reads the members and invites nobody.
    let again = adapter(&slack, &[&general, &private]);
    let changes = again.settle_groups(&people, &[]).await.unwrap();
    assert_eq!(changes.added, 0);
    assert_eq!(slack.calls("conversations.invite"), 6);
}

#[tokio::test]
async fn someone_who_left_a_conversation_by_themselves_is_not_invited_back_into_it() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(2);
    let general = slack.create_conversation("general", false);
    let other = slack.create_conversation("other", false);
    let adapter = adapter(&slack, &[&general, &other]);
    let departed = vec![(general.clone(), people[0].clone())];
    adapter.settle_groups(&people, &departed).await.unwrap();
    assert!(!slack.members(&general).contains(&people[0]));
    assert!(slack.members(&general).contains(&people[1]));
    assert!(
        slack.members(&other).contains(&people[0]),
        "only the conversation they left"
    );
}

#[tokio::test]
async fn removal_kicks_from_the_conversations_the_person_is_in_and_only_those() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(2);
    let general = slack.create_conversation("general", false);
    let other = slack.create_conversation("other", false);
    slack.join(&general, &people[0]);
    let adapter = adapter(&slack, &[&general, &other]);
    adapter.remove_member(&people[0]).await.unwrap();
    assert!(!slack.members(&general).contains(&people[0]));
    assert_eq!(slack.calls("conversations.kick"), 1);
    adapter.remove_member(&people[1]).await.unwrap();
    assert_eq!(slack.calls("conversations.kick"), 1, "not in any: no call");
}

#[tokio::test]
async fn a_person_outside_the_workspace_is_reported_with_the_invite_link() {
    let slack = FakeSlack::start().await;
    let adapter = SlackAdapter::new(
        &api(&slack),
        &json!({"conversations": [], "invite_link": "https://join.slack.com/t/x/shared_invite/abc"}),
        Some(&slack.bot_token()),
    )
    .unwrap();
    let error = adapter
        .add_member(&Email::parse("new@example.org").unwrap(), "New")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Unsupported(m) if m.contains("Enterprise Grid") && m.contains("shared_invite/abc")),
        "{error}"
    );
}

#[tokio::test]
async fn a_short_announcement_is_one_message_with_our_metadata() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let receipt = adapter
        .post(
            &announcement("Call on Friday", "Bring **questions** & <ideas>."),
            "delivery-1",
        )
        .await
        .unwrap();
    let messages = slack.messages(&general);
    assert_eq!(messages.len(), 1);
    assert_eq!(receipt.remote_ref, format!("{general}:{}", messages[0].ts));
    assert_eq!(messages[0].blocks[0]["type"], "header");
    assert_eq!(messages[0].blocks[0]["text"]["text"], "Call on Friday");
    assert_eq!(
        messages[0].blocks[1]["text"]["text"],
        "Bring *questions* &amp; &lt;ideas&gt;."
    );
    let metadata = messages[0].metadata.clone().unwrap();
    assert_eq!(metadata["event_type"], "cophub_announcement");
    assert_eq!(metadata["event_payload"]["delivery"], "delivery-1");
}

#[tokio::test]
async fn a_long_announcement_becomes_a_thread_split_between_paragraphs_even_below_slacks_unpublished_limit()
 {
    let slack = FakeSlack::start().await;
    slack.set_blocks_limit(5000);
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let paragraphs: Vec<String> = (0..40)
        .map(|i| format!("Paragraph {i}: {}", "lorem ipsum é😀 & <b> ".repeat(20)))
        .collect();
    let body = paragraphs.join("\n\n");
    let receipt = adapter
        .post(&announcement("A long one", &body), "delivery-long")
        .await
        .unwrap();
    let messages = slack.messages(&general);
    assert!(messages.len() > 1, "a thread");
    let head = &messages[0];
    assert!(head.thread_ts.is_none());
    assert!(
        messages[1..]
            .iter()
            .all(|m| m.thread_ts.as_deref() == Some(head.ts.as_str()))
    );
    assert_eq!(
        receipt.remote_ref,
        format!(
            "{general}:{}",
            messages
                .iter()
                .map(|m| m.ts.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )
    );
    // Every paragraph once, in order, none cut.
    let text = section_texts(&slack, &general).join("\n\n");
    let mut at = 0;
    for i in 0..40 {
        let found = text[at..].find(&format!("Paragraph {i}:")).unwrap();
        at += found + 1;
    }
    assert_eq!(text.matches("Paragraph").count(), 40);
    assert!(
        slack.calls("chat.postMessage") > messages.len() as u64,
        "msg_blocks_too_long was met and the budget halved"
    );
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_found_and_never_posted_twice() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let item = announcement("Lost answer", "Posted, but the answer never came.");
    slack.fail_next(
        "chat.postMessage",
        Fault::AfterEffect(Duration::from_secs(3)),
    );
    let error = adapter.post(&item, "delivery-lost").await.unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    let found = adapter.find_post("delivery-lost").await.unwrap().unwrap();
    assert_eq!(slack.messages(&general).len(), 1);
    assert_eq!(
        found.remote_ref,
        format!("{general}:{}", slack.messages(&general)[0].ts)
    );
    assert_eq!(adapter.find_post("another-delivery").await.unwrap(), None);
    // A retry anyway (another worker) finds it too and posts nothing.
    let again = adapter.post(&item, "delivery-lost").await.unwrap();
    assert_eq!(again, found);
    assert_eq!(slack.messages(&general).len(), 1);
}

#[tokio::test]
async fn a_thread_cut_short_is_finished_by_the_retry_without_repeating_a_part() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let body = (0..30)
        .map(|i| format!("Part {i} {}", "word ".repeat(500)))
        .collect::<Vec<_>>()
        .join("\n\n");
    let item = announcement("Cut", &body);
    // Room enough that the first try of each part fits.
    slack.set_blocks_limit(40_000);
    // The head goes out; the first reply meets a 500.
    slack.fail_next("chat.postMessage", Fault::Pass);
    slack.fail_next("chat.postMessage", Fault::Status(500));
    let error = adapter.post(&item, "delivery-cut").await.unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    assert_eq!(slack.messages(&general).len(), 1, "only the head went out");
    assert_eq!(
        adapter.find_post("delivery-cut").await.unwrap(),
        None,
        "an unfinished thread is not a finished post"
    );
    let receipt = adapter.post(&item, "delivery-cut").await.unwrap();
    let messages = slack.messages(&general);
    assert_eq!(
        messages.iter().filter(|m| m.thread_ts.is_none()).count(),
        1,
        "one head"
    );
    let text = section_texts(&slack, &general).join("\n\n");
    for i in 0..30 {
        assert_eq!(
            text.matches(&format!("Part {i} ")).count(),
            1,
            "part {i} once"
        );
    }
    assert_eq!(receipt.remote_ref.split(',').count(), messages.len());
    assert_eq!(
        adapter.find_post("delivery-cut").await.unwrap(),
        Some(receipt)
    );
}

#[tokio::test]
async fn edit_updates_every_part_and_retract_takes_the_whole_thread_down() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let long = (0..12)
        .map(|i| format!("Old {i} {}", "word ".repeat(500)))
        .collect::<Vec<_>>()
        .join("\n\n");
    let receipt = adapter
        .post(&announcement("Old", &long), "delivery-edit")
        .await
        .unwrap();
    let parts_before = slack.messages(&general).len();
    assert!(parts_before > 1);
    let edited = adapter
        .edit(
            &receipt.remote_ref,
            &announcement("New title", "Now short."),
            "delivery-edit",
        )
        .await
        .unwrap();
    let messages = slack.messages(&general);
    assert_eq!(messages.len(), 1, "the extra replies went");
    assert!(messages[0].edited);
    assert_eq!(messages[0].blocks[0]["text"]["text"], "New title");
    assert_eq!(edited.remote_ref, format!("{general}:{}", messages[0].ts));
    // Twice is harmless.
    adapter
        .edit(
            &edited.remote_ref,
            &announcement("New title", "Now short."),
            "delivery-edit",
        )
        .await
        .unwrap();
    adapter
        .retract(&edited.remote_ref, "delivery-edit")
        .await
        .unwrap();
    assert!(slack.messages(&general).is_empty());
    adapter
        .retract(&edited.remote_ref, "delivery-edit")
        .await
        .unwrap();
}

#[tokio::test]
async fn every_failure_gets_its_class() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let item = announcement("Faults", "Body.");

    slack.fail_next("conversations.history", Fault::RateLimited(7));
    let error = adapter.post(&item, "d-429").await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{error}"
    );
    slack.fail_next("chat.postMessage", Fault::RateLimited(3));
    let error = adapter.post(&item, "d-429b").await.unwrap_err();
    assert!(matches!(error, AdapterError::RateLimited { .. }), "{error}");
    slack.fail_next("chat.postMessage", Fault::Status(503));
    let error = adapter.post(&item, "d-503").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    slack.fail_next("chat.postMessage", Fault::Malformed);
    let error = adapter.post(&item, "d-garbled").await.unwrap_err();
    assert!(
        matches!(error, AdapterError::Ambiguous(_)),
        "a garbled answer to a post: {error}"
    );
    slack.fail_next("users.list", Fault::Malformed);
    let error = adapter.list_members(None).await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    slack.fail_next("users.list", Fault::Hang(Duration::from_secs(3)));
    let error = adapter.list_members(None).await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(m) if m.contains("in time")));
    slack.fail_next("chat.postMessage", Fault::SlackError("is_archived".into()));
    let error = adapter.post(&item, "d-archived").await.unwrap_err();
    assert!(matches!(error, AdapterError::Permanent(m) if m.contains("is_archived")));
    assert!(slack.messages(&general).is_empty(), "nothing went out");

    adapter.health().await.unwrap();
    slack.revoke(&slack.bot_token());
    let error = adapter.health().await.unwrap_err();
    assert!(
        matches!(&error, AdapterError::Auth(m) if m.contains("token_revoked")),
        "{error}"
    );
    let error = adapter.post(&item, "d-revoked").await.unwrap_err();
    assert!(matches!(error, AdapterError::Auth(_)), "{error}");
}

#[tokio::test]
async fn posting_where_the_bot_is_not_a_member_is_refused_with_slacks_reason() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    slack.leave(&general, &slack.bot_user_id());
    let error = adapter(&slack, &[&general])
        .post(&announcement("T", "B"), "d-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Permanent(m) if m.contains("not_in_channel")),
        "{error}"
    );
}

fn call(start_in: chrono::Duration) -> (Call, chrono::DateTime<Utc>) {
    let start = Utc::now() + start_in;
    let call = Call {
        id: CallId::new(),
        community_id: CommunityId::new(),
        title: "Monthly call".into(),
        agenda: "1. News\n2. **Open** floor".into(),
        starts_at_local: start.naive_utc(),
        timezone: chrono_tz::Europe::Berlin,
        duration_minutes: 60,
        recurrence: None,
        overrides: vec![],
        cancelled_occurrences: vec![],
        registration: false,
        status: hub_core::model::call::CallStatus::Scheduled,
        zoom_meeting_id: None,
        join_url: Some("https://zoom.example.org/j/123".into()),
        recording_url: None,
        sequence: 0,
        created_at: Utc::now(),
    };
    (call, start)
}

#[tokio::test]
async fn a_call_is_posted_with_a_reminder_fifteen_minutes_before_which_moves_and_goes_with_it() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let (call, start) = call(chrono::Duration::days(2));
    let posted: CallPost = adapter.post_call(&call, start, Utc::now()).await.unwrap();
    let scheduled = slack.scheduled(&general);
    assert_eq!(scheduled.len(), 1);
    assert_eq!(
        scheduled[0].post_at,
        (start - chrono::Duration::minutes(15)).timestamp()
    );
    assert_eq!(scheduled[0].thread_ts.as_deref(), Some(posted.ts.as_str()));
    assert!(scheduled[0].text.contains("Monthly call"));
    let post = &slack.messages(&general)[0];
    let text = post.blocks.to_string();
    assert!(
        text.contains("Europe/Berlin") && text.contains("zoom.example.org/j/123"),
        "{text}"
    );

    let later = start + chrono::Duration::days(7);
    let moved = adapter
        .move_call(&posted, &call, later, Utc::now())
        .await
        .unwrap();
    let scheduled = slack.scheduled(&general);
    assert_eq!(scheduled.len(), 1, "the old reminder is gone");
    assert_eq!(
        scheduled[0].post_at,
        (later - chrono::Duration::minutes(15)).timestamp()
    );
    assert_ne!(moved.reminder, posted.reminder);
    assert!(slack.messages(&general)[0].edited);

    adapter.cancel_post(&moved, &call, later).await.unwrap();
    assert!(slack.scheduled(&general).is_empty());
    assert!(
        slack.messages(&general)[0]
            .blocks
            .to_string()
            .contains("Cancelled")
    );
}

#[tokio::test]
async fn a_call_too_soon_or_too_far_away_gets_no_reminder_yet() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let (soon, start) = call(chrono::Duration::minutes(10));
    let posted = adapter.post_call(&soon, start, Utc::now()).await.unwrap();
    assert_eq!(posted.reminder, None);
    // Slack takes one message a second per conversation.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (far, start) = call(chrono::Duration::days(200));
    let posted = adapter.post_call(&far, start, Utc::now()).await.unwrap();
    assert_eq!(posted.reminder, None);
    assert!(slack.scheduled(&general).is_empty());
    assert_eq!(slack.calls("chat.scheduleMessage"), 0);
}

/// A weekly call whose next occurrence is `first_in` from now.
fn weekly_call(first_in: chrono::Duration) -> Call {
    let (mut call, start) = call(first_in);
    let zone = chrono_tz::UTC;
    call.timezone = zone;
    call.starts_at_local = start.naive_utc();
    call.recurrence = Some(
        hub_core::calls::recurrence::Recurrence::parse(
            "FREQ=WEEKLY;COUNT=4",
            call.starts_at_local,
            zone,
        )
        .unwrap(),
    );
    call
}

#[tokio::test]
async fn a_scheduled_call_whose_answer_was_lost_is_found_by_its_key_not_posted_twice() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let call = weekly_call(chrono::Duration::days(2));
    slack.fail_next(
        "chat.postMessage",
        Fault::AfterEffect(Duration::from_secs(3)),
    );
    let error = adapter.schedule_call(&call, "call-1").await.unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    assert_eq!(slack.messages(&general).len(), 1, "Slack has it");

    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    assert_eq!(slack.messages(&general).len(), 1, "never posted twice");
    let posted = CallPost::from_ref(&receipt.remote_ref).unwrap();
    assert_eq!(posted.ts, slack.messages(&general)[0].ts);
    assert_eq!(slack.scheduled(&general).len(), 1, "the reminder is on");
    assert_eq!(
        posted.reminder.as_deref(),
        Some(slack.scheduled(&general)[0].id.as_str())
    );
}

#[tokio::test]
async fn cancelling_the_shown_occurrence_moves_the_post_on_and_cancelling_the_call_ends_it() {
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let adapter = adapter(&slack, &[&general]);
    let mut call = weekly_call(chrono::Duration::days(2));
    let first = call.occurrences()[0];
    let receipt = adapter.schedule_call(&call, "call-2").await.unwrap();
    assert_eq!(
        slack.scheduled(&general)[0].post_at,
        (first.starts_at - chrono::Duration::minutes(15)).timestamp()
    );

    call.cancelled_occurrences.push(first.original);
    let moved = adapter
        .cancel_call(
            &receipt.remote_ref,
            &call,
            hub_core::ports::adapter::CallScope::Occurrence(first.original),
        )
        .await
        .unwrap()
        .expect("the reminder moved, so the reference did");
    let second = call.occurrences()[1];
    let scheduled = slack.scheduled(&general);
    assert_eq!(scheduled.len(), 1, "one reminder, for the next occurrence");
    assert_eq!(
        scheduled[0].post_at,
        (second.starts_at - chrono::Duration::minutes(15)).timestamp()
    );
    assert_ne!(moved.remote_ref, receipt.remote_ref);

    call.status = hub_core::model::call::CallStatus::Cancelled;
    adapter
        .cancel_call(
            &moved.remote_ref,
            &call,
            hub_core::ports::adapter::CallScope::Series,
        )
        .await
        .unwrap();
    assert!(slack.scheduled(&general).is_empty());
    assert!(
        slack.messages(&general)[0]
            .blocks
            .to_string()
            .contains("Cancelled")
    );
    assert_eq!(slack.messages(&general).len(), 1);
}

#[test]
fn a_call_posts_reference_reads_back_and_refuses_an_announcements() {
    let with = CallPost {
        conversation: "C1".into(),
        ts: "1700000000.000100".into(),
        reminder: Some("Q1".into()),
    };
    assert_eq!(CallPost::from_ref(&with.to_ref()).unwrap(), with);
    let without = CallPost {
        reminder: None,
        ..with
    };
    assert_eq!(CallPost::from_ref(&without.to_ref()).unwrap(), without);
    assert!(CallPost::from_ref("C1:1.0,2.0").is_err());
    assert!(CallPost::from_ref("nonsense").is_err());
}

/// An adapter that knows its workspace's id, as an install leaves it.
fn adapter_in_team(slack: &FakeSlack) -> SlackAdapter {
    SlackAdapter::new(
        &api(slack),
        &json!({"conversations": [], "team_id": slack.team_id()}),
        Some(&slack.bot_token()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_session_gets_its_own_public_conversation_with_a_link_and_its_purpose() {
    let slack = FakeSlack::start().await;
    let in_team = adapter_in_team(&slack);
    let opened = in_team
        .open_group(
            "session-12-data-quality",
            "Data quality: Q&A with <the> panel",
        )
        .await
        .unwrap();
    assert_eq!(slack.conversations(), vec![opened.id.clone()]);
    assert_eq!(
        opened.url,
        format!(
            "https://slack.com/app_redirect?channel={}&team={}",
            opened.id,
            slack.team_id()
        )
    );
    assert_eq!(
        slack.purpose(&opened.id).as_deref(),
        Some("Data quality: Q&amp;A with &lt;the&gt; panel")
    );
    let groups = in_team.list_groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "session-12-data-quality");
    assert!(!groups[0].private, "a public conversation");

    // Without the workspace's id, the link still opens the conversation.
    let opened = adapter(&slack, &[])
        .open_group("session-13", "Another session")
        .await
        .unwrap();
    assert_eq!(
        opened.url,
        format!("https://slack.com/app_redirect?channel={}", opened.id)
    );
}

#[tokio::test]
async fn a_long_purpose_is_cut_to_what_slack_takes() {
    let slack = FakeSlack::start().await;
    let long = "Ünïcode & more 😀 ".repeat(40);
    let opened = adapter_in_team(&slack)
        .open_group("session-long", &long)
        .await
        .unwrap();
    let purpose = slack.purpose(&opened.id).unwrap();
    assert!(
        purpose.chars().count() <= 250 && purpose.chars().count() > 240,
        "{purpose}"
    );
    assert!(purpose.starts_with("Ünïcode &amp; more 😀"), "{purpose}");
    assert!(purpose.ends_with('…'));
}

#[tokio::test]
async fn opening_a_session_conversation_again_answers_the_same_one_and_leaves_its_purpose() {
    let slack = FakeSlack::start().await;
    let adapter = adapter_in_team(&slack);
    let first = adapter
        .open_group("session-3", "The first purpose")
        .await
        .unwrap();
    let again = adapter
        .open_group("session-3", "A second purpose")
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(slack.conversations().len(), 1, "no second conversation");
    assert_eq!(slack.calls("conversations.create"), 2);
    assert_eq!(slack.calls("conversations.setPurpose"), 1, "only once made");
    assert_eq!(
        slack.purpose(&first.id).as_deref(),
        Some("The first purpose")
    );
}

#[tokio::test]
async fn a_conversation_someone_made_by_hand_is_found_by_its_name_past_the_first_page() {
    let slack = FakeSlack::start().await;
    slack.set_short_pages(true);
    for i in 0..1200 {
        slack.create_conversation(&format!("other-{i}"), false);
    }
    let by_hand = slack.create_conversation("session-7", false);
    let opened = adapter_in_team(&slack)
        .open_group("session-7", "Ours")
        .await
        .unwrap();
    assert_eq!(opened.id, by_hand);
    assert_eq!(slack.conversations().len(), 1201);
    assert!(
        slack.calls("conversations.list") >= 2,
        "the cursor was followed"
    );
    assert_eq!(
        slack.purpose(&by_hand).as_deref(),
        Some(""),
        "a conversation people made keeps its purpose"
    );
    assert_eq!(slack.calls("conversations.setPurpose"), 0);
}

#[tokio::test]
async fn a_name_taken_by_an_archived_conversation_is_refused_with_what_to_do() {
    let slack = FakeSlack::start().await;
    let archived = slack.create_conversation("session-9", false);
    slack.archive(&archived);
    let error = adapter_in_team(&slack)
        .open_group("session-9", "Session nine")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Permanent(m)
            if m.contains("#session-9") && m.contains("taken in Slack")
                && m.contains("rename") && m.contains("unarchive")),
        "{error}"
    );
    assert_eq!(slack.conversations(), vec![archived]);
}

#[tokio::test]
async fn opening_a_session_conversation_meets_slacks_failures_with_their_classes() {
    let slack = FakeSlack::start().await;
    let adapter = adapter_in_team(&slack);

    slack.fail_next("conversations.create", Fault::RateLimited(7));
    let error = adapter.open_group("session-1", "P").await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{error}"
    );
    slack.fail_next("conversations.create", Fault::Status(503));
    let error = adapter.open_group("session-1", "P").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    slack.fail_next("conversations.create", Fault::Hang(Duration::from_secs(3)));
    let error = adapter.open_group("session-1", "P").await.unwrap_err();
    assert!(
        matches!(&error, AdapterError::Transient(m) if m.contains("in time")),
        "{error}"
    );
    assert!(slack.conversations().is_empty(), "nothing was made");

    let error = adapter.open_group("Session One", "P").await.unwrap_err();
    assert!(
        matches!(&error, AdapterError::Permanent(m) if m.contains("invalid_name_specials")),
        "{error}"
    );

    // Made, but the answer was lost: a retry, which finds it by its name.
    slack.fail_next(
        "conversations.create",
        Fault::AfterEffect(Duration::from_secs(3)),
    );
    let error = adapter.open_group("session-1", "P").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    assert_eq!(slack.conversations().len(), 1, "Slack has it");
    slack.fail_next("conversations.list", Fault::RateLimited(4));
    let error = adapter.open_group("session-1", "P").await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(4)),
        "{error}"
    );
    let found = adapter.open_group("session-1", "P").await.unwrap();
    assert_eq!(slack.conversations(), vec![found.id]);

    slack.revoke(&slack.bot_token());
    let error = adapter.open_group("session-2", "P").await.unwrap_err();
    assert!(
        matches!(&error, AdapterError::Auth(m) if m.contains("token_revoked")),
        "{error}"
    );
}

#[tokio::test]
async fn conversations_create_is_tier_2_and_the_twenty_first_in_a_minute_waits() {
    let slack = FakeSlack::start().await;
    let adapter = adapter_in_team(&slack);
    for i in 0..20 {
        adapter
            .open_group(&format!("session-{i}"), "P")
            .await
            .unwrap();
    }
    let error = adapter.open_group("session-20", "P").await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after }
            if retry_after > Duration::ZERO && retry_after <= Duration::from_secs(60)),
        "{error}"
    );
    assert_eq!(slack.conversations().len(), 20);
}

#[tokio::test]
async fn a_purpose_slack_does_not_take_still_opens_the_conversation() {
    let slack = FakeSlack::start().await;
    let adapter = adapter_in_team(&slack);
    slack.fail_next("conversations.setPurpose", Fault::Status(500));
    let opened = adapter.open_group("session-5", "P").await.unwrap();
    assert_eq!(slack.purpose(&opened.id).as_deref(), Some(""));
    slack.fail_next("conversations.setPurpose", Fault::RateLimited(30));
    let other = adapter.open_group("session-6", "P").await.unwrap();
    slack.fail_next(
        "conversations.setPurpose",
        Fault::SlackError("too_long".into()),
    );
    let third = adapter.open_group("session-8", "P").await.unwrap();
    assert_eq!(
        slack.conversations(),
        vec![opened.id, other.id, third.id],
        "each one open"
    );
}
