//! The configuration: built-in defaults < `--config FILE` < `COPHUB_*`
//! environment variables (sections joined by `__`) < command-line flags.
//! Strict: an unknown key or a bad value is an error naming the key.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use hub_core::secrets::SecretKeys;
use hub_store::Backend;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The built-in defaults, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// The annotated example printed by `cophub config example`.
pub const EXAMPLE_TOML: &str = include_str!("../config/example.toml");

/// cophub's configuration. `Debug` never shows secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where cophub keeps its files (the SQLite database, a generated key).
    pub data_dir: PathBuf,
    /// The database URL; unset means SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// The base of every link cophub writes; unset, the listen address.
    pub public_url: Option<String>,
    /// Hex keys for secrets at rest, comma-separated; the first encrypts.
    pub secret_key: Option<SecretString>,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive.
    pub log_filter: String,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Login sessions.
    pub sessions: SessionConfig,
    /// Failed-login limits.
    pub login: LoginConfig,
    /// The delivery outbox.
    pub outbox: OutboxConfig,
    /// The mail server.
    pub mail: MailConfig,
    /// The deployment's Slack app.
    pub slack: SlackConfig,
    /// Where Zoom is reached (each Zoom channel brings its own app).
    pub zoom: ZoomConfig,
    /// The separate metrics address.
    pub metrics: MetricsConfig,
}

/// The separate metrics address (see `[metrics]` in config/example.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `/metrics` is served without authentication, in `cophub serve`
    /// and `cophub worker` alike; unset, only the main address serves it,
    /// to owners' API tokens.
    pub listen: Option<SocketAddr>,
}

/// Where Zoom is reached (see `[zoom]` in config/example.toml). The
/// Server-to-Server OAuth app's credentials are per channel, entered on the
/// Channels page and encrypted at rest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoomConfig {
    /// The API base.
    pub api_url: String,
    /// The token endpoint.
    pub oauth_url: String,
    /// Seconds one API call may take.
    pub timeout_seconds: u64,
    /// Seconds to wait after a 429 that names no wait (Zoom's often don't).
    pub retry_after_seconds: u64,
}

impl ZoomConfig {
    /// The adapter's view of it.
    #[must_use]
    pub fn api(&self) -> hub_adapter_zoom::client::ZoomApi {
        hub_adapter_zoom::client::ZoomApi {
            api_url: self.api_url.trim_end_matches('/').to_owned(),
            oauth_url: self.oauth_url.clone(),
            timeout: Duration::from_secs(self.timeout_seconds.max(1)),
            default_retry_after: Duration::from_secs(self.retry_after_seconds.max(1)),
        }
    }
}

/// The deployment's Slack app (see `[slack]` in config/example.toml): one
/// app, the operator's, installed into each community's workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The Web API base.
    pub api_url: String,
    /// Where a lead approves the install.
    pub authorize_url: String,
    /// Seconds one API call may take.
    pub timeout_seconds: u64,
    /// The app's client id; unset, Slack is connected by pasting a bot token.
    pub client_id: Option<String>,
    /// The app's client secret.
    pub client_secret: Option<SecretString>,
    /// The app's signing secret, which checks the Events API's requests.
    pub signing_secret: Option<SecretString>,
}

/// The mail server (see `[mail]` in config/example.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://…` or `smtps://…`; unset, the hub sends no mail.
    pub smtp_url: Option<SecretString>,
    /// The hub's own sender.
    pub from: String,
    /// SMTP connections at most.
    pub connections: u32,
    /// Seconds handing one message to the server may take.
    pub timeout_seconds: u64,
    /// Messages a second at most; 0 for no limit.
    pub rate_per_second: f64,
    /// DKIM: the signing domain; signing is on when this is set.
    pub dkim_domain: Option<String>,
    /// DKIM: the selector.
    pub dkim_selector: Option<String>,
    /// DKIM: `rsa` or `ed25519`.
    pub dkim_algorithm: Option<String>,
    /// DKIM: the file holding the private key.
    pub dkim_key_file: Option<PathBuf>,
}

/// The delivery outbox (see `[outbox]` in config/example.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Seconds a claim holds.
    pub lease_seconds: u64,
    /// Deliveries claimed at a time.
    pub batch: u32,
    /// Deliveries sent at once per worker.
    pub concurrency: usize,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// The first retry's ceiling, in seconds.
    pub backoff_base_seconds: u64,
    /// The largest retry wait, in seconds.
    pub backoff_max_seconds: u64,
    /// How often an idle worker polls, in milliseconds.
    pub idle_poll_ms: u64,
    /// Recipients of a many-recipient channel claimed at a time.
    pub recipient_batch: u32,
    /// Recipients sent at once per worker.
    pub recipient_concurrency: usize,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people at a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The listen address.
    pub listen: SocketAddr,
    /// Seconds to let requests finish on shutdown.
    pub shutdown_grace_seconds: u64,
}

