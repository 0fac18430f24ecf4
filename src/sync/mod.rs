//! The sync engine: pure planning (levels, flush passes, backoff) and, in the browser, the
//! buffered engine that drives it.

pub mod backoff;
#[cfg(target_arch = "wasm32")]
pub mod buffered;
pub mod flush;
#[cfg(target_arch = "wasm32")]
mod lock;
pub mod remote;
pub mod topo;

pub use backoff::Backoff;
#[cfg(target_arch = "wasm32")]
pub use buffered::{BufferedConfig, BufferedStats, BufferedStorage, SyncHooks};
pub use flush::{sync_nodes, KeyStatus, SyncResult};
pub use remote::{CheckResult, SyncRemote};
pub use topo::{topo_sort_levels, Levels};
