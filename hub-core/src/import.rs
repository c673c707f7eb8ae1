//! Reading a lead's members CSV and planning what it changes.
//!
//! Columns: `email` (required), `name`, `role` (`lead` or `member`) and
//! `email_list` (`yes`/`no`, sets email consent); header names in any letter
//! case, other columns ignored with a warning. The same person twice (in any
//! letter case) is merged, the later row winning with a warning.
//!
//! Consent rule: `email_list=yes` subscribes, but never someone who opted
//! out (only they, or a lead on their page, can undo that); `no` takes a
//! subscribed person off the list without recording an opt-out they never made.

use std::collections::HashMap;

use serde::Serialize;

use crate::{
    Email,
    ids::MemberId,
    model::member::{
        CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, Member, MemberState,
        MemberUpdate, NewMember, clean_name,
    },
};

/// A bad row: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// What is wrong with it, as a sentence.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A good row.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Its line in the file.
    pub line: u64,
    /// The email.
    pub email: Email,
    /// The name, when the file gives one.
    pub name: Option<String>,
    /// The role, when the file gives one.
    pub role: Option<CommunityRole>,
    /// `email_list`, when the file gives it.
    pub email_list: Option<bool>,
}

/// A file that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableCsv {
    /// No header line.
    #[error("the file is empty: the first line must name the columns, e.g. email,name,role")]
    Empty,
    /// No email column.
    #[error(
        "the file has no email column: the first line must name the columns, e.g. email,name,role"
    )]
    NoEmailColumn,
    /// A column named twice.
    #[error("the column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    /// The header is not CSV.
    #[error("the header line could not be read: {0}")]
    Header(String),
}

/// What a CSV file says, row by row.
#[derive(Debug, Clone, Default)]
pub struct ParsedCsv {
    /// The good rows, duplicates merged (the later row wins).
    pub rows: Vec<ImportRow>,
    /// The bad rows.
    pub errors: Vec<RowError>,
    /// Things the lead should know that did not stop the import.
    pub warnings: Vec<String>,
}

/// Reads a members CSV.
///
/// # Errors
/// [`UnreadableCsv`] when the header is missing or lacks an email column;
/// bad rows are collected in [`ParsedCsv::errors`] instead.
pub fn parse_csv(data: &[u8]) -> Result<ParsedCsv, UnreadableCsv> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| UnreadableCsv::Header(e.to_string()))?
        .clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(UnreadableCsv::Empty);
    }
    let mut parsed = ParsedCsv::default();
    let mut columns: HashMap<String, usize> = HashMap::new();
    for (index, header) in headers.iter().enumerate() {
        let name = header.trim_start_matches('\u{feff}').to_lowercase();
        if columns.insert(name.clone(), index).is_some() {
            return Err(UnreadableCsv::DuplicateColumn(name));
        }
        if !["email", "name", "role", "email_list"].contains(&name.as_str()) {
            parsed
                .warnings
                .push(format!("the column {header:?} is not used and was ignored"));
        }
    }
    let email_col = *columns.get("email").ok_or(UnreadableCsv::NoEmailColumn)?;
    let name_col = columns.get("name").copied();
    let role_col = columns.get("role").copied();
    let list_col = columns.get("email_list").copied();

    let mut seen: HashMap<Email, usize> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, csv::Position::line);
                parsed.errors.push(RowError {
                    line,
                    reason: csv_reason(&e),
                });
                // A broken encoding or quote leaves the reader's place unknown.
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            parsed.errors.push(RowError {
                line,
                reason: format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        match read_row(&record, line, email_col, name_col, role_col, list_col) {
            Ok(row) => {
                if let Some(&earlier) = seen.get(&row.email) {
                    let previous = &mut parsed.rows[earlier];
                    parsed.warnings.push(format!(
                        "line {}: {} is the same person as on line {}; line {} wins",
                        row.line, row.email, previous.line, row.line
                    ));
                    *previous = row;
                } else {
                    seen.insert(row.email.clone(), parsed.rows.len());
                    parsed.rows.push(row);
                }
            }
            Err(reason) => parsed.errors.push(RowError { line, reason }),
        }
    }
    Ok(parsed)
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "is not valid UTF-8 text (save the file as UTF-8)".to_owned()
        }
        _ => format!("could not be read as CSV ({error}); nothing after it was read"),
    }
}

