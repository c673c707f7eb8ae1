//! Zoom's webhooks as the fake Zoom delivers them to a Zoom channel's own
//! URL, the one the Channels page shows: the URL check answered, what Zoom
//! did not sign (or signed too long ago) refused, a retry kept once, and
//! what the events say — who came, when the call ran, its recording — on
//! the calls page.

use std::time::Duration;

use hub_core::{
    calls::schedule::{self, CallRequest},
    model::{
        call::{Call, LandingState},
        channel::ChannelKind,
    },
    signing::hmac_sha256_hex,
};
use hub_testkit::zoom::FakeZoom;
use serde_json::{Value, json};

use crate::helpers::{TestApp, between, spawn_app_configured};

const ROSTER: &str = "email,name,role\nada@example.net,Ada Lovelace,member\n";

struct ZoomHooks {
    app: TestApp,
    zoom: FakeZoom,
    /// The Zoom channel's webhook URL, as the Channels page shows it.
    hook: String,
}

/// An owner, the community `rse` with Ada, and its Zoom channel (the
/// fake), connected on the Channels page.
async fn zoom_hooks() -> ZoomHooks {
    let zoom = FakeZoom::start().await;
    let (api, oauth) = (zoom.api_url(), zoom.oauth_url());
    let app = spawn_app_configured(move |config| {
        config.outbox.idle_poll_ms = 50;
        config.zoom.api_url = api;
        config.zoom.oauth_url = oauth;
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    assert_eq!(app.import_csv("rse", ROSTER, &[]).await.status(), 200);
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
    let page = app
        .get("/communities/rse/channels")
        .await
        .text()
        .await
        .unwrap();
    let hook = between(&page, "<code class=\"zoom-hook\">", "</code>")
        .expect("the Channels page shows the Zoom webhook URL")
        .to_owned();
    assert!(hook.starts_with(&app.base), "{hook}");
    ZoomHooks { app, zoom, hook }
}

impl ZoomHooks {
    fn store(&self) -> &std::sync::Arc<dyn hub_core::ports::store::Store> {
        &self.app.server.as_ref().unwrap().store
    }

    /// A call scheduled in `rse`, once its Zoom meeting is made.
    async fn call_in_zoom(&self) -> Call {
        let store = self.store();
        let community = store.community_by_slug("rse").await.unwrap().unwrap();
        let start = chrono::Utc::now() + chrono::Duration::days(2);
        let call = schedule::schedule(
            store.as_ref(),
            community.id,
            &CallRequest {
                title: "RSE community call".into(),
                agenda: String::new(),
                starts_at_local: start.naive_utc().date().and_hms_opt(15, 0, 0).unwrap(),
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
        for _ in 0..300 {
            let landings = store.call_landings(call.id).await.unwrap();
            if landings.iter().all(|l| l.state == LandingState::Landed) {
                let call = store.call(call.id).await.unwrap().unwrap();
                assert!(call.zoom_meeting_id.is_some());
                return call;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the call did not land in Zoom");
    }

    /// Posts `body` signed as Zoom signs, at `timestamp`, with `signature`
    /// (a correct one unless the test forges it).
    async fn post(&self, body: &str, timestamp: i64, signature: &str) -> reqwest::Response {
        self.app
            .client
            .post(&self.hook)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-zm-request-timestamp", timestamp.to_string())
            .header("x-zm-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// The meeting object of `call`'s time held, as Zoom's events carry it.
    fn object(&self, call: &Call) -> Value {
        let id: u64 = call.zoom_meeting_id.as_deref().unwrap().parse().unwrap();
        let meeting = self.zoom.meeting(id).expect("the fake holds the meeting");
        json!({
            "id": id.to_string(), "uuid": meeting.uuid, "host_id": meeting.host_id,
            "topic": meeting.topic, "type": meeting.kind, "timezone": "UTC", "duration": 60,
            "start_time": "2027-03-02T15:00:05Z",
        })
    }

    fn joined(&self, call: &Call, name: &str, email: &str, at: &str) -> Value {
        let mut object = self.object(call);
        object["participant"] = json!({
            "user_id": "16778240", "user_name": name, "id": "iFxeBPYun6SAiWUzBcEkX",
            "participant_uuid": format!("uuid-{name}"), "join_time": at, "email": email,
        });
        json!({"account_id": self.zoom.app().account_id, "object": object})
    }

    /// Waits until the call's attendance has `count` people.
    async fn attended(&self, call: &Call, count: usize) -> Vec<hub_core::model::call::Attendance> {
        for _ in 0..100 {
            let kept = self.store().call_attendance(call.id).await.unwrap();
            if kept.len() >= count {
                return kept;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the joins were not applied");
    }

    async fn calls_page(&self) -> String {
        self.app
            .get("/communities/rse/calls")
            .await
            .text()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_zoom_hook_answers_its_url_check_and_refuses_what_zoom_did_not_sign() {
    let z = zoom_hooks().await;
    let secret = z.zoom.app().webhook_secret;

    let checked = z.zoom.validate_endpoint(&z.hook).await;
    assert_eq!(checked.status(), 200);
    let answer: Value = checked.json().await.unwrap();
    let plain = answer["plainToken"].as_str().unwrap();
    assert!(!plain.is_empty());
    assert_eq!(
        answer["encryptedToken"].as_str().unwrap(),
        hmac_sha256_hex(&secret, plain.as_bytes())
    );

    let signed = z
        .zoom
        .deliver_webhook(
            &z.hook,
            "meeting.started",
            json!({"object": {"id": "1", "uuid": "u"}}),
        )
        .await;
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.json::<Value>().await.unwrap()["ok"], true);

    let now = chrono::Utc::now().timestamp();
    let body =
        r#"{"event":"meeting.started","payload":{"object":{"id":"1","uuid":"v"}},"event_ts":1}"#;
    let tampered = body.replace("\"v\"", "\"w\"");
    let refused = z.post(&tampered, now, &z.zoom.sign(now, body)).await;
    assert_eq!(refused.status(), 401);
    let why: Value = refused.json().await.unwrap();
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature does not match"),
        "{why}"
    );
    let old = now - 10 * 60;
    let stale = z.post(body, old, &z.zoom.sign(old, body)).await;
    assert_eq!(stale.status(), 401);
    let why: Value = stale.json().await.unwrap();
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap()
            .contains("five minutes"),
        "{why}"
    );
    let unsigned = z.app.client.post(&z.hook).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    // Only the signed event was kept, and it is processed (ignored: no call
    // is held in meeting 1).
    let mut waiting = 1;
    for _ in 0..100 {
        waiting = z
            .store()
            .unprocessed_inbound_events("zoom", chrono::Utc::now() + chrono::Duration::hours(1), 10)
            .await
            .unwrap()
            .len();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 0);

    // Only a Zoom channel of this hub has a hook.
    let store = z.store();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let webhook =
        hub_testkit::fixtures::channel(store.as_ref(), community.id, ChannelKind::Webhook, 0).await;
    let base = z.hook.rsplit_once('/').unwrap().0.to_owned();
    let other_kind = z
        .zoom
        .deliver_webhook(
            &format!("{base}/{}", webhook.id),
            "meeting.started",
            json!({}),
        )
        .await;
    assert_eq!(other_kind.status(), 404);
    for unknown in ["00000000-0000-0000-0000-000000000000", "not-an-id"] {
        let missing = z
            .zoom
            .deliver_webhook(&format!("{base}/{unknown}"), "meeting.started", json!({}))
            .await;
        assert_eq!(missing.status(), 404);
    }
}

#[tokio::test]
async fn a_zoom_retry_is_acknowledged_and_counted_once_and_members_and_guests_show_as_attended() {
    let z = zoom_hooks().await;
    let call = z.call_in_zoom().await;

    // Zoom retries with the same body, signed anew.
    let body = json!({
        "event": "meeting.participant_joined",
        "payload": z.joined(&call, "Ada L.", "ADA@example.net", "2027-03-02T15:01:00Z"),
        "event_ts": 1_804_000_000_000_i64,
    })
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let first = z.post(&body, now, &z.zoom.sign(now, &body)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.json::<Value>().await.unwrap(), json!({"ok": true}));
    let retry = z.post(&body, now + 3, &z.zoom.sign(now + 3, &body)).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap()["duplicate"], true);

    let guest = z
        .zoom
        .deliver_webhook(
            &z.hook,
            "meeting.participant_joined",
            z.joined(&call, "Grace Hopper", "", "2027-03-02T15:04:00Z"),
        )
        .await;
    assert_eq!(guest.status(), 200);
    let kept = z.attended(&call, 2).await;
    // Applied once: a third delivery of Ada's join would have been kept once too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept_later = z.store().call_attendance(call.id).await.unwrap();
    assert_eq!(kept_later, kept);
    assert_eq!(kept.len(), 2, "{kept:#?}");
    let ada = z
        .store()
        .member_by_email(
            call.community_id,
            &hub_core::Email::parse("ada@example.net").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept[0].member_id,
        Some(ada.id),
        "the member, by her address"
    );
    assert_eq!(
        (
            kept[1].member_id,
            kept[1].name.as_str(),
            kept[1].email.as_deref()
        ),
        (None, "Grace Hopper", None),
        "the guest, as Zoom gave her"
    );

    let page = z.calls_page().await;
    assert!(
        page.contains("Attended: 2 people (last: Tue 2 Mar 2027, 15:01 UTC)"),
        "{page}"
    );
    let detail: Value = z
        .app
        .client
        .get(
            z.app
                .url(&format!("/api/v1/communities/rse/calls/{}", call.id)),
        )
        .bearer_auth(z.app.api_token(crate::helpers::OWNER_EMAIL).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["attended"], 2, "{detail}");

    // Ada's page lists the call she joined.
    let member_page = z
        .app
        .get(&format!("/communities/rse/members/{}", ada.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(member_page.contains("Calls attended"), "{member_page}");
    assert!(
        member_page.contains(&format!(
            "<tr><td>{}</td><td>2027-03-02 15:01 UTC</td></tr>",
            call.title
        )),
        "{member_page}"
    );
}

#[tokio::test]
async fn when_the_call_ran_and_its_recording_show_on_the_calls_page() {
    let z = zoom_hooks().await;
    let call = z.call_in_zoom().await;
    let mut object = z.object(&call);
    let account = json!(z.zoom.app().account_id);
    for (event, payload) in [
        (
            "meeting.started",
            json!({"account_id": account, "object": object.clone()}),
        ),
        (
            "meeting.participant_joined",
            z.joined(&call, "Ada", "ada@example.net", "2027-03-02T15:01:00Z"),
        ),
        ("meeting.ended", {
            object["end_time"] = json!("2027-03-02T16:02:00Z");
            json!({"account_id": account, "object": object})
        }),
        ("recording.completed", {
            let mut recording = z.object(&call);
            recording["id"] = json!(
                call.zoom_meeting_id
                    .as_deref()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            );
            recording["share_url"] = json!("https://zoom.example/rec/share/AbC-123");
            json!({"account_id": account, "object": recording})
        }),
    ] {
        let answered = z.zoom.deliver_webhook(&z.hook, event, payload).await;
        assert_eq!(answered.status(), 200, "{event}");
    }
    z.attended(&call, 1).await;
    for _ in 0..100 {
        let page = z.calls_page().await;
        if page.contains("https://zoom.example/rec/share/AbC-123") && page.contains("15:00–16:02")
        {
            assert!(
                page.contains("<a href=\"https://zoom.example/rec/share/AbC-123\">"),
                "{page}"
            );
            assert!(
                page.contains("Attended: 1 person (last: Tue 2 Mar 2027, 15:00–16:02 UTC)"),
                "{page}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the calls page does not show the recording and when the call ran");
}
