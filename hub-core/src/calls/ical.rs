//! The calendar form of a call (RFC 5545).
