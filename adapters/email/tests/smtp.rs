//! The native list's adapter against a real SMTP server (aiosmtpd, started
//! per test by hub-testkit): what arrives, and what each SMTP failure means.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a panic is a failed test

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use hub_adapter_email::{EmailListAdapter, ListMail, SmtpSender, SmtpSettings};
use hub_core::{
    bounces::{self, VerpKind},
    ids::{AnnouncementId, CommunityId, DeliveryId, MemberId},
    model::announcement::{Announcement, DeliveryState, Recipient},
    ports::adapter::{AdapterError, ChannelAdapter},
    secrets::SecretKeys,
    unsubscribe::{self, UnsubscribeToken},
};
use hub_testkit::smtp_sink::SmtpSink;
use serde_json::json;

fn keys() -> SecretKeys {
    SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()
}

fn sender(url: &str, timeout: Duration) -> SmtpSender {
    SmtpSender::new(&SmtpSettings {
        url: url.to_owned().into(),
        pool_size: 4,
        timeout,
        rate_per_second: None,
        from: "cophub <hub@example.org>".parse().unwrap(),
        dkim: None,
    })
    .unwrap()
}

fn adapter(url: &str, keys: &SecretKeys, timeout: Duration) -> EmailListAdapter {
    let mail = Arc::new(ListMail::new(
        sender(url, timeout),
        "https://hub.example.org/",
        keys,
    ));
    EmailListAdapter::new(
        mail,
        "Data Stewards",
        &json!({"list_address": "stewards@lists.example.org"}),
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

fn recipient(email: &str) -> Recipient {
    Recipient {
        delivery_id: DeliveryId::new(),
        member_id: MemberId::new(),
        email: email.into(),
        name: "Ada".into(),
        state: DeliveryState::Pending,
        attempts: 0,
        possible_duplicates: 0,
    }
}

#[tokio::test]
async fn a_copy_arrives_with_its_own_links_and_every_list_header() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let keys = keys();
    let adapter = adapter(&sink.url(), &keys, Duration::from_secs(5));
    let ada = recipient("ada@example.net");
    let post = announcement(
        "Call on Tuesday",
        "Hello **all**, see <https://example.org>.",
    );

    let receipt = adapter
        .post_to(&post, &ada, &ada.idempotency_key())
        .await
        .unwrap();

    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.rcpt_tos, ["ada@example.net"]);
    assert_eq!(
        bounces::read_verp(&mail.mail_from, &keys.signer(bounces::PURPOSE)),
        Some((VerpKind::Bounce, ada.member_id)),
        "the envelope sender names the member: {}",
        mail.mail_from
    );
    assert_eq!(mail.header("To"), "stewards@lists.example.org");
    assert_eq!(
        mail.header("From"),
        "\"Data Stewards\" <stewards@lists.example.org>"
    );
    assert_eq!(mail.header("Subject"), "Call on Tuesday");
    assert_eq!(mail.header("Message-ID"), receipt.remote_ref);
    assert_eq!(
        receipt.remote_ref,
        format!("<{}@lists.example.org>", ada.idempotency_key())
    );
    assert_eq!(
        mail.header("List-Id"),
        "Data Stewards <stewards.lists.example.org>"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(mail.header("Precedence"), "list");
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    let _ = mail.header("Date");

    // The unsubscribe URL is this person's, signed, and the mailto is theirs too.
    let list_unsubscribe = mail.header("List-Unsubscribe");
    let url = list_unsubscribe
        .split(['<', '>'])
        .find(|part| part.starts_with("https://"))
        .unwrap();
    let token = url.strip_prefix("https://hub.example.org/u/").unwrap();
    assert_eq!(
        UnsubscribeToken::decode(&keys.signer(unsubscribe::PURPOSE), token)
            .unwrap()
            .member,
        ada.member_id
    );
    let mailto = list_unsubscribe
        .split(['<', '>'])
        .find_map(|part| part.strip_prefix("mailto:"))
        .unwrap();
    let mailto = mailto.split('?').next().unwrap();
    assert_eq!(
        bounces::read_verp(mailto, &keys.signer(bounces::PURPOSE)),
        Some((VerpKind::Unsubscribe, ada.member_id))
    );

    // multipart/alternative: the Markdown as text, sanitized HTML.
    let parsed = mail.parsed();
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let text = parsed.subparts[0].get_body().unwrap();
    let html = parsed.subparts[1].get_body().unwrap();
    assert_eq!(parsed.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(parsed.subparts[1].ctype.mimetype, "text/html");
    assert!(text.contains("Hello **all**"), "{text}");
    assert!(
        text.contains(url),
        "the text part carries the unsubscribe link"
    );
    assert!(html.contains("<strong>all</strong>"), "{html}");
    assert!(html.contains(url));

    // A retry of the same copy is the same message.
    adapter
        .post_to(&post, &ada, &ada.idempotency_key())
        .await
        .unwrap();
    let again = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(again[1].header("Message-ID"), receipt.remote_ref);
}

#[tokio::test]
async fn a_hostile_title_and_body_stay_inside_their_message() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let keys = keys();
    let adapter = adapter(&sink.url(), &keys, Duration::from_secs(5));
    let ada = recipient("ada@example.net");
    let post = announcement(
        "Hi\r\nBcc: victim@example.net\r\nX-Injected: yes",
        "<script>alert(1)</script>\r\n.\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
    );
    adapter.post_to(&post, &ada, "k1").await.unwrap();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    // Still one message, to one person, with no injected header.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = if messages.len() == 1 {
        sink.messages()
    } else {
        messages
    };
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.rcpt_tos, ["ada@example.net"]);
    assert!(mail.headers("Bcc").is_empty());
    assert!(mail.headers("X-Injected").is_empty());
    assert!(mail.header("Subject").starts_with("Hi"));
    let html = mail.parsed().subparts[1].get_body().unwrap().to_lowercase();
    for banned in ["<script", "javascript:", "onerror", "<img"] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
}

