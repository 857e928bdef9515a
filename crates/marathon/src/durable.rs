//! API writes are answered only once durable, without a lock held across the commit: a
//! write path submits its transaction under the state lock ([`Writes::commit`] →
//! [`park`]), which fixes its place in the store's order, and the API's layer
//! (`api::answer_when_durable`) runs the request in [`collect`] and waits for every
//! transaction of the request on the blocking pool ([`wait_all`]) after the handler has
//! returned and released its locks. Reads meanwhile go on, and concurrent writers share
//! the store's group commits.
//!
//! [`Writes::commit`]: crate::state::Writes::commit

use crate::Marathon;
use crate::error::MarathonError;
use keel_store::{Store, Ticket};
use std::cell::RefCell;
use std::sync::Arc;

tokio::task_local! {
    /// The transactions the current request submitted, in order.
    static SUBMITTED: RefCell<Vec<Ticket>>;
}

/// Leaves `ticket` to the request's layer to wait for; outside a request (the scheduler)
/// waits for it now.
pub(crate) fn park(store: &dyn Store, ticket: Ticket) -> Result<(), MarathonError> {
    match SUBMITTED.try_with(|s| s.borrow_mut().push(ticket)) {
        Ok(()) => Ok(()),
        Err(_) => store.wait(ticket).map(|_| ()).map_err(MarathonError::from),
    }
}

/// Runs `work` (a request), collecting the transactions it submits.
pub(crate) async fn collect<T>(work: impl Future<Output = T>) -> (T, Vec<Ticket>) {
    SUBMITTED
        .scope(RefCell::new(Vec::new()), async move {
            let out = work.await;
            (out, SUBMITTED.with(|s| s.take()))
        })
        .await
}

/// Waits until every one of `tickets` is durable. If a commit failed, the in-memory state
/// is recovered from the store and the error is [`MarathonError::NotDurable`].
pub(crate) async fn wait_all(m: &Marathon, tickets: Vec<Ticket>) -> Result<(), MarathonError> {
    if tickets.is_empty() {
        return Ok(());
    }
    let store: Arc<dyn Store> = m.inner.store.clone();
    // Every ticket is waited for, also after a failure.
    let waited = tokio::task::spawn_blocking(move || {
        let mut first_error = Ok(());
        for t in tickets {
            if let Err(e) = store.wait(t) {
                first_error = first_error.and(Err(e));
            }
        }
        first_error
    })
    .await;
    let reason = match waited {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    let e = MarathonError::NotDurable { reason };
    tracing::error!("{e}; recovering marathon's state from the store");
    if let Err(e) = m.reelect() {
        tracing::error!("recovering marathon's state: {e}");
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_store::{GatedStore, MemStore};
    use std::sync::Arc;
    use std::time::Duration;

    async fn serve(store: Arc<GatedStore>) -> (String, Marathon) {
        let clock: Arc<dyn keel_clock::Clock> = Arc::new(keel_clock::SystemClock::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = keel_master::MasterConfig::new(addr);
        let master = keel_master::Master::open(store, clock, config).unwrap();
        let m = Marathon::open(&master).unwrap();
        let router = m.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (format!("http://{addr}"), m)
    }

    fn app(id: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": 0})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_answered_once_durable_and_reads_do_not_wait_for_its_commit() {
        let store = Arc::new(GatedStore::new(MemStore::new(Arc::new(
            keel_clock::SystemClock::new(),
        ))));
        let (url, _m) = serve(store.clone()).await;
        let http = reqwest::Client::new();
        store.set_open(false);
        let before = store.submitted();
        let post = tokio::spawn({
            let http = http.clone();
            let url = url.clone();
            async move {
                http.post(format!("{url}/v2/apps"))
                    .json(&app("/slow"))
                    .send()
                    .await
            }
        });
        for _ in 0..10_000 {
            if store.submitted() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The disk is stuck: the read is answered anyway (from memory), the write is not.
        let get = tokio::time::timeout(
            Duration::from_secs(20),
            http.get(format!("{url}/v2/apps")).send(),
        )
        .await;
        let answered_early = post.is_finished();
        store.set_open(true);
        let get = get.expect("a read waited behind a commit").unwrap();
        assert_eq!(get.status(), 200);
        assert!(!answered_early, "answered before its commit was durable");
        let posted = post.await.unwrap().unwrap();
        assert_eq!(posted.status(), 201);
        assert!(
            store
                .get(&format!("{}/slow", crate::state::APPS))
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_posts_each_commit_once_and_all_are_durable() {
        let store = Arc::new(GatedStore::new(MemStore::new(Arc::new(
            keel_clock::SystemClock::new(),
        ))));
        let (url, _m) = serve(store.clone()).await;
        let http = reqwest::Client::new();
        let rev = store.revision().unwrap();
        let posts: Vec<_> = (0..16)
            .map(|i| {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    let r = http
                        .post(format!("{url}/v2/apps"))
                        .json(&app(&format!("/c/app-{i}")));
                    r.send().await.unwrap().status()
                })
            })
            .collect();
        for p in posts {
            assert_eq!(p.await.unwrap(), 201);
        }
        assert_eq!(
            store
                .list(&format!("{}/c/", crate::state::APPS))
                .unwrap()
                .len(),
            16
        );
        // One transaction per POST (definition, version and deployment together); the
        // scheduler may add its own, but with no instances to launch it writes nothing.
        assert_eq!(store.revision().unwrap() - rev, 16, "one revision per POST");
    }
}
