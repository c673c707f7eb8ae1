//! Limits on failed logins, per account and per client address, so a
//! password cannot be guessed by trying. Counted in this process: with
//! several instances behind a balancer the effective limit is multiplied by
//! their number, which still bounds guessing.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How many failures are allowed within a window.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failed logins per account within the window.
    pub per_account: u32,
    /// Failed logins per client address within the window.
    pub per_address: u32,
    /// The window.
    pub window: Duration,
}

#[derive(Debug, Default)]
struct Failures {
    by_account: HashMap<String, Vec<Instant>>,
    by_address: HashMap<IpAddr, Vec<Instant>>,
}

#[derive(Debug)]
pub(crate) struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<Failures>,
}

impl LoginLimiter {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            failures: Mutex::new(Failures::default()),
        }
    }

    /// `Err(wait)` when this account or address must wait before trying again.
    pub(crate) fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = self.limits.window;
        let account_wait = blocked(
            failures.by_account.get_mut(account),
            self.limits.per_account,
            window,
            now,
        );
        let address_wait = address.and_then(|a| {
            blocked(
                failures.by_address.get_mut(&a),
                self.limits.per_address,
                window,
                now,
            )
        });
        match account_wait.max(address_wait) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub(crate) fn record_failure(&self, account: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bound memory under a flood of made-up accounts: forget what has aged out.
        if failures.by_account.len() > 100_000 {
            let window = self.limits.window;
            failures
                .by_account
                .retain(|_, times| times.iter().any(|t| now.duration_since(*t) < window));
        }
        failures
            .by_account
            .entry(account.to_owned())
            .or_default()
            .push(now);
        if let Some(address) = address {
            failures.by_address.entry(address).or_default().push(now);
        }
    }

    pub(crate) fn record_success(&self, account: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.by_account.remove(account);
    }
}

/// How long until the oldest failure in the window ages out, when the limit is reached.
fn blocked(
    times: Option<&mut Vec<Instant>>,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let times = times?;
    times.retain(|t| now.duration_since(*t) < window);
    if times.len() < limit as usize {
        return None;
    }
    times
        .first()
        .map(|oldest| window.saturating_sub(now.duration_since(*oldest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_blocks_an_account_until_success_clears_it() {
        let limiter = LoginLimiter::new(LoginLimits {
            per_account: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert!(limiter.check("ada", None).is_ok());
            limiter.record_failure("ada", None);
        }
        assert!(limiter.check("ada", None).is_err());
        assert!(limiter.check("bob", None).is_ok());
        limiter.record_success("ada");
        assert!(limiter.check("ada", None).is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_blocked() {
        let limiter = LoginLimiter::new(LoginLimits {
            per_account: 100,
            per_address: 2,
            window: Duration::from_secs(60),
        });
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        limiter.record_failure("a", address);
        limiter.record_failure("b", address);
        assert!(limiter.check("c", address).is_err());
        assert!(
            limiter
                .check("c", Some(IpAddr::from([10, 0, 0, 2])))
                .is_ok()
        );
    }
}
