//! The commands a `P2pNode` handle sends to its driver, each with the channel its answer comes
//! back on.

use futures::channel::oneshot;
use libp2p::Multiaddr;

use crate::dht::Provider;
use crate::error::Result;
use crate::key::Key;
use crate::p2p::config::LookupOptions;

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
    Close {
        reply: oneshot::Sender<()>,
    },
}
