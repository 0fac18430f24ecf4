//! Background indexing of IndexedDbStorage's journal: the nodes a write batch wrote without
//! meta records (journal records of up to 1,000 nodes, see `idb_batch.rs`) get them once puts pause, so
//! a burst of puts costs one request per node, as plain IndexedDB code does, and the bookkeeping
//! follows when the store is idle.
//!
//! Indexing waits until no batch has committed for [`QUIET_MS`], and at most [`MAX_DELAY_MS`]
//! after the first batch it has to index. Whatever has not been indexed is indexed first by the
//! transactions that need it (eviction, delete, pin, access times, `usage()`), so the delay only
//! decides when the work is done, never what anyone sees. The background indexes one journal
//! record per transaction, so closing a connection (then deleting its database, say) never waits
//! long for it.

use std::cell::Cell;
use std::rc::Weak;

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen_futures::spawn_local;

use super::idb_lifecycle;
use super::indexeddb::{IndexedDbStorage, Inner};
use crate::error::Error;
use crate::log::warn;

/// Puts must pause this long before the journal is indexed.
pub const QUIET_MS: f64 = 250.0;
/// The journal is indexed at most this long after the first batch it holds, pause or not.
pub const MAX_DELAY_MS: f64 = 2_000.0;
/// Journal records (of up to 1,000 nodes each) indexed per background transaction.
const RECORDS_PER_TRANSACTION: u32 = 1;

/// When the batches waiting to be indexed committed.
#[derive(Debug, Default)]
pub(super) struct JournalState {
    /// An indexing task is waiting.
    scheduled: Cell<bool>,
    /// When the first batch it will index committed.
    first: Cell<f64>,
    /// When the last one did.
    last: Cell<f64>,
}

impl JournalState {
    /// Milliseconds left before indexing is due at `now` (0: due).
    fn due_in(&self, now: f64) -> f64 {
        let quiet = self.last.get() + QUIET_MS - now;
        let latest = self.first.get() + MAX_DELAY_MS - now;
        quiet.min(latest).max(0.0)
    }
}

impl IndexedDbStorage {
    /// A write batch that journaled nodes committed: schedules their indexing.
    pub(super) fn journaled(&self) {
        let journal = &self.inner.journal;
        let now = js_sys::Date::now();
        journal.last.set(now);
        if journal.scheduled.replace(true) {
            return;
        }
        journal.first.set(now);
        spawn_local(index_when_quiet(std::rc::Rc::downgrade(&self.inner)));
    }
}

/// Waits until the journal is due, then indexes it (errors are logged: the next transaction
/// that needs the index does the work again).
async fn index_when_quiet(store: Weak<Inner>) {
    loop {
        let due_in = {
            let Some(inner) = store.upgrade() else {
                return;
            };
            inner.journal.due_in(js_sys::Date::now())
        };
        if due_in <= 0.0 {
            break;
        }
        TimeoutFuture::new(due_in.ceil() as u32).await;
    }
    let Some(inner) = store.upgrade() else {
        return;
    };
    // Batches committing from now on schedule the next run.
    inner.journal.scheduled.set(false);
    let storage = IndexedDbStorage { inner };
    drop(store);
    // A record per transaction: a connection closed meanwhile waits for one record at most.
    loop {
        let indexed = match storage.database() {
            Ok(db) => idb_lifecycle::index_journal_records(&db, RECORDS_PER_TRANSACTION).await,
            Err(error) => Err(error),
        };
        match indexed {
            Ok((usage, more)) => {
                storage.update_stats(|s| s.journal_indexings += 1);
                storage.observed(usage);
                if !more {
                    return;
                }
            }
            Err(Error::Closed) => return,
            Err(error) => {
                warn(&format!(
                    "casweb: indexing the journal of {} failed: {error}",
                    storage.name()
                ));
                return;
            }
        }
    }
}
