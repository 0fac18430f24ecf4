//! Progress of a streaming store or read, reported to a callback whenever it changes.

/// How far a [`store_stream`](super::store_stream) or [`read_stream`](super::read_stream) got.
/// Both counts only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Store: input bytes taken from the stream. Read: bytes emitted.
    pub bytes: u64,
    /// Store: the length the caller announced, if any. Read: the range's length.
    pub total_bytes: Option<u64>,
    /// Store: nodes put so far (a node repeated in the file counts each time). Read: nodes
    /// fetched so far.
    pub nodes: u64,
}

/// Calls the callback with the current [`Progress`] when it differs from the last one reported.
pub(super) struct Reporter<F> {
    callback: F,
    reported: Option<Progress>,
}

impl<F: FnMut(Progress)> Reporter<F> {
    pub fn new(callback: F) -> Reporter<F> {
        Reporter {
            callback,
            reported: None,
        }
    }

    pub fn report(&mut self, progress: Progress) {
        if self.reported != Some(progress) {
            self.reported = Some(progress);
            (self.callback)(progress);
        }
    }
}
