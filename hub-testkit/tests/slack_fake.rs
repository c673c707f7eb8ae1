#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fake Slack checked against Slack's contract with a plain HTTP client:
//! what a real workspace would answer, so adapter tests can trust it.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use hmac::{Hmac, KeyInit, Mac};
use hub_testkit::slack::{FakeSlack, Fault, NewUser, SlackApp};
use serde_json::{Value, json};
use sha2::Sha256;

fn client() -> reqwest::Client {
    hub_core::tls::init();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POSTs a form with the token as a bearer header, as most clients do.
async fn form(slack: &FakeSlack, token: &str, method: &str, args: &[(&str, &str)]) -> Value {
    client()
        .post(format!("{}{method}", slack.api_url()))
        .bearer_auth(token)
        .form(args)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// GETs with the arguments in the query string.
async fn query(slack: &FakeSlack, token: &str, method: &str, args: &[(&str, &str)]) -> Value {
    client()
        .get(format!("{}{method}", slack.api_url()))
        .bearer_auth(token)
        .query(args)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs a JSON body, token in the header.
async fn post_json(slack: &FakeSlack, token: &str, method: &str, body: &Value) -> Value {
    post_json_raw(slack, token, method, body)
        .await
        .json()
        .await
        .unwrap()
}

async fn post_json_raw(
    slack: &FakeSlack,
    token: &str,
    method: &str,
    body: &Value,
) -> reqwest::Response {
    client()
        .post(format!("{}{method}", slack.api_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn error(answer: &Value) -> &str {
    assert_eq!(answer["ok"], false, "expected a failure, got {answer}");
    answer["error"].as_str().unwrap()
}

fn ok(answer: &Value) {
    assert_eq!(answer["ok"], true, "expected success, got {answer}");
}

#[tokio::test]
async fn users_list_pages_walk_every_user_exactly_once_even_when_short() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(25);
    slack.set_short_pages(true);
    let token = slack.bot_token();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut short_page_with_cursor = false;
    loop {
        let mut args = vec![("limit", "5")];
        if !cursor.is_empty() {
            args.push(("cursor", cursor.as_str()));
        }
        let page = query(&slack, &token, "users.list", &args).await;
        ok(&page);
        let members = page["members"].as_array().unwrap();
        assert!(!members.is_empty() && members.len() <= 5);
        seen.extend(members.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        if members.len() < 5 && !cursor.is_empty() {
            short_page_with_cursor = true;
        }
        if cursor.is_empty() {
            break;
        }
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "a user came twice: {seen:?}");
    assert_eq!(seen.len(), 25 + 2, "people, Slackbot and the app's bot");
    assert!(people.iter().all(|p| distinct.contains(p)));
    assert!(short_page_with_cursor);

    let all = query(&slack, &token, "users.list", &[("limit", "1000")]).await;
    let members = all["members"].as_array().unwrap();
    let slackbot = members.iter().find(|m| m["id"] == "USLACKBOT").unwrap();
    assert_eq!(
        slackbot["is_bot"], false,
        "Slack lists Slackbot with is_bot false"
    );
    let bot = members
        .iter()
        .find(|m| m["id"] == slack.bot_user_id().as_str())
        .unwrap();
    assert_eq!(bot["is_bot"], true);
    assert!(bot["profile"].get("email").is_none());
    let person = members
        .iter()
        .find(|m| m["id"] == people[3].as_str())
        .unwrap();
    assert_eq!(person["real_name"], "Person 3");
    assert_eq!(person["profile"]["email"], "person3@example.org");
    assert_eq!(person["deleted"], false);
}

#[tokio::test]
async fn a_bad_cursor_is_refused_and_a_huge_limit_is_capped() {
    let slack = FakeSlack::start().await;
    slack.add_users(3);
    let token = slack.bot_token();
    let answer = query(&slack, &token, "users.list", &[("cursor", "bm9wZQ==")]).await;
    assert_eq!(error(&answer), "invalid_cursor");
    let answer = query(&slack, &token, "users.list", &[("limit", "5000")]).await;
    ok(&answer);
    assert_eq!(answer["members"].as_array().unwrap().len(), 5);
    assert_eq!(answer["response_metadata"]["next_cursor"], "");
}

#[tokio::test]
async fn tokens_missing_unknown_and_revoked_fail_as_slack_does() {
    let slack = FakeSlack::start().await;
    let url = format!("{}auth.test", slack.api_url());
    let none: Value = client()
        .post(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error(&none), "not_authed");
    let unknown = form(&slack, "xoxb-not-a-token", "auth.test", &[]).await;
    assert_eq!(error(&unknown), "invalid_auth");

    let token = slack.bot_token();
    let fine = form(&slack, &token, "auth.test", &[]).await;
    ok(&fine);
    assert_eq!(fine["team_id"], "T0FAKE");
    assert_eq!(fine["team"], "Fake Workspace");
    assert_eq!(fine["user_id"], slack.bot_user_id().as_str());
    assert_eq!(fine["url"], "https://fake.slack.com/");
    assert!(fine["bot_id"].as_str().unwrap().starts_with('B'));

    // The token may also come as a form field...
    let as_field: Value = client()
        .post(&url)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ok(&as_field);
    // ...but not inside a JSON body, where Slack wants the header.
    let in_json: Value = client()
        .post(&url)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error(&in_json), "not_authed");

    slack.revoke(&token);
    let revoked = form(&slack, &token, "auth.test", &[]).await;
    assert_eq!(error(&revoked), "token_revoked");
}

#[tokio::test]
async fn read_methods_ignore_json_bodies() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let ada = slack.add_user(NewUser::person("Ada Lovelace", "ada@example.org"));
    let channel = slack.create_conversation("general", false);

    let by_json = post_json(
        &slack,
        &token,
        "users.lookupByEmail",
        &json!({"email": "ada@example.org"}),
    )
    .await;
    assert_eq!(error(&by_json), "invalid_arguments");
    let by_form = form(
        &slack,
        &token,
        "users.lookupByEmail",
        &[("email", "ADA@example.org")],
    )
    .await;
    ok(&by_form);
    assert_eq!(by_form["user"]["id"], ada.as_str());
    assert_eq!(by_form["user"]["name"], "ada.lovelace");
    let missing = query(
        &slack,
        &token,
        "users.lookupByEmail",
        &[("email", "nobody@example.org")],
    )
    .await;
    assert_eq!(error(&missing), "users_not_found");

    let members = post_json(
        &slack,
        &token,
        "conversations.members",
        &json!({"channel": channel}),
    )
    .await;
    assert_eq!(error(&members), "channel_not_found");
    let members = query(
        &slack,
        &token,
        "conversations.members",
        &[("channel", &channel)],
    )
    .await;
    assert_eq!(members["members"], json!([slack.bot_user_id()]));
}

#[tokio::test]
async fn unknown_methods_are_404() {
    let slack = FakeSlack::start().await;
    let response = client()
        .post(format!("{}chat.postMessages", slack.api_url()))
        .bearer_auth(slack.bot_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error(&body), "unknown_method");
}

#[tokio::test]
async fn invite_without_force_invites_nobody_when_one_fails() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let people = slack.add_users(2);
    let channel = slack.create_conversation("team", false);
    let users = format!("{},{},UNOBODY0", people[0], people[1]);
    let answer = form(
        &slack,
        &token,
        "conversations.invite",
        &[("channel", &channel), ("users", &users)],
    )
    .await;
    assert_eq!(error(&answer), "user_not_found");
    assert_eq!(answer["errors"][0]["user"], "UNOBODY0");
    assert_eq!(answer["errors"][0]["ok"], false);
    assert_eq!(slack.members(&channel), vec![slack.bot_user_id()]);
}

#[tokio::test]
async fn invite_with_force_invites_the_valid_ones_and_lists_the_rest() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let people = slack.add_users(3);
    let channel = slack.create_conversation("team", true);
    slack.join(&channel, &people[2]);
    let answer = post_json(
        &slack,
        &token,
        "conversations.invite",
        &json!({
            "channel": channel,
            "users": format!("{},{},UNOBODY0,{},{}", people[0], people[1], people[2], slack.bot_user_id()),
            "force": true,
        }),
    )
    .await;
    ok(&answer);
    let errors: Vec<(String, String)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["ok"], false);
            (
                e["user"].as_str().unwrap().to_owned(),
                e["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("UNOBODY0".to_owned(), "user_not_found".to_owned()),
            (people[2].clone(), "already_in_channel".to_owned()),
            (slack.bot_user_id(), "cant_invite_self".to_owned()),
        ]
    );
    let members = slack.members(&channel);
    assert!(people.iter().all(|p| members.contains(p)));
    assert_eq!(answer["channel"]["num_members"], 4);
}

#[tokio::test]
async fn invite_needs_the_bot_in_the_channel_and_a_short_list() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let people = slack.add_users(1001);
    let channel = slack.create_conversation("team", false);
    let too_many = people.join(",");
    let answer = form(
        &slack,
        &token,
        "conversations.invite",
        &[("channel", &channel), ("users", &too_many)],
    )
    .await;
    assert_eq!(error(&answer), "too_many_users");
    let empty = form(
        &slack,
        &token,
        "conversations.invite",
        &[("channel", &channel)],
    )
    .await;
    assert_eq!(error(&empty), "no_user");

    let kicked = form(
        &slack,
        &token,
        "conversations.kick",
        &[("channel", &channel), ("user", &slack.bot_user_id())],
    )
    .await;
    assert_eq!(error(&kicked), "cant_kick_self");
    slack.join(&channel, &people[0]);
    let kicked = form(
        &slack,
        &token,
        "conversations.kick",
        &[("channel", &channel), ("user", &people[0])],
    )
    .await;
    ok(&kicked);
    let again = form(
        &slack,
        &token,
        "conversations.kick",
        &[("channel", &channel), ("user", &people[0])],
    )
    .await;
    assert_eq!(error(&again), "not_in_channel");

    slack.leave(&channel, &slack.bot_user_id());
    let outside = form(
        &slack,
        &token,
        "conversations.invite",
        &[("channel", &channel), ("users", &people[1])],
    )
    .await;
    assert_eq!(error(&outside), "not_in_channel");
}

