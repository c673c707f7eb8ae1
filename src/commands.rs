//! What each command does. Each returns a [`Failure`] whose kind decides the
//! exit code (2 for bad usage or input, 1 at run time) and whose text is the
//! one sentence printed.

use std::{io::IsTerminal, sync::Arc, time::Duration};

use hub_core::{
    Email,
    auth::{hash_password, new_secret},
    model::{audit::NewAuditEvent, community::NewCommunity, user::NewUser},
    ports::store::Store,
    roster::{ImportError, ImportOptions, export_csv, import_csv},
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    Failure,
    cli::{
        AuditCommand, CallCommand, ChannelCommand, Cli, Command, CommunityCommand, ConfigCommand,
        EmailCommand, ExportFormat, ListFormat, MembersCommand, TokenCommand, UserCommand,
    },
    config::{Config, EXAMPLE_TOML, LogFormat, Overrides},
    server,
};

/// The audit actor for changes made from the command line.
const CLI_ACTOR: &str = "cli";

/// Runs a parsed command line.
///
/// # Errors
/// [`Failure`] with the sentence to print.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Config(ConfigCommand::Example) = cli.command {
        print!("{EXAMPLE_TOML}");
        return Ok(());
    }
    let overrides = Overrides {
        config_file: cli.global.config.clone(),
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
    };
    let config = Config::load(&overrides)?;
    init_logging(&config);
    match cli.command {
        Command::Config(ConfigCommand::Example) => Ok(()),
        Command::Email(EmailCommand::Bounce { recipient }) => {
            take_in_bounce(&config, recipient.as_deref()).await
        }
        Command::Config(ConfigCommand::Check) => {
            config.backend()?;
            if config.secret_key.is_some() || config.backend()? == hub_store::Backend::Postgres {
                config.secret_keys()?;
            }
            println!("The configuration is valid.");
            Ok(())
        }
        Command::Serve { listen } => serve(&config, listen.unwrap_or(config.server.listen)).await,
        Command::Demo { listen, keep } => {
            if cli.global.data_dir.is_some() || cli.global.database_url.is_some() {
                return Err(Failure::Usage(
                    "the demo makes its own data folder and SQLite database: leave out --data-dir and --database-url (use --keep DIR to keep the data)".into(),
                ));
            }
            crate::demo::run(&config, crate::demo::DemoOptions { listen, keep }).await
        }
        Command::Worker { once: false, .. } => run_worker(&config).await,
        Command::Worker { once: true, now } => run_worker_once(&config, now).await,
        Command::Channel(ChannelCommand::Add {
            community,
            kind,
            name,
            settings,
            secret_stdin,
            min_interval_ms,
            sync,
            cron,
        }) => {
            let channel = NewChannelArgs {
                kind,
                name,
                settings,
                secret_stdin,
                min_interval_ms,
                sync: sync.zip(cron),
            };
            add_channel(&config, &community, channel).await
        }
        Command::Sync {
            community,
            channel,
            dry_run,
            approve,
            discard,
        } => {
            let mode = match (dry_run, approve, discard) {
                (_, _, true) => SyncAction::Discard,
                (true, _, _) => SyncAction::Run(hub_core::sync::RunMode::DryRun),
                (_, true, _) => SyncAction::Approve,
                _ => SyncAction::Run(hub_core::sync::RunMode::Apply),
            };
            sync_now(&config, &community, channel.as_deref(), mode).await
        }
        Command::Channel(ChannelCommand::Reconnect {
            community,
            channel,
            secret_stdin,
        }) => reconnect_channel(&config, &community, &channel, secret_stdin).await,
        Command::Channel(ChannelCommand::List { community }) => {
            list_channels(&config, &community).await
        }
        Command::Announce {
            community,
            title,
            body_file,
            channels,
            at,
        } => {
            announce(
                &config,
                &community,
                &title,
                &body_file,
                &channels,
                at.as_deref(),
            )
            .await
        }
        Command::Call(CallCommand::Schedule {
            community,
            title,
            start,
            timezone,
            duration,
            rrule,
            agenda_file,
            registration,
        }) => {
            let call = NewCallArgs {
                title,
                start,
                timezone,
                duration,
                rrule,
                agenda_file,
                registration,
            };
            schedule_call(&config, &community, call).await
        }
        Command::Call(CallCommand::List { community, format }) => {
            list_calls(&config, &community, format).await
        }
        Command::Call(CallCommand::Cancel {
            community,
            call,
            occurrence,
        }) => cancel_call(&config, &community, &call, occurrence.as_deref()).await,
        Command::Migrate => {
            server::open_store(&config).await?;
            println!("The database schema is up to date.");
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            owner,
            password_stdin,
        }) => create_user(&config, &email, owner, password_stdin).await,
        Command::Token(TokenCommand::Create { user, name }) => {
            create_token(&config, &user, &name).await
        }
        Command::Community(CommunityCommand::Create {
            slug,
            name,
            lead,
            timezone,
        }) => create_community(&config, &slug, &name, lead.as_deref(), &timezone).await,
        Command::Members(MembersCommand::Import {
            community,
            file,
            dry_run,
            skip_invalid,
        }) => {
            let options = ImportOptions {
                dry_run,
                skip_invalid,
            };
            import_members(&config, &community, &file, options).await
        }
        Command::Members(MembersCommand::Export { community, format }) => {
            export_members(&config, &community, format).await
        }
        Command::Audit(AuditCommand::Verify) => verify_audit(&config).await,
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests run many commands in one process) is harmless.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

