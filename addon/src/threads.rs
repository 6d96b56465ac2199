//! Threads for long transfers (sendfile to a slow child, a receive from a slow parent), kept for
//! reuse: a piece server sends hundreds of pieces a second, and starting a thread for each cost
//! more CPU than the bytes it moved. An idle thread waits IDLE_EXIT for the next job, then ends;
//! there is no upper bound on threads, as each job may block for as long as its peer is slow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// A job's work; what it returns runs once the thread is idle again, so that a caller told of the
/// result (a thread-safe call to JS) and starting the next transfer at once finds this thread free.
pub type Job = Box<dyn FnOnce() -> Done + Send>;
pub type Done = Box<dyn FnOnce() + Send>;

const IDLE_EXIT: Duration = Duration::from_secs(10);
const STACK_SIZE: usize = 256 << 10;

pub struct Pool {
    idle_exit: Duration,
    /// Each idle thread's mailbox, most recently idle last. A job is sent only with this lock
    /// held, so a thread that finds its mailbox gone from here (under the lock) has a job waiting.
    idle: Mutex<Vec<(u64, Sender<Job>)>>,
    next_id: AtomicU64,
}

impl Pool {
    pub fn new(idle_exit: Duration) -> Arc<Pool> {
        Arc::new(Pool { idle_exit, idle: Mutex::new(Vec::new()), next_id: AtomicU64::new(0) })
    }

    /// Runs `job` on an idle thread, or on a new one when none is idle.
    pub fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let mut idle = self.lock();
        if let Some((_, mailbox)) = idle.pop() {
            // The thread removes its own mailbox before it ends, and cannot while we hold the lock.
            let _ = mailbox.send(job);
            return Ok(());
        }
        drop(idle);
        let pool = Arc::clone(self);
        std::thread::Builder::new().name("df-transfer".into()).stack_size(STACK_SIZE).spawn(move || pool.work(job))?;
        Ok(())
    }

    /// Idle threads now (for tests).
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Sender<Job>)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work(&self, first: Job) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (mailbox, jobs) = channel();
        let mut job = first;
        loop {
            let done = job();
            self.lock().push((id, mailbox.clone()));
            done();
            job = match self.next(id, &jobs) {
                Some(next) => next,
                None => return,
            };
        }
    }

    /// The next job, or None when none came for idle_exit (the mailbox is then withdrawn).
    fn next(&self, id: u64, jobs: &Receiver<Job>) -> Option<Job> {
        match jobs.recv_timeout(self.idle_exit) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let mut idle = self.lock();
                match idle.iter().position(|(other, _)| *other == id) {
                    Some(at) => {
                        idle.remove(at);
                        None
                    }
                    // Taken by run() just as the wait ended: its job is already in the mailbox.
                    None => jobs.try_recv().ok(),
                }
            }
        }
    }
}

/// The process's pool for transfers.
pub fn transfers() -> &'static Arc<Pool> {
    static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(IDLE_EXIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::mpsc::sync_channel;
    use std::time::Instant;

    fn thread_of(pool: &Arc<Pool>) -> std::thread::ThreadId {
        let (tx, rx) = sync_channel(1);
        pool.run(Box::new(move || {
            let id = std::thread::current().id();
            Box::new(move || tx.send(id).unwrap())
        }))
        .unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    fn wait_idle(pool: &Arc<Pool>, want: usize) {
        let until = Instant::now() + Duration::from_secs(5);
        while pool.idle() != want {
            assert!(Instant::now() < until, "idle threads stayed {} (want {want})", pool.idle());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn one_job_after_another_reuses_one_thread() {
        let pool = Pool::new(Duration::from_secs(30));
        let mut seen = HashSet::new();
        for _ in 0..20 {
            seen.insert(thread_of(&pool));
            // Free before the job's result was told, so the next job needs no new thread.
            assert_eq!(pool.idle(), 1);
        }
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn jobs_that_block_each_get_a_thread() {
        let pool = Pool::new(Duration::from_secs(30));
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let (tx, rx) = channel();
        for _ in 0..4 {
            let (gate, tx) = (Arc::clone(&gate), tx.clone());
            pool.run(Box::new(move || {
                tx.send(std::thread::current().id()).unwrap();
                drop(gate.lock().unwrap());
                Box::new(|| {})
            }))
            .unwrap();
        }
        // All four started although none has finished: none waited behind another.
        let ids: HashSet<_> = (0..4).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(ids.len(), 4);
        drop(held);
        wait_idle(&pool, 4);
    }

    #[test]
    fn idle_threads_end_after_the_idle_time_and_new_jobs_still_run() {
        let pool = Pool::new(Duration::from_millis(30));
        thread_of(&pool);
        wait_idle(&pool, 1);
        wait_idle(&pool, 0);
        let (tx, rx) = sync_channel(1);
        pool.run(Box::new(move || Box::new(move || tx.send(7).unwrap()))).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    }
}
