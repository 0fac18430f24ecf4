//! The `casweb-server` binary: parses the command line and runs `serve`, `p2p` or `token create`.

use std::process::ExitCode;

use clap::Parser;

use casweb_server::config::{Cli, Command, TokenCommand};
use casweb_server::tokens::{encode_token, TokenStore};

fn main() -> ExitCode {
    let cli = Cli::parse();
    casweb_server::logging::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
            .and_then(|runtime| runtime.block_on(casweb_server::server::serve(args))),
        Command::Token(TokenCommand::Create { realm, data_dir }) => create_token(&realm, &data_dir),
        Command::P2p(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
            .and_then(|runtime| runtime.block_on(casweb_server::server::serve_p2p_only(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("casweb-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn create_token(realm: &str, data_dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    let tokens = TokenStore::open(data_dir)
        .map_err(|e| format!("cannot read tokens in {}: {e}", data_dir.display()))?;
    let token = tokens
        .create(realm)
        .map_err(|e| format!("cannot create a token: {e}"))?;
    println!("{}", encode_token(&token));
    Ok(())
}
