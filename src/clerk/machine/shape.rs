//! What an opaque machine token must look like before it may cost a Backend API call.
//!
//! Clerk documents no exact length; its tokens are the prefix and a few dozen characters of
//! letters, digits and `_` (the SDK's fixtures: `mt_secret_xxxxx`). The bounds below admit every
//! such token and refuse, without a network call, anything an honest client would never send.

use super::TokenType;
use crate::clerk::token::{AuthError, Reason};

/// Fewest characters after the prefix.
pub const MIN_BODY_CHARS: usize = 8;
/// Most characters after the prefix.
pub const MAX_BODY_CHARS: usize = 256;

/// Refuses a token of `kind` whose body (after its prefix) is too short, too long, or holds
/// anything but ASCII letters, digits, `_` and `-`.
pub fn check_shape(token: &str, kind: TokenType) -> Result<(), AuthError> {
    let body = kind
        .opaque_prefix()
        .and_then(|prefix| token.strip_prefix(prefix))
        .ok_or_else(|| AuthError::new(Reason::TokenInvalid, "not an opaque machine token"))?;
    let charset = body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !(MIN_BODY_CHARS..=MAX_BODY_CHARS).contains(&body.len()) || !charset {
        return Err(AuthError::new(
            Reason::TokenInvalid,
            format!(
                "the {} is malformed (expected its prefix and {MIN_BODY_CHARS} to \
                 {MAX_BODY_CHARS} letters, digits, _ or -)",
                kind.name()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(check_shape("mt_secret_xxxxx", TokenType::M2mToken).is_ok());
        assert!(check_shape(&format!("ak_{}", "a".repeat(256)), TokenType::ApiKey).is_ok());
        for bad in [
            "ak_short",
            "ak_",
            "ak_has space1",
            "ak_has.dot12345",
            "ak_ünïcödé12345",
        ] {
            assert!(check_shape(bad, TokenType::ApiKey).is_err(), "{bad}");
        }
        assert!(check_shape(&format!("ak_{}", "a".repeat(257)), TokenType::ApiKey).is_err());
        assert!(check_shape("mt_secret_xxxxx", TokenType::ApiKey).is_err());
    }
}
