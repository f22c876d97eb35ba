//! `hygie mail`: import existing mail into an account.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::clock::SystemClock;
use hygie_server::config::Config;

use super::{open, recorded};

#[derive(Subcommand)]
pub enum MailCommand {
    /// Import existing mail into an account: an mbox file, or a Maildir directory (its Seen
    /// flags kept). Messages are stored as they are and become searchable.
    Import {
        /// The secure mailbox address.
        #[arg(long)]
        account: String,
        /// inbox, archive or sent.
        #[arg(long, default_value = "inbox")]
        folder: String,
        path: PathBuf,
    },
}

pub async fn run(command: MailCommand, config: &Config) -> super::Outcome {
    match command {
        MailCommand::Import { account, folder, path } => {
            if !["inbox", "archive", "sent"].contains(&folder.as_str()) {
                return Err(format!("--folder {folder}: expected inbox, archive or sent"));
            }
            let db = open(config).await?;
            let holder = hygie_core::accounts::find_by_address(&db, &account)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account {account}"))?;
            let report = hygie_server::mail_import::import(&db, &SystemClock, holder.id, &folder, &path)
                .await
                .map_err(|e| e.to_string())?;
            let object = format!("account:{} stored:{} skipped:{}", holder.id, report.stored, report.skipped);
            recorded(&db, "mail.import", Some(object), Outcome::Success).await?;
            println!(
                "{} message(s) imported into {account} ({folder}), {} skipped (already there or unreadable)",
                report.stored, report.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
