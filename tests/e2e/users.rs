//! The Users and API tokens pages through the real server: a token made on
//! the page works on the API until it is revoked, a lead sees and revokes
//! only their own, only owners reach the users page, the last owner stays
//! one, and every change is in the audit log without the secret.

use hub_core::model::audit::{AuditEvent, AuditQuery, NewAuditEvent};

use crate::helpers::{OWNER_EMAIL, OWNER_PASSWORD, TestApp, between, spawn_app};

const LEAD_EMAIL: &str = "lead@example.org";
const LEAD_PASSWORD: &str = "a lead's long passphrase";

/// Makes a login the way `cophub user create` does.
async fn make_user(app: &TestApp, email: &str, password: &str) -> hub_core::model::user::User {
    let store = &app.server.as_ref().unwrap().store;
    store
        .create_user(
            hub_core::model::user::NewUser {
                email: hub_core::Email::parse(email).unwrap(),
                password_hash: hub_core::auth::hash_password(password).unwrap(),
                is_owner: false,
            },
            NewAuditEvent {
                actor: "cli".into(),
                action: "user.create".into(),
                community_id: None,
                subject: email.into(),
                details: serde_json::json!({"owner": false}),
            },
        )
        .await
        .unwrap()
}

async fn audit_entries(app: &TestApp, prefix: &str) -> Vec<AuditEvent> {
    app.server
        .as_ref()
        .unwrap()
        .store
        .audit_page(&AuditQuery {
            action_prefix: Some(prefix.into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
}

async fn api_status(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/communities"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Makes a token on the page and returns its secret, read from the answer.
async fn make_token(app: &TestApp, name: &str) -> String {
    let made = app.post_form("/tokens", &[("name", name)]).await;
    assert_eq!(made.status(), 200);
    assert_eq!(
        made.headers().get("cache-control").unwrap(),
        "no-store",
        "the secret must not be cached"
    );
    let page = made.text().await.unwrap();
    assert!(page.contains("will not be shown again"), "{page}");
    between(&page, "<pre class=\"body\" id=\"new-token\">", "</pre>")
        .expect("the answer shows the token")
        .trim()
        .to_owned()
}

/// The ids of the tokens a page offers to revoke.
fn revocable(page: &str) -> Vec<String> {
    page.split("action=\"/tokens/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/revoke\"").map(|(id, _)| id.to_owned()))
        .collect()
}

#[tokio::test]
async fn an_owner_makes_a_token_on_the_page_uses_it_and_revoking_it_refuses_it_at_once() {
    let app = spawn_app().await;
    app.setup_owner().await;

    let page = app.get("/tokens").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("href=\"/tokens\""), "the nav links the page");
    assert!(
        page.contains("href=\"/users\""),
        "owners get the Users link"
    );
    assert!(page.contains("You have no API token"));

    let refused = app.post_form("/tokens", &[("name", "   ")]).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Give the token a name")
    );

    let token = make_token(&app, "nightly import").await;
    assert_eq!(api_status(&app, &token).await, 200);

    let page = app.get("/tokens").await.text().await.unwrap();
    assert!(page.contains("nightly import"));
    assert!(!page.contains(&token), "the list never shows the secret");
    let ids = revocable(&page);
    assert_eq!(ids.len(), 1, "{page}");

    let revoked = app
        .post_form(&format!("/tokens/{}/revoke", ids[0]), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(api_status(&app, &token).await, 401);
    let again = app
        .post_form(&format!("/tokens/{}/revoke", ids[0]), &[])
        .await;
    assert_eq!(again.status(), 404);
    let nonsense = app.post_form("/tokens/not-an-id/revoke", &[]).await;
    assert_eq!(nonsense.status(), 404);

    let entries = audit_entries(&app, "token.").await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["token.revoke", "token.create"], "newest first");
    for entry in &entries {
        assert_eq!(entry.actor, format!("user:{OWNER_EMAIL}"));
        assert_eq!(entry.subject, OWNER_EMAIL);
        let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
        assert_eq!(details["name"], "nightly import");
        assert!(
            !entry.details.contains(&token),
            "the audit log never holds the token"
        );
    }
}

#[tokio::test]
async fn a_lead_sees_and_revokes_only_their_own_tokens_and_is_refused_the_users_page() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", LEAD_EMAIL).await;
    make_user(&app, LEAD_EMAIL, LEAD_PASSWORD).await;
    let owners_token = app.api_token(OWNER_EMAIL).await;
    let owners_page = app.get("/tokens").await.text().await.unwrap();
    let owners_ids = revocable(&owners_page);
    assert_eq!(owners_ids.len(), 1);

    app.logout().await;
    assert_eq!(app.login(LEAD_EMAIL, LEAD_PASSWORD).await.status(), 303);
    let users = app.get("/users").await;
    assert_eq!(users.status(), 403);
    let refused = app
        .post_form(
            &format!("/users/{}/owner", uuid_of_owner(&app).await),
            &[("owner", "false")],
        )
        .await;
    assert_eq!(refused.status(), 403);

    let token = make_token(&app, "lead script").await;
    assert_eq!(api_status(&app, &token).await, 200);
    let page = app.get("/tokens").await.text().await.unwrap();
    assert!(
        !page.contains("href=\"/users\""),
        "no Users link for a lead"
    );
    assert!(page.contains("lead script"));
    assert!(
        !page.contains(OWNER_EMAIL),
        "another user's tokens stay hidden"
    );
    assert!(!page.contains(&owners_ids[0]));
    let own = revocable(&page);
    assert_eq!(own.len(), 1);

    let theirs = app
        .post_form(&format!("/tokens/{}/revoke", owners_ids[0]), &[])
        .await;
    assert_eq!(theirs.status(), 404, "as if it did not exist");
    assert_eq!(api_status(&app, &owners_token).await, 200);

    let mine = app
        .post_form(&format!("/tokens/{}/revoke", own[0]), &[])
        .await;
    assert_eq!(mine.status(), 303);
    assert_eq!(api_status(&app, &token).await, 401);
    let revocations = audit_entries(&app, "token.revoke").await;
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].actor, format!("user:{LEAD_EMAIL}"));
}

