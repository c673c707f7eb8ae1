//! Calendar files read by the real parsers from PyPI: `icalendar`, and
//! `recurring-ical-events` to expand recurrences (`scripts/peers/ical-check`,
//! in a venv of its own). A test asks what they understood, as JSON, rather
//! than matching our own text with our own expectations.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// Set to `1` (by `scripts/test`) to make a missing parser fail the test
/// instead of skipping it.
pub const REQUIRE_ENV: &str = "COPHUB_TEST_REQUIRE_ICAL";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/peers/ical-check")
}

/// What the parsers understood of `calendar`, occurrences expanded between
/// the dates `window` (`YYYY-MM-DD`, end exclusive) when given; `None` when
/// the parsers cannot be run here and [`REQUIRE_ENV`] is not `1`.
///
/// # Panics
/// When the parsers refuse the file, or cannot run while required.
#[must_use]
pub fn parse(calendar: &str, window: Option<(&str, &str)>) -> Option<serde_json::Value> {
    let mut command = Command::new(script());
    if let Some((from, to)) = window {
        command.args([from, to]);
    }
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "ical-check did not start: {error}"
            );
            eprintln!("skipping the calendar parser check: {error}");
            return None;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(calendar.as_bytes())
            .unwrap_or_else(|e| panic!("could not feed ical-check: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("ical-check did not finish: {e}"));
    assert!(
        output.status.success(),
        "the calendar parsers refused the file: {}\n{calendar}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("ical-check printed no JSON: {e}")),
    )
}