#[tokio::test]
async fn conversations_follow_the_naming_rules_and_joining_rules() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    for (name, expected) in [
        ("", "invalid_name_required"),
        ("Announcements", "invalid_name_specials"),
        ("news feed", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
        (&"a".repeat(81), "invalid_name_maxlength"),
    ] {
        let answer = form(&slack, &token, "conversations.create", &[("name", name)]).await;
        assert_eq!(error(&answer), expected, "name {name:?}");
    }
    let created = form(
        &slack,
        &token,
        "conversations.create",
        &[("name", "cop-news_2")],
    )
    .await;
    ok(&created);
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    assert!(channel.starts_with('C'));
    assert_eq!(created["channel"]["is_member"], true);
    assert_eq!(created["channel"]["is_private"], false);
    let taken = form(
        &slack,
        &token,
        "conversations.create",
        &[("name", "cop-news_2")],
    )
    .await;
    assert_eq!(error(&taken), "name_taken");

    let private = post_json(
        &slack,
        &token,
        "conversations.create",
        &json!({"name": "staff", "is_private": true}),
    )
    .await;
    ok(&private);
    let private_id = private["channel"]["id"].as_str().unwrap().to_owned();
    let join = form(
        &slack,
        &token,
        "conversations.join",
        &[("channel", &private_id)],
    )
    .await;
    assert_eq!(error(&join), "method_not_supported_for_channel_type");
    let join = form(
        &slack,
        &token,
        "conversations.join",
        &[("channel", &channel)],
    )
    .await;
    ok(&join);
    assert_eq!(join["warning"], "already_in_channel");

    let public_only = query(&slack, &token, "conversations.list", &[]).await;
    assert_eq!(public_only["channels"].as_array().unwrap().len(), 1);
    let both = query(
        &slack,
        &token,
        "conversations.list",
        &[
            ("types", "public_channel,private_channel"),
            ("exclude_archived", "true"),
        ],
    )
    .await;
    assert_eq!(both["channels"].as_array().unwrap().len(), 2);
    slack.archive(&channel);
    let both = query(
        &slack,
        &token,
        "conversations.list",
        &[
            ("types", "public_channel,private_channel"),
            ("exclude_archived", "true"),
        ],
    )
    .await;
    assert_eq!(both["channels"].as_array().unwrap().len(), 1);
    let person = slack.add_users(1).remove(0);
    let kicked = form(
        &slack,
        &token,
        "conversations.kick",
        &[("channel", &channel), ("user", &person)],
    )
    .await;
    assert_eq!(error(&kicked), "is_archived");
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

#[tokio::test]
async fn post_message_enforces_block_kit_limits() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    let post = |body: Value| {
        let slack = slack.clone();
        let token = token.clone();
        async move { post_json(&slack, &token, "chat.postMessage", &body).await }
    };

    let fifty_one: Vec<Value> = (0..51).map(|i| section(&format!("block {i}"))).collect();
    let answer = post(json!({"channel": channel, "text": "t", "blocks": fifty_one})).await;
    assert_eq!(error(&answer), "invalid_blocks");
    let answer =
        post(json!({"channel": channel, "text": "t", "blocks": [section(&"x".repeat(3001))]}))
            .await;
    assert_eq!(error(&answer), "invalid_blocks");
    let header = json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}});
    let answer = post(json!({"channel": channel, "text": "t", "blocks": [header]})).await;
    assert_eq!(error(&answer), "invalid_blocks");
    let answer = post(json!({"channel": channel, "text": "x".repeat(40_001)})).await;
    assert_eq!(error(&answer), "msg_too_long");
    let answer = post(json!({"channel": channel})).await;
    assert_eq!(error(&answer), "no_text");
    let answer = post(json!({"channel": channel, "text": "t", "blocks": "not json"})).await;
    assert_eq!(error(&answer), "invalid_blocks_format");

    // Five sections of 2,500 characters: each fine, together over 12,000.
    let five: Vec<Value> = (0..5).map(|_| section(&"y".repeat(2500))).collect();
    let answer = post(json!({"channel": channel, "text": "t", "blocks": five})).await;
    assert_eq!(error(&answer), "msg_blocks_too_long");
    slack.set_blocks_limit(13_000);
    let answer = post(json!({"channel": channel, "text": "t", "blocks": five})).await;
    ok(&answer);
    slack.set_blocks_limit(100);
    let answer =
        post(json!({"channel": channel, "text": "t", "blocks": [section(&"z".repeat(101))]})).await;
    assert_eq!(error(&answer), "msg_blocks_too_long");
    assert_eq!(slack.messages(&channel).len(), 1);
}

