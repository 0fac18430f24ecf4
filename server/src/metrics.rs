//! What an operator watches, in Prometheus' text format at `GET /metrics`: requests by route and
//! status, their latencies (a histogram per route), nodes stored, nodes and bytes uploaded and
//! claims accepted since start, live tokens by kind (realm, admin, and access tokens neither
//! expired nor revoked), and the DHT's connected peers and provider records.
//!
//! Counters live here, updated by `request_log` and the write routes; gauges are read when
//! scraped (from the database, the token store and the libp2p node).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or under each bucket's bound (not cumulative; made so when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    nodes_written: AtomicU64,
    bytes_written: AtomicU64,
    claims: AtomicU64,
    nodes_served: AtomicU64,
}

/// Values read when `/metrics` is scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub nodes_stored: u64,
    pub tokens: crate::tokens::Counts,
    /// With the libp2p node: connected peers, provider records held for others and their bytes.
    pub dht: Option<DhtGauges>,
}

/// The libp2p node's numbers.
#[derive(Debug, Default, Clone, Copy)]
pub struct DhtGauges {
    pub peers: u64,
    pub records: u64,
    pub record_bytes: u64,
    /// Provider records refused, capped or evicted since start.
    pub records_capped: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    /// One answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let mut latency = lock(&self.latency);
        let histogram = latency.entry(route.to_owned()).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Nodes an upload made owned by their realm, and their bytes.
    pub fn uploaded(&self, nodes: u64, bytes: u64) {
        self.nodes_written.fetch_add(nodes, Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Claims accepted (the realm did not own the node before).
    pub fn claims_accepted(&self, claims: u64) {
        self.claims.fetch_add(claims, Ordering::Relaxed);
    }

    /// Nodes answered by a many-nodes `get`.
    pub fn served(&self, nodes: u64) {
        self.nodes_served.fetch_add(nodes, Ordering::Relaxed);
    }

    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        metric(
            "casweb_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route and status.",
        );
        let requests = lock(&self.requests).clone();
        let latency = lock(&self.latency).clone();
        for ((method, route, status), count) in &requests {
            let _ = writeln!(
                out,
                "casweb_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP casweb_http_request_duration_seconds Time to answer an HTTP request, by route.\n\
             # TYPE casweb_http_request_duration_seconds histogram"
        );
        for (route, histogram) in &latency {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "casweb_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "casweb_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 casweb_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 casweb_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        let mut value = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        value(
            "casweb_nodes_stored",
            "gauge",
            "Distinct nodes in the database.",
            gauges.nodes_stored,
        );
        value(
            "casweb_uploaded_nodes_total",
            "counter",
            "Nodes uploads made owned by their realm since start.",
            self.nodes_written.load(Ordering::Relaxed),
        );
        value(
            "casweb_uploaded_bytes_total",
            "counter",
            "Bytes of those nodes.",
            self.bytes_written.load(Ordering::Relaxed),
        );
        value(
            "casweb_claims_total",
            "counter",
            "Claims accepted (proofs of possession) since start.",
            self.claims.load(Ordering::Relaxed),
        );
        value(
            "casweb_get_nodes_total",
            "counter",
            "Nodes served by many-nodes get requests since start.",
            self.nodes_served.load(Ordering::Relaxed),
        );
        if let Some(dht) = gauges.dht {
            value(
                "casweb_dht_peers",
                "gauge",
                "Peers connected to the libp2p node.",
                dht.peers,
            );
            value(
                "casweb_dht_provider_records",
                "gauge",
                "Provider records held for other peers.",
                dht.records,
            );
            value(
                "casweb_dht_provider_record_bytes",
                "gauge",
                "Bytes those provider records take.",
                dht.record_bytes,
            );
            value(
                "casweb_dht_provider_records_capped_total",
                "counter",
                "Provider records refused, capped or evicted since start.",
                dht.records_capped,
            );
        }
        let _ = writeln!(
            out,
            "# HELP casweb_tokens Live tokens by kind: realm and admin tokens not revoked, access \
             tokens minted here neither expired nor revoked.\n\
             # TYPE casweb_tokens gauge\n\
             casweb_tokens{{kind=\"realm\"}} {}\n\
             casweb_tokens{{kind=\"admin\"}} {}\n\
             casweb_tokens{{kind=\"access\"}} {}",
            gauges.tokens.realm, gauges.tokens.admin, gauges.tokens.access
        );
        out
    }
}

/// A label value with `\` and `"` escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::default();
        metrics.observe_request("GET", "/api/info", 200, 0.002);
        metrics.observe_request("GET", "/api/info", 200, 0.3);
        metrics.uploaded(3, 300);
        metrics.served(5);
        let text = metrics.render(&Gauges {
            nodes_stored: 7,
            tokens: crate::tokens::Counts {
                realm: 2,
                admin: 1,
                access: 5,
            },
            dht: None,
        });
        assert!(text.contains(
            "casweb_http_requests_total{method=\"GET\",route=\"/api/info\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "casweb_http_request_duration_seconds_bucket{route=\"/api/info\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "casweb_http_request_duration_seconds_bucket{route=\"/api/info\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("casweb_nodes_stored 7\n"));
        assert!(text.contains("casweb_uploaded_bytes_total 300\n"));
        assert!(text.contains("casweb_get_nodes_total 5\n"));
        assert!(text.contains("casweb_tokens{kind=\"realm\"} 2\n"));
        assert!(text.contains("casweb_tokens{kind=\"access\"} 5\n"));
        assert!(!text.contains("casweb_dht_peers"));
    }
}
