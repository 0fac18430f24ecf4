#![cfg(not(target_arch = "wasm32"))]
//! Tests for `CachedStorage`: reads served by the cache, misses filled from the remote, writes to
//! the cache then the remote, and what happens when either side fails (a scriptable provider).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use casweb::chunker::{self, ChunkOptions};
use casweb::{CachedStorage, Error, Key, MemoryStorage, Result, StorageProvider};
use futures::executor::block_on;

/// A provider over a `MemoryStorage` that can be told to fail, counts its calls and writes what
/// it does into a log shared with other providers (to check the order of calls).
struct Scripted {
    name: &'static str,
    inner: MemoryStorage,
    fail_get: Cell<bool>,
    fail_put: Cell<bool>,
    /// Hands out its bytes with one bit flipped (a corrupted disk).
    corrupt: Cell<bool>,
    gets: Cell<usize>,
    puts: Cell<usize>,
    log: Rc<RefCell<Vec<String>>>,
}

impl Scripted {
    fn new(name: &'static str, log: &Rc<RefCell<Vec<String>>>) -> Scripted {
        Scripted {
            name,
            inner: MemoryStorage::new(),
            fail_get: Cell::new(false),
            fail_put: Cell::new(false),
            corrupt: Cell::new(false),
            gets: Cell::new(0),
            puts: Cell::new(0),
            log: Rc::clone(log),
        }
    }

    /// Puts straight into the backing map, bypassing the counters and failures.
    fn seed(&self, key: Key, bytes: &Bytes) {
        block_on(self.inner.put(key, bytes.clone())).unwrap();
    }

    /// Reads straight from the backing map.
    fn holds(&self, key: Key) -> Option<Bytes> {
        block_on(self.inner.get(key)).unwrap()
    }
}

fn down() -> Error {
    Error::Provider("down".into())
}

/// What a failing put of provider `name` returns.
fn put_failed(name: &str) -> Error {
    Error::Provider(format!("{name}: put failed"))
}

impl StorageProvider for Scripted {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.gets.set(self.gets.get() + 1);
        self.log.borrow_mut().push(format!("{} get", self.name));
        if self.fail_get.get() {
            return Err(down());
        }
        let found = self.inner.get(key).await?;
        Ok(found.map(|bytes| {
            if self.corrupt.get() {
                let mut flipped = bytes.to_vec();
                flipped[0] ^= 1;
                Bytes::from(flipped)
            } else {
                bytes
            }
        }))
    }

    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.puts.set(self.puts.get() + 1);
        self.log.borrow_mut().push(format!("{} put", self.name));
        if self.fail_put.get() {
            return Err(put_failed(self.name));
        }
        self.inner.put(key, bytes).await
    }
}

struct Fixture {
    storage: CachedStorage<Scripted, Scripted>,
    log: Rc<RefCell<Vec<String>>>,
    key: Key,
    bytes: Bytes,
}

impl Fixture {
    fn new() -> Fixture {
        let log = Rc::new(RefCell::new(Vec::new()));
        let bytes = Bytes::from(casweb::node::encode_successor(&[], b"payload", 0).unwrap());
        Fixture {
            storage: CachedStorage::new(
                Scripted::new("cache", &log),
                Scripted::new("remote", &log),
            ),
            key: Key::for_bytes(&bytes),
            bytes,
            log,
        }
    }

    fn cache(&self) -> &Scripted {
        self.storage.cache()
    }

    fn remote(&self) -> &Scripted {
        self.storage.remote()
    }

    fn get(&self) -> Result<Option<Bytes>> {
        block_on(self.storage.get(self.key))
    }

    fn put(&self) -> Result<()> {
        block_on(self.storage.put(self.key, self.bytes.clone()))
    }

    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

#[test]
fn hit_is_served_by_the_cache_alone() {
    let f = Fixture::new();
    f.cache().seed(f.key, &f.bytes);
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.remote().gets.get(), 0);
    assert_eq!(f.cache().puts.get(), 0);
    assert_eq!(f.log(), ["cache get"]);
}

#[test]
fn bytes_in_the_cache_that_fail_verification_count_as_a_miss() {
    let f = Fixture::new();
    f.cache().seed(f.key, &f.bytes);
    f.cache().corrupt.set(true);
    f.remote().seed(f.key, &f.bytes);
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())), "the remote's good copy");
    assert_eq!(f.log(), ["cache get", "remote get", "cache put"]);
}

#[test]
fn a_put_of_bytes_that_do_not_hash_to_the_key_writes_nothing() {
    let f = Fixture::new();
    let other = Bytes::from(casweb::node::encode_successor(&[], b"other", 0).unwrap());
    let put = block_on(f.storage.put(f.key, other));
    assert_eq!(put, Err(Error::HashMismatch { key: f.key }));
    assert!(f.log().is_empty(), "neither side was asked: {:?}", f.log());
    assert_eq!(f.cache().holds(f.key), None);
}

