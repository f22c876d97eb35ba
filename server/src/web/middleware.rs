//! Middleware, outermost last in [`super::router`]: security headers with the CSP nonce, the
//! client IP, the origin check, audience measurement, the session and its holder, the cache
//! policy.

use std::net::SocketAddr;

use app::env::{Consent, PageEnv};
use app::server::{ClientIp, CspNonce, CurrentHolder, CurrentSession};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hygie_core::auth::holder::{Holder, HolderSession};
use hygie_core::auth::session::Activity;

use super::{csp_with_form_action, ip_of, AppState, PERMISSIONS_POLICY};

pub(super) async fn security_headers(mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 18];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut res = next.run(req).await;
    let res_has_csp = res.headers().contains_key("content-security-policy");
    let form_action = res.extensions_mut().remove::<super::oauth::FormActionTarget>();
    let h = res.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("strict-transport-security", "max-age=63072000; includeSubDomains");
    // A handler that set its own policy (attachments: `default-src 'none'`) keeps it.
    if !res_has_csp {
        set("content-security-policy", &csp_with_form_action(&nonce, form_action.as_ref().map(|f| f.0.as_str())));
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
pub(super) async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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
pub(super) async fn origin_check(req: Request, next: Next) -> Response {
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
pub(super) async fn session(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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
pub(super) async fn cache_policy(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let private = path.starts_with("/api/") || req.extensions().get::<app::server::CurrentSession>().is_some();
    let sign_out = path == SIGN_OUT_PATH;
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if private && !h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-store")) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if sign_out {
        // Not "storage": the phone that approves sign-ins keeps its device token and service
        // worker there, and must keep working after its holder signs out on it. Nothing else
        // is kept in the browser's storage.
        h.insert("clear-site-data", HeaderValue::from_static("\"cache\", \"cookies\""));
    }
    res
}

/// The path to count: link tokens (activation, reset, unlock) never reach the statistics.
pub fn audience_path(path: &str) -> String {
    for prefix in ["/activation/", "/reinitialisation/", "/deverrouillage/", "/telephone/"] {
        if path.starts_with(prefix) {
            return format!("{prefix}:token");
        }
    }
    path.to_string()
}

/// Counts page views of visitors who accepted audience measurement, after the page is served.
pub(super) async fn audience(State(state): State<AppState>, req: Request, next: Next) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
