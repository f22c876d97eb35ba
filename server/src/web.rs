//! The HTTP side: router, middleware (security headers with the CSP nonce, client IP, origin
//! check, audience measurement) and the plain-form handlers that work without JavaScript.

use std::net::SocketAddr;

use app::api::ContactFlash;
use app::domain::contact::ContactInput;
use app::env::{Consent, PageEnv};
use app::error::AppError;
use app::i18n::Locale;
use app::server::{ClientIp, CspNonce, CurrentHolder, CurrentSession, Services};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use hygie_core::audit::{self, Actor, AuditEvent, Outcome};
use hygie_core::auth::holder::{Holder, HolderDenied, HolderSession, Level};
use hygie_core::auth::session::Activity;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Deserialize;

/// What the handlers and middleware share.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub services: Services,
    /// Who may say who the client is (`X-Forwarded-For`).
    pub trusted_proxies: crate::proxies::TrustedProxies,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> LeptosOptions {
        s.leptos.clone()
    }
}

const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), \
    gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(self), \
    screen-wake-lock=(), usb=(), xr-spatial-tracking=(), browsing-topics=()";

pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: https:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'; upgrade-insecure-requests"
    )
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let ctx_state = state.clone();
    let context = move || provide_request_context(&ctx_state, None);
    let opts = state.leptos.clone();

    Router::new()
        .route("/api/{*fn_name}", post(server_fn_handler).get(server_fn_handler))
        .route("/assistance", post(post_contact))
        .route("/cookies/consentement", post(post_consent))
        .route("/langue/{code}", get(get_language))
        .route("/healthz", get(healthz))
        .route("/messagerie/pj/{id}/{index}", get(get_attachment))
        .route("/messagerie/pj/{id}/{index}/apercu/{page}", get(get_preview_page))
        .route(
            "/messagerie/pj",
            post(post_upload)
                .layer(axum::extract::DefaultBodyLimit::max(state.services.mail_limits.max_message_bytes as usize + 1)),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || app::shell(opts.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(middleware::from_fn(server_fn_status))
        .layer(middleware::from_fn(cache_policy))
        .layer(middleware::from_fn_with_state(state.clone(), session))
        .layer(middleware::from_fn_with_state(state.clone(), audience))
        .layer(middleware::from_fn(origin_check))
        .layer(middleware::from_fn_with_state(state.clone(), client_ip))
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Context for every Leptos render and server function: the services, the page environment
/// (language, consent) and this response's CSP nonce.
fn provide_request_context(state: &AppState, flash: Option<ContactFlash>) {
    provide_context(state.services.clone());
    if let Some(parts) = use_context::<http::request::Parts>() {
        let h = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let mut env = PageEnv::from_headers(h(header::COOKIE), h(header::ACCEPT_LANGUAGE));
        env.signed_in = parts.extensions.get::<CurrentHolder>().is_some_and(|h| h.0.level >= Level::Full);
        provide_context(env);
        if let Some(n) = parts.extensions.get::<CspNonce>() {
            provide_context(leptos::nonce::Nonce::from_value(n.0.clone()));
        }
    }
    if let Some(flash) = flash {
        provide_context(flash);
    }
}

async fn server_fn_handler(State(state): State<AppState>, req: Request) -> impl IntoResponse {
    leptos_axum::handle_server_fns_with_context(move || provide_request_context(&state, None), req).await
}

/// Server functions answer every error with 500; this gives each error its HTTP meaning (401,
/// 403, 422, 429...) for API clients and browsers alike.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&error);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The HTTP status that goes with an error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthorized | AppError::BadCredentials | AppError::CodeExpired => StatusCode::UNAUTHORIZED,
        AppError::Forbidden
        | AppError::Locked
        | AppError::AccountUnavailable
        | AppError::TermsPending
        | AppError::ReauthRequired => StatusCode::FORBIDDEN,
        AppError::NotFound | AppError::LinkExpired => StatusCode::NOT_FOUND,
        AppError::Invalid(_) | AppError::WrongCode { .. } | AppError::RecipientRefused { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::QuotaExceeded { .. } => StatusCode::INSUFFICIENT_STORAGE,
        AppError::DraftGone => StatusCode::CONFLICT,
        AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    match hygie_core::outbox::stats(&state.services.db).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// The signed-in holder of a plain (non server-function) request, who accepted the terms in
/// force: handlers take it as an extractor, which answers 401 or 403 otherwise.
pub struct SignedIn(pub Holder);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Response> {
        let holder = parts.extensions.get::<CurrentHolder>().map(|h| h.0.clone());
        let refused = |status, text: &'static str| {
            let mut res = (status, text).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        };
        let sign_in = || refused(StatusCode::UNAUTHORIZED, "Connectez-vous. / Sign in.\n");
        let holder = holder.ok_or_else(sign_in)?;
        match holder.require(Level::Full) {
            Ok(()) => Ok(SignedIn(holder)),
            Err(HolderDenied::Level { .. }) => Err(sign_in()),
            // The terms in force come first, as for every other endpoint.
            Err(HolderDenied::TermsPending) => Err(refused(
                StatusCode::FORBIDDEN,
                "Acceptez d'abord les conditions d'utilisation. / Accept the terms first.\n",
            )),
        }
    }
}

/// An unexpected failure of a plain (non-JSON) mail request: logged under a reference, which the
/// text gives.
fn internal_text(e: impl std::fmt::Display) -> Response {
    let text = AppError::internal(e).message(app::i18n::I18n { locale: Locale::Fr });
    (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
}

/// An error as JSON (the composer reads it like a server function's), with its HTTP status.
fn json_error(e: AppError) -> Response {
    let mut res = (status_of(&e), axum::Json(&e)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct UploadQuery {
    nom: String,
}

/// `POST /messagerie/pj?nom=NAME` with the file as the body (its type in `Content-Type`): keeps
/// it for the account's next message. Answers `{"id", "name", "size"}`, or an error as JSON:
/// 413 over the per-message limit, 507 over the quota, 429 over 300 files an hour.
async fn post_upload(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Response {
    let svc = &state.services;
    let (parts, body) = req.into_parts();
    let account_id = holder.account_id;
    let limits = svc.mail_limits;
    let max_mb = limits.max_message_bytes / (1024 * 1024);
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let refuse = |code: &'static str, e: AppError| {
        let event = holder.event("mail.upload", Outcome::Denied(code.into()));
        async move { recorded(svc, event).await.err().unwrap_or_else(|| json_error(e)) }
    };
    if declared.is_some_and(|n| n > limits.max_message_bytes) {
        return refuse("too_large", AppError::TooLarge { max_mb }).await;
    }
    if let Err(e) = app::server::limit_hourly(svc, &format!("upload:{account_id}"), 300).await {
        return refuse("rate_limited", e).await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, limits.max_message_bytes as usize).await else {
        return refuse("too_large", AppError::TooLarge { max_mb }).await;
    };
    let used = match hygie_core::mail::attach::usage(&svc.db, account_id).await {
        Ok(u) => u,
        Err(e) => return json_error(AppError::internal(e)),
    };
    if used + bytes.len() as i64 > limits.quota_bytes {
        return refuse("quota", AppError::QuotaExceeded { quota_mb: limits.quota_bytes / (1024 * 1024) }).await;
    }
    match hygie_core::mail::attach::store_upload(&svc.db, svc.clock.as_ref(), &holder, &q.nom, &content_type, &bytes)
        .await
    {
        Ok(up) => {
            let mut res =
                axum::Json(serde_json::json!({"id": up.id, "name": up.name, "size": up.size})).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => json_error(AppError::internal(e)),
    }
}

/// Records `event` on its own; if the trail cannot be written, the answer is that failure
/// instead of what the request asked for.
async fn recorded(svc: &Services, event: AuditEvent) -> Result<(), Response> {
    audit::append(&svc.db, svc.clock.as_ref(), event).await.map(|_| ()).map_err(internal_text)
}

/// Downloads an attachment of one of the signed-in account's messages: always as a download
/// (`Content-Disposition: attachment`), never sniffed, under a policy that allows nothing.
/// Recorded before a byte leaves.
async fn get_attachment(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Path((id, index)): Path<(i64, usize)>,
) -> Response {
    let svc = &state.services;
    let found = match hygie_core::mail::attachment(&svc.db, holder.account_id, id, index).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    let object = format!("message:{id} attachment:{index}");
    let Some(file) = found else {
        let event = holder.event("mail.download", Outcome::Denied("not_found".into())).object(object);
        if let Err(res) = recorded(svc, event).await {
            return res;
        }
        return (StatusCode::NOT_FOUND, "Pièce jointe introuvable. / Attachment not found.\n").into_response();
    };
    if let Err(res) = recorded(svc, holder.event("mail.download", Outcome::Success).object(object)).await {
        return res;
    }
    let ascii: String =
        file.name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let disposition =
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", app::encode_query_value(&file.name));
    let mut res = Response::new(Body::from(file.bytes));
    let h = res.headers_mut();
    let kind = if file.content_type == "application/pdf" { "application/pdf" } else { "application/octet-stream" };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}

#[derive(Deserialize)]
struct PreviewQuery {
    /// Width in pixels (600 or 1200; others are rounded to the nearest).
    largeur: Option<u32>,
}

/// `GET /messagerie/pj/ID/INDEX/apercu/PAGE?largeur=600`: page PAGE (from 1) of a PDF attachment
/// of one of the signed-in account's messages, drawn as a PNG image by the confined renderer.
/// 404 for another account's message, a file that is not a PDF by its content, or a page past
/// the end; 422 for a PDF that cannot be drawn.
async fn get_preview_page(
    State(state): State<AppState>,
    Path((id, index, page)): Path<(i64, usize, u32)>,
    Query(q): Query<PreviewQuery>,
    SignedIn(holder): SignedIn,
) -> Response {
    use hygie_core::mail::preview::PreviewError;
    let svc = &state.services;
    let account_id = holder.account_id;
    let object = format!("message:{id} attachment:{index} page:{page}");
    let record = |outcome: Outcome| recorded(svc, holder.event("mail.preview_page", outcome).object(object.clone()));
    let plain = |status: StatusCode, text: &'static str| {
        let mut res = (status, text).into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    };
    let file = match hygie_core::mail::pdf_attachment(&svc.db, account_id, id, index).await {
        Ok(found) => found,
        Err(e) => {
            return internal_text(e);
        }
    };
    let Some(file) = file else {
        if let Err(res) = record(Outcome::Denied("not_found".into())).await {
            return res;
        }
        return plain(StatusCode::NOT_FOUND, "Pièce jointe introuvable. / Attachment not found.\n");
    };
    if let Err(e) =
        app::server::limit_hourly(svc, &format!("preview:{account_id}"), app::api::mail::PREVIEW_PER_HOUR).await
    {
        return record(Outcome::Denied("rate_limited".into())).await.err().unwrap_or_else(|| json_error(e));
    }
    let width = q.largeur.unwrap_or(hygie_core::mail::preview::WIDTHS[0]);
    match svc.previewer.page(&file.bytes, page, width).await {
        Ok(drawn) => {
            if let Err(res) = record(Outcome::Success).await {
                return res;
            }
            let mut res = Response::new(Body::from(drawn.png));
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            res
        }
        Err(PreviewError::NoSuchPage) => {
            if let Err(res) = record(Outcome::Denied("no_page".into())).await {
                return res;
            }
            plain(StatusCode::NOT_FOUND, "Page introuvable. / No such page.\n")
        }
        Err(PreviewError::Unreadable) => {
            if let Err(res) = record(Outcome::Failure("unreadable".into())).await {
                return res;
            }
            plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Ce fichier ne peut pas être affiché : téléchargez-le. / This file cannot be shown: download it.\n",
            )
        }
        Err(PreviewError::Busy) => json_error(AppError::RateLimited { retry_after_secs: 15 }),
        Err(e) => internal_text(e),
    }
}

// ---- Middleware -------------------------------------------------------------------------

async fn security_headers(mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 18];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut res = next.run(req).await;
    let res_has_csp = res.headers().contains_key("content-security-policy");
    let h = res.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("strict-transport-security", "max-age=63072000; includeSubDomains");
    // A handler that set its own policy (attachments: `default-src 'none'`) keeps it.
    if !res_has_csp {
        set("content-security-policy", &csp(&nonce));
    }
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "no-referrer");
    set("permissions-policy", PERMISSIONS_POLICY);
    set("x-frame-options", "DENY");
    set("cross-origin-opener-policy", "same-origin");
    set("cross-origin-resource-policy", "same-origin");
    res
}

/// Resolves the client IP once for handlers, server functions and the audit trail: the peer,
/// or, on a connection from a trusted proxy, what `X-Forwarded-For` says (see [`crate::proxies`]).
async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let ip = state.trusted_proxies.client_ip(peer, forwarded);
        req.extensions_mut().insert(ClientIp(ip.to_string()));
    }
    next.run(req).await
}

