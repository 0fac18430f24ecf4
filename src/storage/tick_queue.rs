//! The calls of one tick, collected into one batch: the first call of a tick schedules the batch
//! (a task that runs once the tick is over), later calls of the same tick join it, and each call
//! waits for its own answer. `IndexedDbStorage` serves a tick's gets with one transaction this
//! way, `HttpStorage` with one many-nodes get.

use std::cell::RefCell;

use futures::channel::oneshot;

/// A request (`K`) and where its answer (`V`) goes.
pub(crate) type Waiting<K, V> = (K, oneshot::Sender<V>);

/// Requests waiting for this tick's batch, and whether the batch is scheduled.
pub(crate) struct TickQueue<K, V> {
    waiting: RefCell<(Vec<Waiting<K, V>>, bool)>,
}

impl<K, V> Default for TickQueue<K, V> {
    fn default() -> Self {
        TickQueue {
            waiting: RefCell::new((Vec::new(), false)),
        }
    }
}

impl<K, V> TickQueue<K, V> {
    /// Adds a request. Returns where its answer will come, and `true` if this is the tick's
    /// first request: the caller must then schedule the batch (which calls [`Self::take`]).
    pub fn join(&self, request: K) -> (oneshot::Receiver<V>, bool) {
        let (answer, receiver) = oneshot::channel();
        let mut waiting = self.waiting.borrow_mut();
        waiting.0.push((request, answer));
        let first = !std::mem::replace(&mut waiting.1, true);
        (receiver, first)
    }

    /// Takes the tick's requests: a request made from now on starts the next batch.
    pub fn take(&self) -> Vec<Waiting<K, V>> {
        let mut waiting = self.waiting.borrow_mut();
        waiting.1 = false;
        std::mem::take(&mut waiting.0)
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn the_first_call_of_a_batch_schedules_it() {
        let queue: TickQueue<u8, u8> = TickQueue::default();
        let (first, schedule) = queue.join(1);
        assert!(schedule);
        let (second, schedule) = queue.join(2);
        assert!(!schedule);
        let batch = queue.take();
        assert_eq!(batch.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
        let (_, schedule) = queue.join(3);
        assert!(schedule, "a new batch after take");
        for (key, answer) in batch {
            let _ = answer.send(key * 10);
        }
        assert_eq!(block_on(first), Ok(10));
        assert_eq!(block_on(second), Ok(20));
    }
}
