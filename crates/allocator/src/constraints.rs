//! Placement constraints (Marathon's vocabulary) compiled for evaluation against agents,
//! and the per-scope tallies that the stateful operators (UNIQUE, MAX_PER, GROUP_BY) read.
//!
//! Semantics: the field is `hostname` (or `@hostname`) or an attribute (compared as its
//! text). IS and CLUSTER with a value compare for equality; LIKE / UNLIKE match a regex
//! against the WHOLE value; a missing attribute rejects, except for UNLIKE. CLUSTER without
//! a value accepts any agent that has the field, and the batch pins later requests of the
//! same constraint scope to the first placement's value. UNIQUE allows one live allocation
//! of the scope per value, MAX_PER n allows n, GROUP_BY accepts only values whose count is
//! the lowest among the values present on active agents. A scope is a framework alone or
//! `(framework, app)`; see [`crate::PlacementRequest::scope`].

use crate::agents::AgentState;
use keel_model::{Constraint, ConstraintOp};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};

/// Marathon's name of an operator.
pub(crate) fn op_name(op: ConstraintOp) -> &'static str {
    match op {
        ConstraintOp::Unique => "UNIQUE",
        ConstraintOp::Cluster => "CLUSTER",
        ConstraintOp::GroupBy => "GROUP_BY",
        ConstraintOp::Like => "LIKE",
        ConstraintOp::Unlike => "UNLIKE",
        ConstraintOp::MaxPer => "MAX_PER",
        ConstraintOp::Is => "IS",
    }
}

/// `field:OP[:value]`.
pub(crate) fn text(c: &Constraint) -> String {
    match &c.value {
        Some(v) => format!("{}:{}:{v}", c.field, op_name(c.op)),
        None => format!("{}:{}", c.field, op_name(c.op)),
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Is(String),
    Like(Regex),
    Unlike(Regex),
    Cluster(Option<String>),
    Unique,
    MaxPer(u32),
    GroupBy,
}

/// A constraint ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) field: String,
    rule: Rule,
    /// `field:OP[:value]`, for rejection reasons.
    pub(crate) text: String,
}

/// Compiled whole-value regexes by pattern (`None` = invalid), shared within a batch.
#[derive(Debug, Default)]
pub(crate) struct RegexCache(HashMap<String, Option<Regex>>);

impl RegexCache {
    fn get(&mut self, pattern: &str) -> Option<Regex> {
        if let Some(r) = self.0.get(pattern) {
            return r.clone();
        }
        let r = Regex::new(&format!("^(?:{pattern})$")).ok();
        self.0.insert(pattern.to_string(), r.clone());
        r
    }
}

/// Compiles `c`; the error is the constraint's text.
pub(crate) fn compile(c: &Constraint, cache: &mut RegexCache) -> Result<Compiled, String> {
    let text = text(c);
    let value = c.value.as_deref();
    let rule = match c.op {
        ConstraintOp::Is => value.map(|v| Rule::Is(v.to_string())),
        ConstraintOp::Like => value.and_then(|v| cache.get(v)).map(Rule::Like),
        ConstraintOp::Unlike => value.and_then(|v| cache.get(v)).map(Rule::Unlike),
        ConstraintOp::Cluster => Some(Rule::Cluster(
            value.filter(|v| !v.is_empty()).map(str::to_string),
        )),
        ConstraintOp::Unique => Some(Rule::Unique),
        ConstraintOp::MaxPer => value.and_then(|v| v.trim().parse().ok()).map(Rule::MaxPer),
        ConstraintOp::GroupBy => match value.map(|v| v.trim().parse::<u32>()) {
            None | Some(Ok(_)) => Some(Rule::GroupBy),
            Some(Err(_)) => None,
        },
    };
    match rule {
        Some(rule) if !c.field.is_empty() => Ok(Compiled {
            // Tallies count fields under the name `AgentState::fields` gives them.
            field: if c.field == "@hostname" {
                "hostname".to_string()
            } else {
                c.field.clone()
            },
            rule,
            text,
        }),
        _ => Err(text),
    }
}

