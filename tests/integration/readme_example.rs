//! The test-kit example of the README, verbatim below this comment (tests/integration/readme.rs
//! checks that the README still shows exactly this code).

use clerk_rocket::testing::{claims, key_a, user_id, FakeClerk, Settings};

#[tokio::test]
async fn a_route_sees_the_signed_in_user() {
    let clerk = FakeClerk::start().await; // a real HTTP server on 127.0.0.1
    clerk.serve_jwks(&[key_a()]).await; // serving a key the kit made
    let app = Settings::clerk(&clerk).start().await; // the app trusting it, on a fresh SQLite file
    let user = user_id();
    let token = key_a().sign(&claims(&user)); // a valid session token; `with` changes claims
    let me = app.get_as("/api/users/me", &token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["clerk_id"], user.as_str());
}