/// Requests that change state must come from Hygie's own pages. Browsers say where a request
/// comes from with `Sec-Fetch-Site` and `Origin`; under `Referrer-Policy: no-referrer` a form
/// POST carries `Origin: null`, so fetch metadata decides when it is present. Clients that send
/// neither (business software, scripts) are not browsers and are let through.
async fn origin_check(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host =
        headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().authority().map(|a| a.as_str()));
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if is_same_origin(origin, fetch_site, host) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-origin state-changing request refused");
        (StatusCode::FORBIDDEN, "Requête refusée : origine non autorisée. / Request refused: origin not allowed.\n")
            .into_response()
    }
}

pub fn is_same_origin(origin: Option<&str>, fetch_site: Option<&str>, host: Option<&str>) -> bool {
    let origin_ok = match (origin, host) {
        (None | Some("null"), _) => None,
        (Some(o), Some(h)) => Some(o == format!("https://{h}")),
        (Some(_), None) => Some(false),
    };
    match (fetch_site, origin_ok) {
        (Some(site), Some(ok)) => site == "same-origin" && ok,
        (Some(site), None) => site == "same-origin",
        (None, Some(ok)) => ok,
        // No fetch metadata: `Origin: null` comes from a sandboxed or privacy-stripped context.
        (None, None) => origin.is_none(),
    }
}

