//! The plain-form handlers that work without JavaScript (or before hydration): language,
//! cookie consent, the contact form.

use app::api::ContactFlash;
use app::domain::contact::ContactInput;
use app::env::{Consent, Theme};
use app::error::AppError;
use app::i18n::Locale;
use axum::body::Body;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use hygie_core::audit::{Actor, AuditEvent, Outcome};
use serde::Deserialize;

use super::{ip_of, provide_request_context, recorded, AppState};

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
pub(super) struct ReturnQuery {
    retour: Option<String>,
}

pub(super) async fn get_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<ReturnQuery>,
    req: Request,
) -> Response {
    let choice = Locale::from_code(&code).map(|l| (Locale::COOKIE, l.code()));
    remember_choice(&state, ip_of(req.extensions()), q.retour.as_deref(), "portal.language", choice).await
}

/// `/theme/{auto|light|dark}?retour=`: light or dark pages, remembered in a cookie (a link, so it
/// works without JavaScript).
pub(super) async fn get_theme(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<ReturnQuery>,
    req: Request,
) -> Response {
    let choice = Theme::from_code(&code).map(|t| (Theme::COOKIE, t.code()));
    remember_choice(&state, ip_of(req.extensions()), q.retour.as_deref(), "portal.theme", choice).await
}

/// A display choice made by a link (language, theme): recorded as `action`, kept a year in
/// its cookie, then back to the page it was made on. An unknown choice changes nothing.
async fn remember_choice(
    state: &AppState,
    ip: Option<String>,
    retour: Option<&str>,
    action: &str,
    choice: Option<(&str, &str)>,
) -> Response {
    let back = safe_return(retour);
    let Some((cookie, code)) = choice else {
        return Redirect::to(&back).into_response();
    };
    let ev = AuditEvent::new(Actor::Anonymous, action, Outcome::Success).ip(ip).object(code);
    if let Err(res) = recorded(&state.services, ev).await {
        return res;
    }
    let mut res = Redirect::to(&back).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie_header(cookie, code, 365 * 86_400));
    res
}

#[derive(Deserialize)]
struct ConsentForm {
    choix: String,
    retour: Option<String>,
}

pub(super) async fn post_consent(State(state): State<AppState>, req: Request) -> Response {
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
pub(super) async fn post_contact(State(state): State<AppState>, req: Request) -> Response {
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
                AppError::TooLarge { .. } | AppError::TooLargeForPatient { .. } => StatusCode::PAYLOAD_TOO_LARGE,
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
}
