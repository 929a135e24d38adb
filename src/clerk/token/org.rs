//! The organization, feature and plan claims of a session token, decoded exactly as Clerk's SDK
//! does (`clerk-machines-orgs.md` §1.2): v1 (`org_id`, `org_slug`, `org_role`,
//! `org_permissions`) and v2 (`v: 2`, `o: {id, slg, rol, per, fpm}`, `fea`, `pla`).
//!
//! v2 packs permissions into bitmaps: `per` lists permission names, `fpm` one decimal bitmap per
//! org-scoped `fea` entry, least significant bit first. The bitmaps are decoded from their decimal
//! text digit by digit, so a bitmap of any width keeps every bit (Clerk's old `parseInt` lost
//! those above 2^53).

use serde_json::{Map, Value};

/// The active organization of a session, as both claim versions give it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveOrg {
    pub id: String,
    pub slug: Option<String>,
    /// Always `org:`-prefixed (v2's `rol` and old v1 tokens carry the bare role).
    pub role: Option<String>,
    /// `org:<feature>:<permission>` each; system permissions (`org:sys_*`) are never in tokens.
    pub permissions: Vec<String>,
}

/// Scoped entries of `fea` or `pla` (`o:x`, `u:y`, `ou:z`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scoped {
    /// No claim, or an empty one.
    #[default]
    Absent,
    /// An entry without a scope (`x` instead of `o:x`): Clerk's parser throws, so every check
    /// against it fails.
    Malformed,
    Listed {
        /// The raw entries as sent, trimmed (`o:x`, `u:y`).
        entries: Vec<String>,
        org: Vec<String>,
        user: Vec<String>,
    },
}

impl Scoped {
    /// Clerk's `splitByScope`: entries split on `,` and trimmed; the scope before the first `:`
    /// sends the name (the text after it, up to any next `:`) to the org list (`o`), the user
    /// list (`u`), or both (`ou`, `uo`); other scopes are dropped.
    pub fn parse(claim: Option<&Value>) -> Scoped {
        let text = match claim {
            None | Some(Value::Null) => return Scoped::Absent,
            Some(Value::String(text)) if text.trim().is_empty() => return Scoped::Absent,
            Some(Value::String(text)) => text,
            Some(_) => return Scoped::Malformed,
        };
        let mut entries = Vec::new();
        let mut org = Vec::new();
        let mut user = Vec::new();
        for entry in text.split(',').map(str::trim) {
            let mut parts = entry.split(':');
            let scope = parts.next().unwrap_or_default();
            let Some(name) = parts.next() else {
                return Scoped::Malformed;
            };
            if scope.contains('o') {
                org.push(name.to_owned());
            }
            if scope.contains('u') {
                user.push(name.to_owned());
            }
            entries.push(entry.to_owned());
        }
        Scoped::Listed { entries, org, user }
    }

    /// The entries that hold for the user alone (`u:`, `ou:`), as when no organization is active.
    #[must_use]
    pub fn user_only(&self) -> Scoped {
        match self {
            Scoped::Listed { entries, user, .. } => {
                let entries: Vec<String> = entries
                    .iter()
                    .filter(|e| e.split(':').next().is_some_and(|scope| scope.contains('u')))
                    .cloned()
                    .collect();
                if entries.is_empty() {
                    Scoped::Absent
                } else {
                    Scoped::Listed {
                        entries,
                        org: Vec::new(),
                        user: user.clone(),
                    }
                }
            }
            other => other.clone(),
        }
    }

    /// The raw entries, empty when absent or malformed.
    pub fn entries(&self) -> &[String] {
        match self {
            Scoped::Listed { entries, .. } => entries,
            _ => &[],
        }
    }
}

/// What a session token says about organizations, features, plans and factor ages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorization {
    pub org: Option<ActiveOrg>,
    pub features: Scoped,
    pub plans: Scoped,
    /// `fva`: minutes since the first and second factor were verified (−1: not enrolled);
    /// `None` when absent or malformed.
    pub factor_ages: Option<[i64; 2]>,
    /// `iat`, from which the factor ages count.
    pub issued_at: Option<i64>,
}

impl Authorization {
    /// The same, with no active organization: its role, permissions and org-scoped features and
    /// plans gone (the membership ended after the token was issued).
    #[must_use]
    pub fn without_org(&self) -> Authorization {
        Authorization {
            org: None,
            features: self.features.user_only(),
            plans: self.plans.user_only(),
            factor_ages: self.factor_ages,
            issued_at: self.issued_at,
        }
    }

