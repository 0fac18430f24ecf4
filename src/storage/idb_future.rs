//! IndexedDB requests, transactions and database opening as Rust futures.
//!
//! Each future owns the event-handler closures it installs and removes them when it is dropped,
//! so nothing leaks whichever way a request ends. Awaiting one of these (and nothing else) inside
//! a transaction keeps the transaction alive: the continuation runs in the same task as the
//! IndexedDB success event.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbRequestReadyState, IdbTransaction};

use crate::error::Error;

type Sender<T> = Rc<RefCell<Option<oneshot::Sender<T>>>>;

fn send<T>(sender: &Sender<T>, value: T) {
    if let Some(tx) = sender.borrow_mut().take() {
        let _ = tx.send(value);
    }
}

/// Polls for the outcome an event handler sends; a handler dropped unsent means the database
/// went away.
fn poll_outcome<T>(
    receiver: &mut oneshot::Receiver<Result<T, Error>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, Error>> {
    Pin::new(receiver)
        .poll(cx)
        .map(|r| r.unwrap_or(Err(Error::Closed)))
}

/// Turns a DOMException (or any thrown JS value) from IndexedDB into a typed [`Error`].
pub fn error_from_js(value: &JsValue) -> Error {
    let field = |name: &str| {
        js_sys::Reflect::get(value, &name.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let (name, message) = (field("name"), field("message"));
    match name.as_str() {
        "QuotaExceededError" if message.is_empty() => Error::QuotaExceeded(
            "IndexedDB's QuotaExceededError: the browser will not store more for this origin"
                .into(),
        ),
        "QuotaExceededError" => Error::QuotaExceeded(message),
        "VersionError" => Error::VersionMismatch(message),
        "InvalidStateError" if message.contains("clos") => Error::Closed,
        "" => Error::IndexedDb {
            name: "Unknown".into(),
            message: value.as_string().unwrap_or_else(|| format!("{value:?}")),
        },
        _ => Error::IndexedDb { name, message },
    }
}

/// The outcome of one `IDBRequest`: its `result`, or its `error`.
pub struct RequestFuture {
    request: IdbRequest,
    receiver: oneshot::Receiver<Result<JsValue, Error>>,
    _on_success: Closure<dyn FnMut()>,
    _on_error: Closure<dyn FnMut()>,
}

impl RequestFuture {
    pub fn new(request: IdbRequest) -> RequestFuture {
        let (tx, receiver) = oneshot::channel();
        let sender: Sender<_> = Rc::new(RefCell::new(Some(tx)));
        let on_success = {
            let (sender, request) = (sender.clone(), request.clone());
            Closure::<dyn FnMut()>::new(move || {
                send(&sender, request.result().map_err(|e| error_from_js(&e)));
            })
        };
        let on_error = {
            let (sender, request) = (sender.clone(), request.clone());
            Closure::<dyn FnMut()>::new(move || {
                let error = match request.error() {
                    Ok(Some(exception)) => error_from_js(&exception),
                    Ok(None) | Err(_) => Error::IndexedDb {
                        name: "Unknown".into(),
                        message: "request failed without an error".into(),
                    },
                };
                send(&sender, Err(error));
            })
        };
        request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        RequestFuture {
            request,
            receiver,
            _on_success: on_success,
            _on_error: on_error,
        }
    }
}

impl Future for RequestFuture {
    type Output = Result<JsValue, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_outcome(&mut self.receiver, cx)
    }
}

impl Drop for RequestFuture {
    fn drop(&mut self) {
        self.request.set_onsuccess(None);
        self.request.set_onerror(None);
    }
}

/// Resolves when a transaction commits; fails with the reason it aborted (e.g. quota).
pub struct TransactionFuture {
    transaction: IdbTransaction,
    receiver: oneshot::Receiver<Result<(), Error>>,
    _on_complete: Closure<dyn FnMut()>,
    _on_abort: Closure<dyn FnMut()>,
}

impl TransactionFuture {
    /// Installs the handlers; create it right after the transaction, before any request.
    pub fn new(transaction: IdbTransaction) -> TransactionFuture {
        let (tx, receiver) = oneshot::channel();
        let sender: Sender<_> = Rc::new(RefCell::new(Some(tx)));
        let on_complete = {
            let sender = sender.clone();
            Closure::<dyn FnMut()>::new(move || send(&sender, Ok(())))
        };
        let on_abort = {
            let (sender, transaction) = (sender.clone(), transaction.clone());
            Closure::<dyn FnMut()>::new(move || {
                let error = match transaction.error() {
                    Some(exception) => error_from_js(&exception),
                    None => Error::IndexedDb {
                        name: "AbortError".into(),
                        message: "transaction aborted".into(),
                    },
                };
                send(&sender, Err(error));
            })
        };
        transaction.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
        transaction.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
        TransactionFuture {
            transaction,
            receiver,
            _on_complete: on_complete,
            _on_abort: on_abort,
        }
    }
}

impl Future for TransactionFuture {
    type Output = Result<(), Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_outcome(&mut self.receiver, cx)
    }
}

impl Drop for TransactionFuture {
    fn drop(&mut self) {
        self.transaction.set_oncomplete(None);
        self.transaction.set_onabort(None);
    }
}

/// Creates or migrates object stores inside `upgradeneeded`.
pub type UpgradeFn = Box<dyn Fn(&IdbDatabase) -> Result<(), JsValue>>;

/// How long an open or delete may stay `blocked` before it fails with [`Error::Blocked`].
/// Connections that are closing (even our own) report `blocked` for a moment; a stale one in
/// another tab blocks for good.
pub const BLOCKED_GRACE_MS: u32 = 1000;

/// Opens (or deletes) a database: resolves with the request's result, fails on `error` or when
/// the request stays `blocked` by another open connection for [`BLOCKED_GRACE_MS`].
pub struct OpenFuture {
    request: IdbOpenDbRequest,
    receiver: oneshot::Receiver<Result<JsValue, Error>>,
    on_success: Closure<dyn FnMut()>,
    _on_error: Closure<dyn FnMut()>,
    _on_blocked: Closure<dyn FnMut()>,
    _blocked_timer: Rc<RefCell<Option<Timeout>>>,
    _on_upgrade: Option<Closure<dyn FnMut()>>,
}

impl OpenFuture {
    /// `on_upgrade` runs inside `upgradeneeded` with the database being upgraded.
    pub fn new(request: IdbOpenDbRequest, on_upgrade: Option<UpgradeFn>) -> OpenFuture {
        let (tx, receiver) = oneshot::channel();
        let sender: Sender<_> = Rc::new(RefCell::new(Some(tx)));
        let on_success = {
            let (sender, request) = (sender.clone(), request.clone());
            Closure::<dyn FnMut()>::new(move || {
                let result = request.result().map_err(|e| error_from_js(&e));
                if sender.borrow().is_none() {
                    // We already reported `blocked`; nobody will use this late connection.
                    if let Ok(db) =
                        result.and_then(|r| r.dyn_into::<IdbDatabase>().map_err(|_| Error::Closed))
                    {
                        db.close();
                    }
                    return;
                }
                send(&sender, result);
            })
        };
        let on_error = {
            let (sender, request) = (sender.clone(), request.clone());
            Closure::<dyn FnMut()>::new(move || {
                let error = match request.error() {
                    Ok(Some(exception)) => error_from_js(&exception),
                    _ => Error::Unavailable("opening the database failed".into()),
                };
                send(&sender, Err(error));
            })
        };
        let blocked_timer: Rc<RefCell<Option<Timeout>>> = Rc::default();
        let on_blocked = {
            let (sender, timer) = (sender.clone(), blocked_timer.clone());
            Closure::<dyn FnMut()>::new(move || {
                let sender = sender.clone();
                *timer.borrow_mut() = Some(Timeout::new(BLOCKED_GRACE_MS, move || {
                    send(
                        &sender,
                        Err(Error::Blocked(
                            "another connection (often another tab) keeps this database \
                             open; close it or reload that tab"
                                .into(),
                        )),
                    )
                }));
            })
        };
        request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        request.set_onblocked(Some(on_blocked.as_ref().unchecked_ref()));
        let on_upgrade = on_upgrade.map(|upgrade| {
            let (sender, upgrading) = (sender.clone(), request.clone());
            let closure = Closure::<dyn FnMut()>::new(move || {
                let outcome = upgrading
                    .result()
                    .map(|db| db.unchecked_into::<IdbDatabase>())
                    .and_then(|db| upgrade(&db));
                if let Err(error) = outcome {
                    send(&sender, Err(error_from_js(&error)));
                    if let Some(transaction) = upgrading.transaction() {
                        let _ = transaction.abort();
                    }
                }
            });
            request.set_onupgradeneeded(Some(closure.as_ref().unchecked_ref()));
            closure
        });
        OpenFuture {
            request,
            receiver,
            on_success,
            _on_error: on_error,
            _on_blocked: on_blocked,
            _blocked_timer: blocked_timer,
            _on_upgrade: on_upgrade,
        }
    }
}

impl Future for OpenFuture {
    type Output = Result<JsValue, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_outcome(&mut self.receiver, cx)
    }
}

