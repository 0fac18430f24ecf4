//! The Advertiser's schedule in IndexedDB: one record per tracked key (its text form) holding
//! the last announcement in seconds since the epoch (0 = never), in a database of its own so
//! the node store's schema is untouched. Opened on first use (and again after it stepped aside
//! for another tab's upgrade or delete); each save is one transaction.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbObjectStore, IdbTransactionMode};

use super::AdvertStore;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::storage::error_from_js;
use crate::storage::idb_factory;
use crate::storage::idb_future::{Connection, OpenFuture, RequestFuture, TransactionFuture};

/// Database used when the options name none.
pub const DEFAULT_DATABASE_NAME: &str = "casweb-advertiser";
const SCHEMA_VERSION: u32 = 1;
const RECORDS_STORE: &str = "advertised";

/// The schedule's records in the IndexedDB database `name`.
pub struct IdbAdvertStore {
    name: String,
    connection: RefCell<Option<Connection>>,
}

fn upgrade(db: &IdbDatabase) -> std::result::Result<(), JsValue> {
    if !db.object_store_names().contains(RECORDS_STORE) {
        db.create_object_store(RECORDS_STORE)?;
    }
    Ok(())
}

impl IdbAdvertStore {
    pub fn new(name: &str) -> Result<IdbAdvertStore> {
        if name.is_empty() {
            return Err(Error::InvalidArgument(
                "databaseName must not be empty".into(),
            ));
        }
        Ok(IdbAdvertStore {
            name: name.to_owned(),
            connection: RefCell::new(None),
        })
    }

    async fn database(&self) -> Result<IdbDatabase> {
        if let Some(db) = self
            .connection
            .borrow()
            .as_ref()
            .and_then(Connection::database)
        {
            return Ok(db);
        }
        let request = idb_factory()?
            .open_with_u32(&self.name, SCHEMA_VERSION)
            .map_err(|e| error_from_js(&e))?;
        let db: IdbDatabase = OpenFuture::new(request, Some(Box::new(upgrade)))
            .await?
            .unchecked_into();
        *self.connection.borrow_mut() = Some(Connection::new(db.clone()));
        Ok(db)
    }

    async fn records(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbObjectStore, TransactionFuture)> {
        let db = self.database().await?;
        let transaction = db
            .transaction_with_str_and_mode(RECORDS_STORE, mode)
            .map_err(|e| error_from_js(&e))?;
        let done = TransactionFuture::new(transaction.clone());
        let store = transaction
            .object_store(RECORDS_STORE)
            .map_err(|e| error_from_js(&e))?;
        Ok((store, done))
    }
}

impl AdvertStore for IdbAdvertStore {
    async fn load(&self) -> Result<Vec<(Key, u32)>> {
        let (store, _done) = self.records(IdbTransactionMode::Readonly).await?;
        let keys = store.get_all_keys().map_err(|e| error_from_js(&e))?;
        let values = store.get_all().map_err(|e| error_from_js(&e))?;
        let (keys, values) =
            futures::future::join(RequestFuture::new(keys), RequestFuture::new(values)).await;
        let keys: Array = keys?.unchecked_into();
        let values: Array = values?.unchecked_into();
        keys.iter()
            .zip(values.iter())
            .map(|(key, secs)| {
                let key = Key::parse(&key.as_string().unwrap_or_default())?;
                Ok((key, secs.as_f64().unwrap_or(0.0) as u32))
            })
            .collect()
    }

    async fn save(&self, records: &[(Key, u32)]) -> Result<()> {
        let (store, done) = self.records(IdbTransactionMode::Readwrite).await?;
        for (key, secs) in records {
            store
                .put_with_key(&JsValue::from(*secs), &JsValue::from(key.to_string()))
                .map_err(|e| error_from_js(&e))?;
        }
        done.await
    }
}
