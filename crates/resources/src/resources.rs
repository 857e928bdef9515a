//! `Resources`: a bag of named scalar, range and set resources with checked arithmetic and
//! Mesos's text form.

use crate::{EPSILON, Ranges};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A resource or attribute string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    pub what: &'static str,
    pub input: String,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// Named resources. Scalars below [`EPSILON`] and empty ranges/sets are dropped, so two
/// equal bags compare equal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scalars: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ranges: BTreeMap<String, Ranges>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, BTreeSet<String>>,
}

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: adds a scalar.
    pub fn with_scalar(mut self, name: &str, v: f64) -> Self {
        *self.scalars.entry(name.to_string()).or_insert(0.0) += v;
        self.normalize();
        self
    }

    /// Builder: adds ranges.
    pub fn with_ranges(mut self, name: &str, r: Ranges) -> Self {
        let merged = self.ranges.get(name).map(|x| x.add(&r)).unwrap_or(r);
        self.ranges.insert(name.to_string(), merged);
        self.normalize();
        self
    }

    /// The scalar `name`, 0 when absent.
    pub fn scalar(&self, name: &str) -> f64 {
        self.scalars.get(name).copied().unwrap_or(0.0)
    }

    /// The ranges `name`, empty when absent.
    pub fn range(&self, name: &str) -> Ranges {
        self.ranges.get(name).cloned().unwrap_or_default()
    }

    pub fn cpus(&self) -> f64 {
        self.scalar("cpus")
    }
    pub fn mem(&self) -> f64 {
        self.scalar("mem")
    }
    pub fn disk(&self) -> f64 {
        self.scalar("disk")
    }
    pub fn ports(&self) -> Ranges {
        self.range("ports")
    }

    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.ranges.is_empty() && self.sets.is_empty()
    }

    fn normalize(&mut self) {
        self.scalars.retain(|_, v| *v > EPSILON / 2.0);
        for v in self.scalars.values_mut() {
            *v = (*v * 1000.0).round() / 1000.0;
        }
        self.ranges.retain(|_, r| !r.is_empty());
        self.sets.retain(|_, s| !s.is_empty());
    }

    /// Whether `self` holds at least everything in `other`.
    pub fn contains(&self, other: &Resources) -> bool {
        other
            .scalars
            .iter()
            .all(|(k, v)| self.scalar(k) + EPSILON / 2.0 >= *v)
            && other.ranges.iter().all(|(k, r)| self.range(k).contains(r))
            && other
                .sets
                .iter()
                .all(|(k, s)| self.sets.get(k).is_some_and(|mine| s.is_subset(mine)))
    }

    /// The sum of both bags.
    pub fn add(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        for (k, v) in &other.scalars {
            *out.scalars.entry(k.clone()).or_insert(0.0) += v;
        }
        for (k, r) in &other.ranges {
            let merged = out.range(k).add(r);
            out.ranges.insert(k.clone(), merged);
        }
        for (k, s) in &other.sets {
            out.sets
                .entry(k.clone())
                .or_default()
                .extend(s.iter().cloned());
        }
        out.normalize();
        out
    }

    /// `self - other`, or `None` when `other` is not contained in `self`.
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        if !self.contains(other) {
            return None;
        }
        let mut out = self.clone();
        for (k, v) in &other.scalars {
            let e = out.scalars.entry(k.clone()).or_insert(0.0);
            *e = (*e - v).max(0.0);
        }
        for (k, r) in &other.ranges {
            let left = out.range(k).subtract(r);
            out.ranges.insert(k.clone(), left);
        }
        for (k, s) in &other.sets {
            if let Some(mine) = out.sets.get_mut(k) {
                mine.retain(|x| !s.contains(x));
            }
        }
        out.normalize();
        Some(out)
    }

    /// Parses Mesos's `--resources` text form: `name:value` pairs separated by `;`, where a
    /// value is a number, `[b-e,b-e]` ranges or a `{a,b}` set. A `(*)` role suffix on the
    /// name is accepted; other roles (static reservations) are rejected for now.
    pub fn parse(input: &str) -> Result<Resources, ParseError> {
        let mut out = Resources::new();
        for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once(':').ok_or_else(|| {
                ParseError::new("resources", input, format!("{part:?} is not name:value"))
            })?;
            let name = strip_role(name.trim(), input)?;
            check_name(name, "resources", input)?;
            out = out.add(&parse_value(name, value.trim(), input)?);
        }
        Ok(out)
    }
}

fn strip_role<'a>(name: &'a str, input: &str) -> Result<&'a str, ParseError> {
    let Some((base, rest)) = name.split_once('(') else {
        return Ok(name);
    };
    match rest.strip_suffix(')') {
        Some("*") => Ok(base),
        Some(role) => Err(ParseError::new(
            "resources",
            input,
            format!("static reservation for role {role:?} is not supported"),
        )),
        None => Err(ParseError::new(
            "resources",
            input,
            format!("unclosed role in {name:?}"),
        )),
    }
}

pub(crate) fn check_name(name: &str, what: &'static str, input: &str) -> Result<(), ParseError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(what, input, format!("bad name {name:?}")))
    }
}

