//! The command line as an operator meets it: exit codes (0 success, 1 at run
//! time, 2 bad usage or input), one sentence on stderr, nothing half-written.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use hub_testkit::database::TestDatabase;

/// Runs `cophub` with a clean COPHUB_ environment, a data folder and a database.
struct Cli {
    data_dir: tempfile::TempDir,
    db: TestDatabase,
    key: String,
}

impl Cli {
    async fn new() -> Self {
        Self {
            data_dir: tempfile::tempdir().unwrap(),
            db: TestDatabase::from_env().await,
            key: hub_core::secrets::SecretKeys::generate_hex(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = crate::helpers::cophub_command();
        command
            .args(args)
            .args([
                "--data-dir",
                self.data_dir.path().to_str().unwrap(),
                "--database-url",
                self.db.url(),
            ])
            .env("COPHUB_SECRET_KEY", &self.key)
            .env("COPHUB_LOG_FILTER", "warn");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn an_operator_sets_up_a_community_from_the_command_line() {
    let cli = Cli::new().await;
    let migrated = cli.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let user = cli.run_with_input(
        &[
            "user",
            "create",
            "--email",
            "ada@example.org",
            "--owner",
            "--password-stdin",
        ],
        "a long enough passphrase\n",
    );
    assert!(user.status.success(), "{}", stderr(&user));
    let token = cli.run(&[
        "token",
        "create",
        "--user",
        "ADA@example.org",
        "--name",
        "ci",
    ]);
    assert!(token.status.success(), "{}", stderr(&token));
    assert_eq!(stdout(&token).trim().len(), 43, "the token alone on stdout");
    let community = cli.run(&[
        "community",
        "create",
        "--slug",
        "rse",
        "--name",
        "RSE",
        "--lead",
        "ada@example.org",
    ]);
    assert!(community.status.success(), "{}", stderr(&community));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("members.csv");
    std::fs::write(&file, "email,name,email_list\nbob@example.org,Bob,yes\n").unwrap();
    let dry = cli.run(&[
        "members",
        "import",
        "--community",
        "rse",
        file.to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(dry.status.success());
    assert!(stdout(&dry).contains("Dry run, nothing changed: would add 1"));
    let imported = cli.run(&[
        "members",
        "import",
        "--community",
        "rse",
        file.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(stdout(&imported).contains("added 1"));

    let export = cli.run(&["members", "export", "--community", "rse"]);
    assert!(export.status.success());
    let csv = stdout(&export);
    assert!(csv.contains("bob@example.org,Bob,member,active,yes,subscribed"));
    assert!(csv.contains("ada@example.org,,lead,active,no,none"));
    let json = cli.run(&[
        "members",
        "export",
        "--community",
        "rse",
        "--format",
        "json",
    ]);
    let members: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(members.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_input_exits_2_with_one_sentence_and_writes_nothing() {
    let cli = Cli::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "email,role\nok@example.org,member\nbroken,member\nboss@example.org,owner\n",
    )
    .unwrap();
    assert!(
        cli.run(&["community", "create", "--slug", "rse", "--name", "RSE"])
            .status
            .success()
    );
    let rejected = cli.run(&[
        "members",
        "import",
        "--community",
        "rse",
        file.to_str().unwrap(),
    ]);
    assert_eq!(rejected.status.code(), Some(2));
    let err = stderr(&rejected);
    assert!(err.contains("line 3:") && err.contains("line 4:"), "{err}");
    assert!(err.contains("nothing was imported"));
    let export = cli.run(&["members", "export", "--community", "rse"]);
    assert_eq!(
        stdout(&export).lines().count(),
        1,
        "only the header: nothing was written"
    );

    let cases: &[&[&str]] = &[
        &["community", "create", "--slug", "rse", "--name", "Again"],
        &["community", "create", "--slug", "Bad Slug", "--name", "X"],
        &[
            "community",
            "create",
            "--slug",
            "tz",
            "--name",
            "X",
            "--timezone",
            "Mars/Base",
        ],
        &["members", "export", "--community", "nowhere"],
        &[
            "members",
            "import",
            "--community",
            "rse",
            "/no/such/file.csv",
        ],
        &["user", "create", "--email", "not an email"],
        &["token", "create", "--user", "nobody@example.org"],
        &["no-such-command"],
    ];
    for args in cases {
        let output = cli.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).trim().is_empty());
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[tokio::test]
async fn configuration_errors_name_the_key() {
    let cli = Cli::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cophub.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"typo\"\n",
    )
    .unwrap();
    let unknown = cli.run(&["config", "check", "--config", file.to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("lisen"), "{}", stderr(&unknown));

    let bad_value = cli
        .command(&["config", "check"])
        .env("COPHUB_SERVER__LISTEN", "nowhere")
        .output()
        .unwrap();
    assert_eq!(bad_value.status.code(), Some(2));
    assert!(stderr(&bad_value).contains("listen"));

    let ok = cli.run(&["config", "check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let example = cli.run(&["config", "example"]);
    assert!(stdout(&example).contains("[server]"));

    // The annotated example is itself a valid configuration.
    let example_file = dir.path().join("example.toml");
    std::fs::write(&example_file, &example.stdout).unwrap();
    let checked = cli.run(&[
        "config",
        "check",
        "--config",
        example_file.to_str().unwrap(),
    ]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));

    let missing = cli.run(&["config", "check", "--config", "/no/such.toml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn postgres_without_a_secret_key_and_an_unreachable_database_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str, key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cophub"));
        for (k, _) in std::env::vars() {
            if k.starts_with("COPHUB_") || k == "DATABASE_URL" {
                command.env_remove(k);
            }
        }
        command.args([
            "migrate",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--database-url",
            url,
        ]);
        if let Some(key) = key {
            command.env("COPHUB_SECRET_KEY", key);
        }
        command.output().unwrap()
    };
    let no_key = run("postgres://postgres@127.0.0.1:1/x", None);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(stderr(&no_key).contains("COPHUB_SECRET_KEY"));
    let bad_key = run("postgres://postgres@127.0.0.1:1/x", Some("too-short"));
    assert_eq!(bad_key.status.code(), Some(2));
    let key = hub_core::secrets::SecretKeys::generate_hex();
    let unreachable = run("postgres://postgres@127.0.0.1:1/x", Some(&key));
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        stderr(&unreachable).contains("could not connect to the database"),
        "{}",
        stderr(&unreachable)
    );
    let unsupported = run("mysql://x", Some(&key));
    assert_eq!(unsupported.status.code(), Some(2));
}

#[tokio::test]
async fn serve_prints_a_setup_link_logs_json_and_stops_on_sigterm() {
    let cli = Cli::new().await;
    let mut child = cli
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .env("COPHUB_LOG_FORMAT", "json")
        .env("COPHUB_LOG_FILTER", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let mut address = None;
    let mut link = None;
    while link.is_none() {
        let line = receiver
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("serve prints its address and link");
        if let Some(rest) = line.strip_prefix("cophub is listening on ") {
            address = Some(rest.trim().to_owned());
        }
        if line.contains("/setup/") {
            link = Some(line.trim().to_owned());
        }
    }
    let address = address.unwrap();
    let link = link.unwrap();
    assert!(
        link.starts_with(&address),
        "the link uses the real address when public_url is unset"
    );
    hub_core::tls::init();
    assert_eq!(
        reqwest::get(format!("{address}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "a SIGTERM ends serve cleanly: {status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "cophub is listening"),
        "{logs}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "shutting down"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_lead_connects_a_webhook_and_an_announcement_from_the_command_line_arrives() {
    let cli = Cli::new().await;
    let receiver = hub_testkit::webhook_receiver::WebhookReceiver::start("hook secret").await;
    assert!(
        cli.run(&["community", "create", "--slug", "rse", "--name", "RSE"])
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("hook.toml");
    std::fs::write(
        &settings,
        format!("url = \"{}\"\nallow_local = true\n", receiver.url),
    )
    .unwrap();
    let settings = settings.to_str().unwrap();

    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "ulr = \"https://example.org\"\n").unwrap();
    let refused = cli.run_with_input(
        &[
            "channel",
            "add",
            "--community",
            "rse",
            "--kind",
            "webhook",
            "--settings",
            typo.to_str().unwrap(),
            "--secret-stdin",
        ],
        "s\n",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("ulr"), "{}", stderr(&refused));
    let no_members = cli.run_with_input(
        &[
            "channel",
            "add",
            "--community",
            "rse",
            "--kind",
            "webhook",
            "--settings",
            settings,
            "--secret-stdin",
            "--sync",
            "import",
            "--cron",
            "@daily",
        ],
        "hook secret\n",
    );
    assert_eq!(no_members.status.code(), Some(2));
    assert!(stderr(&no_members).contains("no members to sync"));

    let added = cli.run_with_input(
        &[
            "channel",
            "add",
            "--community",
            "rse",
            "--kind",
            "webhook",
            "--name",
            "Team hook",
            "--settings",
            settings,
            "--secret-stdin",
        ],
        "hook secret\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let listed = cli.run(&["channel", "list", "--community", "rse"]);
    assert!(stdout(&listed).contains("Team hook"));

    let no_sync = cli.run(&["sync", "--community", "rse"]);
    assert_eq!(no_sync.status.code(), Some(2));
    assert!(stderr(&no_sync).contains("no channel of the community rse has a sync schedule"));
    let conflicting = cli.run(&["sync", "--community", "rse", "--discard", "--approve"]);
    assert_eq!(
        conflicting.status.code(),
        Some(2),
        "--discard and --approve exclude each other"
    );
    let bad_time = cli.run_with_input(
        &[
            "announce",
            "--community",
            "rse",
            "--title",
            "T",
            "--body-file",
            "-",
            "--at",
            "tomorrow",
        ],
        "x",
    );
    assert_eq!(bad_time.status.code(), Some(2));
    let queued = cli.run_with_input(
        &[
            "announce",
            "--community",
            "rse",
            "--title",
            "Call on Friday",
            "--body-file",
            "-",
            "--channels",
            "Team hook",
        ],
        "Bring **questions**.",
    );
    assert!(queued.status.success(), "{}", stderr(&queued));
    assert_eq!(receiver.stats().total, 0, "announce only queues");

    let mut worker = cli
        .command(&["worker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while receiver.stats().distinct == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the worker delivered nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let pid = worker.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        worker.wait().unwrap().success(),
        "SIGTERM stops the worker cleanly"
    );
    let body = &receiver.bodies()[0];
    assert_eq!(body["announcement"]["title"], "Call on Friday");
    assert_eq!(
        body["announcement"]["body_markdown"],
        "Bring **questions**."
    );
    assert_eq!(
        receiver.stats().refused,
        0,
        "signed with the secret given on stdin"
    );
}

// Multi-threaded: the receiver answers on this runtime while the test waits
// for each blocking `cophub` run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_receiver_refuses_us_waits_until_it_is_reconnected_with_a_new_secret() {
    let cli = Cli::new().await;
    let receiver = hub_testkit::webhook_receiver::WebhookReceiver::start("the new secret").await;
    assert!(
        cli.run(&["community", "create", "--slug", "rse", "--name", "RSE"])
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("hook.toml");
    std::fs::write(
        &settings,
        format!("url = \"{}\"\nallow_local = true\n", receiver.url),
    )
    .unwrap();
    let add = [
        "channel",
        "add",
        "--community",
        "rse",
        "--kind",
        "webhook",
        "--name",
        "Team hook",
        "--settings",
        settings.to_str().unwrap(),
        "--secret-stdin",
    ];
    assert!(
        cli.run_with_input(&add, "the old secret\n")
            .status
            .success()
    );
    let queued = cli.run_with_input(
        &[
            "announce",
            "--community",
            "rse",
            "--title",
            "Hello",
            "--body-file",
            "-",
        ],
        "x",
    );
    assert!(queued.status.success(), "{}", stderr(&queued));

    // The receiver refuses the old signature: the channel needs reconnecting.
    assert!(cli.run(&["worker", "--once"]).status.success());
    assert_eq!(receiver.stats().refused, 1);
    let listed = stdout(&cli.run(&["channel", "list", "--community", "rse"]));
    assert!(listed.contains("needs reconnecting"), "{listed}");
    assert!(cli.run(&["worker", "--once"]).status.success());
    assert_eq!(
        receiver.stats().refused,
        1,
        "nothing is tried until reconnected"
    );

    let reconnect = [
        "channel",
        "reconnect",
        "--community",
        "rse",
        "--channel",
        "Team hook",
        "--secret-stdin",
    ];
    let empty = cli.run_with_input(&reconnect, "\n");
    assert_eq!(empty.status.code(), Some(2));
    assert!(stderr(&empty).contains("empty"), "{}", stderr(&empty));
    let unknown = cli.run(&[
        "channel",
        "reconnect",
        "--community",
        "rse",
        "--channel",
        "Nope",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no channel \"Nope\""));
    let reconnected = cli.run_with_input(&reconnect, "the new secret\n");
    assert!(reconnected.status.success(), "{}", stderr(&reconnected));
    assert!(stdout(&reconnected).contains("Team hook: ok"));

    assert!(cli.run(&["worker", "--once"]).status.success());
    let stats = receiver.stats();
    assert_eq!(
        (stats.distinct, stats.refused),
        (1, 1),
        "delivered once, signed anew"
    );
}
