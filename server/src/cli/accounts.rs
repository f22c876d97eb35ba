//! `hygie accounts`: create one, import a registration authority's file, unlock, reset terminals.

use std::path::PathBuf;
use std::process::ExitCode;

use app::domain::account::{AccountInput, NewAccount};
use clap::Subcommand;
use hygie_core::audit::Outcome;
use hygie_core::clock::SystemClock;
use hygie_server::config::Config;

use super::{open, operator, progress, recorded};

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Create one account; an activation link (single use, 72 h) goes to its notification email.
    Create(CreateAccountArgs),
    /// Import a registration authority's CSV file of professionals authorised by law (columns:
    /// adresse;type_bal;nom;prenom;autorite;fonction;email_notification;mobile). Good lines are
    /// imported, bad ones reported by number; running it again creates nothing twice.
    Import {
        /// The CSV file (UTF-8, `;` or `,` separated, with a header line).
        file: PathBuf,
    },
    /// Unlock an account locked after too many failed sign-ins.
    Unlock {
        /// The secure mailbox address.
        address: String,
    },
    /// Remove every terminal (passkeys, authenticator apps) and recovery code of an account and
    /// end its sessions, for a holder who lost them all: check who is asking out of band first.
    /// Sign-in and password reset then use the codes by SMS or email again; the holder is told.
    ResetTerminals {
        /// The secure mailbox address.
        address: String,
    },
}

#[derive(clap::Args)]
pub struct CreateAccountArgs {
    /// The secure mailbox address, on one of the configured domains.
    #[arg(long)]
    address: String,
    /// personal (PER), organisational (ORG) or applicative (APP).
    #[arg(long = "type", default_value = "personal")]
    mailbox_type: String,
    #[arg(long, default_value = "")]
    last_name: String,
    #[arg(long, default_value = "")]
    first_name: String,
    /// Health professionals: RPPS (11 digits) or ADELI (9 characters).
    #[arg(long = "id", default_value = "")]
    professional_id: String,
    #[arg(long, default_value = "")]
    profession: String,
    #[arg(long, default_value = "")]
    specialty: String,
    #[arg(long = "place", default_value = "")]
    practice_place: String,
    /// Other professionals: the registration authority.
    #[arg(long, default_value = "")]
    authority: String,
    /// Other professionals: their role.
    #[arg(long, default_value = "")]
    role: String,
    /// Where codes and notifications go: an ordinary mailbox outside the trust space.
    #[arg(long)]
    notification_email: String,
    /// Mobile number for SMS codes (06…, 07… or +country code).
    #[arg(long, default_value = "")]
    mobile: String,
}

impl From<CreateAccountArgs> for AccountInput {
    fn from(a: CreateAccountArgs) -> AccountInput {
        AccountInput {
            address: a.address,
            mailbox_type: a.mailbox_type,
            last_name: a.last_name,
            first_name: a.first_name,
            professional_id: a.professional_id,
            profession: a.profession,
            specialty: a.specialty,
            practice_place: a.practice_place,
            authority: a.authority,
            role: a.role,
            notification_email: a.notification_email,
            mobile: a.mobile,
        }
    }
}

pub async fn run(command: AccountsCommand, config: &Config) -> super::Outcome {
    let db = open(config).await?;
    match command {
        AccountsCommand::Create(args) => {
            let input = AccountInput::from(args);
            let trust_space = hygie_core::trust_space::all(&db).await.map_err(|e| e.to_string())?;
            let account = NewAccount::parse(&input, &config.domains, |d| trust_space.contains(&d.to_lowercase()))
                .map_err(|errors| format!("account refused: {}", hygie_server::accounts::describe(&errors)))?;
            let record = hygie_server::accounts::to_record(&account);
            let created =
                hygie_core::accounts::create_and_invite(&db, &SystemClock, &operator(), &record, &config.public_url())
                    .await
                    .map_err(|e| e.to_string())?;
            match created {
                hygie_core::accounts::Created::New(id) => println!(
                    "account {id} created for {}; activation link sent to its notification email",
                    record.address
                ),
                hygie_core::accounts::Created::Existing(id) => {
                    println!("account {id} already exists for {}: unchanged", record.address)
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Import { file } => {
            let bar =
                progress(hygie_server::accounts::count_lines(&file), "{bar:40} {pos}/{len} lines  {elapsed_precise}");
            let report = hygie_server::accounts::import(&db, &SystemClock, config, &operator(), &file, &bar)
                .await
                .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            for (line, reason) in &report.rejected {
                eprintln!("line {line}: {reason}");
            }
            println!(
                "{} imported, {} already present, {} rejected",
                report.imported,
                report.existing,
                report.rejected.len()
            );
            recorded(&db, "operator.accounts.import", None, Outcome::Success).await?;
            Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        AccountsCommand::ResetTerminals { address } => {
            let account = hygie_core::accounts::find_by_address(&db, &address)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account {address}"))?;
            let removed = hygie_core::auth::terminals::reset_by_operator(&db, &SystemClock, account.id, operator())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "account {}: {removed} terminal(s) and its recovery codes removed, its sessions ended; \
                 the holder was told at their notification address",
                account.address
            );
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Unlock { address } => {
            let account = hygie_core::accounts::find_by_address(&db, &address)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account {address}"))?;
            let was_locked = account.locked_ms.is_some();
            hygie_core::auth::signin::unlock(&db, account.id).await.map_err(|e| e.to_string())?;
            recorded(&db, "account.unlock", Some(format!("account:{}", account.id)), Outcome::Success).await?;
            if was_locked {
                println!("account {} unlocked; its failure count is back to 0", account.address);
            } else {
                println!("account {} was not locked; its failure count is back to 0", account.address);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