#[tokio::test]
async fn each_smtp_failure_has_its_class() {
    let Some(sink) = SmtpSink::start_with(&["--slow-seconds", "5"]).await else {
        return;
    };
    let keys = keys();
    let adapter = Arc::new(adapter(&sink.url(), &keys, Duration::from_secs(2)));
    let post = announcement("Call", "Body");
    let send = |email: &str| {
        let adapter = adapter.clone();
        let post = post.clone();
        let to = recipient(email);
        async move { adapter.post_to(&post, &to, &to.idempotency_key()).await }
    };

    let refused = send("gone+reject@example.net").await.unwrap_err();
    assert!(matches!(refused, AdapterError::Permanent(_)), "{refused:?}");
    let deferred = send("busy+defer@example.net").await.unwrap_err();
    assert!(
        matches!(deferred, AdapterError::Transient(_)),
        "{deferred:?}"
    );
    let flaky = send("once+flaky@example.net").await.unwrap_err();
    assert!(matches!(flaky, AdapterError::Transient(_)), "{flaky:?}");
    send("once+flaky@example.net").await.unwrap();
    let dropped = send("cut+drop@example.net").await.unwrap_err();
    assert!(matches!(dropped, AdapterError::Ambiguous(_)), "{dropped:?}");

    // A stalled server answer ends at the timeout, and does not hold up the
    // others: a normal send started meanwhile arrives first.
    let stalled = tokio::spawn(send("stuck+slow@example.net"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    send("ada@example.net").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let stalled = stalled.await.unwrap().unwrap_err();
    assert!(
        matches!(
            stalled,
            AdapterError::Ambiguous(_) | AdapterError::Transient(_)
        ),
        "{stalled:?}"
    );

    let delivered: Vec<Vec<String>> = sink.messages().into_iter().map(|m| m.rcpt_tos).collect();
    assert_eq!(
        delivered,
        [
            vec!["once+flaky@example.net".to_owned()],
            vec!["ada@example.net".to_owned()]
        ]
    );
    adapter.health().await.unwrap();
}

#[tokio::test]
async fn a_mail_server_that_is_down_is_a_transient_failure() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let keys = keys();
    let adapter = adapter(
        &format!("smtp://127.0.0.1:{port}"),
        &keys,
        Duration::from_secs(2),
    );
    let ada = recipient("ada@example.net");
    let error = adapter
        .post_to(&announcement("x", "y"), &ada, "k")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error:?}");
    assert!(adapter.health().await.is_err());
}

#[tokio::test] // lettre's pool needs a runtime, even to be dropped
async fn unusable_list_settings_are_refused_with_a_reason() {
    let keys = keys();
    let mail = Arc::new(ListMail::new(
        sender("smtp://127.0.0.1:25", Duration::from_secs(1)),
        "https://hub.example.org",
        &keys,
    ));
    for (settings, expected) in [
        (json!({}), "list_address"),
        (json!({"list_address": "not an address"}), "list_address"),
        (json!({"list_address": "a@b.org", "from": "<<>>"}), "from"),
        (
            json!({"list_address": "a@b.org", "bounce_address": "a-very-long-bounce-name@b.org"}),
            "bounce address",
        ),
        (
            json!({"list_address": "a@b.org", "extra": 1}),
            "unknown field",
        ),
    ] {
        let error = EmailListAdapter::new(mail.clone(), "List", &settings).unwrap_err();
        assert!(
            matches!(&error, AdapterError::Permanent(m) if m.contains(expected)),
            "{settings}: {error:?}"
        );
    }
}