async fn serve(config: &Config, listen: std::net::SocketAddr) -> Result<(), Failure> {
    let server = server::start(config, listen).await?;
    tracing::info!(address = %server.address, "cophub is listening");
    println!("cophub is listening on http://{}", server.address);
    if let Some(link) = &server.setup_link {
        println!(
            "No owner account exists yet. Open this link to create it (it works once, for 24 hours):\n  {link}"
        );
    }
    server::shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

async fn community(
    store: &Arc<dyn Store>,
    slug: &str,
) -> Result<hub_core::model::community::Community, Failure> {
    store
        .community_by_slug(slug)
        .await?
        .ok_or_else(|| Failure::Usage(format!("there is no community with the slug {slug:?}")))
}

fn parse_email(text: &str) -> Result<Email, Failure> {
    Email::parse(text).map_err(|e| Failure::Usage(e.to_string()))
}

async fn create_user(
    config: &Config,
    email: &str,
    owner: bool,
    password_stdin: bool,
) -> Result<(), Failure> {
    let email = parse_email(email)?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| {
            Failure::Usage(format!(
                "could not read the password from standard input: {e}"
            ))
        })?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (new_secret().0, true)
    };
    let password_hash =
        tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
            .await
            .map_err(|e| Failure::Runtime(e.to_string()))?
            .map_err(|e| Failure::Usage(e.to_string()))?;
    let store = server::open_store(config).await?;
    let audit = NewAuditEvent {
        actor: CLI_ACTOR.into(),
        action: "user.create".into(),
        community_id: None,
        subject: email.normalized().to_owned(),
        details: serde_json::json!({"owner": owner}),
    };
    let user = store
        .create_user(
            NewUser {
                email,
                password_hash: password_hash.0,
                is_owner: owner,
            },
            audit,
        )
        .await?;
    println!(
        "Created {} {}.",
        if owner { "owner" } else { "user" },
        user.email
    );
    if generated {
        println!("Password (shown once): {}", password_hash.1);
    }
    Ok(())
}

async fn create_token(config: &Config, user: &str, name: &str) -> Result<(), Failure> {
    let email = parse_email(user)?;
    let store = server::open_store(config).await?;
    let user = store
        .user_credentials(&email)
        .await?
        .ok_or_else(|| Failure::Usage(format!("there is no user {email}")))?
        .user;
    // The same code path as the dashboard's API tokens page.
    let token = hub_core::api_tokens::create(store.as_ref(), &user, name, CLI_ACTOR)
        .await
        .map_err(|e| match e {
            hub_core::api_tokens::TokenError::Store(e) => e.into(),
            other => Failure::Usage(other.to_string()),
        })?;
    eprintln!(
        "API token for {} (shown once; send it as `Authorization: Bearer <token>`):",
        user.email
    );
    println!("{token}");
    Ok(())
}

async fn create_community(
    config: &Config,
    slug: &str,
    name: &str,
    lead: Option<&str>,
    timezone: &str,
) -> Result<(), Failure> {
    let community =
        NewCommunity::new(slug, name, timezone).map_err(|e| Failure::Usage(e.to_string()))?;
    let lead = lead.map(parse_email).transpose()?;
    let store = server::open_store(config).await?;
    let created = hub_core::communities::create(store.as_ref(), community, lead, CLI_ACTOR).await?;
    println!("Created the community {} ({}).", created.name, created.slug);
    Ok(())
}

