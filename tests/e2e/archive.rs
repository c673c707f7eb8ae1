//! The archive of past announcements as its readers and leads meet it: off
//! is "not found", public is for anyone, members-only asks for an address
//! and mails a member a link that opens it (and mails nobody else), and the
//! list pages twenty at a time, newest first.

use std::time::Duration;

use hub_core::{
    channels::{ChannelRequest, add},
    model::channel::ChannelKind,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app},
};

/// The community `rse`'s email list, made the way an operator adds one.
async fn list_channel(app: &TestApp) -> String {
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let keys = app.config.secret_keys().unwrap();
    if let Some(channel) = store.channels(community.id).await.unwrap().first() {
        return channel.id.to_string();
    }
    add(
        store.as_ref(),
        &keys,
        community.id,
        ChannelRequest {
            kind: ChannelKind::EmailList,
            name: "RSE list".into(),
            settings: json!({"list_address": "rse@lists.example.org"}),
            secret: None,
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap()
    .id
    .to_string()
}

/// Publishes through the API; returns the announcement's id.
async fn publish(app: &TestApp, token: &str, channel: &str, fields: Value) -> String {
    let mut body = json!({"body_markdown": "Hello.", "channels": [channel]});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let created = api(
        app,
        token,
        Method::POST,
        "/api/v1/communities/rse/announcements",
    )
    .await
    .json(&body)
    .send()
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn set_archive(app: &TestApp, value: &str) {
    let changed = app
        .post_form("/communities/rse/archive", &[("archive", value)])
        .await;
    assert_eq!(changed.status(), 303, "{}", changed.text().await.unwrap());
    assert_eq!(changed.headers()["location"], "/communities/rse#archive");
}

/// A visitor with no cookie at all.
async fn anonymous(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = reqwest::get(app.url(path)).await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn archive_off_is_not_found_and_public_shows_anyone_what_went_out_rendered_safely() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    let channel = list_channel(&app).await;
    let welcome = publish(
        &app,
        &token,
        &channel,
        json!({
            "title": "Welcome",
            "body_markdown": "# Hello\n\nBring **questions**.\n\n<script>alert('archive')</script>\n\n[x](javascript:alert(2))",
        }),
    )
    .await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let later = publish(
        &app,
        &token,
        &channel,
        json!({"title": "Scheduled for tomorrow", "send_at": tomorrow}),
    )
    .await;
    let taken_back = publish(&app, &token, &channel, json!({"title": "Taken back"})).await;
    let retracted = api(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/communities/rse/announcements/{taken_back}/retract"),
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(retracted.status(), 200);

    // New communities keep their archive for members.
    let shown: Value = api(&app, &token, Method::GET, "/api/v1/communities/rse")
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["archive"], "members");
    let overview = app.get("/communities/rse").await.text().await.unwrap();
    assert!(overview.contains("<strong id=\"archive-visibility\">members only</strong>"));

    set_archive(&app, "off").await;
    for path in [
        "/c/rse/announcements".to_owned(),
        format!("/c/rse/announcements/{welcome}"),
    ] {
        assert_eq!(anonymous(&app, &path).await.0, 404, "{path}");
        assert_eq!(
            app.get(&path).await.status(),
            404,
            "{path}, even for a lead"
        );
    }
    let join = anonymous(&app, "/c/rse/join").await.1;
    assert!(
        !join.contains("/c/rse/announcements"),
        "no link to what is off"
    );

    set_archive(&app, "public").await;
    let (status, list) = anonymous(&app, "/c/rse/announcements").await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&format!("/c/rse/announcements/{welcome}\">Welcome</a>")),
        "{list}"
    );
    assert!(!list.contains("Scheduled for tomorrow") && !list.contains("Taken back"));
    assert!(list.contains("href=\"/c/rse/calendar.ics\"") && list.contains("href=\"/c/rse/join\""));

    let (status, entry) = anonymous(&app, &format!("/c/rse/announcements/{welcome}")).await;
    assert_eq!(status, 200);
    assert!(entry.contains("<h1>Hello</h1>"), "{entry}");
    assert!(entry.contains("<strong>questions</strong>"));
    assert!(!entry.contains("alert("), "no script survives: {entry}");
    assert!(!entry.contains("javascript:"));
    assert!(
        entry.contains("href=\"/c/rse/calendar.ics\"") && entry.contains("href=\"/c/rse/join\"")
    );

    let (status, gone) = anonymous(&app, &format!("/c/rse/announcements/{taken_back}")).await;
    assert_eq!(status, 410);
    assert!(gone.contains("This announcement was retracted"));
    assert_eq!(
        anonymous(&app, &format!("/c/rse/announcements/{later}"))
            .await
            .0,
        404
    );
    assert_eq!(
        anonymous(&app, "/c/rse/announcements/not-an-id").await.0,
        404
    );
    assert_eq!(
        anonymous(
            &app,
            "/c/rse/announcements/00000000-0000-0000-0000-000000000000"
        )
        .await
        .0,
        404
    );
    assert_eq!(anonymous(&app, "/c/nowhere/announcements").await.0, 404);

    // The lead's pages say where it is and who reads it; so does the API.
    let dashboard = app
        .get("/communities/rse/announcements")
        .await
        .text()
        .await
        .unwrap();
    assert!(dashboard.contains("Archive of past announcements: <strong>public</strong>"));
    assert!(dashboard.contains("href=\"/c/rse/announcements\""));
    assert!(
        anonymous(&app, "/c/rse/join")
            .await
            .1
            .contains("href=\"/c/rse/announcements\"")
    );
    let shown: Value = api(&app, &token, Method::GET, "/api/v1/communities")
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["items"][0]["archive"], "public");

    // A value that is not one is refused, and each change was audited.
    let bad = app
        .post_form("/communities/rse/archive", &[("archive", "everyone")])
        .await;
    assert_eq!(bad.status(), 422);
    let store = &app.server.as_ref().unwrap().store;
    let changes: Vec<_> = store
        .audit_events(1, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "community.archive")
        .collect();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|e| e.actor == format!("user:{OWNER_EMAIL}"))
    );
}