/// Server functions the page calls on its own, not the person: they do not count as activity,
/// so an idle session ends even while its mailbox page keeps polling for new mail.
const BACKGROUND_PATHS: &[&str] = &["/api/mail-newest"];

/// Finds the session of the request's `__Host-hygie_session` cookie (not for static files),
/// resolves its holder once, and hands both to pages, server functions and handlers as request
/// extensions.
async fn session(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_static = path.starts_with("/pkg/") || path == "/favicon.ico" || path == "/healthz";
    let activity = if BACKGROUND_PATHS.contains(&path) { Activity::Background } else { Activity::Person };
    let token = (!is_static)
        .then(|| {
            let cookies = req.headers().get(header::COOKIE)?.to_str().ok()?;
            PageEnv::cookie(cookies, app::server::SESSION_COOKIE).map(str::to_owned)
        })
        .flatten();
    if let Some(token) = token {
        let svc = &state.services;
        match hygie_core::auth::session::lookup(&svc.db, svc.clock.as_ref(), &svc.auth.sessions, &token, activity).await
        {
            Ok(Some(s)) => {
                let ip = ip_of(req.extensions());
                let signed = HolderSession { id: s.id, authenticated_ms: s.authenticated_ms };
                match Holder::resolve(&svc.db, s.account_id, s.level, Some(signed), ip).await {
                    Ok(Some(holder)) => {
                        req.extensions_mut().insert(CurrentHolder(holder));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "holder lookup failed"),
                }
                req.extensions_mut().insert(CurrentSession(s));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "session lookup failed"),
        }
    }
    next.run(req).await
}

