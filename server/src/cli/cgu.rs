//! `hygie cgu`: publish a version of the terms of use, list the versions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::clock::SystemClock;
use hygie_core::terms;
use hygie_server::config::Config;

use super::{open, recorded};

#[derive(Subcommand)]
pub enum CguCommand {
    /// Publish a new version from a Markdown file with a front matter (version, date, title).
    /// Every account holder is told at their notification email and must accept it at their
    /// next sign-in.
    Publish { file: PathBuf },
    /// List the published versions.
    List,
}

pub async fn run(command: CguCommand, config: &Config) -> super::Outcome {
    match command {
        CguCommand::Publish { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let doc = terms::TermsDocument::parse(&text).map_err(|e| format!("{} refused: {e}", file.display()))?;
            let db = open(config).await?;
            terms::sync_bundled(&db, &SystemClock).await.map_err(|e| e.to_string())?;
            let told =
                terms::publish(&db, &SystemClock, &doc, &config.public_url()).await.map_err(|e| e.to_string())?;
            let object = Some(format!("terms:{}", doc.version));
            match told {
                Some(told) => {
                    recorded(&db, "terms.publish", object, Outcome::Success).await?;
                    println!("terms version {} published; {told} account holder(s) notified", doc.version);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    recorded(&db, "terms.publish", object, Outcome::Failure("not_newer".into())).await?;
                    Err(format!("version {} is not newer than the published versions: nothing done", doc.version))
                }
            }
        }
        CguCommand::List => {
            let db = open(config).await?;
            for v in terms::list(&db).await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", v.doc.version, v.doc.date, v.doc.title);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