/// Runs scripts/peers/dkim-verify (dkimpy) with `args`, `input` on stdin.
fn dkim_tool(args: &[&str], input: &[u8]) -> Option<(bool, String)> {
    use std::io::Write;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers/dkim-verify");
    let child = std::process::Command::new(&script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            assert!(
                std::env::var(hub_testkit::smtp_sink::REQUIRE_ENV).as_deref() != Ok("1"),
                "dkim-verify did not start: {error}"
            );
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    Some((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    ))
}

/// An RSA key pair from openssl: the PKCS#1 PEM and the DNS `p=` value.
fn rsa_key() -> (String, String) {
    let private = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .unwrap();
    assert!(private.status.success());
    let pem = String::from_utf8(private.stdout).unwrap();
    let mut public = std::process::Command::new("openssl")
        .args(["rsa", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut public.stdin.take().unwrap(), pem.as_bytes()).unwrap();
    let public = String::from_utf8(public.wait_with_output().unwrap().stdout).unwrap();
    let p: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
    (pem, p)
}

#[tokio::test]
async fn dkim_signatures_verify_with_dkimpy_and_cover_the_list_headers() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some((true, keys_out)) = dkim_tool(&["keygen-ed25519"], b"") else {
        return;
    };
    let mut lines = keys_out.lines();
    let (seed, public) = (
        lines.next().unwrap().to_owned(),
        lines.next().unwrap().to_owned(),
    );
    let (rsa_pem, rsa_public) = rsa_key();
    let cases = [
        (
            hub_adapter_email::DkimAlgorithm::Rsa,
            rsa_pem,
            format!("v=DKIM1; k=rsa; p={rsa_public}"),
        ),
        (
            hub_adapter_email::DkimAlgorithm::Ed25519,
            seed,
            format!("v=DKIM1; k=ed25519; p={public}"),
        ),
    ];
    let keys = keys();
    for (round, (algorithm, private_key, txt)) in cases.into_iter().enumerate() {
        let sender = SmtpSender::new(&SmtpSettings {
            url: sink.url().into(),
            pool_size: 2,
            timeout: Duration::from_secs(5),
            rate_per_second: None,
            from: "cophub <hub@example.org>".parse().unwrap(),
            dkim: Some(hub_adapter_email::DkimSettings {
                domain: "lists.example.org".into(),
                selector: "cophub".into(),
                algorithm,
                private_key: private_key.into(),
            }),
        })
        .unwrap();
        let adapter = EmailListAdapter::new(
            Arc::new(ListMail::new(sender, "https://hub.example.org", &keys)),
            "Data Stewards",
            &json!({"list_address": "stewards@lists.example.org"}),
        )
        .unwrap();
        let ada = recipient("ada@example.net");
        adapter
            .post_to(
                &announcement(
                    "Signed — café",
                    "Hello **all**.\n\nA long line ".repeat(20).as_str(),
                ),
                &ada,
                "k",
            )
            .await
            .unwrap();
        let messages = sink.wait_for(round + 1, Duration::from_secs(10)).await;
        let raw = &messages[round].raw;
        let (ok, verdict) = dkim_tool(
            &[
                "verify",
                "--domain",
                "lists.example.org",
                "--selector",
                "cophub",
                "--txt",
                &txt,
            ],
            raw,
        )
        .unwrap();
        assert!(ok, "{algorithm:?}: {verdict}");
        let covered = verdict.to_lowercase();
        for header in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(
                covered.split([':', '=']).any(|h| h == header),
                "{algorithm:?} does not cover {header}: {verdict}"
            );
        }
        // A changed message no longer verifies.
        let tampered = String::from_utf8_lossy(raw).replace("Hello", "Hullo");
        let (ok, _) = dkim_tool(
            &[
                "verify",
                "--domain",
                "lists.example.org",
                "--selector",
                "cophub",
                "--txt",
                &txt,
            ],
            tampered.as_bytes(),
        )
        .unwrap();
        assert!(!ok, "{algorithm:?}: a tampered body still verified");
    }
}
