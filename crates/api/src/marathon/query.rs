//! Query-string helpers of the Marathon API: Java-style booleans (`force=True`), `embed`
//! values with any prefix, and label selectors (`a==b,c!=d,e in (x,y),f notin (z),g`).

use std::collections::BTreeMap;

/// Reads a boolean query value the way marathon-python sends it: `true`/`false` in any
/// case. Anything else is `None` (Marathon's Java `Boolean.valueOf` would read it as
/// false: `parse_bool(v).unwrap_or(false)`).
pub fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// What an app in a response should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppEmbeds {
    pub tasks: bool,
    pub counts: bool,
    pub deployments: bool,
    pub readiness: bool,
    pub last_task_failure: bool,
    pub task_stats: bool,
}

/// What a group in a response should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupEmbeds {
    pub groups: bool,
    pub apps: bool,
    pub pods: bool,
}

/// The resolved `embed` parameters of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Embeds {
    pub app: AppEmbeds,
    pub group: GroupEmbeds,
    /// `/v2/queue?embed=lastUnusedOffers`.
    pub last_unused_offers: bool,
}

const APP_PREFIXES: [&str; 3] = ["group.apps.", "apps.", "app."];

impl Embeds {
    /// Resolves repeated (or comma-separated) `embed` values. App embeds accept the
    /// prefixes `app.`, `apps.`, `group.apps.` or none; unknown values are ignored. With no
    /// values at all, groups embed their groups, apps and pods (Marathon's default).
    pub fn parse<I, S>(values: I) -> Embeds
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut e = Embeds::default();
        let mut any = false;
        for raw in values {
            for value in raw
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                any = true;
                e.add(value);
            }
        }
        if !any {
            e.group = GroupEmbeds {
                groups: true,
                apps: true,
                pods: true,
            };
        }
        e
    }

    fn add(&mut self, value: &str) {
        match value {
            "group.groups" => self.group.groups = true,
            "group.apps" => self.group.apps = true,
            "group.pods" => self.group.pods = true,
            "lastUnusedOffers" => self.last_unused_offers = true,
            _ => {
                let bare = APP_PREFIXES
                    .iter()
                    .find_map(|p| value.strip_prefix(p))
                    .unwrap_or(value);
                self.add_app(bare);
            }
        }
    }

    fn add_app(&mut self, bare: &str) {
        let a = &mut self.app;
        match bare {
            "tasks" => (a.tasks, a.deployments) = (true, true),
            "failures" => (a.tasks, a.last_task_failure, a.deployments) = (true, true, true),
            "counts" => a.counts = true,
            "deployments" => a.deployments = true,
            "readiness" => a.readiness = true,
            "lastTaskFailure" => a.last_task_failure = true,
            "taskStats" => a.task_stats = true,
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Exists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed `label` query: selectors joined by `,` (AND). Every selector needs the label
/// to exist; `notin` and `!=` then test its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    selectors: Vec<Selector>,
}

impl LabelSelector {
    /// Parses a selector query; terms are `[-A-Za-z0-9_.]` runs, other characters need a
    /// backslash. `Err` holds the reason (see `ApiErrorBody::bad_label_selector`).
    pub fn parse(query: &str) -> Result<LabelSelector, String> {
        let mut p = SelectorParser {
            chars: query.chars().collect(),
            pos: 0,
        };
        let mut selectors = Vec::new();
        p.skip_ws();
        if p.at_end() {
            return Ok(LabelSelector { selectors });
        }
        loop {
            selectors.push(p.selector()?);
            p.skip_ws();
            if p.at_end() {
                return Ok(LabelSelector { selectors });
            }
            p.expect(',')?;
        }
    }

    /// True if `labels` satisfy every selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selectors.iter().all(|s| match s {
            Selector::Exists(k) => labels.contains_key(k),
            Selector::Equals(k, v) => labels.get(k) == Some(v),
            Selector::NotEquals(k, v) => labels.get(k).is_some_and(|x| x != v),
            Selector::In(k, set) => labels.get(k).is_some_and(|x| set.contains(x)),
            Selector::NotIn(k, set) => labels.get(k).is_some_and(|x| !set.contains(x)),
        })
    }
}

