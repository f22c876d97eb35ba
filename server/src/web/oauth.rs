//! The OAuth 2.0 endpoints (the verbs are `hygie_core::auth::oauth`): authorization (the code
//! grant with PKCE, RFC 6749 §4.1 and RFC 7636; the holder consents on the `/autoriser` page),
//! device authorization (RFC 8628), token (authorization code, device code, refresh token and
//! client credentials grants), revocation (RFC 7009), and the server's metadata (RFC 8414).
//! Forms in, JSON out, never cached; errors as RFC 6749 §5.2 says.

use app::server::CurrentHolder;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::Engine as _;
use hygie_core::auth::holder::Level;
use hygie_core::auth::oauth::{self, AuthorizeError, AuthorizeParams, OAuthError, Tokens};
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
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
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
        Some("authorization_code") => match f.code {
            Some(code) => {
                let (uri, verifier) = (f.redirect_uri.as_deref(), f.code_verifier.as_deref());
                oauth::exchange_code(&svc.db, svc.clock.as_ref(), &client_id, &code, uri, verifier, ip).await
            }
            None => Err(OAuthError::InvalidRequest("code")),
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

/// The consent page: the authorization request's parameters travel in its query, through the
/// sign-in if need be, and come back in its form.
pub const CONSENT_PATH: &str = "/autoriser";

const AUTHORIZE_KEYS: [&str; 7] =
    ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"];

/// The authorization request's parameters from a query or a form body. A parameter given twice
/// counts as missing (RFC 6749 §3.1: never more than once).
fn authorize_params(encoded: &str) -> AuthorizeParams {
    let mut seen: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(encoded.as_bytes()) {
        if AUTHORIZE_KEYS.contains(&k.as_ref()) {
            seen.entry(k.into_owned()).or_default().push(v.into_owned());
        }
    }
    let mut one = |k: &str| seen.remove(k).filter(|v| v.len() == 1).and_then(|mut v| v.pop());
    AuthorizeParams {
        response_type: one("response_type"),
        client_id: one("client_id"),
        redirect_uri: one("redirect_uri"),
        scope: one("scope"),
        state: one("state"),
        code_challenge: one("code_challenge"),
        code_challenge_method: one("code_challenge_method"),
    }
}

/// The consent page's address for these parameters.
fn consent_url(p: &AuthorizeParams) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let fields = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    format!("{CONSENT_PATH}?{}", q.finish())
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => no_store((StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response()),
        Err(_) => no_store(StatusCode::BAD_REQUEST.into_response()),
    }
}

fn authorize_failed(e: &hygie_core::store::StoreError) -> Response {
    let reference = hygie_core::random_ref();
    tracing::error!(reference = %reference, error = %e, "authorization request failed");
    no_store(
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Erreur interne, référence {reference}. / Internal error, reference {reference}.\n"),
        )
            .into_response(),
    )
}

/// `GET /oauth/authorize` (RFC 6749 §4.1.1): a request to refuse to its client is sent back
/// there at once (`error`, `error_description`, `state`); any other goes to the consent page,
/// which asks for a full sign-in, then shows the client and its access, or says why an unknown
/// client or redirect URI is refused (never redirected there).
pub(super) async fn get_authorize(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = authorize_params(query.as_deref().unwrap_or_default());
    match oauth::check_authorize(&state.services.db, &params).await {
        Ok(_) | Err(AuthorizeError::Unsafe) => see_other(&consent_url(&params)),
        Err(e @ AuthorizeError::Redirect { .. }) => see_other(&e.location().unwrap_or_default()),
        Err(AuthorizeError::Store(e)) => authorize_failed(&e),
    }
}

/// `POST /oauth/authorize`: the consent page's form, "Autoriser" or "Refuser", from a holder
/// signed in fully. Same-origin only (the origin check protects every form of the site); the
/// request is checked again, and the browser goes to the client's redirect URI with the code or
/// `access_denied`.
pub(super) async fn post_authorize(
    State(state): State<AppState>,
    holder: Option<Extension<CurrentHolder>>,
    body: String,
) -> Response {
    let svc = &state.services;
    let params = authorize_params(&body);
    let decision = form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "decision").map(|(_, v)| v.into_owned());
    let holder = holder.map(|h| h.0 .0).filter(|h| h.require(Level::Full).is_ok());
    let (Some(holder), Some(approve)) = (
        holder,
        decision.and_then(|d| match d.as_str() {
            "approve" => Some(true),
            "refuse" => Some(false),
            _ => None,
        }),
    ) else {
        // Signed out meanwhile, or no decision: the page says what to do.
        return see_other(&consent_url(&params));
    };
    let request = match oauth::check_authorize(&svc.db, &params).await {
        Ok(r) => r,
        Err(AuthorizeError::Unsafe) => return see_other(&consent_url(&params)),
        Err(e @ AuthorizeError::Redirect { .. }) => return see_other(&e.location().unwrap_or_default()),
        Err(AuthorizeError::Store(e)) => return authorize_failed(&e),
    };
    match oauth::authorize_decide(&svc.db, svc.clock.as_ref(), &holder, &request, approve).await {
        Ok(location) => see_other(&location),
        Err(OAuthError::Store(e)) => authorize_failed(&e),
        Err(_) => see_other(&consent_url(&params)),
    }
}

/// What the consent page's form may be sent to, beyond the site: the client's redirect URI,
/// where the answer to the form redirects (browsers check `form-action` on redirects too).
#[derive(Clone)]
pub struct FormActionTarget(pub String);

/// For the consent page of a valid request, adds the redirect URI's origin to the page's
/// `form-action` (see [`FormActionTarget`]; the security headers write it).
pub(super) async fn consent_form_action(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let params = (req.uri().path() == CONSENT_PATH).then(|| authorize_params(req.uri().query().unwrap_or_default()));
    let mut res = next.run(req).await;
    if let Some(params) = params {
        if let Ok(r) = oauth::check_authorize(&state.services.db, &params).await {
            if let Some(target) = form_action_source(&r.redirect_uri) {
                res.extensions_mut().insert(FormActionTarget(target));
            }
        }
    }
    res
}

/// A CSP source for a redirect URI: its origin; for `http://[::1]` the `http:` scheme, since
/// CSP cannot name an IPv6 address.
fn form_action_source(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    match u.host()? {
        url::Host::Ipv6(_) => Some(format!("{}:", u.scheme())),
        _ => {
            let origin = u.origin();
            origin.is_tuple().then(|| origin.ascii_serialization())
        }
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub(super) async fn get_metadata(State(state): State<AppState>) -> Response {
    let base = state.services.mail.public_url.trim_end_matches('/').to_string();
    let body = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "device_authorization_endpoint": format!("{base}/oauth/device_authorization"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "scopes_supported": [oauth::SCOPE_MAIL],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            DEVICE_GRANT,
            "client_credentials",
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none"],
    });
    Json(body).into_response()
}
