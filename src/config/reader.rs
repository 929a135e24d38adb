//! Reading one setting as text, whatever its form in a settings file or the environment.

use figment::Figment;
use serde::Deserialize;

use super::error::{bad, ConfigError};
use super::variables::VARIABLES;

/// What a settings file may hold for one value: text, a number, a flag or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl Raw {
    pub(super) fn text(&self) -> String {
        match self {
            Raw::Text(s) => s.trim().to_owned(),
            Raw::Int(i) => i.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::List(items) => items.join(","),
        }
    }
}

pub(super) struct Reader<'a> {
    pub(super) figment: &'a Figment,
}

impl Reader<'_> {
    /// The trimmed text of a setting; empty counts as unset.
    pub(super) fn get(&self, variable: &'static str) -> Result<Option<String>, ConfigError> {
        let key = VARIABLES
            .iter()
            .find(|(name, _)| *name == variable)
            .map(|(_, key)| *key)
            .expect("every variable read is listed in VARIABLES");
        match self.figment.extract_inner::<Raw>(&format!("clerk.{key}")) {
            Ok(raw) => Ok(Some(raw.text()).filter(|s| !s.is_empty())),
            Err(e) if e.missing() => Ok(None),
            Err(e) => Err(bad(variable, format!("unreadable value: {e}"))),
        }
    }

    pub(super) fn list(&self, variable: &'static str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .get(variable)?
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    pub(super) fn secs(&self, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(variable)? {
            None => Ok(default),
            Some(s) => s.parse::<u64>().map_err(|_| {
                bad(
                    variable,
                    format!("expected a whole number of seconds, found {s:?}"),
                )
            }),
        }
    }

    pub(super) fn flag(&self, variable: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.get(variable)?.map(|s| s.to_ascii_lowercase()) {
            None => Ok(None),
            Some(s) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Ok(Some(true)),
            Some(s) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Ok(Some(false)),
            Some(s) => Err(bad(
                variable,
                format!("expected true or false, found {s:?}"),
            )),
        }
    }
}
