//! Keeps our calls under Zoom's per-second rate limits. Zoom counts requests
//! per account and per rate-limit label (Light, Medium, …), shared by every
//! app and user of the account, and answers 429 past the limit. One
//! process-wide [`Pacer`] spaces the calls of each (account, label) pair
//! evenly, a little below the limit, so a sync or a burst of schedules does
//! not run into the 429s in the first place; a 429 that still comes (another
//! app on the account, another process) goes to the engine as
//! `RateLimited`, as always.
//!
//! The pacer only reserves send times: each call takes the next free slot of
//! its pair and sleeps until then. Nothing is queued, no task is spawned.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// Zoom's rate-limit labels for the routes this adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rate {
    /// Light: 80 requests a second (Get a Meeting, Update and Delete a
    /// Meeting, Add a Registrant).
    Light,
    /// Medium: 60 requests a second (List Users, Create and List Meetings,
    /// List Registrants, Update Registrant Status, Send a Chat Message).
    Medium,
}

impl Rate {
    /// Zoom's limit for the label, requests a second (Pro and Business
    /// accounts; larger plans allow more, which pacing at this rate leaves
    /// unused).
    #[must_use]
    pub const fn per_second(self) -> u32 {
        match self {
            Self::Light => 80,
            Self::Medium => 60,
        }
    }

    /// The time between two calls: the limit's spacing plus a tenth, so
    /// calls that travel at slightly different speeds still arrive under it.
    #[must_use]
    pub fn spacing(self) -> Duration {
        Duration::from_secs(1) * 11 / (self.per_second() * 10)
    }
}

/// Send times reserved per (account id, label).
#[derive(Debug, Default)]
pub struct Pacer {
    /// The next free send time of each pair.
    next: Mutex<HashMap<(String, Rate), Instant>>,
}

static GLOBAL: LazyLock<Pacer> = LazyLock::new(Pacer::default);

impl Pacer {
    /// The pacer every adapter of this process shares, so two channels on
    /// the same Zoom account pace together.
    #[must_use]
    pub fn global() -> &'static Self {
        &GLOBAL
    }

    /// Reserves the next send time for a call of `account` under `rate`,
    /// seen at `now`: `now` when the pair has been quiet, else one spacing
    /// after the last reservation.
    pub fn reserve(&self, account: &str, rate: Rate, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let free = next.entry((account.to_owned(), rate)).or_insert(now);
        let slot = (*free).max(now);
        *free = slot + rate.spacing();
        slot
    }

    /// Waits for this call's turn.
    pub async fn wait(&self, account: &str, rate: Rate) {
        let slot = self.reserve(account, rate, Instant::now());
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_of_one_account_and_label_are_spaced_under_the_limit() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let slots: Vec<Instant> = (0..120)
            .map(|_| pacer.reserve("acct", Rate::Medium, start))
            .collect();
        assert_eq!(slots[0], start, "the first call goes at once");
        for pair in slots.windows(2) {
            assert_eq!(pair[1] - pair[0], Rate::Medium.spacing());
        }
        // However the window falls, a second holds fewer than 60 calls.
        for (i, first) in slots.iter().enumerate() {
            let within = slots[i..]
                .iter()
                .take_while(|s| **s - *first < Duration::from_secs(1))
                .count();
            assert!(within < 60, "{within} calls within a second");
        }
        assert!(Rate::Light.spacing() < Rate::Medium.spacing());
    }

    #[test]
    fn labels_and_accounts_pace_apart_and_a_quiet_pair_starts_afresh() {
        let pacer = Pacer::default();
        let start = Instant::now();
        pacer.reserve("a", Rate::Medium, start);
        assert_eq!(pacer.reserve("a", Rate::Light, start), start);
        assert_eq!(pacer.reserve("b", Rate::Medium, start), start);
        assert_eq!(
            pacer.reserve("a", Rate::Medium, start),
            start + Rate::Medium.spacing()
        );
        let later = start + Duration::from_secs(5);
        assert_eq!(pacer.reserve("a", Rate::Medium, later), later);
    }

    #[tokio::test]
    async fn waiting_takes_the_reserved_turn() {
        let pacer = Pacer::default();
        let start = std::time::Instant::now();
        for _ in 0..4 {
            pacer.wait("acct", Rate::Medium).await;
        }
        assert!(start.elapsed() >= Rate::Medium.spacing() * 3);
    }
}
