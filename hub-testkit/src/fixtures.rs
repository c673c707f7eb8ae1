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
