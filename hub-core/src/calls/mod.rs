//! Calls: repeat rules (`recurrence`), their calendar form (`ical`) and
//! feeds (`feed`), invitations by email (`invitations`) and the day-before
//! reminders (`reminders`), the
//! rules of scheduling and changing them (`schedule`), and the worker that
//! brings every channel in line (`lander`); what Zoom tells of a call once
//! it runs — who came, when it ran, its recording (`attendance`).

pub mod attendance;
pub mod feed;
pub mod ical;
pub mod invitations;
pub mod lander;
pub mod recurrence;
pub mod reminders;
pub mod schedule;
