//! Groups: the `GroupUpdate` request body (nested groups and apps with ids relative to
//! their group, `scaleBy`, `version`), its resolution into a validated subtree, and
//! `GroupInfo` for responses (never `enforceRole`: marathon-python 0.13.0 crashes on it).

use super::app::{AppDefinition, AppUpdate};
use super::app_info::AppInfo;
use super::error::{ApiErrorBody, Validation, Violations, parse_object};
use super::path_id::PathId;
use super::pod_status::PodStatus;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The body of `POST`/`PUT /v2/groups[/{id}]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupUpdate {
    pub id: Option<String>,
    pub apps: Option<Vec<AppUpdate>>,
    pub groups: Option<Vec<GroupUpdate>>,
    pub dependencies: Option<Vec<String>>,
    pub scale_by: Option<f64>,
    pub version: Option<Timestamp>,
    pub enforce_role: Option<bool>,
}

/// What a `GroupUpdate` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GroupChange {
    /// `{"version": ts}`: restore the group as of that version (wins over `scaleBy`).
    Rollback(Timestamp),
    /// `{"scaleBy": f}`: multiply the instances of every app below the group.
    ScaleBy(f64),
    /// Replace the group's content: new apps start, changed apps update, and apps left
    /// out are stopped.
    Update,
}

/// A resolved group subtree: absolute ids, normalized and validated apps.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub id: PathId,
    pub apps: Vec<AppDefinition>,
    pub groups: Vec<GroupSpec>,
    pub dependencies: Vec<PathId>,
    pub enforce_role: Option<bool>,
}

impl GroupSpec {
    /// Every app of the subtree, depth first.
    pub fn all_apps(&self) -> Vec<&AppDefinition> {
        let mut out: Vec<&AppDefinition> = self.apps.iter().collect();
        for g in &self.groups {
            out.extend(g.all_apps());
        }
        out
    }
}

/// Parses a group body.
pub fn parse_group_update(bytes: &[u8]) -> Result<GroupUpdate, ApiErrorBody> {
    parse_object(bytes)
}

impl GroupUpdate {
    pub fn change(&self) -> GroupChange {
        match (self.version, self.scale_by) {
            (Some(v), _) => GroupChange::Rollback(v),
            (None, Some(f)) => GroupChange::ScaleBy(f),
            (None, None) => GroupChange::Update,
        }
    }

    /// The group's absolute id: the body's `id` resolved against `base` (the URL's
    /// group), or `base` itself.
    pub fn group_id(&self, base: &PathId) -> PathId {
        self.id.as_deref().map_or_else(
            || base.clone(),
            |id| PathId::parse_unchecked(id).canonical(base),
        )
    }

    /// Resolves the body for the group at `base` into a validated subtree. Nested group
    /// and app ids resolve against their enclosing group and must be its direct children;
    /// ids must be unique across groups and apps.
    pub fn resolve(&self, base: &PathId) -> Result<GroupSpec, Validation> {
        let mut v = Violations::default();
        let id = self.group_id(base);
        if let Some(Err(e)) = self.id.as_deref().map(PathId::parse) {
            v.add("/id", e.to_string());
        }
        let spec = self.resolve_in(id, &mut v);
        let mut seen = BTreeSet::new();
        if !unique_ids(&spec, &mut seen) {
            v.add(
                "/",
                "Groups and Applications may not have the same identifier.",
            );
        }
        v.finish(spec)
    }

    fn resolve_in(&self, id: PathId, v: &mut Violations) -> GroupSpec {
        let mut apps = Vec::new();
        for (i, app) in self.apps.iter().flatten().enumerate() {
            let nested = match AppDefinition::create(app.clone(), &id) {
                Ok(a) => {
                    let mut nested = Violations::default();
                    let not_child = format!("Identifier is not child of '{id}'");
                    nested.check(a.id.is_child_of(&id), "/id", not_child);
                    apps.push(a);
                    nested
                }
                Err(e) => Violations::from(e),
            };
            v.nest(&format!("/apps({i})"), nested);
        }
        let mut groups = Vec::new();
        for (i, g) in self.groups.iter().flatten().enumerate() {
            let path = format!("/groups({i})");
            let child = g.group_id(&id);
            match g.id.as_deref().map(PathId::parse) {
                None => v.add(&format!("{path}/id"), "error.path.missing"),
                Some(Err(e)) => v.add(&format!("{path}/id"), e.to_string()),
                Some(Ok(_)) => v.check(
                    child.is_child_of(&id),
                    &format!("{path}/id"),
                    format!("Identifier is not child of '{id}'"),
                ),
            }
            let mut nested = Violations::default();
            groups.push(g.resolve_in(child, &mut nested));
            v.nest(&path, nested);
        }
        for (i, dep) in self.dependencies.iter().flatten().enumerate() {
            if let Err(e) = PathId::parse(dep) {
                v.add(&format!("/dependencies({i})"), e.to_string());
            }
        }
        let dependencies = self
            .dependencies
            .iter()
            .flatten()
            .map(|d| PathId::parse_unchecked(d).canonical(&id))
            .collect();
        GroupSpec {
            id,
            apps,
            groups,
            dependencies,
            enforce_role: self.enforce_role,
        }
    }
}

fn unique_ids(spec: &GroupSpec, seen: &mut BTreeSet<PathId>) -> bool {
    let mut ok = true;
    for id in spec
        .apps
        .iter()
        .map(|a| a.id.clone())
        .chain(spec.groups.iter().map(|g| g.id.clone()))
    {
        ok &= seen.insert(id);
    }
    spec.groups
        .iter()
        .fold(ok, |acc, g| unique_ids(g, seen) && acc)
}

/// A group in a response. `apps`, `groups` and `pods` are present when embedded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    pub id: PathId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<AppInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<PodStatus>>,
    pub dependencies: Vec<PathId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Timestamp>,
}
