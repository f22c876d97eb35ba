//! The Web Services API for business software (`/api/v1`): JSON over HTTPS, a bearer access
//! token from Hygie's authorization server, the same mailbox verbs (`Mailbox`) as the webmail,
//! with the same checks and audit records. Errors in one shape: RFC 9457 problem details, in
//! French unless the client prefers English.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use hygie_core::audit::Outcome;
use hygie_core::auth::holder::Holder;
use hygie_core::auth::oauth;
use hygie_core::mail::{
    Action, Draft, IdempotencyKey, ListItem, MailError, Once, SearchAfter, SearchQuery, SendError, SubmitError,
};
use hygie_core::ratelimit::{self, Decision, Limit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, OpenApi, ToSchema};

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

    fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    fn invalid(english: bool, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "Requête invalide",
            "Invalid request",
            english,
        )
        .with_detail(detail)
    }

    fn rate_limited(english: bool, retry_after_secs: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Trop d'appels : réessayez plus tard",
            "Too many calls: try again later",
            english,
        );
        p.retry_after = Some(retry_after_secs);
        p
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
                return Err(Problem::rate_limited(english, (retry_after_ms.max(0) as u64).div_ceil(1000)));
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

/// A problem, as every refusal and error is answered (RFC 9457, `application/problem+json`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// `https://hygie.fr/problemes/<kind>`: `unauthorized`, `not-found`, `invalid-request`,
    /// `rate-limited`, `outside-trust-space`, `unknown-mailbox`, `too-large`, `quota`,
    /// `not-the-author`, `idempotency-key-reused`, `internal`, …
    #[serde(rename = "type")]
    kind: String,
    /// In French, or in English when `Accept-Language` starts with `en`.
    title: String,
    status: u16,
    detail: Option<String>,
}

