//! SMTP replies: a code, an enhanced status code (RFC 3463) and a text in English, as SMTP
//! convention has it.

use hygie_core::mail::delivery::DeliveryError;
use hygie_core::mail::{SendError, SubmitError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code (`5.1.1`); `None` for the greeting and EHLO answer.
    pub enhanced: Option<&'static str>,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Reply {
        Reply { code, enhanced: Some(enhanced), text: text.into() }
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.code.to_string().as_bytes());
        out.push(b' ');
        if let Some(e) = self.enhanced {
            out.extend_from_slice(e.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The reply to a refusal of the delivery verb. `reference` quotes an internal error in the log.
pub fn for_refusal(e: &DeliveryError, reference: &str) -> Reply {
    match e {
        DeliveryError::BadSender => Reply::new(501, "5.1.7", "Bad sender address syntax"),
        DeliveryError::SenderOutsideTrustSpace => {
            Reply::new(550, "5.7.1", "Sender domain is outside the MSSante trust space")
        }
        DeliveryError::AuthorOutsideTrustSpace => {
            Reply::new(550, "5.7.1", "Message author (From) is outside the MSSante trust space")
        }
        DeliveryError::BadRecipient => Reply::new(501, "5.1.3", "Bad recipient address syntax"),
        DeliveryError::NotLocal => Reply::new(550, "5.7.1", "Relaying denied: not a domain of this server"),
        DeliveryError::UnknownMailbox => Reply::new(550, "5.1.1", "No such mailbox here"),
        DeliveryError::MailboxFull => Reply::new(452, "4.2.2", "Mailbox full, try again later"),
        DeliveryError::TooLarge { max_bytes } => {
            Reply::new(552, "5.3.4", format!("Message too big (at most {max_bytes} bytes)"))
        }
        DeliveryError::Malformed => Reply::new(554, "5.6.0", "Message could not be parsed"),
        DeliveryError::NoRecipient => Reply::new(554, "5.5.1", "No valid recipients"),
        DeliveryError::RateLimited { retry_after_secs } => {
            Reply::new(450, "4.7.1", format!("Too many messages from your address, try again in {retry_after_secs} s"))
        }
        DeliveryError::Store(_) => {
            Reply::new(451, "4.3.0", format!("Temporary failure, try again later (ref {reference})"))
        }
    }
}

/// The reply to a refusal of the holder's send (submission's RCPT and DATA).
pub fn for_send(e: &SendError, reference: &str) -> Reply {
    match e {
        SendError::NoRecipient => Reply::new(554, "5.5.1", "No valid recipients"),
        SendError::OutsideTrustSpace(a) => {
            Reply::new(550, "5.7.1", format!("<{a}> is outside the MSSante trust space"))
        }
        SendError::UnknownMailbox(a) => Reply::new(550, "5.1.1", format!("<{a}>: no such mailbox here")),
        SendError::TooLarge { max_bytes } => {
            Reply::new(552, "5.3.4", format!("Message too big (at most {max_bytes} bytes)"))
        }
        SendError::TooLargeForPatient { max_bytes } => {
            Reply::new(552, "5.3.4", format!("Message too big for a patient's address (at most {max_bytes} bytes)"))
        }
        SendError::QuotaExceeded { .. } => {
            Reply::new(552, "5.2.2", "Your mailbox is full: make room for the Sent copy")
        }
        SendError::MailboxFull(a) => Reply::new(452, "4.2.2", format!("<{a}>: mailbox full, try again later")),
        SendError::RateLimited { retry_after_secs } => {
            Reply::new(450, "4.7.1", format!("Too many messages this hour, try again in {retry_after_secs} s"))
        }
        // A draft, an upload or a forwarded message: the webmail's, never named over SMTP.
        SendError::DraftGone | SendError::UnknownUpload | SendError::ForwardedNotFound => {
            Reply::new(554, "5.6.0", "Message refused")
        }
        SendError::Store(_) => {
            Reply::new(451, "4.3.0", format!("Temporary failure, try again later (ref {reference})"))
        }
    }
}

/// The reply to a refusal of a submitted message.
pub fn for_submission(e: &SubmitError, reference: &str) -> Reply {
    match e {
        SubmitError::Malformed => Reply::new(554, "5.6.0", "Message could not be parsed (a From header is needed)"),
        SubmitError::NotTheAuthor => Reply::new(550, "5.7.1", "The From header must be your own address, alone"),
        SubmitError::NotUtf8 => {
            Reply::new(554, "5.6.1", "8-bit text that is not UTF-8: encode it (quoted-printable or base64)")
        }
        SubmitError::Send(e) => for_send(e, reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_their_codes() {
        let cases = [
            (DeliveryError::UnknownMailbox, "550 5.1.1 "),
            (DeliveryError::SenderOutsideTrustSpace, "550 5.7.1 "),
            (DeliveryError::TooLarge { max_bytes: 10 }, "552 5.3.4 "),
            (DeliveryError::MailboxFull, "452 4.2.2 "),
            (DeliveryError::NotLocal, "550 5.7.1 "),
            (DeliveryError::RateLimited { retry_after_secs: 5 }, "450 4.7.1 "),
            (DeliveryError::Store(hygie_core::StoreError::Other("secret-cause".into())), "451 4.3.0 "),
        ];
        for (e, prefix) in cases {
            let mut out = Vec::new();
            for_refusal(&e, "abc").write_to(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with(prefix) && text.ends_with("\r\n"), "{text}");
            assert!(!text.contains("secret-cause"), "no internal detail: {text}");
        }
    }
}
