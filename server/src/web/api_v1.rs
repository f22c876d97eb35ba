//! The Web Services API for business software (`/api/v1`): JSON over HTTPS, a bearer access
//! token from Hygie's authorization server, the same mailbox verbs (`Mailbox`) as the webmail,
//! with the same checks and audit records. Errors in one shape: RFC 9457 problem details, in
//! French unless the client prefers English.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hygie_core::auth::holder::Holder;
use hygie_core::auth::oauth;
use hygie_core::ratelimit::{self, Decision, Limit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AppState, ClientIp};

/// Calls one access grant may make in a minute.
pub const CALLS_PER_MINUTE: Limit = Limit { max: 600, window_ms: 60_000 };
/// The most messages one page lists.
pub const PAGE_MAX: i64 = 200;

/// A problem (RFC 9457), in the client's language.
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: (&'static str, &'static str),
    detail: Option<String>,
    english: bool,
    retry_after: Option<u64>,
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, fr: &'static str, en: &'static str, english: bool) -> Problem {
        Problem { status, kind, title: (fr, en), detail: None, english, retry_after: None }
    }

    fn unauthorized(english: bool) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Jeton d'accès absent, expiré ou retiré",
            "Access token missing, expired or revoked",
            english,
        )
    }

    fn not_found(english: bool) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Introuvable dans cette messagerie",
            "Not found in this mailbox",
            english,
        )
    }

    fn internal(e: impl std::fmt::Display, english: bool) -> Problem {
        let reference = hygie_core::random_ref();
        tracing::error!(reference = %reference, error = %e, "API call failed");
        let mut p =
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Erreur interne", "Internal error", english);
        p.detail = Some(if english { format!("Reference {reference}") } else { format!("Référence {reference}") });
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = if self.english { self.title.1 } else { self.title.0 };
        let mut body = json!({
            "type": format!("https://hygie.fr/problemes/{}", self.kind),
            "title": title,
            "status": self.status.as_u16(),
        });
        if let Some(d) = self.detail {
            body["detail"] = json!(d);
        }
        let mut res = (self.status, Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

fn prefers_english(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| first.trim().to_ascii_lowercase().starts_with("en"))
}

/// The holder of the request's bearer token, within the grant's rate limit.
pub struct ApiHolder {
    pub holder: Holder,
    pub english: bool,
}

impl axum::extract::FromRequestParts<AppState> for ApiHolder {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &AppState) -> Result<Self, Problem> {
        let english = prefers_english(&parts.headers);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(Problem::unauthorized(english))?;
        let ip = parts.extensions.get::<ClientIp>().map(|c| c.0.clone());
        let svc = &state.services;
        let bearer = oauth::authenticate(&svc.db, svc.clock.as_ref(), token, ip)
            .await
            .map_err(|e| Problem::internal(e, english))?
            .ok_or(Problem::unauthorized(english))?;
        let key = format!("api-grant:{}", bearer.grant_id);
        match ratelimit::hit(&svc.db, svc.clock.as_ref(), &key, CALLS_PER_MINUTE).await {
            Ok(Decision::Allowed { .. }) => {}
            Ok(Decision::Limited { retry_after_ms }) => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Trop d'appels : réessayez plus tard",
                    "Too many calls: try again later",
                    english,
                );
                p.retry_after = Some((retry_after_ms.max(0) as u64).div_ceil(1000));
                return Err(p);
            }
            Err(e) => return Err(Problem::internal(e, english)),
        }
        if bearer.holder.require(hygie_core::auth::session::Level::Full).is_err() {
            let p = Problem::new(
                StatusCode::FORBIDDEN,
                "terms-pending",
                "Les conditions d'utilisation en vigueur doivent d'abord être acceptées dans le webmail",
                "The terms of use in force must first be accepted in the webmail",
                english,
            );
            return Err(p);
        }
        Ok(ApiHolder { holder: bearer.holder, english })
    }
}

#[derive(Serialize)]
pub struct Folder {
    /// What names the folder in the other calls: its role, or `d<ID>` for an own folder.
    pub key: String,
    pub id: i64,
    /// `inbox`, `sent`, `drafts`, `archive`, `trash`, … or `custom`.
    pub role: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub total: i64,
    pub unread: i64,
}

/// `GET /api/v1/folders`.
pub(super) async fn get_folders(State(state): State<AppState>, api: ApiHolder) -> Result<Response, Problem> {
    let rows = state.services.mailbox(&api.holder).folders().await.map_err(|e| Problem::internal(e, api.english))?;
    let folders: Vec<Folder> = rows
        .into_iter()
        .map(|f| Folder {
            key: f.key(),
            id: f.id,
            role: f.role,
            name: f.name,
            parent_id: f.parent_id,
            total: f.total,
            unread: f.unread,
        })
        .collect();
    Ok(private(Json(json!({ "folders": folders })).into_response()))
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Serialize)]
pub struct MessageLine {
    pub id: i64,
    pub from: String,
    pub from_name: String,
    pub to: String,
    pub subject: String,
    pub snippet: String,
    /// Milliseconds since the epoch.
    pub date_ms: i64,
    pub unread: bool,
    pub flagged: bool,
    pub urgent: bool,
    pub has_attachments: bool,
}

/// `GET /api/v1/folders/{key}/messages?page=1&per_page=50`: newest first, with the total
/// (pages from 1).
/// `key` is a standard folder's role or `d<ID>` for an own folder (a folder's `key`).
pub(super) async fn get_messages(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Problem> {
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(50).clamp(1, PAGE_MAX);
    let mailbox = state.services.mailbox(&api.holder);
    if !mailbox.has_folder(&key).await.map_err(|e| Problem::internal(e, api.english))? {
        return Err(Problem::not_found(api.english));
    }
    let (items, total) =
        mailbox.list(&key, page - 1, per_page, false).await.map_err(|e| Problem::internal(e, api.english))?;
    let messages: Vec<MessageLine> = items
        .into_iter()
        .map(|m| MessageLine {
            id: m.id,
            from: m.from_addr,
            from_name: m.from_name,
            to: m.to_addrs,
            subject: m.subject,
            snippet: m.snippet,
            date_ms: m.date_ms,
            unread: m.unread,
            flagged: m.flagged,
            urgent: m.urgent,
            has_attachments: m.has_attachments,
        })
        .collect();
    Ok(private(
        Json(json!({ "messages": messages, "total": total, "page": page, "per_page": per_page })).into_response(),
    ))
}

/// `GET /api/v1/messages/{id}`: one message, parsed (marked read and recorded, as in the
/// webmail).
pub(super) async fn get_message(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let opened = state
        .services
        .mailbox(&api.holder)
        .open(id)
        .await
        .map_err(|e| Problem::internal(e, api.english))?
        .ok_or(Problem::not_found(api.english))?;
    Ok(private(
        Json(json!({
            "id": opened.id,
            "folder": opened.folder_role,
            "message_id": opened.message_id,
            "thread_id": opened.thread_id,
            "from": opened.from_addr,
            "from_name": opened.from_name,
            "to": opened.to_addrs,
            "cc": opened.cc_addrs,
            "subject": opened.subject,
            "date_ms": opened.date_ms,
            "urgent": opened.urgent,
            "body_text": opened.body_text,
            "body_html": opened.body_html,
            "attachments": opened.attachment_names,
            "in_reply_to": opened.in_reply_to,
            "references": opened.references,
        }))
        .into_response(),
    ))
}

fn private(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
