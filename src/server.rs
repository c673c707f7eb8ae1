//! Starting and stopping the web server: open the database (migrating it),
//! offer the one-time setup link while no user exists, serve until told to
//! stop, then let requests in flight finish.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use chrono::Duration as ChronoDuration;
use hub_core::{
    auth::new_secret,
    ports::{
        clock::{Clock, SystemClock},
        store::Store,
    },
    secrets::SecretKeys,
};
use hub_core::{outbox::Outbox, ports::adapter::AdapterFactory};
use secrecy::ExposeSecret;
use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::JoinHandle,
};

use crate::{Failure, config::Config};

/// How long a setup link works.
const SETUP_LINK_HOURS: i64 = 24;

/// Opens the configured database: creates the data folder for SQLite, checks
/// the secret key, applies migrations.
///
/// # Errors
/// [`Failure::Usage`] for a bad configuration (no key on PostgreSQL, an
/// unsupported URL); [`Failure::Runtime`] when the database cannot be reached.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    if config.backend()? == hub_store::Backend::Sqlite {
        // The database (by default) and the generated key file live there.
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Failure::Runtime(format!(
                "could not create the data folder {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    config.secret_keys()?;
    Ok(hub_store::open(&config.database_url()).await?)
}

/// The membership sync engine over `store`, with this build's adapters and
/// the configured keys, on the system clock.
///
/// # Errors
/// [`Failure::Usage`] when the secret keys cannot be loaded.
pub fn sync_engine(
    config: &Config,
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
) -> Result<hub_core::sync::SyncEngine, Failure> {
    hub_core::tls::init();
    let keys = Arc::new(config.secret_keys()?);
    let adapters = with_conferences(config, &store, adapters, &config.links_base());
    Ok(engine_with_parts(
        config,
        hub_core::sync::SyncEngine::new(store, adapters, keys, Arc::new(SystemClock)),
    ))
}

/// The refresher of the deployment's rotating Slack tokens, when its app is
/// configured. Refreshing sends no redirect, so the public URL is not needed.
fn slack_refresher(config: &Config) -> Option<Arc<dyn hub_core::ports::install::TokenRefresher>> {
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost".into());
    config
        .slack_app(&public_url)
        .map(|app| Arc::new(app) as Arc<dyn hub_core::ports::install::TokenRefresher>)
}

/// The mail server of `[mail]`, for the hub's own mail from background work
/// (a sync's invitations); `None` without one.
/// `adapters` with the conference channel beside them: it reads the
/// store and mails registrants through the hub's mail server.
fn with_conferences(
    config: &Config,
    store: &Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    public_url: &str,
) -> Arc<dyn AdapterFactory> {
    Arc::new(hub_adapter_conference::WithConferences::new(
        adapters,
        store.clone(),
        hub_mailer(config),
        public_url,
    ))
}

fn hub_mailer(config: &Config) -> Option<Arc<dyn hub_core::ports::mailer::Mailer>> {
    let settings = match config.smtp_settings() {
        Ok(settings) => settings?,
        Err(error) => {
            tracing::warn!(%error, "the mail server settings cannot be used");
            return None;
        }
    };
    match hub_adapter_email::SmtpSender::new(&settings) {
        Ok(sender) => Some(Arc::new(sender)),
        Err(error) => {
            tracing::warn!(%error, "the mail server settings cannot be used");
            None
        }
    }
}

/// A sync engine with what the deployment gives it: the refresher of
/// rotating Slack tokens and the mail server, where configured.
fn engine_with_parts(
    config: &Config,
    engine: hub_core::sync::SyncEngine,
) -> hub_core::sync::SyncEngine {
    let engine = match slack_refresher(config) {
        Some(refresher) => engine.with_refresher(refresher),
        None => engine,
    };
    match hub_mailer(config) {
        Some(mailer) => engine.with_mailer(mailer),
        None => engine,
    }
}

/// This process's background work, under one name (for its leases and cron
/// claims) and one clock.
struct WorkerParts {
    outbox: Outbox,
    scheduler: hub_core::sync::Scheduler,
    lander: hub_core::calls::lander::Lander,
    places: hub_core::conferences::places::Places,
}

fn worker_parts(
    config: &Config,
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    public_url: &str,
) -> WorkerParts {
    hub_core::tls::init();
    let adapters = with_conferences(config, &store, adapters, public_url);
    let id = worker_id();
    let mut outbox = Outbox::new(
        store.clone(),
        adapters.clone(),
        keys.clone(),
        clock.clone(),
        config.outbox_settings(),
        id.clone(),
    );
    let mut lander = hub_core::calls::lander::Lander::new(
        store.clone(),
        adapters.clone(),
        keys.clone(),
        clock.clone(),
        config.outbox_settings(),
        id.clone(),
    );
    let mut places = hub_core::conferences::places::Places::new(
        store.clone(),
        adapters.clone(),
        keys.clone(),
        clock.clone(),
        id.clone(),
    );
    if let Some(refresher) = slack_refresher(config) {
        outbox = outbox.with_refresher(refresher.clone());
        places = places.with_refresher(refresher.clone());
        lander = lander.with_refresher(refresher);
    }
    if let Some(mailer) = hub_mailer(config) {
        lander = lander.with_invitations(hub_core::calls::invitations::Invitations {
            mailer,
            organizer: config.sender_address(),
            public_url: public_url.to_owned(),
        });
    }
    let engine = engine_with_parts(
        config,
        hub_core::sync::SyncEngine::new(store.clone(), adapters, keys, clock.clone()),
    );
    WorkerParts {
        outbox,
        scheduler: hub_core::sync::Scheduler::new(store, engine, clock, id),
        lander,
        places,
    }
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy)]
pub struct WorkerPass {
    /// Deliveries claimed and attempted.
    pub deliveries: usize,
    /// Sync jobs whose tick had come and that this process ran.
    pub syncs: usize,
    /// Calls brought in line in one of their channels.
    pub call_landings: usize,
    /// Zoom meetings of conference rooms and Slack conversations of
    /// sessions opened.
    pub conference_places: usize,
}

