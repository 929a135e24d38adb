//! The `OpenAPI` document covers every mounted `/api` route.

use crate::common::*;

#[tokio::test]
async fn every_api_route_is_documented() {
    let (_fake, app) = clerk_app().await;
    let answer = app.get("/api/openapi.json", &[]).await;
    assert_eq!(answer.status, 200);
    let doc = answer.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let normalize = |p: &str| p.trim_end_matches('/').to_owned();
    let documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), normalize(path)))
        })
        .collect();
    let mut mounted = 0;
    for route in app.client.rocket().routes() {
        let path = route.uri.path().to_string();
        if !path.starts_with("/api") {
            continue;
        }
        mounted += 1;
        let path = normalize(&path.replace('<', "{").replace('>', "}"));
        let method = route.method.as_str().to_owned();
        assert!(
            documented.contains(&(method.clone(), path.clone())),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert!(mounted >= 6, "{mounted} routes under /api");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["session_cookie"]["name"], "__session");
    let me = &paths["/api/users/me"]["get"];
    assert!(
        me["responses"]["401"].is_object() && me["responses"]["200"].is_object(),
        "{me}"
    );
    assert!(me["security"].as_array().unwrap().len() == 2);
    let user = &doc["components"]["schemas"]["User"]["properties"];
    assert_eq!(
        user["created_at"]["type"], "string",
        "timestamps are documented as they are sent"
    );
    assert!(user.get("clerk_updated_at").is_none());
    let list = &paths["/api/admin/users"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["q", "limit", "cursor"]);
}
