//! Group commit: writers that arrive while a durable commit is under way queue up, and the
//! first of them to find the committer's seat free commits them all together in the next
//! one. Each writer is answered with its own result once that commit is done, so a burst of
//! concurrent writers costs a few fsyncs instead of one each. No thread of its own: the
//! committer is always one of the waiting writers (leader/follower).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Most jobs one commit takes (bounds how long one commit holds the store).
const MAX_GROUP: usize = 512;

/// A queue of jobs `J` committed in groups, each answered with an `R`.
pub(crate) struct CommitQueue<J, R> {
    state: Mutex<QueueState<J, R>>,
    turn: Condvar,
}

struct QueueState<J, R> {
    next_ticket: u64,
    pending: Vec<(u64, J)>,
    done: HashMap<u64, R>,
    committing: bool,
}

impl<J, R> Default for CommitQueue<J, R> {
    fn default() -> Self {
        Self {
            state: Mutex::new(QueueState {
                next_ticket: 0,
                pending: Vec::new(),
                done: HashMap::new(),
                committing: false,
            }),
            turn: Condvar::new(),
        }
    }
}

impl<J, R> CommitQueue<J, R> {
    fn lock(&self) -> MutexGuard<'_, QueueState<J, R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` and returns its result once the commit that took it is done.
    /// `commit` runs a group in queue order and returns one result per job, in that order;
    /// `abandoned` answers the jobs of a group whose `commit` panicked.
    pub(crate) fn submit(
        &self,
        job: J,
        commit: impl Fn(Vec<J>) -> Vec<R>,
        abandoned: impl Fn() -> R,
    ) -> R {
        let ticket = self.enqueue(job);
        self.wait(ticket, commit, abandoned)
    }

    /// Queues `job` behind every job queued before it; returns its ticket for [`Self::wait`].
    pub(crate) fn enqueue(&self, job: J) -> u64 {
        let mut q = self.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push((ticket, job));
        ticket
    }

    /// The result of the job with `ticket`, committing groups (this one's and those queued
    /// before it) whenever the committer's seat is free.
    pub(crate) fn wait(
        &self,
        ticket: u64,
        commit: impl Fn(Vec<J>) -> Vec<R>,
        abandoned: impl Fn() -> R,
    ) -> R {
        let mut q = self.lock();
        loop {
            if let Some(r) = q.done.remove(&ticket) {
                return r;
            }
            if !q.pending.iter().any(|(t, _)| *t == ticket) && !q.committing {
                // Never queued (or already answered and taken): nothing will answer it.
                return abandoned();
            }
            if q.committing {
                q = self.turn.wait(q).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            q.committing = true;
            let take = q.pending.len().min(MAX_GROUP);
            let (tickets, jobs): (Vec<u64>, Vec<J>) = q.pending.drain(..take).unzip();
            drop(q);
            let mut seat = Seat {
                queue: self,
                tickets,
                results: None,
                abandoned: &abandoned,
            };
            seat.results = Some(commit(jobs));
            drop(seat);
            q = self.lock();
        }
    }

    /// Whether a group is being committed.
    #[cfg(test)]
    pub(crate) fn committing(&self) -> bool {
        self.lock().committing
    }

    /// Jobs waiting for a commit (not those being committed).
    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.lock().pending.len()
    }
}

/// The committer's seat: on leaving it (also by panic), hands out the group's results,
/// frees the seat and wakes the waiters.
struct Seat<'a, J, R> {
    queue: &'a CommitQueue<J, R>,
    tickets: Vec<u64>,
    results: Option<Vec<R>>,
    abandoned: &'a dyn Fn() -> R,
}

impl<J, R> Drop for Seat<'_, J, R> {
    fn drop(&mut self) {
        let mut results = self.results.take().unwrap_or_default().into_iter();
        let mut q = self.queue.lock();
        for &ticket in &self.tickets {
            let r = results.next().unwrap_or_else(self.abandoned);
            q.done.insert(ticket, r);
        }
        q.committing = false;
        drop(q);
        self.queue.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_job_gets_its_own_result_and_groups_form_while_one_commits() {
        let q = CommitQueue::<usize, usize>::default();
        let commits = AtomicUsize::new(0);
        let gate = Mutex::new(());
        let held = gate.lock().unwrap();
        let commit = |jobs: Vec<usize>| {
            let _g = gate.lock().unwrap();
            commits.fetch_add(1, Ordering::SeqCst);
            jobs.into_iter().map(|j| j * 10).collect()
        };
        std::thread::scope(|s| {
            let first = s.spawn(|| q.submit(0, commit, || usize::MAX));
            // The first job is being committed (blocked on the gate) once the queue is empty.
            wait_until(|| q.committing());
            let rest: Vec<_> = (1..=20)
                .map(|j| {
                    let commit = &commit;
                    let q = &q;
                    s.spawn(move || q.submit(j, commit, || usize::MAX))
                })
                .collect();
            wait_until(|| q.pending_len() == 20);
            drop(held);
            assert_eq!(first.join().unwrap(), 0);
            for (j, h) in (1..=20).zip(rest) {
                assert_eq!(h.join().unwrap(), j * 10, "job {j} got its own result");
            }
        });
        assert_eq!(
            commits.load(Ordering::SeqCst),
            2,
            "the 20 waiters shared one commit"
        );
    }

    #[test]
    fn a_panicking_commit_answers_its_group_and_frees_the_seat() {
        let q = CommitQueue::<usize, usize>::default();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            q.submit(1, |_| panic!("disk on fire"), || 99)
        }));
        assert!(r.is_err(), "the committer's own panic propagates");
        assert_eq!(q.lock().done.remove(&0), Some(99));
        assert_eq!(
            q.submit(2, |jobs| jobs, || 99),
            2,
            "the next writer commits"
        );
    }

    fn wait_until(cond: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if cond() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("condition not reached");
    }
}
