//! `hygie trust-space`: the whitelist of the MSSanté trust space's domains.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::clock::SystemClock;
use hygie_core::trust_space;
use hygie_server::config::Config;

use super::{open, recorded};

#[derive(Subcommand)]
pub enum TrustSpaceCommand {
    /// Replace the whitelist with the domains of the national XML file (Domaine/Nom elements).
    /// A file that does not parse or holds no domain changes nothing.
    Import { file: PathBuf },
    /// How many domains are in force, and whether DOMAIN is one of them.
    Check { domain: Option<String> },
}

pub async fn run(command: TrustSpaceCommand, config: &Config) -> super::Outcome {
    match command {
        TrustSpaceCommand::Import { file } => {
            let f = std::fs::File::open(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let db = open(config).await?;
            let domains = match trust_space::parse(std::io::BufReader::new(f)) {
                Ok(d) => d,
                Err(e) => {
                    recorded(&db, "trust_space.import", None, Outcome::Failure("refused".into())).await?;
                    return Err(format!("{} refused, the previous list stays in force: {e}", file.display()));
                }
            };
            let n = trust_space::replace(&db, &SystemClock, &domains).await.map_err(|e| e.to_string())?;
            recorded(&db, "trust_space.import", Some(format!("domains:{n}")), Outcome::Success).await?;
            println!("trust space: {n} domains in force");
            Ok(ExitCode::SUCCESS)
        }
        TrustSpaceCommand::Check { domain } => {
            let db = open(config).await?;
            let n = trust_space::count(&db).await.map_err(|e| e.to_string())?;
            println!("trust space: {n} domains in force");
            if let Some(d) = domain {
                let inside = config.domains.iter().any(|x| x.eq_ignore_ascii_case(&d))
                    || trust_space::contains(&db, &d).await.map_err(|e| e.to_string())?;
                println!("{d}: {}", if inside { "in the trust space" } else { "outside the trust space" });
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