#[tokio::test]
async fn post_message_posts_to_channels_threads_and_carries_metadata() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    let blocks = json!([section("*Hello*")]);
    // A form post carries blocks and metadata as JSON strings.
    let metadata = json!({"event_type": "announcement_posted", "event_payload": {"id": "a1"}});
    let answer = form(
        &slack,
        &token,
        "chat.postMessage",
        &[
            ("channel", channel.as_str()),
            ("text", "Hello"),
            ("blocks", &blocks.to_string()),
            ("metadata", &metadata.to_string()),
            ("mrkdwn", "true"),
        ],
    )
    .await;
    ok(&answer);
    assert_eq!(answer["channel"], channel.as_str());
    let ts = answer["ts"].as_str().unwrap().to_owned();
    let (seconds, micros) = ts.split_once('.').unwrap();
    assert_eq!(seconds.len(), 10);
    assert_eq!(micros.len(), 6);
    assert_eq!(answer["message"]["type"], "message");
    assert_eq!(answer["message"]["ts"], ts.as_str());
    assert_eq!(answer["message"]["user"], slack.bot_user_id().as_str());
    assert_eq!(answer["message"]["blocks"], blocks);
    assert_eq!(answer["message"]["metadata"], metadata);

    let reply = post_json(
        &slack,
        &token,
        "chat.postMessage",
        &json!({"channel": channel, "text": "a reply", "thread_ts": ts}),
    )
    .await;
    ok(&reply);
    assert!(reply["ts"].as_str().unwrap() > ts.as_str());
    let orphan = post_json(
        &slack,
        &token,
        "chat.postMessage",
        &json!({"channel": channel, "text": "lost", "thread_ts": "1000000000.000001"}),
    )
    .await;
    assert_eq!(error(&orphan), "thread_not_found");
    let bad_metadata = post_json(
        &slack,
        &token,
        "chat.postMessage",
        &json!({"channel": channel, "text": "m", "metadata": {"event_type": "x"}}),
    )
    .await;
    assert_eq!(error(&bad_metadata), "invalid_metadata_schema");

    let messages = slack.messages(&channel);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].metadata, Some(metadata));
    assert_eq!(messages[1].thread_ts.as_deref(), Some(ts.as_str()));

    let unknown = form(
        &slack,
        &token,
        "chat.postMessage",
        &[("channel", "C99999999"), ("text", "x")],
    )
    .await;
    assert_eq!(error(&unknown), "channel_not_found");
}

