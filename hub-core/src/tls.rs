//! One process-wide TLS setup. reqwest (with `rustls-no-provider`) and lettre
//! need a rustls crypto provider installed before their first client is built;
//! cophub uses ring only, so no C crypto library is built.

/// Installs ring as the process's rustls provider. Safe to call many times.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed ring already; both are fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
