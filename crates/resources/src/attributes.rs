//! Agent attributes (`--attributes rack:r1;zone:a;level:3`), typed as Mesos types them.

use crate::Ranges;
use crate::resources::{ParseError, check_name, parse_ranges};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One attribute value: Mesos infers scalar, ranges, set or text from the text form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrValue {
    Text(String),
    Scalar(f64),
    Ranges(Ranges),
    Set(BTreeSet<String>),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Text(s) => f.write_str(s),
            AttrValue::Scalar(v) => write!(f, "{v}"),
            AttrValue::Ranges(r) => write!(f, "{r}"),
            AttrValue::Set(s) => {
                let items: Vec<&str> = s.iter().map(String::as_str).collect();
                write!(f, "{{{}}}", items.join(","))
            }
        }
    }
}

/// An agent's attributes, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(pub BTreeMap<String, AttrValue>);

impl Attributes {
    /// Parses `name:value;name:value`. Repeated names are rejected.
    pub fn parse(input: &str) -> Result<Attributes, ParseError> {
        let mut out = BTreeMap::new();
        for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once(':').ok_or_else(|| {
                ParseError::new("attributes", input, format!("{part:?} is not name:value"))
            })?;
            let (name, value) = (name.trim(), value.trim());
            check_name(name, "attributes", input)?;
            if value.is_empty() {
                return Err(ParseError::new(
                    "attributes",
                    input,
                    format!("{name} has an empty value"),
                ));
            }
            let parsed = parse_value(value, input)?;
            if out.insert(name.to_string(), parsed).is_some() {
                return Err(ParseError::new(
                    "attributes",
                    input,
                    format!("{name} is given twice"),
                ));
            }
        }
        Ok(Attributes(out))
    }

    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.get(name)
    }

    /// The attribute as text (what constraints compare against), if present.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn parse_value(value: &str, input: &str) -> Result<AttrValue, ParseError> {
    if let Some(inner) = value.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| ParseError::new("attributes", input, "unclosed range"))?;
        return Ok(AttrValue::Ranges(parse_ranges(inner, input)?));
    }
    if let Some(inner) = value.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| ParseError::new("attributes", input, "unclosed set"))?;
        return Ok(AttrValue::Set(
            inner
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ));
    }
    match value.parse::<f64>() {
        Ok(v)
            if v.is_finite()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
        {
            Ok(AttrValue::Scalar(v))
        }
        _ => Ok(AttrValue::Text(value.to_string())),
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        f.write_str(&parts.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match Attributes::parse(input) {
            Ok(a) => format!("{a} {:?}", a.0.values().map(kind).collect::<Vec<_>>()),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "input {input:?}");
    }

    fn kind(v: &AttrValue) -> &'static str {
        match v {
            AttrValue::Text(_) => "text",
            AttrValue::Scalar(_) => "scalar",
            AttrValue::Ranges(_) => "ranges",
            AttrValue::Set(_) => "set",
        }
    }

    #[test]
    fn parse_cases() {
        check("rack:r1;zone:a", "rack:r1;zone:a [\"text\", \"text\"]");
        check(
            "level:3;ports:[1-2];s:{b,a}",
            "level:3;ports:[1-2];s:{a,b} [\"scalar\", \"ranges\", \"set\"]",
        );
        check("os:1e5", "os:1e5 [\"text\"]");
        check(
            "rack",
            "error: invalid attributes \"rack\": \"rack\" is not name:value",
        );
        check(
            "rack:",
            "error: invalid attributes \"rack:\": rack has an empty value",
        );
        check(
            "rack:a;rack:b",
            "error: invalid attributes \"rack:a;rack:b\": rack is given twice",
        );
    }
}
