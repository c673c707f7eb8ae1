//! `spawn_app()`: the whole server on a random port with a fresh database
//! (SQLite, or PostgreSQL when `COPHUB_TEST_BACKEND=postgres`) and its own
//! data folder, plus a cookie-keeping client that behaves like a browser
//! without JavaScript.

use std::{net::SocketAddr, sync::Arc};

use cophub::{
    config::{Config, Overrides},
    server::{self, Server},
};
use hub_core::{ports::adapter::AdapterFactory, secrets::SecretKeys};
use hub_testkit::database::TestDatabase;
use reqwest::{Response, cookie::CookieStore};

pub const OWNER_EMAIL: &str = "owner@example.org";
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub setup_link: Option<String>,
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    pub server: Option<Server>,
    pub config: Config,
    /// `None`: this build's adapters, made from the configuration.
    adapters: Option<Arc<dyn AdapterFactory>>,
    // Held so the database and the data folder outlive the server.
    _db: TestDatabase,
    _data_dir: tempfile::TempDir,
}

pub fn test_config(db: &TestDatabase, data_dir: &std::path::Path) -> Config {
    let mut config = Config::load(&Overrides {
        config_file: None,
        data_dir: Some(data_dir.to_owned()),
        database_url: Some(db.url().to_owned()),
    })
    .expect("the test configuration loads");
    config.secret_key = Some(SecretKeys::generate_hex().into());
    config.server.shutdown_grace_seconds = 2;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn(|_| {}, None).await
}

/// The server reaching every channel through `adapters` (a fake that follows
/// a channel's contract, for channels this machine cannot reach).
pub async fn spawn_app_with(adapters: Arc<dyn AdapterFactory>) -> TestApp {
    spawn(|_| {}, Some(adapters)).await
}

/// The server with this build's own adapters, on a configuration the test
/// changes first (a mail server, say).
pub async fn spawn_app_configured(edit: impl FnOnce(&mut Config)) -> TestApp {
    spawn(edit, None).await
}

async fn start_server(config: &Config, adapters: Option<&Arc<dyn AdapterFactory>>) -> Server {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    match adapters {
        Some(adapters) => server::start_with(config, listen, adapters.clone()).await,
        None => server::start(config, listen).await,
    }
    .expect("the server starts")
}

async fn spawn(
    edit: impl FnOnce(&mut Config),
    adapters: Option<Arc<dyn AdapterFactory>>,
) -> TestApp {
    hub_core::tls::init();
    let db = TestDatabase::from_env().await;
    let data_dir = tempfile::tempdir().expect("a data folder");
    let mut config = test_config(&db, data_dir.path());
    edit(&mut config);
    let server = start_server(&config, adapters.as_ref()).await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    TestApp {
        base: format!("http://{}", server.address),
        setup_link: server.setup_link.clone(),
        client,
        jar,
        server: Some(server),
        config,
        adapters,
        _db: db,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET answers")
    }

    /// The CSRF token the server put in this client's cookie jar (visiting a
    /// page first if there is none yet).
    pub async fn csrf(&self) -> String {
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
            self.get("/login").await;
        }
        panic!("the server set no CSRF cookie");
    }

    /// Posts a form the way a browser on this site does, with the CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.client
            .post(self.url(path))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .expect("POST answers")
    }

    pub async fn setup_owner(&self) {
        let link = self
            .setup_link
            .as_deref()
            .expect("a fresh instance offers a setup link");
        let path = link
            .strip_prefix(&self.base)
            .expect("the link points at this server")
            .to_owned();
        assert_eq!(self.get(&path).await.status(), 200);
        let response = self
            .post_form(
                &path,
                &[
                    ("email", OWNER_EMAIL),
                    ("password", OWNER_PASSWORD),
                    ("password_again", OWNER_PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_form("/login", &[("email", email), ("password", password)])
            .await
    }

    pub async fn logout(&self) -> Response {
        self.post_form("/logout", &[]).await
    }

    pub async fn create_community(&self, slug: &str, lead: &str) {
        let response = self
            .post_form(
                "/communities",
                &[
                    ("slug", slug),
                    ("name", "Research Software"),
                    ("timezone", "Europe/Berlin"),
                    ("lead_email", lead),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    }

    /// Uploads a CSV through the dashboard's import form.
    pub async fn import_csv(&self, slug: &str, csv: &str, options: &[&str]) -> Response {
        let csrf = self.csrf().await;
        let mut form = reqwest::multipart::Form::new().text("csrf", csrf).part(
            "file",
            reqwest::multipart::Part::text(csv.to_owned()).file_name("members.csv"),
        );
        for option in options {
            form = form.text((*option).to_owned(), "1");
        }
        self.client
            .post(self.url(&format!("/communities/{slug}/import")))
            .header("origin", &self.base)
            .multipart(form)
            .send()
            .await
            .expect("the import answers")
    }

    /// An API token for a user, made the way an operator makes one.
    pub async fn api_token(&self, email: &str) -> String {
        let store = &self.server.as_ref().unwrap().store;
        let user = store
            .user_credentials(&hub_core::Email::parse(email).unwrap())
            .await
            .unwrap()
            .expect("the user exists")
            .user;
        let (token, hash) = hub_core::auth::new_secret();
        store
            .create_api_token(
                user.id,
                "test",
                &hash,
                hub_core::model::audit::NewAuditEvent {
                    actor: "test".into(),
                    action: "token.create".into(),
                    community_id: None,
                    subject: email.into(),
                    details: serde_json::json!({}),
                },
            )
            .await
            .unwrap();
        token
    }

    /// Stops the server and starts a new one on the same database and data folder.
    pub async fn restart(&mut self) {
        self.server.take().unwrap().stop().await;
        let server = start_server(&self.config, self.adapters.as_ref()).await;
        self.base = format!("http://{}", server.address);
        self.setup_link = server.setup_link.clone();
        self.server = Some(server);
    }
}

/// Text between two markers of a page, for reading one value out of HTML.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// The `cophub` binary with none of this process's COPHUB_* settings (nor
/// DATABASE_URL): each test passes exactly the ones it means.
pub fn cophub_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cophub"));
    for (key, _) in std::env::vars() {
        if key.starts_with("COPHUB_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
}