#[tokio::test]
async fn posting_and_reading_need_the_bot_in_the_channel() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("general", false);
    let secret = slack.create_conversation("secret", true);
    let bot = slack.bot_user_id();
    slack.leave(&channel, &bot);
    slack.leave(&secret, &bot);

    let answer = form(
        &slack,
        &token,
        "chat.postMessage",
        &[("channel", &channel), ("text", "hi")],
    )
    .await;
    assert_eq!(error(&answer), "not_in_channel");
    let answer = query(
        &slack,
        &token,
        "conversations.history",
        &[("channel", &channel)],
    )
    .await;
    assert_eq!(error(&answer), "not_in_channel");
    // A private channel the bot is not in does not exist for it.
    let answer = form(
        &slack,
        &token,
        "chat.postMessage",
        &[("channel", &secret), ("text", "hi")],
    )
    .await;
    assert_eq!(error(&answer), "channel_not_found");
    let answer = form(
        &slack,
        &token,
        "conversations.join",
        &[("channel", &secret)],
    )
    .await;
    assert_eq!(error(&answer), "channel_not_found");

    let joined = form(
        &slack,
        &token,
        "conversations.join",
        &[("channel", &channel)],
    )
    .await;
    ok(&joined);
    assert_eq!(joined["channel"]["is_member"], true);
    assert!(joined.get("warning").is_none());
    // The chat methods also take a channel name.
    let by_name = form(
        &slack,
        &token,
        "chat.postMessage",
        &[("channel", "#general"), ("text", "hi")],
    )
    .await;
    ok(&by_name);
    assert_eq!(by_name["channel"], channel.as_str());
    assert_eq!(slack.messages(&channel).len(), 1);
}

#[tokio::test]
async fn a_second_post_to_a_channel_within_a_second_is_rate_limited() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let first = slack.create_conversation("one", false);
    let second = slack.create_conversation("two", false);
    let post = |channel: String| {
        let slack = slack.clone();
        let token = token.clone();
        async move {
            post_json_raw(
                &slack,
                &token,
                "chat.postMessage",
                &json!({"channel": channel, "text": "hi"}),
            )
            .await
        }
    };
    let response = post(first.clone()).await;
    assert_eq!(response.status(), 200);
    let response = post(first.clone()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error(&body), "ratelimited");
    // Another channel is not held back.
    assert_eq!(post(second).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(post(first.clone()).await.status(), 200);
    assert_eq!(slack.messages(&first).len(), 2);
    assert_eq!(slack.calls("chat.postMessage"), 4);
}

#[tokio::test]
async fn users_list_is_tier_2_twenty_a_minute() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    for _ in 0..20 {
        let page = query(&slack, &token, "users.list", &[]).await;
        ok(&page);
    }
    let response = client()
        .get(format!("{}users.list", slack.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error(&body), "ratelimited");
    assert_eq!(slack.calls("users.list"), 21);
    // Other methods have their own window.
    ok(&form(&slack, &token, "auth.test", &[]).await);
    slack.set_rate_limits(false);
    ok(&query(&slack, &token, "users.list", &[]).await);
}

