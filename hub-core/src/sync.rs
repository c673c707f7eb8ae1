//! Membership sync: read a channel's side completely, match people by
//! normalized email, and plan what to change on each side by the channel's
//! direction, under the consent rules and the guardrails.
//!
//! - A partial read is never the truth: a failed page fails the whole read.
//! - An `opted_out` in the hub is never overridden, in any direction: such a
//!   person is not added to the channel, and is removed from it where the
//!   direction lets the hub change the channel.
//! - People imported from a channel get that channel's consent only.
//! - A plan that would remove more than a share *and* more than a count of a
//!   side, or that reads an empty side where the last run saw members, is
//!   held for a lead's approval instead of applied.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::{
    Email,
    ids::MemberId,
    model::{
        channel::ChannelKind,
        member::{ConsentChannel, ConsentStatus, Member, MemberState},
        sync::SyncDirection,
    },
    ports::adapter::{AdapterError, ChannelAdapter, RemoteMember},
};

/// Which consent a channel kind's membership stands for.
#[must_use]
pub fn consent_channel(kind: ChannelKind) -> Option<ConsentChannel> {
    match kind {
        ChannelKind::EmailList | ChannelKind::Mailman => Some(ConsentChannel::Email),
        ChannelKind::Slack => Some(ConsentChannel::Slack),
        ChannelKind::Zoom => Some(ConsentChannel::Zoom),
        ChannelKind::Conference => Some(ConsentChannel::Conference),
        ChannelKind::Webhook => None,
    }
}

/// A channel's members, read to the end.
#[derive(Debug, Clone, Default)]
pub struct RemoteSide {
    /// Everyone, in the channel's order.
    pub members: Vec<RemoteMember>,
    /// How many calls reading took.
    pub api_calls: u32,
}

/// Reads every page of a channel's members.
///
/// # Errors
/// The first page's [`AdapterError`]: a partial read is never returned.
pub async fn read_remote(adapter: &dyn ChannelAdapter) -> Result<RemoteSide, AdapterError> {
    let mut side = RemoteSide::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = adapter.list_members(cursor.as_deref()).await?;
        side.api_calls += 1;
        side.members.extend(page.members);
        match page.next_cursor {
            // A cursor that repeats would loop forever: treat it as a broken read.
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(AdapterError::Transient(format!(
                    "the channel returned the cursor {next:?} twice"
                )));
            }
            Some(next) if !next.is_empty() => cursor = Some(next),
            _ => return Ok(side),
        }
    }
}

/// Guardrail limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Guardrails {
    /// A plan removing more than this share of a side…
    pub max_remove_fraction: f64,
    /// …and more than this many people is held.
    pub max_remove_count: usize,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            max_remove_fraction: 0.10,
            max_remove_count: 3,
        }
    }
}

/// A person to add to the hub from the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubAdd {
    /// Their email.
    pub email: Email,
    /// Their name in the channel.
    pub name: String,
    /// Their id in the channel.
    pub external_id: String,
}

/// A hub member to add to the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelAdd {
    /// The member.
    pub member_id: MemberId,
    /// Their email.
    pub email: Email,
    /// Their name.
    pub name: String,
}

/// Someone to remove from the channel, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRemoval {
    /// Their id in the channel.
    pub external_id: String,
    /// Their email.
    pub email: Email,
    /// `opted_out`, `left`, or `not_in_hub`.
    pub reason: &'static str,
}

/// A hub member whose consent for this channel the sync sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentChange {
    /// The member.
    pub member_id: MemberId,
    /// Their email.
    pub email: Email,
    /// What it becomes.
    pub status: ConsentStatus,
}

/// Why a plan is held rather than applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Hold {
    /// Too many removals from one side.
    TooManyRemovals {
        /// `hub` or `channel`.
        side: &'static str,
        /// How many would go.
        removals: usize,
        /// Out of how many.
        of: usize,
    },
    /// The channel read empty, though the last run saw members there.
    EmptySide {
        /// How many the last run saw.
        last_seen: usize,
    },
}

/// What one run would change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncPlan {
    /// New hub members from the channel (import, mirror).
    pub hub_adds: Vec<HubAdd>,
    /// Hub members whose consent for this channel the channel's membership
    /// sets (import, mirror): subscribed where they are in the channel, none
    /// where the sync had subscribed them and they are gone.
    pub consent_changes: Vec<ConsentChange>,
    /// Hub members to add to the channel (export, mirror).
    pub channel_adds: Vec<ChannelAdd>,
    /// People to remove from the channel (export, mirror).
    pub channel_removals: Vec<ChannelRemoval>,
    /// Channel accounts without an email, for a lead to link by hand.
    pub unmatched: Vec<String>,
    /// People already in step.
    pub unchanged: usize,
    /// Why the plan is held, if it is.
    pub held: Option<Hold>,
}

impl SyncPlan {
    /// Whether applying it would change nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hub_adds.is_empty()
            && self.consent_changes.is_empty()
            && self.channel_adds.is_empty()
            && self.channel_removals.is_empty()
    }
}

