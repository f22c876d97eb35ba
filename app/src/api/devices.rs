//! "Connecter un logiciel": the holder approves, on the web after a full sign-in, the device
//! authorization a mail client or a business software asked for (OAuth device grant).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A device request waiting for the holder's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequestView {
    /// As the software shows it: `XXXX-XXXX`.
    pub user_code: String,
    pub client_name: String,
}

/// What the code typed asks (the typing is limited per holder).
#[server(name = DeviceRequest, prefix = "/api", endpoint = "device-request")]
pub async fn device_request(code: String) -> Result<DeviceRequestView, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let p = hygie_core::auth::oauth::device_pending(&svc.db, svc.clock.as_ref(), &holder, &code).await?;
    Ok(DeviceRequestView { user_code: p.user_code, client_name: p.client_name })
}

/// The holder's decision on the request of `code`.
#[server(name = DecideDevice, prefix = "/api", endpoint = "device-decide")]
pub async fn decide_device(code: String, approve: bool) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    hygie_core::auth::oauth::device_decide(&svc.db, svc.clock.as_ref(), &holder, &code, approve).await?;
    Ok(())
}

/// A software or mail client the holder granted access, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedClient {
    pub id: i64,
    pub name: String,
    /// UTC, ISO 8601.
    pub added: String,
    pub last_used: String,
}

#[server(name = MyClients, prefix = "/api", endpoint = "my-clients")]
pub async fn my_clients() -> Result<Vec<ConnectedClient>, AppError> {
    use hygie_core::clock::format_utc;

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let grants = hygie_core::auth::oauth::grants(&svc.db, &holder).await?;
    Ok(grants
        .into_iter()
        .map(|g| ConnectedClient {
            id: g.id,
            name: g.client_name,
            added: format_utc(g.created_ms),
            last_used: format_utc(g.last_used_ms),
        })
        .collect())
}

/// Withdraws a software's access: its tokens stop working at once.
#[server(name = RevokeClient, prefix = "/api", endpoint = "client-revoke")]
pub async fn revoke_client(id: i64) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    hygie_core::auth::oauth::revoke(&svc.db, svc.clock.as_ref(), &holder, id).await?;
    Ok(())
}
