//! Name sanitisation: Mesos-DNS's RFC 1123 / RFC 952 labels and `DomainFrag`, dcos-net's
//! `mesos_state:label`, and the canonical per-task hash (zbase32 of SHA-1).

use sha1::{Digest, Sha1};

/// Mesos-DNS's character map: lower-case, `.` `_` `-` become `-`, others are dropped.
fn mesos_map(c: char) -> Option<char> {
    match c {
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        'a'..='z' | '0'..='9' => Some(c),
        '-' | '.' | '_' => Some('-'),
        _ => None,
    }
}

fn trim_cut(s: String, max: usize, left: &[char]) -> String {
    let s = s.trim_start_matches(left);
    let cut: String = s.chars().take(max).collect();
    cut.trim_end_matches('-').to_string()
}

/// An RFC 1123 label (Mesos-DNS's default): at most 63 characters, no leading or trailing `-`.
pub fn rfc1123(name: &str) -> String {
    trim_cut(name.chars().filter_map(mesos_map).collect(), 63, &['-'])
}

/// An RFC 952 label (`enforceRFC952`): at most 24 characters, no leading digit or `-`.
pub fn rfc952(name: &str) -> String {
    const LEFT: &[char] = &['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    trim_cut(name.chars().filter_map(mesos_map).collect(), 24, LEFT)
}

/// Mesos-DNS's `DomainFrag`: split on `.`, sanitise each label, drop empty ones, re-join,
/// so dots survive (`app.group` stays `app.group`).
pub fn domain_frag(name: &str, label: fn(&str) -> String) -> String {
    name.split('.')
        .map(label)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// dcos-net's `mesos_state:label`: lower-case; `.` `_` become `-`; other characters outside
/// `[a-z0-9-]` (such as `/`) are dropped; leading `-` stripped; at most 63 characters.
pub fn net_label(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'a'..='z' | '0'..='9' | '-' => Some(c),
            '.' | '_' => Some('-'),
            _ => None,
        })
        .collect();
    mapped.trim_start_matches('-').chars().take(63).collect()
}

const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// The first 5 characters of zbase32(SHA-1(`task_id`)): the `<h>` of canonical names.
pub fn canonical_hash(task_id: &str) -> String {
    let digest = Sha1::digest(task_id.as_bytes());
    // 5 characters are 25 bits: the first 4 bytes hold them.
    let bits = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (0..5)
        .map(|i| char::from(ZBASE32[((bits >> (27 - 5 * i)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_labels() {
        let cases = [
            ("nginx", "nginx"),
            ("app.group", "app-group"),
            ("My_App", "my-app"),
            ("-leading", "leading"),
            ("trailing-", "trailing"),
            ("a/b*c", "abc"),
            ("123abc", "123abc"),
            ("__x__", "x"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(rfc1123(input), want, "rfc1123({input:?})");
        }
        let long = format!("{}-{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(rfc1123(&long), "a".repeat(62), "a cut that ends on '-' drops it");
        assert_eq!(rfc1123(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn rfc952_labels() {
        assert_eq!(rfc952("123abc"), "abc");
        assert_eq!(rfc952("-9lives"), "lives");
        assert_eq!(rfc952(&"y".repeat(40)), "y".repeat(24));
        assert_eq!(rfc952("a.b_c"), "a-b-c");
    }

    #[test]
    fn domain_frags_keep_dots() {
        assert_eq!(domain_frag("app.group", rfc1123), "app.group");
        assert_eq!(domain_frag("My.Frame_work", rfc1123), "my.frame-work");
        assert_eq!(domain_frag("a..b.", rfc1123), "a.b");
    }

    #[test]
    fn dcos_net_labels() {
        let cases = [
            ("/myapp", "myapp"),
            ("/mygroup/myapp", "mygroupmyapp"),
            ("app.group", "app-group"),
            ("Under_Score", "under-score"),
            ("-x", "x"),
            ("my.fw", "my-fw"),
        ];
        for (input, want) in cases {
            assert_eq!(net_label(input), want, "net_label({input:?})");
        }
        assert_eq!(net_label(&"z".repeat(70)).len(), 63);
    }

    #[test]
    fn canonical_hash_is_zbase32_of_sha1() {
        // SHA-1("") = da39a3ee...: bits 11011 01000 11100 11010 00111 -> "5eh48" in zbase32.
        assert_eq!(canonical_hash(""), "5eh48");
        let h = canonical_hash("nginx.1234");
        assert_eq!(h.len(), 5);
        assert!(h.bytes().all(|b| ZBASE32.contains(&b)));
    }
}
