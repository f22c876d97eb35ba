//! `hygie audit`: check the chain, show the newest records.

use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::{self, Outcome};
use hygie_core::clock::format_utc;
use hygie_server::config::Config;

use super::{open, recorded};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; names the first broken record. Exit status 1 if broken.
    Verify,
    /// Show the newest records.
    Tail {
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        count: i64,
    },
}

pub async fn run(command: AuditCommand, config: &Config) -> super::Outcome {
    let db = open(config).await?;
    match command {
        AuditCommand::Verify => {
            let report = audit::verify(&db).await.map_err(|e| e.to_string())?;
            let outcome = match &report.first_break {
                None => Outcome::Success,
                Some(b) => Outcome::Failure(format!("broken_at:{}", b.seq)),
            };
            recorded(&db, "operator.audit.verify", None, outcome).await?;
            match report.first_break {
                None => {
                    println!("audit trail intact: {} records verified", report.records);
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!("audit trail BROKEN at record #{}: {}", b.seq, b.reason);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Tail { count } => {
            recorded(&db, "operator.audit.tail", None, Outcome::Success).await?;
            for r in audit::latest(&db, count).await.map_err(|e| e.to_string())?.into_iter().rev() {
                println!(
                    "#{:<6} {}  {:<24} {:<16} {:<32} {:<20} {}",
                    r.seq,
                    format_utc(r.at_ms),
                    // A record's text may come from outside (a user agent, a name): it never
                    // reaches the terminal as control characters.
                    audit::printable(&r.actor),
                    audit::printable(r.ip.as_deref().unwrap_or("-")),
                    audit::printable(&r.action),
                    audit::printable(r.object.as_deref().unwrap_or("-")),
                    audit::printable(&r.outcome)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
