//! The node's persistent identity: its libp2p key pair and its WebRTC certificate, kept in the
//! data directory so that the peer id and the `/certhash` of its WebRTC-direct address survive
//! restarts (browsers bootstrap from addresses that contain both).

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use libp2p::identity::Keypair;
use libp2p_webrtc::tokio::Certificate;

/// Sub-directory of the data directory holding the p2p files.
pub const P2P_DIR: &str = "p2p";
const KEY_FILE: &str = "identity.key";
const CERT_FILE: &str = "webrtc-cert.pem";

/// Loads the key pair and certificate from `<data_dir>/p2p/`, creating (and saving) them on first
/// use. Without a data directory both are fresh and forgotten on exit.
pub fn load_or_create(data_dir: Option<&Path>) -> Result<(Keypair, Certificate), String> {
    let Some(data_dir) = data_dir else {
        return Ok((Keypair::generate_ed25519(), new_certificate()?));
    };
    let dir = data_dir.join(P2P_DIR);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let key_path = dir.join(KEY_FILE);
    let keypair = match fs::read(&key_path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| format!("{} is not a libp2p key: {e}", key_path.display()))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair
                .to_protobuf_encoding()
                .map_err(|e| format!("cannot encode the new key: {e}"))?;
            write_private(&key_path, &bytes)?;
            keypair
        }
        Err(e) => return Err(format!("cannot read {}: {e}", key_path.display())),
    };

    let cert_path = dir.join(CERT_FILE);
    let certificate = match fs::read_to_string(&cert_path) {
        Ok(pem) => Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a WebRTC certificate: {e}", cert_path.display()))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let certificate = new_certificate()?;
            write_private(&cert_path, certificate.serialize_pem().as_bytes())?;
            certificate
        }
        Err(e) => return Err(format!("cannot read {}: {e}", cert_path.display())),
    };
    Ok((keypair, certificate))
}

fn new_certificate() -> Result<Certificate, String> {
    Certificate::generate(&mut rand::rng())
        .map_err(|e| format!("cannot generate a WebRTC certificate: {e}"))
}

/// Writes a secret file readable by its owner only, atomically (temporary file, then rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    result
        .and_then(|()| fs::rename(&temp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_certificate_survive_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key1, cert1) = load_or_create(Some(dir.path())).expect("created");
        let (key2, cert2) = load_or_create(Some(dir.path())).expect("loaded");
        assert_eq!(key1.public().to_peer_id(), key2.public().to_peer_id());
        assert_eq!(cert1.fingerprint(), cert2.fingerprint());
        let (key3, _) = load_or_create(None).expect("ephemeral");
        assert_ne!(key1.public().to_peer_id(), key3.public().to_peer_id());
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().expect("temp dir");
        load_or_create(Some(dir.path())).expect("created");
        fs::write(dir.path().join(P2P_DIR).join(KEY_FILE), b"garbage").expect("write");
        let error = load_or_create(Some(dir.path())).expect_err("refused");
        assert!(error.contains("is not a libp2p key"), "{error}");
    }
}
