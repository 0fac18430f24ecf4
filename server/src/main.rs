//! The `casweb-server` binary: parses the command line and runs `serve`, `p2p` or `token
//! create|list|revoke`.

use std::process::ExitCode;

use clap::Parser;

use casweb_server::backend::open_tokens;
use casweb_server::clock::{format_utc, unix_now};
use casweb_server::config::{Cli, Command, TokenCommand};
use casweb_server::tokens::{encode_admin_token, encode_token, Scope, TokenInfo};

fn main() -> ExitCode {
    let cli = Cli::parse();
    casweb_server::logging::init(cli.log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| {
            runtime.block_on(async {
                match cli.command {
                    Command::Serve(args) => casweb_server::server::serve(args).await,
                    Command::Token(command) => token_command(command).await,
                    Command::P2p(args) => casweb_server::server::serve_p2p_only(args).await,
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("casweb-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn token_command(command: TokenCommand) -> Result<(), String> {
    match command {
        TokenCommand::Create {
            realm,
            scope,
            ttl,
            admin,
            data_dir,
            store,
        } => {
            let tokens = open_tokens(&store, &data_dir).await?;
            let failed = |e: std::io::Error| format!("cannot create a token: {e}");
            let text = match (admin, realm, scope.as_deref().and_then(Scope::parse)) {
                (true, _, _) => {
                    encode_admin_token(&tokens.create_admin_token().await.map_err(failed)?)
                }
                (false, Some(realm), Some(scope)) => tokens
                    .mint(&realm, scope, ttl, unix_now())
                    .await
                    .map_err(failed)?
                    .token
                    .text()
                    .to_owned(),
                (false, Some(realm), None) => {
                    encode_token(&tokens.create_realm_token(&realm).await.map_err(failed)?)
                }
                (false, None, _) => return Err("--realm or --admin is required".into()),
            };
            println!("{text}");
            Ok(())
        }
        TokenCommand::List {
            realm,
            data_dir,
            store,
        } => {
            let tokens = open_tokens(&store, &data_dir).await?;
            let now = unix_now();
            println!(
                "ID                KIND    REALM             SCOPE  EXPIRES               STATUS"
            );
            for info in tokens.list(realm.as_deref(), now).await {
                println!("{}", list_line(&info));
            }
            Ok(())
        }
        TokenCommand::Revoke {
            id,
            data_dir,
            store,
        } => {
            let tokens = open_tokens(&store, &data_dir).await?;
            match tokens.revoke(&id).await {
                Ok(Some(info)) => {
                    println!("revoked {} ({} token)", info.id, info.kind.as_str());
                    Ok(())
                }
                Ok(None) => Err(format!("no token {id:?} (see `casweb-server token list`)")),
                Err(e) => Err(format!("cannot revoke: {e}")),
            }
        }
    }
}

/// One row of `token list`.
fn list_line(info: &TokenInfo) -> String {
    format!(
        "{:<17} {:<7} {:<17} {:<6} {:<21} {}",
        info.id,
        info.kind.as_str(),
        info.realm.as_deref().unwrap_or("-"),
        info.scope.map_or("-", Scope::as_str),
        info.expires.map_or_else(|| "-".to_owned(), format_utc),
        if info.revoked { "revoked" } else { "active" }
    )
}
