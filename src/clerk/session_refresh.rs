//! Refreshing an expired session token without a redirect, as Clerk's SDK does when the browser
//! holds Clerk's `__refresh` cookie: `POST /v1/sessions/{sid}/refresh` with the expired token,
//! the refresh token, the request's origin and headers, answered with the `Set-Cookie`
//! directives of a fresh session (`refreshToken` in
//! <https://github.com/clerk/javascript/blob/main/packages/backend/src/tokens/request.ts>).

use serde::Deserialize;
use serde_json::json;

use super::backend_api::{BackendApi, BackendApiError, Budget, Write};
use super::token::{unverified_claims, RefreshError};

/// What the refresh needs from the request.
pub struct RefreshRequest<'a> {
    pub expired_token: &'a str,
    pub refresh_token: &'a str,
    /// The request's origin, as the browser sees it.
    pub origin: &'a str,
    /// The request's headers, as they came.
    pub headers: Vec<(String, String)>,
    /// Whether the browser uses the suffixed family of cookies.
    pub suffixed: bool,
}

#[derive(Deserialize)]
struct Cookies {
    #[serde(default)]
    cookies: Vec<String>,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
}

/// The `Set-Cookie` directives of the refreshed session, or Clerk's reason why there are none.
pub async fn refresh(
    api: &BackendApi,
    request: RefreshRequest<'_>,
) -> Result<Vec<String>, RefreshError> {
    let sid = unverified_claims(request.expired_token)
        .and_then(|claims| {
            claims
                .get("sid")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        })
        .ok_or(RefreshError::MissingSidClaim)?;
    // Clerk's session ids are `sess_` + base62: anything else is never a path segment we send.
    if !super::token::is_clerk_id(&sid, "sess_") {
        return Err(RefreshError::MissingSidClaim);
    }
    let mut headers = serde_json::Map::new();
    for (name, value) in &request.headers {
        headers.insert(name.to_ascii_lowercase(), json!([value]));
    }
    let body = json!({
        "format": "cookie",
        "expired_token": request.expired_token,
        "refresh_token": request.refresh_token,
        "request_origin": request.origin,
        "request_headers": headers,
    });
    let write = Write {
        method: reqwest::Method::POST,
        path: format!(
            "/v1/sessions/{sid}/refresh?suffixed_cookies={}",
            request.suffixed
        ),
        body: Some(&body),
        // No session has verified yet: the browsers' share, never the reserve.
        budget: Budget::Browser,
    };
    let (status, answer) = match api.send(write).await {
        Ok(answer) => answer,
        Err(
            BackendApiError::Unavailable(_)
            | BackendApiError::BudgetSpent { .. }
            | BackendApiError::RateLimited { .. },
        ) => {
            return Err(RefreshError::FetchError);
        }
        Err(_) => return Err(RefreshError::UnexpectedBapiError),
    };
    if status.is_success() {
        let cookies = serde_json::from_slice::<Cookies>(&answer)
            .map_err(|_| RefreshError::UnexpectedBapiError)?
            .cookies;
        if cookies.is_empty() {
            return Err(RefreshError::UnexpectedSdkError);
        }
        return Ok(cookies);
    }
    let code = serde_json::from_slice::<Errors>(&answer)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
        .map(|e| e.code);
    match code.as_deref() {
        Some("unexpected_error") => Err(RefreshError::FetchError),
        Some(code) if !code.is_empty() => Err(RefreshError::api(code)),
        _ => Err(RefreshError::UnexpectedBapiError),
    }
}
