//! A lead's day, in one real headless Chromium against one server: the
//! first-run setup, a community, an import, Slack connected through its
//! consent page and Zoom with credentials (both the hub-testkit fakes, which
//! follow the official contracts), a sync whose plan a guardrail holds and
//! the lead approves, an announcement that reaches the mail server and
//! Slack, a weekly call in the calendar feed, and a member who leaves
//! everything on the preferences page and is taken out of Slack by the next
//! sync.
//!
//! With `COPHUB_TEST_SCREENSHOTS=1` it saves a screenshot of each main page
//! under docs/screenshots/ (the ones the README shows).

use std::time::Duration;

use fantoccini::Locator;
use hub_core::{
    channels::{ChannelRequest, add},
    model::channel::ChannelKind,
};
use hub_testkit::{slack::FakeSlack, smtp_sink::SmtpSink, zoom::FakeZoom};
use serde_json::json;

use crate::{
    browser::{Browser, browser},
    helpers::{TestApp, between, spawn_app_configured},
};

/// Saves the page as docs/screenshots/{name}.png when asked to.
async fn screenshot(browser: &Browser, name: &str) {
    if std::env::var("COPHUB_TEST_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let png = browser.client.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn open(browser: &Browser, app: &TestApp, path: &str) {
    browser.client.goto(&app.url(path)).await.unwrap();
}

/// Selects a checkbox, radio button or option (leaving one already
/// selected as it is).
async fn choose(browser: &Browser, selector: &str) {
    let element = browser
        .client
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"));
    if !element.is_selected().await.unwrap() {
        element.click().await.unwrap();
    }
}

/// Polls `check` for up to 30 s (the worker delivers in the background).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 30 s");
}

