//! `AdvertisingStorage`: a decorator that tells an observer about every stored key (e.g. the
//! P2P Advertiser, which announces it), without the storage layer knowing who listens.

use std::rc::Rc;

use bytes::Bytes;

use super::StorageProvider;
use crate::error::Result;
use crate::key::Key;

/// Told about each key once it has been stored.
pub trait StoreObserver {
    /// `key` is now stored. Must not block or fail: queue the work and return.
    fn stored(&self, key: Key);
}

impl<T: StoreObserver + ?Sized> StoreObserver for Rc<T> {
    fn stored(&self, key: Key) {
        (**self).stored(key)
    }
}

/// `get` passes through; `put` stores in `inner`, then (only if that succeeded) tells the
/// observer. Inside a `CachedStorage` as the cache, blocks fetched from the remote and written
/// back are reported too: this node holds them from then on.
#[derive(Debug)]
pub struct AdvertisingStorage<S, O> {
    inner: S,
    observer: O,
}

impl<S: StorageProvider, O: StoreObserver> AdvertisingStorage<S, O> {
    pub fn new(inner: S, observer: O) -> Self {
        AdvertisingStorage { inner, observer }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: StorageProvider, O: StoreObserver> StorageProvider for AdvertisingStorage<S, O> {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }

    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.inner.put(key, bytes).await?;
        self.observer.stored(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::error::Error;
    use crate::storage::MemoryStorage;

    #[derive(Default)]
    struct Recorder(RefCell<Vec<Key>>);

    impl StoreObserver for Recorder {
        fn stored(&self, key: Key) {
            self.0.borrow_mut().push(key);
        }
    }

    struct Refusing;

    impl StorageProvider for Refusing {
        async fn get(&self, _: Key) -> Result<Option<Bytes>> {
            Ok(None)
        }
        async fn put(&self, _: Key, _: Bytes) -> Result<()> {
            Err(Error::Closed)
        }
    }

    #[test]
    fn reports_stored_keys_only_after_a_successful_put() {
        let recorder = Rc::new(Recorder::default());
        let storage = AdvertisingStorage::new(MemoryStorage::new(), recorder.clone());
        let key = Key::for_bytes(b"block");
        futures::executor::block_on(async {
            storage
                .put(key, Bytes::from_static(b"block"))
                .await
                .unwrap();
            assert_eq!(storage.get(key).await.unwrap().unwrap(), "block");
        });
        assert_eq!(*recorder.0.borrow(), vec![key]);

        let failing = AdvertisingStorage::new(Refusing, recorder.clone());
        let outcome = futures::executor::block_on(failing.put(key, Bytes::new()));
        assert_eq!(outcome, Err(Error::Closed));
        assert_eq!(recorder.0.borrow().len(), 1);
    }
}
