//! An async block as a `Stream`: the block hands each item to an [`Emitter`] and waits there
//! until the stream's consumer has taken it, so producing never runs ahead of consuming. The
//! block's error, if any, is the stream's last item. Dropping the stream drops the block.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::Stream;

use crate::error::Result;

/// The producing side: where the block puts items.
pub(super) struct Emitter<T> {
    slot: Rc<RefCell<Option<T>>>,
}

impl<T> Emitter<T> {
    /// Hands `item` to the consumer; resolves once the consumer has taken it.
    pub async fn emit(&self, item: T) {
        let previous = self.slot.borrow_mut().replace(item);
        debug_assert!(previous.is_none(), "one item at a time");
        // No waker to register: the stream returns the item at once and polls the block again
        // when asked for the next one.
        poll_fn(|_| {
            if self.slot.borrow().is_some() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }
}

/// A stream of the items an async block emits, then its error if it fails.
pub(super) struct Generated<T, F> {
    slot: Rc<RefCell<Option<T>>>,
    /// `None` once the block has finished.
    block: Option<Pin<Box<F>>>,
}

/// Runs `body` as a stream: the items it emits, then its error if it returns one.
pub(super) fn generate<T, F>(body: impl FnOnce(Emitter<T>) -> F) -> Generated<T, F>
where
    F: Future<Output = Result<()>>,
{
    let slot = Rc::new(RefCell::new(None));
    let block = body(Emitter { slot: slot.clone() });
    Generated {
        slot,
        block: Some(Box::pin(block)),
    }
}

impl<T, F: Future<Output = Result<()>>> Stream for Generated<T, F> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        let Some(block) = this.block.as_mut() else {
            return Poll::Ready(None);
        };
        let finished = block.as_mut().poll(cx);
        if let Some(item) = this.slot.borrow_mut().take() {
            return Poll::Ready(Some(Ok(item)));
        }
        match finished {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                this.block = None;
                Poll::Ready(result.err().map(Err))
            }
        }
    }
}