/// The sign-out server function's path: its answer also clears what the browser kept.
pub const SIGN_OUT_PATH: &str = "/api/sign-out";

/// What a signed-in page or any server function answered must not stay in the browser's cache
/// (a shared computer in a practice, the back button after signing out): `Cache-Control:
/// no-store` on every answer to a request with a session and on every `/api/` answer, unless the
/// handler already said `no-store`. Signing out also clears the site's cache, cookies and storage.
/// Runs inside [`session`], which tells whether the request has one.
async fn cache_policy(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let private = path.starts_with("/api/") || req.extensions().get::<app::server::CurrentSession>().is_some();
    let sign_out = path == SIGN_OUT_PATH;
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if private && !h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-store")) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if sign_out {
        h.insert("clear-site-data", HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
    }
    res
}

/// The path to count: link tokens (activation, reset, unlock) never reach the statistics.
pub fn audience_path(path: &str) -> String {
    for prefix in ["/activation/", "/reinitialisation/", "/deverrouillage/"] {
        if path.starts_with(prefix) {
            return format!("{prefix}:token");
        }
    }
    path.to_string()
}

/// Counts page views of visitors who accepted audience measurement, after the page is served.
async fn audience(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let track = (req.method() == Method::GET)
        .then(|| {
            let cookies = req.headers().get(header::COOKIE)?.to_str().ok()?;
            if PageEnv::cookie(cookies, Consent::COOKIE) != Some("accepted")
                || !app::env::is_portal_path(req.uri().path())
            {
                return None;
            }
            let visitor = PageEnv::cookie(cookies, Consent::AUDIENCE_COOKIE)?.to_string();
            Some((audience_path(req.uri().path()), visitor))
        })
        .flatten();
    let res = next.run(req).await;
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (Some((path, visitor)), true) = (track, is_page && res.status().is_success()) {
        let svc = state.services.clone();
        tokio::spawn(async move {
            if let Err(e) = hygie_core::audience::record_view(&svc.db, svc.clock.as_ref(), &path, &visitor).await {
                tracing::warn!(error = %e, "audience measurement not recorded");
            }
        });
    }
    res
}

