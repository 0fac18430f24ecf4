//! A WebSocket connection whose `flush` returns at once.
//!
//! The libp2p WebSocket transport for browsers answers `poll_flush` with `Pending` until the
//! socket's `bufferedAmount` is 0 and notices that with a 100 ms interval timer, so every flush
//! (yamux flushes after each frame it writes) can add up to 100 ms to a request. Data handed to
//! `WebSocket.send` is already queued by the browser, which sends it as fast as it can; waiting for
//! the queue to drain promises nothing more. This wrapper keeps writes (and their backpressure:
//! the transport refuses writes while its buffer is full) and reads as they are, and completes
//! flushes immediately. See docs/p2p.md for the measured difference.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};

/// Wraps a connection; see the module documentation.
pub struct PromptFlush<C>(pub C);

impl<C: AsyncRead + Unpin> AsyncRead for PromptFlush<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<C: AsyncWrite + Unpin> AsyncWrite for PromptFlush<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
