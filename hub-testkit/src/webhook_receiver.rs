//! A webhook receiver written from cophub's published webhook contract (the
//! README and adapters/webhook's docs), not from the adapter's code: it checks
//! the `Cophub-Signature` over `v1:{timestamp}:{body}`, refuses stale
//! timestamps, and counts deliveries by `Cophub-Delivery`, so tests can see
//! losses and duplicates. Faults are scripted per test.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and Retry-After seconds, if given), without counting.
    Status(u16, Option<u64>),
    /// Count the delivery, then wait this long before answering (a timeout after the post).
    SlowAfterCounting(Duration),
    /// Wait this long, then count and answer.
    Slow(Duration),
}

#[derive(Debug, Default)]
struct Counts {
    by_delivery: HashMap<String, u32>,
    bodies: Vec<serde_json::Value>,
    refused: u32,
    faults: VecDeque<Fault>,
    arrivals: Vec<chrono::DateTime<chrono::Utc>>,
}

/// Statistics, as `/stats` answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Distinct delivery ids received.
    pub distinct: u64,
    /// Requests counted (a duplicate counts twice).
    pub total: u64,
    /// Requests refused for a bad or missing signature.
    pub refused: u64,
}

#[derive(Debug, Clone)]
struct Receiver {
    secret: Arc<String>,
    counts: Arc<Mutex<Counts>>,
}

/// A running receiver.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    receiver: Receiver,
}

impl WebhookReceiver {
    /// Starts a receiver that checks signatures made with `secret`
    /// (an empty secret accepts unsigned Slack-style payloads).
    ///
    /// # Panics
    /// When no local port can be bound.
    #[allow(clippy::expect_used)]
    pub async fn start(secret: &str) -> Self {
        Self::start_on(secret, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a receiver on a given address.
    ///
    /// # Panics
    /// When the address cannot be bound.
    #[allow(clippy::expect_used)]
    pub async fn start_on(secret: &str, address: SocketAddr) -> Self {
        let receiver = Receiver {
            secret: Arc::new(secret.to_owned()),
            counts: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .route("/stats", get(stats))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("a port for the receiver");
        let address = listener.local_addr().expect("the receiver's address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{address}/hook"),
            receiver,
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.receiver
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.counts().faults.extend(faults);
    }

    /// What arrived so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        stats_of(&self.counts())
    }

    /// The JSON bodies received, in order.
    #[must_use]
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.counts().bodies.clone()
    }

    /// When each counted request arrived.
    #[must_use]
    pub fn arrivals(&self) -> Vec<chrono::DateTime<chrono::Utc>> {
        self.counts().arrivals.clone()
    }
}

fn stats_of(counts: &Counts) -> Stats {
    Stats {
        distinct: counts.by_delivery.len() as u64,
        total: counts.by_delivery.values().map(|n| u64::from(*n)).sum(),
        refused: u64::from(counts.refused),
    }
}

async fn stats(State(receiver): State<Receiver>) -> Json<Stats> {
    let counts = receiver
        .counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(stats_of(&counts))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the signature as the contract says a receiver should.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    if secret.is_empty() {
        return true;
    }
    let (Some(timestamp), Some(signature)) = (
        header(headers, "cophub-timestamp"),
        header(headers, "cophub-signature"),
    ) else {
        return false;
    };
    let Ok(timestamp) = timestamp.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let Some(hex_signature) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    if !verified(&receiver.secret, &headers, &body) {
        let mut counts = receiver
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.refused += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let fault = {
        let mut counts = receiver
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.faults.pop_front()
    };
    let count = || {
        let mut counts = receiver
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = header(&headers, "cophub-delivery")
            .unwrap_or("unsigned")
            .to_owned();
        *counts.by_delivery.entry(id).or_default() += 1;
        counts.arrivals.push(chrono::Utc::now());
        if let Ok(json) = serde_json::from_slice(&body) {
            counts.bodies.push(json);
        }
    };
    match fault {
        Some(Fault::Status(status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, "scripted").into_response();
            if let Some(seconds) = retry_after
                && let Ok(value) = seconds.to_string().parse()
            {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Some(Fault::SlowAfterCounting(delay)) => {
            count();
            tokio::time::sleep(delay).await;
            StatusCode::OK.into_response()
        }
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            count();
            StatusCode::OK.into_response()
        }
        None => {
            count();
            StatusCode::OK.into_response()
        }
    }
}