/// One pass of the worker at `clock`'s time: one batch of due deliveries,
/// and every sync job whose cron tick has come and no instance claimed.
///
/// # Errors
/// [`Failure`] when the keys cannot be loaded or the database fails.
pub async fn run_worker_once(
    config: &Config,
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    clock: Arc<dyn Clock>,
) -> Result<WorkerPass, Failure> {
    let keys = Arc::new(config.secret_keys()?);
    let parts = worker_parts(config, store, adapters, keys, clock, &config.links_base());
    let deliveries = parts.outbox.run_once().await?;
    let syncs = parts.scheduler.run_once().await?.len();
    let call_landings = parts.lander.run_once().await?;
    let conference_places = parts.places.run_once().await?;
    Ok(WorkerPass {
        deliveries,
        syncs,
        call_landings,
        conference_places,
    })
}

/// The separate metrics address (`[metrics] listen`), while it serves.
#[derive(Debug)]
pub struct MetricsServer {
    /// Where it listens.
    pub address: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    /// Serves `/metrics` without authentication on `[metrics] listen`;
    /// `None` when that is unset.
    ///
    /// # Errors
    /// [`Failure::Runtime`] when the address cannot be bound.
    pub async fn start(config: &Config, store: Arc<dyn Store>) -> Result<Option<Self>, Failure> {
        let Some(listen) = config.metrics.listen else {
            return Ok(None);
        };
        let listener = bind(listen).await?;
        let address = local_address(&listener)?;
        let app = hub_web::metrics_router(store);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%address, "metrics are served without authentication");
        Ok(Some(Self {
            address,
            shutdown,
            task,
        }))
    }

    /// Stops serving; a scrape under way may be cut.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        if let Ok(Ok(Err(error))) = tokio::time::timeout(Duration::from_secs(5), self.task).await {
            tracing::error!(%error, "the metrics address failed while stopping");
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub address: SocketAddr,
    /// Where it serves `/metrics` without authentication, when
    /// `[metrics] listen` is set.
    pub metrics_address: Option<SocketAddr>,
    /// The one-time setup link, while the instance has no user.
    pub setup_link: Option<String>,
    /// The store it serves (tests look into it).
    pub store: Arc<dyn Store>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    worker: Worker,
    metrics: Option<MetricsServer>,
    grace: Duration,
}

/// The background work running inside this process: the outbox and the
/// sync scheduler.
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts delivering announcements from `store` and running its sync
    /// schedules, reaching channels through `adapters` with `keys`.
    #[must_use]
    pub fn start(
        config: &Config,
        store: Arc<dyn Store>,
        adapters: Arc<dyn AdapterFactory>,
        keys: Arc<SecretKeys>,
        public_url: &str,
    ) -> Self {
        let WorkerParts {
            outbox,
            scheduler,
            lander,
            places,
        } = worker_parts(
            config,
            store,
            adapters,
            keys,
            Arc::new(SystemClock),
            public_url,
        );
        let (stop, stopped) = watch::channel(false);
        let mut outbox_stop = stopped.clone();
        let mut scheduler_stop = stopped.clone();
        let mut lander_stop = stopped.clone();
        let mut places_stop = stopped;
        let task = tokio::spawn(async move {
            let outbox = outbox.run(async move {
                let _ = outbox_stop.wait_for(|stop| *stop).await;
            });
            // Cron ticks are minutes; looking every 15 s starts each within a quarter of one.
            let scheduler = scheduler.run(Duration::from_secs(15), async move {
                let _ = scheduler_stop.wait_for(|stop| *stop).await;
            });
            let lander = lander.run(async move {
                let _ = lander_stop.wait_for(|stop| *stop).await;
            });
            let places = places.run(Duration::from_secs(60), async move {
                let _ = places_stop.wait_for(|stop| *stop).await;
            });
            tokio::join!(outbox, scheduler, lander, places);
        });
        Self { stop, task }
    }

    /// Stops claiming new work and lets the sends under way finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// A name for this process's leases: unique across processes and restarts.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let (random, _) = new_secret();
    format!("{}-{}-{}", host.trim(), std::process::id(), &random[..8])
}

