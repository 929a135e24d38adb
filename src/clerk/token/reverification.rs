//! Reverification: how recently a session's user must have verified a factor, as Clerk's
//! `has({ reverification })` asks it (`@clerk/shared`'s `authorization.ts`), and the answer that
//! makes ClerkJS ask the user to verify (`authorization-errors.ts`'s `reverificationError`).
//!
//! A requirement is a level and a number of minutes. Clerk's presets: `strict_mfa` (multi-factor,
//! 10), `strict` (second factor, 10), `moderate` (second factor, 60), `lax` (second factor,
//! 1440). The session token's `fva` claim holds the minutes since the first and the second
//! factor were last verified, −1 for never (no second factor enrolled).

use std::fmt;

/// Which factors a requirement asks to be recent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The first factor (a password, an email code).
    FirstFactor,
    /// The second factor, or the first when none is enrolled.
    SecondFactor,
    /// Both, or the first alone when no second factor is enrolled.
    MultiFactor,
}

impl Level {
    /// Clerk's name: `first_factor`, `second_factor`, `multi_factor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::FirstFactor => "first_factor",
            Level::SecondFactor => "second_factor",
            Level::MultiFactor => "multi_factor",
        }
    }

    fn parse(name: &str) -> Option<Level> {
        match name {
            "first_factor" => Some(Level::FirstFactor),
            "second_factor" => Some(Level::SecondFactor),
            "multi_factor" => Some(Level::MultiFactor),
            _ => None,
        }
    }
}

/// Clerk's `{ level, afterMinutes }`: a factor of `level` verified less than `after_minutes`
/// minutes ago. `after_minutes` of 0 is never met (Clerk refuses such a requirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reverification {
    pub level: Level,
    pub after_minutes: u32,
}

impl Reverification {
    pub const STRICT_MFA: Reverification = Reverification::new(Level::MultiFactor, 10);
    pub const STRICT: Reverification = Reverification::new(Level::SecondFactor, 10);
    pub const MODERATE: Reverification = Reverification::new(Level::SecondFactor, 60);
    pub const LAX: Reverification = Reverification::new(Level::SecondFactor, 1440);

    /// A custom requirement, as Clerk's `{ level, afterMinutes }`.
    pub const fn new(level: Level, after_minutes: u32) -> Reverification {
        Reverification {
            level,
            after_minutes,
        }
    }

    /// One of Clerk's presets by name: `strict_mfa`, `strict`, `moderate`, `lax`.
    pub fn preset(name: &str) -> Option<Reverification> {
        match name {
            "strict_mfa" => Some(Self::STRICT_MFA),
            "strict" => Some(Self::STRICT),
            "moderate" => Some(Self::MODERATE),
            "lax" => Some(Self::LAX),
            _ => None,
        }
    }

    /// A preset's name, or `<level>:<minutes>` (`second_factor:30`), as a setting writes it.
    pub fn parse(text: &str) -> Option<Reverification> {
        let text = text.trim();
        if let Some(preset) = Self::preset(text) {
            return Some(preset);
        }
        let (level, minutes) = text.split_once(':')?;
        let minutes = minutes.trim().parse::<u32>().ok().filter(|m| *m > 0)?;
        Some(Reverification::new(Level::parse(level.trim())?, minutes))
    }

    /// Whether the factor ages `fva` (minutes, −1 for never) meet this requirement, `elapsed`
    /// whole minutes after the token that carries them was issued. Clerk's
    /// `checkReverificationAuthorization`, with the ages counted as of now rather than as of the
    /// token's `iat` (the same for Clerk's one-minute tokens; local mode's last hours).
    pub fn met_by(&self, fva: [i64; 2], elapsed: i64) -> bool {
        let [first, second] = fva;
        let valid = |age: i64| age == -1 || age >= 0;
        if !valid(first) || !valid(second) || (first == -1 && second == -1) {
            return false;
        }
        let fresh = |age: i64| {
            age != -1 && i64::from(self.after_minutes) > age.saturating_add(elapsed.max(0))
        };
        match self.level {
            Level::FirstFactor => fresh(first),
            // No second factor enrolled: the first must do.
            Level::SecondFactor | Level::MultiFactor if second == -1 => fresh(first),
            Level::SecondFactor => fresh(second),
            Level::MultiFactor if first == -1 => false,
            Level::MultiFactor => fresh(first) && fresh(second),
        }
    }

    /// The 403 body that ClerkJS's `useReverification()` opens its verification for: exactly
    /// `JSON.stringify(reverificationError({ level, afterMinutes }))`.
    pub fn clerk_error_body(&self) -> String {
        format!(
            "{{\"clerk_error\":{{\"type\":\"forbidden\",\"reason\":\"reverification-error\",\
             \"metadata\":{{\"reverification\":{{\"level\":\"{}\",\"afterMinutes\":{}}}}}}}}}",
            self.level.as_str(),
            self.after_minutes
        )
    }
}

impl fmt::Display for Reverification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let preset = [
            ("strict_mfa", Self::STRICT_MFA),
            ("strict", Self::STRICT),
            ("moderate", Self::MODERATE),
            ("lax", Self::LAX),
        ]
        .into_iter()
        .find(|(_, p)| p == self);
        match preset {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "{}:{}", self.level.as_str(), self.after_minutes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_custom_requirements_parse() {
        assert_eq!(
            Reverification::parse("strict"),
            Some(Reverification::STRICT)
        );
        assert_eq!(
            Reverification::parse(" first_factor:5 "),
            Some(Reverification::new(Level::FirstFactor, 5))
        );
        for bad in [
            "",
            "sometimes",
            "first_factor:0",
            "first_factor:-1",
            "third_factor:5",
        ] {
            assert_eq!(Reverification::parse(bad), None, "{bad}");
        }
        assert_eq!(Reverification::STRICT_MFA.to_string(), "strict_mfa");
        assert_eq!(
            Reverification::new(Level::MultiFactor, 7).to_string(),
            "multi_factor:7"
        );
    }

    #[test]
    fn ages_count_from_the_token_s_issue() {
        let strict = Reverification::STRICT;
        assert!(strict.met_by([9, -1], 0));
        assert!(
            !strict.met_by([9, -1], 1),
            "a minute later it is ten minutes"
        );
        assert!(!strict.met_by([-2, 3], 0), "an age below -1 is malformed");
        assert!(!Reverification::new(Level::FirstFactor, 0).met_by([0, 0], 0));
    }

    #[test]
    fn the_body_is_clerk_s() {
        assert_eq!(
            Reverification::STRICT.clerk_error_body(),
            r#"{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"second_factor","afterMinutes":10}}}}"#
        );
    }
}
