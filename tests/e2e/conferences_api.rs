//! Peer conferences as a lead's script meets them through the JSON API:
//! created and refused, their rooms and slots, their phases, and a whole
//! run — ranking, merging, building, pinning, publishing, cancelling. The
//! registrants' own steps (register, confirm, propose, vote) happen on the
//! public pages, which need mail; here they are test setup, made through
//! the store and hub-core directly, and the API under test is the lead's.

use chrono::{Duration, Utc};
use hub_core::{
    Email,
    conferences::sessions::{self, ProposalRequest},
    ids::{ConferenceId, ProposalId, RegistrationId},
    model::{
        audit::NewAuditEvent,
        conference::{Conference, Registration, RegistrationStatus},
    },
    ports::store::Store,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app},
};

const CONFERENCES: &str = "/api/v1/communities/rse/conferences";
const CONFERENCE: &str = "/api/v1/communities/rse/conferences/unconf";

async fn owner_app() -> (TestApp, String) {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    (app, token)
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = api(app, token, method, path).await;
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn unconf(capacity: u32, vote_budget: u32) -> Value {
    json!({
        "slug": "unconf",
        "name": "RSE Unconference",
        "description": "Sessions chosen by the people who come.",
        "starts_on": "2027-03-04",
        "ends_on": "2027-03-05",
        "timezone": "Europe/Berlin",
        "venue": "Berlin",
        "capacity": capacity,
        "vote_budget": vote_budget,
        "show_up_factor": 1.0,
        "ranking_public": true,
    })
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// Creates the conference and answers its id.
async fn create(app: &TestApp, token: &str, capacity: u32, vote_budget: u32) -> ConferenceId {
    let (status, created) = send(
        app,
        token,
        Method::POST,
        CONFERENCES,
        Some(unconf(capacity, vote_budget)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    ConferenceId(created["id"].as_str().unwrap().parse().unwrap())
}

fn two_rooms_two_slots() -> Value {
    json!({
        "rooms": [{"name": "Hall", "capacity": 3}, {"name": "Small", "capacity": 1}],
        "slots": [
            {"starts_at_local": "2027-03-04T09:00", "ends_at_local": "2027-03-04T10:00"},
            {"starts_at_local": "2027-03-04T10:00", "ends_at_local": "2027-03-04T11:00"},
        ],
    })
}

async fn phase(app: &TestApp, token: &str, action: &str) -> (StatusCode, Value) {
    send(
        app,
        token,
        Method::POST,
        &format!("{CONFERENCE}/phase"),
        Some(json!({"action": action})),
    )
    .await
}

fn audit(action: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor: "test".into(),
        action: action.into(),
        community_id: None,
        subject: "unconf".into(),
        details: json!({}),
    }
}

/// A registration made as the public pages would, confirmed unless
/// `confirm` is false.
async fn register(
    store: &dyn Store,
    conference: ConferenceId,
    name: &str,
    confirm: bool,
) -> Registration {
    let now = Utc::now();
    let registration = Registration {
        id: RegistrationId::new(),
        conference_id: conference,
        email: Email::parse(&format!("{name}@example.org")).unwrap(),
        name: name.to_owned(),
        status: RegistrationStatus::Pending,
        created_at: now,
        confirmed_at: None,
        seated_at: None,
        cancelled_at: None,
    };
    store
        .create_registration(&registration, audit("registration.create"))
        .await
        .unwrap();
    if !confirm {
        return registration;
    }
    store
        .confirm_registration(registration.id, now, audit("registration.confirm"))
        .await
        .unwrap()
}

async fn conference(store: &dyn Store, id: ConferenceId) -> Conference {
    store.conference(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_conference_created_through_the_api_reads_back_and_bad_input_is_refused() {
    let (app, token) = owner_app().await;
    let (status, created) = send(
        &app,
        &token,
        Method::POST,
        CONFERENCES,
        Some(unconf(100, 3)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["slug"], "unconf");
    assert_eq!(created["name"], "RSE Unconference");
    assert_eq!(created["starts_on"], "2027-03-04");
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["venue"], "Berlin");
    assert_eq!(created["phase"], "registration");
    assert_eq!(created["registration_open"], true);
    assert_eq!(created["vote_budget"], 3);
    assert_eq!(created["rooms"], json!([]));
    assert_eq!(created["slots"], json!([]));
    assert_eq!(
        created["seats"],
        json!({"seated": 0, "waitlisted": 0, "pending": 0})
    );
    assert_eq!(
        created["public_url"],
        app.url("/c/rse/conferences/unconf").as_str()
    );

    let (status, shown) = send(&app, &token, Method::GET, CONFERENCE, None).await;
    assert_eq!(status, 200);
    assert_eq!(shown, created, "read back as it was answered");
    let (status, listed) = send(&app, &token, Method::GET, CONFERENCES, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], created["id"]);

    let with = |change: Value| {
        let mut body = unconf(100, 3);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (body, status, says) in [
        (
            with(json!({})),
            422,
            "this community has a conference named \"unconf\" already",
        ),
        (
            with(json!({"slug": "other", "timezone": "Mars/Base"})),
            422,
            "\"Mars/Base\" is not a timezone",
        ),
        (
            with(json!({"slug": "other", "starts_on": "4 March"})),
            422,
            "starts_on must be a date",
        ),
        (
            with(json!({"slug": "other", "ends_on": "2027-03-01"})),
            422,
            "the last day must not be before the first day",
        ),
        (
            with(json!({"slug": "other", "capacity": 0})),
            422,
            "the capacity must be between",
        ),
        (
            with(json!({"slug": "other", "show_up_factor": 1.5})),
            422,
            "show-up factor",
        ),
        (with(json!({"slug": "other", "seats": 10})), 400, "seats"),
        (
            with(json!({"slug": "other", "capacity": -1})),
            400,
            "capacity",
        ),
    ] {
        let (got, answer) = send(&app, &token, Method::POST, CONFERENCES, Some(body)).await;
        assert_eq!(got, status, "{answer}");
        assert!(message(&answer).contains(says), "{says}: {answer}");
        let code = if status == 400 {
            "bad_request"
        } else {
            "invalid"
        };
        assert_eq!(answer["error"]["code"], code);
    }
    let (_, listed) = send(&app, &token, Method::GET, CONFERENCES, None).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "nothing refused was kept"
    );

    // A change keeps what it does not name; a null venue makes it online.
    let (status, changed) = send(
        &app,
        &token,
        Method::PATCH,
        CONFERENCE,
        Some(json!({"name": "RSE Unconference 2027", "venue": null, "capacity": 120})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "RSE Unconference 2027");
    assert!(changed["venue"].is_null());
    assert_eq!(changed["capacity"], 120);
    assert_eq!(changed["vote_budget"], 3);
    assert_eq!(changed["description"], created["description"]);
    let (status, answer) = send(
        &app,
        &token,
        Method::PATCH,
        CONFERENCE,
        Some(json!({"vote_budget": 0})),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = send(
        &app,
        &token,
        Method::PATCH,
        CONFERENCE,
        Some(json!({"budget": 4})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = send(
        &app,
        &token,
        Method::GET,
        &format!("{CONFERENCES}/nope"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_grid_is_read_with_the_dashboard_rules_and_refusals_name_the_line() {
    let (app, token) = owner_app().await;
    create(&app, &token, 100, 3).await;
    let grid = format!("{CONFERENCE}/grid");
    let (status, answer) = send(
        &app,
        &token,
        Method::PUT,
        &grid,
        Some(json!({
            "rooms": [{"name": "Hall", "capacity": 80}, {"name": "Small", "capacity": 0}],
            "slots": [],
        })),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(message(&answer).contains("rooms, line 2"), "{answer}");
    assert!(message(&answer).contains("is not a capacity"), "{answer}");

    for (slots, says) in [
        (
            json!([{"starts_at_local": "2027-03-04T23:00", "ends_at_local": "2027-03-05T01:00"}]),
            "slots, line 1: a slot must end on the day it starts",
        ),
        (
            json!([
                {"starts_at_local": "2027-03-04T09:00", "ends_at_local": "2027-03-04T10:00"},
                {"starts_at_local": "2027-03-09T09:00", "ends_at_local": "2027-03-09T10:00"},
            ]),
            "slots, line 2: 2027-03-09 is not one of the conference's days",
        ),
        (
            json!([
                {"starts_at_local": "2027-03-04T09:00", "ends_at_local": "2027-03-04T10:00"},
                {"starts_at_local": "2027-03-04T09:30", "ends_at_local": "2027-03-04T10:30"},
            ]),
            "slots, line 2: it overlaps the slot of line 1",
        ),
        (
            json!([{"starts_at_local": "9 o'clock", "ends_at_local": "2027-03-04T10:00"}]),
            "slots, line 1: starts_at_local must be a local date and time",
        ),
    ] {
        let body = json!({"rooms": [{"name": "Hall", "capacity": 80}], "slots": slots});
        let (status, answer) = send(&app, &token, Method::PUT, &grid, Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert!(message(&answer).contains(says), "{says}: {answer}");
    }
    let (status, answer) = send(
        &app,
        &token,
        Method::PUT,
        &grid,
        Some(json!({"rooms": [{"name": "Hall", "size": 80}], "slots": []})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");

    let (status, shown) = send(
        &app,
        &token,
        Method::PUT,
        &grid,
        Some(two_rooms_two_slots()),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    let rooms: Vec<(&str, u64)> = shown["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["capacity"].as_u64().unwrap()))
        .collect();
    assert_eq!(rooms, [("Hall", 3), ("Small", 1)]);
    // Berlin is an hour ahead of UTC in March.
    assert_eq!(shown["slots"][0]["starts_at"], "2027-03-04T08:00:00Z");
    assert_eq!(shown["slots"][0]["starts_at_local"], "2027-03-04T09:00");
    assert_eq!(shown["slots"][1]["ends_at_local"], "2027-03-04T11:00");

    // A room keeps its id while its name stays.
    let hall = shown["rooms"][0]["id"].clone();
    let mut again = two_rooms_two_slots();
    again["rooms"][0]["capacity"] = json!(40);
    let (status, shown) = send(&app, &token, Method::PUT, &grid, Some(again)).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["rooms"][0]["id"], hall);
    assert_eq!(shown["rooms"][0]["capacity"], 40);
}

#[tokio::test]
async fn phase_actions_move_the_conference_and_refuse_what_the_phase_does_not_allow() {
    let (app, token) = owner_app().await;
    create(&app, &token, 100, 3).await;
    let (status, closed) = phase(&app, &token, "close_registration").await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["registration_closed"], true);
    assert_eq!(closed["registration_open"], false);
    let (status, opened) = phase(&app, &token, "open_registration").await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["registration_open"], true);

    let (status, proposals) = phase(&app, &token, "advance").await;
    assert_eq!(status, 200, "{proposals}");
    assert_eq!(proposals["phase"], "proposals");
    let (_, voting) = phase(&app, &token, "advance").await;
    assert_eq!(voting["phase"], "voting");
    let (status, refused) = phase(&app, &token, "advance").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        message(&refused).contains("build the schedule, then publish it"),
        "{refused}"
    );
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/publish"),
        None,
    )
    .await;
    assert_eq!(status, 422, "nothing is scheduled: {refused}");
    assert!(message(&refused).contains("build the schedule first"));

    let (status, refused) = phase(&app, &token, "skip_ahead").await;
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/phase"),
        Some(json!({"action": "advance", "to": "done"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (_, shown) = send(&app, &token, Method::GET, CONFERENCE, None).await;
    assert_eq!(shown["phase"], "voting", "nothing refused changed it");
}

/// The ids of the proposals, in the order listed.
fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

fn votes(list: &Value) -> Vec<u64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["votes"].as_u64().unwrap())
        .collect()
}

/// Every scheduled cell of a schedule answer.
fn cells(schedule: &Value) -> Vec<Value> {
    schedule["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["cells"].as_array().unwrap().iter().cloned())
        .filter(|cell| !cell.is_null())
        .collect()
}

#[tokio::test]
async fn a_whole_run_ranks_merges_builds_pins_publishes_and_reseats() {
    let (app, token) = owner_app().await;
    let store = app.server.as_ref().unwrap().store.clone();
    let store = store.as_ref();
    let id = create(&app, &token, 4, 4).await;
    let (status, _) = send(
        &app,
        &token,
        Method::PUT,
        &format!("{CONFERENCE}/grid"),
        Some(two_rooms_two_slots()),
    )
    .await;
    assert_eq!(status, 200);

    // Four seats: four people are seated, the fifth waits, the sixth never
    // confirmed.
    let mut people = Vec::new();
    for name in ["ada", "bo", "cy", "di", "eve"] {
        people.push(register(store, id, name, true).await);
    }
    register(store, id, "fay", false).await;
    let [ada, bo, cy, di, eve] = <[Registration; 5]>::try_from(people).unwrap();
    assert_eq!(eve.status, RegistrationStatus::Waitlisted);
    let (_, shown) = send(&app, &token, Method::GET, CONFERENCE, None).await;
    assert_eq!(
        shown["seats"],
        json!({"seated": 4, "waitlisted": 1, "pending": 1})
    );
    let (status, registrations) = send(
        &app,
        &token,
        Method::GET,
        &format!("{CONFERENCE}/registrations"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let statuses: Vec<(&str, &str)> = registrations["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ada", "confirmed"),
            ("bo", "confirmed"),
            ("cy", "confirmed"),
            ("di", "confirmed"),
            ("eve", "waitlisted"),
            ("fay", "pending"),
        ]
    );
    assert_eq!(registrations["items"][0]["email"], "ada@example.org");
    assert!(registrations["items"][0]["confirmed_at"].is_string());
    assert!(registrations["items"][5]["confirmed_at"].is_null());

    // Proposals, then votes: the registrants' part.
    assert_eq!(phase(&app, &token, "advance").await.0, 200);
    let start = Utc::now();
    let mut proposed = Vec::new();
    for (n, (who, title)) in [
        (&ada, "Testing"),
        (&bo, "Packaging"),
        (&cy, "Testing research code"),
        (&di, "Docs"),
        (&ada, "Big idea"),
    ]
    .into_iter()
    .enumerate()
    {
        let request = ProposalRequest {
            title: title.into(),
            description: String::new(),
            format: "discussion".into(),
            co_hosts: String::new(),
        };
        let conference = conference(store, id).await;
        let at = start + Duration::seconds(i64::try_from(n).unwrap());
        proposed.push(
            sessions::propose(store, &conference, who, &request, at)
                .await
                .unwrap()
                .id,
        );
    }
    let [testing, packaging, duplicate, docs, big] = <[ProposalId; 5]>::try_from(proposed).unwrap();
    assert_eq!(phase(&app, &token, "advance").await.0, 200);
    let voting = conference(store, id).await;
    for (voter, chosen) in [
        (&ada, vec![testing, packaging, big]),
        (&bo, vec![testing, packaging, duplicate, big]),
        (&cy, vec![packaging, duplicate, big]),
        (&di, vec![docs, big]),
    ] {
        for session in chosen {
            sessions::vote(store, &voting, voter, session, Utc::now())
                .await
                .unwrap();
        }
    }

    let proposals_path = format!("{CONFERENCE}/proposals");
    let (status, ranking) = send(&app, &token, Method::GET, &proposals_path, None).await;
    assert_eq!(status, 200, "{ranking}");
    let names = |ids: &[ProposalId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        ids(&ranking),
        names(&[big, packaging, testing, duplicate, docs]),
        "most votes first, ties to the earlier proposal"
    );
    assert_eq!(votes(&ranking), [4, 3, 2, 2, 1]);
    assert_eq!(ranking["items"][0]["title"], "Big idea");
    assert_eq!(ranking["items"][0]["proposer"]["name"], "ada");
    assert_eq!(ranking["items"][0]["proposer"]["email"], "ada@example.org");
    assert_eq!(ranking["items"][0]["format"], "discussion");
    assert_eq!(ranking["items"][0]["state"], "open");
    assert_eq!(ranking["items"][0]["placed"], false);

    // Merging: the duplicate's votes move over, one per person.
    let merge = |duplicate: ProposalId| format!("{CONFERENCE}/proposals/{duplicate}/merge");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &merge(testing),
        Some(json!({"into": testing.to_string()})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(message(&refused).contains("cannot be merged into itself"));
    let (status, merged) = send(
        &app,
        &token,
        Method::POST,
        &merge(duplicate),
        Some(json!({"into": testing.to_string()})),
    )
    .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(
        ids(&merged),
        names(&[big, testing, packaging, docs, duplicate]),
        "the merged session is listed last"
    );
    assert_eq!(votes(&merged), [4, 3, 3, 1, 0]);
    assert_eq!(merged["items"][1]["co_hosts"], json!(["cy@example.org"]));
    assert_eq!(merged["items"][4]["state"], "merged");
    assert_eq!(merged["items"][4]["merged_into"], testing.to_string());
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &merge(duplicate),
        Some(json!({"into": testing.to_string()})),
    )
    .await;
    assert_eq!(status, 422, "merged already: {refused}");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &merge(docs),
        Some(json!({"into": ProposalId::new().to_string()})),
    )
    .await;
    assert_eq!(status, 404, "{refused}");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &merge(docs),
        Some(json!({"into": "not an id"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    // Building: the big session fits no room; the rest do.
    let (status, report) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/build"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["placed"], 3, "{report}");
    assert_eq!(
        report["unfitted"],
        json!([{
            "session": big.to_string(),
            "title": "Big idea",
            "reason": "too_big_for_any_room",
            "expected": 4,
            "largest": 3,
        }])
    );
    assert!(
        report["clashes"].as_u64().unwrap() <= report["baseline_clashes"].as_u64().unwrap(),
        "{report}"
    );
    let schedule_path = format!("{CONFERENCE}/schedule");
    let (status, schedule) = send(&app, &token, Method::GET, &schedule_path, None).await;
    assert_eq!(status, 200, "{schedule}");
    assert_eq!(schedule["published"], false);
    assert_eq!(cells(&schedule).len(), 3);
    assert!(cells(&schedule).iter().all(|c| c["pinned"] == false));
    assert_eq!(schedule["unplaced"][0]["session"], big.to_string());
    assert_eq!(schedule["unplaced"][0]["expected"], 4);
    let (_, ranking) = send(&app, &token, Method::GET, &proposals_path, None).await;
    let placed: Vec<bool> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["placed"].as_bool().unwrap())
        .collect();
    assert_eq!(placed, [false, true, true, true, false]);

    // Pinning: a room too small is refused, naming the session.
    let hall = schedule["rooms"][0]["id"].as_str().unwrap().to_owned();
    let small = schedule["rooms"][1]["id"].as_str().unwrap().to_owned();
    let second = schedule["rows"][1]["slot"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin_path = format!("{CONFERENCE}/schedule/pin");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &pin_path,
        Some(json!({"session": testing.to_string(), "room": small, "slot": second})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(message(&refused).contains("\"Testing\""), "{refused}");
    assert!(message(&refused).contains("Small"), "{refused}");
    let (status, refused) = send(
        &app,
        &token,
        Method::POST,
        &pin_path,
        Some(json!({"session": docs.to_string(), "room": ProposalId::new().to_string(), "slot": second})),
    )
    .await;
    assert_eq!(status, 404, "{refused}");
    let (status, pinned) = send(
        &app,
        &token,
        Method::POST,
        &pin_path,
        Some(json!({"session": docs.to_string(), "room": small, "slot": second})),
    )
    .await;
    assert_eq!(status, 200, "{pinned}");
    let docs_cell = &pinned["rows"][1]["cells"][1];
    assert_eq!(docs_cell["session"], docs.to_string());
    assert_eq!(docs_cell["pinned"], true);
    assert_eq!(docs_cell["room"], small);
    assert_eq!(
        cells(&pinned)
            .iter()
            .filter(|c| c["pinned"] == true)
            .count(),
        1
    );
    let (_, schedule) = send(&app, &token, Method::GET, &schedule_path, None).await;
    assert_eq!(schedule["rows"][1]["cells"][1]["pinned"], true);

    let (status, unpinned) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/{docs}/unpin"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{unpinned}");
    assert_eq!(unpinned["rows"][1]["cells"][1]["session"], docs.to_string());
    assert_eq!(unpinned["rows"][1]["cells"][1]["pinned"], false);
    let (status, taken_off) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/{docs}/take-off"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{taken_off}");
    assert!(
        taken_off["unplaced"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["session"] == docs.to_string())
    );
    let (status, _) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/{docs}/take-off"),
        None,
    )
    .await;
    assert_eq!(status, 404, "no longer in the schedule");
    let (status, _) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/not-an-id/unpin"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Pin the hall's second slot, build around it, publish.
    let (status, _) = send(
        &app,
        &token,
        Method::POST,
        &pin_path,
        Some(json!({"session": testing.to_string(), "room": hall, "slot": second})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, report) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/build"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["placed"], 3);
    let (_, schedule) = send(&app, &token, Method::GET, &schedule_path, None).await;
    let hall_second = &schedule["rows"][1]["cells"][0];
    assert_eq!(hall_second["session"], testing.to_string(), "the pin held");
    assert_eq!(hall_second["pinned"], true);

    let publish_path = format!("{CONFERENCE}/schedule/publish");
    let (status, published) = send(&app, &token, Method::POST, &publish_path, None).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["phase"], "schedule_published");
    assert_eq!(published["registration_open"], false);
    let (status, again) = send(&app, &token, Method::POST, &publish_path, None).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "conflict");
    let (status, _) = send(
        &app,
        &token,
        Method::POST,
        &format!("{CONFERENCE}/schedule/build"),
        None,
    )
    .await;
    assert_eq!(status, 409, "a published schedule is not built again");
    let (_, schedule) = send(&app, &token, Method::GET, &schedule_path, None).await;
    assert_eq!(schedule["published"], true);

    // A lead cancels a seated registration: the first who waits is seated.
    let cancel = |id: RegistrationId| format!("{CONFERENCE}/registrations/{id}/cancel");
    let (status, cancelled) = send(&app, &token, Method::POST, &cancel(bo.id), None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    let (_, registrations) = send(
        &app,
        &token,
        Method::GET,
        &format!("{CONFERENCE}/registrations"),
        None,
    )
    .await;
    let status_of = |name: &str| {
        registrations["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("bo"), "cancelled");
    assert_eq!(status_of("eve"), "confirmed", "the waitlist moved up");
    let (_, shown) = send(&app, &token, Method::GET, CONFERENCE, None).await;
    assert_eq!(
        shown["seats"],
        json!({"seated": 4, "waitlisted": 0, "pending": 1})
    );
    let (status, _) = send(&app, &token, Method::POST, &cancel(bo.id), None).await;
    assert_eq!(status, 404, "cancelled already");
    let (status, _) = send(
        &app,
        &token,
        Method::POST,
        &cancel(RegistrationId::new()),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_lead_of_another_community_gets_404_for_this_ones_conference() {
    let (app, token) = owner_app().await;
    let id = create(&app, &token, 10, 3).await;
    let store = app.server.as_ref().unwrap().store.clone();
    let someone = register(store.as_ref(), id, "ada", true).await;
    app.create_community("other", "lead@example.org").await;
    store
        .create_user(
            hub_core::model::user::NewUser {
                email: Email::parse("lead@example.org").unwrap(),
                password_hash: hub_core::auth::hash_password("lead password 123").unwrap(),
                is_owner: false,
            },
            audit("user.create"),
        )
        .await
        .unwrap();
    let lead = app.api_token("lead@example.org").await;

    let (status, theirs) = send(
        &app,
        &lead,
        Method::GET,
        "/api/v1/communities/other/conferences",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(theirs["items"], json!([]));
    for (method, path, body) in [
        (Method::GET, CONFERENCE.to_owned(), None),
        (Method::GET, CONFERENCES.to_owned(), None),
        (
            Method::GET,
            "/api/v1/communities/other/conferences/unconf".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/communities/other/conferences/unconf/registrations".to_owned(),
            None,
        ),
        (
            Method::POST,
            format!(
                "/api/v1/communities/other/conferences/unconf/registrations/{}/cancel",
                someone.id
            ),
            None,
        ),
        (
            Method::POST,
            format!("{CONFERENCE}/registrations/{}/cancel", someone.id),
            None,
        ),
        (
            Method::POST,
            format!("{CONFERENCE}/phase"),
            Some(json!({"action": "advance"})),
        ),
        (
            Method::POST,
            "/api/v1/communities/other/conferences/unconf/phase".to_owned(),
            Some(json!({"action": "advance"})),
        ),
        (
            Method::PATCH,
            CONFERENCE.to_owned(),
            Some(json!({"name": "Taken over"})),
        ),
    ] {
        let (status, answer) = send(&app, &lead, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
    // Nothing of theirs changed.
    let (_, shown) = send(&app, &token, Method::GET, CONFERENCE, None).await;
    assert_eq!(shown["phase"], "registration");
    assert_eq!(shown["name"], "RSE Unconference");
    assert_eq!(shown["seats"]["seated"], 1);
}
