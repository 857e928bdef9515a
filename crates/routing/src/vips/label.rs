//! VIP label values as dcos-net reads them: `<name-or-ip>:<port>` split at the last `:`,
//! the legacy `VIP_PORT<n>` task labels (`tcp://<vip>`), and the DNS label rule
//! (`mesos_state:label`) that names named VIPs under `l4lb.thisdcos.directory`.

use core::net::IpAddr;

/// Where a VIP's address comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum VipTarget {
    /// `/myapp:80`: an address from the range, keyed by (name, framework).
    Named(String),
    /// `10.0.0.1:80`: the given address.
    Ip(IpAddr),
}

/// A parsed VIP label value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipLabel {
    pub target: VipTarget,
    pub port: u16,
}

/// Parses `<name-or-ip>:<port>` (IPv6 in brackets). Errors say what is wrong with `value`.
pub fn parse_vip(value: &str) -> Result<VipLabel, String> {
    let value = value.trim();
    let Some((left, port)) = value.rsplit_once(':') else {
        return Err(format!("VIP {value:?} has no port"));
    };
    if port.is_empty() {
        return Err(format!("VIP {value:?} has no port"));
    }
    let port: u32 = port
        .parse()
        .map_err(|_| format!("VIP {value:?}: port {port:?} is not a number"))?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("VIP {value:?}: port {port} is out of range 1-65535"))?;
    let host = left.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("VIP {value:?} has no name or address"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(VipLabel {
            target: VipTarget::Ip(ip),
            port,
        });
    }
    if looks_like_ip(host) {
        return Err(format!("VIP {value:?}: {host:?} is not a valid IP address"));
    }
    if label(host).is_empty() {
        return Err(format!(
            "VIP {value:?}: name {host:?} has no DNS-safe character"
        ));
    }
    Ok(VipLabel {
        target: VipTarget::Named(host.to_string()),
        port,
    })
}

/// Digits and dots only (an IPv4 attempt), or a colon (an IPv6 attempt).
fn looks_like_ip(host: &str) -> bool {
    host.contains(':') || host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The protocol and VIP of a legacy `VIP_PORT<n>` value: `tcp://<vip>` or `udp://<vip>`.
pub fn parse_legacy(value: &str) -> Result<(Protocol, VipLabel), String> {
    let (proto, rest) = value
        .split_once("://")
        .ok_or_else(|| format!("VIP {value:?} does not start with tcp:// or udp://"))?;
    let proto = Protocol::parse(proto)
        .ok_or_else(|| format!("VIP {value:?}: protocol {proto:?} is neither tcp nor udp"))?;
    Ok((proto, parse_vip(rest)?))
}

/// `VIP_PORT<n>` (any case) names port index `n`.
pub fn legacy_index(key: &str) -> Option<Result<usize, String>> {
    let upper = key.to_ascii_uppercase();
    let n = upper.strip_prefix("VIP_PORT")?;
    Some(
        n.parse()
            .map_err(|_| format!("label {key:?}: {n:?} is not a port index")),
    )
}

/// Whether a discovery-port label key declares a VIP (`VIP...` or `vip...`).
pub fn is_vip_key(key: &str) -> bool {
    key.starts_with("VIP") || key.starts_with("vip")
}

/// A VIP's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`, any case.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// dcos-net's `mesos_state:label`: lower-case, `.` and `_` become `-`, other characters
/// outside `[a-z0-9-]` (the `/` of Marathon ids included) are dropped, leading `-`
/// stripped, at most 63 characters.
pub fn label(s: &str) -> String {
    let mapped: String = s
        .chars()
        .filter_map(|c| match c.to_ascii_lowercase() {
            '.' | '_' => Some('-'),
            c @ ('a'..='z' | '0'..='9' | '-') => Some(c),
            _ => None,
        })
        .collect();
    mapped.trim_start_matches('-').chars().take(63).collect()
}

/// `label(name).label(framework).l4lb.thisdcos.directory`.
pub fn dns_name(name: &str, framework: &str) -> String {
    format!(
        "{}.{}.l4lb.thisdcos.directory",
        label(name),
        label(framework)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expect: &str) {
        let got = match parse_vip(value) {
            Ok(VipLabel {
                target: VipTarget::Named(n),
                port,
            }) => format!("named {n} {port}"),
            Ok(VipLabel {
                target: VipTarget::Ip(ip),
                port,
            }) => format!("ip {ip} {port}"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{value}");
    }

    #[test]
    fn values_split_at_the_last_colon() {
        check("/myapp:80", "named /myapp 80");
        check("/group/app:8080", "named /group/app 8080");
        check("10.0.0.1:80", "ip 10.0.0.1 80");
        check("[::1]:53", "ip ::1 53");
        check("/myapp", r#"error: VIP "/myapp" has no port"#);
        check("/myapp:", r#"error: VIP "/myapp:" has no port"#);
        check(
            "/myapp:99999",
            r#"error: VIP "/myapp:99999": port 99999 is out of range 1-65535"#,
        );
        check(
            "/myapp:0",
            r#"error: VIP "/myapp:0": port 0 is out of range 1-65535"#,
        );
        check(
            "/myapp:http",
            r#"error: VIP "/myapp:http": port "http" is not a number"#,
        );
        check(
            "300.1.1.1:80",
            r#"error: VIP "300.1.1.1:80": "300.1.1.1" is not a valid IP address"#,
        );
        check(":80", r#"error: VIP ":80" has no name or address"#);
        check(
            "/:80",
            r#"error: VIP "/:80": name "/" has no DNS-safe character"#,
        );
    }

    #[test]
    fn legacy_labels_carry_the_protocol() {
        let (p, v) = parse_legacy("udp:///dns:53").expect("parses");
        assert_eq!((p, v.port), (Protocol::Udp, 53));
        assert!(parse_legacy("sctp://1.2.3.4:5").is_err());
        assert!(parse_legacy("/x:5").is_err());
        assert_eq!(legacy_index("vip_port1"), Some(Ok(1)));
        assert!(matches!(legacy_index("VIP_PORTx"), Some(Err(_))));
        assert_eq!(legacy_index("VIP_0"), None);
    }

    #[test]
    fn names_follow_dcos_net_labels() {
        assert_eq!(
            dns_name("/myapp", "marathon"),
            "myapp.marathon.l4lb.thisdcos.directory"
        );
        assert_eq!(
            dns_name("/mygroup/myapp", "marathon"),
            "mygroupmyapp.marathon.l4lb.thisdcos.directory"
        );
        assert_eq!(label("-My_App.v2!"), "my-app-v2");
        assert_eq!(label(&"a".repeat(80)).len(), 63);
    }
}
