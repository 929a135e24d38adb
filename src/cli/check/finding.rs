//! One line of `clerk-rocket check`'s report.

use std::fmt;

/// How bad a finding is. Any [`Level::Error`] makes `clerk-rocket check` exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding: printed as one line, `error   clock: …  fix: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What it is about: `mode`, `publishable key`, `issuer`, `keys`, `jwks`, `secret key`,
    /// `instance`, `clock`, `audience`, `authorized parties`, `webhook secret`, `database`,
    /// `migrations`, `token`, `token <claim>` or `token email`.
    pub topic: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

impl Finding {
    pub(super) fn ok(topic: &'static str, message: impl Into<String>) -> Self {
        Finding {
            level: Level::Ok,
            topic,
            message: message.into(),
            fix: None,
        }
    }

    pub(super) fn warning(
        topic: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            level: Level::Warning,
            topic,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub(super) fn error(
        topic: &'static str,
        message: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Finding {
            level: Level::Error,
            topic,
            message: message.into(),
            fix,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8}{}: {}",
            self.level.as_str(),
            self.topic,
            self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "  fix: {fix}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_print_one_line_each() {
        let ok = Finding::ok(
            "jwks",
            "https://x/.well-known/jwks.json holds 1 key (ins_a)",
        );
        assert_eq!(
            ok.to_string(),
            "ok      jwks: https://x/.well-known/jwks.json holds 1 key (ins_a)"
        );
        let error = Finding::error("clock", "off", Some("use NTP".into()));
        assert_eq!(error.to_string(), "error   clock: off  fix: use NTP");
        let warning = Finding::warning("audience", "set", "unset it");
        assert_eq!(warning.to_string(), "warning audience: set  fix: unset it");
    }
}
