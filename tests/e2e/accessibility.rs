//! Accessibility as a browser meets it: every main page — the dashboard's and
//! the public ones — loaded in a real headless Chromium over a community
//! with something on every page, then checked by axe-core (Deque's rules,
//! pinned, from npm: `scripts/peers/axe-core`), injected through WebDriver.
//! A serious or critical violation fails the test with the page, the rule,
//! its help and the offending elements; the lesser ones are printed.
//!
//! Then the keyboard: on the pages with forms, Tab alone reaches every
//! visible control, and no element jumps the order with a positive
//! `tabindex`.
//!
//! Without chromium, chromedriver or axe-core the tests skip with a line on
//! stderr, unless `scripts/test` asked for them (`COPHUB_TEST_REQUIRE_BROWSER=1`,
//! `COPHUB_TEST_REQUIRE_AXE=1`).

use std::{collections::BTreeSet, fmt::Write as _, path::PathBuf, time::Duration};

use fantoccini::{
    actions::{InputSource as _, KeyAction, KeyActions},
    key::Key,
};
use hub_core::{
    channels::{ChannelRequest, add},
    model::{channel::ChannelKind, sync::SyncDirection},
};
use hub_testkit::fixtures;
use serde_json::{Value, json};

use crate::{
    browser::{Browser, browser},
    calls::{CallsApp, calls_app_with},
    conferences::{Visitor, mailed_link, register_and_confirm},
    helpers::{TestApp, spawn_app},
};

/// Set to `1` (by `scripts/test`) to make a missing axe-core fail the test
/// instead of skipping it.
const REQUIRE_AXE: &str = "COPHUB_TEST_REQUIRE_AXE";

/// The impacts that fail a page; "moderate" and "minor" are only printed.
const FAILING: [&str; 2] = ["serious", "critical"];

/// axe.min.js's source, installed by the peer script; `None` (with a note)
/// when it cannot be had here and is not required.
async fn axe_source() -> Option<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/peers/axe-core");
    let installed = tokio::process::Command::new(script)
        .arg("install")
        .output()
        .await;
    let why = match installed {
        Ok(output) if output.status.success() => {
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            return Some(
                std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("could not read {path}: {e}")),
            );
        }
        Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
        Err(error) => error.to_string(),
    };
    assert!(
        std::env::var(REQUIRE_AXE).as_deref() != Ok("1"),
        "axe-core is required ({REQUIRE_AXE}=1) but could not be installed: {why}"
    );
    eprintln!("skipped: axe-core could not be installed ({why})");
    None
}