/// A spinner on a terminal, plain lines otherwise.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(Some(bar))
    }

    fn step(&self, message: &str) {
        match &self.0 {
            Some(bar) => bar.set_message(message.to_owned()),
            None => eprintln!("{message}"),
        }
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

async fn import_members(
    config: &Config,
    slug: &str,
    file: &std::path::Path,
    options: ImportOptions,
) -> Result<(), Failure> {
    let data = std::fs::read(file)
        .map_err(|e| Failure::Usage(format!("could not read {}: {e}", file.display())))?;
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let progress = Progress::new();
    progress.step(&format!(
        "importing {} into {}",
        file.display(),
        community.slug
    ));
    let outcome = import_csv(store.as_ref(), &community, &data, options, CLI_ACTOR).await;
    progress.finish();
    let plan = match outcome {
        Ok(plan) => plan,
        Err(ImportError::Rejected(plan)) => {
            for error in &plan.errors {
                eprintln!("{}: {error}", file.display());
            }
            return Err(Failure::Usage(format!(
                "{} row(s) are invalid, so nothing was imported (fix them, or pass --skip-invalid)",
                plan.errors.len()
            )));
        }
        Err(ImportError::Unreadable(e)) => {
            return Err(Failure::Usage(format!("{}: {e}", file.display())));
        }
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &plan.errors {
        eprintln!("skipped: {error}");
    }
    let verb = if options.dry_run {
        "Dry run, nothing changed: would add"
    } else {
        "Imported: added"
    };
    println!(
        "{verb} {}, updated {}, unchanged {}, skipped {}.",
        plan.created,
        plan.updated,
        plan.unchanged,
        plan.errors.len()
    );
    Ok(())
}

async fn export_members(config: &Config, slug: &str, format: ExportFormat) -> Result<(), Failure> {
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let members = store.all_members(community.id).await?;
    match format {
        ExportFormat::Csv => print!("{}", export_csv(&members)),
        ExportFormat::Json => {
            let text = serde_json::to_string_pretty(&members)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("{text}");
        }
    }
    Ok(())
}

async fn verify_audit(config: &Config) -> Result<(), Failure> {
    use hub_core::audit::{VERIFY_PAGE, VerifyError, verify};
    let store = server::open_store(config).await?;
    match verify(store.as_ref(), VERIFY_PAGE).await {
        Ok(intact) => {
            println!(
                "audit chain intact: {} entries, last hash {}",
                thousands(intact.entries),
                intact.last_hash
            );
            Ok(())
        }
        Err(broken @ VerifyError::Broken { .. }) => Err(Failure::Runtime(broken.to_string())),
        Err(VerifyError::Store(error)) => Err(error.into()),
    }
}

/// 12345 as "12,345".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

async fn run_worker(config: &Config) -> Result<(), Failure> {
    let store = server::open_store(config).await?;
    let keys = Arc::new(config.secret_keys()?);
    let adapters = Arc::new(configured_adapters(config, &keys)?);
    let metrics = server::MetricsServer::start(config, store.clone()).await?;
    let worker = server::Worker::start(config, store, adapters, keys, &config.links_base());
    tracing::info!("the outbox worker is running");
    println!("cophub worker is delivering announcements; stop it with Ctrl-C or SIGTERM.");
    server::shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    worker.stop().await;
    Ok(())
}

async fn run_worker_once(
    config: &Config,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), Failure> {
    use hub_core::ports::clock::{Clock, ManualClock, SystemClock};
    let store = server::open_store(config).await?;
    let clock: Arc<dyn Clock> = match now {
        Some(now) => Arc::new(ManualClock::new(now)),
        None => Arc::new(SystemClock),
    };
    let adapters = Arc::new(configured_adapters(config, &config.secret_keys()?)?);
    let pass = server::run_worker_once(config, store, adapters, clock).await?;
    println!(
        "worked on {} due deliveries; ran {} sync jobs; brought {} calls in line in a channel; opened {} conference meetings and conversations",
        pass.deliveries, pass.syncs, pass.call_landings, pass.conference_places
    );
    Ok(())
}

fn read_first_line_of_stdin(what: &str) -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::Usage(format!(
            "could not read the {what} from standard input: {e}"
        ))
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `channel add`'s options.
struct NewChannelArgs {
    kind: String,
    name: Option<String>,
    settings: std::path::PathBuf,
    secret_stdin: bool,
    min_interval_ms: u32,
    /// (direction, cron)
    sync: Option<(String, String)>,
}

async fn add_channel(config: &Config, slug: &str, args: NewChannelArgs) -> Result<(), Failure> {
    let NewChannelArgs {
        kind,
        name,
        settings: settings_file,
        secret_stdin,
        min_interval_ms,
        sync,
    } = args;
    let settings_file = settings_file.as_path();
    let kind = kind.as_str();
    use figment::providers::Format;
    use hub_core::{
        channels::{ChannelRequest, add},
        model::channel::{Channel, ChannelHealth, ChannelKind},
        ports::adapter::AdapterFactory,
    };
    let kind: ChannelKind = kind
        .parse()
        .map_err(|e: hub_core::model::UnknownWord| Failure::Usage(e.to_string()))?;
    if !settings_file.is_file() {
        return Err(Failure::Usage(format!(
            "the settings file {} does not exist",
            settings_file.display()
        )));
    }
    let settings: serde_json::Value =
        figment::Figment::from(figment::providers::Toml::file_exact(settings_file))
            .extract()
            .map_err(|e| Failure::Usage(format!("{}: {e}", settings_file.display())))?;
    let secret = if secret_stdin {
        Some(read_first_line_of_stdin("secret")?)
    } else {
        None
    };
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    // Build the adapter once, so settings it cannot use are refused now, not at the first send.
    let preview = Channel {
        id: hub_core::ids::ChannelId::new(),
        community_id: community.id,
        kind,
        name: String::new(),
        settings: settings.clone(),
        health: ChannelHealth::Ok,
        min_interval_ms,
        created_at: chrono::Utc::now(),
    };
    let keys = config.secret_keys()?;
    configured_adapters(config, &keys)?
        .adapter(&preview, secret.as_deref())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let request = ChannelRequest {
        kind,
        name: name.unwrap_or_else(|| kind.to_string()),
        settings,
        secret,
        min_interval_ms,
    };
    let sync = sync
        .map(|(direction, cron)| {
            let direction: hub_core::model::sync::SyncDirection = direction
                .parse()
                .map_err(|e: hub_core::model::UnknownWord| Failure::Usage(e.to_string()))?;
            hub_core::schedule::CronSchedule::parse(&cron)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            if hub_core::sync::consent_channel(kind).is_none() {
                return Err(Failure::Usage(format!(
                    "{kind} channels have no members to sync"
                )));
            }
            Ok((direction, cron))
        })
        .transpose()?;
    let channel = add(store.as_ref(), &keys, community.id, request, CLI_ACTOR).await?;
    println!(
        "Connected the {} channel {:?} ({}).",
        channel.kind, channel.name, channel.id
    );
    if let Some((direction, cron)) = sync {
        hub_core::sync::schedule_channel(
            store.as_ref(),
            &channel,
            direction,
            &cron,
            hub_core::sync::Guardrails::default(),
            CLI_ACTOR,
        )
        .await
        .map_err(|e| Failure::Usage(e.to_string()))?;
        println!(
            "Its members sync ({direction}) on the schedule {cron:?}, in the community's timezone."
        );
    }
    Ok(())
}

async fn reconnect_channel(
    config: &Config,
    slug: &str,
    name: &str,
    secret_stdin: bool,
) -> Result<(), Failure> {
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let channel = store
        .channels(community.id)
        .await?
        .into_iter()
        .find(|c| c.name == name || c.id.to_string() == name)
        .ok_or_else(|| Failure::Usage(format!("the community {slug} has no channel {name:?}")))?;
    let secret = if secret_stdin {
        let secret = read_first_line_of_stdin("channel's new secret")?;
        if secret.trim().is_empty() {
            return Err(Failure::Usage(
                "the new secret on standard input is empty".into(),
            ));
        }
        Some(secret)
    } else {
        None
    };
    let keys = config.secret_keys()?;
    let channel =
        hub_core::channels::reconnect(store.as_ref(), &keys, channel.id, secret.as_deref(), "cli")
            .await?;
    println!(
        "{}: {} — its waiting deliveries go out again",
        channel.name,
        channel.health.describe()
    );
    Ok(())
}

async fn list_channels(config: &Config, slug: &str) -> Result<(), Failure> {
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    for channel in store.channels(community.id).await? {
        let health = channel.health.describe();
        println!(
            "{}\t{}\t{}\t{health}",
            channel.id, channel.kind, channel.name
        );
    }
    Ok(())
}

async fn announce(
    config: &Config,
    slug: &str,
    title: &str,
    body_file: &std::path::Path,
    wanted: &[String],
    at: Option<&str>,
) -> Result<(), Failure> {
    use hub_core::announcements::publish;
    let body = if body_file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
            Failure::Usage(format!("could not read the body from standard input: {e}"))
        })?;
        text
    } else {
        std::fs::read_to_string(body_file)
            .map_err(|e| Failure::Usage(format!("could not read {}: {e}", body_file.display())))?
    };
    let send_at = at
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| {
                    Failure::Usage(format!(
                        "--at {text:?} is not a time such as 2026-12-01T09:00:00Z: {e}"
                    ))
                })
        })
        .transpose()?;
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let channels = store.channels(community.id).await?;
    let targets = if wanted.is_empty() {
        channels.iter().map(|c| c.id).collect()
    } else {
        wanted
            .iter()
            .map(|w| {
                channels
                    .iter()
                    .find(|c| c.name == *w || c.id.to_string() == *w)
                    .map(|c| c.id)
                    .ok_or_else(|| {
                        Failure::Usage(format!("the community {slug} has no channel {w:?}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let (announcement, deliveries) = publish(
        store.as_ref(),
        chrono::Utc::now(),
        community.id,
        title,
        &body,
        targets,
        send_at,
        CLI_ACTOR,
    )
    .await?;
    println!(
        "Queued the announcement {} for {} channel(s); a running `cophub serve` or `cophub worker` delivers it.",
        announcement.id,
        deliveries.len()
    );
    Ok(())
}

/// `call schedule`'s options.
struct NewCallArgs {
    title: String,
    start: String,
    timezone: String,
    duration: u32,
    rrule: Option<String>,
    agenda_file: Option<std::path::PathBuf>,
    registration: bool,
}

/// A local time as an operator types it: `2027-01-12 10:00`, or with a `T`
/// or seconds; `option` names the flag in the sentence.
fn local_time(text: &str, option: &str) -> Result<chrono::NaiveDateTime, Failure> {
    hub_core::calls::schedule::read_local(text).ok_or_else(|| {
        Failure::Usage(format!(
            "{option} {text:?} is not a local time such as \"2027-01-12 10:00\""
        ))
    })
}

/// A refusal of hub-core's call rules: bad input exits 2, storage 1.
fn call_failure(error: hub_core::calls::schedule::CallError) -> Failure {
    match error {
        hub_core::calls::schedule::CallError::Store(e) => e.into(),
        other => Failure::Usage(other.to_string()),
    }
}

/// The community's call `text` (an id).
async fn find_call(
    store: &Arc<dyn Store>,
    community: &hub_core::model::community::Community,
    text: &str,
) -> Result<hub_core::model::call::Call, Failure> {
    let missing = || {
        Failure::Usage(format!(
            "the community {} has no call {text:?}",
            community.slug.as_str()
        ))
    };
    let id: hub_core::ids::CallId = text.trim().parse().map_err(|_| missing())?;
    hub_core::access::community_call(store.as_ref(), community, id)
        .await?
        .ok_or_else(missing)
}

async fn schedule_call(config: &Config, slug: &str, args: NewCallArgs) -> Result<(), Failure> {
    use hub_core::calls::schedule::{CallRequest, schedule};
    let agenda = match &args.agenda_file {
        None => String::new(),
        Some(file) if file.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
                Failure::Usage(format!(
                    "could not read the agenda from standard input: {e}"
                ))
            })?;
            text
        }
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| Failure::Usage(format!("could not read {}: {e}", file.display())))?,
    };
    let request = CallRequest {
        title: args.title,
        agenda,
        starts_at_local: local_time(&args.start, "--start")?,
        timezone: args.timezone,
        duration_minutes: args.duration,
        rrule: args.rrule,
        registration: args.registration,
    };
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let call = schedule(
        store.as_ref(),
        community.id,
        &request,
        CLI_ACTOR,
        chrono::Utc::now(),
    )
    .await
    .map_err(call_failure)?;
    let channels = store.call_landings(call.id).await?.len();
    eprintln!(
        "Scheduled {:?} ({} occurrence(s)) for {channels} channel(s); a running `cophub serve` or `cophub worker` brings them in line.",
        call.title,
        call.occurrences().len()
    );
    println!("{}", call.id);
    Ok(())
}

async fn list_calls(config: &Config, slug: &str, format: ListFormat) -> Result<(), Failure> {
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let calls = store.community_calls(community.id).await?;
    let now = chrono::Utc::now();
    let local = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    match format {
        ListFormat::Text => {
            for call in &calls {
                let next = call
                    .next_occurrence(now)
                    .map_or_else(|| "none".to_owned(), |o| o.starts_at.to_rfc3339());
                println!(
                    "{}\t{}\t{} {}\t{}\t{} min\tnext {next}\t{}",
                    call.id,
                    call.status.as_str(),
                    local(call.starts_at_local),
                    call.timezone.name(),
                    call.recurrence
                        .as_ref()
                        .map_or_else(|| "once".to_owned(), ToString::to_string),
                    call.duration_minutes,
                    call.title
                );
            }
        }
        ListFormat::Json => {
            let items: Vec<serde_json::Value> = calls
                .iter()
                .map(|call| {
                    serde_json::json!({
                        "id": call.id,
                        "title": call.title,
                        "agenda": call.agenda,
                        "starts_at_local": local(call.starts_at_local),
                        "timezone": call.timezone.name(),
                        "duration_minutes": call.duration_minutes,
                        "rrule": call.recurrence.as_ref().map(ToString::to_string),
                        "registration": call.registration,
                        "status": call.status.as_str(),
                        "sequence": call.sequence,
                        "join_url": call.join_url,
                        "recording_url": call.recording_url,
                        "next_occurrence_at": call.next_occurrence(now).map(|o| o.starts_at),
                        "occurrences": call.occurrences().iter().map(|o| serde_json::json!({
                            "original": local(o.original),
                            "starts_at_local": local(o.starts_at_local),
                            "starts_at": o.starts_at,
                            "duration_minutes": o.duration_minutes,
                            "cancelled": o.cancelled,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let text = serde_json::to_string_pretty(&items)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("{text}");
        }
    }
    Ok(())
}

async fn cancel_call(
    config: &Config,
    slug: &str,
    id: &str,
    occurrence: Option<&str>,
) -> Result<(), Failure> {
    use hub_core::calls::schedule::{cancel, cancel_occurrence};
    let occurrence = occurrence
        .map(|text| local_time(text, "--occurrence"))
        .transpose()?;
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let call = find_call(&store, &community, id).await?;
    let now = chrono::Utc::now();
    match occurrence {
        Some(original) => {
            let call = cancel_occurrence(store.as_ref(), call, original, CLI_ACTOR, now)
                .await
                .map_err(call_failure)?;
            println!(
                "Cancelled the occurrence of {:?} starting {} ({}); the channels follow.",
                call.title,
                original.format("%Y-%m-%d %H:%M"),
                call.timezone.name()
            );
        }
        None => {
            let call = cancel(store.as_ref(), call, CLI_ACTOR, now)
                .await
                .map_err(call_failure)?;
            println!("Cancelled {:?}; the channels follow.", call.title);
        }
    }
    Ok(())
}

/// What `cophub sync` does to each channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncAction {
    Run(hub_core::sync::RunMode),
    Approve,
    Discard,
}

async fn sync_now(
    config: &Config,
    slug: &str,
    only: Option<&str>,
    action: SyncAction,
) -> Result<(), Failure> {
    use hub_core::sync::RunMode;
    let store = server::open_store(config).await?;
    let community = community(&store, slug).await?;
    let mut channels = Vec::new();
    for channel in store.channels(community.id).await? {
        let wanted = only.is_none_or(|w| channel.name == w || channel.id.to_string() == w);
        if wanted && store.sync_job_of(channel.id).await?.is_some() {
            channels.push(channel);
        }
    }
    if channels.is_empty() {
        return Err(Failure::Usage(match only {
            Some(name) => {
                format!("the community {slug} has no channel {name:?} with a sync schedule")
            }
            None => format!(
                "no channel of the community {slug} has a sync schedule (channel add --sync … --cron …)"
            ),
        }));
    }
    let adapters = Arc::new(configured_adapters(config, &config.secret_keys()?)?);
    let engine = server::sync_engine(config, store.clone(), adapters)?;
    let mode = match action {
        SyncAction::Run(mode) => Some(mode),
        SyncAction::Approve => None,
        SyncAction::Discard => {
            for channel in channels {
                let discarded = engine.discard_held(channel.id).await?;
                match discarded {
                    Some(run) => println!("{}: discarded the held plan {}", channel.name, run.id),
                    None => println!("{}: no plan is held", channel.name),
                }
            }
            return Ok(());
        }
    };
    let dry_run = mode == Some(RunMode::DryRun);
    let mut failed = false;
    let progress = Progress::new();
    let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    progress.step(&format!("syncing {}", names.join(", ")));
    let results = match mode {
        // The community's members are read once for all its channels.
        Some(mode) => {
            let ids: Vec<_> = channels.iter().map(|c| c.id).collect();
            engine.run_many(&ids, mode).await
        }
        None => {
            let mut results = Vec::with_capacity(channels.len());
            for channel in &channels {
                results.push(engine.approve_held(channel.id).await);
            }
            results
        }
    };
    progress.finish();
    for (channel, run) in channels.iter().zip(results) {
        let run = run.map_err(Failure::from)?;
        let c = run.counts;
        println!(
            "{}: {} — added {}, removed {}, updated {}, unchanged {}, unmatched {}, errors {}, API calls {}",
            channel.name,
            run.state,
            c.added,
            c.removed,
            c.updated,
            c.unchanged,
            c.unmatched,
            c.errors,
            c.api_calls
        );
        if let Some(error) = &run.error {
            eprintln!("{}: {error}", channel.name);
            failed = true;
        }
        if dry_run || run.state == hub_core::model::sync::SyncRunState::Held {
            let plan = serde_json::to_string_pretty(&run.plan)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("{plan}");
        }
        if run.state == hub_core::model::sync::SyncRunState::Held {
            eprintln!(
                "{}: the plan is held by a guardrail; read it, then apply it with --approve",
                channel.name
            );
        }
    }
    if failed {
        return Err(Failure::Runtime(
            "a sync failed; nothing was changed past the failure".into(),
        ));
    }
    Ok(())
}

/// This build's adapters, for a command that runs outside the server: links
/// in messages start with `public_url` (or the configured listen address).
fn configured_adapters(
    config: &Config,
    keys: &hub_core::secrets::SecretKeys,
) -> Result<crate::adapters::Adapters, Failure> {
    crate::adapters::Adapters::new(config, keys, &config.public_base(config.server.listen))
}

/// Reads one returned message from standard input and takes it in.
async fn take_in_bounce(config: &Config, recipient: Option<&str>) -> Result<(), Failure> {
    use std::io::Read;

    use hub_core::bounces::{Intake, IntakeError, take_in};
    // A report larger than this is not a report.
    const MAX_MESSAGE: u64 = 10 * 1024 * 1024;
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_MESSAGE)
        .read_to_end(&mut raw)
        .map_err(|e| {
            Failure::Runtime(format!(
                "could not read the message from standard input: {e}"
            ))
        })?;
    // The database being away is the MTA's to retry, not a reason to lose
    // the report.
    let store = server::open_store(config)
        .await
        .map_err(|e| Failure::TryAgain(e.to_string()))?;
    let verp = config.secret_keys()?.signer(hub_core::bounces::PURPOSE);
    match take_in(store.as_ref(), &verp, &raw, recipient, chrono::Utc::now()).await {
        Ok(Intake::Counted { record, .. }) => {
            let disabled = if record.email_disabled_at.is_some() {
                "; email delivery to them is stopped"
            } else {
                ""
            };
            println!(
                "bounce counted: the member's score is {:.1}{disabled}",
                record.score.score
            );
            Ok(())
        }
        Ok(Intake::AlreadyCountedToday(_)) => {
            println!("bounce noted: the member already bounced today, so it does not count again");
            Ok(())
        }
        Ok(Intake::Unsubscribed(_)) => {
            println!("the member asked by mail to leave the list and is unsubscribed");
            Ok(())
        }
        Ok(Intake::AlreadyUnsubscribed(_)) => {
            println!("the member asked by mail to leave the list and was already unsubscribed");
            Ok(())
        }
        Err(IntakeError::Store(error)) => Err(Failure::TryAgain(error.to_string())),
        Err(error) => Err(Failure::Usage(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, text) in [(0, "0"), (999, "999"), (1_000, "1,000"), (12_345, "12,345")] {
            assert_eq!(super::thousands(n), text);
        }
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
