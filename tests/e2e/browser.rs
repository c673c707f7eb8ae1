//! What a lead clicks, in a real headless Chromium driven over WebDriver.
//! Needs Debian's `chromium` and `chromium-driver`; `scripts/test` installs
//! them and sets `COPHUB_TEST_REQUIRE_BROWSER=1`, so there the test cannot
//! pass by skipping. Elsewhere it skips with a line on stderr.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::{OWNER_EMAIL, OWNER_PASSWORD, TestApp, spawn_app};

/// Chromium under chromedriver, with a profile of its own.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A test that failed never closed its session, and Chromium outlives
        // its driver: end every process that used this test's profile.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self._profile.path())
            .status();
    }
}

fn find_program(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|path| path.is_file())
}

pub(crate) async fn browser() -> Option<Browser> {
    let required = std::env::var("COPHUB_TEST_REQUIRE_BROWSER").as_deref() == Ok("1");
    let (Some(driver_path), Some(chromium)) =
        (find_program("chromedriver"), find_program("chromium"))
    else {
        assert!(
            !required,
            "COPHUB_TEST_REQUIRE_BROWSER=1 but chromium or chromedriver is missing"
        );
        eprintln!(
            "skipped: chromium and chromedriver are not installed (scripts/test installs them)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                });
            }
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not accept a session: {last_error:?}");
}

impl Browser {
    pub(crate) async fn fill(&self, selector: &str, text: &str) {
        let field = self.client.find(Locator::Css(selector)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks something that loads a new page, and waits for that page: until
    /// the old page's body is gone and the new document has loaded.
    pub(crate) async fn click(&self, selector: &str) {
        let old_body = self.client.find(Locator::Css("body")).await.unwrap();
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .unwrap();
        for _ in 0..200 {
            let stale = old_body.text().await.is_err();
            let ready = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(|s| s == "complete"))
                .unwrap_or(false);
            if stale && ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("clicking {selector} loaded no new page");
    }

    pub(crate) async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Logs the owner in on `app`'s login page.
    pub(crate) async fn log_in(&self, app: &TestApp) {
        self.client.goto(&app.url("/login")).await.unwrap();
        self.fill("input[name=email]", OWNER_EMAIL).await;
        self.fill("input[name=password]", OWNER_PASSWORD).await;
        self.click("button[type=submit]").await;
    }

    /// Creates the owner through `app`'s first-run setup link, which also
    /// logs them in.
    pub(crate) async fn set_up_owner(&self, app: &TestApp) {
        self.client
            .goto(app.setup_link.as_deref().unwrap())
            .await
            .unwrap();
        self.fill("input[name=email]", OWNER_EMAIL).await;
        self.fill("input[name=password]", OWNER_PASSWORD).await;
        self.fill("input[name=password_again]", OWNER_PASSWORD)
            .await;
        self.click("button[type=submit]").await;
    }

    pub(crate) async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }
}

#[tokio::test]
async fn a_lead_sets_up_cophub_imports_members_and_edits_one_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = spawn_app().await;

    // The setup link creates the owner and logs them in.
    browser.set_up_owner(&app).await;
    assert_eq!(browser.path().await, "/");
    assert!(browser.text().await.contains(OWNER_EMAIL));

    // A community.
    browser
        .fill("input[name=name]", "Research Software Engineers")
        .await;
    browser.fill("input[name=slug]", "rse").await;
    browser.fill("input[name=timezone]", "Europe/Berlin").await;
    browser
        .click("form[action='/communities'] button[type=submit]")
        .await;
    assert_eq!(browser.path().await, "/communities/rse/members");

    // A CSV with one bad row is refused whole, with the line named.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "email,name,role\nada@example.org,Ada,member\nnot-an-email,X,member\n",
    )
    .unwrap();
    browser.click("a[href='/communities/rse/import']").await;
    browser
        .fill("input[type=file]", bad.to_str().unwrap())
        .await;
    browser
        .click("form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Nothing was imported"), "{page}");
    assert!(
        page.contains("line 3: \"not-an-email\" is not a valid email address"),
        "{page}"
    );

    // A good one.
    let good = dir.path().join("members.csv");
    std::fs::write(
        &good,
        "email,name,role,email_list\nada@example.org,Ada Lovelace,member,yes\ngrace@example.org,Grace Hopper,lead,no\nalan@example.org,Alan Turing,member,yes\n",
    )
    .unwrap();
    browser
        .fill("input[type=file]", good.to_str().unwrap())
        .await;
    browser
        .click("form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Imported"), "{page}");
    assert!(page.contains("3 added"), "{page}");

    // The roster, searched and filtered.
    browser.click("a[href='/communities/rse/members']").await;
    browser.fill("input[name=q]", "hopper").await;
    browser.click("form.filters button[type=submit]").await;
    let rows = browser
        .client
        .find_all(Locator::Css("table.roster tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains("grace@example.org"));

    // Edit a member: the lead opts Grace in, explicitly.
    browser.click("table.roster tbody a").await;
    browser
        .fill("input[name=name]", "Rear Admiral Grace Hopper")
        .await;
    browser
        .client
        .find(Locator::Css(
            "select[name=email_consent] option[value=subscribed]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("main form.stack button[type=submit]").await;
    let saved = browser
        .client
        .find(Locator::Css("input[name=name]"))
        .await
        .unwrap();
    assert_eq!(
        saved.prop("value").await.unwrap().as_deref(),
        Some("Rear Admiral Grace Hopper")
    );
    let page = browser.text().await;
    assert!(
        page.contains("email subscribed"),
        "the consent table shows the lead's change: {page}"
    );

    // Log out: the dashboard asks for a login again.
    browser.click("form[action='/logout'] button").await;
    assert_eq!(browser.path().await, "/login");
    browser
        .client
        .goto(&app.url("/communities/rse/members"))
        .await
        .unwrap();
    assert_eq!(browser.path().await, "/login");

    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_lead_runs_a_sync_reads_the_held_plan_and_approves_it_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let s = crate::sync::synced_app().await;
    browser.log_in(&s.app).await;
    browser
        .client
        .goto(&s.app.url("/communities/rse/members"))
        .await
        .unwrap();
    browser
        .click("nav.tabs a[href='/communities/rse/sync']")
        .await;
    assert!(browser.text().await.contains("never"));

    browser.click("input[value=apply] ~ button").await;
    let page = browser.text().await;
    assert!(page.contains("slack: applied"), "{page}");
    assert_eq!(s.in_slack().await, 40);

    // Half the workspace leaves; the next run is held, and says why.
    s.fake
        .set_members(hub_testkit::fixtures::remote_people(0..20), 15);
    browser.click("a[href='/communities/rse/sync']").await;
    browser.click("input[value=apply] ~ button").await;
    let page = browser.text().await;
    assert!(page.contains("slack: held"), "{page}");
    assert!(page.contains("remove 20 of 40 people"), "{page}");
    assert!(page.contains("− p39@example.org"), "{page}");
    assert_eq!(s.in_slack().await, 40);

    browser.click("form[action$='/approve'] button").await;
    let page = browser.text().await;
    assert!(page.contains("slack: applied"), "{page}");
    assert!(!page.contains("Approve and apply"));
    assert_eq!(s.in_slack().await, 20);

    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_lead_publishes_retries_a_refused_delivery_edits_and_retracts_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let s = crate::sync::synced_app().await;
    browser.log_in(&s.app).await;
    browser
        .client
        .goto(&s.app.url("/communities/rse/members"))
        .await
        .unwrap();
    browser
        .click("nav.tabs a[href='/communities/rse/announcements']")
        .await;

    // The channel refuses the first post for good.
    s.fake
        .script([hub_testkit::fake_adapter::Scripted::Permanent]);
    browser.fill("input[name=title]", "Meetup on Friday").await;
    browser
        .fill("textarea[name=body_markdown]", "Bring **questions**.")
        .await;
    browser
        .client
        .find(Locator::Css("input[name=channel]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("form.compose button[type=submit]").await;
    assert!(
        browser
            .path()
            .await
            .starts_with("/communities/rse/announcements/")
    );
    let page = browser.reload_until("tr.delivery-post-failed").await;
    assert!(page.contains("refused: invalid_blocks"), "{page}");

    // The retry is slow to arrive: the page shows it on its way, and its
    // table follows it to "sent" without a reload.
    s.fake.set_latency(Duration::from_secs(2));
    browser.click("form[action$='/retry'] button").await;
    assert!(
        browser.text().await.contains("still on their way"),
        "{}",
        browser.text().await
    );
    let page = browser.wait_until("tr.delivery-post-sent").await;
    assert!(!page.contains("Retry"), "{page}");
    s.fake.set_latency(Duration::ZERO);
    assert_eq!(s.fake.posts().len(), 1);

    browser
        .fill("input[name=title]", "Meetup moved to Monday")
        .await;
    browser.click("form[action$='/edit'] button").await;
    let page = browser.text().await;
    assert!(page.contains("revision 2"), "{page}");
    let page = browser.reload_until("tr.delivery-edit-sent").await;
    assert_eq!(s.fake.changes().len(), 1, "{page}");

    browser.click("form[action$='/retract'] button").await;
    let page = browser.reload_until("tr.delivery-retract-sent").await;
    assert!(page.contains("retracted"), "{page}");
    assert!(
        !page.contains("Save the edit"),
        "a retracted announcement cannot be edited"
    );
    assert_eq!(s.fake.changes().len(), 2);

    browser.client.clone().close().await.unwrap();
}

impl Browser {
    /// Reloads the page until something matches `selector` (the worker
    /// delivers in the background); returns the page's text.
    async fn reload_until(&self, selector: &str) -> String {
        for _ in 0..100 {
            if self.client.find(Locator::Css(selector)).await.is_ok() {
                return self.text().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.client.refresh().await.unwrap();
        }
        panic!("the page never showed {selector}: {}", self.text().await);
    }

    /// Waits, without reloading, until something matches `selector` (the
    /// page's own script brings it).
    async fn wait_until(&self, selector: &str) -> String {
        for _ in 0..150 {
            if self.client.find(Locator::Css(selector)).await.is_ok() {
                return self.text().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the page never showed {selector} by itself: {}",
            self.text().await
        );
    }
}

#[tokio::test]
async fn a_person_joins_in_a_real_browser_and_a_lead_resumes_a_bouncing_address() {
    let Some(browser) = browser().await else {
        return;
    };
    let Some(list) = crate::email::list_app().await else {
        return;
    };
    let app = &list.app;

    // Someone joins from the public page, then confirms from the mail.
    browser.client.goto(&app.url("/c/rse/join")).await.unwrap();
    browser.fill("input[name=email]", "grace@example.net").await;
    browser.fill("input[name=name]", "Grace").await;
    browser.click("form button[type=submit]").await;
    assert!(browser.text().await.contains("Check your inbox"));
    list.sink.wait_for(1, Duration::from_secs(10)).await;
    let link = crate::email::link_in_mail(&list.sink, "grace@example.net", "http");
    browser.client.goto(&link).await.unwrap();
    browser.click("form button[type=submit]").await;
    let page = browser.text().await;
    assert!(page.contains("You are subscribed"), "{page}");

    // Her address then bounces for five days; the lead sees it and resumes.
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let grace = store
        .all_members(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.normalized() == "grace@example.net")
        .unwrap();
    crate::email::bounce_five_days(store.as_ref(), grace.id).await;
    browser.log_in(app).await;
    browser
        .client
        .goto(&app.url(&format!("/communities/rse/members/{}", grace.id)))
        .await
        .unwrap();
    let page = browser.text().await;
    assert!(page.contains("stopped mailing this address"), "{page}");
    browser.click("form[action$='/resume-email'] button").await;
    let page = browser.text().await;
    assert!(!page.contains("stopped mailing this address"), "{page}");
    assert_eq!(store.bounce_record(grace.id).await.unwrap(), None);

    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_connects_slack_in_a_real_browser_and_its_people_appear_in_the_roster() {
    let Some(browser) = browser().await else {
        return;
    };
    let slack = hub_testkit::slack::FakeSlack::start().await;
    slack.add_users(3);
    let app = crate::slack::slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    browser.log_in(&app).await;
    browser
        .client
        .goto(&app.url("/communities/rse/members"))
        .await
        .unwrap();
    browser
        .click("nav.tabs a[href='/communities/rse/channels']")
        .await;
    browser.click("#connect-slack").await;
    // Slack's consent page.
    let page = browser.text().await;
    assert!(page.contains("Fake Workspace"), "{page}");
    browser.click("#allow").await;
    let page = browser.text().await;
    assert_eq!(browser.path().await, "/communities/rse/channels");
    assert!(page.contains("Connected Slack: Fake Workspace"), "{page}");
    assert!(page.contains("Slack: Fake Workspace"), "{page}");

    browser
        .click("nav.tabs a[href='/communities/rse/members']")
        .await;
    let roster = browser
        .client
        .find(Locator::Css("table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(roster.contains("Slack"), "{roster}");
    for i in 0..3 {
        let row = roster
            .lines()
            .find(|line| line.contains(&format!("person{i}@example.org")))
            .unwrap_or_else(|| panic!("person{i} is in the roster: {roster}"));
        assert!(row.contains("subscribed"), "{row}");
    }
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_lead_connects_zoom_and_schedules_a_weekly_call_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let Some(s) = crate::calls::calls_app_with(false).await else {
        return;
    };
    let app = &s.app;
    browser.log_in(app).await;
    browser
        .client
        .goto(&app.url("/communities/rse/channels"))
        .await
        .unwrap();

    // The Zoom app's credentials, on the Channels page.
    let zoom_app = s.zoom.app();
    browser
        .fill("#connect-zoom input[name=account_id]", &zoom_app.account_id)
        .await;
    browser
        .fill("#connect-zoom input[name=client_id]", &zoom_app.client_id)
        .await;
    browser
        .fill(
            "#connect-zoom input[name=client_secret]",
            &zoom_app.client_secret,
        )
        .await;
    browser
        .fill(
            "#connect-zoom input[name=webhook_secret]",
            &zoom_app.webhook_secret,
        )
        .await;
    browser.click("#connect-zoom button[type=submit]").await;
    let page = browser.text().await;
    assert!(
        page.contains("Connected Zoom. Calls scheduled from now on are made there"),
        "{page}"
    );

    // A weekly call at 10:00 New York time, four times.
    browser
        .click("nav.tabs a[href='/communities/rse/calls']")
        .await;
    browser
        .fill("input[name=title]", "RSE community call")
        .await;
    browser.fill("textarea[name=agenda]", "1. News").await;
    // A datetime-local field takes typed keys in the browser's locale
    // order; its value is set as the form sends it instead.
    browser
        .client
        .execute(
            "document.querySelector('input[name=starts_at]').value = '2027-03-02T10:00'",
            vec![],
        )
        .await
        .unwrap();
    browser
        .fill("input[name=timezone]", "America/New_York")
        .await;
    browser
        .client
        .find(Locator::Css("select[name=repeats] option[value=weekly]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.fill("input[name=occurrences]", "4").await;
    browser.click("form.compose button[type=submit]").await;
    assert_eq!(browser.path().await, "/communities/rse/calls");
    let page = browser.text().await;
    assert!(page.contains("RSE community call"), "{page}");
    assert!(
        page.contains("Tue 2 Mar 2027, 10:00 America/New_York"),
        "{page}"
    );

    s.settled().await;
    browser.client.refresh().await.unwrap();
    let page = browser.text().await;
    assert_eq!(
        page.matches(": landed").count(),
        3,
        "Zoom, Slack and the email list: {page}"
    );
    let meeting = s.zoom.meetings().remove(0);
    assert!(
        page.contains(&meeting.join_url),
        "the lead sees the join link: {page}"
    );
    assert_eq!(s.slack.messages(&s.general).len(), 1);
    let mails = s.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].rcpt_tos, ["ada@example.net"]);

    // The feed the page offers.
    let feed = browser
        .client
        .find(Locator::Css("a[href$='/c/rse/calendar.ics']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let feed = app
        .client
        .get(&feed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(feed.contains("SUMMARY:RSE community call"));
    assert!(!feed.contains(&meeting.join_url));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_lead_runs_a_peer_conference_and_a_registrant_proposes_and_votes_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let Some(c) = crate::conferences::community_app().await else {
        return;
    };
    let app = &c.app;
    let lead = |path: &str| app.url(&format!("/communities/rse/conferences{path}"));
    browser.log_in(app).await;

    // The lead creates the conference from the Conferences tab.
    browser
        .client
        .goto(&app.url("/communities/rse/members"))
        .await
        .unwrap();
    browser
        .click("nav.tabs a[href='/communities/rse/conferences']")
        .await;
    browser.fill("input[name=name]", "RSE Unconference").await;
    browser.fill("input[name=slug]", "unconf").await;
    // Date fields take typed keys in the browser's locale order; their
    // values are set as the form sends them instead.
    browser
        .client
        .execute(
            "document.querySelector('input[name=starts_on]').value = '2027-03-04';\
             document.querySelector('input[name=ends_on]').value = '2027-03-04';",
            vec![],
        )
        .await
        .unwrap();
    browser.fill("input[name=timezone]", "Europe/Berlin").await;
    browser.fill("input[name=capacity]", "20").await;
    browser.click("form.compose button[type=submit]").await;
    assert_eq!(browser.path().await, "/communities/rse/conferences/unconf");
    browser
        .fill("textarea[name=rooms]", "Hall, 20\nSmall, 5")
        .await;
    browser
        .fill(
            "textarea[name=slots]",
            "2027-03-04 09:00-10:00\n2027-03-04 10:30-11:30",
        )
        .await;
    browser.click("form[action$='/grid'] button").await;
    assert!(browser.text().await.contains("Hall, 20"));

    // Someone registers on the public page and confirms from the mail.
    browser
        .client
        .goto(&app.url("/c/rse/conferences/unconf"))
        .await
        .unwrap();
    browser
        .fill(
            "form[action$='/register'] input[name=email]",
            "grace@example.net",
        )
        .await;
    browser
        .fill("form[action$='/register'] input[name=name]", "Grace")
        .await;
    browser.click("form[action$='/register'] button").await;
    assert!(browser.text().await.contains("Check your mail"));
    let link = c.link("grace@example.net", "confirm").await;
    browser.client.goto(&app.url(&link)).await.unwrap();
    browser.click("form button[type=submit]").await;
    assert!(browser.text().await.contains("registered, with a seat"));

    // Proposals open; she proposes a session.
    browser.client.goto(&lead("/unconf")).await.unwrap();
    browser.click("form[action$='/advance'] button").await;
    assert!(browser.text().await.contains("phase: Proposals"));
    browser
        .client
        .goto(&app.url("/c/rse/conferences/unconf"))
        .await
        .unwrap();
    browser
        .fill("input[name=title]", "Testing research code")
        .await;
    browser
        .fill("textarea[name=description]", "Bring your worst test.")
        .await;
    browser.click("form[action$='/proposals'] button").await;
    assert!(browser.text().await.contains("Your session is proposed."));

    // Voting opens; she votes for it.
    browser.client.goto(&lead("/unconf")).await.unwrap();
    browser.click("form[action$='/advance'] button").await;
    browser
        .client
        .goto(&app.url("/c/rse/conferences/unconf"))
        .await
        .unwrap();
    browser.click("form[action$='/vote'] button").await;
    let page = browser.text().await;
    assert!(
        page.contains("Your vote is counted.") && page.contains("You have 4 of 5 votes left."),
        "{page}"
    );
    assert!(page.contains("Withdraw my vote"), "{page}");

    // The lead builds and publishes; the schedule is public.
    browser.client.goto(&lead("/unconf")).await.unwrap();
    browser.click("form[action$='/build'] button").await;
    let page = browser.text().await;
    assert!(page.contains("1 sessions placed"), "{page}");
    browser.click("form[action$='/publish'] button").await;
    assert!(browser.text().await.contains("phase: Schedule published"));
    browser
        .client
        .goto(&app.url("/c/rse/conferences/unconf/schedule"))
        .await
        .unwrap();
    let page = browser.text().await;
    assert!(
        page.contains("Testing research code") && page.contains("Hall"),
        "{page}"
    );
    assert!(
        page.contains("Thu 4 Mar 09:00–10:00") || page.contains("Thu 4 Mar 10:30–11:30"),
        "{page}"
    );

    browser.client.clone().close().await.unwrap();
}