struct SelectorParser {
    chars: Vec<char>,
    pos: usize,
}

impl SelectorParser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "'{c}' expected but '{x}' found at position {}",
                self.pos
            )),
            None => Err(format!("'{c}' expected but end of input found")),
        }
    }

    fn term(&mut self) -> Result<String, String> {
        self.skip_ws();
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                let escaped = self.chars.get(self.pos + 1).copied();
                out.push(escaped.ok_or("dangling escape at end of input")?);
                self.pos += 2;
            } else if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                out.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        if out.is_empty() {
            let found = self
                .peek()
                .map_or("end of input".to_owned(), |c| format!("'{c}'"));
            return Err(format!(
                "label expected but {found} found at position {}",
                self.pos
            ));
        }
        Ok(out)
    }

    fn keyword(&mut self, word: &str) -> bool {
        self.skip_ws();
        let end = self.pos + word.len();
        let matches = self
            .chars
            .get(self.pos..end)
            .is_some_and(|s| s.iter().copied().eq(word.chars()));
        let mut after = end;
        while self.chars.get(after).is_some_and(|c| c.is_whitespace()) {
            after += 1;
        }
        if matches && self.chars.get(after) == Some(&'(') {
            self.pos = end;
            return true;
        }
        false
    }

    fn selector(&mut self) -> Result<Selector, String> {
        let key = self.term()?;
        self.skip_ws();
        let rest: String = self.chars[self.pos..].iter().take(2).collect();
        if rest == "==" || rest == "!=" {
            self.pos += 2;
            let value = self.term()?;
            return Ok(if rest == "==" {
                Selector::Equals(key, value)
            } else {
                Selector::NotEquals(key, value)
            });
        }
        if self.keyword("in") {
            return Ok(Selector::In(key, self.set()?));
        }
        if self.keyword("notin") {
            return Ok(Selector::NotIn(key, self.set()?));
        }
        Ok(Selector::Exists(key))
    }

    fn set(&mut self) -> Result<Vec<String>, String> {
        self.expect('(')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.term()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return self.expect(')').map(|_| items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_ignore_case() {
        for (input, want) in [
            ("True", Some(true)),
            ("FALSE", Some(false)),
            ("true", Some(true)),
            ("yes", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(input), want, "{input}");
        }
    }

    #[test]
    fn embeds_accept_every_prefix() {
        let e = Embeds::parse([
            "app.tasks",
            "apps.counts",
            "group.apps.readiness",
            "lastTaskFailure",
            "bogus",
        ]);
        assert_eq!(
            e.app,
            AppEmbeds {
                tasks: true,
                counts: true,
                deployments: true,
                readiness: true,
                last_task_failure: true,
                task_stats: false
            }
        );
        assert_eq!(e.group, GroupEmbeds::default());
        let failures = Embeds::parse(["app.failures,taskStats"]);
        assert!(failures.app.tasks && failures.app.last_task_failure && failures.app.task_stats);
        let none = Embeds::parse(Vec::<String>::new());
        assert_eq!(
            none.group,
            GroupEmbeds {
                groups: true,
                apps: true,
                pods: true
            }
        );
        let group = Embeds::parse(["group.groups", "group.apps"]);
        assert!(group.group.groups && group.group.apps && !group.group.pods);
        assert!(Embeds::parse(["lastUnusedOffers"]).last_unused_offers);
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors() {
        let l = labels(&[
            ("a", "b"),
            ("c", "x"),
            ("e", "y"),
            ("f", "w"),
            ("g", ""),
            ("!!!", "---"),
        ]);
        let cases = [
            ("", true),
            ("a==b,c!=d,e in (x,y),f notin (z),g", true),
            ("a == b , e in ( x , y )", true),
            ("a==c", false),
            ("missing!=x", false),
            ("missing notin (x)", false),
            ("f notin (w)", false),
            (r"\!\!\! in (\-\-\-)", true),
            ("in", false),
        ];
        for (query, want) in cases {
            let sel = LabelSelector::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(sel.matches(&l), want, "{query}");
        }
        for bad in ["a==", "a in (x", "a,,b", "a=b", "a in x"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
