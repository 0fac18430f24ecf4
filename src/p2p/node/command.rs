//! The commands a `P2pNode` handle sends to its driver, each with the channel its answer comes
//! back on.

use futures::channel::oneshot;
use libp2p::Multiaddr;

use crate::dht::Provider;
use crate::error::Result;
use crate::exchange::BlockResponse;
use crate::key::Key;
use crate::p2p::config::LookupOptions;
use crate::p2p::serving::Serving;

/// Where the driver sends a command's answer.
pub(super) type Reply<T> = oneshot::Sender<Result<T>>;

/// What a [`super::P2pNode`] handle asks of the driver.
pub(super) enum Command {
    StartProvide {
        key: Key,
        reply: Reply<()>,
    },
    StopProvide {
        key: Key,
    },
    GetProviders {
        key: Key,
        options: LookupOptions,
        reply: Reply<Vec<Provider>>,
    },
    Bootstrap {
        reply: Reply<()>,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply<String>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<String>>,
    },
    ExternalAddresses {
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Asks `provider` for nodes over the block exchange (dialling it if needed).
    RequestBlocks {
        provider: Provider,
        keys: Vec<Key>,
        reply: Reply<BlockResponse>,
    },
    /// Starts answering block requests (`Some`), or stops (`None`).
    Serve {
        serving: Option<Serving>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}
