//! Clerk's JSON as this app reads it: webhook events and Backend API answers, with every U+0000
//! removed from their strings. JSON may carry NUL (`\u0000`) in a string, and Clerk stores and
//! sends what its users typed; PostgreSQL's `text` refuses NUL, so a name holding one failed every
//! write of that user, and Svix retried the event (and every later one about the user, a ban
//! included) until it gave up. NUL means nothing in a name, an email or an id, so it is dropped
//! where Clerk's text enters, once, for every table and both backends.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses `body` as a `T`, with every NUL removed from its strings (keys included).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    // A NUL in a JSON string is always written `\u0000` (raw control characters are invalid
    // there): without that text, there is none, and the body parses straight into `T`.
    if !body.windows(6).any(|w| w == b"\\u0000") {
        return serde_json::from_slice(body);
    }
    let mut value: Value = serde_json::from_slice(body)?;
    strip_nul(&mut value);
    serde_json::from_value(value)
}

/// `text` without its NULs (for Clerk's text that arrives otherwise, such as a session token's
/// claims); borrowed when it has none.
pub fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// Removes every NUL from the strings and keys of `value`.
pub fn strip_nul(value: &mut Value) {
    match value {
        Value::String(text) => {
            if text.contains('\0') {
                text.retain(|c| c != '\0');
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(fields) => {
            if fields.keys().any(|key| key.contains('\0')) {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, value)| (key.replace('\0', ""), value))
                    .collect();
            }
            fields.values_mut().for_each(strip_nul);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Named {
        id: String,
        first_name: Option<String>,
        tags: Vec<String>,
    }

    #[test]
    fn nul_is_removed_from_every_string() {
        let body = br#"{"id":"user_1","first_name":"Ad\u0000a","tags":["\u0000x"],"k\u0000":1}"#;
        let named: Named = parse(body).unwrap();
        assert_eq!(
            named,
            Named {
                id: "user_1".into(),
                first_name: Some("Ada".into()),
                tags: vec!["x".into()],
            }
        );
        let value: Value = parse(body).unwrap();
        assert_eq!(value["k"], 1);
        assert!(!value.to_string().contains("\\u0000"));
    }

    #[test]
    fn other_text_is_kept_as_sent() {
        // An escaped backslash before `u0000` is no NUL: the slow path keeps it as it is.
        let body = br#"{"id":"a\\u0000b","first_name":"Zo\u00eb","tags":[]}"#;
        let named: Named = parse(body).unwrap();
        assert_eq!(named.id, "a\\u0000b");
        assert_eq!(named.first_name.as_deref(), Some("Zoë"));
        assert!(parse::<Named>(b"{not json").is_err());
    }
}