#[test]
fn miss_reads_the_remote_and_writes_back() {
    let f = Fixture::new();
    f.remote().seed(f.key, &f.bytes);
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.log(), ["cache get", "remote get", "cache put"]);
    assert_eq!(f.cache().holds(f.key), Some(f.bytes.clone()));
    // The second read is a hit.
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.remote().gets.get(), 1);
    assert_eq!(f.remote().puts.get(), 0);
}

#[test]
fn failed_write_back_still_returns_the_value() {
    let f = Fixture::new();
    f.remote().seed(f.key, &f.bytes);
    f.cache().fail_put.set(true);
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.cache().puts.get(), 1, "the write-back was attempted");
    assert_eq!(f.cache().holds(f.key), None);
    // Nothing was cached, so the next read goes to the remote again.
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.remote().gets.get(), 2);
}

#[test]
fn cache_read_error_falls_through_to_the_remote() {
    let f = Fixture::new();
    f.remote().seed(f.key, &f.bytes);
    f.cache().fail_get.set(true);
    assert_eq!(f.get(), Ok(Some(f.bytes.clone())));
    assert_eq!(f.log(), ["cache get", "remote get", "cache put"]);
    assert_eq!(f.cache().holds(f.key), Some(f.bytes.clone()));
}

#[test]
fn cache_read_error_and_remote_miss_is_none() {
    let f = Fixture::new();
    f.cache().fail_get.set(true);
    assert_eq!(f.get(), Ok(None));
    assert_eq!(f.cache().puts.get(), 0);
}

#[test]
fn remote_read_error_is_returned() {
    let f = Fixture::new();
    f.remote().fail_get.set(true);
    assert_eq!(f.get(), Err(down()));
    assert_eq!(f.cache().puts.get(), 0);
}

#[test]
fn key_stored_nowhere_is_none() {
    let f = Fixture::new();
    assert_eq!(f.get(), Ok(None));
    assert_eq!(f.log(), ["cache get", "remote get"]);
}

#[test]
fn put_writes_the_cache_and_the_remote() {
    let f = Fixture::new();
    assert_eq!(f.put(), Ok(()));
    assert_eq!(f.log(), ["cache put", "remote put"]);
    assert_eq!(f.cache().holds(f.key), Some(f.bytes.clone()));
    assert_eq!(f.remote().holds(f.key), Some(f.bytes.clone()));
}

#[test]
fn cache_put_failure_is_returned_and_a_retry_completes_the_put() {
    let f = Fixture::new();
    f.cache().fail_put.set(true);
    assert_eq!(f.put(), Err(put_failed("cache")));
    assert_eq!(f.cache().holds(f.key), None);
    f.cache().fail_put.set(false);
    assert_eq!(f.put(), Ok(()));
    assert_eq!(f.cache().holds(f.key), Some(f.bytes.clone()));
    assert_eq!(f.remote().holds(f.key), Some(f.bytes.clone()));
}

#[test]
fn when_both_sides_fail_the_cache_error_is_returned() {
    let f = Fixture::new();
    f.cache().fail_put.set(true);
    f.remote().fail_put.set(true);
    assert_eq!(f.put(), Err(put_failed("cache")));
    assert_eq!(f.log(), ["cache put", "remote put"]);
}

#[test]
fn remote_put_failure_is_returned() {
    let f = Fixture::new();
    f.remote().fail_put.set(true);
    assert_eq!(f.put(), Err(put_failed("remote")));
    assert_eq!(f.log(), ["cache put", "remote put"]);
    // The cache kept its copy; a retry writes the remote.
    assert_eq!(f.cache().holds(f.key), Some(f.bytes.clone()));
    f.remote().fail_put.set(false);
    assert_eq!(f.put(), Ok(()));
    assert_eq!(f.remote().holds(f.key), Some(f.bytes.clone()));
}

#[test]
fn files_through_a_cache_and_shared_providers() {
    let remote = Rc::new(MemoryStorage::new());
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let options = ChunkOptions {
        chunk_size: 256,
        content_type: "application/octet-stream".into(),
    };
    let writer = CachedStorage::new(MemoryStorage::new(), Rc::clone(&remote));
    let root = block_on(chunker::store_file(&writer, &data, &options)).unwrap();
    assert_eq!(writer.cache().len(), remote.len());

    // A second client with an empty cache reads through to the shared remote.
    let reader_cache = MemoryStorage::new();
    let reader = CachedStorage::new(&reader_cache, Rc::clone(&remote));
    let file = block_on(chunker::read_file(&reader, root)).unwrap();
    assert_eq!(file.data, data);
    assert_eq!(file.content_type, options.content_type);
    assert_eq!(
        reader_cache.len(),
        remote.len(),
        "every node was written back"
    );
}

#[test]
fn store_file_stops_at_the_first_failed_put() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let remote = Scripted::new("remote", &log);
    remote.fail_put.set(true);
    let storage = CachedStorage::new(MemoryStorage::new(), remote);
    let options = ChunkOptions {
        chunk_size: 128,
        content_type: String::new(),
    };
    let result = block_on(chunker::store_file(&storage, &[1u8; 1000], &options));
    assert_eq!(result, Err(put_failed("remote")));
    assert_eq!(storage.remote().puts.get(), 1);
    assert_eq!(storage.cache().len(), 1);
}