#[tokio::test]
async fn archive_pages_twenty_at_a_time_newest_first() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    set_archive(&app, "public").await;
    let token = app.api_token(OWNER_EMAIL).await;
    let channel = list_channel(&app).await;
    for n in 1..=23 {
        publish(
            &app,
            &token,
            &channel,
            json!({"title": format!("Number {n:02}")}),
        )
        .await;
    }
    let (status, first) = anonymous(&app, "/c/rse/announcements").await;
    assert_eq!(status, 200);
    let titles = |page: &str| {
        page.split("\">Number ")
            .skip(1)
            .map(|rest| rest[..2].to_owned())
            .collect::<Vec<_>>()
    };
    let expected_first: Vec<String> = (4..=23).rev().map(|n| format!("{n:02}")).collect();
    assert_eq!(titles(&first), expected_first);
    let next = crate::next_page_link(&first).expect("a link to older announcements");
    assert!(next.starts_with("/c/rse/announcements?cursor="), "{next}");
    let (status, second) = anonymous(&app, &next).await;
    assert_eq!(status, 200);
    assert_eq!(titles(&second), ["03", "02", "01"]);
    assert!(!second.contains("rel=\"next\""), "the last page");

    let (status, page) = anonymous(&app, "/c/rse/announcements?cursor=made-up").await;
    assert_eq!(status, 400);
    assert!(page.contains("start again from the first page"));
}

