//! Peer conferences over HTTP, as a lead and as registrants meet them: each
//! phase end to end (registration with the waitlist, proposals, votes, the
//! built schedule, publishing), mailed links through a real SMTP server,
//! the schedule read back by a real iCalendar parser, and seats never
//! overfilled when a hundred people confirm at once.

use std::{sync::Arc, time::Duration};

use hub_testkit::{ical_check, smtp_sink::SmtpSink};
use reqwest::{Response, cookie::CookieStore};

use crate::helpers::{TestApp, spawn_app_configured};

const CONFERENCE: &str = "/communities/rse/conferences/unconf-2027";
const PUBLIC: &str = "/c/rse/conferences/unconf-2027";

/// A person with their own browser (cookie jar) on the app.
pub(crate) struct Visitor {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Visitor {
    pub(crate) fn new(app: &TestApp) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            client,
            jar,
            base: app.base.clone(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn csrf(&self) -> String {
        let url: reqwest::Url = self.base.parse().unwrap();
        for _ in 0..2 {
            if let Some(cookies) = self.jar.cookies(&url) {
                let cookies = cookies.to_str().unwrap().to_owned();
                if let Some(token) = cookies
                    .split("; ")
                    .find_map(|pair| pair.strip_prefix("cophub_csrf="))
                {
                    return token.to_owned();
                }
            }
            self.get(PUBLIC).await;
        }
        panic!("no CSRF cookie");
    }

    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn page(&self) -> String {
        self.get(PUBLIC).await.text().await.unwrap()
    }
}

pub(crate) struct ConferenceApp {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
}

/// An owner and the community `rse`, mailing through a real SMTP server;
/// no conference yet.
pub(crate) async fn community_app() -> Option<ConferenceApp> {
    let sink = SmtpSink::start().await?;
    let url = sink.url();
    let app = spawn_app_configured(|config| config.mail.smtp_url = Some(url.into())).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    Some(ConferenceApp { app, sink })
}

async fn conference_app(capacity: &str) -> Option<ConferenceApp> {
    let c = community_app().await?;
    let created = c
        .app
        .post_form(
            "/communities/rse/conferences",
            &[
                ("name", "RSE Unconference"),
                ("slug", "unconf-2027"),
                ("description", "Sessions chosen by the people who come."),
                ("starts_on", "2027-03-04"),
                ("ends_on", "2027-03-05"),
                ("timezone", "Europe/Berlin"),
                ("venue", "Berlin"),
                ("capacity", capacity),
                ("vote_budget", "2"),
                ("show_up_factor", "1"),
                ("ranking_public", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
    assert_eq!(created.headers()["location"], CONFERENCE);
    Some(c)
}

/// The newest link of `kind` (`confirm`, `sign-in`) mailed to `to`, as a path.
pub(crate) async fn mailed_link(app: &TestApp, sink: &SmtpSink, to: &str, kind: &str) -> String {
    let marker = format!("/{kind}/");
    for _ in 0..100 {
        let found = sink.messages().into_iter().rev().find_map(|m| {
            if !m.rcpt_tos.iter().any(|r| r == to) {
                return None;
            }
            let body = m.parsed().get_body().ok()?;
            body.split_whitespace()
                .find(|w| w.contains("/c/rse/conferences/") && w.contains(&marker))
                .map(|w| w.trim_start_matches(&app.base).to_owned())
        });
        if let Some(link) = found {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind} link mailed to {to}");
}

/// Registers `email` for the conference at `public` and confirms it, as
/// that person in their own browser.
pub(crate) async fn register_and_confirm(
    app: &TestApp,
    sink: &SmtpSink,
    public: &str,
    email: &str,
    name: &str,
) -> Visitor {
    let person = Visitor::new(app);
    let asked = person
        .post(
            &format!("{public}/register"),
            &[("email", email), ("name", name)],
        )
        .await;
    assert_eq!(asked.status(), 303, "{}", asked.text().await.unwrap());
    let link = mailed_link(app, sink, &email.to_lowercase(), "confirm").await;
    let button = person.get(&link).await;
    assert_eq!(button.status(), 200);
    let confirmed = person.post(&link, &[]).await;
    assert_eq!(confirmed.status(), 303);
    person
}

impl ConferenceApp {
    /// The newest link of `kind` mailed to `to`, as a path.
    pub(crate) async fn link(&self, to: &str, kind: &str) -> String {
        mailed_link(&self.app, &self.sink, to, kind).await
    }

    /// Registers `email` and confirms it, as that person in their own browser.
    async fn registrant(&self, email: &str, name: &str) -> Visitor {
        register_and_confirm(&self.app, &self.sink, PUBLIC, email, name).await
    }

    async fn lead(&self, action: &str, fields: &[(&str, &str)]) -> Response {
        self.app
            .post_form(&format!("{CONFERENCE}/{action}"), fields)
            .await
    }

    async fn lead_page(&self) -> String {
        self.app.get(CONFERENCE).await.text().await.unwrap()
    }
}

fn proposal_id(page: &str, title: &str) -> String {
    let at = page
        .find(title)
        .unwrap_or_else(|| panic!("{title} is on the page"));
    let before = &page[..at];
    let start = before.rfind("id=\"proposal-").unwrap() + "id=\"proposal-".len();
    before[start..start + 36].to_owned()
}

async fn propose(who: &Visitor, title: &str, co_hosts: &str) -> Response {
    who.post(
        &format!("{PUBLIC}/proposals"),
        &[
            ("title", title),
            ("description", "Let us talk."),
            ("format", "discussion"),
            ("co_hosts", co_hosts),
        ],
    )
    .await
}

/// The option values of a `<select name="{name}">` on a page.
fn options(page: &str, name: &str) -> Vec<String> {
    let select =
        crate::helpers::between(page, &format!("<select name=\"{name}\">"), "</select>").unwrap();
    select
        .split("<option value=\"")
        .skip(1)
        .map(|o| o[..o.find('"').unwrap()].to_owned())
        .collect()
}

async fn vote(who: &Visitor, id: &str, action: &str) -> reqwest::StatusCode {
    who.post(&format!("{PUBLIC}/proposals/{id}/{action}"), &[])
        .await
        .status()
}

#[tokio::test]
async fn a_conference_runs_from_registration_to_the_published_schedule() {
    let Some(c) = conference_app("3").await else {
        return;
    };

    // Rooms and slots: a mistake names its line and keeps what was typed.
    let bad = c
        .lead(
            "grid",
            &[
                ("rooms", "Hall, 3\nSmall"),
                ("slots", "2027-03-04 09:00-10:00"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("rooms, line 2"));
    let outside = c
        .lead(
            "grid",
            &[("rooms", "Hall, 3"), ("slots", "2027-03-09 09:00-10:00")],
        )
        .await;
    assert_eq!(outside.status(), 422);
    let grid = c
        .lead(
            "grid",
            &[
                ("rooms", "Hall, 3\nSmall, 2"),
                ("slots", "2027-03-04 09:00-10:00\n2027-03-04 10:30-11:30"),
            ],
        )
        .await;
    assert_eq!(grid.status(), 303);

    // Registration: three seats, then the waitlist.
    let ada = c.registrant("ada@example.net", "Ada").await;
    assert!(ada.page().await.contains("registered, with a seat"));
    let bob = c.registrant("bob@example.net", "Bob").await;
    let cy = c.registrant("cy@example.net", "Cy").await;
    let dee = c.registrant("dee@example.net", "Dee").await;
    assert!(dee.page().await.contains("on the waitlist, number 1"));
    // The same address in other letters is the same person: no new
    // registration; she is mailed a link to sign in instead, once.
    let stranger = Visitor::new(&c.app);
    let again = stranger
        .post(
            &format!("{PUBLIC}/register"),
            &[("email", "ADA@Example.NET"), ("name", "Ada")],
        )
        .await;
    assert_eq!(again.status(), 303);
    let sign_in = c.link("ada@example.net", "sign-in").await;
    let thrice = stranger
        .post(
            &format!("{PUBLIC}/register"),
            &[("email", "ada@example.net"), ("name", "Ada")],
        )
        .await;
    assert_eq!(
        thrice.status(),
        429,
        "one link per address every few minutes"
    );
    let ada_elsewhere = Visitor::new(&c.app);
    assert_eq!(ada_elsewhere.post(&sign_in, &[]).await.status(), 303);
    assert!(
        ada_elsewhere
            .page()
            .await
            .contains("registered, with a seat")
    );
    assert_eq!(
        Visitor::new(&c.app).post(&sign_in, &[]).await.status(),
        410,
        "a sign-in link works once"
    );
    let page = c.lead_page().await;
    assert!(page.contains("3 of 3 seats taken · 1 waiting"), "{page}");
    assert_eq!(page.matches("<td>ada@example.net</td>").count(), 1);
    // Confirmed registrants are on the roster, with the conference's
    // consent only.
    let store = c.app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let dee_member = store
        .member_by_email(
            community.id,
            &hub_core::Email::parse("dee@example.net").unwrap(),
        )
        .await
        .unwrap()
        .expect("Dee is on the roster");
    use hub_core::model::member::{ConsentChannel, ConsentStatus};
    assert_eq!(
        dee_member.consent(ConsentChannel::Conference),
        ConsentStatus::Subscribed
    );
    assert_eq!(
        dee_member.consent(ConsentChannel::Email),
        ConsentStatus::None
    );
    // A confirmation link works once.
    let used = c.link("ada@example.net", "confirm").await;
    let reused = Visitor::new(&c.app).post(&used, &[]).await;
    assert_eq!(reused.status(), 410);
    assert!(reused.text().await.unwrap().contains("expired or was used"));

    // Proposals open; registration stays open.
    assert_eq!(c.lead("advance", &[]).await.status(), 303);
    assert!(
        c.lead_page()
            .await
            .contains("<strong id=\"phase\">Proposals</strong>")
    );
    assert_eq!(
        propose(&ada, "Testing research code", "").await.status(),
        303
    );
    assert_eq!(propose(&ada, "Packaging", "").await.status(), 303);
    assert_eq!(
        propose(&bob, "Code review", "cy@example.net")
            .await
            .status(),
        303
    );
    assert_eq!(
        propose(&cy, "Testing scientific code", "").await.status(),
        303
    );
    let waiting = propose(&dee, "From the waitlist", "").await;
    assert_eq!(
        waiting.status(),
        403,
        "only registrants with a seat propose"
    );
    let anonymous = propose(&stranger, "Anonymous", "").await;
    assert_eq!(anonymous.status(), 403);
    assert!(
        anonymous
            .text()
            .await
            .unwrap()
            .contains("only people registered")
    );
    let bad = propose(&bob, "Bad co-host", "not-an-address").await;
    assert_eq!(bad.status(), 422);

    // The lead merges the duplicate; its proposer becomes a co-host.
    let page = c.lead_page().await;
    let testing = proposal_id(&page, "Testing research code");
    let duplicate = proposal_id(&page, "Testing scientific code");
    let packaging = proposal_id(&page, "Packaging");
    let review = proposal_id(&page, "Code review");
    let early = ada
        .post(&format!("{PUBLIC}/proposals/{testing}/vote"), &[])
        .await;
    assert_eq!(early.status(), 409, "voting has not opened");
    assert_eq!(
        c.lead("merge", &[("duplicate", &duplicate), ("into", &testing)])
            .await
            .status(),
        303
    );
    let page = c.lead_page().await;
    assert!(!page.contains("Testing scientific code"));
    assert!(
        page.contains("cy@example.net"),
        "the merged proposer co-hosts"
    );

    // Voting: a budget of two, one vote per session, withdrawable.
    assert_eq!(c.lead("advance", &[]).await.status(), 303);
    assert_eq!(propose(&ada, "Too late", "").await.status(), 409);
    assert_eq!(vote(&ada, &testing, "vote").await, 303);
    assert_eq!(vote(&ada, &packaging, "vote").await, 303);
    let over = ada
        .post(&format!("{PUBLIC}/proposals/{review}/vote"), &[])
        .await;
    assert_eq!(over.status(), 409);
    assert!(over.text().await.unwrap().contains("all 2 of your votes"));
    assert_eq!(vote(&bob, &testing, "vote").await, 303);
    let twice = bob
        .post(&format!("{PUBLIC}/proposals/{testing}/vote"), &[])
        .await;
    assert_eq!(twice.status(), 409);
    assert!(
        twice
            .text()
            .await
            .unwrap()
            .contains("voted for this session already")
    );
    assert_eq!(vote(&bob, &review, "vote").await, 303);
    assert_eq!(vote(&bob, &review, "unvote").await, 303);
    assert_eq!(vote(&bob, &review, "vote").await, 303);
    assert_eq!(vote(&cy, &testing, "vote").await, 303);
    assert!(ada.page().await.contains("You have 0 of 2 votes left."));

    // Bob cancels: Dee, first on the waitlist, gets his seat and a mail.
    let cancelled = bob.post(&format!("{PUBLIC}/cancel"), &[]).await;
    assert_eq!(cancelled.status(), 303);
    assert!(dee.page().await.contains("registered, with a seat"));
    let seated = c
        .sink
        .wait_for(1, Duration::from_secs(5))
        .await
        .into_iter()
        .any(|m| {
            m.rcpt_tos.iter().any(|r| r == "dee@example.net")
                && m.header("subject").contains("You have a seat")
        });
    assert!(seated, "Dee was told");
    assert_eq!(vote(&dee, &testing, "vote").await, 303);
    // Bob's votes went with his registration.
    let page = c.lead_page().await;
    assert!(page.contains("<tr id=\"proposal-") && page.contains("3 of 3 seats taken · 0 waiting"));

    // The schedule: built from the votes, then one session pinned.
    let built = c.lead("build", &[]).await;
    assert_eq!(built.status(), 200);
    let built = built.text().await.unwrap();
    assert!(built.contains("id=\"build-report\""), "{built}");
    assert!(built.contains("3 sessions placed"), "{built}");
    let rooms = options(&built, "room");
    let slots = options(&built, "slot");
    let (hall, small) = (&rooms[0], &rooms[1]);
    let pinned = c
        .lead(
            "pin",
            &[("session", &packaging), ("room", hall), ("slot", &slots[0])],
        )
        .await;
    assert_eq!(pinned.status(), 303, "{}", pinned.text().await.unwrap());
    assert!(c.lead_page().await.contains("pinned"));
    // "Testing" (3 votes) does not fit the Small room (2 seats)…
    let too_small = c
        .lead(
            "pin",
            &[("session", &testing), ("room", small), ("slot", &slots[1])],
        )
        .await;
    assert_eq!(too_small.status(), 422);
    assert!(too_small.text().await.unwrap().contains("expects 3 people"));
    // In the Hall it fits; then Cy, who co-hosts it, cannot run "Code
    // review" in the same slot.
    let review_first = c
        .lead(
            "pin",
            &[("session", &review), ("room", small), ("slot", &slots[0])],
        )
        .await;
    assert_eq!(review_first.status(), 303);
    let moved = c
        .lead(
            "pin",
            &[("session", &testing), ("room", hall), ("slot", &slots[1])],
        )
        .await;
    assert_eq!(moved.status(), 303);
    let busy = c
        .lead(
            "pin",
            &[("session", &review), ("room", small), ("slot", &slots[1])],
        )
        .await;
    assert_eq!(busy.status(), 422);
    assert!(busy.text().await.unwrap().contains("cy@example.net hosts"));
    let rebuilt = c.lead("build", &[]).await.text().await.unwrap();
    assert!(rebuilt.contains("3 sessions placed"));

    // Publishing ends voting, shows the schedule everywhere, and tells the
    // registrants through the outbox (Bob cancelled: not him).
    assert_eq!(c.lead("publish", &[]).await.status(), 303);
    let subject = "The schedule of RSE Unconference is out";
    let told = |to: &str| {
        c.sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == to) && m.header("subject") == subject)
            .count()
    };
    for _ in 0..200 {
        if ["ada@example.net", "cy@example.net", "dee@example.net"]
            .iter()
            .all(|to| told(to) == 1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for to in ["ada@example.net", "cy@example.net", "dee@example.net"] {
        assert_eq!(told(to), 1, "{to} was told once");
    }
    assert_eq!(told("bob@example.net"), 0);
    assert_eq!(vote(&cy, &review, "vote").await, 409);
    let closed = Visitor::new(&c.app)
        .post(
            &format!("{PUBLIC}/register"),
            &[("email", "late@example.net"), ("name", "Late")],
        )
        .await;
    assert_eq!(closed.status(), 409);
    assert!(
        closed
            .text()
            .await
            .unwrap()
            .contains("registration for RSE Unconference is closed")
    );
    let schedule = stranger.get(&format!("{PUBLIC}/schedule")).await;
    assert_eq!(schedule.status(), 200);
    let schedule = schedule.text().await.unwrap();
    for title in ["Testing research code", "Packaging", "Code review"] {
        assert!(schedule.contains(title), "{title} is on the schedule");
    }
    let calendar = stranger.get(&format!("{PUBLIC}/schedule.ics")).await;
    assert_eq!(calendar.status(), 200);
    let calendar = calendar.text().await.unwrap();
    let feed = c.app.get("/c/rse/calendar.ics").await.text().await.unwrap();
    let Some(parsed) = ical_check::parse(&calendar, None) else {
        return;
    };
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["tzid"] == "Europe/Berlin"));
    let packaging_event = events
        .iter()
        .find(|e| e["summary"].as_str().unwrap().starts_with("Packaging"))
        .unwrap();
    assert_eq!(packaging_event["dtstart"], "2027-03-04T09:00:00+01:00");
    assert!(
        packaging_event["location"]
            .as_str()
            .unwrap()
            .starts_with("Hall")
    );
    let community_feed = ical_check::parse(&feed, None).unwrap();
    assert_eq!(
        community_feed["events"].as_array().unwrap().len(),
        3,
        "the sessions are in the community's feed"
    );
}

#[tokio::test]
async fn a_hundred_people_confirming_at_once_never_overfill_the_seats() {
    let Some(c) = conference_app("10").await else {
        return;
    };
    let people: Vec<(Visitor, String)> = (0..100)
        .map(|i| (Visitor::new(&c.app), format!("person{i:03}@example.net")))
        .collect();
    let asked = futures::future::join_all(people.iter().map(|(person, email)| async move {
        person
            .post(
                &format!("{PUBLIC}/register"),
                &[("email", email), ("name", "P")],
            )
            .await
            .status()
    }))
    .await;
    assert!(asked.iter().all(|s| *s == 303), "{asked:?}");
    c.sink.wait_for(100, Duration::from_secs(60)).await;
    let mut links = Vec::new();
    for (_, email) in &people {
        links.push(c.link(email, "confirm").await);
    }
    let confirmed = futures::future::join_all(
        people
            .iter()
            .zip(&links)
            .map(|((person, _), link)| async move { person.post(link, &[]).await.status() }),
    )
    .await;
    assert!(confirmed.iter().all(|s| *s == 303), "{confirmed:?}");
    let page = c.lead_page().await;
    assert!(
        page.contains("10 of 10 seats taken · 90 waiting"),
        "{}",
        crate::helpers::between(&page, "id=\"seats\">", "<").unwrap_or("")
    );
}

#[tokio::test]
async fn an_api_client_registers_someone_who_then_confirms_by_the_mailed_link() {
    let Some(c) = conference_app("5").await else {
        return;
    };
    let token = c.app.api_token(crate::helpers::OWNER_EMAIL).await;
    let path = "/api/v1/communities/rse/conferences/unconf-2027/registrations";
    let register = |body: serde_json::Value| {
        let request = reqwest::Client::new()
            .post(c.app.url(path))
            .bearer_auth(&token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let mailed = register(serde_json::json!({"email": "Eve@Example.net", "name": "Eve"})).await;
    assert_eq!(mailed.status(), 202);
    let bad = register(serde_json::json!({"email": "not an address"})).await;
    assert_eq!(bad.status(), 422);
    let unknown = register(serde_json::json!({"email": "x@example.net", "seat": 1})).await;
    assert_eq!(unknown.status(), 400);
    // Nothing counts until Eve confirms.
    let listed: serde_json::Value = reqwest::Client::new()
        .get(c.app.url(path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["status"], "pending", "{listed}");
    let link = c.link("eve@example.net", "confirm").await;
    let eve = Visitor::new(&c.app);
    assert_eq!(eve.post(&link, &[]).await.status(), 303);
    assert!(eve.page().await.contains("registered, with a seat"));
}
