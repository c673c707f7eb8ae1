//! The role × route matrix: every route of the server, read from its route
//! table (`hub_web::route_table`, which the routers are built from, so a new
//! route cannot be missing here), asked by every role, pages and API alike:
//!
//! - an anonymous visitor;
//! - a member holding a mailed preferences link (not a login);
//! - a lead of the community in the path;
//! - a lead of another community;
//! - an owner.
//!
//! Each answer must match the route's declared access: a refusal is a
//! redirect to the login page (pages) or 401 (API) without a login, 403 for
//! an owner's route, and 404 naming the community for a lead of another
//! one; an allowed request is anything but those (the handler may still
//! find the form empty or the id unknown — that is not an access question).

use std::{collections::BTreeMap, sync::Arc};

use chrono::{Duration, Utc};
use hub_core::{
    Email,
    auth::{hash_password, new_secret},
    membership::{LinkPurpose, NewMemberLink},
    model::{audit::NewAuditEvent, user::NewUser},
};
use hub_web::{Access, RouteInfo, route_table};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{OWNER_EMAIL, OWNER_PASSWORD, TestApp, spawn_app};

const LEAD_PASSWORD: &str = "a lead's long password";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Anonymous,
    Member,
    Lead,
    OtherLead,
    Owner,
}

/// One role's way in: its own cookies, and its API token if it has a login.
struct Visitor {
    role: Role,
    client: reqwest::Client,
    csrf: String,
    token: Option<String>,
}

impl Visitor {
    async fn new(app: &TestApp, role: Role, login: Option<(&str, &str)>) -> Self {
        let client = reqwest::Client::builder()
            .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let csrf = csrf_of(&client, app).await;
        let mut token = None;
        if let Some((email, password)) = login {
            let answer = client
                .post(app.url("/login"))
                .header("origin", &app.base)
                .form(&[("email", email), ("password", password), ("csrf", &csrf)])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{email} logs in");
            token = Some(app.api_token(email).await);
        }
        Self {
            role,
            client,
            csrf,
            token,
        }
    }

    async fn ask(
        &self,
        app: &TestApp,
        method: &Method,
        path: &str,
    ) -> (StatusCode, String, String) {
        let mut request = self
            .client
            .request(method.clone(), app.url(path))
            .header("origin", &app.base);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if *method != Method::GET {
            request = if path.starts_with("/api/") {
                request.json(&json!({}))
            } else {
                request.form(&[("csrf", self.csrf.as_str())])
            };
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let location = answer
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, answer.text().await.unwrap())
    }
}

/// The CSRF token a fresh client is given with its first page.
async fn csrf_of(client: &reqwest::Client, app: &TestApp) -> String {
    let answer = client.get(app.url("/login")).send().await.unwrap();
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .split(';')
                .next()?
                .strip_prefix("cophub_csrf=")
                .map(str::to_owned)
        })
        .expect("a fresh client is given a CSRF cookie")
}

fn audit() -> NewAuditEvent {
    NewAuditEvent {
        actor: "test".into(),
        action: "user.create".into(),
        community_id: None,
        subject: "matrix".into(),
        details: json!({}),
    }
}

async fn make_lead(app: &TestApp, email: &str) {
    app.server
        .as_ref()
        .unwrap()
        .store
        .create_user(
            NewUser {
                email: Email::parse(email).unwrap(),
                password_hash: hash_password(LEAD_PASSWORD).unwrap(),
                is_owner: false,
            },
            audit(),
        )
        .await
        .unwrap();
}

/// What a path parameter is filled with: the `alpha` community's real ids
/// where there is one, a well-formed unknown id elsewhere.
fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut previous = "";
    for segment in path.split('/').skip(1) {
        out.push('/');
        let value = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => segment.to_owned(),
            Some("slug") => "alpha".to_owned(),
            Some("token") => ids["token"].clone(),
            Some("id") => ids
                .get(previous)
                .cloned()
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            Some("original") => "2030-01-07T10:00:00Z".to_owned(),
            Some("kind" | "action") => "x".to_owned(),
            Some("channel") => ids["channels"].clone(),
            Some(_) => uuid::Uuid::now_v7().to_string(),
        };
        out.push_str(&value);
        previous = segment;
    }
    out
}

/// Whether an answer is one of the refusals, and which.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    LoginFirst,
    Forbidden,
    NoSuchCommunity,
    Served,
}