/// The link in the mail to `to` that starts with `prefix`, once it arrives.
async fn link_mailed_to(
    sink: &hub_testkit::smtp_sink::SmtpSink,
    to: &str,
    prefix: &str,
) -> Option<String> {
    for _ in 0..100 {
        for mail in sink.messages().iter().rev() {
            if mail.rcpt_tos.iter().any(|r| r == to) {
                let body = mail.parsed().get_body().unwrap();
                if let Some(link) = body.split_whitespace().find(|w| w.starts_with(prefix)) {
                    return Some(link.to_owned());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn mails_to(sink: &hub_testkit::smtp_sink::SmtpSink, to: &str) -> usize {
    sink.messages()
        .iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == to))
        .count()
}

#[tokio::test]
async fn archive_for_members_mails_a_member_a_link_that_opens_it_and_tells_strangers_nothing() {
    let Some(list) = crate::email::list_app().await else {
        return;
    };
    let app = &list.app;
    let token = app.api_token(OWNER_EMAIL).await;
    let channel = list_channel(app).await;
    let news = publish(
        app,
        &token,
        &channel,
        json!({"title": "Members news", "body_markdown": "Only for *us*."}),
    )
    .await;

    // The owner, logged in, reads without a link.
    let read = app.get("/c/rse/announcements").await.text().await.unwrap();
    assert!(read.contains("Members news"), "{read}");

    // Anyone else is asked for an address, on the list and on each entry.
    app.logout().await;
    for path in [
        "/c/rse/announcements".to_owned(),
        format!("/c/rse/announcements/{news}"),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(
            page.contains("Mail me a link") && !page.contains("Members news"),
            "{page}"
        );
        assert!(page.contains("href=\"/c/rse/calendar.ics\""));
    }
    let bad = app
        .post_form("/c/rse/announcements", &[("email", "not an address")])
        .await;
    assert_eq!(bad.status(), 422);

    // A stranger and a member get the same answer; only the member a mail.
    // Bob takes no list mail, so the link is the only mail he gets.
    let stranger = app
        .post_form("/c/rse/announcements", &[("email", "stranger@example.net")])
        .await;
    assert_eq!(stranger.status(), 200);
    let stranger = stranger.text().await.unwrap();
    let member = app
        .post_form("/c/rse/announcements", &[("email", "bob@example.net")])
        .await;
    assert_eq!(member.status(), 200);
    let member = member.text().await.unwrap();
    assert!(
        member.contains("If bob@example.net belongs to a member"),
        "{member}"
    );
    assert_eq!(
        stranger.replace("stranger@example.net", "ADDRESS"),
        member.replace("bob@example.net", "ADDRESS"),
        "no membership oracle"
    );
    let prefix = format!("{}/c/rse/announcements/sign-in/", app.base);
    let link = link_mailed_to(&list.sink, "bob@example.net", &prefix)
        .await
        .expect("a sign-in link reaches the member");
    assert_eq!(mails_to(&list.sink, "stranger@example.net"), 0);

    // Asking again within ten minutes answers the same and mails nothing.
    let again = app
        .post_form("/c/rse/announcements", &[("email", "bob@example.net")])
        .await;
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails_to(&list.sink, "bob@example.net"), 1);

    // The link is a page with a button; the button opens the archive.
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let page = app.get(&path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Sign in"));
    let signed_in = app.post_form(&path, &[]).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/c/rse/announcements");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("cophub_archive_rse=") && cookie.contains("HttpOnly"));
    assert!(cookie.contains(&format!("Max-Age={}", 12 * 3600)));
    let list_page = app.get("/c/rse/announcements").await.text().await.unwrap();
    assert!(list_page.contains("Members news"), "{list_page}");
    let entry = app
        .get(&format!("/c/rse/announcements/{news}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(entry.contains("Only for <em>us</em>."), "{entry}");
    assert_eq!(app.post_form(&path, &[]).await.status(), 410, "used once");

    // Signing out closes it again.
    let out = app.post_form("/c/rse/announcements/sign-out", &[]).await;
    assert_eq!(out.status(), 303);
    let closed = app.get("/c/rse/announcements").await.text().await.unwrap();
    assert!(closed.contains("Mail me a link") && !closed.contains("Members news"));
}