impl Browser {
    /// The serious and critical violations axe-core finds on the page now
    /// open, written out for a person; the lesser ones go to stderr.
    async fn audit(&self, axe: &str, page: &str) -> String {
        self.client
            .execute(axe, vec![])
            .await
            .unwrap_or_else(|e| panic!("{page}: axe-core could not be injected: {e}"));
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations.map(v => ({
                       id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => ({
                           target: n.target.map(String).join(' '),
                           html: n.html,
                       })),
                   }))))
                   .catch(e => done({error: String(e)}));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{page}: axe-core did not run: {e}"));
        let Value::Array(violations) = violations else {
            panic!("{page}: axe-core failed: {violations}");
        };
        let mut failing = String::new();
        for violation in &violations {
            let impact = violation["impact"].as_str().unwrap_or("unknown");
            let mut text = format!(
                "{page}: {} ({impact}): {}\n",
                violation["id"].as_str().unwrap_or_default(),
                violation["help"].as_str().unwrap_or_default(),
            );
            for node in violation["nodes"].as_array().into_iter().flatten() {
                let html: String = node["html"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect();
                let _ = writeln!(
                    text,
                    "    {}  {html}",
                    node["target"].as_str().unwrap_or_default()
                );
            }
            if FAILING.contains(&impact) {
                failing.push_str(&text);
            } else {
                eprint!("note, not failing: {text}");
            }
        }
        failing
    }

    /// Presses Tab until the focus comes back round, and returns how many
    /// visible controls the page has, those Tab never reached, and those
    /// with a positive `tabindex`.
    async fn tab_through(&self) -> (usize, Vec<String>, Vec<String>) {
        let positive = self
            .client
            .execute(
                "return [...document.querySelectorAll('[tabindex]')]
                     .filter(el => el.tabIndex > 0).map(el => el.outerHTML.slice(0, 120));",
                vec![],
            )
            .await
            .unwrap();
        let positive = positive
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        // Each visible control gets a number; a radio group is one stop, so
        // its buttons share their group's.
        let controls = self
            .client
            .execute(
                "const visible = el => {
                     const style = getComputedStyle(el);
                     return el.getClientRects().length > 0 && style.visibility !== 'hidden'
                         && !el.closest('[inert], [hidden]');
                 };
                 const all = [...document.querySelectorAll(
                     'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]'
                 )].filter(el => !el.matches(':disabled') && el.tabIndex >= 0 && visible(el));
                 const groups = {};
                 return all.map((el, i) => {
                     let key = String(i);
                     if (el.type === 'radio' && el.name) {
                         const group = (el.form ? el.form.action : '') + '|' + el.name;
                         key = groups[group] ?? (groups[group] = key);
                     }
                     el.dataset.a11yStop = key;
                     const name = (el.getAttribute('aria-label') || el.textContent || el.name || '').trim();
                     return {key, what: el.outerHTML.slice(0, 120), name};
                 });",
                vec![],
            )
            .await
            .unwrap();
        let controls = controls.as_array().cloned().unwrap_or_default();

        // Start from the top of the document, nothing focused.
        self.client
            .execute(
                "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);",
                vec![],
            )
            .await
            .unwrap();
        let mut reached = BTreeSet::new();
        let mut first: Option<String> = None;
        let mut left_first = false;
        // A date field takes a Tab per part (day, month, year, time), so allow
        // several presses per control.
        for _ in 0..controls.len() * 6 + 10 {
            let tab = KeyActions::new("keyboard".into())
                .then(KeyAction::Down {
                    value: Key::Tab.into(),
                })
                .then(KeyAction::Up {
                    value: Key::Tab.into(),
                });
            self.client.perform_actions(tab).await.unwrap();
            let focused = self
                .client
                .execute(
                    "const el = document.activeElement;
                     return el && el.dataset ? (el.dataset.a11yStop ?? null) : null;",
                    vec![],
                )
                .await
                .unwrap();
            let Some(key) = focused.as_str().map(str::to_owned) else {
                continue;
            };
            match &first {
                None => first = Some(key.clone()),
                Some(f) if *f == key && left_first => break,
                Some(f) if *f != key => left_first = true,
                Some(_) => {}
            }
            reached.insert(key);
        }
        let missed = controls
            .iter()
            .filter(|c| !reached.contains(c["key"].as_str().unwrap_or_default()))
            .map(|c| {
                format!(
                    "{} ({})",
                    c["what"].as_str().unwrap_or_default(),
                    c["name"].as_str().unwrap_or_default()
                )
            })
            .collect();
        (controls.len(), missed, positive)
    }
}

/// A community with something on every page: the roster (`calls_app_with`'s
/// two plus a dozen imported), its email list, Slack and Zoom, a weekly call
/// that landed everywhere, an announcement mailed to the list, a dry run of
/// a Slack import, and two conferences — `unconf` run to its published
/// schedule, `summit` open for registration. The fields are the paths of
/// the pages whose address holds an id or a token.
struct World {
    s: CallsApp,
    /// Ada's preferences page, from the link she was mailed.
    preferences: String,
    /// Ada's unsubscribe page, from the announcement she was mailed.
    unsubscribe: String,
    /// A registrant's sign-in page for `unconf`.
    sign_in: String,
    /// Ada's page on the dashboard.
    member: String,
    announcement: String,
    /// The Slack import's dry run.
    run: String,
}