// ---- Plain-form handlers ----------------------------------------------------------------

fn ip_of(req_ext: &http::Extensions) -> Option<String> {
    req_ext.get::<ClientIp>().map(|c| c.0.clone())
}

/// A local path to go back to, never another site (`//evil.example`, `https://…`, `/%09/evil`).
/// Strict: the address keeps to an allow-list of ASCII characters, and its percent-decoded form
/// (decoded until it no longer changes, so that `%252f` counts as `/`) must still be a plain path
/// on this site: no scheme, no `//` or backslash, no control, white space or invisible character
/// (browsers drop tabs and newlines, which turns `/\t/evil.example` into `//evil.example`).
pub fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p) if is_local_path(p) => p.to_string(),
        _ => "/".to_string(),
    }
}

fn is_local_path(raw: &str) -> bool {
    const PUNCTUATION: &[u8] = b"/-._~?=&%+,;@!$'()*";
    if raw.len() > 2048 || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || PUNCTUATION.contains(&b)) {
        return false;
    }
    let mut decoded = raw.to_string();
    let mut settled = false;
    for _ in 0..4 {
        let Some(next) = percent_decode(&decoded) else {
            return false;
        };
        if next == decoded {
            settled = true;
            break;
        }
        decoded = next;
    }
    if !settled {
        return false;
    }
    let plain = |c: char| if c.is_ascii() { c.is_ascii_graphic() && c != '\\' } else { c.is_alphanumeric() };
    let local = |p: &str| p.starts_with('/') && !p.contains("//") && !p.contains(':');
    local(raw) && local(&decoded) && decoded.chars().all(plain)
}

