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
        super::admin_stats::stats,
        super::webhooks::clerk_webhook,
        openapi_json,
    ),
    modifiers(&SessionSecurity),
    tags(
        (name = "users", description = "The signed-in user"),
        (name = "admin", description = "Every user, for administrators"),
        (name = "webhooks", description = "Clerk's webhooks, signed by Svix"),
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
