//! Proposals and votes: registrants with a seat propose sessions while
//! proposals are open, and vote while voting is open — a budget of votes
//! each, at most one per session, their own sessions allowed, withdrawable
//! until voting closes. Leads merge duplicates (the votes follow).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ConferenceError, audit};
use crate::{
    Email,
    access::member_actor,
    ids::ProposalId,
    model::conference::{
        Conference, ConferencePhase, Proposal, ProposalState, ProposalSummary, Registration,
        SessionFormat, VoteOutcome,
    },
    ports::store::Store,
};

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 5_000;
/// Most co-hosts of one session.
pub const MAX_CO_HOSTS: usize = 5;
/// Most open proposals one registrant may have.
pub const MAX_PROPOSALS_EACH: usize = 5;

/// A session as its proposer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRequest {
    /// The title.
    pub title: String,
    /// What it is about, Markdown.
    pub description: String,
    /// Its kind, by its word (`discussion`, `talk`, …).
    pub format: String,
    /// Co-hosts' addresses, separated by commas, spaces or lines.
    pub co_hosts: String,
}

/// Proposes a session.
///
/// # Errors
/// [`ConferenceError::Closed`] outside the proposals phase;
/// [`ConferenceError::NotRegistrant`] for someone without a seat;
/// [`ConferenceError::Invalid`] for a field that is not acceptable.
pub async fn propose(
    store: &dyn Store,
    conference: &Conference,
    proposer: &Registration,
    request: &ProposalRequest,
    now: DateTime<Utc>,
) -> Result<Proposal, ConferenceError> {
    if conference.phase != ConferencePhase::Proposals {
        return Err(ConferenceError::Closed(format!(
            "proposals are not open for {} (it is in its {} phase)",
            conference.name,
            conference.phase.label().to_lowercase()
        )));
    }
    if !proposer.has_seat() || proposer.conference_id != conference.id {
        return Err(ConferenceError::NotRegistrant);
    }
    let (title, description, format, co_hosts) = check(request, &proposer.email)?;
    let mine = store
        .proposals(conference.id)
        .await?
        .iter()
        .filter(|p| p.proposal.proposer == proposer.id && p.proposal.state == ProposalState::Open)
        .count();
    if mine >= MAX_PROPOSALS_EACH {
        return Err(ConferenceError::invalid(format!(
            "each person may have at most {MAX_PROPOSALS_EACH} sessions proposed; withdraw one first"
        )));
    }
    let proposal = Proposal {
        id: ProposalId::new(),
        conference_id: conference.id,
        proposer: proposer.id,
        title,
        description,
        format,
        co_hosts,
        state: ProposalState::Open,
        created_at: super::stored(now),
    };
    let entry = audit(
        &member_actor(&proposer.email),
        "proposal.create",
        conference,
        json!({"proposal": proposal.id, "title": proposal.title}),
    );
    store.create_proposal(&proposal, entry).await?;
    Ok(proposal)
}