fn internal(english: bool) -> impl Fn(hygie_core::store::StoreError) -> Problem {
    move |e| Problem::internal(e, english)
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct FolderList {
    pub folders: Vec<Folder>,
}

/// `GET /api/v1/folders`.
#[utoipa::path(get, path = "/api/v1/folders", tag = "folders",
    responses((status = 200, description = "The holder's folders", body = FolderList),
              (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_folders(State(state): State<AppState>, api: ApiHolder) -> Result<Response, Problem> {
    let rows = state.services.mailbox(&api.holder).folders().await.map_err(internal(api.english))?;
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
    Ok(private(Json(FolderList { folders }).into_response()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Page number from 1 (offset pagination; prefer `cursor`, which new mail does not shift).
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Messages per page, 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
    /// The `next` of the previous page: the page after it, unmoved by new mail.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
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

impl From<ListItem> for MessageLine {
    fn from(m: ListItem) -> Self {
        MessageLine {
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
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageLine>,
    /// Messages in the folder (absent with `cursor`).
    pub total: Option<i64>,
    pub page: Option<i64>,
    pub per_page: i64,
    /// The cursor of the next page; absent on the last page.
    pub next: Option<String>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// An opaque cursor: `tag` and numbers, base64url.
fn encode_cursor(tag: &str, numbers: &[i64]) -> String {
    let text: Vec<String> = numbers.iter().map(i64::to_string).collect();
    b64().encode(format!("{tag}.{}", text.join(".")))
}

fn decode_cursor<const N: usize>(tag: &str, cursor: &str) -> Option<[i64; N]> {
    let text = String::from_utf8(b64().decode(cursor.trim()).ok()?).ok()?;
    let mut parts = text.split('.');
    (parts.next()? == tag).then_some(())?;
    let mut out = [0; N];
    for n in out.iter_mut() {
        *n = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// `GET /api/v1/folders/{key}/messages?per_page=50&cursor=…` (or `page=1`): newest first; the
/// first page (no cursor) with the folder's total, each page with the `next` cursor.
#[utoipa::path(get, path = "/api/v1/folders/{key}/messages", tag = "messages",
    params(("key" = String, Path, description = "A folder's key (`inbox`, `d12`…)"), PageQuery),
    responses((status = 200, description = "One page of the folder, newest first", body = MessagePage),
              (status = 404, description = "Not one of the holder's folders", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "A cursor that is not one", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_messages(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Problem> {
    let english = api.english;
    let per_page = q.per_page.unwrap_or(50).clamp(1, PAGE_MAX);
    let mailbox = state.services.mailbox(&api.holder);
    if !mailbox.has_folder(&key).await.map_err(internal(english))? {
        return Err(Problem::not_found(english));
    }
    let next_of = |items: &[MessageLine]| match items.last() {
        Some(last) if items.len() as i64 == per_page => Some(encode_cursor("c1", &[last.date_ms, last.id])),
        _ => None,
    };
    if let (Some(c), None) = (&q.cursor, q.page) {
        let [date, id] = decode_cursor::<2>("c1", c).ok_or(Problem::invalid(english, "cursor"))?;
        let items = mailbox.list_after(&key, Some((date, id)), per_page).await.map_err(internal(english))?;
        let messages: Vec<MessageLine> = items.into_iter().map(MessageLine::from).collect();
        let next = next_of(&messages);
        return Ok(private(Json(MessagePage { messages, total: None, page: None, per_page, next }).into_response()));
    }
    let page = q.page.unwrap_or(1).clamp(1, i64::MAX / (PAGE_MAX + 1));
    let (items, total) = mailbox.list(&key, page - 1, per_page, false).await.map_err(internal(english))?;
    let messages: Vec<MessageLine> = items.into_iter().map(MessageLine::from).collect();
    let next = next_of(&messages);
    Ok(private(Json(MessagePage { messages, total: Some(total), page: Some(page), per_page, next }).into_response()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SinceQuery {
    /// The `since` of the previous call; without it, the folder's whole state.
    since: Option<String>,
}

/// A message's state, for synchronisation.
#[derive(Serialize, ToSchema)]
pub struct MessageState {
    pub id: i64,
    pub unread: bool,
    pub flagged: bool,
    pub date_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Changes {
    /// Messages that came into the folder since the cursor (all of them without one).
    pub created: Vec<MessageState>,
    /// Whether anything else changed (flags, messages gone): then `states` holds every message
    /// of the folder; an id the client knows that is not there left the folder.
    pub changed: bool,
    pub states: Option<Vec<MessageState>>,
    /// The cursor for the next call.
    pub since: String,
}

/// `GET /api/v1/folders/{key}/changes?since=…`: what changed in the folder since a previous
/// call (by the folder's IMAP UIDs and modification counter).
#[utoipa::path(get, path = "/api/v1/folders/{key}/changes", tag = "messages",
    params(("key" = String, Path, description = "A folder's key"), SinceQuery),
    responses((status = 200, description = "What changed since the cursor", body = Changes),
              (status = 404, description = "Not one of the holder's folders", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "A cursor that is not one, or of another folder", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_changes(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(key): Path<String>,
    Query(q): Query<SinceQuery>,
) -> Result<Response, Problem> {
    let english = api.english;
    let mailbox = state.services.mailbox(&api.holder);
    // The counters first: a change made meanwhile shows again next time, never is lost.
    let folders = mailbox.imap_folders().await.map_err(internal(english))?;
    let folder = folders.into_iter().find(|f| f.key == key).ok_or(Problem::not_found(english))?;
    let since = match &q.since {
        Some(c) => {
            let [id, uid, modseq] = decode_cursor::<3>("s1", c).ok_or(Problem::invalid(english, "since"))?;
            if id != folder.id {
                return Err(Problem::invalid(english, "since"));
            }
            Some((uid, modseq))
        }
        None => None,
    };
    let messages = mailbox.imap_messages(folder.id).await.map_err(internal(english))?;
    let last_uid = since.map_or(0, |s| s.0);
    let state_of = |m: &hygie_core::mail::imap::ImapMessage| MessageState {
        id: m.id,
        unread: m.unread,
        flagged: m.flagged,
        date_ms: m.date_ms,
    };
    let created: Vec<MessageState> = messages.iter().filter(|m| m.uid > last_uid).map(state_of).collect();
    let changed = since.is_some_and(|s| s.1 != folder.modseq);
    let states = changed.then(|| messages.iter().map(state_of).collect());
    let top = messages.iter().map(|m| m.uid).max().unwrap_or(0).max(i64::from(folder.uidnext) - 1).max(last_uid);
    let next = encode_cursor("s1", &[folder.id, top, folder.modseq]);
    // Ids and flags only (no subjects), recorded as a list is.
    let event = api
        .holder
        .event("mail.list", Outcome::Success)
        .object(format!("folder:{key} changes created:{}", created.len()));
    let svc = &state.services;
    hygie_core::audit::append(&svc.db, svc.clock.as_ref(), event).await.map_err(internal(english))?;
    Ok(private(Json(Changes { created, changed, states, since: next }).into_response()))
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    /// The key of the folder it is in.
    pub folder: String,
    pub message_id: String,
    pub thread_id: String,
    pub from: String,
    pub from_name: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub date_ms: i64,
    pub urgent: bool,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Names of the attachments, by index (`/attachments/{index}`).
    pub attachments: Vec<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// `GET /api/v1/messages/{id}`: one message, parsed (marked read and recorded, as in the
/// webmail).
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = i64, Path, description = "A message's id")),
    responses((status = 200, description = "The message, parsed", body = MessageView),
              (status = 404, description = "Not one of the holder's messages", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_message(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let o = state
        .services
        .mailbox(&api.holder)
        .open(id)
        .await
        .map_err(internal(api.english))?
        .ok_or(Problem::not_found(api.english))?;
    let view = MessageView {
        id: o.id,
        folder: o.folder_role,
        message_id: o.message_id,
        thread_id: o.thread_id,
        from: o.from_addr,
        from_name: o.from_name,
        to: o.to_addrs,
        cc: o.cc_addrs,
        subject: o.subject,
        date_ms: o.date_ms,
        urgent: o.urgent,
        body_text: o.body_text,
        body_html: o.body_html,
        attachments: o.attachment_names,
        in_reply_to: o.in_reply_to,
        references: o.references,
    };
    Ok(private(Json(view).into_response()))
}

/// `GET /api/v1/messages/{id}/raw`: the message as stored (RFC 5322), recorded as a reading.
#[utoipa::path(get, path = "/api/v1/messages/{id}/raw", tag = "messages",
    params(("id" = i64, Path, description = "A message's id")),
    responses((status = 200, description = "The message as stored", content_type = "message/rfc822", body = Vec<u8>),
              (status = 404, description = "Not one of the holder's messages", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_raw(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let mut found =
        state.services.mailbox(&api.holder).imap_read(&[id], true, &[]).await.map_err(internal(api.english))?;
    let raw = found.pop().ok_or(Problem::not_found(api.english))?;
    let mut res = Response::new(Body::from(raw.raw));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("message/rfc822"));
    Ok(private(res))
}

/// A content type as a header may carry it (`type/subtype`, token characters), else none.
fn safe_content_type(declared: &str) -> Option<HeaderValue> {
    let t = declared.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = t.split_once('/')?;
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    (token(kind) && token(sub)).then(|| HeaderValue::from_str(&t).ok()).flatten()
}

/// `Content-Disposition: attachment` with the name in ASCII and, exactly, in RFC 8187 form.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let value = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", app::encode_query_value(name));
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// `GET /api/v1/messages/{id}/attachments/{index}`: an attachment (from 0, in the order of the
/// message's `attachments`), as a download, recorded (`mail.download`) as in the webmail.
#[utoipa::path(get, path = "/api/v1/messages/{id}/attachments/{index}", tag = "messages",
    params(("id" = i64, Path, description = "A message's id"), ("index" = u32, Path, description = "From 0")),
    responses((status = 200, description = "The file, with its declared content type", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, description = "No such attachment among the holder's messages", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_attachment(
    State(state): State<AppState>,
    api: ApiHolder,
    Path((id, index)): Path<(i64, u32)>,
) -> Result<Response, Problem> {
    let english = api.english;
    let svc = &state.services;
    let found = svc.mailbox(&api.holder).attachment(id, index as usize).await.map_err(internal(english))?;
    let object = format!("message:{id} attachment:{index}");
    let outcome = if found.is_some() { Outcome::Success } else { Outcome::Denied("not_found".into()) };
    let event = api.holder.event("mail.download", outcome).object(object);
    hygie_core::audit::append(&svc.db, svc.clock.as_ref(), event).await.map_err(internal(english))?;
    let file = found.ok_or(Problem::not_found(english))?;
    let mut res = Response::new(Body::from(file.bytes));
    let h = res.headers_mut();
    let kind = safe_content_type(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, kind);
    h.insert(header::CONTENT_DISPOSITION, disposition(&file.name));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(private(res))
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptStep {
    /// `queued`, `handed_over`, `delivered`, `relayed`, `delayed`, `failed`, `read`,
    /// `read_failed`.
    pub kind: String,
    pub at_ms: Option<i64>,
    pub status: String,
    pub reason: Option<String>,
    pub diagnostic: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecipientReceipts {
    pub recipient: String,
    /// The furthest step: `queued`, `handed_over`, `delivered`, `delayed`, `read`, `failed`.
    pub state: String,
    pub steps: Vec<ReceiptStep>,
}

#[derive(Serialize, ToSchema)]
pub struct Receipts {
    pub recipients: Vec<RecipientReceipts>,
}

/// `GET /api/v1/messages/{id}/receipts`: where each recipient of a message the holder sent
/// stands (delivery and read receipts), recorded (`mail.receipts`).
#[utoipa::path(get, path = "/api/v1/messages/{id}/receipts", tag = "messages",
    params(("id" = i64, Path, description = "The id of a message the holder sent")),
    responses((status = 200, description = "Each recipient's timeline", body = Receipts),
              (status = 404, description = "Not a message the holder sent", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_receipts(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let timeline = state
        .services
        .mailbox(&api.holder)
        .receipts(id)
        .await
        .map_err(internal(api.english))?
        .ok_or(Problem::not_found(api.english))?;
    let recipients = timeline
        .into_iter()
        .map(|r| RecipientReceipts {
            recipient: r.recipient,
            state: r.state.to_string(),
            steps: r
                .steps
                .into_iter()
                .map(|s| ReceiptStep {
                    kind: s.kind,
                    at_ms: s.at_ms,
                    status: s.status,
                    reason: s.reason.map(str::to_string),
                    diagnostic: s.diagnostic,
                })
                .collect(),
        })
        .collect();
    Ok(private(Json(Receipts { recipients }).into_response()))
}

/// What to change on a message; what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageChange {
    pub unread: Option<bool>,
    pub flagged: Option<bool>,
    /// Move to `inbox`, `archive`, `trash` or one of the holder's folders (`d12`).
    pub folder: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePlace {
    pub id: i64,
    /// The key of the folder it is in now; absent when deleted for good.
    pub folder: Option<String>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], english: bool) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| Problem::invalid(english, e.to_string()))
}

/// The action that moves a message to folder `key`, if it names one a message can go to.
fn move_action(key: &str) -> Option<Action> {
    match key {
        "inbox" | "archive" | "trash" => Action::parse(key),
        own => Some(Action::MoveToFolder(own.strip_prefix('d')?.parse().ok()?)),
    }
}

/// The holder's message `id`'s folder; 404 (the attempt recorded) when not theirs.
async fn folder_of(state: &AppState, api: &ApiHolder, id: i64, action: &str) -> Result<String, Problem> {
    let svc = &state.services;
    match svc.mailbox(&api.holder).folder_of(id).await.map_err(internal(api.english))? {
        Some(key) => Ok(key),
        None => {
            let event = api.holder.event(action, Outcome::Denied("not_found".into())).object(format!("message:{id}"));
            hygie_core::audit::append(&svc.db, svc.clock.as_ref(), event).await.map_err(internal(api.english))?;
            Err(Problem::not_found(api.english))
        }
    }
}

/// `PATCH /api/v1/messages/{id}`: read or unread, flagged or not, moved, all in one transaction;
/// each change recorded as in the webmail (`mail.read`, `mail.flag`, `mail.archive`,
/// `mail.trash`, …).
#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "changes",
    params(("id" = i64, Path, description = "A message's id")),
    request_body(content = MessageChange, content_type = "application/json"),
    responses((status = 200, description = "Changed", body = MessagePlace),
              (status = 404, description = "Not one of the holder's messages or folders", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "Not a change", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn patch_message(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, Problem> {
    let english = api.english;
    let change: MessageChange = parse_json(&body, english)?;
    let mut actions = Vec::new();
    if let Some(u) = change.unread {
        actions.push(if u { Action::MarkUnread } else { Action::MarkRead });
    }
    if let Some(f) = change.flagged {
        actions.push(if f { Action::Flag } else { Action::Unflag });
    }
    let target = change.folder.as_deref();
    let moving = match target {
        Some(key) => Some(move_action(key).ok_or(Problem::invalid(english, "folder"))?),
        None => None,
    };
    let first = moving.or(actions.first().copied()).map(|a| a.audit_name()).unwrap_or("mail.update".into());
    let current = folder_of(&state, &api, id, &first).await?;
    let mailbox = state.services.mailbox(&api.holder);
    if let (Some(key), Some(action)) = (target, moving) {
        if !mailbox.has_folder(key).await.map_err(internal(english))? {
            return Err(Problem::not_found(english));
        }
        if key != current {
            actions.push(action);
        }
    }
    // Every field or none: one transaction, one record per change.
    let ids = [id];
    let changes: Vec<(Action, &[i64])> = actions.into_iter().map(|a| (a, &ids[..])).collect();
    mailbox.apply_all(&changes).await.map_err(internal(english))?;
    let folder = mailbox.folder_of(id).await.map_err(internal(english))?;
    Ok(private(Json(MessagePlace { id, folder }).into_response()))
}

/// `DELETE /api/v1/messages/{id}`: to the Trash; from the Trash, for good (`mail.trash`,
/// `mail.delete`).
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "changes",
    params(("id" = i64, Path, description = "A message's id")),
    responses((status = 200, description = "In the Trash, or deleted for good (no folder)", body = MessagePlace),
              (status = 404, description = "Not one of the holder's messages", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn delete_message(
    State(state): State<AppState>,
    api: ApiHolder,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let current = folder_of(&state, &api, id, "mail.trash").await?;
    let action = if current == "trash" { Action::DeleteForever } else { Action::Trash };
    let mailbox = state.services.mailbox(&api.holder);
    mailbox.apply(&[id], action).await.map_err(internal(api.english))?;
    let folder = mailbox.folder_of(id).await.map_err(internal(api.english))?;
    Ok(private(Json(MessagePlace { id, folder }).into_response()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchParams {
    /// Words, and `from:`, `to:`, `subject:`, `has:attachment`, `is:unread`, `after:2026-12-01`,
    /// `before:` (or their French forms `de:`, `à:`, `objet:`, `pj`, `non-lu`, `après:`, `avant:`).
    q: String,
    /// A folder's key; every folder when absent.
    folder: Option<String>,
    /// Messages per page, 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
    /// The `next` of the previous page (with the same `q` and `folder`).
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    pub messages: Vec<MessageLine>,
    /// How many messages match in all (on the first page only).
    pub total: Option<i64>,
    pub per_page: i64,
    /// The cursor of the next page; absent on the last page.
    pub next: Option<String>,
}

/// `GET /api/v1/search?q=…&folder=…&cursor=…`: the webmail's search, newest first, every match
/// page by page (each page counts in the hourly search limit).
#[utoipa::path(get, path = "/api/v1/search", tag = "messages", params(SearchParams),
    responses((status = 200, description = "A page of matching messages, newest first", body = SearchResults),
              (status = 404, description = "Not one of the holder's folders", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "A cursor that is not one", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 429, description = "Over the hourly search limit", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn get_search(
    State(state): State<AppState>,
    api: ApiHolder,
    Query(q): Query<SearchParams>,
) -> Result<Response, Problem> {
    let english = api.english;
    let per_page = q.per_page.unwrap_or(50).clamp(1, PAGE_MAX);
    let after = match &q.cursor {
        Some(c) => {
            let [date_ms, id] = decode_cursor::<2>("q1", c).ok_or(Problem::invalid(english, "cursor"))?;
            Some(SearchAfter { date_ms, id })
        }
        None => None,
    };
    let mailbox = state.services.mailbox(&api.holder);
    if let Some(f) = &q.folder {
        if !mailbox.has_folder(f).await.map_err(internal(english))? {
            return Err(Problem::not_found(english));
        }
    }
    let found = match mailbox.search_page(&SearchQuery::parse(&q.q), q.folder.as_deref(), after, per_page).await {
        Ok(found) => found,
        Err(MailError::RateLimited { retry_after_secs }) => {
            return Err(Problem::rate_limited(english, retry_after_secs))
        }
        Err(e) => return Err(Problem::internal(e, english)),
    };
    let next = found.next.map(|a| encode_cursor("q1", &[a.date_ms, a.id]));
    let messages = found.items.into_iter().map(MessageLine::from).collect();
    Ok(private(Json(SearchResults { messages, total: found.total, per_page, next }).into_response()))
}

/// A file sent with a message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    pub name: String,
    pub content_type: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    pub content_base64: String,
}

/// A message to send, written by the software; the sender is the token's holder.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub urgent: bool,
    /// Ask the recipients for a read receipt.
    #[serde(default)]
    pub read_receipt: bool,
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
}

#[derive(Serialize, ToSchema)]
pub struct SentAnswer {
    /// The id of the copy in the holder's Sent folder.
    pub id: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct IdempotencyHeader {
    /// Any string of up to 200 characters, new for each message: a send retried with the same
    /// key (by the same holder, within 7 days) is answered as the first was and never leaves
    /// twice.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

/// The request's `Idempotency-Key`, with a fingerprint of `body` for `what`.
fn idempotency_key(
    headers: &HeaderMap,
    what: &str,
    body: &[u8],
    english: bool,
) -> Result<Option<IdempotencyKey>, Problem> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    let key = v.to_str().map_err(|_| Problem::invalid(english, "Idempotency-Key"))?.trim();
    if key.is_empty() || key.len() > hygie_core::mail::idempotency::KEY_MAX_LEN {
        return Err(Problem::invalid(english, "Idempotency-Key"));
    }
    let mut h = Sha256::new();
    h.update(what.as_bytes());
    h.update([0]);
    h.update(body);
    Ok(Some(IdempotencyKey { key: key.to_string(), fingerprint: hex::encode(h.finalize()) }))
}

fn send_problem(e: SendError, english: bool) -> Problem {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match e {
        SendError::NoRecipient => {
            Problem::new(unprocessable, "no-recipient", "Aucun destinataire", "No recipient", english)
        }
        SendError::OutsideTrustSpace(a) => Problem::new(
            unprocessable,
            "outside-trust-space",
            "Adresse hors de l'espace de confiance MSSanté",
            "Address outside the MSSanté trust space",
            english,
        )
        .with_detail(a),
        SendError::UnknownMailbox(a) => Problem::new(
            unprocessable,
            "unknown-mailbox",
            "Aucune boîte aux lettres active à cette adresse",
            "No active mailbox at this address",
            english,
        )
        .with_detail(a),
        SendError::TooLarge { max_bytes } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Message trop volumineux",
            "Message too large",
            english,
        )
        .with_detail(format!("{max_bytes}")),
        SendError::TooLargeForPatient { max_bytes } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large-for-patient",
            "Message trop volumineux pour l'adresse d'un patient",
            "Message too large for a patient's address",
            english,
        )
        .with_detail(format!("{max_bytes}")),
        SendError::QuotaExceeded { .. } => Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota",
            "Votre messagerie est pleine",
            "Your mailbox is full",
            english,
        ),
        SendError::MailboxFull(a) => Problem::new(
            unprocessable,
            "recipient-mailbox-full",
            "La messagerie du destinataire est pleine",
            "The recipient's mailbox is full",
            english,
        )
        .with_detail(a),
        SendError::RateLimited { retry_after_secs } => Problem::rate_limited(english, retry_after_secs),
        SendError::Store(e) => Problem::internal(e, english),
        // Drafts, uploads and forwards are the webmail's: not reachable from here.
        other => Problem::invalid(english, other.audit_code()),
    }
}

fn submit_problem(e: SubmitError, english: bool) -> Problem {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match e {
        SubmitError::Malformed => {
            Problem::new(unprocessable, "malformed", "Ce n'est pas un message", "Not a message", english)
        }
        SubmitError::NotTheAuthor => Problem::new(
            StatusCode::FORBIDDEN,
            "not-the-author",
            "L'auteur (From) doit être le titulaire de la messagerie, seul",
            "The author (From) must be the mailbox holder alone",
            english,
        ),
        SubmitError::NotUtf8 => Problem::new(
            unprocessable,
            "not-utf8",
            "Texte 8 bits qui n'est pas de l'UTF-8 : encodez-le (quoted-printable ou base64)",
            "8-bit text that is not UTF-8: encode it (quoted-printable or base64)",
            english,
        ),
        SubmitError::Send(e) => send_problem(e, english),
    }
}

fn key_reused(english: bool) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Cette clé d'idempotence a déjà servi pour une autre requête",
        "This idempotency key was used for another request",
        english,
    )
}

/// 201 with the Sent copy's id, once committed; the same answer to a retry.
fn sent_answer(once: Once, english: bool) -> Result<Response, Problem> {
    let (id, replayed) = match once {
        Once::Sent(sent) => (sent.sent_id, false),
        Once::Replayed { sent_id } => (sent_id, true),
        Once::KeyReused => return Err(key_reused(english)),
    };
    let mut res = (StatusCode::CREATED, Json(SentAnswer { id })).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/messages/{id}")) {
        h.insert(header::LOCATION, v);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(private(res))
}

/// `POST /api/v1/messages`: sends a message (the webmail's send: trust space, limits, quota,
/// copies, queue and record in one transaction), once per `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/messages", tag = "send", params(IdempotencyHeader),
    request_body(content = SendRequest, content_type = "application/json"),
    responses((status = 201, description = "Sent (committed); or the first answer to a retried key", body = SentAnswer),
              (status = 403, description = "Refused", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 413, description = "Too large", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "Refused: a recipient, the request, a reused key", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 429, description = "Over the hourly sending limit", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 507, description = "The holder's mailbox is full", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn post_message(
    State(state): State<AppState>,
    api: ApiHolder,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let english = api.english;
    let key = idempotency_key(&headers, "send", &body, english)?;
    let request: SendRequest = parse_json(&body, english)?;
    let mut attachments = Vec::with_capacity(request.attachments.len());
    for (i, a) in request.attachments.into_iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(a.content_base64.trim())
            .map_err(|_| Problem::invalid(english, format!("attachments[{i}].content_base64")))?;
        let name = a.name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Problem::invalid(english, format!("attachments[{i}].name")));
        }
        let content_type = match safe_content_type(&a.content_type) {
            Some(t) => t.to_str().unwrap_or("application/octet-stream").to_string(),
            None => "application/octet-stream".to_string(),
        };
        attachments.push(hygie_core::mail::attach::Part { name: name.to_string(), content_type, bytes });
    }
    let draft = Draft {
        to: request.to,
        cc: request.cc,
        bcc: request.bcc,
        subject: request.subject,
        body: request.body,
        urgent: request.urgent,
        read_receipt: request.read_receipt,
        attachments,
        ..Default::default()
    };
    let mailbox = state.services.mailbox(&api.holder);
    let once = match &key {
        Some(key) => mailbox.send_once(key, &draft).await,
        None => mailbox.send(&draft).await.map(Once::Sent),
    };
    sent_answer(once.map_err(|e| send_problem(e, english))?, english)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RawParams {
    /// The envelope's recipients (To, Cc and Bcc), separated by commas.
    recipients: String,
}

/// `POST /api/v1/messages/raw?recipients=a@x.fr,b@y.fr`: sends a message the software wrote
/// (`message/rfc822`), kept as written; its From must be the holder. Once per
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/messages/raw", tag = "send", params(RawParams, IdempotencyHeader),
    request_body(content = Vec<u8>, content_type = "message/rfc822"),
    responses((status = 201, description = "Sent (committed); or the first answer to a retried key", body = SentAnswer),
              (status = 403, description = "The author is not the holder", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 413, description = "Too large", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "Refused: a recipient, the message, a reused key", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 429, description = "Over the hourly sending limit", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 507, description = "The holder's mailbox is full", body = ProblemDoc, content_type = "application/problem+json")))]
pub(super) async fn post_raw(
    State(state): State<AppState>,
    api: ApiHolder,
    headers: HeaderMap,
    Query(q): Query<RawParams>,
    body: Bytes,
) -> Result<Response, Problem> {
    let english = api.english;
    let recipients: Vec<String> =
        q.recipients.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect();
    let mut fingerprinted = recipients.join(",").into_bytes();
    fingerprinted.push(0);
    fingerprinted.extend_from_slice(&body);
    let key = idempotency_key(&headers, "raw", &fingerprinted, english)?;
    let mailbox = state.services.mailbox(&api.holder);
    let once = match &key {
        Some(key) => mailbox.submit_once(key, &recipients, &body).await,
        None => mailbox.submit(&recipients, &body).await.map(Once::Sent),
    };
    sent_answer(once.map_err(|e| submit_problem(e, english))?, english)
}

/// The API's description (OpenAPI 3.1), generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Hygie Web Services API", version = "1",
         description = "A holder's secure health mailbox for business software. Bearer access tokens from Hygie's OAuth authorization server; errors as RFC 9457 problem details."),
    paths(get_folders, get_messages, get_changes, get_message, get_raw, get_attachment, get_receipts,
          patch_message, delete_message, get_search, post_message, post_raw),
    components(schemas(ProblemDoc)),
    modifiers(&BearerScheme),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An access token from /oauth/token (device grant, authorization code with PKCE)"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// `GET /api/v1/openapi.json`: no token needed.
pub(super) async fn get_openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => Problem::internal(e, false).into_response(),
    }
}

fn private(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Reads a request's whole body (up to `max` bytes) before anything answers it. A refusal made
/// from the headers alone (an expired token: 401) would otherwise leave while the client is
/// still sending, and the connection be reset under it: the software would see a network error
/// where it must read 401 and refresh its token.
pub(super) async fn read_body_first(max: usize, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let english = prefers_english(req.headers());
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, max).await {
        Ok(bytes) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(_) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Message trop volumineux",
            "Message too large",
            english,
        )
        .with_detail(format!("{max}"))
        .into_response(),
    }
}
