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

pub(crate) struct ListApp {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
    token: String,
    channel: String,
}

/// An owner, the community `rse` with the roster above, and its native
/// list sending through a real SMTP server.
pub(crate) async fn list_app() -> Option<ListApp> {
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

/// A delivery report for `to`, as a receiving server sends it back.
fn report(to: &str, action: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\n\
To: {to}\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\
\r\n\
--R\r\n\
Content-Type: text/plain\r\n\
\r\n\
Your message could not be delivered.\r\n\
--R\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
\r\n\
Final-Recipient: rfc822; ada@example.net\r\n\
Action: {action}\r\n\
Status: {status}\r\n\
Diagnostic-Code: smtp; 550 {status} user unknown\r\n\
--R--\r\n"
    )
}

/// `cophub email bounce` as the MTA runs it, on the app's database and keys.
fn pipe_bounce(app: &TestApp, args: &[&str], message: &str) -> std::process::Output {
    use secrecy::ExposeSecret;
    use std::io::Write;
    let mut child = crate::helpers::cophub_command()
        .args(["email", "bounce"])
        .args(args)
        .arg("--data-dir")
        .arg(&app.config.data_dir)
        .args(["--database-url", &app.config.database_url()])
        .env(
            "COPHUB_SECRET_KEY",
            app.config.secret_key.as_ref().unwrap().expose_secret(),
        )
        .env("COPHUB_LOG_FILTER", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn bounces_and_mailed_unsubscribes_come_back_through_the_pipe_and_the_hook() {
    let Some(list) = list_app().await else { return };
    let path = list.announce("Meetup").await;
    list.settled(&path).await;
    let mails = list.sink.messages();
    let ada = mails.iter().find(|m| to(m) == "ada@example.net").unwrap();
    let bounce_address = ada.mail_from.clone();
    let store = list.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let ada_member = store
        .all_members(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.normalized() == "ada@example.net")
        .unwrap();

    // The MTA pipes the report sent to Ada's VERP address.
    let counted = pipe_bounce(&list.app, &[], &report(&bounce_address, "failed", "5.1.1"));
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
    assert!(String::from_utf8_lossy(&counted.stdout).contains("score is 1.0"));
    let again = pipe_bounce(
        &list.app,
        &["--recipient", &bounce_address],
        &report("someone-else@example.org", "delayed", "4.2.2"),
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already bounced today"));
    let record = store.bounce_record(ada_member.id).await.unwrap().unwrap();
    assert_eq!((record.score.score, record.counted), (1.0, 1));
    assert!(record.last_reason.contains("5.1.1"), "{record:?}");

    // What is not ours, or not a bounce, is refused with a sentence and exit 2.
    let forged = bounce_address.replacen("+b", "+b0", 1);
    let refused = pipe_bounce(&list.app, &[], &report(&forged, "failed", "5.1.1"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not addressed to a bounce"));
    let auto_reply = format!(
        "From: ada@example.net\r\nTo: {bounce_address}\r\nSubject: Out of office\r\n\r\nBack Monday.\r\n"
    );
    let refused = pipe_bounce(&list.app, &[], &auto_reply);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a delivery status report"));

    // The same over HTTP, for MTAs that forward there.
    let hook = list.app.url("/hooks/email/bounce");
    let answer: Value = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "message/rfc822")
        .body(report(&bounce_address, "failed", "5.1.1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["outcome"], "already_counted_today");
    let bad = reqwest::Client::new()
        .post(&hook)
        .body("not a message at all")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    // Mail to the List-Unsubscribe mailto unsubscribes Dee.
    let dee = mails.iter().find(|m| to(m) == "dee@example.net").unwrap();
    let mailto = dee
        .header("List-Unsubscribe")
        .split(['<', '>'])
        .find_map(|part| part.strip_prefix("mailto:"))
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let request = format!("From: dee@example.net\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n\r\n");
    let left = pipe_bounce(&list.app, &[], &request);
    assert!(
        left.status.success(),
        "{}",
        String::from_utf8_lossy(&left.stderr)
    );
    assert_eq!(
        list.consent("dee@example.net").await,
        (ConsentStatus::OptedOut, Some(ConsentSource::Member))
    );
}

#[tokio::test]
async fn a_lead_sees_a_bouncing_address_on_its_page_and_resumes_delivery() {
    let Some(list) = list_app().await else { return };
    let store = list.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let ada = store
        .all_members(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.normalized() == "ada@example.net")
        .unwrap();
    bounce_five_days(store.as_ref(), ada.id).await;
    let path = format!("/communities/rse/members/{}", ada.id);
    let page = list.app.get(&path).await.text().await.unwrap();
    assert!(page.contains("id=\"email-stopped\""), "{page}");
    assert!(page.contains("Score 5.0"), "{page}");

    // An announcement now skips Ada.
    let sent = list.announce("While Ada bounces").await;
    list.settled(&sent).await;
    assert!(
        list.sink
            .messages()
            .iter()
            .all(|m| to(m) != "ada@example.net")
    );

    let resumed = list
        .app
        .post_form(&format!("{path}/resume-email"), &[])
        .await;
    assert_eq!(resumed.status(), 303);
    let page = list.app.get(&path).await.text().await.unwrap();
    assert!(!page.contains("id=\"email-stopped\""), "{page}");
    assert_eq!(store.bounce_record(ada.id).await.unwrap(), None);
    let audit = store.audit_events(1, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "member.email_delivery_resumed"
                && e.actor == format!("user:{OWNER_EMAIL}"))
    );

    let before = list.sink.messages().len();
    let next = list.announce("Ada is back").await;
    list.settled(&next).await;
    assert!(
        list.sink.messages()[before..]
            .iter()
            .any(|m| to(m) == "ada@example.net")
    );
}

/// The link in the newest message to `to` that starts with `prefix`.
pub(crate) fn link_in_mail(sink: &SmtpSink, to: &str, prefix: &str) -> String {
    let mail = sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.rcpt_tos.iter().any(|r| r == to))
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let body = mail.parsed().get_body().unwrap();
    body.split_whitespace()
        .find(|word| word.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} link in {body}"))
        .to_owned()
}

#[tokio::test]
async fn people_join_by_double_opt_in_and_choose_their_channels_by_magic_link() {
    let Some(list) = list_app().await else { return };
    let app = &list.app;
    let form = app.get("/c/rse/join").await;
    assert_eq!(form.status(), 200);

    // Bad input is refused with a sentence and sends nothing.
    let bad = app
        .post_form("/c/rse/join", &[("email", "not an address"), ("name", "X")])
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("role=\"alert\""));

    let asked = app
        .post_form(
            "/c/rse/join",
            &[("email", "New.Person@Example.net"), ("name", "New Person")],
        )
        .await;
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("Check your inbox"));
    let again = app
        .post_form(
            "/c/rse/join",
            &[("email", "new.person@example.net"), ("name", "New Person")],
        )
        .await;
    assert_eq!(
        again.status(),
        429,
        "one confirmation per address per 10 minutes"
    );
    list.sink.wait_for(1, Duration::from_secs(10)).await;
    let link = link_in_mail(&list.sink, "new.person@example.net", "http");
    assert!(
        link.starts_with(&format!("{}/c/rse/join/", app.base)),
        "{link}"
    );
    let path = link.strip_prefix(&app.base).unwrap().to_owned();

    // Opening the link only asks; nobody is added yet.
    let page = app.get(&path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Confirm"));
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let members = || async { store.all_members(community.id).await.unwrap() };
    assert!(
        members()
            .await
            .iter()
            .all(|m| m.email.normalized() != "new.person@example.net")
    );

    let confirmed = app.post_form(&path, &[]).await;
    assert_eq!(confirmed.status(), 200);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("You are subscribed")
    );
    assert_eq!(
        list.consent("new.person@example.net").await,
        (ConsentStatus::Subscribed, Some(ConsentSource::Member))
    );
    let joined = members()
        .await
        .into_iter()
        .find(|m| m.email.normalized() == "new.person@example.net")
        .unwrap();
    assert_eq!(joined.name, "New Person");
    let reused = app.post_form(&path, &[]).await;
    assert_eq!(reused.status(), 410);

    // Preferences: a stranger gets the same answer and no mail.
    let before = list.sink.messages().len();
    let stranger = app
        .post_form("/c/rse/preferences", &[("email", "stranger@example.net")])
        .await;
    assert_eq!(stranger.status(), 200);
    let asked = app
        .post_form("/c/rse/preferences", &[("email", "dee@example.net")])
        .await;
    assert_eq!(asked.status(), 200);
    let messages = list
        .sink
        .wait_for(before + 1, Duration::from_secs(10))
        .await;
    assert_eq!(messages.len(), before + 1);
    assert!(
        messages
            .iter()
            .all(|m| m.rcpt_tos[0] != "stranger@example.net")
    );
    let link = link_in_mail(&list.sink, "dee@example.net", "http");
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("value=\"email\" checked"), "{page}");

    // Unticking everything opts Dee out of the list; the link is then spent.
    let saved = app.post_form(&path, &[("action", "save")]).await;
    assert_eq!(saved.status(), 200);
    assert_eq!(
        list.consent("dee@example.net").await,
        (ConsentStatus::OptedOut, Some(ConsentSource::Member))
    );
    assert_eq!(app.get(&path).await.status(), 410);

    // "Leave everything" opts out of every channel the member was on.
    app.post_form("/c/rse/preferences", &[("email", "new.person@example.net")])
        .await;
    list.sink
        .wait_for(before + 2, Duration::from_secs(10))
        .await;
    let link = link_in_mail(
        &list.sink,
        "new.person@example.net",
        &format!("{}/c/rse/preferences/", app.base),
    );
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let left = app
        .post_form(&path, &[("channel", "email"), ("action", "leave")])
        .await;
    assert_eq!(left.status(), 200);
    assert!(left.text().await.unwrap().contains("left every channel"));
    assert_eq!(
        list.consent("new.person@example.net").await.0,
        ConsentStatus::OptedOut
    );
}

/// Five hard bounces on five days: enough to stop the list mailing someone.
pub(crate) async fn bounce_five_days(
    store: &dyn hub_core::ports::store::Store,
    member: hub_core::ids::MemberId,
) {
    for day in 1..=5 {
        let at = chrono::DateTime::parse_from_rfc3339(&format!("2026-11-0{day}T10:00:00Z"))
            .unwrap()
            .with_timezone(&chrono::Utc);
        store
            .record_bounce(
                member,
                hub_core::bounces::BounceKind::Hard,
                "5.1.1 user unknown",
                at,
                hub_testkit::fixtures::audit(),
            )
            .await
            .unwrap();
    }
}

#[test]
fn a_bounce_that_cannot_be_stored_is_left_with_the_mta_to_retry() {
    use std::io::Write;
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = crate::helpers::cophub_command()
        .args([
            "email",
            "bounce",
            "--database-url",
            "postgres://cophub@127.0.0.1:1/nothing",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env(
            "COPHUB_SECRET_KEY",
            hub_core::secrets::SecretKeys::generate_hex(),
        )
        .env("COPHUB_LOG_FILTER", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(report("bounces+bX@lists.example.org", "failed", "5.1.1").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // EX_TEMPFAIL: Postfix and others keep the message and try again.
    assert_eq!(
        output.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).trim().is_empty());
}
