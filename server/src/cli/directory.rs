//! `hygie directory`: the national extract of correspondents (import, status) and the tools to
//! generate and time one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::clock::{format_utc, SystemClock};
use hygie_core::directory;
use hygie_server::config::Config;

use super::{open, progress, recorded};

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Replace the remote correspondents with those of the national extract ("Extraction
    /// correspondance MSSanté", `|`-separated, 31 columns). Malformed lines are listed by number
    /// and skipped; searches keep working during the import and switch to the new extract at
    /// the end. Hygie's own accounts and their choices are not touched.
    Import { file: PathBuf },
    /// What the directory holds.
    Status,
    /// Write a generated extract of LINES lines (tests and benchmarks).
    #[command(hide = true)]
    Sample {
        #[arg(long)]
        lines: u64,
        /// One malformed line in every N (0: none).
        #[arg(long, default_value_t = 100)]
        malformed_every: u64,
        file: PathBuf,
    },
    /// Time QUERIES name-prefix searches (2 to 5 letters of names in the directory) and
    /// specialty + place searches against the database; print p50/p99.
    #[command(hide = true)]
    Bench {
        #[arg(long, default_value_t = 1000)]
        queries: usize,
    },
}

pub async fn run(command: DirectoryCommand, config: &Config) -> super::Outcome {
    match command {
        DirectoryCommand::Import { file } => import(&file, config).await,
        DirectoryCommand::Status => {
            let db = open(config).await?;
            let s = directory::status(&db).await.map_err(|e| e.to_string())?;
            match s.imported_ms {
                Some(ms) => println!("national extract: {} entries, imported {}", s.national_entries, format_utc(ms)),
                None => println!("national extract: none imported"),
            }
            println!("published Hygie accounts: {}", s.published_accounts);
            Ok(ExitCode::SUCCESS)
        }
        DirectoryCommand::Bench { queries } => {
            let db = open(config).await?;
            hygie_server::directory_bench::run(&db, queries).await.map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        DirectoryCommand::Sample { lines, malformed_every, file } => {
            let f = std::fs::File::create(&file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let bad = directory::sample::write(&mut w, lines, malformed_every)
                .and_then(|bad| std::io::Write::flush(&mut w).map(|_| bad))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            println!("{}: {lines} lines, {} malformed", file.display(), bad.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn import(file: &std::path::Path, config: &Config) -> super::Outcome {
    let f = std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let db = open(config).await?;
    let bar = progress(size, "{bar:40} {percent:>3}%  {bytes}/{total_bytes}  {elapsed_precise}");
    let reader = std::io::BufReader::with_capacity(1 << 16, f);
    let result = directory::import(&db, &SystemClock, reader, &mut |bytes| bar.set_position(bytes)).await;
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            for p in &r.problems {
                println!("line {}: {}", p.line, p.problem);
            }
            if r.malformed > r.problems.len() as u64 {
                println!("... and {} more malformed lines", r.malformed - r.problems.len() as u64);
            }
            let object = format!("import:{} entries:{} malformed:{}", r.import_id, r.entries, r.malformed);
            recorded(&db, "directory.import", Some(object), Outcome::Success).await?;
            println!(
                "directory: {} entries imported from {} lines, {} malformed line(s) skipped; the new extract is in force",
                r.entries, r.lines, r.malformed
            );
            println!(
                "read and stored in {:.1} s, indexed in {:.1} s",
                r.load_time.as_secs_f64(),
                r.index_time.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            recorded(&db, "directory.import", None, Outcome::Failure("refused".into())).await?;
            Err(format!("{}: {e}; the directory is unchanged", file.display()))
        }
    }
}
