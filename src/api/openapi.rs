//! The OpenAPI 3.1 document of the JSON API, generated from the route annotations and the types
//! the routes answer with, served at `/api/openapi.json`.

use rocket::http::ContentType;
use rocket::Route;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The two ways to send a Clerk session token.
struct SessionSecurity;

impl Modify for SessionSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Clerk session token: `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__session",
                "The `__session` cookie ClerkJS keeps on the app's host (or its suffixed twin)",
            ))),
        );
        // Machine tokens, in the Authorization header only (routes that accept them say so).
        for (name, format, description) in [
            ("m2m_token", "mt_… or JWT", "A Clerk M2M token, opaque (`mt_…`) or a JWT whose `sub` is `mch_…`: `Authorization: Bearer <token>`"),
            ("oauth_token", "oat_… or at+jwt", "A Clerk OAuth access token, opaque (`oat_…`) or a JWT of type `at+jwt`: `Authorization: Bearer <token>`"),
            ("api_key", "ak_…", "A Clerk API key (`ak_…`; in local mode, one made by `clerk-rocket api-key create`): `Authorization: Bearer <key>`"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format(format)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clerk-rocket",
        description = "Clerk authentication in front of a JSON API, with a local table of users kept in step with Clerk."
    ),
    paths(
        super::users::clerk_test,
        super::users::me,
        super::admin::list,
        super::admin::show,
        super::admin_orgs::list,
        super::admin_orgs::show,
        super::admin_stats::stats,
        super::webhooks::clerk_webhook,
        super::admin_actions::ban,
        super::admin_actions::unban,
        super::admin_actions::revoke_sessions,
        super::admin_actions::update,
        super::audit::list,
        openapi_json,
        super::whoami::whoami,
        super::orgs::current,
        super::orgs::members,
        super::tokens::template_token,
    ),
    modifiers(&SessionSecurity),
    tags(
        (name = "users", description = "The signed-in user"),
        (name = "admin", description = "Every user and organization, for administrators"),
        (name = "webhooks", description = "Clerk's webhooks, signed by Svix"),
        (name = "machines", description = "Any token type: sessions, M2M tokens, OAuth access tokens, API keys"),
        (name = "organizations", description = "The session's active organization"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "users",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")))]
#[rocket::get("/openapi.json")]
pub fn openapi_json() -> (ContentType, String) {
    (
        ContentType::JSON,
        ApiDoc::openapi().to_json().unwrap_or_default(),
    )
}

pub fn routes() -> Vec<Route> {
    rocket::routes![openapi_json]
}
