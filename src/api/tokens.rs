//! `GET /api/tokens/<template>`: a token of one of the instance's JWT templates for the signed-in
//! session, for calling another service (Supabase, Hasura, Convex) with the user's identity.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Serialize;

use crate::auth::CurrentUser;
use crate::clerk::backend_api::BackendApiError;
use crate::clerk::template_tokens::TemplateTokenError;
use crate::clerk::Clerk;
use crate::error::{ApiError, ApiResult, AuthErrors, BadRequest};

/// A token minted from a JWT template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateTokenBody {
    /// Always `token`, as Clerk's Backend API says.
    pub object: &'static str,
    pub template: String,
    /// The token, for the other service's `Authorization: Bearer`.
    pub jwt: String,
    /// Its `exp` (Unix seconds); null when it has none.
    pub expires_at: Option<i64>,
}

/// A token of the JWT template `template` (defined in Clerk's dashboard) for this session,
/// minted by Clerk's Backend API (in local mode, signed by this server with the session's
/// standard claims). The same token is answered until 10 s before it expires.
#[utoipa::path(get, path = "/api/tokens/{template}", tag = "users",
    params(
        ("template" = String, Path, description = "The template's name: 1 to 64 letters, digits, `_`, `-` or `.`"),
        ("expires_in_seconds" = Option<u32>, Query, description = "The token's lifetime, 30 to 315360000 s; the template's own when absent"),
    ),
    responses(
        (status = 200, body = TemplateTokenBody),
        (status = 404, description = "No template of that name at Clerk (`jwt-template-not-found`)", body = crate::error::ErrorBody),
        (status = 502, description = "Clerk's Backend API failed or refused (`clerk-backend-api-error`)", body = crate::error::ErrorBody),
        BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/tokens/<template>?<expires_in_seconds>")]
pub async fn template_token(
    user: CurrentUser,
    clerk: &State<Clerk>,
    template: &str,
    expires_in_seconds: Option<&str>,
) -> ApiResult<Json<TemplateTokenBody>> {
    // Read by hand: Rocket's `Option<u32>` reads an unparsable value as absent.
    let lifetime = expires_in_seconds
        .map(str::parse::<u32>)
        .transpose()
        .map_err(|_| TemplateTokenError::BadLifetime)?;
    let token = clerk
        .template_tokens
        .get(clerk, &user.session, template, lifetime)
        .await?;
    Ok(Json(TemplateTokenBody {
        object: "token",
        template: template.to_owned(),
        jwt: token.jwt.to_string(),
        expires_at: token.expires_at,
    }))
}

impl From<TemplateTokenError> for ApiError {
    fn from(e: TemplateTokenError) -> Self {
        let message = e.to_string();
        match e {
            TemplateTokenError::BadTemplateName | TemplateTokenError::BadLifetime => {
                ApiError::BadRequest(message)
            }
            TemplateTokenError::TemplateNotFound(_) => ApiError::NoSuch {
                code: "jwt-template-not-found",
                message,
            },
            TemplateTokenError::NotConfigured => ApiError::Unavailable {
                code: "backend-api-not-configured",
                message,
                retry_after: 60,
            },
            TemplateTokenError::TooManyMints { retry_after } => ApiError::Unavailable {
                code: "rate-limited",
                message,
                retry_after,
            },
            TemplateTokenError::Clerk(
                BackendApiError::BudgetSpent { retry_after }
                | BackendApiError::RateLimited { retry_after },
            ) => ApiError::Unavailable {
                code: "rate-limited",
                message: "a rate limit of the Backend API (Clerk's 429, or this server's budget \
                          of calls) stopped the token's minting; try again after Retry-After"
                    .into(),
                retry_after,
            },
            TemplateTokenError::Clerk(cause) => {
                rocket::warn!("minting a JWT template token at Clerk: {cause}");
                ApiError::BadGateway {
                    code: "clerk-backend-api-error",
                    message: "Clerk's Backend API did not mint the token (it failed, timed out \
                              or refused); try again shortly"
                        .into(),
                }
            }
        }
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![template_token]
}
