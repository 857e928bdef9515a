//! `PerScope`: one value per constraint scope of a framework. Scope `None` is the framework
//! itself; `Some(s)` is one of its scopes (a Marathon app). Lookups take `Option<&str>`, so
//! the hot paths (a grant, a request's tally) never build an owned key.

use std::collections::BTreeMap;

/// Values by constraint scope; a scope without a value is absent.
#[derive(Debug, Clone)]
pub(crate) struct PerScope<T> {
    unscoped: Option<T>,
    scoped: BTreeMap<String, T>,
}

impl<T> Default for PerScope<T> {
    fn default() -> Self {
        Self {
            unscoped: None,
            scoped: BTreeMap::new(),
        }
    }
}

impl<T> PerScope<T> {
    pub(crate) fn get(&self, scope: Option<&str>) -> Option<&T> {
        match scope {
            None => self.unscoped.as_ref(),
            Some(s) => self.scoped.get(s),
        }
    }

    pub(crate) fn get_mut(&mut self, scope: Option<&str>) -> Option<&mut T> {
        match scope {
            None => self.unscoped.as_mut(),
            Some(s) => self.scoped.get_mut(s),
        }
    }

    pub(crate) fn remove(&mut self, scope: Option<&str>) -> Option<T> {
        match scope {
            None => self.unscoped.take(),
            Some(s) => self.scoped.remove(s),
        }
    }

    /// Whether no scope has a value.
    pub(crate) fn is_empty(&self) -> bool {
        self.unscoped.is_none() && self.scoped.is_empty()
    }

    /// Every scope with its value: `None` first, then the named scopes in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Option<&str>, &T)> {
        let unscoped = self.unscoped.iter().map(|v| (None, v));
        unscoped.chain(self.scoped.iter().map(|(s, v)| (Some(s.as_str()), v)))
    }

    /// Every value, in the order of [`PerScope::iter`].
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.unscoped.iter().chain(self.scoped.values())
    }
}

impl<T: Default> PerScope<T> {
    /// Runs `f` on the value of `scope`, created empty if missing. (A closure rather than
    /// a returned `&mut T`: that lets an existing scope be found without an owned key.)
    pub(crate) fn update<R>(&mut self, scope: Option<&str>, f: impl FnOnce(&mut T) -> R) -> R {
        match scope {
            None => f(self.unscoped.get_or_insert_with(T::default)),
            Some(s) => match self.scoped.get_mut(s) {
                Some(v) => f(v),
                None => f(self.scoped.entry(s.to_string()).or_default()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_independent() {
        let mut m: PerScope<u32> = PerScope::default();
        assert!(m.is_empty());
        m.update(Some("b"), |v| *v += 2);
        m.update(None, |v| *v += 1);
        m.update(Some("a"), |v| *v += 3);
        m.update(Some("b"), |v| *v += 2);
        let all: Vec<(Option<&str>, u32)> = m.iter().map(|(s, v)| (s, *v)).collect();
        assert_eq!(all, [(None, 1), (Some("a"), 3), (Some("b"), 4)]);
        assert_eq!(m.values().sum::<u32>(), 8);
        assert_eq!((m.get(Some("a")), m.get(Some("c"))), (Some(&3), None));
        if let Some(v) = m.get_mut(None) {
            *v = 7;
        }
        assert_eq!(m.remove(None), Some(7));
        assert_eq!(m.get(None), None);
        assert_eq!(m.remove(Some("a")), Some(3));
        assert_eq!(m.remove(Some("b")), Some(4));
        assert!(m.is_empty());
    }
}