fn classify(route: &RouteInfo, status: StatusCode, location: &str, body: &str) -> Answer {
    let api = route.path.starts_with("/api/") || route.path == "/metrics";
    match status {
        StatusCode::SEE_OTHER if !api && location.starts_with("/login") => Answer::LoginFirst,
        StatusCode::UNAUTHORIZED if api => Answer::LoginFirst,
        StatusCode::FORBIDDEN => Answer::Forbidden,
        StatusCode::NOT_FOUND
            if body.contains("community was not found")
                || body.contains(r#"community \"alpha\" was not found"#) =>
        {
            Answer::NoSuchCommunity
        }
        _ => Answer::Served,
    }
}

fn expected(role: Role, access: Access) -> Answer {
    match (role, access) {
        (_, Access::Public) | (Role::Owner, _) => Answer::Served,
        (Role::Anonymous | Role::Member, _) => Answer::LoginFirst,
        (Role::Lead | Role::OtherLead, Access::SignedIn) | (Role::Lead, Access::Lead) => {
            Answer::Served
        }
        (Role::Lead | Role::OtherLead, Access::Owner) => Answer::Forbidden,
        (Role::OtherLead, Access::Lead) => Answer::NoSuchCommunity,
    }
}

#[tokio::test]
async fn every_route_answers_each_role_as_its_row_declares() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("alpha", "ada@example.org").await;
    app.create_community("beta", "bob@example.org").await;
    make_lead(&app, "ada@example.org").await;
    make_lead(&app, "bob@example.org").await;
    let owner_token = app.api_token(OWNER_EMAIL).await;

    // Alpha's own ids, so that an allowed request reaches past "not found".
    let member: Value = app
        .client
        .post(app.url("/api/v1/communities/alpha/members"))
        .bearer_auth(&owner_token)
        .json(&json!({"email": "cy@example.org", "name": "Cy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let store = app.server.as_ref().unwrap().store.clone();
    let alpha = store.community_by_slug("alpha").await.unwrap().unwrap();
    let (token, token_hash) = new_secret();
    store
        .create_member_link(NewMemberLink {
            token_hash,
            purpose: LinkPurpose::Preferences,
            community_id: alpha.id,
            email: Email::parse("cy@example.org").unwrap(),
            name: "Cy".into(),
            created_at: Utc::now(),
            expires_at: Utc::now() + Duration::hours(1),
        })
        .await
        .unwrap();
    let mut ids = BTreeMap::new();
    ids.insert("members", member["id"].as_str().unwrap().to_owned());
    ids.insert("token", token.clone());
    ids.insert("channels", uuid::Uuid::now_v7().to_string());

    let visitors = [
        Visitor::new(&app, Role::Anonymous, None).await,
        Visitor::new(&app, Role::Member, None).await,
        Visitor::new(&app, Role::Lead, Some(("ada@example.org", LEAD_PASSWORD))).await,
        Visitor::new(
            &app,
            Role::OtherLead,
            Some(("bob@example.org", LEAD_PASSWORD)),
        )
        .await,
        Visitor::new(&app, Role::Owner, Some((OWNER_EMAIL, OWNER_PASSWORD))).await,
    ];

    // The member's link works for them: it is the key to their page.
    let preferences = visitors[1]
        .ask(&app, &Method::GET, &format!("/c/alpha/preferences/{token}"))
        .await;
    assert_eq!(preferences.0, StatusCode::OK, "{}", preferences.2);

    let table = route_table();
    assert!(
        table.len() > 100,
        "the table lists every route: {}",
        table.len()
    );
    let mut wrong = Vec::new();
    let mut asked = 0;
    for route in &table {
        assert!(
            route.access != Access::Lead || route.path.contains("{slug}"),
            "{} {} is for a community's lead but names no community",
            route.method,
            route.path
        );
        // Logging out would end the visitor's session for the rows after it.
        if route.path == "/logout" {
            continue;
        }
        let path = fill(&route.path, &ids);
        for visitor in &visitors {
            let (status, location, body) = visitor.ask(&app, &route.method, &path).await;
            asked += 1;
            let answer = classify(route, status, &location, &body);
            let want = expected(visitor.role, route.access);
            if answer != want {
                wrong.push(format!(
                    "{:?} {} {} ({:?}): wanted {want:?}, got {status} {answer:?} {}",
                    visitor.role,
                    route.method,
                    path,
                    route.access,
                    body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {asked} answers break the route table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
