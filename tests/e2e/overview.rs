//! The overview a lead opens first: each channel's health with what to do,
//! the next calls, the last sync runs and the plans waiting for approval,
//! and the deliveries that failed.

use std::time::Duration;

use hub_core::{
    calls::schedule::{self, CallRequest},
    model::channel::ChannelHealth,
};

use crate::sync::synced_app;

#[tokio::test]
async fn the_overview_shows_what_needs_the_leads_attention() {
    let s = synced_app().await;
    let store = s.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let channel = store.channels(community.id).await.unwrap().remove(0);

    let quiet = s.app.get("/communities/rse").await;
    assert_eq!(quiet.status(), 200);
    let quiet = quiet.text().await.unwrap();
    assert!(quiet.contains("No sync has run yet."), "{quiet}");
    assert!(quiet.contains("No call is coming up."));
    assert!(quiet.contains("Every recent announcement went out"));
    assert!(quiet.contains("<td class=\"health-ok\">ok</td>"), "{quiet}");

    // A sync applied, then one held by the guardrail.
    let run = format!("/communities/rse/sync/{}/run", channel.id);
    let applied = s.app.post_form(&run, &[("mode", "apply")]).await;
    assert_eq!(applied.status(), 303);
    s.fake
        .set_members(hub_testkit::fixtures::remote_people(0..20), 15);
    let held = s.app.post_form(&run, &[("mode", "apply")]).await;
    assert_eq!(held.status(), 303);
    let held_run = held.headers()["location"].to_str().unwrap().to_owned();

    // A post the channel refuses for good.
    s.fake
        .script([hub_testkit::fake_adapter::Scripted::Permanent]);
    let channel_id = channel.id.to_string();
    let posted = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Meetup on Friday"),
                ("body_markdown", "Bring questions."),
                ("channel", &channel_id),
            ],
        )
        .await;
    assert_eq!(posted.status(), 303, "{:?}", posted.text().await);

    // Up to 30 s: under the whole suite's load the worker may be slow to
    // take the delivery. The call is scheduled only then: its landing in
    // the same fake channel must not take the scripted refusal first.
    let mut page = String::new();
    for _ in 0..300 {
        page = s.app.get("/communities/rse").await.text().await.unwrap();
        if page.contains("state-failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("Meetup on Friday"), "{page}");

    // A call next week.
    let starts = chrono::Utc::now() + chrono::Duration::days(7);
    schedule::schedule(
        store.as_ref(),
        community.id,
        &CallRequest {
            title: "Community call".into(),
            agenda: String::new(),
            starts_at_local: starts.naive_utc(),
            timezone: "UTC".into(),
            duration_minutes: 60,
            rrule: None,
            registration: false,
        },
        "test",
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    // Then Slack revoked the token.
    store
        .set_channel_health(
            channel.id,
            &ChannelHealth::NeedsReconnect {
                last_error: "token_revoked".into(),
            },
        )
        .await
        .unwrap();
    let page = s.app.get("/communities/rse").await.text().await.unwrap();
    assert!(page.contains("needs reconnect"), "{page}");
    assert!(page.contains("token_revoked"));
    assert!(page.contains(&format!(
        "href=\"/communities/rse/channels#channel-{}\">Reconnect it</a>",
        channel.id
    )));
    assert!(page.contains("1 plan waits for your approval"), "{page}");
    assert!(page.contains(&format!("href=\"{held_run}\"")), "{page}");
    assert!(page.contains("remove 20 of 40 people"), "{page}");
    assert!(page.contains("Community call"));
    assert!(page.contains("Meetup on Friday"), "{page}");
    assert!(page.contains("state-failed"), "{page}");

    // The anchor it links to is on the channels page.
    let channels = s
        .app
        .get("/communities/rse/channels")
        .await
        .text()
        .await
        .unwrap();
    assert!(channels.contains(&format!("id=\"channel-{}\"", channel.id)));

    // Another community's overview is not there for a lead of this one,
    // and nobody logged out sees any.
    assert_eq!(s.app.get("/communities/other").await.status(), 404);
    s.app.logout().await;
    let anonymous = s.app.get("/communities/rse").await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/login");
}
