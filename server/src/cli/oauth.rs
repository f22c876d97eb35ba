//! `hygie oauth`: the software that may ask holders for access to their mailbox.

use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::auth::oauth;
use hygie_core::clock::SystemClock;
use hygie_server::config::Config;

use super::{open, operator};

#[derive(Subcommand)]
pub enum OAuthCommand {
    /// Register a mail client or a business software that runs on the professional's computer
    /// (a public client: the device grant, and with --redirect-uri the authorization code grant
    /// with PKCE). Prints its client_id, to configure in the software.
    AddClient {
        /// The name holders see when they approve it ("Thunderbird", "Logiciel du cabinet").
        name: String,
        /// Where the browser may bring the authorization code back, exactly; a loopback one
        /// (`http://127.0.0.1/path`, `http://[::1]/path`) with any port (RFC 8252 §7.3). Also
        /// `https://…` or a private-use scheme (`fr.editeur.logiciel:/oauth`). Repeatable.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
    },
    /// Register the server of an applicative (APP) or organisational (ORG) mailbox: a
    /// confidential client that gets access tokens for that mailbox alone with the client
    /// credentials grant. Prints its client_id, then its secret (shown this once: give it to
    /// the server's administrator over a safe channel).
    AddServiceClient {
        /// The name the mailbox's holder sees among the connected software.
        name: String,
        /// The APP or ORG mailbox address.
        #[arg(long)]
        account: String,
    },
    /// The registered clients.
    Clients,
}

pub async fn run(command: OAuthCommand, config: &Config) -> super::Outcome {
    let db = open(config).await?;
    match command {
        OAuthCommand::AddClient { name, redirect_uris } => {
            let c = oauth::register_native_client(&db, &SystemClock, &name, &redirect_uris, operator()).await.map_err(
                |e| match e {
                    oauth::OAuthError::InvalidRequest("redirect_uri") => {
                        "client not registered: a redirect URI must be \
                        https://…, http://127.0.0.1/…, http://[::1]/…, http://localhost/… or a private-use scheme, \
                        without fragment"
                            .to_string()
                    }
                    e => format!("client not registered: {e}"),
                },
            )?;
            println!("{}", c.client_id);
            Ok(ExitCode::SUCCESS)
        }
        OAuthCommand::AddServiceClient { name, account } => {
            let c =
                oauth::register_service_client(&db, &SystemClock, &name, &account, operator()).await.map_err(|e| {
                    match e {
                        oauth::OAuthError::InvalidRequest("account") => {
                            format!("{account} is not an applicative or organisational mailbox of this instance")
                        }
                        e => format!("client not registered: {e}"),
                    }
                })?;
            println!("client_id     {}", c.client.client_id);
            println!("client_secret {}", c.client_secret);
            Ok(ExitCode::SUCCESS)
        }
        OAuthCommand::Clients => {
            for c in oauth::clients(&db).await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", c.client_id, c.kind, c.name);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