    /// Decodes the claims of a verified session token.
    pub fn decode(claims: &Map<String, Value>) -> Authorization {
        let features = Scoped::parse(claims.get("fea"));
        let org = if claims.get("v").and_then(Value::as_i64) == Some(2) {
            claims.get("o").and_then(|o| org_v2(o, &features))
        } else {
            org_v1(claims)
        };
        Authorization {
            org,
            plans: Scoped::parse(claims.get("pla")),
            features,
            factor_ages: factor_ages(claims.get("fva")),
            issued_at: claims.get("iat").and_then(Value::as_i64),
        }
    }
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `org:`-prefixed, as Clerk's `prefixWithOrg`.
pub fn prefix_with_org(name: &str) -> String {
    if name.starts_with("org:") {
        name.to_owned()
    } else {
        format!("org:{name}")
    }
}

fn org_v1(claims: &Map<String, Value>) -> Option<ActiveOrg> {
    let id = text(claims.get("org_id"))?;
    let permissions = match claims.get("org_permissions") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(ActiveOrg {
        id: id.to_owned(),
        slug: text(claims.get("org_slug")).map(str::to_owned),
        role: text(claims.get("org_role")).map(prefix_with_org),
        permissions,
    })
}

fn org_v2(o: &Value, features: &Scoped) -> Option<ActiveOrg> {
    let id = text(o.get("id"))?;
    let permissions = match features {
        Scoped::Listed { org, .. } => org_permissions(org, text(o.get("per")), text(o.get("fpm"))),
        _ => Vec::new(),
    };
    Some(ActiveOrg {
        id: id.to_owned(),
        slug: text(o.get("slg")).map(str::to_owned),
        role: text(o.get("rol")).map(|r| format!("org:{r}")),
        permissions,
    })
}

/// Clerk's `buildOrgPermissions`: the i-th org-scoped feature takes the i-th bitmap; bit j set
/// grants `org:<feature>:<per[j]>`. A bitmap that is not decimal digits grants nothing but
/// keeps its slot.
fn org_permissions(org_features: &[String], per: Option<&str>, fpm: Option<&str>) -> Vec<String> {
    let (Some(per), Some(fpm)) = (per, fpm) else {
        return Vec::new();
    };
    let names: Vec<&str> = per.split(',').map(str::trim).collect();
    let mut permissions = Vec::new();
    for (feature, bitmap) in org_features.iter().zip(fpm.split(',').map(str::trim)) {
        let bits = decimal_bits(bitmap, names.len());
        for (name, _) in names.iter().zip(bits).filter(|(_, bit)| *bit) {
            permissions.push(format!("org:{feature}:{name}"));
        }
    }
    permissions
}

/// The lowest `width` bits of a decimal number of any size, least significant first; all clear
/// when `decimal` is not `^\d+$`.
pub fn decimal_bits(decimal: &str, width: usize) -> Vec<bool> {
    let mut bits = vec![false; width];
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return bits;
    }
    // Long division by two on the decimal digits: each pass yields the next lowest bit.
    let mut digits: Vec<u8> = decimal.bytes().map(|b| b - b'0').collect();
    for bit in &mut bits {
        let mut remainder = 0;
        for digit in &mut digits {
            let value = remainder * 10 + *digit;
            *digit = value / 2;
            remainder = value % 2;
        }
        *bit = remainder == 1;
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        if digits.is_empty() {
            break;
        }
    }
    bits
}

