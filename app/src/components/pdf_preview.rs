//! The preview of a PDF attachment: its pages as images drawn by the server's confined renderer,
//! in a dialog. The PDF itself is never handed to the browser to display, so nothing it holds
//! (scripts, forms, links that call home) can run.

use leptos::prelude::*;

use crate::api::mail::MailPdfPreview;
use crate::components::dialog::trap_tab;
use crate::i18n::Msg;
use crate::use_i18n;

/// The width to ask the pages at: sharp on a high-density screen, light on a small one.
fn page_width() -> u32 {
    #[cfg(feature = "hydrate")]
    {
        if let Some(w) = web_sys::window() {
            let css = w.inner_width().ok().and_then(|v| v.as_f64()).unwrap_or(800.0).min(900.0);
            if css * w.device_pixel_ratio() > 700.0 {
                return 1200;
            }
        }
    }
    600
}

/// "Aperçu" beside attachment `index` of message `id` (with `doc`: beside document `doc` of the
/// XDM package that attachment is), and the dialog it opens.
#[component]
pub fn PdfPreview(id: i64, index: usize, name: String, #[prop(optional)] doc: Option<usize>) -> impl IntoView {
    let t = use_i18n();
    let open = RwSignal::new(false);
    let load = ServerAction::<MailPdfPreview>::new();
    let opener = NodeRef::<leptos::html::Button>::new();
    let close_button = NodeRef::<leptos::html::Button>::new();
    let failed = RwSignal::new(Vec::<u32>::new());
    let width = RwSignal::new(600u32);
    let show = move |_| {
        width.set(page_width());
        failed.set(Vec::new());
        open.set(true);
        load.dispatch(MailPdfPreview { id, index: index as u32, doc: doc.map(|d| d as u32) });
    };
    let close = move || {
        open.set(false);
        if let Some(b) = opener.get_untracked() {
            let _ = b.focus();
        }
    };
    Effect::new(move |_| {
        if open.get() {
            if let Some(b) = close_button.get() {
                let _ = b.focus();
            }
        }
    });
    let (title_id, base, download) = match doc {
        None => {
            let base = format!("/messagerie/pj/{id}/{index}");
            (format!("preview-title-{id}-{index}"), base.clone(), base)
        }
        Some(d) => {
            let base = format!("/messagerie/pj/{id}/{index}/xdm/{d}");
            (format!("preview-title-{id}-{index}-{d}"), base.clone(), format!("{base}/pdf"))
        }
    };
    let base = StoredValue::new(base);
    let title = t.fmt(Msg::PreviewTitle, &[("name", &name)]);
    let file_name = name.clone();
    view! {
        <button type="button" class="link-button preview-open" aria-haspopup="dialog" node_ref=opener
            aria-label=t.fmt(Msg::PreviewOpenOf, &[("name", &name)]) on:click=show>
            {t.t(Msg::PreviewOpen)}
        </button>
        <Show when=move || open.get()>
            <div class="preview-dialog" role="dialog" aria-modal="true" aria-labelledby=title_id.clone()
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        close()
                    }
                    trap_tab(&ev);
                }>
                <div class="preview-head">
                    <h2 id=title_id.clone()>{title.clone()}</h2>
                    <a class="button" href=download.clone() rel="external" download=file_name.clone()>
                        {t.t(Msg::Download)}
                    </a>
                    <button type="button" class="button" node_ref=close_button on:click=move |_| close()>
                        {t.t(Msg::Close)}
                    </button>
                </div>
                <p class="hint">{t.t(Msg::PreviewSafety)}</p>
                <div class="preview-pages" aria-live="polite">
                    {move || match load.value().get().filter(|_| !load.pending().get()) {
                        None => view! { <p role="status">{t.t(Msg::PreviewLoading)}</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error" role="alert">{e.message(t)}</p> }.into_any(),
                        Some(Ok(p)) if p.pages == 0 => {
                            view! { <p class="error" role="alert">{t.t(Msg::PreviewUnreadable)}</p> }.into_any()
                        }
                        Some(Ok(p)) => {
                            let count = p.pages.to_string();
                            let truncated = (p.shown < p.pages).then(|| view! {
                                <p class="notice">
                                    {t.fmt(Msg::PreviewTruncated, &[("shown", &p.shown.to_string()), ("count", &count)])}
                                </p>
                            });
                            let w = width.get_untracked();
                            view! {
                                {truncated}
                                <ol class="preview-list">
                                    {(1..=p.shown).map(|n| {
                                        let alt = t.fmt(Msg::PreviewPage, &[("n", &n.to_string()), ("count", &count)]);
                                        let src = base.with_value(|b| format!("{b}/apercu/{n}?largeur={w}"));
                                        view! {
                                            <li>
                                                {move || if failed.with(|f| f.contains(&n)) {
                                                    view! {
                                                        <p class="error">
                                                            {t.fmt(Msg::PreviewPageFailed, &[("n", &n.to_string())])}
                                                        </p>
                                                    }.into_any()
                                                } else {
                                                    view! {
                                                        <img src=src.clone() alt=alt.clone() loading="lazy"
                                                            on:error=move |_| failed.update(|f| f.push(n))/>
                                                    }.into_any()
                                                }}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }
                    }}
                </div>
            </div>
        </Show>
    }
}
