//! Name sanitisation as Mesos-DNS (`spec`, `DomainFrag`) and dcos-net (`mesos_state:label`)
//! do it, and the canonical per-task label (`<task>-<zbase32(sha1(id))[..5]>-<agent tail>`).

use sha1::{Digest, Sha1};

/// Mesos-DNS's label rule: RFC 1123 (63 characters) or, with `rfc952`, RFC 952 (24
/// characters, no leading digits). Lower-case; `.` `_` `-` become `-`; other characters
/// outside `[a-z0-9]` are dropped; leading and trailing `-` stripped.
pub fn spec_label(s: &str, rfc952: bool) -> String {
    let max = if rfc952 { 24 } else { 63 };
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'a'..='z' | '0'..='9' => c,
            '.' | '_' | '-' => '-',
            _ => continue,
        };
        if out.is_empty() && (c == '-' || (rfc952 && c.is_ascii_digit())) {
            continue;
        }
        out.push(c);
    }
    // Cut to `max`, then strip trailing dashes (refilling from the rest, as Mesos-DNS does:
    // the dashes are dropped before the cut when they would end the label).
    let mut cut = String::with_capacity(max);
    let mut pending = 0usize;
    for c in out.chars() {
        if cut.len() >= max {
            break;
        }
        if c == '-' {
            pending += 1;
            continue;
        }
        if cut.len() + pending + 1 > max {
            break;
        }
        cut.extend(std::iter::repeat_n('-', pending));
        pending = 0;
        cut.push(c);
    }
    cut
}

/// Mesos-DNS's `DomainFrag`: split on `.`, sanitise each label, drop empty ones, re-join,
/// so dots survive (framework names, DiscoveryInfo names).
pub fn domain_frag(s: &str, rfc952: bool) -> String {
    let labels: Vec<String> = s
        .split('.')
        .map(|l| spec_label(l, rfc952))
        .filter(|l| !l.is_empty())
        .collect();
    labels.join(".")
}

/// dcos-net's `mesos_state:label`: lower-case; `.` `_` become `-`; other characters outside
/// `[a-z0-9-]` dropped; leading `-` stripped; at most 63 characters.
pub fn dcos_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(63));
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'a'..='z' | '0'..='9' | '-' => c,
            '.' | '_' => '-',
            _ => continue,
        };
        if out.is_empty() && c == '-' {
            continue;
        }
        if out.len() == 63 {
            break;
        }
        out.push(c);
    }
    out
}

/// dcos-l4lb's VIP name label: `/` dropped entirely, then [`dcos_label`]:
/// `/mygroup/myapp` ⇒ `mygroupmyapp`.
pub fn vip_label(name: &str) -> String {
    dcos_label(&name.replace('/', ""))
}

const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// The first 5 characters of zbase32(SHA-1(task id)), as Mesos-DNS's `hashString`.
pub fn task_hash(task_id: &str) -> String {
    let digest = Sha1::digest(task_id.as_bytes());
    let mut out = String::with_capacity(5);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in digest.iter() {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 && out.len() < 5 {
            bits -= 5;
            let i = ((acc >> bits) & 31) as usize;
            out.push(char::from(ZBASE32[i]));
        }
        if out.len() == 5 {
            break;
        }
    }
    out
}

/// The lower-cased text after the last `-` of an agent id (`...-S1` ⇒ `s1`).
pub fn agent_tail(agent_id: &str) -> String {
    agent_id
        .rsplit('-')
        .next()
        .unwrap_or(agent_id)
        .to_lowercase()
}

/// The canonical label of a task: `<label>-<hash>-<agent tail>`.
pub fn canonical(label: &str, task_id: &str, agent_id: &str) -> String {
    format!("{label}-{}-{}", task_hash(task_id), agent_tail(agent_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_labels_follow_rfc1123_and_rfc952() {
        let cases: &[(&str, bool, &str)] = &[
            ("nginx", false, "nginx"),
            ("app.group", false, "app-group"),
            ("My_App", false, "my-app"),
            ("a$b!c", false, "abc"),
            ("--lead", false, "lead"),
            ("trail--", false, "trail"),
            ("1abc", false, "1abc"),
            ("1abc", true, "abc"),
            ("a..b", false, "a--b"),
            ("", false, ""),
            ("ünïcode", false, "ncode"),
        ];
        for (input, rfc952, want) in cases {
            assert_eq!(
                spec_label(input, *rfc952),
                *want,
                "spec({input:?}, {rfc952})"
            );
        }
        let long = "a".repeat(70);
        assert_eq!(spec_label(&long, false).len(), 63);
        assert_eq!(spec_label(&long, true).len(), 24);
        // A dash that would end the cut label is dropped, not kept.
        let s = format!("{}-b", "a".repeat(63));
        assert_eq!(spec_label(&s, false), "a".repeat(63));
        let s = format!("{}-bc", "a".repeat(61));
        assert_eq!(spec_label(&s, false), format!("{}-b", "a".repeat(61)));
    }

    #[test]
    fn domain_frags_keep_dots() {
        assert_eq!(domain_frag("app.group", false), "app.group");
        assert_eq!(domain_frag("Marathon", false), "marathon");
        assert_eq!(domain_frag("my_fw.prod", false), "my-fw.prod");
        assert_eq!(domain_frag("a..b", false), "a.b");
    }

    #[test]
    fn dcos_labels_turn_dots_into_dashes() {
        assert_eq!(dcos_label("app.group"), "app-group");
        assert_eq!(dcos_label("-My_App"), "my-app");
        assert_eq!(dcos_label("x".repeat(80).as_str()).len(), 63);
        assert_eq!(vip_label("/mygroup/myapp"), "mygroupmyapp");
        assert_eq!(vip_label("/myapp"), "myapp");
    }

    #[test]
    fn canonical_labels_hash_the_task_id() {
        let h = task_hash("nginx.1234");
        assert_eq!(h.len(), 5);
        assert!(h.bytes().all(|b| ZBASE32.contains(&b)));
        assert_eq!(h, task_hash("nginx.1234"), "deterministic");
        assert_ne!(h, task_hash("nginx.1235"));
        assert_eq!(agent_tail("20151201-abc-S12"), "s12");
        assert_eq!(
            canonical("nginx", "nginx.1234", "x-S1"),
            format!("nginx-{h}-s1")
        );
        // SHA-1("") starts da39a3ee: bits 11011 01000 11100 11010 00111 (27 8 28 26 7)
        assert_eq!(task_hash(""), "5eh48");
    }
}
