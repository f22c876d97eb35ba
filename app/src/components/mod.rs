pub mod attachments;
pub mod dialog;
pub mod feedback;
pub mod form;
pub mod layout;
pub mod pdf_preview;
pub mod recipients;
pub mod shortcuts;
