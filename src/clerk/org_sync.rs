//! Organization activation from the URL: Clerk's `organizationSyncOptions`
//! (<https://github.com/clerk/javascript/blob/main/packages/backend/src/tokens/organizationMatcher.ts>,
//! `handleMaybeOrganizationSyncHandshake` in `request.ts` beside it). A document GET whose path
//! names an organization (`/orgs/:slug`, `/orgs/:id/...`) other than the session token's active
//! one, or the personal account while an organization is active, goes through Clerk's handshake
//! with `organization_id=<id or slug>` (empty for the personal account), and the frontend API
//! activates it. Pure: the web layer asks [`OrganizationMatcher::target`] and
//! [`Target::must_activate`].
//!
//! Patterns are written as `path-to-regexp` 6 writes them (Clerk's SDK uses it): literal text,
//! `:name` parameters (`:id` and `:slug` name the organization; other names match and are
//! ignored), `:name(regex)`, unnamed groups `(regex)`, and the modifiers `?`, `*`, `+` after a
//! parameter. Matching is case-insensitive, a trailing `/` is optional, and the path is matched
//! as the browser sent it (percent-encoded), as Clerk's SDK matches it. `{…}` groups are not
//! supported (refused at start).

use regex::Regex;

/// What a URL asks to be active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An organization named by its id (`:id`).
    OrganizationId(String),
    /// An organization named by its slug (`:slug`).
    OrganizationSlug(String),
    /// The personal account (no organization).
    PersonalAccount,
}

impl Target {
    /// Whether a session whose active organization is `active` (id, slug) must switch first.
    pub fn must_activate(&self, active: Option<(&str, Option<&str>)>) -> bool {
        match self {
            Target::OrganizationId(id) => active.map(|(active, _)| active) != Some(id.as_str()),
            Target::OrganizationSlug(slug) => {
                active.and_then(|(_, slug)| slug) != Some(slug.as_str())
            }
            Target::PersonalAccount => active.is_some(),
        }
    }

    /// The handshake URL's `organization_id` value (`getOrganizationSyncQueryParams`).
    pub fn query_value(&self) -> &str {
        match self {
            Target::OrganizationId(value) | Target::OrganizationSlug(value) => value,
            Target::PersonalAccount => "",
        }
    }
}

/// A list of patterns compiled into one expression, as `path-to-regexp` compiles an array.
#[derive(Debug, Clone)]
struct Patterns {
    regex: Regex,
    /// The name of each capture group, in order (`None` for unnamed groups).
    names: Vec<Option<String>>,
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern {pattern:?}: {why}")]
pub struct PatternError {
    pub pattern: String,
    pub why: String,
}

/// Clerk's `OrganizationMatcher`: organization patterns first, then personal account ones.
#[derive(Debug, Clone, Default)]
pub struct OrganizationMatcher {
    organization: Option<Patterns>,
    personal_account: Option<Patterns>,
}

impl OrganizationMatcher {
    pub fn new(
        organization_patterns: &[String],
        personal_account_patterns: &[String],
    ) -> Result<Self, PatternError> {
        Ok(OrganizationMatcher {
            organization: compile_all(organization_patterns)?,
            personal_account: compile_all(personal_account_patterns)?,
        })
    }

    /// Whether any pattern is configured.
    pub fn is_enabled(&self) -> bool {
        self.organization.is_some() || self.personal_account.is_some()
    }