fn read_row(
    record: &csv::StringRecord,
    line: u64,
    email_col: usize,
    name_col: Option<usize>,
    role_col: Option<usize>,
    list_col: Option<usize>,
) -> Result<ImportRow, String> {
    let cell = |col: Option<usize>| col.and_then(|c| record.get(c)).filter(|v| !v.is_empty());
    let email =
        Email::parse(record.get(email_col).unwrap_or_default()).map_err(|e| e.to_string())?;
    let name = cell(name_col)
        .map(clean_name)
        .transpose()
        .map_err(|e| e.to_string())?;
    let role = match cell(role_col).map(str::to_lowercase).as_deref() {
        None => None,
        Some("lead") => Some(CommunityRole::Lead),
        Some("member") => Some(CommunityRole::Member),
        Some("owner") => {
            return Err(
                "role \"owner\" cannot be imported: owners are logins, made with `cophub user create --owner`"
                    .to_owned(),
            );
        }
        Some(other) => return Err(format!("role {other:?} is not lead or member")),
    };
    let email_list = match cell(list_col).map(str::to_lowercase).as_deref() {
        None => None,
        Some("yes" | "y" | "true" | "1") => Some(true),
        Some("no" | "n" | "false" | "0") => Some(false),
        Some(other) => return Err(format!("email_list {other:?} is not yes or no")),
    };
    Ok(ImportRow {
        line,
        email,
        name,
        role,
        email_list,
    })
}

/// What an import will change, computed before anything is written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportPlan {
    /// Members to add.
    #[serde(skip)]
    pub creates: Vec<NewMember>,
    /// Members to change.
    #[serde(skip)]
    pub updates: Vec<(MemberId, MemberUpdate)>,
    /// How many are added.
    pub created: usize,
    /// How many are changed.
    pub updated: usize,
    /// How many rows change nothing.
    pub unchanged: usize,
    /// Bad rows (left out with `skip_invalid`, otherwise they stop the import).
    pub errors: Vec<RowError>,
    /// Warnings for the lead.
    pub warnings: Vec<String>,
}

/// An import refused as a whole because of bad rows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} row(s) are invalid, so nothing was imported", .0.errors.len())]
pub struct RejectedImport(pub ImportPlan);

