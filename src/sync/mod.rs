//! The sync engine: pure planning (levels, flush passes, backoff) and, in the browser, the
//! buffered engine that drives it.

pub mod backoff;
pub mod flush;
pub mod remote;
pub mod topo;

pub use backoff::Backoff;
pub use flush::{sync_nodes, KeyStatus, SyncResult};
pub use remote::{CheckResult, SyncRemote};
pub use topo::{topo_sort_levels, Levels};