    /// What `path` (the URL's path, as sent) asks to be active, if anything.
    pub fn target(&self, path: &str) -> Option<Target> {
        if let Some(patterns) = &self.organization {
            if let Some(captures) = patterns.regex.captures(path) {
                let param = |wanted: &str| {
                    patterns
                        .names
                        .iter()
                        .enumerate()
                        .filter(|(_, name)| name.as_deref() == Some(wanted))
                        .find_map(|(i, _)| captures.get(i + 1))
                        .map(|m| m.as_str().to_owned())
                        .filter(|v| !v.is_empty())
                };
                if let Some(id) = param("id") {
                    return Some(Target::OrganizationId(id));
                }
                if let Some(slug) = param("slug") {
                    return Some(Target::OrganizationSlug(slug));
                }
                // Matched, but naming no organization: the personal account patterns decide.
            }
        }
        self.personal_account
            .as_ref()
            .filter(|patterns| patterns.regex.is_match(path))
            .map(|_| Target::PersonalAccount)
    }
}

fn compile_all(patterns: &[String]) -> Result<Option<Patterns>, PatternError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut names = Vec::new();
    let mut sources = Vec::new();
    for pattern in patterns {
        sources.push(compile(pattern, &mut names)?);
    }
    let source = format!("(?i)^(?:{})$", sources.join("|"));
    let regex = Regex::new(&source).map_err(|e| PatternError {
        pattern: patterns.join(","),
        why: e.to_string(),
    })?;
    Ok(Some(Patterns { regex, names }))
}

/// The default expression of a parameter: one path segment, lazily.
const SEGMENT: &str = "[^/#?]+?";

/// One pattern as `path-to-regexp` 6 (`end: true`, `strict: false`) writes it, without the
/// anchors; the names of its groups are pushed on `names`.
fn compile(pattern: &str, names: &mut Vec<Option<String>>) -> Result<String, PatternError> {
    let error = |why: &str| PatternError {
        pattern: pattern.to_owned(),
        why: why.to_owned(),
    };
    if !pattern.starts_with('/') {
        return Err(error("a pattern starts with /"));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = chars.get(i + 1).ok_or_else(|| error("a trailing \\"))?;
                literal.push(*next);
                i += 2;
            }
            '{' | '}' => return Err(error("{…} groups are not supported")),
            ':' | '(' => {
                // A `/` or `.` just before a parameter is its prefix, as path-to-regexp takes it.
                let prefix = match literal.chars().last() {
                    Some(p @ ('/' | '.')) => {
                        literal.pop();
                        Some(p)
                    }
                    _ => None,
                };
                out.push_str(&regex::escape(&literal));
                literal.clear();
                let mut name = None;
                if c == ':' {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                        end += 1;
                    }
                    if end == start {
                        return Err(error("a : without a parameter name"));
                    }
                    name = Some(chars[start..end].iter().collect::<String>());
                    i = end;
                }
                let expression = if chars.get(i) == Some(&'(') {
                    let (expression, next) =
                        group(&chars, i).ok_or_else(|| error("an unbalanced ("))?;
                    if expression.is_empty() || expression.starts_with('?') {
                        return Err(error("a group must hold an expression, not start with ?"));
                    }
                    i = next;
                    expression
                } else {
                    SEGMENT.to_owned()
                };
                let modifier = match chars.get(i) {
                    Some(m @ ('?' | '*' | '+')) => {
                        i += 1;
                        Some(*m)
                    }
                    _ => None,
                };
                names.push(name);
                let prefix = prefix
                    .map(|p| regex::escape(&p.to_string()))
                    .unwrap_or_default();
                out.push_str(&parameter(&prefix, &expression, modifier).map_err(error)?);
            }
            _ => {
                literal.push(c);
                i += 1;
            }
        }
    }
    out.push_str(&regex::escape(&literal));
    // `strict: false`: one trailing delimiter is allowed.
    out.push_str("[/#?]?");
    Ok(out)
}

/// One parameter's expression, as `path-to-regexp` writes it with its prefix and modifier.
fn parameter(
    prefix: &str,
    expression: &str,
    modifier: Option<char>,
) -> Result<String, &'static str> {
    Ok(match modifier {
        Some(m @ ('*' | '+')) if !prefix.is_empty() => {
            let optional = if m == '*' { "?" } else { "" };
            format!("(?:{prefix}((?:{expression})(?:{prefix}(?:{expression}))*)){optional}")
        }
        Some('*' | '+') => return Err("a repeated parameter needs a / or . before it"),
        Some(m) if !prefix.is_empty() => format!("(?:{prefix}({expression})){m}"),
        Some(m) => format!("({expression}){m}"),
        None if !prefix.is_empty() => format!("(?:{prefix}({expression}))"),
        None => format!("({expression})"),
    })
}