async fn world() -> Option<World> {
    let s = calls_app_with(true).await?;
    let app = &s.app;
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let imported = app.import_csv("rse", &fixtures::members_csv(12), &[]).await;
    assert_eq!(imported.status(), 200);

    let scheduled = app
        .post_form(
            "/communities/rse/calls",
            &[
                ("title", "RSE community call"),
                ("agenda", "1. News\n2. Open floor"),
                ("starts_at", "2027-03-02T10:00"),
                ("timezone", "Europe/Berlin"),
                ("duration_minutes", "60"),
                ("repeats", "weekly"),
                ("occurrences", "4"),
            ],
        )
        .await;
    assert_eq!(scheduled.status(), 303, "{:?}", scheduled.text().await);
    s.settled().await;

    let channels = store.channels(community.id).await.unwrap();
    let list = channels
        .iter()
        .find(|c| c.kind == ChannelKind::EmailList)
        .unwrap();
    let slack = channels
        .iter()
        .find(|c| c.kind == ChannelKind::Slack)
        .unwrap();
    let published = app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Meetup on Friday"),
                ("body_markdown", "Bring **questions**."),
                ("channel", &list.id.to_string()),
            ],
        )
        .await;
    assert_eq!(published.status(), 303, "{:?}", published.text().await);
    let announcement = published.headers()["location"].to_str().unwrap().to_owned();

    // A dry run of importing the workspace's people.
    s.slack.add_users(3);
    store
        .create_sync_job(
            slack.id,
            hub_core::model::sync::NewSyncJob {
                direction: SyncDirection::Import,
                cron: "@daily".into(),
                max_remove_fraction: 0.10,
                max_remove_count: 3,
            },
            fixtures::audit(),
        )
        .await
        .unwrap();
    let ran = app
        .post_form(
            &format!("/communities/rse/sync/{}/run", slack.id),
            &[("mode", "dry_run")],
        )
        .await;
    assert_eq!(ran.status(), 303, "{:?}", ran.text().await);
    let run = ran.headers()["location"].to_str().unwrap().to_owned();

    // A webhook too, so the channels page shows more than the calls' channels.
    add(
        store.as_ref(),
        &app.config.secret_keys().unwrap(),
        community.id,
        ChannelRequest {
            kind: ChannelKind::Webhook,
            name: "Website".into(),
            settings: json!({"url": "https://hooks.example.org/rse"}),
            secret: None,
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap();

    let sign_in = published_conference(&s).await;
    let created = app
        .post_form(
            "/communities/rse/conferences",
            &[
                ("name", "RSE Summit"),
                ("slug", "summit"),
                ("description", "Two days of talks chosen by those who come."),
                ("starts_on", "2027-06-10"),
                ("ends_on", "2027-06-11"),
                ("timezone", "Europe/Berlin"),
                ("venue", "Leipzig"),
                ("capacity", "50"),
                ("vote_budget", "3"),
                ("show_up_factor", "0.8"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303, "{:?}", created.text().await);

    // The links people are mailed: ada's copy of the announcement carries
    // her unsubscribe link; she asks for her preferences page.
    let ada = "ada@example.net";
    let unsubscribe = unsubscribe_link(&s, ada, "Meetup on Friday").await;
    let asked = app.post_form("/c/rse/preferences", &[("email", ada)]).await;
    assert_eq!(asked.status(), 200);
    let preferences = mailed_url(&s, ada, &format!("{}/c/rse/preferences/", app.base)).await;

    let member = store
        .member_by_email(community.id, &hub_core::Email::parse(ada).unwrap())
        .await
        .unwrap()
        .unwrap();
    let strip = |url: &str| url.strip_prefix(&app.base).unwrap_or(url).to_owned();
    Some(World {
        preferences: strip(&preferences),
        unsubscribe: strip(&unsubscribe),
        sign_in,
        member: format!("/communities/rse/members/{}", member.id),
        announcement,
        run,
        s,
    })
}

/// The web link in the `List-Unsubscribe` header of the mail to `to` with
/// `subject`.
async fn unsubscribe_link(s: &CallsApp, to: &str, subject: &str) -> String {
    for _ in 0..200 {
        if let Some(mail) = s
            .sink
            .messages()
            .into_iter()
            .find(|m| m.rcpt_tos.iter().any(|r| r == to) && m.header("Subject") == subject)
        {
            return mail
                .header("List-Unsubscribe")
                .split(['<', '>'])
                .find(|part| part.starts_with("http"))
                .expect("a web link to unsubscribe")
                .to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {subject:?} mailed to {to}");
}

/// The first link starting with `prefix` in any mail to `to`, once mailed.
async fn mailed_url(s: &CallsApp, to: &str, prefix: &str) -> String {
    for _ in 0..200 {
        let found = s.sink.messages().into_iter().find_map(|m| {
            if !m.rcpt_tos.iter().any(|r| r == to) {
                return None;
            }
            let body = m.parsed().get_body().ok()?;
            body.split_whitespace()
                .find(|word| word.starts_with(prefix))
                .map(str::to_owned)
        });
        if let Some(url) = found {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {prefix} link mailed to {to}");
}

/// `unconf`: rooms and slots, two registrants, a proposal voted for, the
/// schedule built and published. Returns the path of a sign-in link mailed
/// to one of them, for the browser to become a registrant.
async fn published_conference(s: &CallsApp) -> String {
    let app = &s.app;
    let lead = "/communities/rse/conferences/unconf";
    let public = "/c/rse/conferences/unconf";
    let created = app
        .post_form(
            "/communities/rse/conferences",
            &[
                ("name", "RSE Unconference"),
                ("slug", "unconf"),
                ("description", "Sessions chosen by the people who come."),
                ("starts_on", "2027-03-04"),
                ("ends_on", "2027-03-05"),
                ("timezone", "Europe/Berlin"),
                ("venue", "Berlin"),
                ("capacity", "20"),
                ("vote_budget", "2"),
                ("show_up_factor", "1"),
                ("ranking_public", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303, "{:?}", created.text().await);
    let grid = app
        .post_form(
            &format!("{lead}/grid"),
            &[
                ("rooms", "Hall, 20\nSmall, 5"),
                ("slots", "2027-03-04 09:00-10:00\n2027-03-04 10:30-11:30"),
            ],
        )
        .await;
    assert_eq!(grid.status(), 303, "{:?}", grid.text().await);
    let grace = register_and_confirm(app, &s.sink, public, "grace@example.net", "Grace").await;
    let eve = register_and_confirm(app, &s.sink, public, "eve@example.net", "Eve").await;
    assert_eq!(
        app.post_form(&format!("{lead}/advance"), &[])
            .await
            .status(),
        303
    );
    for (who, title) in [
        (&grace, "Testing research code"),
        (&eve, "Packaging for HPC"),
    ] {
        let proposed = who
            .post(
                &format!("{public}/proposals"),
                &[
                    ("title", title),
                    ("description", "Let us talk."),
                    ("format", "discussion"),
                    ("co_hosts", ""),
                ],
            )
            .await;
        assert_eq!(proposed.status(), 303);
    }
    assert_eq!(
        app.post_form(&format!("{lead}/advance"), &[])
            .await
            .status(),
        303
    );
    let page = app.get(lead).await.text().await.unwrap();
    let start = page.find("id=\"proposal-").unwrap() + "id=\"proposal-".len();
    let proposal = &page[start..start + 36];
    let voted = grace
        .post(&format!("{public}/proposals/{proposal}/vote"), &[])
        .await;
    assert_eq!(voted.status(), 303);
    assert_eq!(
        app.post_form(&format!("{lead}/build"), &[]).await.status(),
        200
    );
    assert_eq!(
        app.post_form(&format!("{lead}/publish"), &[])
            .await
            .status(),
        303
    );
    let asked = Visitor::new(app)
        .post(&format!("{public}/access"), &[("email", "eve@example.net")])
        .await;
    assert_eq!(asked.status(), 303);
    mailed_link(app, &s.sink, "eve@example.net", "sign-in").await
}

#[tokio::test]
async fn axe_core_finds_no_serious_or_critical_violation_on_the_main_pages() {
    let Some(axe) = axe_source().await else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let Some(w) = world().await else {
        return;
    };
    let app = &w.s.app;
    let mut failing = String::new();

    // The setup page exists only before the first account, on a new hub.
    let fresh = spawn_app().await;
    browser
        .client
        .goto(fresh.setup_link.as_deref().unwrap())
        .await
        .unwrap();
    failing.push_str(&browser.audit(&axe, "setup").await);

    // What anyone sees, before logging in.
    let public = [
        ("login", "/login".to_owned()),
        ("join", "/c/rse/join".to_owned()),
        ("preferences request", "/c/rse/preferences".to_owned()),
        ("preferences", w.preferences.clone()),
        ("unsubscribe", w.unsubscribe.clone()),
        (
            "conference (registration)",
            "/c/rse/conferences/summit".to_owned(),
        ),
        (
            "conference (published)",
            "/c/rse/conferences/unconf".to_owned(),
        ),
        ("schedule", "/c/rse/conferences/unconf/schedule".to_owned()),
        (
            "archive (members only: the ask)",
            "/c/rse/announcements".to_owned(),
        ),
        // Last: the registrant's view below follows this page's button.
        ("sign-in link", w.sign_in.clone()),
    ];
    for (name, path) in &public {
        audit_page(&browser, &axe, app, name, path, &mut failing).await;
    }
    // The registrant's own view of the conference.
    browser.click("main form button[type=submit]").await;
    failing.push_str(&browser.audit(&axe, "conference (as a registrant)").await);

    browser.log_in(app).await;
    let dashboard = [
        ("communities", "/".to_owned()),
        ("overview", "/communities/rse".to_owned()),
        ("members", "/communities/rse/members".to_owned()),
        ("member", w.member.clone()),
        ("add member", "/communities/rse/members/new".to_owned()),
        ("import", "/communities/rse/import".to_owned()),
        ("announcements", "/communities/rse/announcements".to_owned()),
        ("announcement", w.announcement.clone()),
        ("calls", "/communities/rse/calls".to_owned()),
        ("sync", "/communities/rse/sync".to_owned()),
        ("sync run", w.run.clone()),
        ("channels", "/communities/rse/channels".to_owned()),
        ("conferences", "/communities/rse/conferences".to_owned()),
        (
            "conference",
            "/communities/rse/conferences/unconf".to_owned(),
        ),
        (
            "conference (registration)",
            "/communities/rse/conferences/summit".to_owned(),
        ),
        ("audit log", "/communities/rse/audit".to_owned()),
        ("users", "/users".to_owned()),
        ("API tokens", "/tokens".to_owned()),
        ("not found", "/communities/no-such-community".to_owned()),
    ];
    for (name, path) in &dashboard {
        audit_page(&browser, &axe, app, name, path, &mut failing).await;
    }

    // The check can fail: a field without a label is critical, faint text
    // serious.
    browser
        .client
        .execute(
            "const main = document.querySelector('main');
             main.insertAdjacentHTML('beforeend', '<input name=probe><p id=faint>Faint</p>');
             document.getElementById('faint').style.color = '#c8c8c8';",
            vec![],
        )
        .await
        .unwrap();
    let probe = browser.audit(&axe, "probe").await;
    assert!(
        probe.contains("probe: label (critical)")
            && probe.contains("probe: color-contrast (serious)"),
        "{probe}"
    );
    browser.client.clone().close().await.unwrap();
    assert!(
        failing.is_empty(),
        "axe-core found serious or critical violations:\n{failing}"
    );
}

/// Opens `path` in the browser and adds axe-core's findings to `failing`,
/// after making sure the page is the one meant, not an error in its place
/// (asked as the owner, whose session the app's own client holds).
async fn audit_page(
    browser: &Browser,
    axe: &str,
    app: &TestApp,
    name: &str,
    path: &str,
    failing: &mut String,
) {
    let expected = if path.contains("no-such") { 404 } else { 200 };
    let status = app.get(path).await.status();
    assert_eq!(status, expected, "{name} ({path})");
    browser.client.goto(&app.url(path)).await.unwrap();
    failing.push_str(&browser.audit(axe, &format!("{name} ({path})")).await);
}

/// What keeps Tab from reaching every control of the page at `path`.
async fn keyboard_problems(browser: &Browser, app: &TestApp, name: &str, path: &str) -> String {
    browser.client.goto(&app.url(path)).await.unwrap();
    let (controls, missed, positive) = browser.tab_through().await;
    eprintln!(
        "{name}: Tab reached {} of {controls} visible controls",
        controls - missed.len()
    );
    assert!(controls > 3, "{name} ({path}) has no form to tab through");
    let mut problems = String::new();
    for control in missed {
        let _ = writeln!(problems, "{name}: Tab never reaches {control}");
    }
    for control in positive {
        let _ = writeln!(problems, "{name}: a positive tabindex: {control}");
    }
    problems
}

#[tokio::test]
async fn every_visible_control_of_the_forms_is_reached_by_tab_in_order() {
    let Some(browser) = browser().await else {
        return;
    };
    let Some(s) = calls_app_with(true).await else {
        return;
    };
    let app = &s.app;
    let created = app
        .post_form(
            "/communities/rse/conferences",
            &[
                ("name", "RSE Summit"),
                ("slug", "summit"),
                ("starts_on", "2027-06-10"),
                ("ends_on", "2027-06-11"),
                ("timezone", "Europe/Berlin"),
                ("capacity", "50"),
                ("vote_budget", "3"),
                ("show_up_factor", "0.8"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303, "{:?}", created.text().await);

    let mut problems = keyboard_problems(
        &browser,
        app,
        "conference registration",
        "/c/rse/conferences/summit",
    )
    .await;
    browser.log_in(app).await;
    for (name, path) in [
        ("members filter", "/communities/rse/members"),
        ("compose an announcement", "/communities/rse/announcements"),
        ("schedule a call", "/communities/rse/calls"),
    ] {
        problems.push_str(&keyboard_problems(&browser, app, name, path).await);
    }

    // The check can fail: a control that jumps the order is named.
    browser
        .client
        .execute(
            "document.querySelector('main').insertAdjacentHTML('beforeend', \
             '<button tabindex=\"2\">Probe</button>')",
            vec![],
        )
        .await
        .unwrap();
    let (_, _, positive) = browser.tab_through().await;
    assert_eq!(positive, ["<button tabindex=\"2\">Probe</button>"]);
    browser.client.clone().close().await.unwrap();
    assert!(problems.is_empty(), "{problems}");
}
