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
