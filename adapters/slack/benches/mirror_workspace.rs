//! Mirroring a large Slack workspace (`BENCH_USERS`, default 50,000) against
//! hub-testkit's fake Slack with its rate limits off: what the mirror costs
//! in API calls against the least it could take, the CPU time of its plan,
//! and the wall time it would take under Slack's real rate tiers.
//!
//! The hub holds half the workspace already (matched by email), so the plan
//! imports the other half; one conversation holds a tenth of the people, so
//! the export invites the rest. Slack's real tiers (per method, per
//! workspace): users.list Tier 2 (20 a minute), conversations.members Tier 4
//! (100), conversations.invite Tier 3 (50); a burst of one minute's calls is
//! allowed, then the rate holds. Prints raw lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use hub_adapter_slack::{SlackAdapter, SlackApi};
use hub_core::{
    Email,
    ids::MemberId,
    model::{
        member::{ConsentStatus, MemberState},
        sync::SyncDirection,
    },
    ports::adapter::ChannelAdapter,
    sync::{Guardrails, SyncPerson, plan, read_remote},
};
use hub_testkit::slack::FakeSlack;
use serde_json::json;

/// Seconds of CPU this process has used (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Minutes `calls` take under a per-minute limit that allows a minute's burst.
fn minutes_under_tier(calls: u64, per_minute: u64) -> f64 {
    calls.saturating_sub(per_minute) as f64 / per_minute as f64
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(50_000);
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let ids = slack.add_users(users);
    let conversation = slack.create_conversation("community", false);
    for id in ids.iter().step_by(10) {
        slack.join(&conversation, id);
    }
    let already_in = ids.iter().step_by(10).count();
    let adapter = SlackAdapter::new(
        &SlackApi {
            api_url: slack.api_url(),
            timeout: Duration::from_secs(30),
        },
        &json!({"conversations": [conversation]}),
        Some(&slack.bot_token()),
    )
    .unwrap();
    println!(
        "workspace: {users} people (+ Slackbot and the app's bot), one conversation with {already_in} of them"
    );

    // Read: every page of users.list.
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let remote = read_remote(&adapter).await.unwrap();
    let read_wall = wall.elapsed();
    let read_cpu = cpu_seconds() - cpu;
    println!(
        "read: {} members in {} users.list calls, {:.3} s wall, {:.2} s CPU (adapter and fake together, one process)",
        remote.members.len(),
        remote.api_calls,
        read_wall.as_secs_f64(),
        read_cpu
    );

    // Plan: half the workspace is in the hub already, subscribed.
    let hub: Vec<SyncPerson> = (0..users / 2)
        .map(|i| SyncPerson {
            id: MemberId::new(),
            email: Email::parse(&format!("person{i}@example.org")).unwrap(),
            name: format!("Person {i}"),
            state: MemberState::Active,
            consent: ConsentStatus::Subscribed,
        })
        .collect();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let planned = plan(
        SyncDirection::Mirror,
        &hub,
        &remote.members,
        None,
        Guardrails::default(),
    );
    let plan_wall = wall.elapsed();
    let plan_cpu = cpu_seconds() - cpu;
    println!(
        "plan: {} hub adds, {} unchanged, {} to keep in the conversation; {:.3} s wall, {:.2} s CPU",
        planned.hub_adds.len(),
        planned.unchanged,
        planned.group_members.len(),
        plan_wall.as_secs_f64(),
        plan_cpu
    );

    // Export: who is missing from the conversation is invited, 1,000 a call.
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let changes = adapter
        .settle_groups(&planned.group_members, &[])
        .await
        .unwrap();
    let settle_wall = wall.elapsed();
    let settle_cpu = cpu_seconds() - cpu;
    println!(
        "export: {} invited; {:.3} s wall, {:.2} s CPU",
        changes.added,
        settle_wall.as_secs_f64(),
        settle_cpu
    );

    let accounts = (users + 2) as u64; // Slackbot and the app's bot are listed too
    let in_conversation = already_in as u64 + 1; // the bot is a member
    let missing = users as u64 - already_in as u64;
    let minimum = [
        ("users.list", accounts.div_ceil(1000), 20),
        ("conversations.members", in_conversation.div_ceil(1000), 100),
        ("conversations.invite", missing.div_ceil(1000), 50),
        ("auth.test", 1, 100),
    ];
    println!(
        "calls by method: used / least possible (pages and chunks of 1,000) / Slack's tier per minute"
    );
    let mut projected = 0.0;
    for (method, least, per_minute) in minimum {
        let used = slack.calls(method);
        let minutes = minutes_under_tier(used, per_minute);
        projected += minutes;
        println!(
            "  {method}: {used} / {least} / {per_minute} → {minutes:.2} min waiting on the tier"
        );
    }
    println!(
        "total calls: {} (the fake counted every request it got)",
        slack.total_calls()
    );
    println!(
        "projected wall time under Slack's tiers: {projected:.2} min of rate-limit waiting, plus the calls themselves ({} calls at Slack's latency)",
        slack.total_calls()
    );
}