#[tokio::test]
async fn scripted_faults_come_in_order_and_count_as_calls() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    let body = json!({"channel": channel, "text": "hi"});
    slack.fail_next("chat.postMessage", Fault::Status(503));
    slack.fail_next("chat.postMessage", Fault::RateLimited(7));
    slack.fail_next(
        "chat.postMessage",
        Fault::SlackError("fatal_error".to_owned()),
    );
    slack.fail_next("chat.postMessage", Fault::Malformed);

    let response = post_json_raw(&slack, &token, "chat.postMessage", &body).await;
    assert_eq!(response.status(), 503);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
    let response = post_json_raw(&slack, &token, "chat.postMessage", &body).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let answer = post_json(&slack, &token, "chat.postMessage", &body).await;
    assert_eq!(error(&answer), "fatal_error");
    let response = post_json_raw(&slack, &token, "chat.postMessage", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "<html>oops");
    assert!(
        slack.messages(&channel).is_empty(),
        "no fault carried the post out"
    );
    ok(&post_json(&slack, &token, "chat.postMessage", &body).await);
    assert_eq!(slack.messages(&channel).len(), 1);
    assert_eq!(slack.calls("chat.postMessage"), 5);
    assert_eq!(slack.total_calls(), 5);
}

#[tokio::test]
async fn after_effect_posts_then_times_the_client_out_and_hang_answers_late() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    slack.fail_next(
        "chat.postMessage",
        Fault::AfterEffect(Duration::from_millis(1500)),
    );
    hub_core::tls::init();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = impatient
        .post(format!("{}chat.postMessage", slack.api_url()))
        .bearer_auth(&token)
        .json(&json!({"channel": channel, "text": "posted anyway"}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(
        slack.messages(&channel).len(),
        1,
        "the post was made before the timeout"
    );

    slack.fail_next("auth.test", Fault::Hang(Duration::from_millis(300)));
    let started = Instant::now();
    let answer = form(&slack, &token, "auth.test", &[]).await;
    ok(&answer);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn schedule_message_refuses_the_past_and_the_far_future() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    let now = chrono::Utc::now().timestamp();
    let schedule = |post_at: i64| {
        let slack = slack.clone();
        let token = token.clone();
        let channel = channel.clone();
        async move {
            form(
                &slack,
                &token,
                "chat.scheduleMessage",
                &[
                    ("channel", channel.as_str()),
                    ("text", "later"),
                    ("post_at", &post_at.to_string()),
                ],
            )
            .await
        }
    };
    assert_eq!(error(&schedule(now - 60).await), "time_in_past");
    assert_eq!(error(&schedule(now + 121 * 86_400).await), "time_too_far");
    let answer = schedule(now + 3600).await;
    ok(&answer);
    let id = answer["scheduled_message_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('Q'));
    assert_eq!(answer["post_at"], now + 3600);
    assert_eq!(answer["channel"], channel.as_str());
    assert_eq!(answer["message"]["text"], "later");
    let scheduled = slack.scheduled(&channel);
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].id, id);
    assert_eq!(scheduled[0].post_at, now + 3600);

    let listed = query(
        &slack,
        &token,
        "chat.scheduledMessages.list",
        &[("channel", &channel)],
    )
    .await;
    ok(&listed);
    assert_eq!(listed["scheduled_messages"][0]["id"], id.as_str());
    assert_eq!(
        listed["scheduled_messages"][0]["channel_id"],
        channel.as_str()
    );
    assert_eq!(listed["response_metadata"]["next_cursor"], "");
    let wrong = query(
        &slack,
        &token,
        "chat.scheduledMessages.list",
        &[("channel", "C99999999")],
    )
    .await;
    assert_eq!(error(&wrong), "invalid_channel");

    let unknown = form(
        &slack,
        &token,
        "chat.deleteScheduledMessage",
        &[
            ("channel", &channel),
            ("scheduled_message_id", "Q000000999"),
        ],
    )
    .await;
    assert_eq!(error(&unknown), "invalid_scheduled_message_id");
    let deleted = post_json(
        &slack,
        &token,
        "chat.deleteScheduledMessage",
        &json!({"channel": channel, "scheduled_message_id": id}),
    )
    .await;
    ok(&deleted);
    assert!(slack.scheduled(&channel).is_empty());

    ok(&schedule(now + 60).await);
    assert_eq!(slack.post_due_scheduled(now + 120), 1);
    assert_eq!(slack.messages(&channel)[0].text, "later");
}

