//! Image references with Docker's parsing and normalization rules (pure): `busybox` is
//! `docker.io/library/busybox:latest`, `host:5000/a/b:tag` keeps its registry,
//! `name@sha256:<hex>` pins a manifest.

use std::fmt;
use std::str::FromStr;

/// The registry Docker assumes when a name has none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag Docker assumes when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalized image reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: &'static str,
}

impl Reference {
    /// The registry host with its port, e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `latest` is filled in when the input had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The manifest digest, `algorithm:hex`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The last component of the repository (`busybox` for `library/busybox`): the name
    /// Mesos's local puller looks for in `--docker_registry`.
    pub fn short_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| ReferenceError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("empty"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(
                "a 64-character hexadecimal string is an image id, not a name",
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(check_digest(digest).map_err(fail)?)),
            None => (input, None),
        };
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            check_tag(tag).map_err(fail)?;
        }
        if name.len() > MAX_NAME_LEN {
            return Err(fail("name longer than 255 characters"));
        }
        let (registry, repository) = split_registry(name);
        check_registry(registry).map_err(fail)?;
        check_repository(&repository).map_err(fail)?;
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }
}

/// Splits `name[:tag]`: the tag is after the last ':' that follows the last '/'.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[slash..].rfind(':') {
        Some(i) => (&s[..slash + i], Some(&s[slash + i + 1..])),
        None => (s, None),
    }
}

/// Docker's `splitDockerDomain`: the first component is a registry when it has a '.' or
/// a ':', is `localhost`, or has upper-case letters; else the name is on Docker Hub.
fn split_registry(name: &str) -> (&str, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    };
    let registry = if registry == "index.docker.io" {
        DEFAULT_REGISTRY
    } else {
        registry
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    (registry, repository)
}

fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = match registry.find(']') {
        Some(end) if registry.starts_with('[') => match &registry[end + 1..] {
            "" => (registry, None),
            rest => match rest.strip_prefix(':') {
                Some(port) => (&registry[..=end], Some(port)),
                None => return Err("invalid registry host"),
            },
        },
        _ => match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        },
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("registry port must be a number");
    }
    let host_ok = if host.starts_with('[') {
        host.ends_with(']') && host.len() > 2
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    };
    if host_ok {
        Ok(())
    } else {
        Err("invalid registry host")
    }
}

fn check_repository(repository: &str) -> Result<(), &'static str> {
    if repository.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository name must be lowercase");
    }
    if repository.split('/').all(path_component_ok) {
        Ok(())
    } else {
        Err("invalid repository name")
    }
}

/// `[a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*`
fn path_component_ok(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let dashes = sep.bytes().all(|c| c == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = tag.as_bytes();
    if b.is_empty() {
        return Err("empty tag");
    }
    if b.len() > MAX_TAG_LEN {
        return Err("tag longer than 128 characters");
    }
    if word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        Ok(())
    } else {
        Err("invalid tag")
    }
}