async fn the_app(sink: &SmtpSink, slack: &FakeSlack, zoom: &FakeZoom) -> TestApp {
    let (smtp, slack_api, authorize, slack_app) = (
        sink.url(),
        slack.api_url(),
        slack.authorize_url(),
        slack.app(),
    );
    let (zoom_api, zoom_oauth) = (zoom.api_url(), zoom.oauth_url());
    spawn_app_configured(move |config| {
        config.mail.smtp_url = Some(smtp.into());
        config.outbox.idle_poll_ms = 50;
        config.outbox.backoff_base_seconds = 1;
        config.slack.api_url = slack_api;
        config.slack.authorize_url = authorize;
        config.slack.client_id = Some(slack_app.client_id);
        config.slack.client_secret = Some(slack_app.client_secret.into());
        config.slack.signing_secret = Some(slack_app.signing_secret.into());
        config.zoom.api_url = zoom_api;
        config.zoom.oauth_url = zoom_oauth;
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leads_day_from_first_run_to_a_member_leaving_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let general = slack.create_conversation("general", false);
    // Twelve people in the workspace: person0…person11@example.org.
    let slack_people = slack.add_users(12);
    let zoom = FakeZoom::start().await;
    let app = the_app(&sink, &slack, &zoom).await;

    // First run: the setup link makes the owner, who creates a community.
    browser.set_up_owner(&app).await;
    browser
        .fill("input[name=name]", "Research Software Engineers")
        .await;
    browser.fill("input[name=slug]", "rse").await;
    browser.fill("input[name=timezone]", "Europe/Berlin").await;
    browser
        .click("form[action='/communities'] button[type=submit]")
        .await;

    // The list's members, imported: three of them are in Slack too.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("members.csv");
    std::fs::write(
        &csv,
        "email,name,email_list\nada@example.net,Ada Lovelace,yes\ngrace@example.net,Grace Hopper,yes\n\
         person0@example.org,Person Zero,yes\nperson1@example.org,Person One,yes\nperson2@example.org,Person Two,yes\n",
    )
    .unwrap();
    browser.click("a[href='/communities/rse/import']").await;
    browser
        .fill("input[type=file]", csv.to_str().unwrap())
        .await;
    browser
        .click("form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    let page = browser.text().await;
    assert!(page.contains("5 added"), "{page}");

    // The email list is the operator's (its address and mail server are
    // configuration, not a lead's form): added as `cophub channel add` does.
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    add(
        store.as_ref(),
        &app.config.secret_keys().unwrap(),
        community.id,
        ChannelRequest {
            kind: ChannelKind::EmailList,
            name: "RSE list".into(),
            settings: json!({"list_address": "rse@lists.example.org"}),
            secret: None,
            min_interval_ms: 0,
        },
        "operator",
    )
    .await
    .unwrap();

    // Slack, through its consent page; its people join the roster.
    open(&browser, &app, "/communities/rse/channels").await;
    browser.click("#connect-slack").await;
    browser.click("#allow").await;
    let page = browser.text().await;
    assert!(page.contains("Connected Slack: Fake Workspace"), "{page}");
    let slack_channel = store
        .channels(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == ChannelKind::Slack)
        .unwrap();
    // Zoom, with the credentials of its Server-to-Server app.
    let zoom_app = zoom.app();
    for (field, value) in [
        ("account_id", &zoom_app.account_id),
        ("client_id", &zoom_app.client_id),
        ("client_secret", &zoom_app.client_secret),
        ("webhook_secret", &zoom_app.webhook_secret),
    ] {
        browser
            .fill(&format!("#connect-zoom input[name={field}]"), value)
            .await;
    }
    browser.click("#connect-zoom button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("Connected Zoom"), "{page}");
    screenshot(&browser, "channels").await;

    // The roster: one column per channel; who is in Slack but not on the list.
    open(&browser, &app, "/communities/rse/members").await;
    let page = browser.text().await;
    assert!(page.contains("person11@example.org"), "{page}");
    screenshot(&browser, "members").await;

    // Five people leave the workspace: the import would take five of
    // seventeen out of the roster's Slack column, so a guardrail holds it
    // until the lead has read the plan and approves it.
    for id in &slack_people[7..12] {
        slack.remove_user(id);
    }
    open(&browser, &app, "/communities/rse/sync").await;
    browser.click("input[value=apply] ~ button").await;
    let page = browser.text().await;
    assert!(page.contains("held"), "{page}");
    assert!(page.contains("person7@example.org"), "{page}");
    screenshot(&browser, "sync-held").await;
    browser.click("form[action$='/approve'] button").await;
    let page = browser.text().await;
    assert!(page.contains("applied"), "{page}");
    assert!(!page.contains("Approve and apply"), "{page}");

    // The conversations it mirrors and announces in.
    browser
        .client
        .goto(&app.url(&format!(
            "/communities/rse/channels/{}/conversations",
            slack_channel.id
        )))
        .await
        .unwrap();
    choose(
        &browser,
        &format!("input[name=conversation][value='{general}']"),
    )
    .await;
    choose(
        &browser,
        &format!("input[name=announce][value='{general}']"),
    )
    .await;
    // Kept in step: members who consent are invited, those who opt out leave.
    choose(&browser, "input[name=sync][value=mirror]").await;
    browser.click("main form button[type=submit]").await;

    // The next sync invites everyone who consents to Slack into #general.
    open(&browser, &app, "/communities/rse/sync").await;
    browser.click("input[value=apply] ~ button").await;
    let page = browser.text().await;
    assert!(page.contains("applied"), "{page}");
    for id in &slack_people[0..7] {
        assert!(
            slack.members(&general).contains(id),
            "{id} is in #general: {:?}",
            slack.members(&general)
        );
    }

    // An announcement to the list and Slack; the lead watches it land.
    open(&browser, &app, "/communities/rse/announcements").await;
    browser
        .fill("input[name=title]", "Call for lightning talks")
        .await;
    browser
        .fill(
            "textarea[name=body_markdown]",
            "Five minutes on **your** tool, at the next call.",
        )
        .await;
    for channel in store.channels(community.id).await.unwrap() {
        if matches!(channel.kind, ChannelKind::EmailList | ChannelKind::Slack) {
            choose(
                &browser,
                &format!("input[name=channel][value='{}']", channel.id),
            )
            .await;
        }
    }
    let mails_before = sink.messages().len();
    browser.click("form.compose button[type=submit]").await;
    eventually("the announcement reaching the list's members", || async {
        sink.messages()
            .iter()
            .skip(mails_before)
            .filter(|m| String::from_utf8_lossy(&m.raw).contains("lightning talks"))
            .count()
            >= 5
    })
    .await;
    eventually("the announcement reaching #general", || async {
        slack
            .messages(&general)
            .iter()
            .any(|m| m.text.contains("lightning talks"))
    })
    .await;
    browser.client.refresh().await.unwrap();
    screenshot(&browser, "announcement").await;

    // A weekly call, four times; it lands in Zoom and the calendar feed.
    open(&browser, &app, "/communities/rse/calls").await;
    browser
        .fill("input[name=title]", "RSE community call")
        .await;
    browser
        .client
        .execute(
            "document.querySelector('input[name=starts_at]').value = '2027-03-02T10:00'",
            vec![],
        )
        .await
        .unwrap();
    browser.fill("input[name=timezone]", "Europe/Berlin").await;
    choose(&browser, "select[name=repeats] option[value=weekly]").await;
    browser.fill("input[name=occurrences]", "4").await;
    browser.click("form.compose button[type=submit]").await;
    eventually("the Zoom meeting", || async { !zoom.meetings().is_empty() }).await;
    let feed = app
        .client
        .get(app.url("/c/rse/calendar.ics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(feed.contains("SUMMARY:RSE community call"), "{feed}");
    assert!(
        feed.contains("RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4"),
        "{feed}"
    );
    browser.client.refresh().await.unwrap();
    screenshot(&browser, "calls").await;

    open(&browser, &app, "/communities/rse").await;
    screenshot(&browser, "overview").await;

    // Person One leaves everything, from the link mailed to them.
    browser.click("form[action='/logout'] button").await;
    let asked = sink.messages().len();
    browser
        .client
        .goto(&app.url("/c/rse/preferences"))
        .await
        .unwrap();
    browser
        .fill("input[name=email]", "person1@example.org")
        .await;
    browser.click("main form button[type=submit]").await;
    let mut link = None;
    eventually("the preferences link", || {
        let found = sink
            .messages()
            .iter()
            .skip(asked)
            .find(|m| m.rcpt_tos.iter().any(|r| r == "person1@example.org"))
            .map(|m| String::from_utf8_lossy(&m.raw).replace("=\r\n", ""));
        link = found.and_then(|mail| {
            between(&mail, &app.url("/c/rse/preferences/"), "\r\n")
                .map(|token| app.url(&format!("/c/rse/preferences/{}", token.trim())))
        });
        let found = link.is_some();
        async move { found }
    })
    .await;
    browser.client.goto(&link.unwrap()).await.unwrap();
    browser.click("button[value=leave]").await;
    let page = browser.text().await;
    assert!(page.to_lowercase().contains("left"), "{page}");

    // The next sync takes them out of #general.
    let person1 = &slack_people[1];
    assert!(slack.members(&general).contains(person1));
    browser.log_in(&app).await;
    browser
        .client
        .goto(&app.url("/communities/rse/sync"))
        .await
        .unwrap();
    browser.click("input[value=apply] ~ button").await;
    let page = browser.text().await;
    assert!(page.contains("applied"), "{page}");
    assert!(
        !slack.members(&general).contains(person1),
        "Person One is out of #general"
    );
    assert!(slack.members(&general).contains(&slack_people[0]));

    browser.client.clone().close().await.unwrap();
}
