//! `Skip`: a set of slot indices from which members are only ever removed, with "next
//! present index at or after i" in near-constant amortized time (union-find with path
//! compression). A batch uses one per request shape to skip agents known not to fit.

/// Present indices of `0..n`; `find(i) == n` means none at or after `i`.
#[derive(Debug, Clone)]
pub(crate) struct Skip {
    next: Vec<u32>,
}

impl Skip {
    /// All of `0..n` present.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            next: (0..=n as u32).collect(),
        }
    }

    /// The smallest present index `>= i`, or `n`.
    pub(crate) fn find(&mut self, i: usize) -> usize {
        let last = self.next.len() - 1;
        let mut root = i.min(last);
        while self.next[root] as usize != root {
            root = self.next[root] as usize;
        }
        let mut j = i.min(last);
        while self.next[j] as usize != root {
            let up = self.next[j] as usize;
            self.next[j] = root as u32;
            j = up;
        }
        root
    }

    /// Removes `i` (`i < n`).
    pub(crate) fn remove(&mut self, i: usize) {
        if i + 1 < self.next.len() {
            self.next[i] = i as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_present() {
        let mut s = Skip::new(6);
        assert_eq!(s.find(0), 0);
        for i in [0, 1, 3, 4] {
            s.remove(i);
        }
        assert_eq!(s.find(0), 2);
        assert_eq!(s.find(3), 5);
        s.remove(5);
        assert_eq!(s.find(3), 6);
        assert_eq!(s.find(6), 6);
        assert_eq!(s.find(2), 2);
    }
}
