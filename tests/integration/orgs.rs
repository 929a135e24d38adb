//! Organizations in session tokens: v1 and v2 claims, `/api/orgs/current`, and routes that
//! declare the role, permission, feature or plan they need.

use clerk_rocket::auth::{Any, Authorized, Requirement};
use clerk_rocket::clerk::token::Check;
use rocket::serde::json::Json;
use serde_json::{json, Value};

use crate::common::*;

struct ReadInvoices;
impl Requirement for ReadInvoices {
    fn check() -> Check<'static> {
        Check {
            permission: Some("org:invoices:read"),
            ..Check::default()
        }
    }
}

struct OrgAdmin;
impl Requirement for OrgAdmin {
    fn check() -> Check<'static> {
        Check {
            role: Some("admin"),
            ..Check::default()
        }
    }
}

struct Seats;
impl Requirement for Seats {
    fn check() -> Check<'static> {
        Check {
            feature: Some("o:seats"),
            ..Check::default()
        }
    }
}

struct Pro;
impl Requirement for Pro {
    fn check() -> Check<'static> {
        Check {
            plan: Some("pro"),
            ..Check::default()
        }
    }
}

#[rocket::get("/invoices")]
fn invoices(_auth: Authorized<ReadInvoices>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

#[rocket::get("/org-admin")]
fn org_admin(_auth: Authorized<OrgAdmin>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

#[rocket::get("/seats")]
fn seats(_auth: Authorized<Seats>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

#[rocket::get("/pro")]
fn pro(_auth: Authorized<Pro>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

#[rocket::get("/invoices-any")]
fn invoices_any(_auth: Authorized<ReadInvoices, Any>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

async fn org_app(backend: &Backend) -> (FakeClerk, TestApp) {
    let backend = backend.clone();
    clerk_app_with(|settings| {
        settings.on(&backend).mount(rocket::routes![
            invoices,
            org_admin,
            seats,
            pro,
            invoices_any
        ])
    })
    .await
}

const PERMISSIONS: [&str; 3] = [
    "org:invoices:read",
    "org:invoices:manage",
    "org:members:read",
];

backend_tests!(v1_and_v2_claims_give_the_same_auth_object);

async fn v1_and_v2_claims_give_the_same_auth_object(backend: Backend) {
    let (_fake, app) = org_app(&backend).await;
    let user = user_id();
    let base = with(claims(&user), json!({ "v": null }));
    let v1 = with(
        base.clone(),
        org_claims_v1("org_acme", "acme", "org:admin", &PERMISSIONS),
    );
    let v2 = with(
        base,
        org_claims_v2("org_acme", "acme", "admin", &PERMISSIONS),
    );
    let mut one = app.get_as("/api/whoami", &key_a().sign(&v1)).await.body;
    let mut two = app.get_as("/api/whoami", &key_a().sign(&v2)).await.body;
    assert_eq!(one["org_permissions"], json!(PERMISSIONS), "{one}");
    // v1 has no `fea` claim; v2 carries the features its bitmaps align with.
    assert_eq!(two["features"], json!(["o:invoices", "o:members"]));
    one.as_object_mut().unwrap().remove("features");
    two.as_object_mut().unwrap().remove("features");
    assert_eq!(one, two);
    assert_eq!(one["org_id"], "org_acme");
    assert_eq!(one["org_slug"], "acme");
    assert_eq!(one["org_role"], "org:admin");

    for token in [key_a().sign(&v1), key_a().sign(&v2)] {
        let current = app.get_as("/api/orgs/current", &token).await;
        assert_eq!(current.status, 200, "{:?}", current.body);
        assert_eq!(
            current.body,
            json!({ "id": "org_acme", "slug": "acme", "name": null, "role": "org:admin",
                    "permissions": PERMISSIONS })
        );
    }
}

backend_tests!(no_active_organization_is_404);

async fn no_active_organization_is_404(backend: Backend) {
    let (_fake, app) = org_app(&backend).await;
    let answer = app
        .get_as("/api/orgs/current", &key_a().sign(&claims(&user_id())))
        .await;
    assert_eq!(answer.status, 404, "{:?}", answer.body);
    assert_eq!(answer.code(), "no-active-organization");
    // A machine token is not a session: refused before any organization is looked for.
    let m2m = key_a().sign_m2m(&m2m_claims("mch_a", &[]));
    assert_eq!(
        app.get_as("/api/orgs/current", &m2m).await.code(),
        "token-type-mismatch"
    );
}

#[tokio::test]
async fn the_reference_vectors_hold_through_the_app() {
    let (_fake, app) = org_app(&Backend::Sqlite).await;
    let token = |o: Value, fea: &str| {
        key_a().sign(&with(claims(&user_id()), json!({ "o": o, "fea": fea })))
    };
    let current = |token: String| {
        let app = app.clone();
        async move { app.get_as("/api/orgs/current", &token).await.body }
    };
    let body = current(token(
        json!({"id": "org_1", "slg": "s", "rol": "admin", "per": "read,manage", "fpm": "1,3"}),
        "o:impersonation,o:memberships",
    ))
    .await;
    assert_eq!(
        body["permissions"],
        json!([
            "org:impersonation:read",
            "org:memberships:read",
            "org:memberships:manage"
        ])
    );
    let body = current(token(
        json!({"id": "org_1", "slg": "s", "rol": "admin", "per": "read,manage", "fpm": "1,3,0"}),
        "o:impersonation,o:memberships,o:billing",
    ))
    .await;
    assert_eq!(body["permissions"].as_array().unwrap().len(), 3);
    // 54 permissions, the last one only: a bitmap beyond 2^53.
    let names: Vec<String> = (0..54).map(|i| format!("p{i}")).collect();
    let body = current(token(
        json!({"id": "org_1", "slg": "s", "rol": "admin", "per": names.join(","), "fpm": "9007199254740992"}),
        "o:wide",
    ))
    .await;
    assert_eq!(body["permissions"], json!(["org:wide:p53"]));
}

backend_tests!(routes_refuse_a_missing_requirement_with_403_and_its_name);

async fn routes_refuse_a_missing_requirement_with_403_and_its_name(backend: Backend) {
    let (_fake, app) = org_app(&backend).await;
    let member = key_a().sign(&with(
        claims(&user_id()),
        with(
            org_claims_v2("org_acme", "acme", "member", &["org:invoices:read"]),
            json!({ "fea": "o:invoices,u:beta", "pla": "u:free" }),
        ),
    ));
    assert_eq!(app.get_as("/api/test/invoices", &member).await.status, 200);
    for (route, code, named) in [
        ("/api/test/org-admin", "missing-role", "admin"),
        ("/api/test/seats", "missing-feature", "o:seats"),
        ("/api/test/pro", "missing-plan", "pro"),
    ] {
        let answer = app.get_as(route, &member).await;
        assert_eq!(answer.status, 403, "{route}: {:?}", answer.body);
        assert_eq!(answer.code(), code, "{route}");
        assert!(answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(named));
    }
    let admin = key_a().sign(&with(
        claims(&user_id()),
        with(
            org_claims_v2("org_acme", "acme", "admin", &["org:seats:manage"]),
            json!({ "pla": "o:pro" }),
        ),
    ));
    for route in ["/api/test/org-admin", "/api/test/seats", "/api/test/pro"] {
        assert_eq!(app.get_as(route, &admin).await.status, 200, "{route}");
    }
    let answer = app.get_as("/api/test/invoices", &admin).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.code(), "missing-permission");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("org:invoices:read"));

    // Fail-closed: no active organization, or a machine token, holds nothing.
    let personal = key_a().sign(&claims(&user_id()));
    assert_eq!(
        app.get_as("/api/test/invoices", &personal).await.code(),
        "missing-permission"
    );
    let m2m = key_a().sign_m2m(&m2m_claims("mch_a", &[]));
    let answer = app.get_as("/api/test/invoices-any", &m2m).await;
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    assert_eq!(answer.code(), "missing-permission");
    // A session-only requirement refuses the machine token for its type first.
    assert_eq!(
        app.get_as("/api/test/invoices", &m2m).await.code(),
        "token-type-mismatch"
    );
    // A malformed fea (an entry without a scope) fails the feature check.
    let malformed = key_a().sign(&with(
        claims(&user_id()),
        json!({ "fea": "seats", "o": {"id": "org_1", "rol": "admin"} }),
    ));
    assert_eq!(
        app.get_as("/api/test/seats", &malformed).await.code(),
        "missing-feature"
    );
}