/// `algorithm:hex`, with the hex length of sha256 or sha512.
fn check_digest(digest: &str) -> Result<String, &'static str> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("digest must be algorithm:hex");
    };
    let len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm"),
    };
    if hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(digest.to_string())
    } else {
        Err("invalid digest hex")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    /// Renders `input` as `registry | repository | tag | digest` or the error.
    fn check(input: &str, expect: Expect) {
        let actual = match input.parse::<Reference>() {
            Ok(r) => {
                let round_trip = r.to_string().parse::<Reference>();
                assert_eq!(round_trip.as_ref(), Ok(&r), "{r} does not round-trip");
                format!(
                    "{r}  [{} | {} | {} | {}]",
                    r.registry(),
                    r.repository(),
                    r.tag().unwrap_or("-"),
                    r.digest().unwrap_or("-")
                )
            }
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&actual);
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_names() {
        check(
            "busybox",
            expect!["docker.io/library/busybox:latest  [docker.io | library/busybox | latest | -]"],
        );
        check(
            "busybox:1.36",
            expect!["docker.io/library/busybox:1.36  [docker.io | library/busybox | 1.36 | -]"],
        );
        check(
            "mesosphere/marathon:v1.11",
            expect![
                "docker.io/mesosphere/marathon:v1.11  [docker.io | mesosphere/marathon | v1.11 | -]"
            ],
        );
        check(
            "index.docker.io/busybox",
            expect!["docker.io/library/busybox:latest  [docker.io | library/busybox | latest | -]"],
        );
        check(
            "docker.io/library/busybox:latest",
            expect!["docker.io/library/busybox:latest  [docker.io | library/busybox | latest | -]"],
        );
    }

    #[test]
    fn registries_with_hosts_and_ports() {
        check(
            "127.0.0.1:5000/busybox",
            expect!["127.0.0.1:5000/busybox:latest  [127.0.0.1:5000 | busybox | latest | -]"],
        );
        check(
            "host:5000/a/b:tag",
            expect!["host:5000/a/b:tag  [host:5000 | a/b | tag | -]"],
        );
        check(
            "localhost/app",
            expect!["localhost/app:latest  [localhost | app | latest | -]"],
        );
        check(
            "registry.example.com/team/app:v1.2-rc_3",
            expect![
                "registry.example.com/team/app:v1.2-rc_3  [registry.example.com | team/app | v1.2-rc_3 | -]"
            ],
        );
        check(
            "[::1]:5000/app",
            expect!["[::1]:5000/app:latest  [[::1]:5000 | app | latest | -]"],
        );
        check(
            "gcr.io/a.b/c__d/e--f",
            expect!["gcr.io/a.b/c__d/e--f:latest  [gcr.io | a.b/c__d/e--f | latest | -]"],
        );
    }

    #[test]
    fn digests() {
        check(
            &format!("busybox@sha256:{HEX}"),
            expect![
                "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  [docker.io | library/busybox | - | sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]"
            ],
        );
        check(
            &format!("host:5000/app:v1@sha256:{HEX}"),
            expect![
                "host:5000/app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  [host:5000 | app | v1 | sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]"
            ],
        );
        check(
            "busybox@sha256:abc",
            expect![[r#"error: invalid image reference "busybox@sha256:abc": invalid digest hex"#]],
        );
        check(
            &format!("busybox@md5:{HEX}"),
            expect![[
                r#"error: invalid image reference "busybox@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": unsupported digest algorithm"#
            ]],
        );
        check(
            "busybox@latest",
            expect![[
                r#"error: invalid image reference "busybox@latest": digest must be algorithm:hex"#
            ]],
        );
    }

    #[test]
    fn invalid_references() {
        check("", expect![[r#"error: invalid image reference "": empty"#]]);
        check(
            "Busybox",
            expect![[
                r#"error: invalid image reference "Busybox": repository name must be lowercase"#
            ]],
        );
        check(
            "busybox:",
            expect![[r#"error: invalid image reference "busybox:": empty tag"#]],
        );
        check(
            "busybox:-x",
            expect![[r#"error: invalid image reference "busybox:-x": invalid tag"#]],
        );
        check(
            "host:port/app",
            expect![[
                r#"error: invalid image reference "host:port/app": registry port must be a number"#
            ]],
        );
        check(
            "a//b",
            expect![[r#"error: invalid image reference "a//b": invalid repository name"#]],
        );
        check(
            "-app",
            expect![[r#"error: invalid image reference "-app": invalid repository name"#]],
        );
        check(
            "app_",
            expect![[r#"error: invalid image reference "app_": invalid repository name"#]],
        );
        check(
            "a___b",
            expect![[r#"error: invalid image reference "a___b": invalid repository name"#]],
        );
        check(
            "with space",
            expect![[r#"error: invalid image reference "with space": invalid repository name"#]],
        );
        check(
            HEX,
            expect![[
                r#"error: invalid image reference "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": a 64-character hexadecimal string is an image id, not a name"#
            ]],
        );
        check(
            &format!("app:{}", "t".repeat(129)),
            expect![[
                r#"error: invalid image reference "app:ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt": tag longer than 128 characters"#
            ]],
        );
    }

    #[test]
    fn short_name_is_the_last_component() {
        let r: Result<Reference, _> = "host:5000/team/app:v1".parse();
        assert_eq!(r.map(|r| r.short_name().to_string()), Ok("app".into()));
    }
}
