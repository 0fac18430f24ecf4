//! Pure P2P settings, native-tested: the transports a browser can use, picking bootstrap
//! addresses for them, the `/api/p2p` answer a node bootstraps from, and lookup options.

use serde::Deserialize;

pub use crate::dht::KAD_PROTOCOL;
use crate::error::{Error, Result};

/// Default most providers a lookup returns.
pub const DEFAULT_PROVIDER_LIMIT: usize = 20;
/// Largest `limit` a lookup accepts.
pub const MAX_PROVIDER_LIMIT: usize = 1000;
/// Default lookup timeout.
pub const DEFAULT_LOOKUP_TIMEOUT_MS: u32 = 10_000;
/// Default time `connect` and `dial` wait.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 15_000;

/// A transport a browser dials the DHT with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// WebRTC-direct over UDP (needs `RTCPeerConnection`: pages, not workers).
    WebRtcDirect,
    /// WebSocket over TCP (pages and workers).
    WebSocket,
}

impl TransportKind {
    /// Both, in the default order of preference: WebSocket first. It is the faster of the two on
    /// a local DHT (BENCHMARKS.md, 4a), and libp2p-webrtc-websys 0.4 throws uncaught "closure
    /// invoked recursively or after being dropped" errors from its data channels when streams
    /// close (rust-libp2p#6551, fix not released), which a page using the defaults should not
    /// see. WebRTC-direct stays the fallback: it is what an https page can use when the server
    /// offers only plain `ws://` on another host (see [`pick_addresses`]).
    pub const ALL: [TransportKind; 2] = [TransportKind::WebSocket, TransportKind::WebRtcDirect];

    /// Parses the JS names `"webrtc-direct"` and `"websocket"`.
    pub fn parse(name: &str) -> Result<TransportKind> {
        match name {
            "webrtc-direct" => Ok(TransportKind::WebRtcDirect),
            "websocket" => Ok(TransportKind::WebSocket),
            other => Err(Error::UnsupportedTransport(format!(
                "{other:?} (expected \"webrtc-direct\" or \"websocket\")"
            ))),
        }
    }

    /// The JS name.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::WebRtcDirect => "webrtc-direct",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// The transport of a multiaddr in text form, if it is one of these. A relayed address
    /// (`/p2p-circuit`) counts as the transport that reaches its relay.
    pub fn of_address(addr: &str) -> Option<TransportKind> {
        let to_relay = addr.split("/p2p-circuit").next().unwrap_or(addr);
        let components: Vec<&str> = to_relay.split('/').collect();
        if components.contains(&"webrtc-direct") {
            Some(TransportKind::WebRtcDirect)
        } else if components.contains(&"ws") || components.contains(&"wss") {
            Some(TransportKind::WebSocket)
        } else {
            None
        }
    }
}

/// `GET /api/p2p` of a casweb server: the node to bootstrap from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapInfo {
    pub peer_id: String,
    pub addrs: Vec<String>,
    #[serde(default)]
    pub protocol: Option<String>,
}

impl BootstrapInfo {
    /// Parses the JSON answer, refusing a server of another DHT or another version of casweb's
    /// (`version_mismatch`).
    pub fn from_json(body: &[u8]) -> Result<BootstrapInfo> {
        let info: BootstrapInfo = serde_json::from_slice(body).map_err(|e| {
            Error::InvalidArgument(format!("the server's /api/p2p answer is not valid: {e}"))
        })?;
        if let Some(protocol) = &info.protocol {
            if protocol != KAD_PROTOCOL {
                return Err(Error::VersionMismatch(format!(
                    "the server runs DHT protocol {protocol}, this casweb speaks {KAD_PROTOCOL} \
                     (update the server and the page to the same casweb version)"
                )));
            }
        }
        Ok(info)
    }
}

