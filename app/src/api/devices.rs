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

/// An OAuth authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3), as the consent
/// page received them from `/oauth/authorize` and gives them back in its form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

impl AuthorizeQuery {
    /// The parameters, by name, that are present.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    /// As a query string, without `?`.
    pub fn to_query(&self) -> String {
        self.pairs().iter().map(|(k, v)| format!("{k}={}", crate::encode_query_value(v))).collect::<Vec<_>>().join("&")
    }
}

/// An authorization request as the consent page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationView {
    pub client_name: String,
    /// The mailbox the software will reach.
    pub account: String,
}

/// What a software asks through `/oauth/authorize`, for a holder signed in fully. `NotFound`
/// when the client is unknown or the redirect URI is not one of its own: the page says so and
/// never sends the browser there.
#[server(name = AuthorizationRequest, prefix = "/api", endpoint = "authorization-request")]
pub async fn authorization_request(query: AuthorizeQuery) -> Result<AuthorizationView, AppError> {
    use hygie_core::auth::oauth::{check_authorize, AuthorizeError, AuthorizeParams};

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let params = AuthorizeParams {
        response_type: query.response_type,
        client_id: query.client_id,
        redirect_uri: query.redirect_uri,
        scope: query.scope,
        state: query.state,
        code_challenge: query.code_challenge,
        code_challenge_method: query.code_challenge_method,
    };
    let request = check_authorize(&svc.db, &params).await.map_err(|e| match e {
        AuthorizeError::Store(e) => AppError::from(e),
        _ => AppError::NotFound,
    })?;
    let holder = require_holder(Level::Full)?;
    Ok(AuthorizationView { client_name: request.client.name, account: holder.address })
}
