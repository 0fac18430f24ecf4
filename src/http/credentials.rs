//! The token an `HttpStorage` sends and its renewal: when the server refuses it (401:
//! `token_expired`, `token_revoked`, `unauthorized`), the request asks the configured
//! [`TokenSource`] (JS `getToken`) once for a new token and is sent again with it.
//!
//! Requests refused together share one renewal: each request remembers the generation of the
//! token it was sent with, a request refused with a token already replaced just goes again with
//! the new one, and concurrent refusals await the same call to the source. No I/O here, so
//! native tests drive it.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::future::{LocalBoxFuture, Shared};
use futures::FutureExt as _;

use super::wire::check_token;
use crate::error::{Error, Result};

/// Where a new token comes from: an async callback, typically a request to the app's backend,
/// which mints an access token for the user's session.
#[derive(Clone)]
pub struct TokenSource(Rc<dyn Fn() -> LocalBoxFuture<'static, Result<String>>>);

impl TokenSource {
    /// Wraps an async callback returning the new token's text.
    pub fn new<F, Fut>(get: F) -> TokenSource
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<String>> + 'static,
    {
        TokenSource(Rc::new(move || get().boxed_local()))
    }

    fn get(&self) -> LocalBoxFuture<'static, Result<String>> {
        (self.0)()
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSource(..)")
    }
}

/// Two sources are equal when they are the same callback.
impl PartialEq for TokenSource {
    fn eq(&self, other: &TokenSource) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The token requests are sent with.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentToken {
    /// Its text, for `Authorization: Bearer`.
    pub text: Rc<str>,
    /// The key of the proofs of possession made with it.
    pub pop_key: [u8; 32],
    /// Bumped at each change, so a refused request knows whether it was sent with an old one.
    pub generation: u64,
}

type Renewal = Shared<LocalBoxFuture<'static, Result<String>>>;

/// The current token of one client, and its renewal.
pub struct Credentials {
    realm: String,
    current: RefCell<CurrentToken>,
    source: Option<TokenSource>,
    /// The source's answer being awaited, shared by every request refused meanwhile.
    renewal: RefCell<Option<Renewal>>,
}

impl Credentials {
    /// Credentials for `realm` starting with `token` (already checked by `validate_config`).
    pub fn new(
        realm: &str,
        token: &str,
        pop_key: [u8; 32],
        source: Option<TokenSource>,
    ) -> Credentials {
        Credentials {
            realm: realm.to_owned(),
            current: RefCell::new(CurrentToken {
                text: token.into(),
                pop_key,
                generation: 0,
            }),
            source,
            renewal: RefCell::default(),
        }
    }

    /// The token to send now.
    pub fn current(&self) -> CurrentToken {
        self.current.borrow().clone()
    }

    /// Replaces the token (checked like the configuration's: `invalid_argument` otherwise).
    pub fn set(&self, token: &str) -> Result<()> {
        let credential = check_token(token, &self.realm)?;
        let mut current = self.current.borrow_mut();
        *current = CurrentToken {
            text: token.into(),
            pop_key: credential.pop_key(),
            generation: current.generation + 1,
        };
        Ok(())
    }

