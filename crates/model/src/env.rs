//! The rule that turns a name (a port's, a label's) into part of an environment variable
//! name, as Mesos and Marathon do: `PORT_<NAME>`, `ENDPOINT_<NAME>`, `MARATHON_APP_LABEL_<NAME>`.

/// `my-port.1` → `MY_PORT_1`: ASCII letters and digits upper-cased, anything else `_`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::env_name;

    #[test]
    fn names_become_upper_case_with_underscores() {
        assert_eq!(env_name("my-port.1"), "MY_PORT_1");
        assert_eq!(env_name("Web"), "WEB");
        assert_eq!(env_name("é x"), "__X");
        assert_eq!(env_name(""), "");
    }
}