impl Compiled {
    /// Whether the outcome depends on the scope's live allocations or the batch's pins.
    pub(crate) fn stateful(&self) -> bool {
        matches!(
            self.rule,
            Rule::Unique | Rule::MaxPer(_) | Rule::GroupBy | Rule::Cluster(None)
        )
    }

    /// Whether a rejection stays a rejection for the rest of a batch (agents only lose free
    /// resources and tallies only grow there). GROUP_BY's lowest value moves, so not it.
    pub(crate) fn monotone(&self) -> bool {
        !matches!(self.rule, Rule::GroupBy)
    }

    /// Whether this is a CLUSTER without a value (pinned by the batch).
    pub(crate) fn pinnable(&self) -> bool {
        matches!(self.rule, Rule::Cluster(None))
    }

    /// Whether this is a GROUP_BY (needs the lowest count of its field).
    pub(crate) fn group_by(&self) -> bool {
        matches!(self.rule, Rule::GroupBy)
    }

    /// Whether `agent` satisfies the constraint. `pin` is the batch's value for a CLUSTER
    /// without value, `group_min` the lowest count for GROUP_BY.
    pub(crate) fn accepts(
        &self,
        agent: &AgentState,
        tally: Option<&Tally>,
        pin: Option<&str>,
        group_min: u32,
    ) -> bool {
        let value = agent.field(&self.field);
        let count = |v: &str| tally.map_or(0, |t| t.count(&self.field, v));
        match &self.rule {
            Rule::Is(want) | Rule::Cluster(Some(want)) => value == Some(want.as_str()),
            Rule::Like(re) => value.is_some_and(|v| re.is_match(v)),
            Rule::Unlike(re) => value.is_none_or(|v| !re.is_match(v)),
            Rule::Cluster(None) => value.is_some() && pin.is_none_or(|p| value == Some(p)),
            Rule::Unique => value.is_some_and(|v| count(v) == 0),
            Rule::MaxPer(n) => value.is_some_and(|v| count(v) < *n),
            Rule::GroupBy => value.is_some_and(|v| count(v) <= group_min),
        }
    }
}

/// Live allocations of one constraint scope per field value (`rack` → `r1` → 3), over every
/// field of the agents it holds resources on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    by_field: BTreeMap<String, BTreeMap<String, u32>>,
    /// Bumped on every change, so a batch can tell whether cached rejections are stale.
    pub(crate) version: u64,
}