/// Login sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Minutes of disuse after which a session ends.
    pub idle_minutes: u64,
    /// Hours after which a session ends regardless.
    pub absolute_hours: u64,
}

/// Failed-login limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginConfig {
    /// Failures per account within the window.
    pub failures_per_account: u32,
    /// Failures per client address within the window.
    pub failures_per_address: u32,
    /// The window in minutes.
    pub window_minutes: u64,
}

/// Values given on the command line, which win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url URL`.
    pub database_url: Option<String>,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads the configuration from every source, in order.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or key that is wrong.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = &overrides.config_file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "the config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Variables that configure tests or the CLI itself are not config keys.
        let env = Env::prefixed("COPHUB_")
            .filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                !key.starts_with("test_") && key != "config"
            })
            .split("__");
        figment = figment.merge(env);
        if std::env::var_os("COPHUB_DATABASE_URL").is_none()
            && let Ok(url) = std::env::var("DATABASE_URL")
        {
            figment = figment.merge(("database_url", url));
        }
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(("data_dir", dir));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(("database_url", url));
        }
        let config: Self = figment.extract().map_err(|e| ConfigError(describe(&e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self
            .public_url
            .as_deref()
            .unwrap_or("http://localhost")
            .trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| {
                ConfigError(format!(
                    "public_url must start with http:// or https:// (got {url:?})"
                ))
            })?;
        if rest.is_empty() || rest.contains(['?', '#', ' ']) {
            return Err(ConfigError(format!(
                "public_url {url:?} is not a base URL such as https://hub.example.org"
            )));
        }
        if self.sessions.idle_minutes == 0 || self.sessions.absolute_hours == 0 {
            return Err(ConfigError(
                "sessions.idle_minutes and sessions.absolute_hours must be above zero".into(),
            ));
        }
        if self.login.failures_per_account == 0
            || self.login.failures_per_address == 0
            || self.login.window_minutes == 0
        {
            return Err(ConfigError("the login limits must be above zero".into()));
        }
        if let Some(url) = &self.database_url {
            Backend::of_url(url.expose_secret())
                .map_err(|e| ConfigError(format!("database_url: {e}")))?;
        }
        Ok(())
    }

    /// `public_url` without a trailing slash; unset, `http://<listening address>`.
    #[must_use]
    pub fn public_base(&self, listening: std::net::SocketAddr) -> String {
        self.public_url.as_deref().map_or_else(
            || format!("http://{listening}"),
            |url| url.trim_end_matches('/').to_owned(),
        )
    }

    /// The base of links written by a process that does not serve HTTP
    /// (`cophub worker`): `public_url`, else the configured listen address.
    #[must_use]
    pub fn links_base(&self) -> String {
        self.public_base(self.server.listen)
    }

    /// The database URL: the configured one, or SQLite in the data folder.
    #[must_use]
    pub fn database_url(&self) -> String {
        self.database_url.as_ref().map_or_else(
            || format!("sqlite://{}", self.data_dir.join("cophub.db").display()),
            |url| url.expose_secret().to_owned(),
        )
    }

    /// Which database the configuration names.
    ///
    /// # Errors
    /// [`ConfigError`] for an unsupported URL.
    pub fn backend(&self) -> Result<Backend, ConfigError> {
        Backend::of_url(&self.database_url()).map_err(|e| ConfigError(format!("database_url: {e}")))
    }

    /// The keys for secrets at rest: the configured ones; or, on SQLite only,
    /// the key file in the data folder, made on first use.
    ///
    /// # Errors
    /// [`ConfigError`] for a malformed key, a PostgreSQL database without a
    /// key, or a key file that cannot be read or written.
    pub fn secret_keys(&self) -> Result<SecretKeys, ConfigError> {
        if let Some(keys) = &self.secret_key {
            return SecretKeys::from_hex_list(keys.expose_secret())
                .map_err(|e| ConfigError(format!("COPHUB_SECRET_KEY (secret_key): {e}")));
        }
        if self.backend()? == Backend::Postgres {
            return Err(ConfigError(
                "PostgreSQL needs COPHUB_SECRET_KEY (64 hex characters, e.g. from `openssl rand -hex 32`), the same for every instance".into(),
            ));
        }
        key_file(&self.data_dir.join("secret.key"))
    }

    /// The outbox's settings.
    #[must_use]
    pub fn outbox_settings(&self) -> hub_core::outbox::OutboxSettings {
        let o = &self.outbox;
        hub_core::outbox::OutboxSettings {
            lease: Duration::from_secs(o.lease_seconds.max(1)),
            batch: o.batch.max(1),
            concurrency: o.concurrency.max(1),
            max_attempts: o.max_attempts.max(1),
            backoff_base: Duration::from_secs(o.backoff_base_seconds),
            backoff_max: Duration::from_secs(o.backoff_max_seconds.max(o.backoff_base_seconds)),
            idle_poll: Duration::from_millis(o.idle_poll_ms.max(10)),
            recipient_batch: o.recipient_batch.max(1),
            recipient_concurrency: o.recipient_concurrency.max(1),
        }
    }

    /// The deployment's Slack app, when its client id and secret are set;
    /// Slack sends leads back to `{public_url}/slack/oauth/callback`.
    #[must_use]
    pub fn slack_app(&self, public_url: &str) -> Option<hub_adapter_slack::oauth::SlackApp> {
        let slack = &self.slack;
        let (Some(client_id), Some(client_secret)) = (&slack.client_id, &slack.client_secret)
        else {
            return None;
        };
        Some(hub_adapter_slack::oauth::SlackApp {
            client_id: client_id.clone(),
            client_secret: client_secret.expose_secret().to_owned(),
            authorize_url: slack.authorize_url.clone(),
            api_url: slack.api_url.clone(),
            redirect_url: format!("{}/slack/oauth/callback", public_url.trim_end_matches('/')),
            timeout: std::time::Duration::from_secs(slack.timeout_seconds.max(1)),
        })
    }

    /// The mail server's settings; `None` when no `smtp_url` is set.
    ///
    /// # Errors
    /// [`ConfigError`] when `mail.from` is not an address.
    pub fn smtp_settings(&self) -> Result<Option<hub_adapter_email::SmtpSettings>, ConfigError> {
        let Some(url) = &self.mail.smtp_url else {
            return Ok(None);
        };
        let from = self.mail.from.parse().map_err(|_| {
            ConfigError(format!(
                "mail.from {:?} is not an address such as \"cophub <hub@example.org>\"",
                self.mail.from
            ))
        })?;
        Ok(Some(hub_adapter_email::SmtpSettings {
            url: url.clone(),
            pool_size: self.mail.connections.max(1),
            timeout: Duration::from_secs(self.mail.timeout_seconds.max(1)),
            rate_per_second: Some(self.mail.rate_per_second).filter(|r| *r > 0.0),
            from,
            dkim: self.dkim_settings()?,
        }))
    }

    /// DKIM signing, when `mail.dkim_domain` is set.
    fn dkim_settings(&self) -> Result<Option<hub_adapter_email::DkimSettings>, ConfigError> {
        use hub_adapter_email::DkimAlgorithm;
        let Some(domain) = &self.mail.dkim_domain else {
            return Ok(None);
        };
        let selector = self.mail.dkim_selector.clone().ok_or_else(|| {
            ConfigError("mail.dkim_domain is set, so mail.dkim_selector must be too".into())
        })?;
        let algorithm = match self.mail.dkim_algorithm.as_deref().unwrap_or("rsa") {
            "rsa" => DkimAlgorithm::Rsa,
            "ed25519" => DkimAlgorithm::Ed25519,
            other => {
                return Err(ConfigError(format!(
                    "mail.dkim_algorithm must be rsa or ed25519 (got {other:?})"
                )));
            }
        };
        let path = self.mail.dkim_key_file.as_ref().ok_or_else(|| {
            ConfigError("mail.dkim_domain is set, so mail.dkim_key_file must be too".into())
        })?;
        let key = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("mail.dkim_key_file {}: {e}", path.display())))?;
        Ok(Some(hub_adapter_email::DkimSettings {
            domain: domain.clone(),
            selector,
            algorithm,
            private_key: key.into(),
        }))
    }

    /// The web layer's part of the configuration.
    #[must_use]
    pub fn web_settings(&self, public_url: String) -> hub_web::WebSettings {
        hub_web::WebSettings {
            public_url,
            session_idle: Duration::from_secs(self.sessions.idle_minutes * 60),
            session_absolute: Duration::from_secs(self.sessions.absolute_hours * 3600),
            login_limits: hub_web::LoginLimits {
                per_account: self.login.failures_per_account,
                per_address: self.login.failures_per_address,
                window: Duration::from_secs(self.login.window_minutes * 60),
            },
            organizer: self.sender_address(),
        }
    }

    /// The address part of `mail.from` (`cophub <hub@example.org>` gives
    /// `hub@example.org`); `cophub@localhost` when it has none.
    #[must_use]
    pub fn sender_address(&self) -> hub_core::Email {
        let from = self.mail.from.trim();
        let address = match (from.rfind('<'), from.rfind('>')) {
            (Some(open), Some(close)) if open < close => &from[open + 1..close],
            _ => from,
        };
        hub_core::Email::parse(address).unwrap_or_else(|_| {
            hub_core::Email::from_stored("cophub@localhost".into(), "cophub@localhost".into())
        })
    }
}