/// The addresses to dial, in order: those of the first transport of `preference` that has any.
/// (The first transport is the one that is used; the others are fallbacks for when the first
/// has no usable address.) On an https page (`https_page`), a plain `ws://` address is usable
/// only on a loopback host: browsers block other mixed-content WebSockets.
pub fn pick_addresses(
    addrs: &[String],
    preference: &[TransportKind],
    https_page: bool,
) -> Vec<(TransportKind, String)> {
    for &kind in preference {
        let matching: Vec<_> = addrs
            .iter()
            .filter(|a| TransportKind::of_address(a) == Some(kind))
            .filter(|a| !https_page || !is_blocked_mixed_content(a))
            .map(|a| (kind, a.clone()))
            .collect();
        if !matching.is_empty() {
            return matching;
        }
    }
    Vec::new()
}

/// True for a plain (`/ws`, not `/wss` or `/tls/ws`) WebSocket address on a host that is not
/// loopback: an https page may not open it.
fn is_blocked_mixed_content(addr: &str) -> bool {
    let to_relay = addr.split("/p2p-circuit").next().unwrap_or(addr);
    let components: Vec<&str> = to_relay.split('/').collect();
    let plain_ws = components.contains(&"ws") && !components.contains(&"tls");
    let loopback = components.windows(2).any(|pair| match pair {
        ["ip4", host] => host.starts_with("127."),
        ["ip6", host] => *host == "::1",
        ["dns" | "dns4" | "dns6", host] => *host == "localhost",
        _ => false,
    });
    plain_ws && !loopback
}

/// Checked `getProviders` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupOptions {
    /// Stop once this many providers are known.
    pub limit: usize,
    /// Give up after this long.
    pub timeout_ms: u32,
}

impl Default for LookupOptions {
    fn default() -> LookupOptions {
        LookupOptions {
            limit: DEFAULT_PROVIDER_LIMIT,
            timeout_ms: DEFAULT_LOOKUP_TIMEOUT_MS,
        }
    }
}

impl LookupOptions {
    /// Options with the given fields (defaults for `None`), checked.
    pub fn new(limit: Option<u64>, timeout_ms: Option<u64>) -> Result<LookupOptions> {
        let limit = match limit {
            None => DEFAULT_PROVIDER_LIMIT,
            Some(n) if (1..=MAX_PROVIDER_LIMIT as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(Error::InvalidArgument(format!(
                    "limit must be from 1 to {MAX_PROVIDER_LIMIT}, not {n}"
                )))
            }
        };
        let timeout_ms = checked_timeout(timeout_ms, DEFAULT_LOOKUP_TIMEOUT_MS, "timeoutMs")?;
        Ok(LookupOptions { limit, timeout_ms })
    }
}

