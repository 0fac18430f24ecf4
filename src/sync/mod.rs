//! The sync engine: pure planning (levels, flush passes, backoff), the buffered engine that
//! drives it (generic over its pending store, lock and runtime), and its browser binding.

pub mod backoff;
#[cfg(target_arch = "wasm32")]
mod browser;
pub mod engine;
pub mod flush;
pub mod lock;
pub mod pending;
pub mod remote;
pub mod topo;

pub use backoff::Backoff;
#[cfg(target_arch = "wasm32")]
pub use browser::BufferedStorage;
pub use engine::{BufferedConfig, BufferedStats, SyncEngine, SyncHooks};
pub use flush::{sync_nodes, sync_nodes_reporting, KeyStatus, SyncResult, UPLOADS_IN_FLIGHT};
pub use lock::{FlushLock, NoLock};
pub use pending::{AnyPendingStore, PendingStore};
pub use remote::{CheckResult, SyncRemote};
pub use topo::{topo_sort_levels, Levels};
