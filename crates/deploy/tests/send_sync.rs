//! The public decision types can move between threads (the service holds them behind
//! locks and hands them to its tasks).

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<keel_deploy::DeploymentPlan>();
    check::<keel_deploy::Instance>();
    check::<keel_deploy::Progress>();
    check::<keel_deploy::Reconcile>();
    check::<keel_deploy::BackoffState>();
    check::<keel_deploy::DeployError>();
}