/// Plans an import of `parsed` against the community's current `existing` members.
///
/// # Errors
/// [`RejectedImport`] when any row is bad and `skip_invalid` is off: the
/// plan inside lists every bad row; nothing may be written.
pub fn plan_import(
    parsed: ParsedCsv,
    existing: &[Member],
    skip_invalid: bool,
) -> Result<ImportPlan, RejectedImport> {
    let by_email: HashMap<&str, &Member> =
        existing.iter().map(|m| (m.email.normalized(), m)).collect();
    let mut plan = ImportPlan {
        errors: parsed.errors,
        warnings: parsed.warnings,
        ..ImportPlan::default()
    };
    for row in parsed.rows {
        match by_email.get(row.email.normalized()) {
            None => plan.creates.push(NewMember {
                email: row.email,
                name: row.name.unwrap_or_default(),
                role: row.role.unwrap_or(CommunityRole::Member),
                email_consent: row.email_list.map(|on| {
                    if on {
                        ConsentStatus::Subscribed
                    } else {
                        ConsentStatus::None
                    }
                }),
            }),
            Some(member) => {
                let mut update = MemberUpdate {
                    name: row.name,
                    role: row.role,
                    state: Some(MemberState::Active),
                    consents: Vec::new(),
                };
                if let Some(wanted) = row.email_list {
                    let current = member.consent(ConsentChannel::Email);
                    match (wanted, current) {
                        (true, ConsentStatus::OptedOut) => plan.warnings.push(format!(
                            "line {}: {} opted out of email and stays opted out; only they, or a lead on their page, can change that",
                            row.line, row.email
                        )),
                        (true, _) => update.consents.push((
                            ConsentChannel::Email,
                            ConsentStatus::Subscribed,
                            ConsentSource::Import,
                        )),
                        (false, ConsentStatus::Subscribed) => update.consents.push((
                            ConsentChannel::Email,
                            ConsentStatus::None,
                            ConsentSource::Import,
                        )),
                        (false, _) => {}
                    }
                }
                if update.changes_nothing_for(member) {
                    plan.unchanged += 1;
                } else {
                    plan.updates.push((member.id, update));
                }
            }
        }
    }
    plan.created = plan.creates.len();
    plan.updated = plan.updates.len();
    if !plan.errors.is_empty() && !skip_invalid {
        return Err(RejectedImport(plan));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedCsv {
        parse_csv(text.as_bytes()).unwrap()
    }

    #[test]
    fn headers_in_any_case_and_extra_columns_are_read_with_a_warning() {
        let parsed = parse("EMAIL,Name,Role,Phone\nada@example.org,Ada,lead,123\n");
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].role, Some(CommunityRole::Lead));
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("Phone"));
    }

    #[test]
    fn every_bad_row_is_listed_with_its_line() {
        let parsed = parse(
            "email,name,role\nnot-an-email,X,member\nada@example.org,Ada,owner\nbob@example.org,Bob,chief\nok@example.org,Ok,member\nshort@example.org\n",
        );
        let lines: Vec<u64> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 6]);
        assert!(parsed.errors[1].reason.contains("owner"));
        assert_eq!(parsed.rows.len(), 1);
    }

    #[test]
    fn the_same_person_twice_is_merged_and_the_later_row_wins() {
        let parsed = parse("email,name\nAda@Example.org,First\nada@example.org,Second\n");
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].name.as_deref(), Some("Second"));
        assert!(parsed.warnings[0].contains("line 3"));
    }

    #[test]
    fn a_file_without_an_email_column_is_refused_whole() {
        assert_eq!(
            parse_csv(b"name,role\nAda,lead\n").unwrap_err(),
            UnreadableCsv::NoEmailColumn
        );
        assert_eq!(parse_csv(b"").unwrap_err(), UnreadableCsv::Empty);
    }

    #[test]
    fn invalid_utf8_is_a_row_error_not_a_crash() {
        let parsed =
            parse_csv(b"email,name\nada@example.org,\xff\xfe\nbob@example.org,Bob\n").unwrap();
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert_eq!(parsed.rows.len(), 1);
    }

    #[test]
    fn bad_rows_reject_the_whole_import_unless_skipped() {
        let parsed = parse("email\nada@example.org\nnope\n");
        let rejected = plan_import(parsed.clone(), &[], false).unwrap_err();
        assert_eq!(rejected.0.errors.len(), 1);
        let plan = plan_import(parsed, &[], true).unwrap();
        assert_eq!(plan.created, 1);
    }

    fn member(email: &str, consent: ConsentStatus) -> Member {
        let now = chrono::Utc::now();
        Member {
            id: MemberId::new(),
            community_id: crate::ids::CommunityId::new(),
            email: Email::parse(email).unwrap(),
            name: "Ada".into(),
            role: CommunityRole::Member,
            state: MemberState::Active,
            consents: vec![crate::model::member::Consent {
                channel: ConsentChannel::Email,
                status: consent,
                changed_at: now,
                source: ConsentSource::Member,
            }],
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_import_never_resubscribes_someone_who_opted_out() {
        let existing = [member("ada@example.org", ConsentStatus::OptedOut)];
        let plan = plan_import(
            parse("email,email_list\nADA@example.org,yes\n"),
            &existing,
            false,
        )
        .unwrap();
        assert_eq!(plan.updated, 0);
        assert_eq!(plan.unchanged, 1);
        assert!(plan.warnings[0].contains("opted out"));
    }

    #[test]
    fn reimporting_the_same_file_changes_nothing() {
        let existing = [member("ada@example.org", ConsentStatus::Subscribed)];
        let plan = plan_import(
            parse("email,name,role,email_list\nada@example.org,Ada,member,yes\n"),
            &existing,
            false,
        )
        .unwrap();
        assert_eq!((plan.created, plan.updated, plan.unchanged), (0, 0, 1));
    }
}