async fn uuid_of_owner(app: &TestApp) -> String {
    let store = &app.server.as_ref().unwrap().store;
    store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.is_owner)
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn an_owner_sees_users_and_leads_and_the_last_owner_cannot_step_down() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", LEAD_EMAIL).await;
    app.create_community("hpc", "").await;
    let second = make_user(&app, "second@example.org", OWNER_PASSWORD).await;
    let store = app.server.as_ref().unwrap().store.clone();
    let owner = uuid_of_owner(&app).await;
    let rse = store.community_by_slug("rse").await.unwrap().unwrap();
    let lead = store
        .member_by_email(rse.id, &hub_core::Email::parse(LEAD_EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();

    let page = app.get("/users").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(OWNER_EMAIL) && page.contains("second@example.org"));
    let rse_leads = between(&page, "id=\"leads-rse\"", "</section>").unwrap();
    assert!(rse_leads.contains(LEAD_EMAIL));
    assert!(
        rse_leads.contains(&format!("/communities/rse/members/{}", lead.id)),
        "a lead links to the member page where the role is changed"
    );
    assert!(rse_leads.contains("no login yet"));
    let hpc_leads = between(&page, "id=\"leads-hpc\"", "</section>").unwrap();
    assert!(hpc_leads.contains("No lead yet"));
    assert!(page.contains("cophub user create"));

    let last = app
        .post_form(&format!("/users/{owner}/owner"), &[("owner", "false")])
        .await;
    assert_eq!(last.status(), 409);
    assert!(last.text().await.unwrap().contains("last owner"));
    let odd = app
        .post_form(&format!("/users/{owner}/owner"), &[("owner", "maybe")])
        .await;
    assert_eq!(odd.status(), 400);
    let unknown = app
        .post_form(
            &format!("/users/{}/owner", hub_core::ids::UserId::new()),
            &[("owner", "true")],
        )
        .await;
    assert_eq!(unknown.status(), 404);

    let made = app
        .post_form(&format!("/users/{}/owner", second.id), &[("owner", "true")])
        .await;
    assert_eq!(made.status(), 303);
    assert!(
        store.users().await.unwrap().iter().all(|u| u.is_owner),
        "both are owners now"
    );

    let stepped_down = app
        .post_form(&format!("/users/{owner}/owner"), &[("owner", "false")])
        .await;
    assert_eq!(stepped_down.status(), 303);
    assert_eq!(stepped_down.headers()["location"], "/");
    assert_eq!(app.get("/users").await.status(), 403);

    let entries = audit_entries(&app, "user.owner").await;
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("user.owner_removed", OWNER_EMAIL),
            ("user.owner_granted", "second@example.org"),
        ],
        "refused changes write nothing"
    );
    assert!(
        entries
            .iter()
            .all(|e| e.actor == format!("user:{OWNER_EMAIL}"))
    );
}