/// Plans a sync of `hub` (the community's members) with `remote` (the
/// channel's, read completely). `consent` is the consent the channel stands
/// for; `last_seen` how many members the previous run read from the channel.
#[must_use]
pub fn plan(
    direction: SyncDirection,
    consent: ConsentChannel,
    hub: &[Member],
    remote: &[RemoteMember],
    last_seen: Option<usize>,
    guardrails: Guardrails,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let by_email: HashMap<&str, &Member> = hub.iter().map(|m| (m.email.normalized(), m)).collect();
    let mut in_channel: HashSet<&str> = HashSet::new();
    let imports = matches!(
        direction,
        SyncDirection::Import | SyncDirection::Mirror | SyncDirection::Observe
    );
    let exports = matches!(
        direction,
        SyncDirection::Export | SyncDirection::Mirror | SyncDirection::Observe
    );

    for account in remote {
        let Some(email) = &account.email else {
            plan.unmatched.push(account.external_id.clone());
            continue;
        };
        if !in_channel.insert(email.normalized()) {
            continue; // the same person twice in the channel: one is enough
        }
        match by_email.get(email.normalized()) {
            None if imports => plan.hub_adds.push(HubAdd {
                email: email.clone(),
                name: account.name.clone(),
                external_id: account.external_id.clone(),
            }),
            None if exports => plan.channel_removals.push(ChannelRemoval {
                external_id: account.external_id.clone(),
                email: email.clone(),
                reason: "not_in_hub",
            }),
            None => {}
            Some(member) => {
                let current = member.consent(consent);
                let gone = member.state == MemberState::Left;
                if current == ConsentStatus::OptedOut || gone {
                    if exports {
                        plan.channel_removals.push(ChannelRemoval {
                            external_id: account.external_id.clone(),
                            email: email.clone(),
                            reason: if gone { "left" } else { "opted_out" },
                        });
                    } else {
                        plan.unchanged += 1;
                    }
                } else if imports && current == ConsentStatus::None {
                    plan.consent_changes.push(ConsentChange {
                        member_id: member.id,
                        email: member.email.clone(),
                        status: ConsentStatus::Subscribed,
                    });
                } else {
                    plan.unchanged += 1;
                }
            }
        }
    }

    for member in hub {
        if in_channel.contains(member.email.normalized()) || member.state == MemberState::Left {
            continue;
        }
        if member.consent(consent) != ConsentStatus::Subscribed {
            continue;
        }
        if exports {
            plan.channel_adds.push(ChannelAdd {
                member_id: member.id,
                email: member.email.clone(),
                name: member.name.clone(),
            });
        } else {
            // Import only: the channel is the truth, and they are not in it.
            plan.consent_changes.push(ConsentChange {
                member_id: member.id,
                email: member.email.clone(),
                status: ConsentStatus::None,
            });
        }
    }

    plan.held = hold(&plan, hub.len(), remote.len(), last_seen, guardrails);
    plan
}

