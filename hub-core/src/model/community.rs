//! A community of practice: the unit every roster, channel and announcement
//! belongs to.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::word_enum;
use crate::ids::CommunityId;

/// A community.
#[derive(Debug, Clone, Serialize)]
pub struct Community {
    /// Its id.
    pub id: CommunityId,
    /// The short name in URLs and on the command line.
    pub slug: Slug,
    /// The name people read.
    pub name: String,
    /// An IANA timezone name; cron and calls are read in it.
    pub timezone: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who may read its archive of past announcements.
    pub archive: ArchiveVisibility,
}

impl Community {
    /// Its timezone, for showing its times; UTC should a stored name ever
    /// stop being one (names are checked when a community is made).
    #[must_use]
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Who may read a community's archive of past announcements
/// (`/c/{slug}/announcements`).
///
/// New communities start at [`ArchiveVisibility::Members`]: keeping the
/// history that Slack's free plan drops after 90 days is the point of the
/// archive, so it is on, but announcements may name people or link to
/// material meant for the community, so putting them on the open web is a
/// choice a lead makes, not one made for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveVisibility {
    /// No archive: its pages answer 404.
    Off,
    /// Active members, signed in by a mailed link, and the community's leads.
    #[default]
    Members,
    /// Anyone.
    Public,
}
word_enum!(ArchiveVisibility {
    Off => "off",
    Members => "members",
    Public => "public",
});

impl ArchiveVisibility {
    /// Whether the archive has pages at all.
    #[must_use]
    pub fn is_on(self) -> bool {
        self != Self::Off
    }

    /// How the dashboard names the setting.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Members => "members only",
            Self::Public => "public",
        }
    }
}

/// What is needed to create a community.
#[derive(Debug, Clone)]
pub struct NewCommunity {
    /// Its slug.
    pub slug: Slug,
    /// Its name, 1 to 200 characters.
    pub name: String,
    /// An IANA timezone name, checked.
    pub timezone: String,
}

/// Why a community cannot be created as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCommunity {
    /// The slug breaks the slug rules.
    #[error(
        "{0:?} is not a valid slug: use 2 to 64 lower-case letters, digits and single hyphens, starting with a letter"
    )]
    Slug(String),
    /// The name is empty or too long.
    #[error("a community name must have 1 to 200 characters")]
    Name,
    /// The timezone is not an IANA name.
    #[error("{0:?} is not a timezone name such as Europe/Berlin or America/New_York")]
    Timezone(String),
}

impl NewCommunity {
    /// Checks a community's fields.
    ///
    /// # Errors
    /// [`InvalidCommunity`] naming the first field that is wrong.
    pub fn new(slug: &str, name: &str, timezone: &str) -> Result<Self, InvalidCommunity> {
        let slug = Slug::parse(slug)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(InvalidCommunity::Name);
        }
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(InvalidCommunity::Timezone(
                timezone.chars().take(64).collect(),
            ));
        }
        Ok(Self {
            slug,
            name: name.to_owned(),
            timezone: timezone.to_owned(),
        })
    }
}

/// A community's URL name: `[a-z][a-z0-9-]{1,63}`, no double or trailing hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Checks a slug.
    ///
    /// # Errors
    /// [`InvalidCommunity::Slug`] when it breaks the rules.
    pub fn parse(input: &str) -> Result<Self, InvalidCommunity> {
        let ok = (2..=64).contains(&input.len())
            && input.starts_with(|c: char| c.is_ascii_lowercase())
            && input
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !input.contains("--")
            && !input.ends_with('-');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidCommunity::Slug(input.chars().take(64).collect()))
        }
    }

    /// The slug as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe_words() {
        assert!(Slug::parse("data-stewards").is_ok());
        assert!(Slug::parse("rse2").is_ok());
        for bad in ["", "a", "Data", "2rse", "a--b", "a-", "a b", "ä-b"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_unknown_timezone_is_named_in_the_error() {
        let err = NewCommunity::new("rse", "RSE", "Mars/Olympus").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"));
        assert!(NewCommunity::new("rse", "RSE", "Europe/Berlin").is_ok());
    }
}