#[tokio::test]
async fn history_is_newest_first_without_replies_and_metadata_on_request() {
    let slack = FakeSlack::start().await;
    slack.set_rate_limits(false);
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    let person = slack.add_users(1).remove(0);
    slack.join(&channel, &person);
    let theirs = slack.post_as(&channel, &person, "hello from a person");
    let mut ours = Vec::new();
    for i in 0..4 {
        let answer = post_json(
            &slack,
            &token,
            "chat.postMessage",
            &json!({
                "channel": channel,
                "text": format!("message {i}"),
                "metadata": {"event_type": "announcement", "event_payload": {"n": i}},
            }),
        )
        .await;
        ok(&answer);
        ours.push(answer["ts"].as_str().unwrap().to_owned());
    }
    let reply = post_json(
        &slack,
        &token,
        "chat.postMessage",
        &json!({"channel": channel, "text": "reply", "thread_ts": ours[0]}),
    )
    .await;
    ok(&reply);

    let page = query(
        &slack,
        &token,
        "conversations.history",
        &[("channel", &channel), ("limit", "3")],
    )
    .await;
    ok(&page);
    let messages = page["messages"].as_array().unwrap();
    let stamps: Vec<&str> = messages.iter().map(|m| m["ts"].as_str().unwrap()).collect();
    assert_eq!(
        stamps,
        vec![ours[3].as_str(), ours[2].as_str(), ours[1].as_str()]
    );
    assert!(messages.iter().all(|m| m.get("metadata").is_none()));
    assert_eq!(page["has_more"], true);
    let cursor = page["response_metadata"]["next_cursor"].as_str().unwrap();
    let rest = post_json(
        &slack,
        &token,
        "conversations.history",
        &json!({"channel": channel, "cursor": cursor, "include_all_metadata": true}),
    )
    .await;
    ok(&rest);
    let rest = rest["messages"].as_array().unwrap();
    assert_eq!(rest.len(), 2, "the reply is not in the history");
    assert_eq!(rest[0]["ts"], ours[0].as_str());
    assert_eq!(rest[0]["reply_count"], 1);
    assert_eq!(rest[0]["metadata"]["event_payload"]["n"], 0);
    assert_eq!(rest[1]["ts"], theirs.as_str());

    let window = query(
        &slack,
        &token,
        "conversations.history",
        &[
            ("channel", &channel),
            ("oldest", &ours[1]),
            ("latest", &ours[3]),
        ],
    )
    .await;
    assert_eq!(window["messages"].as_array().unwrap().len(), 1);

    // chat.update marks the message edited; someone else's cannot be touched.
    let updated = form(
        &slack,
        &token,
        "chat.update",
        &[
            ("channel", &channel),
            ("ts", &ours[1]),
            ("text", "message 1, corrected"),
        ],
    )
    .await;
    ok(&updated);
    let refused = form(
        &slack,
        &token,
        "chat.update",
        &[("channel", &channel), ("ts", &theirs), ("text", "no")],
    )
    .await;
    assert_eq!(error(&refused), "cant_update_message");
    let missing = form(
        &slack,
        &token,
        "chat.update",
        &[
            ("channel", &channel),
            ("ts", "1000000000.000001"),
            ("text", "no"),
        ],
    )
    .await;
    assert_eq!(error(&missing), "message_not_found");

    // Deleting the parent keeps its reply.
    let deleted = form(
        &slack,
        &token,
        "chat.delete",
        &[("channel", &channel), ("ts", &ours[0])],
    )
    .await;
    ok(&deleted);
    let again = form(
        &slack,
        &token,
        "chat.delete",
        &[("channel", &channel), ("ts", &ours[0])],
    )
    .await;
    assert_eq!(error(&again), "message_not_found");
    let messages = slack.messages(&channel);
    assert_eq!(messages.len(), 5);
    assert!(messages.iter().all(|m| m.ts != ours[0]));
    assert!(
        messages
            .iter()
            .any(|m| m.thread_ts.as_deref() == Some(ours[0].as_str()))
    );
    let edited = messages.iter().find(|m| m.ts == ours[1]).unwrap();
    assert!(edited.edited);
    assert_eq!(edited.text, "message 1, corrected");
}

fn authorize_query(slack: &FakeSlack, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", slack.app().client_id),
        ("scope", scope.to_owned()),
        (
            "redirect_uri",
            "http://localhost:9999/slack/callback".to_owned(),
        ),
        ("state", "s-123".to_owned()),
    ]
}

