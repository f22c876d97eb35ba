//! Inline SVG icons (24×24, stroked with the text colour): they need no font and no request, so
//! they never render as an empty box. Decorative by default; [`icon_labelled`] gives one a text
//! alternative when it is the only thing saying what it means.

use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Menu,
    Search,
    Pen,
    User,
    Paperclip,
    Flag,
    Close,
    Back,
    Next,
    More,
    Moon,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Icon::Menu => "M4 6h16M4 12h16M4 18h16",
            Icon::Search => "M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM15.5 15.5 20 20",
            Icon::Pen => "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4",
            Icon::User => "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4 3.6-6.5 8-6.5s8 2.5 8 6.5",
            Icon::Paperclip => "M20 11.5 12 19.5a5 5 0 0 1-7-7l8.5-8.5a3.5 3.5 0 0 1 5 5L10 17.5a2 2 0 0 1-3-3l7.5-7.5",
            Icon::Flag => "M5 21V4M5 4h11l-2 4 2 4H5",
            Icon::Close => "M6 6l12 12M18 6 6 18",
            Icon::Back => "M15 5l-7 7 7 7",
            Icon::Next => "M9 5l7 7-7 7",
            Icon::More => "M5 12h.01M12 12h.01M19 12h.01",
            Icon::Moon => "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
        }
    }
}

/// A decorative icon: the text beside it (visible or `sr-only`) says what it means.
pub fn icon(i: Icon) -> impl IntoView {
    let width = if i == Icon::More { "3" } else { "2" };
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path d=i.path() fill="none" stroke="currentColor" stroke-width=width stroke-linecap="round" stroke-linejoin="round"/>
        </svg>
    }
}

/// An icon that is the only sign of what it means: read out as `label`, shown as `label` on hover.
pub fn icon_labelled(i: Icon, label: String) -> impl IntoView {
    let title = label.clone();
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" role="img" aria-label=label focusable="false">
            <title>{title}</title>
            <path d=i.path() fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
        </svg>
    }
}