fn parse_value(name: &str, value: &str, input: &str) -> Result<Resources, ParseError> {
    if let Some(inner) = value.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(|| {
            ParseError::new("resources", input, format!("unclosed range for {name}"))
        })?;
        return Ok(Resources::new().with_ranges(name, parse_ranges(inner, input)?));
    }
    if let Some(inner) = value.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or_else(|| {
            ParseError::new("resources", input, format!("unclosed set for {name}"))
        })?;
        let set: BTreeSet<String> = inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let mut r = Resources::new();
        r.sets.insert(name.to_string(), set);
        r.normalize();
        return Ok(r);
    }
    let v: f64 = value.parse().map_err(|_| {
        ParseError::new(
            "resources",
            input,
            format!("{name} value {value:?} is not a number"),
        )
    })?;
    if !v.is_finite() || v < 0.0 {
        return Err(ParseError::new(
            "resources",
            input,
            format!("{name} must be a finite non-negative number"),
        ));
    }
    Ok(Resources::new().with_scalar(name, v))
}

pub(crate) fn parse_ranges(inner: &str, input: &str) -> Result<Ranges, ParseError> {
    let mut v = Vec::new();
    for piece in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (b, e) = piece.split_once('-').ok_or_else(|| {
            ParseError::new(
                "resources",
                input,
                format!("range {piece:?} is not begin-end"),
            )
        })?;
        let b: u64 = b.trim().parse().map_err(|_| {
            ParseError::new("resources", input, format!("bad range start in {piece:?}"))
        })?;
        let e: u64 = e.trim().parse().map_err(|_| {
            ParseError::new("resources", input, format!("bad range end in {piece:?}"))
        })?;
        if b > e {
            return Err(ParseError::new(
                "resources",
                input,
                format!("range {piece:?} ends before it begins"),
            ));
        }
        v.push((b, e));
    }
    Ok(Ranges::new(v))
}

impl fmt::Display for Resources {
    /// The `--resources` text form, parseable by [`Resources::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in &self.scalars {
            parts.push(format!("{k}:{v}"));
        }
        for (k, r) in &self.ranges {
            parts.push(format!("{k}:{r}"));
        }
        for (k, s) in &self.sets {
            let items: Vec<&str> = s.iter().map(String::as_str).collect();
            parts.push(format!("{k}:{{{}}}", items.join(",")));
        }
        f.write_str(&parts.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expect: &str) {
        let got = match Resources::parse(input) {
            Ok(r) => r.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "input {input:?}");
    }

    #[test]
    fn parse_cases() {
        check(
            "cpus:4;mem:1024;disk:2000;ports:[31000-32000]",
            "cpus:4;disk:2000;mem:1024;ports:[31000-32000]",
        );
        check(" cpus : 0.5 ; ", "cpus:0.5");
        check("cpus(*):2;cpus:1", "cpus:3");
        check("ports:[1-3, 5-6,4-4]", "ports:[1-6]");
        check("zones:{a, b}", "zones:{a,b}");
        check("", "");
        check(
            "cpus",
            "error: invalid resources \"cpus\": \"cpus\" is not name:value",
        );
        check(
            "cpus:x",
            "error: invalid resources \"cpus:x\": cpus value \"x\" is not a number",
        );
        check(
            "cpus:-1",
            "error: invalid resources \"cpus:-1\": cpus must be a finite non-negative number",
        );
        check(
            "ports:[5-1]",
            "error: invalid resources \"ports:[5-1]\": range \"5-1\" ends before it begins",
        );
        check(
            "ports:[1-2",
            "error: invalid resources \"ports:[1-2\": unclosed range for ports",
        );
        check(
            "cpus(ads):2",
            "error: invalid resources \"cpus(ads):2\": static reservation for role \"ads\" is not supported",
        );
        check(
            "c pus:2",
            "error: invalid resources \"c pus:2\": bad name \"c pus\"",
        );
        check(
            "cpus:NaN",
            "error: invalid resources \"cpus:NaN\": cpus must be a finite non-negative number",
        );
    }

    #[test]
    fn arithmetic() {
        let total = Resources::parse("cpus:4;mem:1024;ports:[31000-31009]").unwrap_or_default();
        let used = Resources::parse("cpus:1.5;mem:1024;ports:[31000-31001]").unwrap_or_default();
        let free = total.checked_sub(&used).unwrap_or_default();
        assert_eq!(free.to_string(), "cpus:2.5;ports:[31002-31009]");
        assert!(free.checked_sub(&used).is_none());
        assert_eq!(free.add(&used), total);
    }

    fn arb_resources() -> impl Strategy<Value = Resources> {
        (
            0u32..8000,
            0u32..4096,
            prop::collection::vec((31000u64..31100, 0u64..5), 0..3),
        )
            .prop_map(|(c, m, ports)| {
                Resources::new()
                    .with_scalar("cpus", f64::from(c) / 1000.0)
                    .with_scalar("mem", f64::from(m))
                    .with_ranges(
                        "ports",
                        Ranges::new(ports.into_iter().map(|(b, l)| (b, b + l)).collect()),
                    )
            })
    }

    proptest! {
        #[test]
        fn text_form_roundtrips(r in arb_resources()) {
            prop_assert_eq!(Resources::parse(&r.to_string()), Ok(r));
        }

        #[test]
        fn add_then_sub_is_identity(a in arb_resources(), b in arb_resources()) {
            let sum = a.add(&b);
            prop_assert!(sum.contains(&a) && sum.contains(&b));
            prop_assert_eq!(sum.checked_sub(&b).map(|x| x.scalars), Some(a.scalars.clone()));
        }
    }
}