/// Opens the consent page and answers it; returns the redirect.
async fn consent(slack: &FakeSlack, scope: &str, decision: &str) -> reqwest::Url {
    let page = client()
        .get(slack.authorize_url())
        .query(&authorize_query(slack, scope))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let request = html
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let answer = client()
        .post(slack.authorize_url())
        .form(&[("request", request.as_str()), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn oauth_consent_page_offers_allow_and_cancel() {
    let slack = FakeSlack::start().await;
    let page = client()
        .get(slack.authorize_url())
        .query(&authorize_query(&slack, "chat:write,users:read"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Fake Workspace wants"));
    assert!(html.contains(">Allow</button>") && html.contains("id=\"allow\""));
    assert!(html.contains(">Cancel</button>") && html.contains("id=\"cancel\""));
    assert!(html.contains("chat:write") && html.contains("users:read"));

    let mut wrong_client = authorize_query(&slack, "chat:write");
    wrong_client[0].1 = "9999.9999".to_owned();
    let page = client()
        .get(slack.authorize_url())
        .query(&wrong_client)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let legacy = client()
        .get(slack.authorize_url())
        .query(&authorize_query(&slack, "bot,chat:write:bot"))
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 400);
    assert!(legacy.text().await.unwrap().contains("invalid_scope"));

    let cancelled = consent(&slack, "chat:write", "cancel").await;
    assert_eq!(cancelled.path(), "/slack/callback");
    assert_eq!(param(&cancelled, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&cancelled, "state").as_deref(), Some("s-123"));
    assert!(param(&cancelled, "code").is_none());
}

#[tokio::test]
async fn oauth_code_gives_a_working_token_once() {
    let slack = FakeSlack::start().await;
    let scopes = "chat:write,users:read,channels:read";
    let redirect = consent(&slack, scopes, "allow").await;
    assert_eq!(param(&redirect, "state").as_deref(), Some("s-123"));
    let code = param(&redirect, "code").unwrap();
    let app = slack.app();
    let access_url = format!("{}oauth.v2.access", slack.api_url());
    let exchange = |code: String, redirect_uri: &'static str, secret: String| {
        let url = access_url.clone();
        let id = app.client_id.clone();
        async move {
            client()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("code", code.as_str()), ("redirect_uri", redirect_uri)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let wrong_secret = exchange(
        code.clone(),
        "http://localhost:9999/slack/callback",
        "nope".to_owned(),
    )
    .await;
    assert_eq!(error(&wrong_secret), "bad_client_secret");
    let wrong_redirect = exchange(
        code.clone(),
        "http://localhost:9999/other",
        app.client_secret.clone(),
    )
    .await;
    assert_eq!(error(&wrong_redirect), "bad_redirect_uri");
    let granted = exchange(
        code.clone(),
        "http://localhost:9999/slack/callback",
        app.client_secret.clone(),
    )
    .await;
    ok(&granted);
    assert_eq!(granted["token_type"], "bot");
    assert_eq!(granted["scope"], scopes);
    assert_eq!(granted["app_id"], "A0FAKE");
    assert_eq!(granted["bot_user_id"], slack.bot_user_id().as_str());
    assert_eq!(
        granted["team"],
        json!({"id": "T0FAKE", "name": "Fake Workspace"})
    );
    assert_eq!(granted["enterprise"], Value::Null);
    assert_eq!(granted["is_enterprise_install"], false);
    assert!(
        granted["authed_user"]["id"]
            .as_str()
            .unwrap()
            .starts_with('U')
    );
    let token = granted["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("xoxb-"));
    assert_ne!(token, slack.bot_token());
    ok(&form(&slack, &token, "auth.test", &[]).await);

    let reused = exchange(
        code,
        "http://localhost:9999/slack/callback",
        app.client_secret.clone(),
    )
    .await;
    assert_eq!(error(&reused), "invalid_code");

    // The client may also send its credentials as form fields.
    let second = consent(&slack, scopes, "allow").await;
    let fields: Value = client()
        .post(&access_url)
        .form(&[
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("code", &param(&second, "code").unwrap()),
            ("redirect_uri", "http://localhost:9999/slack/callback"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ok(&fields);
    // Both installs' tokens work.
    ok(&form(&slack, &token, "auth.test", &[]).await);
    ok(&form(
        &slack,
        fields["access_token"].as_str().unwrap(),
        "auth.test",
        &[],
    )
    .await);

    // The token only has the scopes granted: no emails, no lookups.
    let users = query(&slack, &token, "users.list", &[]).await;
    ok(&users);
    slack.add_user(NewUser::person("Ada Lovelace", "ada@example.org"));
    let users = query(&slack, &token, "users.list", &[]).await;
    assert!(
        users["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["profile"].get("email").is_none())
    );
    let lookup = query(
        &slack,
        &token,
        "users.lookupByEmail",
        &[("email", "ada@example.org")],
    )
    .await;
    assert_eq!(error(&lookup), "missing_scope");
    assert_eq!(lookup["needed"], "users:read.email");
}

#[tokio::test]
async fn rotating_tokens_refresh_once_and_expire() {
    let slack = FakeSlack::start().await;
    slack.set_token_rotation(true);
    let redirect = consent(&slack, "chat:write", "allow").await;
    let app = slack.app();
    let access_url = format!("{}oauth.v2.access", slack.api_url());
    let granted: Value = client()
        .post(&access_url)
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&[
            ("code", param(&redirect, "code").unwrap().as_str()),
            ("redirect_uri", "http://localhost:9999/slack/callback"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ok(&granted);
    assert_eq!(granted["expires_in"], 43_200);
    let refresh = granted["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.starts_with("xoxe-1-"));
    let refresh_with = |refresh: String| {
        let url = access_url.clone();
        let app = app.clone();
        async move {
            client()
                .post(url)
                .form(&[
                    ("client_id", app.client_id.as_str()),
                    ("client_secret", app.client_secret.as_str()),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let renewed = refresh_with(refresh.clone()).await;
    ok(&renewed);
    assert_ne!(renewed["access_token"], granted["access_token"]);
    assert_ne!(renewed["refresh_token"], granted["refresh_token"]);
    let again = refresh_with(refresh).await;
    assert_eq!(error(&again), "invalid_refresh_token");

    let token = renewed["access_token"].as_str().unwrap().to_owned();
    ok(&form(&slack, &token, "auth.test", &[]).await);
    slack.expire(&token);
    assert_eq!(
        error(&form(&slack, &token, "auth.test", &[]).await),
        "token_expired"
    );
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

async fn receive(
    State(received): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    received
        .0
        .lock()
        .unwrap()
        .push((headers, String::from_utf8(body.to_vec()).unwrap()));
    "ok"
}

async fn receiver() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/slack/events", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/slack/events"), received)
}

fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn events_arrive_in_a_signed_envelope() {
    let app = SlackApp {
        signing_secret: "8f742231b10e8888abcd99yyyzzz85a5".to_owned(),
        ..SlackApp::default()
    };
    let slack = FakeSlack::start_with(app.clone(), "T0TEAM01", "Team One").await;
    let (url, received) = receiver().await;
    let event =
        json!({"type": "member_joined_channel", "user": "U00000001", "channel": "C00000001"});
    let response = slack.deliver_event(&url, event.clone()).await;
    assert_eq!(response.status(), 200);
    let response = slack.deliver_event(&url, event.clone()).await;
    assert_eq!(response.status(), 200);
    let response = slack
        .deliver_signed(&url, "{\"type\":\"app_rate_limited\"}", Some(2))
        .await;
    assert_eq!(response.status(), 200);

    let received = received.0.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let mut event_ids = BTreeSet::new();
    for (headers, body) in &received {
        let timestamp = headers["x-slack-request-timestamp"].to_str().unwrap();
        let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
        assert!((0..=5).contains(&age));
        assert_eq!(
            headers["x-slack-signature"].to_str().unwrap(),
            expected_signature(&app.signing_secret, timestamp, body)
        );
        assert_eq!(
            slack.sign(timestamp.parse().unwrap(), body),
            expected_signature(&app.signing_secret, timestamp, body)
        );
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
    for (headers, body) in &received[..2] {
        assert!(headers.get("x-slack-retry-num").is_none());
        let envelope: Value = serde_json::from_str(body).unwrap();
        assert_eq!(envelope["type"], "event_callback");
        assert_eq!(envelope["team_id"], "T0TEAM01");
        assert_eq!(envelope["api_app_id"], "A0FAKE");
        assert_eq!(envelope["event"], event);
        assert!(envelope["token"].is_string());
        assert!(envelope["event_time"].is_i64());
        assert_eq!(
            envelope["authorizations"][0]["user_id"],
            slack.bot_user_id().as_str()
        );
        assert_eq!(envelope["authorizations"][0]["is_bot"], true);
        let id = envelope["event_id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("Ev"));
        event_ids.insert(id);
    }
    assert_eq!(event_ids.len(), 2, "event ids are unique");
    let (retry_headers, retry_body) = &received[2];
    assert_eq!(retry_headers["x-slack-retry-num"], "2");
    assert_eq!(retry_headers["x-slack-retry-reason"], "http_timeout");
    assert_eq!(retry_body, "{\"type\":\"app_rate_limited\"}");
}

#[tokio::test]
async fn the_server_stops_on_shutdown() {
    let slack = FakeSlack::start().await;
    let url = format!("{}auth.test", slack.api_url());
    assert!(client().post(&url).send().await.is_ok());
    slack.shutdown().await;
    assert!(client().post(&url).send().await.is_err());
}

#[tokio::test]
async fn a_hang_the_client_gives_up_on_is_never_carried_out() {
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let channel = slack.create_conversation("news", false);
    slack.fail_next("chat.postMessage", Fault::Hang(Duration::from_millis(500)));
    hub_core::tls::init();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let result = impatient
        .post(format!("{}chat.postMessage", slack.api_url()))
        .bearer_auth(&token)
        .json(&json!({"channel": channel, "text": "never"}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(slack.messages(&channel).is_empty());
    assert_eq!(slack.calls("chat.postMessage"), 1);
}

#[tokio::test]
async fn replies_list_a_thread_top_message_first_with_metadata_when_asked() {
    hub_core::tls::init();
    let slack = FakeSlack::start().await;
    let token = slack.bot_token();
    let channel = slack.create_conversation("replies", false);
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        let client = client.clone();
        let url = format!("{}chat.postMessage", slack.api_url());
        let token = token.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    slack.set_rate_limits(false);
    let top = post(json!({"channel": channel, "text": "top"})).await;
    let ts = top["ts"].as_str().unwrap().to_owned();
    post(json!({"channel": channel, "text": "one", "thread_ts": ts,
        "metadata": {"event_type": "t", "event_payload": {"n": 1}}}))
    .await;
    post(json!({"channel": channel, "text": "two", "thread_ts": ts})).await;
    let answer = query(
        &slack,
        &token,
        "conversations.replies",
        &[
            ("channel", channel.as_str()),
            ("ts", ts.as_str()),
            ("include_all_metadata", "true"),
        ],
    )
    .await;
    let texts: Vec<&str> = answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["top", "one", "two"]);
    assert_eq!(answer["messages"][1]["metadata"]["event_payload"]["n"], 1);
    let missing = query(
        &slack,
        &token,
        "conversations.replies",
        &[("channel", channel.as_str()), ("ts", "1.000001")],
    )
    .await;
    assert_eq!(error(&missing), "thread_not_found");
}