impl Tally {
    pub(crate) fn count(&self, field: &str, value: &str) -> u32 {
        self.by_field
            .get(field)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0)
    }

    /// Adds `delta` allocations on an agent with these `fields`.
    pub(crate) fn adjust(&mut self, fields: &[(String, String)], delta: i64) {
        if delta == 0 {
            return;
        }
        self.version += 1;
        for (f, v) in fields {
            if !self.by_field.contains_key(f.as_str()) {
                self.by_field.insert(f.clone(), BTreeMap::new());
            }
            let Some(values) = self.by_field.get_mut(f.as_str()) else {
                continue;
            };
            let old = values.get(v.as_str()).copied().unwrap_or(0);
            let new = (i64::from(old) + delta).clamp(0, i64::from(u32::MAX)) as u32;
            if new == 0 {
                values.remove(v.as_str());
            } else if let Some(c) = values.get_mut(v.as_str()) {
                *c = new;
            } else {
                values.insert(v.clone(), new);
            }
        }
    }

    /// Whether no allocation is counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_field.values().all(BTreeMap::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AgentInfo;
    use keel_model::AgentId;
    use keel_resources::{Attributes, Resources};

    fn agent(host: &str, attrs: &str) -> AgentState {
        AgentState::new(AgentInfo {
            id: AgentId::new(host).unwrap_or_else(|e| panic!("{e}")),
            hostname: host.into(),
            attributes: Attributes::parse(attrs).unwrap_or_default(),
            total: Resources::new(),
        })
    }

    fn constraint(s: &str) -> Constraint {
        let mut parts = s.splitn(3, ':');
        let field = parts.next().unwrap_or_default().to_string();
        let op = match parts.next().unwrap_or_default() {
            "UNIQUE" => ConstraintOp::Unique,
            "CLUSTER" => ConstraintOp::Cluster,
            "GROUP_BY" => ConstraintOp::GroupBy,
            "LIKE" => ConstraintOp::Like,
            "UNLIKE" => ConstraintOp::Unlike,
            "MAX_PER" => ConstraintOp::MaxPer,
            _ => ConstraintOp::Is,
        };
        Constraint {
            field,
            op,
            value: parts.next().map(str::to_string),
        }
    }

    /// Renders which of `agents` ("host attrs") accept `c`, with the tally holding one
    /// allocation on each of `tallied` (hosts) and `pin` / `min` as given.
    fn check(c: &str, tallied: &[&str], pin: Option<&str>, min: u32, expect: &str) {
        let agents = [
            agent("h1", "rack:r1;level:3"),
            agent("h2", "rack:r2"),
            agent("h3", "rack:r10"),
            agent("h4", ""),
        ];
        let mut tally = Tally::default();
        for a in agents
            .iter()
            .filter(|a| tallied.contains(&a.info.hostname.as_str()))
        {
            tally.adjust(&a.fields, 1);
        }
        let got = match compile(&constraint(c), &mut RegexCache::default()) {
            Ok(comp) => agents
                .iter()
                .filter(|a| comp.accepts(a, Some(&tally), pin, min))
                .map(|a| a.info.hostname.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Err(text) => format!("invalid {text}"),
        };
        assert_eq!(got, expect, "constraint {c}");
    }

    #[test]
    fn stateless_operators() {
        check("rack:IS:r1", &[], None, 0, "h1");
        check("hostname:IS:h2", &[], None, 0, "h2");
        check("rack:LIKE:r1", &[], None, 0, "h1");
        check("rack:LIKE:r[0-9]+", &[], None, 0, "h1,h2,h3");
        check("rack:UNLIKE:r1", &[], None, 0, "h2,h3,h4");
        check("level:LIKE:3", &[], None, 0, "h1");
        check("rack:CLUSTER:r2", &[], None, 0, "h2");
        check("rack:CLUSTER", &[], None, 0, "h1,h2,h3");
        check("rack:CLUSTER", &[], Some("r10"), 0, "h3");
    }

    #[test]
    fn stateful_operators() {
        check("rack:UNIQUE", &["h1"], None, 0, "h2,h3");
        check("hostname:UNIQUE", &["h1", "h4"], None, 0, "h2,h3");
        check("rack:MAX_PER:1", &["h2"], None, 0, "h1,h3");
        check("rack:MAX_PER:2", &["h2"], None, 0, "h1,h2,h3");
        check("rack:GROUP_BY", &["h2"], None, 0, "h1,h3");
        check("rack:GROUP_BY:3", &["h2"], None, 1, "h1,h2,h3");
        check("@hostname:UNIQUE", &["h1", "h4"], None, 0, "h2,h3");
        check("@hostname:MAX_PER:1", &["h2"], None, 0, "h1,h3,h4");
    }

    #[test]
    fn invalid_constraints() {
        check("rack:LIKE:r[", &[], None, 0, "invalid rack:LIKE:r[");
        check("rack:LIKE", &[], None, 0, "invalid rack:LIKE");
        check("rack:MAX_PER:x", &[], None, 0, "invalid rack:MAX_PER:x");
        check(
            "rack:GROUP_BY:two",
            &[],
            None,
            0,
            "invalid rack:GROUP_BY:two",
        );
        check(":UNIQUE", &[], None, 0, "invalid :UNIQUE");
    }

    #[test]
    fn tally_counts_and_forgets() {
        let a = agent("h1", "rack:r1");
        let mut t = Tally::default();
        t.adjust(&a.fields, 2);
        assert_eq!((t.count("rack", "r1"), t.count("hostname", "h1")), (2, 2));
        t.adjust(&a.fields, -3);
        assert!(t.is_empty());
        assert_eq!(t.version, 2);
    }
}
