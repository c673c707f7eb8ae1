//! The command line. Every command has `--help` with an example; the global
//! options work before or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// One dashboard for a community of practice: email list, Slack, Zoom and
/// peer conferences.
#[derive(Debug, Parser)]
#[command(name = "cophub", version, about, long_about = None, after_help = "Example:\n  cophub serve --listen 127.0.0.1:8080")]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// A TOML config file (see `cophub config example`).
    #[arg(long, global = true, value_name = "FILE", env = "COPHUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data folder (SQLite database, generated key). Default ./cophub-data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database URL (sqlite:… or postgres:…); wins over COPHUB_DATABASE_URL and DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the dashboard, the API and the background work.
    #[command(after_help = "Example:\n  cophub serve --listen 0.0.0.0:8080")]
    Serve {
        /// The address to listen on (default from the config: 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Try cophub in a minute: the dashboard with sample data, fake Slack and
    /// Zoom and a local mail sink, all on this machine; nothing is sent.
    #[command(after_help = "Example:\n  cophub demo --listen 127.0.0.1:8080")]
    Demo {
        /// The address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Keep the demo's data in this new (or empty) folder instead of a
        /// temporary one deleted on exit.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Deliver announcements (the outbox) without the web server; run as many as you like on PostgreSQL.
    #[command(
        after_help = "Example:\n  COPHUB_DATABASE_URL=postgres://cophub@db/cophub COPHUB_SECRET_KEY=... cophub worker"
    )]
    Worker {
        /// Run one pass (the deliveries that are due, the sync jobs whose tick
        /// has come), then exit: for a system cron, or a catch-up by hand.
        #[arg(long)]
        once: bool,
        /// With --once: act as if it were this time (RFC 3339), to rehearse
        /// schedules across a DST change or a downtime.
        #[arg(long, requires = "once", value_name = "TIME", hide = true)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Create or upgrade the database schema, then exit.
    #[command(
        after_help = "Example:\n  COPHUB_DATABASE_URL=postgres://cophub@db/cophub cophub migrate"
    )]
    Migrate,
    /// Manage logins.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage communities.
    #[command(subcommand)]
    Community(CommunityCommand),
    /// Import and export a community's members.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Connect channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Post an announcement to a community's channels.
    #[command(
        after_help = "Example:\n  cophub announce --community rse --title 'Call on Friday' --body-file call.md --channels 'Team webhook' --at 2026-12-01T09:00:00Z"
    )]
    Announce {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// The title.
        #[arg(long)]
        title: String,
        /// A Markdown file with the body (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        body_file: PathBuf,
        /// Channel names or ids, comma-separated; default: every channel that can post.
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
        /// When to send (RFC 3339, e.g. 2026-12-01T09:00:00+01:00); default now.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Sync a community's channels' members now (or only plan it).
    #[command(after_help = "Example:\n  cophub sync --community rse --dry-run")]
    Sync {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// Only this channel (name or id); default every channel with a sync schedule.
        #[arg(long)]
        channel: Option<String>,
        /// Plan and show; change nothing.
        #[arg(long, conflicts_with = "approve")]
        dry_run: bool,
        /// Apply even a plan the guardrails would hold (after reading it with --dry-run).
        #[arg(long)]
        approve: bool,
        /// Discard the plan a guardrail is holding, instead of running.
        #[arg(long, conflicts_with_all = ["approve", "dry_run"])]
        discard: bool,
    },
    /// Schedule, list and cancel calls (Zoom meetings, Slack posts with reminders, calendar feeds).
    #[command(subcommand)]
    Call(CallCommand),
    /// Print or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Mail coming back to a list: bounces and unsubscribe requests.
    #[command(subcommand)]
    Email(EmailCommand),
    /// The audit log of every change.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `cophub audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit chain from its first entry: each entry must hash to
    /// what it holds and carry the hash of the one before. Exits 0 with the
    /// number of entries and the last hash (keep it somewhere else to
    /// compare later), or 1 naming the first entry that was changed, or
    /// where entries were removed or reordered.
    #[command(
        after_help = "Example:\n  cophub audit verify\n  audit chain intact: 12,345 entries, last hash 3f9a…"
    )]
    Verify,
}

