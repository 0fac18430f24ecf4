//! The Advertiser in the browser: the page's `P2pNode` announces, the browser runtime keeps time
//! and runs the task, IndexedDB keeps the schedule.

use super::{Advertiser, Discovery, IdbAdvertStore};
use crate::error::Result;
use crate::key::Key;
use crate::p2p::P2pNode;
use crate::runtime::BrowserRuntime;

/// The Advertiser the JS class wraps.
pub type BrowserAdvertiser = Advertiser<P2pNode, IdbAdvertStore, BrowserRuntime>;

impl Discovery for P2pNode {
    async fn provide(&self, key: Key) -> Result<()> {
        self.start_provide(&key).await
    }

    async fn has_peers(&self) -> bool {
        self.connected_peers()
            .await
            .is_ok_and(|peers| !peers.is_empty())
    }
}