/// `%XX` sequences decoded; `None` for a malformed sequence or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn cookie_header(name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age_secs}; Secure; HttpOnly; SameSite=Lax"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Deserialize)]
struct ReturnQuery {
    retour: Option<String>,
}

async fn get_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<ReturnQuery>,
    req: Request,
) -> Response {
    let back = safe_return(q.retour.as_deref());
    let Some(locale) = Locale::from_code(&code) else {
        return Redirect::to(&back).into_response();
    };
    let ev = AuditEvent::new(Actor::Anonymous, "portal.language", Outcome::Success)
        .ip(ip_of(req.extensions()))
        .object(locale.code());
    if let Err(res) = recorded(&state.services, ev).await {
        return res;
    }
    let mut res = Redirect::to(&back).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie_header(Locale::COOKIE, locale.code(), 365 * 86_400));
    res
}

#[derive(Deserialize)]
struct ConsentForm {
    choix: String,
    retour: Option<String>,
}

async fn post_consent(State(state): State<AppState>, req: Request) -> Response {
    let ip = ip_of(req.extensions());
    let Ok(Form(form)) = Form::<ConsentForm>::from_request(req, &state).await else {
        return (StatusCode::BAD_REQUEST, "Formulaire invalide. / Invalid form.\n").into_response();
    };
    let back = safe_return(form.retour.as_deref());
    let accepted = match form.choix.as_str() {
        "accepter" => true,
        "refuser" => false,
        _ => return Redirect::to(&back).into_response(),
    };
    let ev = AuditEvent::new(Actor::Anonymous, "portal.cookies.consent", Outcome::Success).ip(ip).object(if accepted {
        "accepted"
    } else {
        "refused"
    });
    if let Err(res) = recorded(&state.services, ev).await {
        return res;
    }
    let mut res = Redirect::to(&back).into_response();
    let h = res.headers_mut();
    let six_months = 182 * 86_400;
    if accepted {
        h.append(header::SET_COOKIE, cookie_header(Consent::COOKIE, "accepted", six_months));
        h.append(
            header::SET_COOKIE,
            cookie_header(Consent::AUDIENCE_COOKIE, &hygie_core::random_hex(16), 395 * 86_400),
        );
    } else {
        h.append(header::SET_COOKIE, cookie_header(Consent::COOKIE, "refused", six_months));
        h.append(header::SET_COOKIE, cookie_header(Consent::AUDIENCE_COOKIE, "", 0));
    }
    res
}

/// The contact form without JavaScript (or before hydration): a success redirects (so that a
/// reload does not send it twice); a refusal renders the page again with the input kept.
async fn post_contact(State(state): State<AppState>, req: Request) -> Response {
    let ip = ip_of(req.extensions());
    let (parts, body) = req.into_parts();
    let page_req = Request::from_parts(parts.clone(), Body::empty());
    let input = match Form::<ContactInput>::from_request(Request::from_parts(parts, body), &state).await {
        Ok(Form(input)) => input,
        Err(_) => ContactInput::default(),
    };
    let (status, flash) = match app::server::submit_contact(&state.services, ip.as_deref(), &input).await {
        Ok(id) => return Redirect::to(&format!("/assistance?envoye={id}")).into_response(),
        Err(AppError::Invalid(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, ContactFlash { input, errors, failure: None })
        }
        Err(e) => {
            let status = match e {
                AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                AppError::QuotaExceeded { .. } => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, ContactFlash { input, errors: Vec::new(), failure: Some(e) })
        }
    };
    render_page(&state, page_req, Some(flash), status).await
}

/// Renders a portal page for `req` (its path decides which), with an optional contact flash.
async fn render_page(state: &AppState, mut req: Request, flash: Option<ContactFlash>, status: StatusCode) -> Response {
    *req.method_mut() = Method::GET;
    let st = state.clone();
    let opts = state.leptos.clone();
    let handler = leptos_axum::render_app_async_with_context(
        move || provide_request_context(&st, flash.clone()),
        move || app::shell(opts.clone()),
    );
    let mut res = handler(req).await;
    *res.status_mut() = status;
    res
}