/// The expression of the group opening at `open` (balanced parentheses, escapes kept), and the
/// index after its `)`.
fn group(chars: &[char], open: usize) -> Option<(String, usize)> {
    let mut depth = 0;
    let mut i = open;
    let mut expression = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                expression.push(c);
                expression.push(*chars.get(i + 1)?);
                i += 2;
                continue;
            }
            '(' => {
                depth += 1;
                if depth > 1 {
                    expression.push(c);
                }
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((expression, i + 1));
                }
                expression.push(c);
            }
            _ => expression.push(c),
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(orgs: &[&str], personal: &[&str]) -> OrganizationMatcher {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        OrganizationMatcher::new(&owned(orgs), &owned(personal)).unwrap()
    }

    #[test]
    fn clerks_documented_patterns_name_the_organization() {
        let m = matcher(
            &["/orgs/:slug", "/orgs/:slug/(.*)", "/teams/id/:id/(.*)"],
            &["/me", "/me/(.*)"],
        );
        let slug = |s: &str| Some(Target::OrganizationSlug(s.to_owned()));
        assert_eq!(m.target("/orgs/acme"), slug("acme"));
        assert_eq!(m.target("/orgs/acme/"), slug("acme"));
        assert_eq!(m.target("/orgs/acme/members"), slug("acme"));
        assert_eq!(m.target("/orgs/acme/a/b"), slug("acme"));
        assert_eq!(m.target("/ORGS/Acme"), slug("Acme"));
        assert_eq!(
            m.target("/teams/id/org_123/settings"),
            Some(Target::OrganizationId("org_123".into()))
        );
        assert_eq!(m.target("/me"), Some(Target::PersonalAccount));
        assert_eq!(m.target("/me/settings"), Some(Target::PersonalAccount));
        for none in ["/", "/orgs", "/orgs/", "/profile", "/mean", "/teams/id/x"] {
            assert_eq!(m.target(none), None, "{none}");
        }
    }

    #[test]
    fn activation_compares_with_the_tokens_organization() {
        let slug = Target::OrganizationSlug("acme".into());
        assert!(slug.must_activate(None));
        assert!(slug.must_activate(Some(("org_1", Some("other")))));
        assert!(slug.must_activate(Some(("org_1", None))));
        assert!(!slug.must_activate(Some(("org_1", Some("acme")))));
        let id = Target::OrganizationId("org_1".into());
        assert!(!id.must_activate(Some(("org_1", None))));
        assert!(id.must_activate(Some(("org_2", Some("acme")))));
        assert!(Target::PersonalAccount.must_activate(Some(("org_1", None))));
        assert!(!Target::PersonalAccount.must_activate(None));
        assert_eq!(Target::PersonalAccount.query_value(), "");
        assert_eq!(slug.query_value(), "acme");
    }

    #[test]
    fn modifiers_custom_expressions_and_bad_patterns() {
        let m = matcher(&["/o/:slug(\\d+)", "/x/:rest*"], &[]);
        assert_eq!(
            m.target("/o/42"),
            Some(Target::OrganizationSlug("42".into()))
        );
        assert_eq!(m.target("/o/abc"), None);
        assert_eq!(m.target("/x"), None, "matched, but no organization named");
        let personal = matcher(&["/x/:rest*"], &["/x"]);
        assert_eq!(personal.target("/x"), Some(Target::PersonalAccount));
        for bad in ["orgs/:slug", "/a/{b}", "/a/:", "/a/(b", "/a/(?:b)"] {
            assert!(
                OrganizationMatcher::new(&[bad.to_owned()], &[]).is_err(),
                "{bad}"
            );
        }
        assert!(!OrganizationMatcher::default().is_enabled());
    }
}
