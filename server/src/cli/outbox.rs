//! `hygie outbox`: the development outbox (mail and SMS written to DATA_DIR/outbox) and the
//! queue's state.

use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::outbox::{self, DevOutbox};
use hygie_server::config::Config;

use super::recorded;

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// List the messages in the development outbox (DATA_DIR/outbox) and the queue's state.
    List,
    /// Print one message of the development outbox.
    Show {
        /// The message number, as given by `hygie outbox list`.
        id: i64,
    },
}

pub async fn run(command: OutboxCommand, config: &Config) -> super::Outcome {
    let dev = DevOutbox::new(config.outbox_dir());
    match command {
        OutboxCommand::List => {
            let entries = dev.list().map_err(|e| format!("cannot read {}: {e}", dev.dir().display()))?;
            if entries.is_empty() {
                println!("the development outbox ({}) is empty", dev.dir().display());
            }
            for e in &entries {
                println!(
                    "{:>6}  {}  {:<5}  {:<28}  {}",
                    e.id,
                    e.date,
                    e.channel,
                    e.to,
                    e.subject.as_deref().unwrap_or(&e.category)
                );
            }
            // The queue is a bonus: the outbox is readable without a database.
            if let Ok(db) = hygie_server::open_database(config).await {
                if let Ok(s) = outbox::stats(&db).await {
                    println!("queue: {} pending, {} sent, {} failed", s.pending, s.sent, s.failed);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Show { id } => {
            let found = dev.get(id).map_err(|e| e.to_string())?;
            if let Ok(db) = hygie_server::open_database(config).await {
                let outcome = if found.is_some() { Outcome::Success } else { Outcome::Failure("not_found".into()) };
                recorded(&db, "operator.outbox.show", Some(format!("outbox:{id}")), outcome).await?;
            }
            match found {
                Some(e) => {
                    print!("{}", std::fs::read_to_string(&e.path).map_err(|err| err.to_string())?);
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(format!("no message {id} in the development outbox ({})", dev.dir().display())),
            }
        }
    }
}