    /// After the server refused (`refused`, a 401) a request sent with token `generation`:
    /// `Ok` once a newer token is in place (someone renewed it meanwhile, or the source gave
    /// one now), so the request may go once more; otherwise the error the request fails with,
    /// [`Error::Unauthorized`] (with the source's failure in the message, if it failed).
    pub async fn renew(&self, generation: u64, refused: Error) -> Result<()> {
        if self.current.borrow().generation != generation {
            return Ok(());
        }
        let Some(source) = &self.source else {
            return Err(refused);
        };
        let renewal = self
            .renewal
            .borrow_mut()
            .get_or_insert_with(|| source.get().shared())
            .clone();
        let outcome = renewal.clone().await;
        if self.current.borrow().generation != generation {
            return Ok(()); // another request refused with the same token installed the answer
        }
        {
            let mut slot = self.renewal.borrow_mut();
            if slot
                .as_ref()
                .is_some_and(|pending| pending.ptr_eq(&renewal))
            {
                *slot = None; // the next refusal of this generation asks the source again
            }
        }
        let token =
            outcome.map_err(|e| still_refused(&refused, &format!("getToken failed: {e}")))?;
        self.set(&token)
            .map_err(|e| still_refused(&refused, &format!("getToken gave an unusable token: {e}")))
    }
}

/// `refused`, with why no new token could be had added to its message.
fn still_refused(refused: &Error, why: &str) -> Error {
    match refused {
        Error::Unauthorized { code, message } => Error::Unauthorized {
            code: code.clone(),
            message: format!("{message}; {why}"),
        },
        other => Error::Unauthorized {
            code: "unauthorized".into(),
            message: format!("{other}; {why}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use futures::executor::block_on;
    use futures::future::join_all;

    use super::*;
    use crate::protocol::encode_token;

    fn refused() -> Error {
        Error::Unauthorized {
            code: "token_expired".into(),
            message: "the token expired".into(),
        }
    }

    fn token(n: u8) -> String {
        encode_token(&[n; 32])
    }

    /// A source counting its calls, answering `token(2)`, `token(3)`, ... once polled.
    fn counting_source(calls: Rc<Cell<u8>>) -> TokenSource {
        TokenSource::new(move || {
            let calls = calls.clone();
            async move {
                calls.set(calls.get() + 1);
                Ok(token(calls.get() + 1))
            }
        })
    }

    #[test]
    fn without_a_source_the_refusal_stands() {
        let credentials = Credentials::new("a", &token(1), [0; 32], None);
        assert_eq!(block_on(credentials.renew(0, refused())), Err(refused()));
        assert_eq!(credentials.current().generation, 0);
    }

    #[test]
    fn requests_refused_together_share_one_renewal() {
        let calls = Rc::new(Cell::new(0));
        let credentials = Credentials::new(
            "a",
            &token(1),
            [0; 32],
            Some(counting_source(calls.clone())),
        );
        let sent = credentials.current().generation;
        let outcomes = block_on(join_all((0..4).map(|_| credentials.renew(sent, refused()))));
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(calls.get(), 1);
        let current = credentials.current();
        assert_eq!(&*current.text, token(2));
        assert_eq!(current.pop_key, *blake3::hash(&[2u8; 32]).as_bytes());
        assert_eq!(current.generation, sent + 1);
        // A request sent with the old token and refused late goes again without a renewal.
        assert!(block_on(credentials.renew(sent, refused())).is_ok());
        assert_eq!(calls.get(), 1);
        // A refusal of the new token renews again.
        assert!(block_on(credentials.renew(current.generation, refused())).is_ok());
        assert_eq!(calls.get(), 2);
        assert_eq!(&*credentials.current().text, token(3));
    }

    #[test]
    fn a_failing_or_unusable_source_keeps_the_refusal_typed() {
        let failing = TokenSource::new(|| async { Err(Error::Network("backend down".into())) });
        let credentials = Credentials::new("a", &token(1), [0; 32], Some(failing));
        let error = block_on(credentials.renew(0, refused())).unwrap_err();
        assert!(
            matches!(&error, Error::Unauthorized { code, message }
                if code == "token_expired" && message.contains("backend down")),
            "{error:?}"
        );
        let garbage = TokenSource::new(|| async { Ok("not a token".to_owned()) });
        let credentials = Credentials::new("a", &token(1), [0; 32], Some(garbage));
        let error = block_on(credentials.renew(0, refused())).unwrap_err();
        assert_eq!(error.code(), "unauthorized");
        assert!(error.to_string().contains("unusable"), "{error}");
        assert_eq!(credentials.current().generation, 0, "nothing installed");
    }

    #[test]
    fn set_checks_the_token() {
        let credentials = Credentials::new("a", &token(1), [0; 32], None);
        assert_eq!(
            credentials.set("nope").unwrap_err().code(),
            "invalid_argument"
        );
        credentials.set(&token(4)).unwrap();
        assert_eq!(credentials.current().generation, 1);
    }
}
