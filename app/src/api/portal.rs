//! The public portal's server functions and the view types they return.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::contact::ContactInput;
use crate::domain::FieldError;
use crate::error::AppError;

/// Who runs and hosts the service, and how to reach support (from the server's configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub operator: Organisation,
    pub director: String,
    pub host: Organisation,
    pub host_certification: String,
    pub support_hours_fr: String,
    pub support_hours_en: String,
    pub support_phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub registration: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsSummary {
    pub version: String,
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsView {
    pub version: String,
    pub date: String,
    pub title: String,
    pub html: String,
    /// The version in force (the newest).
    pub current: String,
    /// Every version, newest first.
    pub versions: Vec<TermsSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactReceipt {
    pub id: i64,
}

/// What a form POST without JavaScript left for the page to show: the input to refill and why
/// it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFlash {
    pub input: ContactInput,
    pub errors: Vec<FieldError>,
    pub failure: Option<AppError>,
}

#[server(endpoint = "site-info")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    let site = crate::server::services()?.site;
    // The answer is ready at once (configuration), and a resource that resolves on its first
    // poll takes a rarer path through Leptos' SSR suspense: twice in CI, and only on the legal
    // notice page whose one resource this is, the response never ended (30 s timeout; not
    // reproduced in 6,000 local requests). Yielding once makes it resolve like every other
    // page's resource, which waits on the database.
    leptos::task::tick().await;
    Ok((*site).clone())
}

/// A version of the terms (the one in force when `version` is `None`) and the list of all.
#[server(endpoint = "terms")]
pub async fn get_terms(version: Option<String>) -> Result<TermsView, AppError> {
    use hygie_core::terms;
    let svc = crate::server::services()?;
    let all = terms::list(&svc.db).await.map_err(AppError::internal)?;
    let current = all.first().ok_or(AppError::NotFound)?;
    let shown = match &version {
        None => current,
        Some(v) => all.iter().find(|t| &t.doc.version == v).ok_or(AppError::NotFound)?,
    };
    Ok(TermsView {
        version: shown.doc.version.clone(),
        date: shown.doc.date.clone(),
        title: shown.doc.title.clone(),
        html: shown.doc.body_html(),
        current: current.doc.version.clone(),
        versions: all
            .iter()
            .map(|t| TermsSummary { version: t.doc.version.clone(), date: t.doc.date.clone() })
            .collect(),
    })
}

#[server(endpoint = "contact")]
pub async fn submit_contact(input: ContactInput) -> Result<ContactReceipt, AppError> {
    let svc = crate::server::services()?;
    let ip = crate::server::client_ip();
    let id = crate::server::submit_contact(&svc, ip.as_deref(), &input).await?;
    Ok(ContactReceipt { id })
}

/// The flash left by a form POST without JavaScript (only ever present while that POST's answer
/// is rendered on the server).
#[server(endpoint = "contact-flash")]
pub async fn get_contact_flash() -> Result<Option<ContactFlash>, AppError> {
    Ok(use_context::<ContactFlash>())
}