fn check(
    request: &ProposalRequest,
    proposer: &Email,
) -> Result<(String, String, SessionFormat, Vec<Email>), ConferenceError> {
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE || title.chars().any(char::is_control)
    {
        return Err(ConferenceError::invalid(format!(
            "a title must have 1 to {MAX_TITLE} characters and no line breaks"
        )));
    }
    let description = request.description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ConferenceError::invalid(format!(
            "a description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let format: SessionFormat = request.format.trim().parse().map_err(|_| {
        ConferenceError::invalid(format!(
            "{:?} is not a session format: choose one of {}",
            request.format.trim(),
            SessionFormat::ALL
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let mut co_hosts: Vec<Email> = Vec::new();
    for word in request
        .co_hosts
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let email = Email::parse(word).map_err(|_| {
            ConferenceError::invalid(format!("co-hosts: {word:?} is not an email address"))
        })?;
        if &email != proposer && !co_hosts.contains(&email) {
            co_hosts.push(email);
        }
    }
    if co_hosts.len() > MAX_CO_HOSTS {
        return Err(ConferenceError::invalid(format!(
            "a session has at most {MAX_CO_HOSTS} co-hosts"
        )));
    }
    Ok((title.to_owned(), description.to_owned(), format, co_hosts))
}

/// A proposal of this conference.
///
/// # Errors
/// [`ConferenceError::NotFound`] when it is not this conference's.
pub async fn proposal_of(
    store: &dyn Store,
    conference: &Conference,
    id: ProposalId,
) -> Result<Proposal, ConferenceError> {
    store
        .proposal(id)
        .await?
        .filter(|p| p.conference_id == conference.id)
        .ok_or(ConferenceError::NotFound("the session"))
}

/// Withdraws a proposal, by its proposer, until voting closes.
///
/// # Errors
/// [`ConferenceError::NotRegistrant`] for anyone but the proposer;
/// [`ConferenceError::Closed`] once the schedule is published.
pub async fn withdraw_proposal(
    store: &dyn Store,
    conference: &Conference,
    proposer: &Registration,
    id: ProposalId,
) -> Result<Proposal, ConferenceError> {
    let proposal = proposal_of(store, conference, id).await?;
    if proposal.proposer != proposer.id {
        return Err(ConferenceError::NotRegistrant);
    }
    if conference.phase > ConferencePhase::Voting {
        return Err(ConferenceError::Closed(
            "the schedule is published: ask a lead to take the session off".into(),
        ));
    }
    let withdrawn = Proposal {
        state: ProposalState::Withdrawn,
        ..proposal
    };
    let entry = audit(
        &member_actor(&proposer.email),
        "proposal.withdraw",
        conference,
        json!({"proposal": withdrawn.id}),
    );
    store.update_proposal(&withdrawn, entry).await?;
    Ok(withdrawn)
}

/// Merges a duplicate into the proposal that stays: the duplicate's votes
/// move over (one per person), and its proposer and co-hosts become
/// co-hosts.
///
/// # Errors
/// [`ConferenceError::Invalid`] for a proposal merged into itself or one
/// not open; [`ConferenceError::Closed`] once the schedule is published.
pub async fn merge(
    store: &dyn Store,
    conference: &Conference,
    duplicate: ProposalId,
    into: ProposalId,
    actor: &str,
) -> Result<(), ConferenceError> {
    if conference.phase > ConferencePhase::Voting {
        return Err(ConferenceError::Closed(
            "the schedule is published: sessions can no longer be merged".into(),
        ));
    }
    if duplicate == into {
        return Err(ConferenceError::invalid(
            "a session cannot be merged into itself",
        ));
    }
    let summaries = store.proposals(conference.id).await?;
    let find = |id: ProposalId| {
        summaries
            .iter()
            .find(|s| s.proposal.id == id)
            .ok_or(ConferenceError::NotFound("the session"))
    };
    let (merged, kept) = (find(duplicate)?, find(into)?);
    if merged.proposal.state != ProposalState::Open || kept.proposal.state != ProposalState::Open {
        return Err(ConferenceError::invalid(
            "only open sessions can be merged (this one was withdrawn or merged already)",
        ));
    }
    let mut co_hosts = kept.proposal.co_hosts.clone();
    for email in std::iter::once(&merged.proposer_email).chain(&merged.proposal.co_hosts) {
        if email != &kept.proposer_email && !co_hosts.contains(email) {
            co_hosts.push(email.clone());
        }
    }
    let entry = audit(
        actor,
        "proposal.merge",
        conference,
        json!({"merged": duplicate, "into": into}),
    );
    store
        .merge_proposal(duplicate, into, &co_hosts, entry)
        .await?;
    Ok(())
}

/// Casts a registrant's vote for a session.
///
/// # Errors
/// [`ConferenceError::Closed`] outside voting; [`ConferenceError::NotRegistrant`]
/// for someone without a seat; [`ConferenceError::AlreadyVoted`];
/// [`ConferenceError::OverBudget`]; [`ConferenceError::NotFound`] for a
/// session that is not open in this conference.
pub async fn vote(
    store: &dyn Store,
    conference: &Conference,
    voter: &Registration,
    id: ProposalId,
    now: DateTime<Utc>,
) -> Result<(), ConferenceError> {
    voting_open(conference)?;
    if !voter.has_seat() || voter.conference_id != conference.id {
        return Err(ConferenceError::NotRegistrant);
    }
    let proposal = proposal_of(store, conference, id).await?;
    if proposal.state != ProposalState::Open {
        return Err(ConferenceError::NotFound("the session"));
    }
    let entry = audit(
        &member_actor(&voter.email),
        "vote.cast",
        conference,
        json!({"proposal": id}),
    );
    match store
        .cast_vote(voter.id, id, conference.vote_budget, now, entry)
        .await?
    {
        VoteOutcome::Cast => Ok(()),
        VoteOutcome::AlreadyVoted => Err(ConferenceError::AlreadyVoted),
        VoteOutcome::OverBudget => Err(ConferenceError::OverBudget(conference.vote_budget)),
    }
}

/// Withdraws a registrant's vote while voting is open.
///
/// # Errors
/// [`ConferenceError::Closed`] outside voting; [`ConferenceError::NotFound`]
/// when they had not voted for it.
pub async fn unvote(
    store: &dyn Store,
    conference: &Conference,
    voter: &Registration,
    id: ProposalId,
) -> Result<(), ConferenceError> {
    voting_open(conference)?;
    let entry = audit(
        &member_actor(&voter.email),
        "vote.withdraw",
        conference,
        json!({"proposal": id}),
    );
    if store.withdraw_vote(voter.id, id, entry).await? {
        Ok(())
    } else {
        Err(ConferenceError::NotFound("your vote for this session"))
    }
}

fn voting_open(conference: &Conference) -> Result<(), ConferenceError> {
    if conference.phase == ConferencePhase::Voting {
        Ok(())
    } else if conference.phase < ConferencePhase::Voting {
        Err(ConferenceError::Closed(format!(
            "voting for {} has not opened yet",
            conference.name
        )))
    } else {
        Err(ConferenceError::Closed(format!(
            "voting for {} has closed; votes can no longer change",
            conference.name
        )))
    }
}

/// The sessions a registrant voted for.
///
/// # Errors
/// Storage failures.
pub async fn votes_of(
    store: &dyn Store,
    conference: &Conference,
    voter: &Registration,
) -> Result<Vec<ProposalId>, ConferenceError> {
    Ok(store
        .conference_votes(conference.id)
        .await?
        .into_iter()
        .filter(|v| v.registration_id == voter.id)
        .map(|v| v.proposal_id)
        .collect())
}

/// The open sessions, most wanted first (ties: the earlier proposal).
#[must_use]
pub fn ranking(summaries: &[ProposalSummary]) -> Vec<&ProposalSummary> {
    let mut open: Vec<&ProposalSummary> = summaries
        .iter()
        .filter(|s| s.proposal.state == ProposalState::Open)
        .collect();
    open.sort_by(|a, b| {
        b.votes
            .cmp(&a.votes)
            .then(a.proposal.created_at.cmp(&b.proposal.created_at))
            .then(a.proposal.id.cmp(&b.proposal.id))
    });
    open
}

/// Whether a person sees the vote counts: leads always, registrants when
/// the lead allows it, everyone once the schedule is published.
#[must_use]
pub fn sees_ranking(conference: &Conference, is_lead: bool) -> bool {
    is_lead || conference.ranking_public || conference.phase >= ConferencePhase::SchedulePublished
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(co_hosts: &str) -> ProposalRequest {
        ProposalRequest {
            title: "Testing research code".into(),
            description: "How do we test?".into(),
            format: "discussion".into(),
            co_hosts: co_hosts.into(),
        }
    }

    #[test]
    fn co_hosts_are_read_deduplicated_without_the_proposer() {
        let me = Email::parse("me@example.org").unwrap();
        let (_, _, format, hosts) = check(
            &request("A@example.org, a@example.org;\nme@example.org b@example.org"),
            &me,
        )
        .unwrap();
        assert_eq!(format, SessionFormat::Discussion);
        let hosts: Vec<_> = hosts.iter().map(|e| e.normalized().to_owned()).collect();
        assert_eq!(hosts, ["a@example.org", "b@example.org"]);
    }

    #[test]
    fn a_bad_co_host_or_format_is_named() {
        let me = Email::parse("me@example.org").unwrap();
        let error = check(&request("not-an-address"), &me)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not-an-address"), "{error}");
        let mut bad = request("");
        bad.format = "keynote".into();
        let error = check(&bad, &me).unwrap_err().to_string();
        assert!(
            error.contains("keynote") && error.contains("workshop"),
            "{error}"
        );
    }
}
