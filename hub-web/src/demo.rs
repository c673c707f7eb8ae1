//! What only `cophub demo` serves: the pages that show what the simulated
//! services received (`/demo/mail`, `/demo/mail/{n}`, `/demo/slack`) and
//! the label on every page that says this is a demo.
//!
//! None of it is part of [`crate::router`]: the demo command merges
//! [`demo_router`] into the ordinary application and wraps the whole in
//! [`label`]. The label lives with the request, not in a global: `label`
//! marks each request it serves (a task-local), and the layout asks
//! [`is_demo`] while the page is rendered, so the same process could serve
//! an unlabelled application beside it, and the ordinary routers do not
//! change.
//!
//! What the simulated services hold comes through the [`Simulated`] port,
//! so this crate knows neither the fakes nor their crate.

use std::{fmt::Debug, sync::Arc, time::Duration};

use askama::Template;
use axum::{
    Extension, Router,
    extract::{Path, Request},
    http::HeaderName,
    middleware::{self, Next},
    response::{Html, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    AppState, csrf::CsrfToken, error::AppError, routes::nav, security, session::CurrentUser,
    templates::Nav,
};

/// One message the demo's mail sink received, as a person reads it.
#[derive(Debug, Clone, Default)]
pub struct DemoMail {
    /// Its number in the sink (1 for the first).
    pub number: u64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The envelope sender; empty for bounces' null sender.
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpt_to: Vec<String>,
    /// The headers, decoded, in order.
    pub headers: Vec<(String, String)>,
    /// The first plain-text part, decoded.
    pub text: Option<String>,
    /// The first HTML part's source, decoded; shown as text, never rendered.
    pub html: Option<String>,
    /// Every part's content type (and file name, if any), in order.
    pub parts: Vec<String>,
}

impl DemoMail {
    /// The first value of header `name` (any case), or "".
    #[must_use]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map_or("", |(_, value)| value.as_str())
    }
}

/// One message posted in the demo's Slack workspace.
#[derive(Debug, Clone, Default)]
pub struct DemoSlackPost {
    /// The conversation's name, without `#`.
    pub conversation: String,
    /// When it was posted (from Slack's `ts`).
    pub posted_at: DateTime<Utc>,
    /// Who posted it (a user id).
    pub user: String,
    /// The text (the notification fallback when it has blocks).
    pub text: String,
    /// A reply in a thread.
    pub reply: bool,
}

/// What the simulated services hold, for the demo's pages to show.
pub trait Simulated: Send + Sync + Debug {
    /// The mail the sink keeps, oldest first.
    fn mail(&self) -> Vec<DemoMail>;
    /// The message numbered `number`, if the sink still keeps it.
    fn mail_message(&self, number: u64) -> Option<DemoMail>;
    /// The messages posted in the fake Slack, oldest first.
    fn slack_posts(&self) -> Vec<DemoSlackPost>;
}

tokio::task_local! {
    /// Set while [`label`] serves a request.
    static DEMO: ();
}

/// Whether the request being served came through [`label`]: the layout
/// shows the demo banner then.
#[must_use]
pub fn is_demo() -> bool {
    DEMO.try_with(|()| ()).is_ok()
}

/// `app` with every page labelled as a demo.
pub fn label(app: Router) -> Router {
    app.layer(middleware::from_fn(mark))
}

async fn mark(request: Request, next: Next) -> Response {
    DEMO.scope((), next.run(request)).await
}

/// The demo's pages, for anyone logged in, behind the same protection as
/// the ordinary application (a merged router does not get the layers of
/// the one it joins, so they are applied here as in [`crate::router`]).
pub fn demo_router(state: AppState, simulated: Arc<dyn Simulated>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let policy = security::Policy::of(&state);
    Router::new()
        .route("/demo/mail", get(mail_list))
        .route("/demo/mail/{number}", get(mail_show))
        .route("/demo/slack", get(slack_list))
        .layer(Extension(simulated))
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            state,
            crate::csrf::check_origin,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(CatchPanicLayer::custom(crate::error::panic_response))
        .layer(middleware::from_fn_with_state(policy, security::protect))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(crate::error::request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

#[derive(Template)]
#[template(path = "demo/mail_list.html")]
struct MailListPage {
    nav: Nav,
    messages: Vec<DemoMail>,
}

#[derive(Template)]
#[template(path = "demo/mail_show.html")]
struct MailPage {
    nav: Nav,
    message: DemoMail,
}

#[derive(Template)]
#[template(path = "demo/slack_list.html")]
struct SlackPage {
    nav: Nav,
    posts: Vec<DemoSlackPost>,
}

/// `GET /demo/mail`: what the mail sink received, newest first.
async fn mail_list(
    Extension(simulated): Extension<Arc<dyn Simulated>>,
    user: CurrentUser,
    csrf: CsrfToken,
) -> Result<Html<String>, AppError> {
    let mut messages = simulated.mail();
    messages.reverse();
    Ok(Html(
        MailListPage {
            nav: nav(&user, &csrf),
            messages,
        }
        .render()?,
    ))
}

/// `GET /demo/mail/{number}`: one message's headers and text.
async fn mail_show(
    Extension(simulated): Extension<Arc<dyn Simulated>>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(number): Path<String>,
) -> Result<Html<String>, AppError> {
    let missing = || AppError::NotFound(format!("Message {number} (the sink keeps the newest)"));
    let parsed: u64 = number.parse().map_err(|_| missing())?;
    let message = simulated.mail_message(parsed).ok_or_else(missing)?;
    Ok(Html(
        MailPage {
            nav: nav(&user, &csrf),
            message,
        }
        .render()?,
    ))
}

/// `GET /demo/slack`: what was posted in the fake Slack, newest first.
async fn slack_list(
    Extension(simulated): Extension<Arc<dyn Simulated>>,
    user: CurrentUser,
    csrf: CsrfToken,
) -> Result<Html<String>, AppError> {
    let mut posts = simulated.slack_posts();
    posts.reverse();
    Ok(Html(
        SlackPage {
            nav: nav(&user, &csrf),
            posts,
        }
        .render()?,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn only_a_request_served_through_the_label_is_a_demo() {
        assert!(!is_demo());
        assert!(DEMO.scope((), async { is_demo() }).await);
    }

    #[test]
    fn html_is_shown_as_source_and_never_rendered() {
        let page = MailPage {
            nav: Nav::default(),
            message: DemoMail {
                number: 7,
                html: Some("<script>alert(1)</script><b>hi</b>".into()),
                text: Some("plain <text>".into()),
                headers: vec![("Subject".into(), "<i>Hello</i>".into())],
                ..DemoMail::default()
            },
        }
        .render()
        .unwrap();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>hi"), "{page}");
        assert!(!page.contains("<i>Hello"), "{page}");
        assert!(page.contains("&#60;b&#62;hi"), "{page}");
        assert!(page.contains("plain &#60;text&#62;"), "{page}");
    }
}
