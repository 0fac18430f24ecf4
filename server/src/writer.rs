//! Group commit: one thread owns all write transactions and folds the writes that queue up
//! while it commits into the next transaction.
//!
//! redb allows one writer at a time and every commit is an fsync, so committing each request
//! on its own would cap throughput at the disk's fsync rate. Here a request's writes wait in a
//! channel; the writer thread takes everything queued (up to a bound), commits it in one durable
//! transaction and only then answers each request. A 200 therefore still means "committed".

use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::store::{Store, Write};

/// Most writes folded into one transaction.
const MAX_GROUP_WRITES: usize = 4096;
/// Most node bytes folded into one transaction.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;
/// Requests that may wait for the writer before senders are slowed down.
const QUEUE_LEN: usize = 1024;

struct Job {
    writes: Vec<Write>,
    reply: oneshot::Sender<Result<Vec<bool>, String>>,
}

/// Handle to the writer thread; cheap to clone. The thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store) -> std::io::Result<Writer> {
        let (jobs, receiver) = mpsc::channel(QUEUE_LEN);
        thread::Builder::new()
            .name("casweb-writer".into())
            .spawn(move || run(store, receiver))?;
        Ok(Writer { jobs })
    }

    /// Commits `writes` durably (together with whatever else is queued). Returns, per write,
    /// whether the realm became an owner.
    pub async fn write(&self, writes: Vec<Write>) -> Result<Vec<bool>, ApiError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { writes, reply })
            .await
            .map_err(|_| ApiError::internal("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the writer thread dropped a request"))?
            .map_err(|e| ApiError::internal(format!("database write: {e}")))
    }
}

fn run(store: Store, mut receiver: mpsc::Receiver<Job>) {
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
        commit(&store, group);
    }
}

fn group_bytes(job: &Job) -> usize {
    job.writes
        .iter()
        .map(|w| w.bytes.as_ref().map_or(0, |b| b.len()))
        .sum()
}

fn commit(store: &Store, group: Vec<Job>) {
    let all: Vec<Write> = group.iter().flat_map(|job| job.writes.clone()).collect();
    match store.apply(&all) {
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
            let message = error.to_string();
            for job in group {
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
}
