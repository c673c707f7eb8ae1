//! `cophub-webhook-receiver SECRET`: a webhook receiver in its own process,
//! for tests that kill cophub and must count what arrived across the kills.
//! Prints its URL on the first line of stdout, then serves until killed.
//! `GET /stats` answers the counts.

#[tokio::main]
async fn main() {
    let secret = std::env::args().nth(1).unwrap_or_default();
    let receiver = hub_testkit::webhook_receiver::WebhookReceiver::start(&secret).await;
    println!("{}", receiver.url);
    std::future::pending::<()>().await;
}
