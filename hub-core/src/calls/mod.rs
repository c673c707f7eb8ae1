//! Calls: repeat rules (`recurrence`) and their calendar form (`ical`).

pub mod ical;
pub mod recurrence;
