//! The list of communities a user may see, and creating one (owners only).

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{Email, access::actor, model::community::NewCommunity};

use super::nav;
use crate::{
    AppState,
    csrf::CsrfToken,
    error::AppError,
    session::CurrentUser,
    templates::{CommunitiesPage, NewCommunityForm},
};

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
) -> Result<Html<String>, AppError> {
    render(&state, &user, &csrf, NewCommunityForm::default(), None).await
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    form: NewCommunityForm,
    error: Option<String>,
) -> Result<Html<String>, AppError> {
    let communities = state.store.communities_for(&user.0).await?;
    Ok(Html(
        CommunitiesPage {
            nav: nav(user, csrf),
            is_owner: user.0.is_owner,
            communities,
            error,
            form,
        }
        .render()?,
    ))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Form(form): Form<NewCommunityForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    user.require_owner()?;
    let checked =
        NewCommunity::new(&form.slug, &form.name, form.timezone.trim()).map_err(|e| e.to_string());
    let lead = match form.lead_email.trim() {
        "" => Ok(None),
        text => Email::parse(text).map(Some).map_err(|e| e.to_string()),
    };
    let (community, lead) = match (checked, lead) {
        (Ok(community), Ok(lead)) => (community, lead),
        (Err(message), _) | (_, Err(message)) => {
            let page = render(&state, &user, &csrf, form, Some(message)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    match hub_core::communities::create(state.store.as_ref(), community, lead, &actor(&user.0))
        .await
    {
        Ok(created) => {
            Ok(Redirect::to(&format!("/communities/{}/members", created.slug)).into_response())
        }
        Err(hub_core::ports::store::StoreError::Conflict(message)) => {
            let page = render(&state, &user, &csrf, form, Some(message)).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
