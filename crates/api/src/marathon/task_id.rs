//! Mesos task ids of Marathon run specs. Keel mints `prod_web.instance-<uuid>._app.<n>`;
//! parsing also accepts Marathon's older forms (`prod_web.<uuid>`, `prod_web_<uuid>`,
//! `prod_web.<uuid>.<n>`, `prod_web.marathon-<uuid>._app`) because `POST /v2/tasks/delete`
//! finds the app from the task id alone. The app path is the `safePath` (`/` as `_`); ids
//! cannot contain `_`, so the mapping back is unambiguous.

use super::path_id::PathId;
use regex::Regex;
use std::fmt;
use std::sync::LazyLock;
use uuid::Uuid;

/// The container name Marathon puts in the task ids of apps (pods use the container name).
pub const APP_CONTAINER: &str = "_app";

static WITH_INCARNATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)\.(\d+)$").expect("static regex")
});
static WITH_INSTANCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)$").expect("static regex")
});
static RESIDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)([._])([^_.]+)(\.)(\d+)$").expect("static regex"));
static LEGACY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)([._])([^_.]+)$").expect("static regex"));
static INSTANCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\.(instance-|marathon-)([^.]+)$").expect("static regex"));

/// A task id (or instance id) that fits none of Marathon's formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTaskId(pub String);

impl fmt::Display for InvalidTaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid task id '{}'", self.0)
    }
}

impl std::error::Error for InvalidTaskId {}

/// The instance id of a new-style instance: `prod_web.instance-<uuid>`.
pub fn instance_id(run_spec: &PathId, instance: Uuid) -> String {
    format!("{}.instance-{}", run_spec.safe_path(), instance)
}

/// The task id of an app task: `prod_web.instance-<uuid>._app.<incarnation>`.
pub fn mint(app: &PathId, instance: Uuid, incarnation: u64) -> String {
    format!(
        "{}.{APP_CONTAINER}.{incarnation}",
        instance_id(app, instance)
    )
}

/// The task id of one container of a pod instance: `pod.instance-<uuid>.<container>.<n>`.
pub fn mint_pod_task(pod: &PathId, instance: Uuid, container: &str, incarnation: u64) -> String {
    format!("{}.{container}.{incarnation}", instance_id(pod, instance))
}

/// Splits a task id into the run spec's id and the instance id (for the old formats
/// without an instance, Marathon's derived `prod_web.marathon-<uuid>`).
pub fn parse(task_id: &str) -> Result<(PathId, String), InvalidTaskId> {
    let invalid = || InvalidTaskId(task_id.to_owned());
    let caps = WITH_INCARNATION
        .captures(task_id)
        .or_else(|| WITH_INSTANCE.captures(task_id))
        .map(|c| (c, true))
        .or_else(|| RESIDENT.captures(task_id).map(|c| (c, false)))
        .or_else(|| LEGACY.captures(task_id).map(|c| (c, false)));
    let (caps, has_instance) = caps.ok_or_else(invalid)?;
    let safe = &caps[1];
    let uuid = Uuid::parse_str(&caps[3]).map_err(|_| invalid())?;
    let run_spec = PathId::from_safe_path(safe);
    if run_spec.is_root() {
        return Err(invalid());
    }
    let prefix = if has_instance { &caps[2] } else { "marathon-" };
    Ok((run_spec, format!("{safe}.{prefix}{uuid}")))
}

/// Splits an instance id (`prod_web.instance-<uuid>`) into the run spec's id and its uuid.
pub fn parse_instance_id(instance_id: &str) -> Result<(PathId, Uuid), InvalidTaskId> {
    let invalid = || InvalidTaskId(instance_id.to_owned());
    let caps = INSTANCE.captures(instance_id).ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(&caps[3]).map_err(|_| invalid())?;
    let run_spec = PathId::from_safe_path(&caps[1]);
    if run_spec.is_root() {
        return Err(invalid());
    }
    Ok((run_spec, uuid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    const U: &str = "b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6";

    fn check(task_id: &str, expect: Expect) {
        let out = match parse(task_id) {
            Ok((app, instance)) => format!("{app} {instance}"),
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&out);
    }

    #[test]
    fn mint_and_parse_round_trip() {
        let app = PathId::parse("/prod/web").unwrap();
        let uuid = Uuid::parse_str(U).unwrap();
        let id = mint(&app, uuid, 3);
        assert_eq!(id, format!("prod_web.instance-{U}._app.3"));
        assert_eq!(
            parse(&id).unwrap(),
            (app.clone(), format!("prod_web.instance-{U}"))
        );
        let pod_task = mint_pod_task(&app, uuid, "rails", 1);
        assert_eq!(parse(&pod_task).unwrap().1, instance_id(&app, uuid));
        assert_eq!(
            parse_instance_id(&instance_id(&app, uuid)).unwrap(),
            (app, uuid)
        );
    }

    #[test]
    fn parses_every_marathon_format() {
        check(
            &format!("my-group_my-app.instance-{U}._app.1"),
            expect![
                "/my-group/my-app my-group_my-app.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"
            ],
        );
        check(
            &format!("g_app.marathon-{U}._app.2"),
            expect!["/g/app g_app.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
        check(
            &format!("g_app.instance-{U}._app"),
            expect!["/g/app g_app.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
        check(
            &format!("g_app.marathon-{U}.rails"),
            expect!["/g/app g_app.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
        check(
            &format!("prod_web.{U}"),
            expect!["/prod/web prod_web.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
        check(
            &format!("prod_web_{U}"),
            expect!["/prod/web prod_web.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
        check(
            &format!("a.b_web.{U}.42"),
            expect!["/a.b/web a.b_web.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6"],
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        check("garbage", expect!["Invalid task id 'garbage'"]);
        check(
            "web.not-a-uuid",
            expect!["Invalid task id 'web.not-a-uuid'"],
        );
        assert_eq!(parse(&format!(".{U}")), Err(InvalidTaskId(format!(".{U}"))));
        check("", expect!["Invalid task id ''"]);
        assert!(parse_instance_id("web").is_err());
    }
}