fn hold(
    plan: &SyncPlan,
    hub_size: usize,
    remote_size: usize,
    last_seen: Option<usize>,
    g: Guardrails,
) -> Option<Hold> {
    if remote_size == 0
        && let Some(last_seen) = last_seen.filter(|n| *n > 0)
    {
        return Some(Hold::EmptySide { last_seen });
    }
    let too_many = |removals: usize, of: usize| {
        removals > g.max_remove_count && (removals as f64) > g.max_remove_fraction * (of as f64)
    };
    let channel_removals = plan.channel_removals.len();
    if too_many(channel_removals, remote_size) {
        return Some(Hold::TooManyRemovals {
            side: "channel",
            removals: channel_removals,
            of: remote_size,
        });
    }
    let hub_removals = plan
        .consent_changes
        .iter()
        .filter(|c| c.status != ConsentStatus::Subscribed)
        .count();
    if too_many(hub_removals, hub_size) {
        return Some(Hold::TooManyRemovals {
            side: "hub",
            removals: hub_removals,
            of: hub_size,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::member::{CommunityRole, Consent, ConsentSource};

    fn member(email: &str, consent: ConsentStatus, state: MemberState) -> Member {
        Member {
            id: MemberId::new(),
            community_id: crate::ids::CommunityId::new(),
            email: Email::parse(email).unwrap(),
            name: email.into(),
            role: CommunityRole::Member,
            state,
            consents: vec![Consent {
                channel: ConsentChannel::Slack,
                status: consent,
                changed_at: Utc::now(),
                source: ConsentSource::Member,
            }],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn remote(email: Option<&str>, id: &str) -> RemoteMember {
        RemoteMember {
            external_id: id.into(),
            email: email.map(|e| Email::parse(e).unwrap()),
            name: id.into(),
        }
    }

    fn slack_plan(direction: SyncDirection, hub: &[Member], remote: &[RemoteMember]) -> SyncPlan {
        plan(
            direction,
            ConsentChannel::Slack,
            hub,
            remote,
            None,
            Guardrails::default(),
        )
    }

    #[test]
    fn import_adds_new_people_with_this_channels_consent_only_and_matches_by_normalized_email() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::None,
            MemberState::Active,
        )];
        let remote = [
            remote(Some("ADA@example.org"), "U1"),
            remote(Some("bob@example.org"), "U2"),
            remote(None, "B1"),
        ];
        let p = slack_plan(SyncDirection::Import, &hub, &remote);
        assert_eq!(p.hub_adds.len(), 1);
        assert_eq!(p.hub_adds[0].email.normalized(), "bob@example.org");
        assert_eq!(
            p.consent_changes.len(),
            1,
            "ada is in Slack: her Slack consent becomes subscribed"
        );
        assert_eq!(p.consent_changes[0].status, ConsentStatus::Subscribed);
        assert_eq!(p.unmatched, ["B1"]);
        assert!(
            p.channel_adds.is_empty() && p.channel_removals.is_empty(),
            "import never touches the channel"
        );
    }

    #[test]
    fn an_opt_out_is_never_overridden_in_any_direction() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::OptedOut,
            MemberState::Active,
        )];
        let in_slack = [remote(Some("ada@example.org"), "U1")];
        let import = slack_plan(SyncDirection::Import, &hub, &in_slack);
        assert!(
            import.consent_changes.is_empty(),
            "import leaves the opt-out alone"
        );
        let mirror = slack_plan(SyncDirection::Mirror, &hub, &in_slack);
        assert_eq!(mirror.channel_removals.len(), 1);
        assert_eq!(mirror.channel_removals[0].reason, "opted_out");
        assert!(mirror.consent_changes.is_empty());
        let export = slack_plan(SyncDirection::Export, &hub, &[]);
        assert!(
            export.channel_adds.is_empty(),
            "an opted-out member is never added"
        );
    }

    #[test]
    fn export_adds_subscribed_members_and_removes_strangers_and_leavers() {
        let hub = [
            member(
                "ada@example.org",
                ConsentStatus::Subscribed,
                MemberState::Active,
            ),
            member(
                "bob@example.org",
                ConsentStatus::Subscribed,
                MemberState::Left,
            ),
            member("cy@example.org", ConsentStatus::None, MemberState::Active),
        ];
        let remote = [
            remote(Some("bob@example.org"), "U2"),
            remote(Some("eve@example.org"), "U9"),
        ];
        let p = slack_plan(SyncDirection::Export, &hub, &remote);
        assert_eq!(p.channel_adds.len(), 1);
        assert_eq!(p.channel_adds[0].email.normalized(), "ada@example.org");
        let reasons: Vec<_> = p.channel_removals.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, ["left", "not_in_hub"]);
        assert!(p.hub_adds.is_empty(), "export never adds to the hub");
    }

    #[test]
    fn the_same_plan_twice_is_empty_once_applied() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::Subscribed,
            MemberState::Active,
        )];
        let remote = [remote(Some("ada@example.org"), "U1")];
        for direction in [
            SyncDirection::Import,
            SyncDirection::Export,
            SyncDirection::Mirror,
        ] {
            let p = slack_plan(direction, &hub, &remote);
            assert!(p.is_empty(), "{direction:?}: {p:?}");
            assert_eq!(p.unchanged, 1);
        }
    }

    fn members(n: usize) -> Vec<Member> {
        (0..n)
            .map(|i| {
                member(
                    &format!("p{i}@example.org"),
                    ConsentStatus::Subscribed,
                    MemberState::Active,
                )
            })
            .collect()
    }

    fn remotes(n: usize) -> Vec<RemoteMember> {
        (0..n)
            .map(|i| remote(Some(&format!("p{i}@example.org")), &format!("U{i}")))
            .collect()
    }

    #[test]
    fn losing_one_of_five_is_applied_but_losing_two_hundred_of_a_thousand_is_held() {
        let small = slack_plan(SyncDirection::Import, &members(5), &remotes(4));
        assert_eq!(small.consent_changes.len(), 1);
        assert_eq!(small.held, None, "1 removal is under the count of 3");
        let large = slack_plan(SyncDirection::Import, &members(1000), &remotes(800));
        assert_eq!(
            large.held,
            Some(Hold::TooManyRemovals {
                side: "hub",
                removals: 200,
                of: 1000
            })
        );
        // The same on the channel's side.
        let mut hub = members(1000);
        for m in &mut hub[..200] {
            m.consents[0].status = ConsentStatus::OptedOut;
        }
        let export = slack_plan(SyncDirection::Export, &hub, &remotes(1000));
        assert!(matches!(
            export.held,
            Some(Hold::TooManyRemovals {
                side: "channel",
                removals: 200,
                ..
            })
        ));
    }

    #[test]
    fn an_empty_channel_where_the_last_run_saw_members_is_held() {
        let p = plan(
            SyncDirection::Import,
            ConsentChannel::Slack,
            &members(3),
            &[],
            Some(3),
            Guardrails::default(),
        );
        assert_eq!(p.held, Some(Hold::EmptySide { last_seen: 3 }));
        let first = plan(
            SyncDirection::Import,
            ConsentChannel::Slack,
            &[],
            &[],
            None,
            Guardrails::default(),
        );
        assert_eq!(first.held, None, "a new, empty channel is fine");
    }
}
