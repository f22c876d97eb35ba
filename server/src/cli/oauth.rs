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
    /// (a public client: the device grant). Prints its client_id, to configure in the software.
    AddClient {
        /// The name holders see when they approve it ("Thunderbird", "Logiciel du cabinet").
        name: String,
    },
    /// The registered clients.
    Clients,
}

pub async fn run(command: OAuthCommand, config: &Config) -> super::Outcome {
    let db = open(config).await?;
    match command {
        OAuthCommand::AddClient { name } => {
            let c = oauth::register_public_client(&db, &SystemClock, &name, operator())
                .await
                .map_err(|e| format!("client not registered: {e}"))?;
            println!("{}", c.client_id);
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