/// Reads the generated key file, or makes it (mode 0600) if missing.
fn key_file(path: &Path) -> Result<SecretKeys, ConfigError> {
    let fail = |what: &str, e: std::io::Error| {
        ConfigError(format!(
            "could not {what} the key file {}: {e}",
            path.display()
        ))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => SecretKeys::from_hex_list(text.trim())
            .map_err(|e| ConfigError(format!("the key file {} is damaged: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKeys::generate_hex();
            write_private(path, &key).map_err(|e| fail("write", e))?;
            SecretKeys::from_hex_list(&key).map_err(|e| ConfigError(e.to_string()))
        }
        Err(e) => Err(fail("read", e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// One sentence from figment's error, naming the key and where it came from.
fn describe(error: &figment::Error) -> String {
    let mut text = error.to_string();
    if let Some(first) = error.clone().into_iter().next() {
        text = first.to_string();
        let key = first.path.join(".");
        if !key.is_empty() && !text.contains(&key) {
            text = format!("{key}: {text}");
        }
    }
    format!("configuration error: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads with exactly these variables set (and no other COPHUB_ ones).
    #[allow(clippy::result_large_err)] // figment's own Jail signature
    fn load(env: &[(&str, &str)], file: Option<&str>) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let mut overrides = Overrides::default();
            if let Some(text) = file {
                jail.create_file("c.toml", text)?;
                overrides.config_file = Some(jail.directory().join("c.toml"));
            }
            for (key, value) in env {
                jail.set_env(key, value);
            }
            result = Some(Config::load(&overrides));
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn the_environment_wins_over_the_file_which_wins_over_defaults() {
        let config = load(
            &[("COPHUB_SERVER__LISTEN", "127.0.0.1:9999")],
            Some("public_url = \"https://hub.example.org/\"\n[server]\nlisten = \"127.0.0.1:7000\"\n"),
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9999);
        assert_eq!(
            config.public_base(config.server.listen),
            "https://hub.example.org"
        );
        assert_eq!(config.sessions.idle_minutes, 120);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = load(&[], Some("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n")).unwrap_err();
        assert!(error.0.contains("lisen"), "{}", error.0);
        let error = load(&[("COPHUB_SMTP_HOST", "x")], None).unwrap_err();
        assert!(error.0.contains("smtp_host"), "{}", error.0);
    }

    #[test]
    fn a_bad_value_is_named() {
        let error = load(&[("COPHUB_SERVER__LISTEN", "not an address")], None).unwrap_err();
        assert!(error.0.contains("listen"), "{}", error.0);
        let error = load(&[("COPHUB_LOG_FORMAT", "xml")], None).unwrap_err();
        assert!(error.0.contains("log_format"), "{}", error.0);
        let error = load(&[("COPHUB_PUBLIC_URL", "ftp://x")], None).unwrap_err();
        assert!(error.0.contains("public_url"), "{}", error.0);
    }

    #[test]
    fn the_metrics_address_is_unset_unless_given() {
        assert_eq!(load(&[], None).unwrap().metrics.listen, None);
        let config = load(&[("COPHUB_METRICS__LISTEN", "127.0.0.1:9090")], None).unwrap();
        assert_eq!(config.metrics.listen, Some(([127, 0, 0, 1], 9090).into()));
        let error = load(&[("COPHUB_METRICS__LISTEN", "9090")], None).unwrap_err();
        assert!(error.0.contains("metrics.listen"), "{}", error.0);
    }

    #[test]
    fn test_variables_are_not_config_keys() {
        assert!(load(&[("COPHUB_TEST_DATABASE_URL", "postgres://x")], None).is_ok());
    }

    #[test]
    fn the_database_url_follows_its_precedence() {
        let url = |env: &[(&str, &str)]| load(env, None).unwrap().database_url();
        assert!(url(&[]).starts_with("sqlite://"));
        assert_eq!(url(&[("DATABASE_URL", "postgres://a/b")]), "postgres://a/b");
        assert_eq!(
            url(&[
                ("DATABASE_URL", "postgres://a/b"),
                ("COPHUB_DATABASE_URL", "postgres://c/d")
            ]),
            "postgres://c/d"
        );
    }

    #[test]
    fn postgres_without_a_secret_key_is_refused() {
        let config = load(&[("COPHUB_DATABASE_URL", "postgres://a/b")], None).unwrap();
        assert!(
            config
                .secret_keys()
                .unwrap_err()
                .0
                .contains("COPHUB_SECRET_KEY")
        );
    }

    #[test]
    fn the_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(&[("COPHUB_DATA_DIR", dir.path().to_str().unwrap())], None).unwrap();
        let first = config.secret_keys().unwrap();
        let sealed = first.encrypt("x");
        let again = config.secret_keys().unwrap();
        assert_eq!(again.decrypt(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