/// Plain HTTP: everything is redirected to HTTPS.
pub fn redirect_router(https_port: u16, public_url: Option<String>) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: axum::http::Uri| {
        let public_url = public_url.clone();
        async move {
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let base = match public_url {
                Some(u) => u.trim_end_matches('/').to_string(),
                None => {
                    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
                    let host = strip_port(host);
                    if https_port == 443 {
                        format!("https://{host}")
                    } else {
                        format!("https://{host}:{https_port}")
                    }
                }
            };
            Redirect::permanent(&format!("{base}{path}"))
        }
    })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &host[..h.len() + 1]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return(Some("/cgu/1.0")), "/cgu/1.0");
        assert_eq!(safe_return(Some("//evil.example/x")), "/");
        assert_eq!(safe_return(Some("https://evil.example")), "/");
        assert_eq!(safe_return(Some("/\\evil.example")), "/");
        assert_eq!(safe_return(Some("/a?next=https://x")), "/");
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn return_address_cannot_leave_the_site_in_disguise() {
        for evil in [
            "/%09/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            "/%20/evil.example",
            "/%0d%0a/evil.example",
            "/%2fevil.example",
            "/%2Fevil.example",
            "%2f%2fevil.example",
            "/%5cevil.example",
            "/%5Cevil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "//evil.example",
            "/%252f/evil.example",
            "/%25252525252fevil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "/a?next=https%3a%2f%2fevil.example",
            "/%e2%80%ae/evil.example",
            "/%c2%a0/evil.example",
            "/\u{85}/evil.example",
            "/%zz",
            "/%ff",
            "/a#frag",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_return(Some(evil)), "/", "{evil:?}");
        }
    }

    #[test]
    fn ordinary_local_paths_are_kept() {
        for good in ["/", "/cgu/1.0", "/messagerie/message/42", "/annuaire/fiche/10001234567", "/r%C3%A9sum%C3%A9"] {
            assert_eq!(safe_return(Some(good)), good);
        }
    }

    #[test]
    fn link_tokens_are_not_counted() {
        assert_eq!(audience_path(&format!("/activation/{}", "a".repeat(64))), "/activation/:token");
        assert_eq!(audience_path("/reinitialisation/abc"), "/reinitialisation/:token");
        assert_eq!(audience_path("/cgu/1.0"), "/cgu/1.0");
    }

    #[test]
    fn same_origin_rules() {
        let host = Some("hygie.example");
        // A browser form POST under no-referrer: Origin null, fetch metadata same-origin.
        assert!(is_same_origin(Some("null"), Some("same-origin"), host));
        assert!(is_same_origin(Some("https://hygie.example"), Some("same-origin"), host));
        assert!(is_same_origin(Some("https://hygie.example"), None, host));
        assert!(is_same_origin(None, None, host), "non-browser clients send neither");
        assert!(!is_same_origin(Some("https://evil.example"), Some("cross-site"), host));
        assert!(!is_same_origin(Some("null"), Some("cross-site"), host));
        assert!(!is_same_origin(None, Some("same-site"), host));
        assert!(!is_same_origin(Some("https://evil.example"), Some("same-origin"), host));
        assert!(!is_same_origin(Some("https://evil.example"), None, host));
        assert!(!is_same_origin(Some("http://hygie.example"), None, host));
        assert!(!is_same_origin(Some("null"), None, host));
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("example.org"), "example.org");
    }

    #[test]
    fn csp_has_what_the_brief_requires() {
        let p = csp("abc");
        for part in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "'nonce-abc'",
            "'wasm-unsafe-eval'",
        ] {
            assert!(p.contains(part), "{part}");
        }
        assert!(!p.contains("unsafe-inline"));
        // Remote images (https only) appear only where the sanitiser kept them: in a mail whose
        // sender the holder chose to see images from.
        assert!(p.contains("img-src 'self' data: https:;"));
    }
}
