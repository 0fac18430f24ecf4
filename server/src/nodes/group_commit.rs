//! Group commit: one thread owns all write transactions and folds the writes that queue up
//! while it commits into the next transaction.
//!
//! redb allows one writer at a time and every commit is an fsync, so committing each request
//! on its own would cap throughput at the disk's fsync rate. Here a request's writes wait in a
//! channel; the writer thread takes everything queued (up to a bound), commits it in one durable
//! transaction and only then answers each request. A success therefore still means "committed".

use std::sync::Arc;
use std::thread;

use tokio::sync::{mpsc, oneshot};

use super::{StoreError, Write};

/// Most writes folded into one transaction.
const MAX_GROUP_WRITES: usize = 4096;
/// Most node bytes folded into one transaction.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;
/// Requests that may wait for the writer before senders are slowed down.
const QUEUE_LEN: usize = 1024;

/// Commits writes in one durable transaction; per write, whether the realm became an owner.
type Commit = dyn FnMut(&[Write]) -> Result<Vec<bool>, StoreError> + Send;

struct Job {
    writes: Vec<Write>,
    reply: oneshot::Sender<Result<Vec<bool>, Arc<StoreError>>>,
}

/// Handle to the writer thread; cheap to clone. The thread ends when every handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread around `commit`.
    pub fn start(
        commit: impl FnMut(&[Write]) -> Result<Vec<bool>, StoreError> + Send + 'static,
    ) -> std::io::Result<GroupCommit> {
        let (jobs, receiver) = mpsc::channel(QUEUE_LEN);
        let commit: Box<Commit> = Box::new(commit);
        thread::Builder::new()
            .name("casweb-writer".into())
            .spawn(move || run(commit, receiver))?;
        Ok(GroupCommit { jobs })
    }

    /// Commits `writes` durably (together with whatever else is queued). Returns, per write,
    /// whether the realm became an owner.
    pub async fn write(&self, writes: Vec<Write>) -> Result<Vec<bool>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { writes, reply })
            .await
            .map_err(|_| StoreError::new("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the writer thread dropped a request"))?
            .map_err(|shared| StoreError::new(shared.to_string()))
    }
}

fn run(mut commit: Box<Commit>, mut receiver: mpsc::Receiver<Job>) {
    while let Some(first) = receiver.blocking_recv() {
        let mut group = vec![first];
        let mut writes = group[0].writes.len();
        let mut bytes = group_bytes(&group[0]);
        while writes < MAX_GROUP_WRITES && bytes < MAX_GROUP_BYTES {
            match receiver.try_recv() {
                Ok(job) => {
                    writes += job.writes.len();
                    bytes += group_bytes(&job);
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        answer(group, &mut commit);
    }
}

fn group_bytes(job: &Job) -> usize {
    job.writes
        .iter()
        .map(|w| w.bytes.as_ref().map_or(0, |b| b.len()))
        .sum()
}

fn answer(group: Vec<Job>, commit: &mut Box<Commit>) {
    let all: Vec<Write> = group.iter().flat_map(|job| job.writes.clone()).collect();
    match commit(&all) {
        Ok(newly_owned) => {
            let mut rest = newly_owned.as_slice();
            for job in group {
                let (mine, others) = rest.split_at(job.writes.len().min(rest.len()));
                rest = others;
                // The requester may have gone away; nothing to do then.
                let _ = job.reply.send(Ok(mine.to_vec()));
            }
        }
        Err(error) => {
            let shared = Arc::new(error);
            for job in group {
                let _ = job.reply.send(Err(shared.clone()));
            }
        }
    }
}
