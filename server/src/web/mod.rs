//! The HTTP side: the router, the request context of pages and server functions, the errors'
//! HTTP statuses and the holder extractor; middleware in [`middleware`], the mail files'
//! handlers (upload, download, PDF pages) in [`files`], the plain-form handlers that work
//! without JavaScript in [`forms`].

mod api_v1;
mod files;
mod forms;
mod middleware;
mod oauth;

pub use forms::safe_return;
pub use middleware::{audience_path, is_same_origin, SIGN_OUT_PATH};

use app::api::ContactFlash;
use app::env::PageEnv;
use app::error::AppError;
use app::i18n::Locale;
use app::server::{ClientIp, CspNonce, CurrentHolder, Services};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hygie_core::audit::{self, AuditEvent};
use hygie_core::auth::holder::{Holder, HolderDenied, Level};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

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

pub(crate) const PERMISSIONS_POLICY: &str =
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), \
    gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-create=(self), publickey-credentials-get=(self), \
    screen-wake-lock=(), usb=(), xr-spatial-tracking=(), browsing-topics=()";

pub fn csp(nonce: &str) -> String {
    csp_with_form_action(nonce, None)
}

/// [`csp`], with one more source the page's forms may go to (the OAuth consent page's redirect
/// URI).
pub fn csp_with_form_action(nonce: &str, extra: Option<&str>) -> String {
    let extra = extra.map(|e| format!(" {e}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: https:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'{extra}; upgrade-insecure-requests"
    )
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let ctx_state = state.clone();
    let context = move || provide_request_context(&ctx_state, None);
    let opts = state.leptos.clone();
    // What a send through the API may weigh (JSON with base64 files, or the raw message).
    let api_max = state.services.mail.limits.max_encoded_bytes() as usize;

    Router::new()
        .route("/api/{*fn_name}", post(server_fn_handler).get(server_fn_handler))
        .route("/api/v1/openapi.json", get(api_v1::get_openapi))
        .route("/api/v1/folders", get(api_v1::get_folders))
        .route("/api/v1/folders/{key}/messages", get(api_v1::get_messages))
        .route("/api/v1/folders/{key}/changes", get(api_v1::get_changes))
        .route("/api/v1/search", get(api_v1::get_search))
        .route(
            "/api/v1/messages",
            post(api_v1::post_message)
                .layer(axum::extract::DefaultBodyLimit::max(api_max))
                .layer(axum::middleware::from_fn(move |req, next| api_v1::read_body_first(api_max, req, next))),
        )
        .route(
            "/api/v1/messages/raw",
            post(api_v1::post_raw)
                .layer(axum::extract::DefaultBodyLimit::max(api_max))
                .layer(axum::middleware::from_fn(move |req, next| api_v1::read_body_first(api_max, req, next))),
        )
        .route(
            "/api/v1/messages/{id}",
            get(api_v1::get_message)
                .patch(api_v1::patch_message)
                .layer(axum::middleware::from_fn(move |req, next| api_v1::read_body_first(api_max, req, next)))
                .delete(api_v1::delete_message),
        )
        .route("/api/v1/messages/{id}/raw", get(api_v1::get_raw))
        .route("/api/v1/messages/{id}/attachments/{index}", get(api_v1::get_attachment))
        .route("/api/v1/messages/{id}/receipts", get(api_v1::get_receipts))
        .route("/oauth/authorize", get(oauth::get_authorize).post(oauth::post_authorize))
        .route("/.well-known/oauth-authorization-server", get(oauth::get_metadata))
        .route("/oauth/device_authorization", post(oauth::post_device))
        .route("/oauth/token", post(oauth::post_token))
        .route("/oauth/revoke", post(oauth::post_revoke))
        .route("/assistance", post(forms::post_contact))
        .route("/cookies/consentement", post(forms::post_consent))
        .route("/langue/{code}", get(forms::get_language))
        .route("/theme/{code}", get(forms::get_theme))
        .route("/healthz", get(healthz))
        .route("/messagerie/pj/{id}/{index}", get(files::get_attachment))
        .route("/messagerie/pj/{id}/{index}/apercu/{page}", get(files::get_preview_page))
        .route("/messagerie/pj/{id}/{index}/xdm/{doc}", get(files::get_xdm_document))
        .route("/messagerie/pj/{id}/{index}/xdm/{doc}/pdf", get(files::get_xdm_pdf))
        .route("/messagerie/pj/{id}/{index}/xdm/{doc}/apercu/{page}", get(files::get_xdm_preview_page))
        .route(
            "/messagerie/pj",
            post(files::post_upload)
                .layer(axum::extract::DefaultBodyLimit::max(state.services.mail.limits.max_message_bytes as usize + 1)),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || app::shell(opts.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(answer_panic))
        .layer(from_fn(server_fn_status))
        .layer(from_fn(middleware::cache_policy))
        .layer(from_fn_with_state(state.clone(), middleware::session))
        .layer(from_fn_with_state(state.clone(), middleware::audience))
        .layer(from_fn(middleware::origin_check))
        .layer(from_fn_with_state(state.clone(), middleware::client_ip))
        .layer(from_fn_with_state(state.clone(), oauth::consent_form_action))
        .layer(from_fn(middleware::security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// A bug met by one request answers that request with a 500, instead of unwinding through the
/// connection's task: over HTTP/2 that would reset every other request on the connection (the
/// browser then reports `ERR_HTTP2_PROTOCOL_ERROR` for a page that had nothing to do with it).
/// The panic's message and place are already written to the log by the panic hook.
fn answer_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Une erreur interne est survenue ; réessayez. / An internal error occurred; please try again.\n",
    )
        .into_response()
}

/// Context for every Leptos render and server function: the services, the page environment
/// (language, consent) and this response's CSP nonce.
fn provide_request_context(state: &AppState, flash: Option<ContactFlash>) {
    provide_context(state.services.clone());
    if let Some(parts) = use_context::<http::request::Parts>() {
        let h = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        // Over HTTP/2 a browser sends each cookie in its own `cookie` field: read them all.
        let cookies: Vec<&str> = parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        let cookies = cookies.join("; ");
        let mut env = PageEnv::from_headers(Some(&cookies), h(header::ACCEPT_LANGUAGE));
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
        AppError::Invalid(_)
        | AppError::WrongCode { .. }
        | AppError::CodeReplayed
        | AppError::KeyRefused { .. }
        | AppError::RecipientRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::TooLarge { .. } | AppError::TooLargeForPatient { .. } => StatusCode::PAYLOAD_TOO_LARGE,
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

/// Records `event` on its own; if the trail cannot be written, the answer is that failure
/// instead of what the request asked for.
async fn recorded(svc: &Services, event: AuditEvent) -> Result<(), Response> {
    audit::append(&svc.db, svc.clock.as_ref(), event).await.map(|_| ()).map_err(internal_text)
}

/// An unexpected failure of a plain (non-JSON) mail request: logged under a reference, which the
/// text gives.
fn internal_text(e: impl std::fmt::Display) -> Response {
    let text = AppError::internal(e).message(app::i18n::I18n { locale: Locale::Fr });
    (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
}

/// The client IP that [`middleware::client_ip`] resolved.
fn ip_of(req_ext: &http::Extensions) -> Option<String> {
    req_ext.get::<ClientIp>().map(|c| c.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

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