/// `cophub email …`
#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Take in one message sent to a list's bounce address (an RFC 3464
    /// delivery report, or a mail to a member's unsubscribe address), read
    /// from standard input: for the MTA to pipe `bounces+*@your-list-domain`
    /// to. Exits 0 when it was taken in, 2 when it is not one of ours or not
    /// a bounce (the sentence says which), 75 (EX_TEMPFAIL: the MTA keeps the
    /// message and tries again) when the database cannot be reached.
    #[command(
        after_help = "Example (Postfix master.cf):\n  cophub-bounce unix - n n - - pipe\n    user=cophub argv=/usr/local/bin/cophub email bounce --recipient ${original_recipient}\n\nBy hand:\n  cophub email bounce < returned.eml"
    )]
    Bounce {
        /// The envelope recipient (the VERP address the report was sent
        /// to); default: the message's X-Original-To, Delivered-To or To.
        #[arg(long)]
        recipient: Option<String>,
    },
}

/// `cophub user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a login. Without --password-stdin a strong password is made and printed once.
    #[command(
        after_help = "Example:\n  printf '%s\\n' 'a long passphrase' | cophub user create --email ada@example.org --owner --password-stdin"
    )]
    Create {
        /// The login email.
        #[arg(long)]
        email: String,
        /// Make the user an instance owner (can do everything).
        #[arg(long)]
        owner: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `cophub token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API bearer token for a user; it is printed once and stored hashed.
    #[command(after_help = "Example:\n  cophub token create --user ada@example.org --name ci")]
    Create {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// `cophub community …`
#[derive(Debug, Subcommand)]
pub enum CommunityCommand {
    /// Create a community.
    #[command(
        after_help = "Example:\n  cophub community create --slug rse --name 'Research Software Engineers' --lead ada@example.org --timezone Europe/Berlin"
    )]
    Create {
        /// The short name in links: lower-case letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        /// The name people read.
        #[arg(long)]
        name: String,
        /// The first lead's email.
        #[arg(long)]
        lead: Option<String>,
        /// The community's IANA timezone.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
}

/// `cophub members …`
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Import members from a CSV file (email, name, role, email_list). All or nothing unless --skip-invalid.
    #[command(
        after_help = "Example:\n  cophub members import --community rse members.csv --dry-run"
    )]
    Import {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// The CSV file.
        file: PathBuf,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export members to standard output.
    #[command(
        after_help = "Example:\n  cophub members export --community rse --format csv > rse.csv"
    )]
    Export {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// csv (imports back unchanged) or json.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
    },
}

/// `cophub channel …`
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Connect a channel to a community, with its settings from a TOML file.
    #[command(
        after_help = "Example (an outgoing webhook, signing secret on stdin):\n  printf '%s\\n' \"$SECRET\" | cophub channel add --community rse --kind webhook --name 'Team webhook' --settings hook.toml --secret-stdin\n\nhook.toml:\n  url = \"https://hooks.example.org/cophub\"\n  format = \"signed_json\"   # or \"slack\""
    )]
    Add {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// email_list, mailman, slack, zoom, conference or webhook.
        #[arg(long)]
        kind: String,
        /// A name for the channel (default: the kind).
        #[arg(long)]
        name: Option<String>,
        /// The channel's settings, a TOML file.
        #[arg(long, value_name = "FILE")]
        settings: PathBuf,
        /// Read the channel's secret (token, signing secret) from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
        /// Start sends to this channel at least this many milliseconds apart.
        #[arg(long, default_value_t = 0)]
        min_interval_ms: u32,
        /// Sync its members: import, export, mirror or observe.
        #[arg(long, value_name = "DIRECTION", requires = "cron")]
        sync: Option<String>,
        /// When to sync, as cron (five fields, or @daily) in the community's timezone.
        #[arg(long, value_name = "EXPR", requires = "sync")]
        cron: Option<String>,
    },
    /// Mark a channel working again after its credentials stopped working
    /// (its waiting deliveries go out again), with a new secret if given.
    #[command(
        after_help = "Example (a webhook whose receiver got a new signing secret):\n  printf '%s\\n' \"$NEW_SECRET\" | cophub channel reconnect --community rse --channel 'Team webhook' --secret-stdin"
    )]
    Reconnect {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// The channel's name or id.
        #[arg(long)]
        channel: String,
        /// Read a new secret from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List a community's channels.
    #[command(after_help = "Example:\n  cophub channel list --community rse")]
    List {
        /// The community's slug.
        #[arg(long)]
        community: String,
    },
}

/// `cophub call …`
#[derive(Debug, Subcommand)]
pub enum CallCommand {
    /// Schedule a call in every channel of the community that shows calls
    /// (a running `cophub serve` or `cophub worker` brings them in line);
    /// prints the call's id.
    #[command(
        after_help = "Example (weekly, ten times, Tuesdays at 10:00 Berlin time):\n  cophub call schedule --community rse --title 'RSE coffee' --start '2027-01-12 10:00' --timezone Europe/Berlin --duration 60 --rrule 'FREQ=WEEKLY;COUNT=10' --agenda-file agenda.md"
    )]
    Schedule {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// The title: one line, 1 to 200 characters.
        #[arg(long)]
        title: String,
        /// The first start, local to --timezone: "YYYY-MM-DD HH:MM".
        #[arg(long, value_name = "LOCAL TIME")]
        start: String,
        /// An IANA timezone, such as Europe/Berlin or America/New_York.
        #[arg(long)]
        timezone: String,
        /// The length in minutes (1 to 1440).
        #[arg(long, value_name = "MINUTES")]
        duration: u32,
        /// A repeat rule Zoom can hold (DAILY, WEEKLY or MONTHLY, ending with
        /// COUNT or UNTIL), e.g. "FREQ=WEEKLY;COUNT=10"; default: held once.
        #[arg(long)]
        rrule: Option<String>,
        /// A Markdown file with the agenda (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        agenda_file: Option<PathBuf>,
        /// Members register, each getting a personal join link.
        #[arg(long)]
        registration: bool,
    },
    /// List a community's calls with their next occurrence.
    #[command(after_help = "Example:\n  cophub call list --community rse --format json")]
    List {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// text (one line per call) or json.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Cancel a call, or only one of its occurrences. Cancelling a
    /// cancelled call changes nothing.
    #[command(
        after_help = "Examples:\n  cophub call cancel --community rse --call 0191d3a2-7c1e-7b8a-9f00-3c4d5e6f7a8b\n  cophub call cancel --community rse --call 0191d3a2-7c1e-7b8a-9f00-3c4d5e6f7a8b --occurrence '2027-01-19 10:00'"
    )]
    Cancel {
        /// The community's slug.
        #[arg(long)]
        community: String,
        /// The call's id (see `cophub call list`).
        #[arg(long = "call", value_name = "ID")]
        call: String,
        /// Only the occurrence with this original local start ("YYYY-MM-DD HH:MM").
        #[arg(long, value_name = "LOCAL TIME")]
        occurrence: Option<String>,
    },
}

/// Listing formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    /// One tab-separated line per item.
    Text,
    /// A JSON array.
    Json,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array of members.
    Json,
}

/// `cophub config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the annotated example configuration.
    #[command(after_help = "Example:\n  cophub config example > cophub.toml")]
    Example,
    /// Check the configuration (file, environment, flags) and say what is wrong.
    #[command(after_help = "Example:\n  cophub --config cophub.toml config check")]
    Check,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::parse_from([
            "cophub",
            "migrate",
            "--data-dir",
            "/tmp/x",
            "--database-url",
            "sqlite://y",
        ]);
        assert_eq!(
            cli.global.data_dir.as_deref(),
            Some(std::path::Path::new("/tmp/x"))
        );
        assert_eq!(cli.global.database_url.as_deref(), Some("sqlite://y"));
    }
}
