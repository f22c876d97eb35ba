//! The mail files' handlers: an attachment uploaded for the next message, downloaded, or
//! previewed page by page as images (PDF).

use app::error::AppError;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hygie_core::audit::Outcome;
use serde::Deserialize;

use super::{internal_text, recorded, status_of, AppState, SignedIn};

/// An error as JSON (the composer reads it like a server function's), with its HTTP status.
fn json_error(e: AppError) -> Response {
    let mut res = (status_of(&e), axum::Json(&e)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    nom: String,
}

/// `POST /messagerie/pj?nom=NAME` with the file as the body (its type in `Content-Type`): keeps
/// it for the account's next message. Answers `{"id", "name", "size"}`, or an error as JSON:
/// 413 over the per-message limit, 507 over the quota, 429 over 300 files an hour.
pub(super) async fn post_upload(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Response {
    let svc = &state.services;
    let mailbox = svc.mailbox(&holder);
    let (parts, body) = req.into_parts();
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if let Err(e) = mailbox.may_upload(declared).await {
        return json_error(e.into());
    }
    let Ok(bytes) = axum::body::to_bytes(body, mailbox.limits().max_message_bytes as usize).await else {
        return json_error(mailbox.upload_too_large().await.into());
    };
    match mailbox.store_upload(&q.nom, &content_type, &bytes).await {
        Ok(up) => {
            let mut res =
                axum::Json(serde_json::json!({"id": up.id, "name": up.name, "size": up.size})).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => json_error(e.into()),
    }
}

/// Downloads an attachment of one of the signed-in account's messages: always as a download
/// (`Content-Disposition: attachment`), never sniffed, under a policy that allows nothing.
/// Recorded before a byte leaves.
pub(super) async fn get_attachment(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Path((id, index)): Path<(i64, usize)>,
) -> Response {
    let found = match state.services.mailbox(&holder).attachment(id, index).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    download(&state, &holder, found, format!("message:{id} attachment:{index}")).await
}

/// `GET /messagerie/pj/ID/INDEX/xdm/DOC`: document DOC of the XDM package (`IHE_XDM.zip`) that
/// is attachment INDEX, as the package holds it (a CDA, usually), downloaded like an attachment.
pub(super) async fn get_xdm_document(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Path((id, index, doc)): Path<(i64, usize, usize)>,
) -> Response {
    let found = match state.services.mailbox(&holder).xdm_document(id, index, doc).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    download(&state, &holder, found, format!("message:{id} attachment:{index} document:{doc}")).await
}

/// `GET /messagerie/pj/ID/INDEX/xdm/DOC/pdf`: the PDF of that document (its file, or the PDF
/// its CDA embeds), downloaded like an attachment.
pub(super) async fn get_xdm_pdf(
    State(state): State<AppState>,
    SignedIn(holder): SignedIn,
    Path((id, index, doc)): Path<(i64, usize, usize)>,
) -> Response {
    let found = match state.services.mailbox(&holder).xdm_pdf(id, index, doc).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    download(&state, &holder, found, format!("message:{id} attachment:{index} document:{doc} pdf")).await
}

/// A file of the holder's as a download, recorded (`mail.download`, on `object`) before a byte
/// leaves; 404 (recorded too) when there is none.
async fn download(
    state: &AppState,
    holder: &hygie_core::auth::holder::Holder,
    found: Option<hygie_core::mail::Attachment>,
    object: String,
) -> Response {
    let svc = &state.services;
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
pub(super) struct PreviewQuery {
    /// Width in pixels (600 or 1200; others are rounded to the nearest).
    largeur: Option<u32>,
}

/// `GET /messagerie/pj/ID/INDEX/apercu/PAGE?largeur=600`: page PAGE (from 1) of a PDF attachment
/// of one of the signed-in account's messages, drawn as a PNG image by the confined renderer.
/// 404 for another account's message, a file that is not a PDF by its content, or a page past
/// the end; 422 for a PDF that cannot be drawn.
pub(super) async fn get_preview_page(
    State(state): State<AppState>,
    Path((id, index, page)): Path<(i64, usize, u32)>,
    Query(q): Query<PreviewQuery>,
    SignedIn(holder): SignedIn,
) -> Response {
    let file = match state.services.mailbox(&holder).pdf_attachment(id, index).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    preview_page(&state, &holder, file, format!("message:{id} attachment:{index} page:{page}"), page, q.largeur).await
}

/// `GET /messagerie/pj/ID/INDEX/xdm/DOC/apercu/PAGE?largeur=600`: page PAGE of the PDF of
/// document DOC of the XDM package that is attachment INDEX, drawn like a PDF attachment's.
pub(super) async fn get_xdm_preview_page(
    State(state): State<AppState>,
    Path((id, index, doc, page)): Path<(i64, usize, usize, u32)>,
    Query(q): Query<PreviewQuery>,
    SignedIn(holder): SignedIn,
) -> Response {
    let file = match state.services.mailbox(&holder).xdm_pdf(id, index, doc).await {
        Ok(found) => found,
        Err(e) => return internal_text(e),
    };
    let object = format!("message:{id} attachment:{index} document:{doc} page:{page}");
    preview_page(&state, &holder, file, object, page, q.largeur).await
}

/// Page `page` of `file` (a PDF of the holder's) as a PNG drawn by the confined renderer,
/// recorded (`mail.preview_page`, on `object`).
async fn preview_page(
    state: &AppState,
    holder: &hygie_core::auth::holder::Holder,
    file: Option<hygie_core::mail::Attachment>,
    object: String,
    page: u32,
    largeur: Option<u32>,
) -> Response {
    use hygie_core::mail::preview::PreviewError;
    let svc = &state.services;
    let record = |outcome: Outcome| recorded(svc, holder.event("mail.preview_page", outcome).object(object.clone()));
    let plain = |status: StatusCode, text: &'static str| {
        let mut res = (status, text).into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    };
    let Some(file) = file else {
        if let Err(res) = record(Outcome::Denied("not_found".into())).await {
            return res;
        }
        return plain(StatusCode::NOT_FOUND, "Pièce jointe introuvable. / Attachment not found.\n");
    };
    if let Err(e) = svc.mailbox(holder).may_preview("mail.preview_page").await {
        return json_error(e.into());
    }
    let width = largeur.unwrap_or(hygie_core::mail::preview::WIDTHS[0]);
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
