//! `cophub demo` as a newcomer meets it: the real binary, started with no
//! account anywhere, prints a login; the dashboard is labelled as a demo,
//! holds the sample community, and an announcement published on its form
//! reaches the demo's mail sink; SIGTERM stops it and takes its temporary
//! data folder with it.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, mpsc::Receiver},
    time::{Duration, Instant},
};

use reqwest::cookie::CookieStore;

use crate::helpers::{between, cophub_command};

const BANNER: &str = "Demo — Slack, Zoom and email are simulated on this machine; nothing is sent";

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The demo's standard output, line by line, from a thread.
fn lines(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = sender.send(line);
        }
    });
    receiver
}

/// Stops the demo (with SIGTERM, so it deletes its data folder) if the test
/// fails before it does.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let terminated = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !terminated {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// A browser without JavaScript: keeps cookies, follows no redirects.
struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    fn new(base: &str) -> Self {
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
            base: base.to_owned(),
        }
    }

    async fn page(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let url: reqwest::Url = self.base.parse().unwrap();
        if self.jar.cookies(&url).is_none() {
            self.page("/login").await;
        }
        let cookies = self.jar.cookies(&url).unwrap();
        let csrf = cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|pair| pair.strip_prefix("cophub_csrf="))
            .unwrap()
            .to_owned();
        let mut form = fields.to_vec();
        form.push(("csrf", &csrf));
        self.client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// How many members a roster listing shows, following its pages.
async fn count_members(browser: &Browser, first: &str) -> usize {
    let mut path = first.to_owned();
    let mut count = 0;
    loop {
        let page = browser.page(&path).await;
        count += page.matches("href=\"/communities/demo/members/").count();
        let Some(end) = page.find("\" rel=\"next\"") else {
            return count;
        };
        let start = page[..end].rfind("href=\"").unwrap() + "href=\"".len();
        path = page[start..end].replace("&amp;", "&");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_on_sample_data_delivers_to_its_mail_sink_and_cleans_up() {
    hub_core::tls::init();
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = cophub_command()
        .args(["demo", "--listen", &address])
        .env("COPHUB_LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let output = lines(&mut child);
    let mut running = Running(Some(child));

    // The paragraph names the address, the login and the data folder.
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !printed.contains("Data folder: ") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = output
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the demo prints its login; so far: {printed}"));
        printed.push_str(&line);
        printed.push('\n');
    }
    let base = format!("http://{address}");
    assert!(printed.contains(&format!("{base}/")), "{printed}");
    assert!(printed.contains("Nothing leaves this machine"), "{printed}");
    let email = between(&printed, "log in as ", " ").unwrap().to_owned();
    let password = between(&printed, "with the password ", "\n")
        .unwrap()
        .trim()
        .to_owned();
    let folder = std::path::PathBuf::from(between(&printed, "Data folder: ", " (").unwrap());
    assert!(folder.join("cophub.db").exists(), "{}", folder.display());

    let browser = Browser::new(&base);
    let health = browser
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let login = browser
        .post("/login", &[("email", &email), ("password", &password)])
        .await;
    assert_eq!(login.status(), 303, "{}", login.text().await.unwrap());

    let overview = browser.page("/communities/demo").await;
    assert!(overview.contains(BANNER), "{overview}");
    assert!(
        overview.contains("Research Software Engineers"),
        "{overview}"
    );

    let members = count_members(&browser, "/communities/demo/members").await;
    assert!((140..=170).contains(&members), "{members} members");
    let slack_only = count_members(
        &browser,
        "/communities/demo/members?consent=slack%3Asubscribed&absent=email",
    )
    .await;
    assert!(
        slack_only >= 10,
        "{slack_only} in Slack but not on the list"
    );

    // An announcement to the list, through the dashboard's form.
    let compose = browser.page("/communities/demo/announcements").await;
    let label = compose.find("RSE mailing list").unwrap();
    let list_id = between(
        &compose[compose[..label].rfind("name=\"channel\"").unwrap()..],
        "value=\"",
        "\"",
    )
    .unwrap()
    .to_owned();
    let title = "Demo test: hackathon next month";
    let published = browser
        .post(
            "/communities/demo/announcements",
            &[
                ("title", title),
                ("body_markdown", "Bring a laptop & an idea."),
                ("channel", &list_id),
            ],
        )
        .await;
    assert_eq!(
        published.status(),
        303,
        "{}",
        published.text().await.unwrap()
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let mail = loop {
        let mail = browser.page("/demo/mail").await;
        if mail.contains(title) {
            break mail;
        }
        assert!(
            Instant::now() < deadline,
            "the announcement reached the mail sink within 30 s: {mail}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(mail.contains(BANNER));
    let before = &mail[..mail.find(title).unwrap()];
    let start = before.rfind("/demo/mail/").unwrap() + "/demo/mail/".len();
    let number = before[start..].split('"').next().unwrap().to_owned();
    let message = browser.page(&format!("/demo/mail/{number}")).await;
    // askama writes `&` as `&#38;`.
    assert!(
        message.contains("Bring a laptop &#38; an idea."),
        "{message}"
    );
    assert!(message.contains("List-Unsubscribe"), "{message}");

    // Someone who is not logged in sees no mail.
    let stranger = Browser::new(&base);
    let refused = stranger
        .client
        .get(format!("{base}/demo/mail"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 303);

    let mut child = running.0.take().unwrap();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM ends the demo cleanly: {status:?}"
    );
    assert!(!folder.exists(), "{} was deleted", folder.display());
}