/// A timeout in milliseconds: 1 ms to 10 minutes, `default` for `None`.
pub fn checked_timeout(value: Option<u64>, default: u32, name: &str) -> Result<u32> {
    const MAX_MS: u64 = 600_000;
    match value {
        None => Ok(default),
        Some(ms) if (1..=MAX_MS).contains(&ms) => Ok(ms as u32),
        Some(ms) => Err(Error::InvalidArgument(format!(
            "{name} must be from 1 to {MAX_MS} ms, not {ms}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBRTC: &str = "/ip4/127.0.0.1/udp/4001/webrtc-direct/certhash/uEiAbc/p2p/12D3KooWA";
    const WS: &str = "/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWA";
    const TCP: &str = "/ip4/127.0.0.1/tcp/4003/p2p/12D3KooWA";

    #[test]
    fn transports_are_recognised_by_their_components() {
        assert_eq!(
            TransportKind::of_address(WEBRTC),
            Some(TransportKind::WebRtcDirect)
        );
        assert_eq!(
            TransportKind::of_address(WS),
            Some(TransportKind::WebSocket)
        );
        assert_eq!(
            TransportKind::of_address("/dns4/x/tcp/443/wss/p2p/A"),
            Some(TransportKind::WebSocket)
        );
        assert_eq!(TransportKind::of_address(TCP), None);
        // A circuit counts as the transport to its relay, not as what follows it.
        let circuit = format!("{WS}/p2p-circuit/p2p/12D3KooWB");
        assert_eq!(
            TransportKind::of_address(&circuit),
            Some(TransportKind::WebSocket)
        );
        // "ws" inside another component is not the ws protocol.
        assert_eq!(TransportKind::of_address("/dns4/ws.example/tcp/1"), None);
    }

    #[test]
    fn transport_names_round_trip_and_unknown_names_are_typed_errors() {
        for kind in TransportKind::ALL {
            assert_eq!(TransportKind::parse(kind.name()), Ok(kind));
        }
        let error = TransportKind::parse("quic").unwrap_err();
        assert_eq!(error.code(), "unsupported_transport");
    }

    #[test]
    fn addresses_follow_the_preference_with_fallback() {
        let addrs = vec![TCP.to_string(), WS.to_string(), WEBRTC.to_string()];
        // WebSocket first by default.
        let picked = pick_addresses(&addrs, &TransportKind::ALL, false);
        assert_eq!(picked, vec![(TransportKind::WebSocket, WS.to_string())]);
        let picked = pick_addresses(&addrs, &[TransportKind::WebRtcDirect], false);
        assert_eq!(
            picked,
            vec![(TransportKind::WebRtcDirect, WEBRTC.to_string())]
        );
        let only_ws = vec![WS.to_string()];
        assert_eq!(
            pick_addresses(&only_ws, &TransportKind::ALL, false)[0].0,
            TransportKind::WebSocket
        );
        assert!(pick_addresses(&[TCP.to_string()], &TransportKind::ALL, false).is_empty());
    }

    #[test]
    fn an_https_page_skips_plain_websockets_to_other_hosts() {
        let remote_ws = "/dns4/dht.example/tcp/443/ws/p2p/12D3KooWA".to_string();
        let remote_wss = "/dns4/dht.example/tcp/443/wss/p2p/12D3KooWA".to_string();
        let remote_tls = "/dns4/dht.example/tcp/443/tls/ws/p2p/12D3KooWA".to_string();
        let addrs = vec![remote_ws.clone(), WEBRTC.to_string()];
        // Plain ws:// to another host: the https page falls back to WebRTC-direct.
        assert_eq!(
            pick_addresses(&addrs, &TransportKind::ALL, true),
            vec![(TransportKind::WebRtcDirect, WEBRTC.to_string())]
        );
        assert_eq!(
            pick_addresses(&addrs, &TransportKind::ALL, false)[0],
            (TransportKind::WebSocket, remote_ws)
        );
        for usable in [remote_wss, remote_tls, WS.to_string()] {
            let picked = pick_addresses(std::slice::from_ref(&usable), &TransportKind::ALL, true);
            assert_eq!(picked, vec![(TransportKind::WebSocket, usable)]);
        }
    }

    #[test]
    fn bootstrap_info_is_checked() {
        let body = format!(
            r#"{{"peerId":"12D3KooWA","addrs":["/ip4/1.2.3.4/tcp/1/ws"],"protocol":"{KAD_PROTOCOL}"}}"#
        );
        let info = BootstrapInfo::from_json(body.as_bytes()).expect("valid");
        assert_eq!(info.peer_id, "12D3KooWA");
        assert_eq!(info.addrs.len(), 1);
        for other in ["/ipfs/kad/1.0.0", "/casweb/kad/1.0.0"] {
            let body = format!(r#"{{"peerId":"A","addrs":[],"protocol":"{other}"}}"#);
            assert_eq!(
                BootstrapInfo::from_json(body.as_bytes())
                    .unwrap_err()
                    .code(),
                "version_mismatch"
            );
        }
        assert_eq!(
            BootstrapInfo::from_json(b"<html>").unwrap_err().code(),
            "invalid_argument"
        );
    }

    #[test]
    fn lookup_options_have_defaults_and_bounds() {
        assert_eq!(LookupOptions::new(None, None), Ok(LookupOptions::default()));
        assert_eq!(
            LookupOptions::new(Some(1), Some(50)),
            Ok(LookupOptions {
                limit: 1,
                timeout_ms: 50
            })
        );
        for (limit, timeout) in [
            (Some(0), None),
            (Some(1001), None),
            (None, Some(0)),
            (None, Some(600_001)),
        ] {
            assert_eq!(
                LookupOptions::new(limit, timeout).unwrap_err().code(),
                "invalid_argument"
            );
        }
    }
}
