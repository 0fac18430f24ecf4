//! Starting the server: open the backend (`--store`), set up the realm for `--dev`, bind, print the
//! address lines tests and people read, and serve until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::backend::{self, Backend};
use crate::clock::{Clock, FileClock, SystemClock};
use crate::config::{P2pOnlyArgs, ServeArgs};
use crate::fault::FaultInjector;
use crate::p2p::{self, P2pConfig, P2pHandle, ServedNodes};
use crate::routes::{self, DEV_REALM};
use crate::state::AppState;
use crate::tokens::{encode_token, Token};

/// A server that is bound and ready: [`Prepared::run`] serves until a shutdown signal.
pub struct Prepared {
    listener: TcpListener,
    app: axum::Router,
    /// The address actually bound (port 0 resolved).
    pub address: SocketAddr,
    /// The realm token of realm `demo`, with `--dev` (printed for the developer's backend or
    /// curl; pages get access tokens from `GET /api/dev`).
    pub dev_token: Option<Token>,
    /// The libp2p node, unless `--no-p2p`.
    pub p2p: Option<P2pHandle>,
}

/// Runs `serve` until a shutdown signal, printing the address lines; errors are ready to print.
pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let prepared = prepare(&args).await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{}", prepared.address);
    if let Some(token) = &prepared.dev_token {
        let _ = writeln!(out, "realm: {DEV_REALM}");
        let _ = writeln!(out, "token: {}", encode_token(token));
        let _ = writeln!(out, "open: http://{}/", prepared.address);
    }
    if let Some(p2p) = &prepared.p2p {
        print_p2p_lines(&mut out, p2p);
    }
    let _ = out.flush();
    drop(out);
    prepared.run().await
}

/// Opens the data directory, sets up `--dev`, builds the app and binds the listener.
pub async fn prepare(args: &ServeArgs) -> Result<Prepared, String> {
    let data_dir = &args.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    let Backend { nodes, tokens } = backend::open(&args.store, data_dir).await?;
    let dev_token = if args.dev {
        let token = match tokens.realm_token_of(DEV_REALM).await {
            Some(token) => token,
            None => tokens
                .create_realm_token(DEV_REALM)
                .await
                .map_err(|e| format!("cannot create the {DEV_REALM} token: {e}"))?,
        };
        Some(token)
    } else {
        None
    };
    let clock: Arc<dyn Clock> = match &args.test_clock_file {
        Some(path) => Arc::new(FileClock { path: path.clone() }),
        None => Arc::new(SystemClock),
    };
    let p2p = if args.no_p2p {
        None
    } else {
        Some(
            p2p::start(
                P2pConfig {
                    served_nodes: args.serve_blocks.then(|| ServedNodes(nodes.clone())),
                    ..args.p2p.config()
                },
                Some(data_dir),
            )
            .await
            .map_err(|e| e.to_string())?,
        )
    };
    let state = AppState {
        store: nodes,
        tokens: Arc::new(tokens),
        clock,
        limits: args.limits(),
        fault: Arc::new(FaultInjector::new(args.fault_503_percent)),
        dev_token_ttl: args.dev.then_some(args.dev_token_ttl),
        p2p: p2p.clone(),
        metrics: Arc::default(),
    };
    let app = routes::router(state, args.www.as_deref(), &args.cors_origins);
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    Ok(Prepared {
        listener,
        app,
        address,
        dev_token,
        p2p,
    })
}

/// Prints the node's peer id and one `p2p addr:` line per dialable address.
fn print_p2p_lines(out: &mut impl std::io::Write, p2p: &P2pHandle) {
    let info = p2p.info();
    let _ = writeln!(out, "p2p peer: {}", info.peer_id);
    for addr in &info.addrs {
        let _ = writeln!(out, "p2p addr: {addr}");
    }
}

/// Runs `p2p`: only the libp2p node, until Ctrl-C or SIGTERM.
pub async fn serve_p2p_only(args: P2pOnlyArgs) -> Result<(), String> {
    if let Some(dir) = &args.data_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    }
    let p2p = p2p::start(args.p2p.config(), args.data_dir.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    print_p2p_lines(&mut out, &p2p);
    let _ = out.flush();
    drop(out);
    shutdown_signal().await;
    Ok(())
}

impl Prepared {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> Result<(), String> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
