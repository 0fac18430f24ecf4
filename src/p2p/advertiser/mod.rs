//! The Advertiser: a background engine that announces stored blocks on the DHT so peers can find
//! them, and re-announces them before their records expire. See docs/advertiser.md.
//!
//! - [`schedule`]: the pure scheduler (queues, limit, re-announce times, backoff, status);
//! - [`engine`]: the [`Advertiser`] handle and its task, generic over [`Discovery`] (who
//!   announces), [`AdvertStore`] (where the schedule persists) and
//!   [`Runtime`](crate::runtime::Runtime) (clock, timers, spawning), so native tests drive it
//!   with fakes and deterministic time;
//! - `browser` (wasm32): `P2pNode` as the discovery on the browser runtime;
//! - `idb_store` (wasm32): the schedule in IndexedDB.

pub mod engine;
mod row_index;
pub mod schedule;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod idb_store;

use crate::error::Result;
use crate::key::Key;

pub use engine::{Advertiser, AdvertiserConfig};
pub use schedule::{KeyStatus, Metrics, ScheduleConfig, Scheduler};

#[cfg(target_arch = "wasm32")]
pub use browser::BrowserAdvertiser;
#[cfg(target_arch = "wasm32")]
pub use idb_store::{IdbAdvertStore, DEFAULT_DATABASE_NAME};

/// Announces keys on a DHT.
#[allow(async_fn_in_trait)]
pub trait Discovery {
    /// Announces that this node holds `key`. `NotConnected` (or `Closed`) means no peer to
    /// announce to: the Advertiser pauses instead of counting a failure.
    async fn provide(&self, key: Key) -> Result<()>;
    /// Whether announcing can work again (some peer is connected); polled while paused.
    async fn has_peers(&self) -> bool;
}

/// Keeps the advertised set and each key's last announcement across reloads.
#[allow(async_fn_in_trait)]
pub trait AdvertStore {
    /// Every record: `(key, last announcement in seconds since the epoch)`, 0 = never.
    async fn load(&self) -> Result<Vec<(Key, u32)>>;
    /// Writes a batch of records (later entries for a key supersede earlier ones).
    async fn save(&self, records: &[(Key, u32)]) -> Result<()>;
}