/// The decimal text of a bitmap given least significant bit first (the inverse of
/// [`decimal_bits`]), for minting v2 tokens.
pub fn bits_decimal(bits: &[bool]) -> String {
    // Digits least significant first; doubling from the most significant bit down.
    let mut digits: Vec<u8> = vec![0];
    for bit in bits.iter().rev() {
        let mut carry = u8::from(*bit);
        for digit in &mut digits {
            let value = *digit * 2 + carry;
            *digit = value % 10;
            carry = value / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// The v2 encoding of an organization's permissions (`org:<feature>:<permission>`, the prefix
/// optional): `fea` (`o:<feature>` each), `per` and `fpm`, for minting tokens that
/// [`Authorization::decode`] reads back. Features and permission names keep their first order.
pub fn encode_v2(permissions: &[String]) -> Result<(String, String, String), String> {
    let mut features: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut pairs = Vec::new();
    for permission in permissions {
        let bare = permission.strip_prefix("org:").unwrap_or(permission);
        let (feature, name) = bare
            .split_once(':')
            .filter(|(f, n)| {
                let part = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                };
                part(f) && part(n)
            })
            .ok_or_else(|| {
                format!("{permission:?} is not a permission of the form org:<feature>:<name>")
            })?;
        if !features.contains(&feature) {
            features.push(feature);
        }
        if !names.contains(&name) {
            names.push(name);
        }
        pairs.push((feature, name));
    }
    let bitmaps: Vec<String> = features
        .iter()
        .map(|feature| {
            let bits: Vec<bool> = names
                .iter()
                .map(|name| pairs.contains(&(*feature, *name)))
                .collect();
            bits_decimal(&bits)
        })
        .collect();
    let fea: Vec<String> = features.iter().map(|f| format!("o:{f}")).collect();
    Ok((fea.join(","), names.join(","), bitmaps.join(",")))
}

fn factor_ages(value: Option<&Value>) -> Option<[i64; 2]> {
    match value? {
        Value::Array(items) if items.len() == 2 => Some([items[0].as_i64()?, items[1].as_i64()?]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(claims: &Value) -> Authorization {
        Authorization::decode(claims.as_object().unwrap())
    }

    fn v2(fea: &str, per: &str, fpm: &str) -> Value {
        json!({"v": 2, "fea": fea, "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": per, "fpm": fpm}})
    }

    #[test]
    fn reference_vector_two_features() {
        let auth = decode(&v2("o:impersonation,o:memberships", "read,manage", "1,3"));
        let org = auth.org.unwrap();
        assert_eq!(
            org.permissions,
            [
                "org:impersonation:read",
                "org:memberships:read",
                "org:memberships:manage"
            ]
        );
        assert_eq!(org.role.as_deref(), Some("org:admin"));
        assert_eq!(org.slug.as_deref(), Some("acme"));
    }

    #[test]
    fn without_the_org_only_user_scoped_features_and_plans_remain() {
        let mut claims = v2("o:reports,u:beta,ou:export", "read", "1");
        claims["pla"] = json!("o:pro,u:free");
        claims["fva"] = json!([3, -1]);
        let auth = decode(&claims).without_org();
        assert_eq!(auth.org, None);
        assert_eq!(auth.features.entries(), ["u:beta", "ou:export"]);
        assert!(matches!(&auth.features, Scoped::Listed { org, user, .. }
            if org.is_empty() && user == &["beta", "export"]));
        assert_eq!(auth.plans.entries(), ["u:free"]);
        assert_eq!(auth.factor_ages, Some([3, -1]));
        // Nothing user-scoped left: absent; a malformed claim stays malformed (fails closed).
        assert_eq!(
            decode(&v2("o:reports", "read", "1")).without_org().features,
            Scoped::Absent
        );
        let malformed = decode(&v2("reports", "read", "1")).without_org();
        assert_eq!(malformed.features, Scoped::Malformed);
    }

    #[test]
    fn reference_vector_a_zero_bitmap_grants_nothing() {
        let auth = decode(&v2(
            "o:impersonation,o:memberships,o:billing",
            "read,manage",
            "1,3,0",
        ));
        let permissions = auth.org.unwrap().permissions;
        assert_eq!(permissions.len(), 3);
        assert!(!permissions.iter().any(|p| p.contains("billing")));
    }

    #[test]
    fn bitmaps_wider_than_53_bits_keep_every_bit() {
        // 54 permissions, all granted: 2^54 - 1 = 18014398509481983, which an f64 cannot hold.
        let names: Vec<String> = (0..54).map(|i| format!("p{i}")).collect();
        let auth = decode(&v2("o:wide", &names.join(","), "18014398509481983"));
        let permissions = auth.org.unwrap().permissions;
        assert_eq!(permissions.len(), 54);
        assert_eq!(permissions[53], "org:wide:p53");
        // Only bit 53 set: 2^53 = 9007199254740992 (f64 would round 2^53 + 1 to it; exact here).
        let auth = decode(&v2("o:wide", &names.join(","), "9007199254740993"));
        assert_eq!(
            auth.org.unwrap().permissions,
            ["org:wide:p0", "org:wide:p53"]
        );
        // A 200-bit bitmap with only its highest bit set.
        let mut bits = vec![false; 200];
        bits[199] = true;
        let decimal = bits_decimal(&bits);
        assert_eq!(decimal_bits(&decimal, 200), bits);
        assert!(decimal_bits("18014398509481984", 55)[54]);
    }

    #[test]
    fn the_bitmap_is_padded_to_per_and_extra_bits_are_ignored() {
        assert_eq!(decimal_bits("1", 3), [true, false, false]);
        assert_eq!(decimal_bits("15", 2), [true, true]);
        assert_eq!(decimal_bits("0", 2), [false, false]);
        assert_eq!(bits_decimal(&[true, true]), "3");
        assert_eq!(bits_decimal(&[]), "0");
    }

    #[test]
    fn a_malformed_bitmap_keeps_its_slot() {
        let auth = decode(&v2("o:a,o:b", "read", "x1, 1"));
        assert_eq!(auth.org.unwrap().permissions, ["org:b:read"]);
        let auth = decode(&v2("o:a,o:b", "read", "-1,1"));
        assert_eq!(auth.org.unwrap().permissions, ["org:b:read"]);
    }

    #[test]
    fn bitmaps_align_with_org_scoped_features_only() {
        // JS indexes among org-scoped entries; Python by position in the whole list.
        let auth = decode(&v2("u:profile,o:a,uo:b,o:c", "read,write", "1,2,3"));
        assert_eq!(
            auth.org.unwrap().permissions,
            ["org:a:read", "org:b:write", "org:c:read", "org:c:write"]
        );
    }

    #[test]
    fn scopes_split_entries_and_unscoped_entries_are_malformed() {
        let fea = Scoped::parse(Some(&json!(" o:a , u:b,ou:c,x:d")));
        let Scoped::Listed { org, user, .. } = &fea else {
            panic!("{fea:?}")
        };
        assert_eq!(org, &["a", "c"]);
        assert_eq!(user, &["b", "c"]);
        assert_eq!(Scoped::parse(Some(&json!("o:a,b"))), Scoped::Malformed);
        assert_eq!(Scoped::parse(Some(&json!(3))), Scoped::Malformed);
        assert_eq!(Scoped::parse(Some(&json!(""))), Scoped::Absent);
        // A malformed `fea` cannot be aligned with bitmaps: no permissions.
        let auth = decode(&v2("o:a,b", "read", "1"));
        assert!(auth.org.unwrap().permissions.is_empty());
    }

    #[test]
    fn missing_per_or_fpm_gives_no_permissions() {
        assert!(decode(&v2("o:a", "", "1"))
            .org
            .unwrap()
            .permissions
            .is_empty());
        assert!(decode(&v2("o:a", "read", ""))
            .org
            .unwrap()
            .permissions
            .is_empty());
    }

    #[test]
    fn v1_and_v2_of_the_same_org_decode_alike() {
        let v1 = decode(&json!({
            "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
            "org_permissions": ["org:impersonation:read", "org:memberships:read", "org:memberships:manage"],
            "fea": "o:impersonation,o:memberships",
        }));
        let v2 = decode(&v2("o:impersonation,o:memberships", "read,manage", "1,3"));
        assert_eq!(v1, v2);
        // Old v1 tokens carry the bare role.
        let bare = decode(&json!({"org_id": "org_1", "org_role": "admin"}));
        assert_eq!(bare.org.unwrap().role.as_deref(), Some("org:admin"));
    }

    #[test]
    fn encoding_round_trips() {
        let permissions: Vec<String> = ["org:invoices:read", "invoices:write", "org:reports:read"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let (fea, per, fpm) = encode_v2(&permissions).unwrap();
        assert_eq!(
            (fea.as_str(), per.as_str(), fpm.as_str()),
            ("o:invoices,o:reports", "read,write", "3,1")
        );
        let decoded = decode(&v2(&fea, &per, &fpm)).org.unwrap().permissions;
        assert_eq!(
            decoded,
            [
                "org:invoices:read",
                "org:invoices:write",
                "org:reports:read"
            ]
        );
        assert!(encode_v2(&["nocolon".to_owned()]).is_err());
        assert!(encode_v2(&["org::x".to_owned()]).is_err());
    }

    #[test]
    fn the_org_is_read_only_in_its_own_version() {
        assert!(decode(&json!({"v": 2, "org_id": "org_1"})).org.is_none());
        assert!(decode(&json!({"o": {"id": "org_1"}})).org.is_none());
        assert!(decode(&json!({"v": 2})).org.is_none());
        assert_eq!(decode(&json!({"fva": [3, -1]})).factor_ages, Some([3, -1]));
        assert_eq!(decode(&json!({"fva": [3]})).factor_ages, None);
    }
}
