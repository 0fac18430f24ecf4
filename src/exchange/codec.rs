//! [`BlockCodec`]: `/casweb/block/1.0.0` messages on a libp2p stream. Each side writes its
//! message whole and closes its half of the stream; the reader reads at most one byte beyond
//! the limit, so a peer cannot make it buffer more than the limits allow.
//!
//! An oversized or malformed request is read as a [`Refusal`] (answered as such, never a
//! dropped stream); an oversized or malformed answer is an `InvalidData` error, which libp2p
//! reports as the request's failure.

use std::io;

use bytes::Bytes;
use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;

use super::message::{BlockRequest, BlockResponse, InboundRequest, Refusal};
use super::ExchangeLimits;

/// Reads and writes block messages within its limits.
#[derive(Debug, Clone, Copy)]
pub struct BlockCodec {
    limits: ExchangeLimits,
}

impl BlockCodec {
    pub fn new(limits: ExchangeLimits) -> BlockCodec {
        BlockCodec { limits }
    }
}

/// Reads `io` to its end, or `None` as soon as it holds more than `max` bytes.
async fn read_at_most<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    io.take(limit).read_to_end(&mut bytes).await?;
    Ok((bytes.len() <= max).then_some(bytes))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Codec for BlockCodec {
    type Protocol = StreamProtocol;
    type Request = InboundRequest;
    type Response = BlockResponse;

    async fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<InboundRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let max_keys = self.limits.max_keys;
        Ok(
            match read_at_most(io, BlockRequest::max_len(max_keys)).await? {
                Some(bytes) => BlockRequest::parse(&bytes, max_keys),
                None => Err(Refusal::TooManyKeys),
            },
        )
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<BlockResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let ExchangeLimits {
            max_keys,
            max_answer_bytes,
        } = self.limits;
        let max = BlockResponse::max_len(max_keys, max_answer_bytes);
        let Some(bytes) = read_at_most(io, max).await? else {
            return Err(invalid(format!("the answer is longer than {max} bytes")));
        };
        BlockResponse::parse(Bytes::from(bytes), max_keys).map_err(|e| invalid(e.to_string()))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: InboundRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let request = request.map_err(|refusal| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a refusal ({refusal}) is not a request to send"),
            )
        })?;
        io.write_all(&request.encode()).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: BlockResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&response.encode()).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::Cursor;

    use super::*;
    use crate::key::Key;
    use crate::protocol::get_answer::GetItem;

    const PROTOCOL: StreamProtocol = StreamProtocol::new(super::super::BLOCK_PROTOCOL);

    fn codec(max_keys: usize, max_answer_bytes: u64) -> BlockCodec {
        BlockCodec::new(ExchangeLimits {
            max_keys,
            max_answer_bytes,
        })
    }

    fn keys(n: u8) -> Vec<Key> {
        (0..n).map(|i| Key::for_bytes(&[i])).collect()
    }

    fn written_request(request: InboundRequest) -> io::Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        block_on(codec(8, 1024).write_request(&PROTOCOL, &mut out, request))?;
        Ok(out.into_inner())
    }

    #[test]
    fn a_request_within_the_bounds_round_trips() {
        let request = BlockRequest { keys: keys(4) };
        let bytes = written_request(Ok(request.clone())).unwrap();
        let read = block_on(codec(4, 1024).read_request(&PROTOCOL, &mut Cursor::new(bytes)));
        assert_eq!(read.unwrap(), Ok(request));
    }

    #[test]
    fn oversized_and_malformed_requests_are_read_as_refusals() {
        let bytes = written_request(Ok(BlockRequest { keys: keys(5) })).unwrap();
        let read = block_on(codec(4, 1024).read_request(&PROTOCOL, &mut Cursor::new(bytes)));
        assert_eq!(read.unwrap(), Err(Refusal::TooManyKeys));
        // Far beyond the limit: refused after reading one byte more than the limit.
        let flood = vec![1u8; 10 << 20];
        let mut cursor = Cursor::new(flood);
        let read = block_on(codec(4, 1024).read_request(&PROTOCOL, &mut cursor));
        assert_eq!(read.unwrap(), Err(Refusal::TooManyKeys));
        assert_eq!(cursor.position(), BlockRequest::max_len(4) as u64 + 1);
        let garbage = vec![7u8; 20];
        let read = block_on(codec(4, 1024).read_request(&PROTOCOL, &mut Cursor::new(garbage)));
        assert_eq!(read.unwrap(), Err(Refusal::Malformed));
        assert!(
            written_request(Err(Refusal::Busy)).is_err(),
            "a refusal is not sent as a request"
        );
    }

    #[test]
    fn answers_are_read_within_the_bounds() {
        let node = Bytes::from(crate::node::encode_successor(&[], &[5u8; 100], 0).unwrap());
        let answer = BlockResponse::Nodes(vec![GetItem::Node(node.clone()), GetItem::NotFound]);
        let mut out = Cursor::new(Vec::new());
        block_on(codec(2, 1024).write_response(&PROTOCOL, &mut out, answer.clone())).unwrap();
        let bytes = out.into_inner();
        let read =
            block_on(codec(2, 1024).read_response(&PROTOCOL, &mut Cursor::new(bytes.clone())));
        assert_eq!(read.unwrap(), answer);
        // The same answer to a reader allowing fewer bytes: refused, not buffered whole.
        let read = block_on(codec(2, 64).read_response(&PROTOCOL, &mut Cursor::new(bytes.clone())));
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::InvalidData);
        // More items than a request can name.
        let read = block_on(codec(1, 1024).read_response(&PROTOCOL, &mut Cursor::new(bytes)));
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::InvalidData);
        let read = block_on(codec(2, 1024).read_response(&PROTOCOL, &mut Cursor::new(vec![9, 9])));
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
