//! Members as Zoom meeting registrants. A Zoom channel's members are the
//! people registered (and approved) for its registration meetings; the same
//! person on several meetings is one member, known by their lowercased
//! email. Adding a person registers them on every registration meeting
//! (for a recurring meeting, for every occurrence); removing them cancels
//! those registrations, at most 30 to a call as Zoom allows.
//!
//! Zoom keeps a cancelled registration: registering the same email again
//! answers the old one, still cancelled. So a person added back after a
//! removal is approved again rather than registered anew.

use std::collections::{HashMap, HashSet};

use hub_core::{
    Email,
    ports::adapter::{AdapterError, RemoteMember},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{ZoomAdapter, meetings::meeting_number, pacer::Rate, query_value, refused};

/// Most registrants Zoom takes in one status update.
pub const STATUS_BATCH: usize = 30;
/// Registrants per page (Zoom's largest page).
const PAGE_SIZE: usize = 300;
/// Zoom's longest first or last name.
const MAX_NAME: usize = 64;

/// One person's registration for one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Zoom's registrant id.
    pub id: String,
    /// The email as registered.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The join link made for this person alone.
    pub join_url: String,
}

impl Registration {
    fn read(value: &Value) -> Option<Self> {
        let text = |key: &str| value[key].as_str().unwrap_or_default().trim().to_owned();
        let registration = Self {
            id: text("id"),
            email: text("email"),
            first_name: text("first_name"),
            last_name: text("last_name"),
            join_url: text("join_url"),
        };
        (!registration.email.is_empty()).then_some(registration)
    }

    /// The lowercased email, the member's external id.
    fn key(&self) -> String {
        self.email.to_lowercase()
    }

    fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }
}

/// What registering a person for a meeting needs to know of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct MeetingKind {
    /// For a recurring meeting whose people register per occurrence, the
    /// occurrences to register them for; empty when one registration covers
    /// every occurrence.
    occurrence_ids: Vec<String>,
}

/// First and last name from a full name: the first word, then the rest.
/// Zoom requires a first name, so a person without a name is named by their
/// address's local part.
fn split_name(name: &str, email: &Email) -> (String, String) {
    let name = name.trim();
    let (first, last) = name
        .split_once(char::is_whitespace)
        .map_or((name, ""), |(first, last)| (first, last.trim()));
    let first = if first.is_empty() {
        email.display().split('@').next().unwrap_or("member")
    } else {
        first
    };
    (
        first.chars().take(MAX_NAME).collect(),
        last.chars().take(MAX_NAME).collect(),
    )
}

/// A registrant's join link, which Zoom always gives: an answer without
/// one is malformed, and asking again finds the registration.
fn given_link(join_url: String, email: &Email, meeting: u64) -> Result<String, AdapterError> {
    if join_url.trim().is_empty() {
        return Err(AdapterError::Transient(format!(
            "Zoom answered the registration of {} for meeting {meeting} without a join link",
            email.display()
        )));
    }
    Ok(join_url)
}

fn meeting_path(meeting: &str) -> Result<u64, AdapterError> {
    meeting_number(meeting).ok_or_else(|| {
        AdapterError::Permanent(format!(
            "{meeting:?} is not a Zoom meeting number (its digits, such as 81234567890)"
        ))
    })
}