impl Drop for OpenFuture {
    fn drop(&mut self) {
        self.request.set_onerror(None);
        self.request.set_onblocked(None);
        self.request.set_onupgradeneeded(None);
        if self.request.ready_state() == IdbRequestReadyState::Pending {
            // Reported `blocked` and gave up: the success handler must outlive this future to
            // close the connection if it opens later, so it is handed over to the JS side.
            std::mem::replace(&mut self.on_success, Closure::new(|| {})).forget();
        } else {
            self.request.set_onsuccess(None);
        }
    }
}

/// An open database connection that steps aside for other tabs: on `versionchange` (another
/// connection upgrading the schema or deleting the database) it closes itself instead of
/// blocking them, and later uses find it closed. Dropping it closes it.
pub struct Connection {
    db: Rc<RefCell<Option<IdbDatabase>>>,
    _on_version_change: Closure<dyn FnMut()>,
}

impl Connection {
    pub fn new(db: IdbDatabase) -> Connection {
        let slot = Rc::new(RefCell::new(Some(db.clone())));
        let on_version_change = {
            let slot = slot.clone();
            Closure::<dyn FnMut()>::new(move || {
                if let Some(db) = slot.borrow_mut().take() {
                    db.close();
                }
            })
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Connection {
            db: slot,
            _on_version_change: on_version_change,
        }
    }

    /// The database, unless the connection was closed (by [`Connection::close`] or for
    /// another tab).
    pub fn database(&self) -> Option<IdbDatabase> {
        self.db.borrow().clone()
    }

    /// Closes the connection (idempotent).
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.set_onversionchange(None);
            db.close();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}
