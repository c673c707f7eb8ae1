//! cophub's Zoom channel. So far: the API client under it — Server-to-Server
//! OAuth with a cached token renewed before it expires (one renewal at a
//! time), and Zoom's answers turned into the engine's error classes; and the
//! webhook URL validation. The meetings, registrants, Team Chat and the
//! webhook receiver come with the rest of the Zoom issue.

pub mod client;
pub mod webhooks;
