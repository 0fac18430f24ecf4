//! A node's libp2p identity: an Ed25519 key pair an app can keep (e.g. in IndexedDB) so that
//! its peer id, and the provider records announced under it, survive a page reload.

use libp2p::identity::Keypair;

use crate::error::{Error, Result};

/// A key pair (Ed25519 when generated here); its public half is the peer id. `Debug` shows the
/// peer id only.
#[derive(Clone)]
pub struct Identity(Keypair);

impl Identity {
    /// A new random identity.
    pub fn generate() -> Identity {
        Identity(Keypair::generate_ed25519())
    }

    /// Reads an identity saved with [`Identity::to_bytes`] (libp2p's protobuf encoding of the
    /// private key). Anything else is `invalid_argument`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Identity> {
        Keypair::from_protobuf_encoding(bytes)
            .map(Identity)
            .map_err(|e| {
                Error::InvalidArgument(format!(
                    "identity is not a saved P2P identity ({} bytes; expected what \
                     generateIdentity returns): {e}",
                    bytes.len()
                ))
            })
    }

    /// The private key in libp2p's protobuf encoding (68 bytes for Ed25519): keep it as
    /// secret as any private key.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .to_protobuf_encoding()
            .expect("every key type this build can decode also encodes")
    }

    /// The peer id this identity gives a node.
    pub fn peer_id(&self) -> String {
        self.0.public().to_peer_id().to_string()
    }

    pub(super) fn keypair(&self) -> Keypair {
        self.0.clone()
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Identity").field(&self.peer_id()).finish()
    }
}
