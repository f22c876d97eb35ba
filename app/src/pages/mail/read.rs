//! One message, read.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{mail_list, mail_open, MailAct, MailAllowImages, MessageView, PatientView, XdmView};
use crate::components::feedback::Loading;
use crate::components::icons::{icon, Icon};
use crate::components::pdf_preview::PdfPreview;
use crate::components::receipts::{timeline_section, ReadReceiptPrompt};
use crate::components::shortcuts::{use_shortcuts, ShortcutHelp};
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

use super::folders::FolderNav;
use super::list::message_row;
use super::{failure_view, folder_entry};

/// `/messagerie/message/:id`: one message. On a wide screen its folder's list stays beside it
/// (a reading pane: `j`/`k` and the list's links change the message, the address stays the
/// message's own); on a phone the message takes the screen, with "back" and "next".
#[component]
pub fn ReadPage() -> impl IntoView {
    let t = use_i18n();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let current = Signal::derive(id);
    let allow = ServerAction::<MailAllowImages>::new();
    provide_context(allow);
    let message = Resource::new(move || (id(), allow.version().get()), |(id, _)| mail_open(id));
    let role = RwSignal::new(String::new());
    // The folder's first page, in the browser only (it follows the message's folder); without
    // it the message reads alone.
    let list = LocalResource::new(move || {
        let role = role.get();
        async move {
            if role.is_empty() {
                None
            } else {
                mail_list(role, 0).await.ok()
            }
        }
    });
    // The messages before and after this one in the list.
    let neighbours = Signal::derive(move || {
        let here = id();
        list.get()
            .flatten()
            .and_then(|p| {
                let at = p.items.iter().position(|m| m.ids.contains(&here))?;
                let prev = at.checked_sub(1).and_then(|i| p.items.get(i)).map(|m| m.open);
                let next = p.items.get(at + 1).map(|m| m.open);
                Some((prev, next))
            })
            .unwrap_or((None, None))
    });
    view! {
        <Title text=t.t(Msg::NavMail)/>
        <div class="mail-layout read-layout">
            <FolderNav current=role.into()/>
            <section class="pane-list" aria-label=t.t(Msg::MessageListLabel)>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        list.await.map(|p| view! {
                            <ul class="message-list">
                                {p.items.into_iter().map(|m| message_row(t, m, None, false, Some(current))).collect_view()}
                            </ul>
                        })
                    })}
                </Suspense>
            </section>
            <section class="mail-main">
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match message.await {
                            Ok(m) => {
                                if role.get_untracked() != m.folder {
                                    role.set(m.folder.clone());
                                }
                                view! { <MessageDetails m neighbours/> }.into_any()
                            }
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

#[component]
fn MessageDetails(m: MessageView, neighbours: Signal<(Option<i64>, Option<i64>)>) -> impl IntoView {
    let t = use_i18n();
    let (slug, _) = folder_entry(&m.folder);
    let act = ServerAction::<MailAct>::new();
    let navigate = use_navigate();
    let back = format!("/messagerie/{slug}");
    Effect::new(move |_| {
        if let Some(Ok(_)) = act.value().get() {
            navigate(&back, Default::default());
        }
    });
    let id = m.id;
    let run = move |action: &'static str| {
        act.dispatch(MailAct { action: action.into(), ids: vec![id] });
    };
    let actions = if m.folder == "trash" {
        view! {
            <button type="button" class="button" on:click=move |_| run("restore")>{t.t(Msg::Restore)}</button>
            <button type="button" class="button" on:click=move |_| run("delete")>{t.t(Msg::DeleteForever)}</button>
        }
        .into_any()
    } else {
        let archive = (m.folder != "archive").then(|| {
            view! {
                <button type="button" class="button" on:click=move |_| run("archive")>{t.t(Msg::Archive)}</button>
            }
        });
        view! {
            {archive}
            <button type="button" class="button" on:click=move |_| run("trash")>{t.t(Msg::Delete)}</button>
            <button type="button" class="button" on:click=move |_| run("unread")>{t.t(Msg::MarkUnread)}</button>
        }
        .into_any()
    };
    let help = RwSignal::new(false);
    let go = use_navigate();
    let (slug_for_keys, message) = (slug, m.id);
    let trash = m.folder == "trash";
    use_shortcuts(help, move |key| {
        let to = match key {
            "r" => format!("/messagerie/ecrire?repondre={message}"),
            "a" => format!("/messagerie/ecrire?repondre={message}&tous=1"),
            "f" => format!("/messagerie/ecrire?transferer={message}"),
            "c" => "/messagerie/ecrire".to_string(),
            "u" => format!("/messagerie/{slug_for_keys}"),
            "j" => match neighbours.get_untracked().1 {
                Some(next) => format!("/messagerie/message/{next}"),
                None => return,
            },
            "k" => match neighbours.get_untracked().0 {
                Some(prev) => format!("/messagerie/message/{prev}"),
                None => return,
            },
            "e" if !trash => return run("archive"),
            "#" if !trash => return run("trash"),
            _ => return,
        };
        go(&to, Default::default());
    });
    let subject = if m.subject.is_empty() { t.t(Msg::NoSubject).to_string() } else { m.subject.clone() };
    let from = if m.from_name.is_empty() { m.from_addr.clone() } else { format!("{} <{}>", m.from_name, m.from_addr) };
    let row = |label: Msg, value: String| (!value.is_empty()).then(|| view! { <dt>{t.t(label)}</dt><dd>{value}</dd> });
    view! {
        <ShortcutHelp open=help/>
        <nav class="message-nav" aria-label=t.t(Msg::MessageNavLabel)>
            <a class="icon-link" href=format!("/messagerie/{slug}")>{icon(Icon::Back)}<span>{t.t(Msg::BackToList)}</span></a>
            {move || neighbours.get().0.map(|prev| view! {
                <a class="icon-link" href=format!("/messagerie/message/{prev}")>{icon(Icon::Back)}<span class="nav-text">{t.t(Msg::PreviousMessage)}</span></a>
            })}
            {move || neighbours.get().1.map(|next| view! {
                <a class="icon-link" href=format!("/messagerie/message/{next}")><span class="nav-text">{t.t(Msg::NextMessage)}</span>{icon(Icon::Next)}</a>
            })}
        </nav>
        <article class="message" aria-labelledby="message-subject">
            <h1 id="message-subject">
                {m.urgent.then(|| view! { <span class="tag tag-urgent">{t.t(Msg::Urgent)}</span>" " })}
                {m.health_document.then(|| view! { <span class="tag tag-health">{t.t(Msg::HealthDocument)}</span>" " })}
                {subject}
            </h1>
            <dl class="details message-headers">
                {row(Msg::MailFrom, from)}
                {row(Msg::MailTo, m.to.clone())}
                {row(Msg::MailCc, m.cc.clone())}
                {row(Msg::MailBcc, m.bcc.clone())}
                <dt>{t.t(Msg::MailDate)}</dt>
                <dd><time datetime=m.date.clone()>{paris_or_utc(t, &m.local, &m.date)}</time></dd>
            </dl>
            {(!m.read_receipt.is_empty()).then(|| view! { <ReadReceiptPrompt id=m.id initial=m.read_receipt.clone()/> })}
            {m.patient.clone().map(|p| patient_section(t, p, m.ins_qualified))}
            <div class="button-row">
                <a class="button" href=format!("/messagerie/ecrire?repondre={}", m.id)>{t.t(Msg::Reply)}</a>
                <a class="button" href=format!("/messagerie/ecrire?repondre={}&tous=1", m.id)>{t.t(Msg::ReplyAll)}</a>
                <a class="button" href=format!("/messagerie/ecrire?transferer={}", m.id)>{t.t(Msg::Forward)}</a>
                {actions}
                <a href=format!("/messagerie/{slug}")>{t.t(Msg::BackToList)}</a>
            </div>
            {m.remote_images_blocked.then(|| {
                let allow = use_context::<ServerAction<MailAllowImages>>();
                let id = m.id;
                view! {
                    <div class="notice images-blocked" role="note">
                        <p>{t.t(Msg::ImagesBlocked)}</p>
                        <button type="button" class="button"
                            on:click=move |_| if let Some(a) = allow { a.dispatch(MailAllowImages { id }); }>
                            {t.fmt(Msg::ImagesAllow, &[("sender", &m.from_addr)])}
                        </button>
                    </div>
                }
            })}
            {match m.body_html.clone() {
                // Sanitised already; the frame adds a second wall: no scripts, no same origin.
                Some(html) => view! {
                    <iframe class="mail-html" sandbox="allow-popups allow-popups-to-escape-sandbox"
                        title=t.t(Msg::MessageContent) srcdoc=html></iframe>
                }.into_any(),
                None => view! { <pre class="mail-body" tabindex="0">{m.body.clone()}</pre> }.into_any(),
            }}
            {m.xdm.clone().map(|x| xdm_section(t, m.id, x))}
            {(!m.conversation.is_empty()).then(|| {
                let title = t.fmt(Msg::ConversationTitle, &[("count", &m.conversation.len().to_string())]);
                view! {
                    <section class="conversation" aria-labelledby="conversation-title">
                        <h2 id="conversation-title">{title}</h2>
                        <ol>
                            {m.conversation.iter().map(|c| {
                                let here = c.id == m.id;
                                let line = format!("{} — {}", c.who, paris_or_utc(t, &c.local, &c.date));
                                view! {
                                    <li class:unread=c.unread class:current=here>
                                        {if here {
                                            view! { <span aria-current="true"><strong>{line}</strong></span> }.into_any()
                                        } else {
                                            view! { <a href=format!("/messagerie/message/{}", c.id)>{line}</a> }.into_any()
                                        }}
                                        <span class="snippet">{c.snippet.clone()}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    </section>
                }
            })}
            {(!m.timeline.is_empty()).then(|| timeline_section(t, m.timeline.clone()))}
            {(!m.attachments.is_empty()).then(|| view! {
                <h2>{t.t(Msg::Attachments)}</h2>
                <ul class="attachments">
                    {m.attachments.iter().enumerate().map(|(n, a)| {
                        let pdf = m.attachment_pdf.get(n).copied().unwrap_or(false);
                        view! {
                            <li>
                                <a href=format!("/messagerie/pj/{}/{n}", m.id) rel="external" download=a.clone()>{a.clone()}</a>
                                {pdf.then(|| view! { " " <PdfPreview id=m.id index=n name=a.clone()/> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </article>
    }
}

/// A `<dt>`/`<dd>` pair, left out when there is no value.
fn detail(t: I18n, label: Msg, value: String) -> Option<impl IntoView> {
    (!value.is_empty()).then(|| view! { <dt>{t.t(label)}</dt><dd>{value}</dd> })
}

/// A day (`1961-03-12`) or a UTC time as read.
fn when(t: I18n, iso: &str) -> String {
    if iso.contains('T') {
        t.locale.date_time(iso)
    } else {
        t.locale.long_date(iso)
    }
}

/// The patient a health document is about: name, birth date, sex and INS (with what the sender
/// says of its qualification, or a warning for a test or malformed INS).
fn patient_section(t: I18n, p: PatientView, qualified: Option<bool>) -> impl IntoView {
    let name = format!("{} {}", p.family, p.given).trim().to_string();
    let sex = match p.gender.as_str() {
        "F" => t.t(Msg::SexF),
        "M" => t.t(Msg::SexM),
        "U" => t.t(Msg::SexU),
        _ => "",
    };
    let (id_label, note, warn) = match p.id_kind.as_str() {
        "ins" => (Msg::PatientIns, qualified.map(|q| if q { Msg::InsQualified } else { Msg::InsNotQualified }), false),
        "ins-invalid" => (Msg::PatientIns, Some(Msg::InsInvalid), true),
        "ins-test" => (Msg::PatientIns, Some(Msg::InsTest), true),
        _ => (Msg::PatientOtherId, None, false),
    };
    let birth = if p.birth_date.is_empty() { String::new() } else { when(t, &p.birth_date) };
    view! {
        <section class="mss-patient" aria-labelledby="patient-title">
            <h2 id="patient-title">{t.t(Msg::PatientTitle)}</h2>
            <dl class="details">
                {detail(t, Msg::PatientName, name)}
                {detail(t, Msg::PatientBirth, birth)}
                {detail(t, Msg::PatientSex, sex.to_string())}
                <dt>{t.t(id_label)}</dt>
                <dd>
                    <span class="patient-id">{p.id}</span>
                    {note.map(|n| view! {
                        " "<span class=if warn { "id-note warning" } else { "id-note" }>"(" {t.t(n)} ")"</span>
                    })}
                </dd>
            </dl>
        </section>
    }
}

/// The documents of the message's XDM package (type, author, patient, date, integrity), each
/// downloadable and, when it has a PDF, previewed like a PDF attachment; or why the package was
/// not opened.
fn xdm_section(t: I18n, id: i64, x: XdmView) -> impl IntoView {
    let index = x.attachment;
    let refused = x.error.as_deref().map(|code| match code {
        "encrypted" | "unsupported" => Msg::XdmRefusedUnsupported,
        "not_a_zip" | "corrupt" | "no_metadata" | "not_metadata" | "xml" => Msg::XdmRefusedDamaged,
        _ => Msg::XdmRefusedUnsafe,
    });
    let empty = x.error.is_none() && x.documents.is_empty();
    let title = t.fmt(Msg::XdmTitle, &[("count", &x.documents.len().to_string())]);
    view! {
        <section class="xdm" aria-labelledby="xdm-title">
            <h2 id="xdm-title">{title}</h2>
            {refused.map(|m| view! { <p class="notice notice-error xdm-refused" role="note">{t.t(m)}</p> })}
            {empty.then(|| view! { <p>{t.t(Msg::XdmNoDocuments)}</p> })}
            {x.several_patients.then(|| view! { <p class="notice notice-warning" role="note">{t.t(Msg::XdmSeveralPatients)}</p> })}
            <ul class="xdm-documents">
                {x.documents.into_iter().enumerate().map(|(n, d)| {
                    let (check, bad) = match d.check.as_str() {
                        "verified" => (Msg::XdmVerified, false),
                        "mismatch" => (Msg::XdmMismatch, true),
                        "missing" => (Msg::XdmMissing, true),
                        _ => (Msg::XdmUnchecked, false),
                    };
                    let name = if d.title.is_empty() { d.file_name.clone() } else { d.title.clone() };
                    let author = [d.author.as_str(), d.institution.as_str()]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let date = if d.date.is_empty() { String::new() } else { when(t, &d.date) };
                    let download = (d.check != "missing").then(|| {
                        let label = t.fmt(Msg::XdmDownload, &[("name", &d.file_name)]);
                        view! {
                            <a href=format!("/messagerie/pj/{id}/{index}/xdm/{n}") rel="external"
                                download=d.file_name.clone()>{label}</a>
                        }
                    });
                    let preview = d.has_pdf.then(|| view! { " " <PdfPreview id=id index=index name=name.clone() doc=n/> });
                    view! {
                        <li>
                            <h3>{name.clone()}</h3>
                            <dl class="details">
                                {detail(t, Msg::XdmKind, d.kind)}
                                {detail(t, Msg::XdmAuthor, author)}
                                {detail(t, Msg::XdmPatient, d.patient)}
                                {detail(t, Msg::XdmDate, date)}
                            </dl>
                            <p class=if bad { "xdm-check warning" } else { "xdm-check" }>{t.t(check)}</p>
                            <div class="xdm-actions">{download}{preview}</div>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// A message's time in Paris, or in UTC when the server did not say it in Paris.
fn paris_or_utc(t: I18n, local: &str, utc: &str) -> String {
    if local.is_empty() {
        t.locale.date_time(utc)
    } else {
        t.locale.paris_date_time(local)
    }
}