/// Starts serving on `listen` (port 0 picks a free port), with this build's
/// channel adapters.
///
/// # Errors
/// [`Failure`] when the database cannot be opened or the address cannot be bound.
pub async fn start(config: &Config, listen: SocketAddr) -> Result<Server, Failure> {
    let listener = bind(listen).await?;
    let public_url = config.public_base(local_address(&listener)?);
    let keys = Arc::new(config.secret_keys()?);
    let adapters = crate::adapters::Adapters::new(config, &keys, &public_url)?;
    let mailer = adapters
        .mailer()
        .map(|m| Arc::new(m) as Arc<dyn hub_core::ports::mailer::Mailer>);
    serve(config, listener, Arc::new(adapters), keys, mailer).await
}

/// Starts serving, reaching channels through `adapters` (tests pass fakes
/// that follow the channels' official contracts).
///
/// # Errors
/// [`Failure`] when the database cannot be opened, the address cannot be
/// bound or the store fails.
pub async fn start_with(
    config: &Config,
    listen: SocketAddr,
    adapters: Arc<dyn AdapterFactory>,
) -> Result<Server, Failure> {
    let listener = bind(listen).await?;
    // Read once: with SQLite and no COPHUB_SECRET_KEY the keys are a file.
    let keys = Arc::new(config.secret_keys()?);
    serve(config, listener, adapters, keys, None).await
}

async fn bind(listen: SocketAddr) -> Result<TcpListener, Failure> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Runtime(format!("could not listen on {listen}: {e}")))
}

fn local_address(listener: &TcpListener) -> Result<SocketAddr, Failure> {
    listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("could not read the listen address: {e}")))
}

/// What the web application works with: the store, the sync engine, the
/// keys, the mailer, and Slack's and Zoom's installer and pushed events as
/// configured. `serve` and `demo` both build it here.
pub(crate) fn web_state(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    public_url: String,
    engine: hub_core::sync::SyncEngine,
    keys: Arc<SecretKeys>,
    mailer: Option<Arc<dyn hub_core::ports::mailer::Mailer>>,
) -> hub_web::AppState {
    let slack_app = config.slack_app(&public_url);
    let mut state = hub_web::AppState::new(store, clock, config.web_settings(public_url))
        .with_sync(engine)
        .with_keys(keys);
    if let Some(mailer) = mailer {
        state = state.with_mailer(mailer);
    }
    if let Some(installer) = slack_app {
        state = state.with_slack_installer(Arc::new(installer));
    }
    if let Some(secret) = &config.slack.signing_secret {
        state = state.with_slack_events(Arc::new(hub_adapter_slack::events::SlackEvents::new(
            secret.expose_secret(),
        )));
    }
    state.with_zoom_hooks(Arc::new(hub_adapter_zoom::webhooks::ZoomWebhooks))
}

async fn serve(
    config: &Config,
    listener: TcpListener,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    mailer: Option<Arc<dyn hub_core::ports::mailer::Mailer>>,
) -> Result<Server, Failure> {
    let store = open_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let address = local_address(&listener)?;
    let public_url = config.public_base(address);
    let setup_link = if store.count_users().await? == 0 {
        let (token, hash) = new_secret();
        store
            .replace_setup_token(&hash, clock.now() + ChronoDuration::hours(SETUP_LINK_HOURS))
            .await?;
        Some(format!("{public_url}/setup/{token}"))
    } else {
        None
    };
    let metrics = MetricsServer::start(config, store.clone()).await?;
    let worker = Worker::start(
        config,
        store.clone(),
        adapters.clone(),
        keys.clone(),
        &public_url,
    );
    let adapters = with_conferences(config, &store, adapters, &public_url);
    let engine = engine_with_parts(
        config,
        hub_core::sync::SyncEngine::new(store.clone(), adapters, keys.clone(), clock.clone()),
    );
    let state = web_state(
        config,
        store.clone(),
        clock,
        public_url,
        engine,
        keys,
        mailer,
    );
    let app = hub_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Server {
        address,
        metrics_address: metrics.as_ref().map(|m| m.address),
        setup_link,
        store,
        shutdown,
        task,
        worker,
        metrics,
        grace: Duration::from_secs(config.server.shutdown_grace_seconds),
    })
}

impl Server {
    /// Stops accepting connections and waits (up to the grace period) for
    /// requests in flight.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        if let Some(metrics) = self.metrics {
            metrics.stop().await;
        }
        if tokio::time::timeout(self.grace, self.worker.stop())
            .await
            .is_err()
        {
            tracing::warn!(
                "sends were still running when the grace period ended; their leases will run out"
            );
        }
        match tokio::time::timeout(self.grace, self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("stopped"),
            Ok(Ok(Err(error))) => tracing::error!(%error, "the server failed while stopping"),
            Ok(Err(error)) => tracing::error!(%error, "the server task failed"),
            Err(_) => tracing::warn!("requests were still running when the grace period ended"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
