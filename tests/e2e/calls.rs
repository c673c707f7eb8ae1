//! A call as a lead schedules it on the dashboard and as everyone meets it:
//! a Zoom meeting (the fake Zoom), a Slack post with its reminder (the fake
//! Slack), an invitation mailed over a real SMTP server to each member who
//! takes the email list, and the calendar feeds — the calendars read back by
//! the real PyPI parsers.

use std::time::Duration;

use hub_core::{
    channels::{ChannelRequest, add},
    model::{call::LandingState, channel::ChannelKind},
};
use hub_testkit::{
    ical_check,
    slack::FakeSlack,
    smtp_sink::{ReceivedMail, SmtpSink},
    zoom::FakeZoom,
};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_configured};

const ROSTER: &str = "email,name,role,email_list
ada@example.net,Ada,member,yes
bob@example.net,Bob,member,no
";

pub(crate) struct CallsApp {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
    pub(crate) zoom: FakeZoom,
    pub(crate) slack: FakeSlack,
    pub(crate) general: String,
}

/// An owner, the community `rse` with the roster above, its native list on
/// a real SMTP server, Slack (the fake, a pasted bot token) and Zoom (the
/// fake; connected on the Channels page when `connect_zoom`, else left for
/// the test to connect).
pub(crate) async fn calls_app_with(connect_zoom: bool) -> Option<CallsApp> {
    let sink = SmtpSink::start().await?;
    let zoom = FakeZoom::start().await;
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    let (smtp, zoom_api, zoom_oauth, slack_api) = (
        sink.url(),
        zoom.api_url(),
        zoom.oauth_url(),
        slack.api_url(),
    );
    let app = spawn_app_configured(move |config| {
        config.mail.smtp_url = Some(smtp.into());
        config.outbox.idle_poll_ms = 50;
        // A landing that must wait (for Zoom, for the mail server) is tried
        // again within a second.
        config.outbox.backoff_base_seconds = 1;
        config.zoom.api_url = zoom_api;
        config.zoom.oauth_url = zoom_oauth;
        config.slack.api_url = slack_api;
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    assert_eq!(app.import_csv("rse", ROSTER, &[]).await.status(), 200);
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let keys = app.config.secret_keys().unwrap();
    for (kind, name, settings, secret) in [
        (
            ChannelKind::EmailList,
            "RSE list",
            json!({"list_address": "rse@lists.example.org"}),
            None,
        ),
        (
            ChannelKind::Slack,
            "Slack",
            json!({"conversations": [general]}),
            Some(slack.bot_token()),
        ),
    ] {
        add(
            store.as_ref(),
            &keys,
            community.id,
            ChannelRequest {
                kind,
                name: name.into(),
                settings,
                secret,
                min_interval_ms: 0,
            },
            "test",
        )
        .await
        .unwrap();
    }
    if connect_zoom {
        connect(&app, &zoom).await;
    }
    Some(CallsApp {
        app,
        sink,
        zoom,
        slack,
        general,
    })
}

async fn calls_app() -> Option<CallsApp> {
    calls_app_with(true).await
}

async fn connect(app: &TestApp, zoom: &FakeZoom) {
    let zoom_app = zoom.app();
    let connected = app
        .post_form(
            "/communities/rse/channels/zoom",
            &[
                ("name", "Zoom"),
                ("account_id", &zoom_app.account_id),
                ("client_id", &zoom_app.client_id),
                ("client_secret", &zoom_app.client_secret),
                ("webhook_secret", &zoom_app.webhook_secret),
            ],
        )
        .await;
    assert_eq!(connected.status(), 303, "{:?}", connected.text().await);
}

impl CallsApp {
    /// Waits until every channel shows the call's latest change.
    pub(crate) async fn settled(&self) {
        let store = &self.app.server.as_ref().unwrap().store;
        let community = store.community_by_slug("rse").await.unwrap().unwrap();
        for _ in 0..300 {
            let mut all = Vec::new();
            for call in store.community_calls(community.id).await.unwrap() {
                all.extend(store.call_landings(call.id).await.unwrap());
            }
            if !all.is_empty() && all.iter().all(|l| l.state != LandingState::Pending) {
                assert!(
                    all.iter().all(|l| l.state == LandingState::Landed),
                    "{all:#?}"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the call did not land in every channel");
    }
}

/// The `text/calendar` part of a message, and its method parameter.
pub(crate) fn calendar_of(mail: &ReceivedMail) -> (String, String) {
    let parsed = mail.parsed();
    let part = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/calendar")
        .expect("the message carries a calendar");
    (
        part.get_body().unwrap(),
        part.ctype.params.get("method").cloned().unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_weekly_call_scheduled_on_the_dashboard_lands_in_zoom_slack_the_mail_and_the_feed() {
    let Some(s) = calls_app().await else { return };
    // Weekly at 10:00 in New York, across the change to summer time on 14 March.
    let scheduled = s
        .app
        .post_form(
            "/communities/rse/calls",
            &[
                ("title", "RSE community call"),
                ("agenda", "1. News\n2. Open floor"),
                ("starts_at", "2027-03-02T10:00"),
                ("timezone", "America/New_York"),
                ("duration_minutes", "60"),
                ("repeats", "weekly"),
                ("occurrences", "4"),
            ],
        )
        .await;
    assert_eq!(scheduled.status(), 303, "{:?}", scheduled.text().await);
    s.settled().await;

    // Zoom: one recurring meeting, every occurrence at 10:00 New York time.
    let meetings = s.zoom.meetings();
    assert_eq!(meetings.len(), 1);
    let meeting = &meetings[0];
    assert_eq!(meeting.kind, 8);
    assert_eq!(meeting.timezone, "America/New_York");
    let starts: Vec<&str> = meeting
        .occurrences
        .iter()
        .map(|o| o.start_time.as_str())
        .collect();
    assert_eq!(
        starts,
        [
            "2027-03-02T15:00:00Z",
            "2027-03-09T15:00:00Z",
            "2027-03-16T14:00:00Z",
            "2027-03-23T14:00:00Z"
        ]
    );

    // Slack: the post with the join link, and its reminder.
    let posts = s.slack.messages(&s.general);
    assert_eq!(posts.len(), 1);
    assert!(posts[0].blocks.to_string().contains(&meeting.join_url));
    assert_eq!(s.slack.scheduled(&s.general).len(), 1);

    // Mail: Ada (who takes the list) has the invitation; Bob has nothing.
    let mails = s.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "one invitation");
    assert_eq!(mails[0].rcpt_tos, ["ada@example.net"]);
    assert_eq!(mails[0].header("Subject"), "Invitation: RSE community call");
    let (invite, method) = calendar_of(&mails[0]);
    assert_eq!(method, "REQUEST");
    let Some(parsed) = ical_check::parse(&invite, Some(("2027-03-01", "2027-04-01"))) else {
        return;
    };
    assert_eq!(parsed["method"], "REQUEST");
    assert_eq!(parsed["events"][0]["location"], meeting.join_url.as_str());
    assert_eq!(parsed["events"][0]["attendees"][0]["rsvp"], "FALSE");
    let local: Vec<&str> = parsed["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["local"].as_str().unwrap())
        .collect();
    assert_eq!(local.len(), 4);
    assert!(local.iter().all(|l| l.ends_with("T10:00:00")), "{local:?}");

    // The public feed: the call without its join link.
    let public = s.app.get("/c/rse/calendar.ics").await;
    assert_eq!(public.status(), 200);
    assert!(
        public.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let public = public.text().await.unwrap();
    assert!(!public.contains(&meeting.join_url));
    let feed = ical_check::parse(&public, Some(("2027-03-01", "2027-04-01"))).unwrap();
    assert_eq!(feed["occurrences"].as_array().unwrap().len(), 4);
    assert_eq!(feed["events"][0]["uid"], parsed["events"][0]["uid"]);

    // Ada's own feed, from her invitation, has the link; a changed token does not work.
    let text = mails[0].parsed().subparts[0].get_body().unwrap();
    let private = text
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.contains("/calendar/")))
        .unwrap()
        .to_owned();
    let path = private.trim_start_matches(&s.app.base);
    let own = s.app.get(path).await;
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains(&meeting.join_url));
    let forged = path.replace(".ics", "x.ics");
    assert_eq!(s.app.get(&forged).await.status(), 404);

    // The calls page shows it landed everywhere.
    let page = s
        .app
        .get("/communities/rse/calls")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("RSE community call"));
    assert_eq!(
        page.matches("<span class=\"state\">landed</span>").count(),
        3,
        "{page}"
    );

    // Cancelled: gone from Zoom, marked in Slack, and a CANCEL to Ada.
    let store = &s.app.server.as_ref().unwrap().store;
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let call = store.community_calls(community.id).await.unwrap().remove(0);
    let cancelled = s
        .app
        .post_form(&format!("/communities/rse/calls/{}/cancel", call.id), &[])
        .await;
    assert_eq!(cancelled.status(), 303);
    s.settled().await;
    assert!(s.zoom.meetings().is_empty(), "the meeting is deleted");
    assert!(
        s.slack.messages(&s.general)[0]
            .blocks
            .to_string()
            .contains("Cancelled")
    );
    assert!(s.slack.scheduled(&s.general).is_empty());
    let mails = s.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].header("Subject"), "Cancelled: RSE community call");
    let (cancel, method) = calendar_of(&mails[1]);
    assert_eq!(method, "CANCEL");
    let parsed = ical_check::parse(&cancel, None).unwrap();
    assert_eq!(parsed["method"], "CANCEL");
    assert_eq!(parsed["events"][0]["sequence"], 1);
    assert_eq!(parsed["events"][0]["status"], "CANCELLED");
}

#[tokio::test]
async fn a_call_the_form_cannot_schedule_is_refused_with_what_is_wrong() {
    let Some(s) = calls_app().await else { return };
    for (field, value, expected) in [
        ("starts_at", "2001-01-02T10:00", "in the past"),
        ("timezone", "Mars/Olympus", "not a timezone"),
        ("rrule", "FREQ=YEARLY;COUNT=2", "FREQ=YEARLY"),
        ("starts_at", "next tuesday", "date and time"),
    ] {
        let mut fields = vec![
            ("title", "A call"),
            ("starts_at", "2099-03-02T10:00"),
            ("timezone", "Europe/Berlin"),
            ("duration_minutes", "60"),
            ("repeats", "none"),
            ("occurrences", "1"),
        ];
        fields.retain(|(name, _)| *name != field);
        fields.push((field, value));
        let refused = s.app.post_form("/communities/rse/calls", &fields).await;
        assert_eq!(refused.status(), 422, "{field}={value}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(expected), "{field}={value}: {page}");
        assert!(
            page.contains(value) || field == "starts_at",
            "the form keeps what was typed"
        );
    }
    let store = &s.app.server.as_ref().unwrap().store;
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    assert!(
        store
            .community_calls(community.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_day_before_the_call_each_invited_member_is_reminded_once_and_a_retitle_mails_no_one() {
    use std::sync::Arc;

    use chrono::Timelike;
    use hub_core::{
        calls::schedule::{self, CallRequest},
        ports::clock::ManualClock,
    };
    let Some(s) = calls_app().await else { return };
    let store = s.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    // In UTC, whole minutes, so the local start names the instant plainly.
    let start = chrono::Utc::now() + chrono::Duration::days(3);
    let start = start - chrono::Duration::seconds(i64::from(start.second()));
    let start = start.with_nanosecond(0).unwrap();
    let request = CallRequest {
        title: "Mentoring hour".into(),
        agenda: String::new(),
        starts_at_local: start.naive_utc(),
        timezone: "UTC".into(),
        duration_minutes: 45,
        rrule: None,
        registration: false,
    };
    let call = schedule::schedule(
        store.as_ref(),
        community.id,
        &request,
        "test",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    s.settled().await;
    let mails = s.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].header("Subject"), "Invitation: Mentoring hour");

    // A new title is carried to the channels but is not a new invitation.
    let retitled = CallRequest {
        title: "Mentoring hour (bring a question)".into(),
        ..request
    };
    let call = schedule::change(store.as_ref(), call, &retitled, "test", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(call.sequence, 0);
    s.settled().await;

    // 23 hours before: the reminder, once, however often the worker looks.
    let keys = s.app.config.secret_keys().unwrap();
    let adapters: Arc<dyn hub_core::ports::adapter::AdapterFactory> =
        Arc::new(cophub::adapters::Adapters::new(&s.app.config, &keys, &s.app.base).unwrap());
    let before = start - chrono::Duration::hours(23);
    for _ in 0..2 {
        cophub::server::run_worker_once(
            &s.app.config,
            store.clone(),
            adapters.clone(),
            Arc::new(ManualClock::new(before)),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = s.sink.messages();
    let subjects: Vec<String> = mails.iter().map(|m| m.header("Subject")).collect();
    assert_eq!(
        subjects,
        [
            "Invitation: Mentoring hour",
            "Tomorrow: Mentoring hour (bring a question)"
        ],
        "one invitation, one reminder"
    );
    assert_eq!(mails[1].rcpt_tos, ["ada@example.net"]);
    let text = mails[1].parsed().get_body().unwrap();
    assert!(text.contains(" UTC ("), "{text}");
    assert!(
        text.contains(call.join_url.as_deref().unwrap_or("zoom.example")),
        "{text}"
    );
}

#[tokio::test]
async fn a_call_people_register_for_mails_each_member_who_takes_zoom_their_own_join_link() {
    use hub_core::{
        Email,
        calls::schedule::{self, CallRequest},
        model::{
            audit::NewAuditEvent,
            member::{ConsentChannel, ConsentSource, ConsentStatus, MemberUpdate},
        },
    };
    use hub_testkit::zoom::Fault;
    let Some(s) = calls_app().await else { return };
    let store = s.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    // Cy takes the list only; Ada takes the list and Zoom.
    let more = "email,name,role,email_list\ncy@example.net,Cy Young,member,yes\n";
    assert_eq!(s.app.import_csv("rse", more, &[]).await.status(), 200);
    let ada = store
        .member_by_email(community.id, &Email::parse("ada@example.net").unwrap())
        .await
        .unwrap()
        .unwrap();
    store
        .update_member(
            community.id,
            ada.id,
            MemberUpdate {
                consents: vec![(
                    ConsentChannel::Zoom,
                    ConsentStatus::Subscribed,
                    ConsentSource::Lead,
                )],
                ..MemberUpdate::default()
            },
            NewAuditEvent {
                actor: "test".into(),
                action: "member.update".into(),
                community_id: Some(community.id),
                subject: ada.id.to_string(),
                details: json!({}),
            },
        )
        .await
        .unwrap();
    // Zoom's first answer to a registration is a 500: the invitations wait
    // for it rather than go out with a link that asks Ada to register.
    const REGISTER: &str = "POST /meetings/{meetingId}/registrants";
    s.zoom.fail_next(REGISTER, Fault::Status(500));
    let request = CallRequest {
        title: "Office hours".into(),
        agenda: String::new(),
        starts_at_local: "2027-03-02T10:00:00".parse().unwrap(),
        timezone: "Europe/Berlin".into(),
        duration_minutes: 60,
        rrule: Some("FREQ=WEEKLY;COUNT=4".into()),
        registration: true,
    };
    let call = schedule::schedule(
        store.as_ref(),
        community.id,
        &request,
        "test",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    s.settled().await;

    let meeting = s.zoom.meetings().remove(0);
    let registrants = s.zoom.registrants(meeting.id);
    assert_eq!(
        registrants
            .iter()
            .map(|r| r.email.as_str())
            .collect::<Vec<_>>(),
        ["ada@example.net"],
        "only who takes Zoom is registered"
    );
    let own = registrants[0].join_url.clone();
    assert_ne!(own, meeting.join_url);
    assert_eq!(s.zoom.calls(REGISTER), 2, "the 500, then the registration");

    let mails = s.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2, "one invitation each");
    let to_ada = mails
        .iter()
        .find(|m| m.rcpt_tos == ["ada@example.net"])
        .unwrap();
    let text = to_ada.parsed().subparts[0].get_body().unwrap();
    assert!(text.contains(&format!("Join: {own}")), "{text}");
    assert!(!text.contains(&meeting.join_url), "{text}");
    let (invite, _) = calendar_of(to_ada);
    if let Some(parsed) = ical_check::parse(&invite, None) {
        assert_eq!(parsed["events"][0]["location"], own.as_str());
    }
    let to_cy = mails
        .iter()
        .find(|m| m.rcpt_tos == ["cy@example.net"])
        .unwrap();
    let text = to_cy.parsed().subparts[0].get_body().unwrap();
    assert!(
        text.contains(&format!("Register to join: {}", meeting.join_url)),
        "{text}"
    );

    // Each one's private calendar feed carries the link they were mailed:
    // Ada's own, Cy the meeting's.
    for (to, link, not) in [
        ("ada@example.net", own.as_str(), meeting.join_url.as_str()),
        ("cy@example.net", meeting.join_url.as_str(), own.as_str()),
    ] {
        let mail = mails.iter().find(|m| m.rcpt_tos == [to]).unwrap();
        let text = mail.parsed().subparts[0].get_body().unwrap();
        let feed = text
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.contains("/calendar/")))
            .unwrap_or_else(|| panic!("{to}'s invitation links their feed: {text}"))
            .to_owned();
        let feed = s
            .app
            .get(feed.trim_start_matches(&s.app.base))
            .await
            .text()
            .await
            .unwrap()
            .replace("\r\n ", "");
        assert!(feed.contains(link), "{to}: {feed}");
        assert!(!feed.contains(not), "{to}: {feed}");
    }

    // Moved an hour later: the update carries the same link, and no one is
    // registered again.
    let moved = CallRequest {
        starts_at_local: "2027-03-02T11:00:00".parse().unwrap(),
        ..request
    };
    let call = schedule::change(store.as_ref(), call, &moved, "test", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(call.sequence, 1);
    s.settled().await;
    let mails = s.sink.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 4);
    let update = mails[2..]
        .iter()
        .find(|m| m.rcpt_tos == ["ada@example.net"])
        .unwrap();
    assert_eq!(update.header("Subject"), "Updated: Office hours");
    let text = update.parsed().subparts[0].get_body().unwrap();
    assert!(text.contains(&format!("Join: {own}")), "{text}");
    assert_eq!(s.zoom.calls(REGISTER), 2, "registered once");
    assert_eq!(s.zoom.registrants(meeting.id).len(), 1);
}

#[tokio::test]
async fn a_draft_is_previewed_as_each_channel_will_show_it_and_nothing_is_sent() {
    let Some(s) = calls_app_with(false).await else {
        return;
    };
    let store = s.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let channels = store.channels(community.id).await.unwrap();
    let ids: Vec<String> = channels.iter().map(|c| c.id.to_string()).collect();
    let mut fields = vec![
        ("title", "Meetup on Friday"),
        ("body_markdown", "Bring **questions** & <script>x</script>"),
    ];
    fields.extend(ids.iter().map(|id| ("channel", id.as_str())));
    let previewed = s
        .app
        .post_form("/communities/rse/announcements/preview", &fields)
        .await;
    assert_eq!(previewed.status(), 200);
    let page = previewed.text().await.unwrap();
    // The list's email: the text part as written, with the list's footer,
    // and the HTML part rendered, sanitized and escaped into the frame.
    assert!(page.contains("Email: text part"), "{page}");
    assert!(page.contains("Bring **questions** &#38; "), "{page}");
    assert!(page.contains("You receive this because you subscribed to RSE list"));
    assert!(page.contains("sandbox=\"\" srcdoc=\""), "{page}");
    assert!(
        page.contains("&#60;strong&#62;questions&#60;/strong&#62;"),
        "{page}"
    );
    assert!(
        !page.contains("<script>x"),
        "the body's script never reaches the page"
    );
    // Slack: the blocks, with Slack's bold.
    assert!(
        page.contains(&format!("Slack message to {}", s.general)),
        "{page}"
    );
    assert!(page.contains("*questions*"), "{page}");
    // The form keeps the draft, and nothing was published or sent.
    assert!(page.contains("value=\"Meetup on Friday\""));
    assert!(
        store
            .announcements(community.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.slack.messages(&s.general).is_empty());
    assert!(s.sink.messages().is_empty());

    // No title: the same sentence publishing would give.
    let untitled = s
        .app
        .post_form(
            "/communities/rse/announcements/preview",
            &[("title", ""), ("body_markdown", "x"), ("channel", &ids[0])],
        )
        .await;
    assert_eq!(untitled.status(), 422);
    assert!(untitled.text().await.unwrap().contains("a title must have"));
}
