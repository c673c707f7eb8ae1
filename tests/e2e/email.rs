//! The native email list as its members and leads meet it: an announcement
//! goes out through the worker as one message per subscriber over a real
//! SMTP server, each with its own unsubscribe link, and that link works as
//! RFC 8058 says.

use std::time::Duration;

use hub_core::{
    channels::{ChannelRequest, add},
    model::{
        channel::ChannelKind,
        member::{ConsentChannel, ConsentSource, ConsentStatus},
    },
};
use hub_testkit::smtp_sink::{ReceivedMail, SmtpSink};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app_configured},
};

const ROSTER: &str = "email,name,role,email_list
ada@example.net,Ada,member,yes
bob@example.net,Bob,member,no
cy+reject@example.net,Cy,member,yes
dee@example.net,Dee,member,yes
";

struct ListApp {
    app: TestApp,
    sink: SmtpSink,
    token: String,
    channel: String,
}

/// An owner, the community `rse` with the roster above, and its native
/// list sending through a real SMTP server.
async fn list_app() -> Option<ListApp> {
    let sink = SmtpSink::start().await?;
    let url = sink.url();
    let app = spawn_app_configured(|config| {
        config.mail.smtp_url = Some(url.into());
        config.outbox.idle_poll_ms = 50;
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let imported = app.import_csv("rse", ROSTER, &[]).await;
    assert_eq!(imported.status(), 200);
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let keys = app.config.secret_keys().unwrap();
    let channel = add(
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
    .unwrap();
    let token = app.api_token(OWNER_EMAIL).await;
    Some(ListApp {
        app,
        sink,
        token,
        channel: channel.id.to_string(),
    })
}

impl ListApp {
    async fn announce(&self, title: &str) -> String {
        let created = api(
            &self.app,
            &self.token,
            Method::POST,
            "/api/v1/communities/rse/announcements",
        )
        .await
        .json(&json!({"title": title, "body_markdown": "See you **there**.", "channels": [self.channel]}))
        .send()
        .await
        .unwrap();
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        format!(
            "/api/v1/communities/rse/announcements/{}",
            created["id"].as_str().unwrap()
        )
    }

    /// Waits until the announcement's delivery has settled, and returns it.
    async fn settled(&self, path: &str) -> Value {
        for _ in 0..200 {
            let shown: Value = api(&self.app, &self.token, Method::GET, path)
                .await
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let delivery = &shown["deliveries"][0];
            if matches!(delivery["state"].as_str(), Some("sent" | "failed" | "dead")) {
                return delivery.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the delivery of {path} did not settle");
    }

    async fn consent(&self, email: &str) -> (ConsentStatus, Option<ConsentSource>) {
        let store = &self.app.server.as_ref().unwrap().store;
        let community = store.community_by_slug("rse").await.unwrap().unwrap();
        let member = store
            .all_members(community.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.email.normalized() == email)
            .unwrap();
        let source = member
            .consents
            .iter()
            .find(|c| c.channel == ConsentChannel::Email)
            .map(|c| c.source);
        (member.consent(ConsentChannel::Email), source)
    }
}

fn to(mail: &ReceivedMail) -> &str {
    &mail.rcpt_tos[0]
}

fn unsubscribe_url(mail: &ReceivedMail) -> String {
    mail.header("List-Unsubscribe")
        .split(['<', '>'])
        .find(|part| part.starts_with("http"))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_announcement_reaches_each_subscriber_and_their_link_unsubscribes_them() {
    let Some(list) = list_app().await else { return };
    let path = list.announce("Meetup on Friday").await;
    let delivery = list.settled(&path).await;

    // Ada and Dee are subscribed; Bob is not; Cy's server refuses (550).
    let mut mails = list.sink.messages();
    mails.sort_by(|a, b| to(a).cmp(to(b)));
    let recipients: Vec<&str> = mails.iter().map(to).collect();
    assert_eq!(recipients, ["ada@example.net", "dee@example.net"]);
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("1 of 3 recipients"),
        "{delivery}"
    );
    for mail in &mails {
        assert_eq!(mail.header("To"), "rse@lists.example.org");
        assert_eq!(mail.header("Subject"), "Meetup on Friday");
    }
    let ada_link = unsubscribe_url(&mails[0]);
    let dee_link = unsubscribe_url(&mails[1]);
    assert_ne!(ada_link, dee_link, "each person has their own link");
    assert!(ada_link.starts_with(&list.app.base), "{ada_link}");

    // Opening the link only asks.
    let page = list.app.client.get(&ada_link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("ada@example.net") && text.contains("Unsubscribe"),
        "{text}"
    );
    assert_eq!(
        list.consent("ada@example.net").await.0,
        ConsentStatus::Subscribed
    );

    // One click as a mail provider sends it: a POST with no cookie, no
    // Origin and no CSRF token.
    let provider = reqwest::Client::new();
    let one_click = || {
        provider
            .post(&ada_link)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    let done = one_click().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("You are unsubscribed"));
    assert_eq!(
        list.consent("ada@example.net").await,
        (ConsentStatus::OptedOut, Some(ConsentSource::Member))
    );
    let again = one_click().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("already unsubscribed"));

    // A forged or cut link changes nothing and says why.
    let forged = format!("{}x", &dee_link[..dee_link.len() - 2]);
    let refused = provider.post(&forged).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("not valid"));
    assert_eq!(
        list.consent("dee@example.net").await.0,
        ConsentStatus::Subscribed
    );

    // The next announcement no longer goes to Ada.
    let before = list.sink.messages().len();
    let next = list.announce("Minutes").await;
    list.settled(&next).await;
    let later: Vec<String> = list.sink.messages()[before..]
        .iter()
        .map(|m| to(m).to_owned())
        .collect();
    assert_eq!(later, ["dee@example.net"]);
}