impl ZoomAdapter {
    /// Every registration of `meeting` with this status, every page.
    async fn fetch_registrants(
        &self,
        meeting: u64,
        status: &str,
    ) -> Result<Vec<Registration>, AdapterError> {
        let mut found = Vec::new();
        let mut token = String::new();
        loop {
            let mut path =
                format!("/meetings/{meeting}/registrants?status={status}&page_size={PAGE_SIZE}");
            if !token.is_empty() {
                path.push_str("&next_page_token=");
                path.push_str(&query_value(&token));
            }
            let what = format!("list the registrants of meeting {meeting}");
            let page = self
                .call(Rate::Medium, Method::GET, &path, None)
                .await
                .map_err(refused(&what))?;
            found.extend(
                page["registrants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Registration::read),
            );
            let next = page["next_page_token"].as_str().unwrap_or_default();
            if next.is_empty() {
                return Ok(found);
            }
            if next == token {
                return Err(AdapterError::Transient(format!(
                    "Zoom gave the same page of meeting {meeting}'s registrants twice; try again later"
                )));
            }
            next.clone_into(&mut token);
        }
    }

    /// The approved registrations of a meeting by lowercased email: read
    /// once, then kept by this adapter's own changes.
    async fn approved_of(
        &self,
        meeting: u64,
    ) -> Result<HashMap<String, Registration>, AdapterError> {
        let key = meeting.to_string();
        if let Some(known) = crate::lock(&self.approved).get(&key) {
            return Ok(known.clone());
        }
        let read: HashMap<String, Registration> = self
            .fetch_registrants(meeting, "approved")
            .await?
            .into_iter()
            .map(|r| (r.key(), r))
            .collect();
        crate::lock(&self.approved).insert(key, read.clone());
        Ok(read)
    }

    /// The registrations of a meeting Zoom keeps without them being
    /// approved (cancelled, denied or waiting), by lowercased email.
    async fn inactive_of(
        &self,
        meeting: u64,
    ) -> Result<HashMap<String, Registration>, AdapterError> {
        let key = meeting.to_string();
        if let Some(known) = crate::lock(&self.denied).get(&key) {
            return Ok(known.clone());
        }
        let mut read = HashMap::new();
        for status in ["denied", "pending"] {
            for registration in self.fetch_registrants(meeting, status).await? {
                read.insert(registration.key(), registration);
            }
        }
        crate::lock(&self.denied).insert(key, read.clone());
        Ok(read)
    }

    async fn meeting_kind(&self, meeting: u64) -> Result<MeetingKind, AdapterError> {
        let key = meeting.to_string();
        if let Some(known) = crate::lock(&self.meeting_kinds).get(&key) {
            return Ok(known.clone());
        }
        let what = format!("read meeting {meeting}");
        let answer = self
            .call(
                Rate::Light,
                Method::GET,
                &format!("/meetings/{meeting}"),
                None,
            )
            .await
            .map_err(refused(&what))?;
        let recurring = answer["type"].as_u64() == Some(8);
        let once_for_all = answer["settings"]["registration_type"]
            .as_u64()
            .is_none_or(|t| t == 1);
        let occurrence_ids = if recurring && !once_for_all {
            answer["occurrences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| o["status"].as_str() != Some("deleted"))
                .filter_map(|o| o["occurrence_id"].as_str().map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        let kind = MeetingKind { occurrence_ids };
        crate::lock(&self.meeting_kinds).insert(key, kind.clone());
        Ok(kind)
    }

    /// Every approved registrant of every registration meeting, once each.
    pub(crate) async fn registered_members(&self) -> Result<Vec<RemoteMember>, AdapterError> {
        let mut seen = HashSet::new();
        let mut members = Vec::new();
        for meeting in &self.settings.registration_meetings {
            let number = meeting_path(meeting)?;
            let registrations = self.fetch_registrants(number, "approved").await?;
            let mut by_email = HashMap::with_capacity(registrations.len());
            for registration in registrations {
                let key = registration.key();
                if seen.insert(key.clone()) {
                    members.push(RemoteMember {
                        external_id: key.clone(),
                        email: Email::parse(&registration.email).ok(),
                        name: registration.name(),
                    });
                }
                by_email.insert(key, registration);
            }
            crate::lock(&self.approved).insert(number.to_string(), by_email);
        }
        Ok(members)
    }

    /// Registers a person on every registration meeting; answers their
    /// external id. One already registered stays as they are; one whose
    /// registration was cancelled, denied or is waiting is approved.
    pub(crate) async fn register(&self, email: &Email, name: &str) -> Result<String, AdapterError> {
        for meeting in &self.settings.registration_meetings {
            self.register_on(meeting, email, name).await?;
        }
        Ok(email.normalized().to_owned())
    }

    /// Registers a person on one meeting (every occurrence of a recurring
    /// one) as [`Self::register`] does; answers their own join link.
    pub(crate) async fn register_on(
        &self,
        meeting: &str,
        email: &Email,
        name: &str,
    ) -> Result<String, AdapterError> {
        let key = email.normalized().to_owned();
        let number = meeting_path(meeting)?;
        let what = format!("register {} for meeting {number}", email.display());
        if let Some(kept) = self.inactive_of(number).await?.get(&key).cloned() {
            let body = json!({
                "action": "approve",
                "registrants": [{"id": kept.id, "email": kept.email}],
            });
            self.call(
                Rate::Medium,
                Method::PUT,
                &format!("/meetings/{number}/registrants/status"),
                Some(&body),
            )
            .await
            .map_err(refused(&what))?;
            if let Some(inactive) = crate::lock(&self.denied).get_mut(&number.to_string()) {
                inactive.remove(&key);
            }
            let join_url = kept.join_url.clone();
            self.remember_approved(number, kept);
            return given_link(join_url, email, number);
        }
        let kind = self.meeting_kind(number).await?;
        let mut path = format!("/meetings/{number}/registrants");
        if !kind.occurrence_ids.is_empty() {
            path.push_str("?occurrence_ids=");
            path.push_str(&query_value(&kind.occurrence_ids.join(",")));
        }
        let (first_name, last_name) = split_name(name, email);
        let body = json!({
            "email": email.display(),
            "first_name": first_name,
            "last_name": last_name,
            // Approved at once even where the meeting asks the host to
            // approve: the hub already decided this person belongs.
            "auto_approve": true,
        });
        let answer = self
            .call(Rate::Light, Method::POST, &path, Some(&body))
            .await
            .map_err(refused(&what))?;
        let join_url = answer["join_url"].as_str().unwrap_or_default().to_owned();
        self.remember_approved(
            number,
            Registration {
                id: answer["registrant_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                email: email.display().to_owned(),
                first_name,
                last_name,
                join_url: join_url.clone(),
            },
        );
        given_link(join_url, email, number)
    }

    fn remember_approved(&self, meeting: u64, registration: Registration) {
        if let Some(approved) = crate::lock(&self.approved).get_mut(&meeting.to_string()) {
            approved.insert(registration.key(), registration);
        }
    }

    /// Cancels the registrations of these people (by email, any case) for
    /// one meeting, [`STATUS_BATCH`] to a call; people not registered are
    /// skipped. Answers how many registrations were cancelled.
    ///
    /// # Errors
    /// `Permanent` when `meeting_id` is not a meeting number or Zoom refuses
    /// (a meeting without registration); any other class of the calls. A
    /// failure part way leaves the earlier batches cancelled, and a second
    /// run finishes the rest.
    pub async fn cancel_registrants(
        &self,
        meeting_id: &str,
        emails: &[String],
    ) -> Result<usize, AdapterError> {
        let number = meeting_path(meeting_id)?;
        let approved = self.approved_of(number).await?;
        let mut wanted = HashSet::new();
        let targets: Vec<Registration> = emails
            .iter()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| wanted.insert(e.clone()))
            .filter_map(|e| approved.get(&e).cloned())
            .collect();
        let what = format!("cancel registrations for meeting {number}");
        for batch in targets.chunks(STATUS_BATCH) {
            let registrants: Vec<Value> = batch
                .iter()
                .map(|r| json!({"id": r.id, "email": r.email}))
                .collect();
            let body = json!({"action": "cancel", "registrants": registrants});
            self.call(
                Rate::Medium,
                Method::PUT,
                &format!("/meetings/{number}/registrants/status"),
                Some(&body),
            )
            .await
            .map_err(refused(&what))?;
            let key = number.to_string();
            if let Some(approved) = crate::lock(&self.approved).get_mut(&key) {
                for registration in batch {
                    approved.remove(&registration.key());
                }
            }
            if let Some(inactive) = crate::lock(&self.denied).get_mut(&key) {
                for registration in batch {
                    inactive.insert(registration.key(), registration.clone());
                }
            }
        }
        Ok(targets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_splits_after_its_first_word_and_an_empty_one_uses_the_address() {
        let email = Email::parse("Ada.L@example.org").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            split_name("Ludwig van Beethoven", &email),
            ("Ludwig".into(), "van Beethoven".into())
        );
        assert_eq!(split_name("  Ada ", &email), ("Ada".into(), String::new()));
        assert_eq!(split_name("", &email), ("Ada.L".into(), String::new()));
    }
}
