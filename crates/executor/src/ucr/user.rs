//! The container's user, looked up in the image's own `/etc/passwd` and `/etc/group` (the
//! host's user database means nothing inside the container): a name, a uid, or
//! `user:group` in either form.

use crate::sys;
use std::io;
use std::path::Path;

/// Ids to switch to before the task execs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub name: String,
    pub uid: sys::Uid,
    pub gid: sys::Gid,
    pub groups: Vec<sys::Gid>,
}

impl Ids {
    /// setgroups, setgid, setuid, in that order.
    pub fn switch(&self) -> io::Result<()> {
        Ok(sys::switch_user(self.uid, self.gid, &self.groups)?)
    }
}

/// Resolves `spec` (`name`, `uid`, `name:group`, `uid:gid`) against the files in `etc`.
pub fn resolve(spec: &str, etc: &Path) -> Result<Ids, String> {
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(etc.join("group")).unwrap_or_default();
    resolve_in(spec, &passwd, &group)
}

fn resolve_in(spec: &str, passwd: &str, group: &str) -> Result<Ids, String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .find(|f| f[0] == user || f[2] == user);
    let (name, uid, mut gid) = match (entry, user.parse::<sys::Uid>()) {
        (Some(f), _) => (
            f[0].to_string(),
            parse_id(f[2], spec)?,
            parse_id(f[3], spec)?,
        ),
        (None, Ok(uid)) => (user.to_string(), uid, uid),
        (None, Err(_)) => {
            return Err(format!(
                "user {user:?} not found in the image's /etc/passwd"
            ));
        }
    };
    let groups_file: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    if let Some(g) = grp {
        gid = match groups_file.iter().find(|f| f[0] == g || f[2] == g) {
            Some(f) => parse_id(f[2], spec)?,
            None => g
                .parse()
                .map_err(|_| format!("group {g:?} not found in the image's /etc/group"))?,
        };
    }
    let mut groups = vec![gid];
    for f in &groups_file {
        let members = f.get(3).copied().unwrap_or_default();
        if members.split(',').any(|m| m == name)
            && let Ok(id) = f[2].parse()
            && !groups.contains(&id)
        {
            groups.push(id);
        }
    }
    Ok(Ids {
        name,
        uid,
        gid,
        groups,
    })
}

fn parse_id(field: &str, spec: &str) -> Result<u32, String> {
    field
        .parse()
        .map_err(|_| format!("bad id {field:?} for user {spec:?} in the image"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nweb:x:1000:1000::/home/web:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nweb:x:1000:\nlogs:x:4:web,other\n";

    fn check(spec: &str, expect: Result<(u32, u32, &[u32]), &str>) {
        let got = resolve_in(spec, PASSWD, GROUP).map(|i| (i.uid, i.gid, i.groups));
        match expect {
            Ok((uid, gid, groups)) => assert_eq!(got, Ok((uid, gid, groups.to_vec())), "{spec}"),
            Err(part) => {
                let err = got.expect_err(spec);
                assert!(err.contains(part), "{spec}: {err}");
            }
        }
    }

    #[test]
    fn users() {
        check("root", Ok((0, 0, &[0])));
        check("nobody", Ok((65534, 65534, &[65534])));
        check("web", Ok((1000, 1000, &[1000, 4])));
        check("1000", Ok((1000, 1000, &[1000, 4])));
        check("4242", Ok((4242, 4242, &[4242])));
        check("web:logs", Ok((1000, 4, &[4])));
        check("nobody:0", Ok((65534, 0, &[0])));
        check("ghost", Err("\"ghost\" not found"));
        check("web:ghosts", Err("group \"ghosts\" not found"));
    }
}
