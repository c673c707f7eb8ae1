//! Where cophub may connect when a person typed the address (webhook URLs,
//! Mailman, SMTP relays): http or https only, and never a private, loopback,
//! link-local or cloud-metadata address — checked after resolving the name,
//! and the connection then made to the checked address, so a DNS answer that
//! changes in between (rebinding) cannot redirect it. An owner may mark a
//! channel as local to allow its private address on purpose.

use std::net::{IpAddr, SocketAddr};

/// A destination that passed the checks, with the addresses to connect to.
#[derive(Debug, Clone)]
pub struct CheckedDestination {
    /// The URL as given.
    pub url: url::Url,
    /// The host name to pin.
    pub host: String,
    /// The addresses the name resolved to, all of them allowed.
    pub addresses: Vec<SocketAddr>,
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeDestination {
    /// Not a URL.
    #[error("{0:?} is not a URL")]
    NotUrl(String),
    /// Not http or https.
    #[error("only http:// and https:// addresses are allowed, not {0}:")]
    Scheme(String),
    /// The name does not resolve.
    #[error("the host {0} could not be resolved")]
    Unresolved(String),
    /// A private or special address.
    #[error(
        "{host} resolves to {address}, a private, loopback, link-local or metadata address; an owner can mark the channel as local to allow it"
    )]
    Private {
        /// The host.
        host: String,
        /// The address it resolved to.
        address: IpAddr,
    },
}

/// Checks a URL and resolves its host.
///
/// # Errors
/// [`UnsafeDestination`] saying what is wrong.
pub async fn check(text: &str, allow_local: bool) -> Result<CheckedDestination, UnsafeDestination> {
    let url = url::Url::parse(text)
        .map_err(|_| UnsafeDestination::NotUrl(text.chars().take(200).collect()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UnsafeDestination::Scheme(url.scheme().to_owned()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| UnsafeDestination::NotUrl(text.chars().take(200).collect()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| UnsafeDestination::Unresolved(host.clone()))?
        .collect();
    if addresses.is_empty() {
        return Err(UnsafeDestination::Unresolved(host));
    }
    if !allow_local && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(UnsafeDestination::Private {
            host,
            address: bad.ip(),
        });
    }
    Ok(CheckedDestination {
        url,
        host,
        addresses,
    })
}

/// Whether an address is on the public internet.
#[must_use]
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn loopback_and_other_schemes_are_refused_unless_local() {
        assert!(matches!(
            check("http://127.0.0.1:9/hook", false).await,
            Err(UnsafeDestination::Private { .. })
        ));
        assert!(matches!(
            check("http://localhost:9/hook", false).await,
            Err(UnsafeDestination::Private { .. })
        ));
        assert!(check("http://127.0.0.1:9/hook", true).await.is_ok());
        assert!(matches!(
            check("file:///etc/passwd", true).await,
            Err(UnsafeDestination::Scheme(_))
        ));
        assert!(matches!(
            check("gopher://x", true).await,
            Err(UnsafeDestination::Scheme(_))
        ));
        assert!(matches!(
            check("not a url", true).await,
            Err(UnsafeDestination::NotUrl(_))
        ));
    }
}
