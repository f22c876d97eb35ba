//! "Mes terminaux": the holder's passkeys and authenticator apps. Adding or removing one needs a
//! sign-in less than five minutes old.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalView {
    pub id: i64,
    /// `passkey` or `totp` (an authenticator app).
    pub kind: String,
    pub name: String,
    /// UTC, ISO 8601.
    pub added: String,
    pub last_used: Option<String>,
    /// A passkey whose counter went backwards: it proves nothing until removed and added again.
    pub flagged: bool,
    /// A security key that does not verify its holder: after the password only.
    #[serde(default)]
    pub second_factor_only: bool,
}

/// A passkey ceremony begun: its id, and the options for the browser (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCeremony {
    pub id: String,
    pub options: String,
}

/// What the holder needs to add an authenticator app, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    pub id: i64,
    /// The QR code, an SVG drawn by the server.
    pub qr_svg: String,
    /// The same as a link, for an app on this very device.
    pub otpauth_url: String,
    /// The key to type by hand, in groups of four.
    pub manual_key: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSetup").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Codes one account may try per hour while adding an authenticator app.
pub const CONFIRM_ATTEMPTS_PER_HOUR: i64 = 30;

#[server(name = MyTerminals, prefix = "/api", endpoint = "my-terminals")]
pub async fn my_terminals() -> Result<Vec<TerminalView>, AppError> {
    use hygie_core::clock::format_utc;

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rows = hygie_core::auth::terminals::list(&svc.db, holder.account_id).await?;
    Ok(rows
        .into_iter()
        .map(|t| TerminalView {
            id: t.id,
            kind: t.kind,
            name: t.name,
            added: format_utc(t.created_ms),
            last_used: t.last_used_ms.map(format_utc),
            flagged: t.flagged_ms.is_some(),
            second_factor_only: t.second_factor_only,
        })
        .collect())
}

/// Starts adding an authenticator app named `name`.
#[server(name = StartTotp, prefix = "/api", endpoint = "terminal-totp-start")]
pub async fn start_totp(name: String) -> Result<TotpSetup, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let e = hygie_core::auth::terminals::start_totp(&svc.db, svc.clock.as_ref(), &holder, &name).await?;
    Ok(TotpSetup {
        id: e.terminal_id,
        qr_svg: e.qr_svg,
        otpauth_url: e.otpauth_url.to_string(),
        manual_key: e.manual_key.to_string(),
    })
}

/// Confirms the authenticator app `id` with the code it shows now. With the holder's first
/// terminal come ten recovery codes, returned here once (empty otherwise).
#[server(name = ConfirmTotp, prefix = "/api", endpoint = "terminal-totp-confirm")]
pub async fn confirm_totp(id: i64, code: String) -> Result<Vec<String>, AppError> {
    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let code = crate::api::code_shape(&code)?;
    limit_hourly(&svc, &format!("totp-confirm:{}", holder.account_id), CONFIRM_ATTEMPTS_PER_HOUR).await?;
    let codes = hygie_core::auth::terminals::confirm_totp(&svc.db, svc.clock.as_ref(), &holder, id, &code).await?;
    Ok(codes.unwrap_or_default().iter().map(|c| c.to_string()).collect())
}

/// Passkey ceremonies one account may begin per hour.
pub const PASSKEY_STARTS_PER_HOUR: i64 = 30;

/// Starts adding a passkey named `name`: the options for the browser's `credentials.create`.
#[server(name = StartPasskey, prefix = "/api", endpoint = "terminal-passkey-start")]
pub async fn start_passkey(name: String) -> Result<KeyCeremony, AppError> {
    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rp = svc.passkeys()?;
    limit_hourly(&svc, &format!("passkey-start:{}", holder.account_id), PASSKEY_STARTS_PER_HOUR).await?;
    let c = hygie_core::auth::passkeys::start_registration(&svc.db, svc.clock.as_ref(), rp, &holder, &name).await?;
    Ok(KeyCeremony { id: c.id, options: c.options })
}

/// Starts adding a security key that may not verify its holder (a USB or NFC key without a
/// PIN): it will prove sign-ins after the password only. Finished with [`finish_passkey`].
#[server(name = StartSecurityKey, prefix = "/api", endpoint = "terminal-securitykey-start")]
pub async fn start_security_key(name: String) -> Result<KeyCeremony, AppError> {
    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rp = svc.passkeys()?;
    limit_hourly(&svc, &format!("passkey-start:{}", holder.account_id), PASSKEY_STARTS_PER_HOUR).await?;
    let c =
        hygie_core::auth::passkeys::start_security_key_registration(&svc.db, svc.clock.as_ref(), rp, &holder, &name)
            .await?;
    Ok(KeyCeremony { id: c.id, options: c.options })
}

/// Finishes adding a passkey with the browser's answer. With the holder's first terminal come
/// ten recovery codes, returned here once (empty otherwise).
#[server(name = FinishPasskey, prefix = "/api", endpoint = "terminal-passkey-finish")]
pub async fn finish_passkey(ceremony: String, response: String) -> Result<Vec<String>, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rp = svc.passkeys()?;
    let codes =
        hygie_core::auth::passkeys::finish_registration(&svc.db, svc.clock.as_ref(), rp, &holder, &ceremony, &response)
            .await?;
    Ok(codes.unwrap_or_default().iter().map(|c| c.to_string()).collect())
}

/// Ten new recovery codes (the earlier ones stop working), shown once.
#[server(name = NewRecoveryCodes, prefix = "/api", endpoint = "terminal-recovery-codes")]
pub async fn new_recovery_codes() -> Result<Vec<String>, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let codes = hygie_core::auth::terminals::new_recovery_codes(&svc.db, svc.clock.as_ref(), &holder).await?;
    Ok(codes.iter().map(|c| c.to_string()).collect())
}

/// Removes terminal `id`; the sessions it opened end.
#[server(name = RemoveTerminal, prefix = "/api", endpoint = "terminal-remove")]
pub async fn remove_terminal(id: i64) -> Result<u64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(hygie_core::auth::terminals::remove(&svc.db, svc.clock.as_ref(), &holder, id).await?)
}
