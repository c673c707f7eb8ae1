//! Sample data: deterministic, so a benchmark or a test sees the same data
//! every run.

use std::fmt::Write;

/// A members CSV with `count` distinct people: every tenth a lead, every
/// third on the email list. Names are searchable (`Member 00042`).
#[must_use]
pub fn members_csv(count: usize) -> String {
    let mut csv = String::with_capacity(count * 48 + 32);
    csv.push_str("email,name,role,email_list\n");
    for i in 0..count {
        let role = if i % 10 == 0 { "lead" } else { "member" };
        let list = if i % 3 == 0 { "yes" } else { "no" };
        let _ = writeln!(csv, "person{i:06}@example.org,Member {i:06},{role},{list}");
    }
    csv
}

/// An audit entry for changes a test makes.
#[must_use]
pub fn audit() -> hub_core::model::audit::NewAuditEvent {
    hub_core::model::audit::NewAuditEvent {
        actor: "test".into(),
        action: "test".into(),
        community_id: None,
        subject: "test".into(),
        details: serde_json::json!({}),
    }
}

/// A community named after its slug, in UTC.
///
/// # Panics
/// When the store refuses it.
#[allow(clippy::expect_used)]
pub async fn community(
    store: &dyn hub_core::ports::store::Store,
    slug: &str,
) -> hub_core::model::community::Community {
    let new =
        hub_core::model::community::NewCommunity::new(slug, slug, "UTC").expect("a valid slug");
    store
        .create_community(new, None, audit())
        .await
        .expect("the community is created")
}

/// A channel of `kind` with empty settings and no secret.
///
/// # Panics
/// When the store refuses it.
#[allow(clippy::expect_used)]
pub async fn channel(
    store: &dyn hub_core::ports::store::Store,
    community: hub_core::ids::CommunityId,
    kind: hub_core::model::channel::ChannelKind,
    min_interval_ms: u32,
) -> hub_core::model::channel::Channel {
    let new = hub_core::model::channel::NewChannel {
        kind,
        name: kind.to_string(),
        settings: serde_json::json!({}),
        encrypted_secret: None,
        min_interval_ms,
    };
    store
        .create_channel(community, new, audit())
        .await
        .expect("the channel is created")
}

/// Channel accounts `U{i}` with the address `p{i}@example.org`, for `i` in
/// `range`: what a fake channel lists.
///
/// # Panics
/// Never: the addresses are valid.
#[must_use]
#[allow(clippy::expect_used)]
pub fn remote_people(range: std::ops::Range<usize>) -> Vec<hub_core::ports::adapter::RemoteMember> {
    range
        .map(|i| hub_core::ports::adapter::RemoteMember {
            external_id: format!("U{i}"),
            email: Some(
                hub_core::Email::parse(&format!("p{i}@example.org")).expect("a valid address"),
            ),
            name: format!("Person {i}"),
        })
        .collect()
}
