//! Clerk Organizations as the Backend API and the `organization.*` / `organizationMembership.*`
//! webhooks describe them (Clerk's `OrganizationJSON` and `OrganizationMembershipJSON`; only
//! the fields this app reads), and the Backend API's lists of them, which `sync` pages through.

use serde::Deserialize;

use super::backend_api::{null_as_default, BackendApi, BackendApiError, Budget, MAX_LIST_BYTES};
use super::token::is_clerk_id;

/// An organization. Times are Clerk's, in milliseconds.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BackendOrganization {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    /// When Clerk last changed the organization: orders webhook events and syncs.
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// The member's side of a membership (`public_user_data`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PublicUserData {
    pub user_id: String,
    /// The member's email address or username.
    #[serde(default, deserialize_with = "null_as_default")]
    pub identifier: String,
}

/// One user's membership of one organization, with the role's permissions. Clerk sends the
/// whole object on `organizationMembership.deleted` too.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BackendMembership {
    pub id: String,
    /// `org:admin`, `org:member`, or a custom `org:…` role.
    pub role: String,
    /// System permissions (`org:sys_…`) and the role's custom ones (`org:<feature>:<action>`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    pub organization: OrganizationRef,
    pub public_user_data: PublicUserData,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// The organization a membership belongs to (the nested `OrganizationJSON`; only its id counts).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OrganizationRef {
    pub id: String,
}

/// `organization.deleted` carries only `{object, id, slug?, deleted: true}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeletedOrganization {
    pub id: String,
}

/// A list answer: `{data, total_count}`, or a bare array.
fn parse_list<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<Vec<T>, BackendApiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List<T> {
        Paginated { data: Vec<T> },
        Bare(Vec<T>),
    }
    match super::json::parse(body) {
        Ok(List::Paginated { data: items } | List::Bare(items)) => Ok(items),
        Err(e) => Err(BackendApiError::Unavailable(format!(
            "unexpected {what} list: {e}"
        ))),
    }
}

/// The error code of an instance whose Organizations feature is off.
const NOT_ENABLED: &str = "organization_not_enabled_in_instance";

/// The first `errors[].code` of a Backend API error answer.
fn error_code(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    answer["errors"][0]["code"].as_str().map(str::to_owned)
}

/// Whether Clerk still has an organization, asked when `sync` misses one from the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    Gone,
}

impl BackendApi {
    /// `GET /v1/organizations?limit=&offset=`: one page of the instance's organizations. A short
    /// page is the last one; `Ok(None)`: the instance has Organizations turned off. Batch work:
    /// waits for the budget.
    pub async fn list_organizations(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Option<Vec<BackendOrganization>>, BackendApiError> {
        let path = format!("/v1/organizations?limit={limit}&offset={offset}");
        let (status, body) = self.get_path(&path, MAX_LIST_BYTES, Budget::Wait).await?;
        match status.as_u16() {
            200..=299 => parse_list(&body, "organization").map(Some),
            _ if error_code(&body).as_deref() == Some(NOT_ENABLED) => Ok(None),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }

    /// `GET /v1/organizations/{id}/memberships?limit=&offset=`: one page of an organization's
    /// members. `Ok(None)`: Clerk has no such organization (any more).
    pub async fn list_memberships(
        &self,
        org_id: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Option<Vec<BackendMembership>>, BackendApiError> {
        if !is_clerk_id(org_id, "org_") {
            return Ok(None);
        }
        self.memberships(&format!(
            "{org_id}/memberships?limit={limit}&offset={offset}"
        ))
        .await
    }

    /// `GET /v1/organizations/{id}/memberships?user_id=`: one user's memberships of an
    /// organization (none, or one). `Ok(None)`: Clerk has no such organization (any more).
    pub async fn memberships_of_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> Result<Option<Vec<BackendMembership>>, BackendApiError> {
        if !is_clerk_id(org_id, "org_") {
            return Ok(None);
        }
        if !is_clerk_id(user_id, "user_") {
            return Ok(Some(Vec::new()));
        }
        self.memberships(&format!("{org_id}/memberships?user_id={user_id}&limit=10"))
            .await
    }

    /// `GET /v1/organizations/{query}`, a list of memberships; `Ok(None)` on a 404.
    async fn memberships(
        &self,
        query: &str,
    ) -> Result<Option<Vec<BackendMembership>>, BackendApiError> {
        let path = format!("/v1/organizations/{query}");
        let (status, body) = self.get_path(&path, MAX_LIST_BYTES, Budget::Wait).await?;
        match status.as_u16() {
            200..=299 => parse_list(&body, "membership").map(Some),
            404 => Ok(None),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }

    /// `GET /v1/organizations/{id}`: whether Clerk has the organization right now.
    pub async fn organization_presence(&self, org_id: &str) -> Result<Presence, BackendApiError> {
        if !is_clerk_id(org_id, "org_") {
            return Ok(Presence::Gone);
        }
        let path = format!("/v1/organizations/{org_id}");
        let (status, _) = self.get_path(&path, MAX_LIST_BYTES, Budget::Wait).await?;
        match status.as_u16() {
            200..=299 => Ok(Presence::Present),
            404 => Ok(Presence::Gone),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clerk_objects_parse_as_webhooks_and_lists_carry_them() {
        let membership: BackendMembership = serde_json::from_str(
            r#"{"id":"orgmem_1","object":"organization_membership","role":"org:admin",
                "permissions":["org:sys_memberships:read","org:reports:read"],
                "public_metadata":{},"created_at":1,"updated_at":1700000000123,
                "organization":{"id":"org_1","object":"organization","name":"Acme","slug":"acme",
                                "updated_at":5,"public_metadata":null},
                "public_user_data":{"user_id":"user_1","identifier":"a@b.test","first_name":null,
                                    "last_name":null,"image_url":"","has_image":false}}"#,
        )
        .unwrap();
        assert_eq!(membership.organization.id, "org_1");
        assert_eq!(membership.public_user_data.user_id, "user_1");
        assert_eq!(membership.permissions.len(), 2);
        assert_eq!(membership.updated_at, Some(1_700_000_000_123));

        let listed: Vec<BackendOrganization> = parse_list(
            br#"{"data":[{"id":"org_1","name":"Acme","slug":null,"updated_at":7},
                         {"id":"org_2","name":null}],"total_count":2}"#,
            "organization",
        )
        .unwrap();
        assert_eq!(listed[0].slug, None);
        assert_eq!(listed[1].name, "");
        assert!(parse_list::<BackendOrganization>(b"{\"data\":5}", "organization").is_err());
        let off = br#"{"errors":[{"code":"organization_not_enabled_in_instance","message":"access denied"}]}"#;
        assert_eq!(error_code(off).as_deref(), Some(NOT_ENABLED));
        assert_eq!(error_code(b"not json"), None);
    }

    #[test]
    fn only_clerk_ids_reach_a_path() {
        assert!(is_clerk_id("org_2abcDEF", "org_"));
        for bad in ["", "org/../users", "org_1?x=1", "org_1%2F", &"o".repeat(65)] {
            assert!(!is_clerk_id(bad, "org_"), "{bad}");
        }
    }
}
