//! The OAuth 2.0 endpoints (the verbs are `hygie_core::auth::oauth`): device authorization
//! (RFC 8628), token (device code, refresh token and client credentials grants), revocation
//! (RFC 7009). Forms in, JSON out, never cached; errors as RFC 6749 §5.2 says.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::Engine as _;
use hygie_core::auth::oauth::{self, OAuthError, Tokens};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, ClientIp};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn error(e: OAuthError) -> Response {
    let status = match &e {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::Store(cause) => {
            let reference = hygie_core::random_ref();
            tracing::error!(reference = %reference, error = %cause, "OAuth request failed");
            return no_store(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "server_error", "error_description": format!("internal error, reference {reference}")})),
                )
                    .into_response(),
            );
        }
        _ => StatusCode::BAD_REQUEST,
    };
    no_store((status, Json(json!({"error": e.code(), "error_description": e.to_string()}))).into_response())
}

fn tokens(t: Tokens) -> Response {
    let mut body = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in_s,
        "scope": t.scope,
    });
    if let Some(r) = t.refresh_token {
        body["refresh_token"] = json!(r);
    }
    no_store(Json(body).into_response())
}

fn ip(client: Option<Extension<ClientIp>>) -> Option<String> {
    client.map(|c| c.0 .0.clone())
}

#[derive(Deserialize)]
pub(super) struct DeviceForm {
    client_id: Option<String>,
    scope: Option<String>,
}

/// `POST /oauth/device_authorization`: a device code and the user code to show.
pub(super) async fn post_device(State(state): State<AppState>, Form(f): Form<DeviceForm>) -> Response {
    let svc = &state.services;
    let Some(client_id) = f.client_id else { return error(OAuthError::InvalidRequest("client_id")) };
    match oauth::device_start(&svc.db, svc.clock.as_ref(), &client_id, f.scope.as_deref()).await {
        Ok(d) => {
            let uri = format!("{}/appareil", svc.mail.public_url.trim_end_matches('/'));
            no_store(
                Json(json!({
                    "device_code": d.device_code,
                    "user_code": d.user_code,
                    "verification_uri": uri,
                    "verification_uri_complete": format!("{uri}?code={}", d.user_code),
                    "expires_in": d.expires_in_s,
                    "interval": d.interval_s,
                }))
                .into_response(),
            )
        }
        Err(e) => error(e),
    }
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    /// A confidential client's secret in the form (`client_secret_post`), when it does not use
    /// HTTP Basic.
    client_secret: Option<String>,
    device_code: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// A confidential client's credentials from HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1:
/// both parts form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// `POST /oauth/token`.
pub(super) async fn post_token(
    State(state): State<AppState>,
    client_ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let svc = &state.services;
    let ip = ip(client_ip);
    if f.grant_type.as_deref() == Some("client_credentials") {
        let basic = basic_credentials(&headers);
        let used_basic = basic.is_some();
        let credentials = basic.or_else(|| f.client_id.clone().zip(f.client_secret.clone()));
        let Some((client_id, secret)) = credentials else {
            return error(OAuthError::InvalidClient);
        };
        let result =
            oauth::client_credentials(&svc.db, svc.clock.as_ref(), &client_id, &secret, f.scope.as_deref(), ip).await;
        return match result {
            Ok(t) => tokens(t),
            Err(e) => {
                let basic_refused = used_basic && matches!(e, OAuthError::InvalidClient);
                let mut res = error(e);
                if basic_refused {
                    res.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"hygie\""));
                }
                res
            }
        };
    }
    let Some(client_id) = f.client_id else { return error(OAuthError::InvalidRequest("client_id")) };
    let result = match f.grant_type.as_deref() {
        Some(DEVICE_GRANT) => match f.device_code {
            Some(code) => oauth::device_poll(&svc.db, svc.clock.as_ref(), &client_id, &code, ip).await,
            None => Err(OAuthError::InvalidRequest("device_code")),
        },
        Some("refresh_token") => match f.refresh_token {
            Some(token) => oauth::refresh(&svc.db, svc.clock.as_ref(), &client_id, &token, ip).await,
            None => Err(OAuthError::InvalidRequest("refresh_token")),
        },
        Some(_) => Err(OAuthError::UnsupportedGrantType),
        None => Err(OAuthError::InvalidRequest("grant_type")),
    };
    match result {
        Ok(t) => tokens(t),
        Err(e) => error(e),
    }
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    client_id: Option<String>,
    token: Option<String>,
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether the token was known or not.
pub(super) async fn post_revoke(
    State(state): State<AppState>,
    client_ip: Option<Extension<ClientIp>>,
    Form(f): Form<RevokeForm>,
) -> Response {
    let svc = &state.services;
    let (Some(client_id), Some(token)) = (f.client_id, f.token) else {
        return error(OAuthError::InvalidRequest("client_id, token"));
    };
    match oauth::revoke_token(&svc.db, svc.clock.as_ref(), &client_id, &token, ip(client_ip)).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => error(e),
    }
}
