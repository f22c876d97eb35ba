//! `hygie mail import`: an mbox file or a Maildir directory into an account, streamed, in
//! batches, with a progress bar.

use std::io::BufReader;
use std::path::Path;

use hygie_core::clock::Clock;
use hygie_core::mail::{self, Imported};
use hygie_core::Db;
use mail_parser::mailbox::{maildir, mbox};

const BATCH: usize = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MailImportReport {
    pub stored: usize,
    /// Messages that could not be read or parsed.
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MailImportError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("database: {0}")]
    Store(#[from] hygie_core::StoreError),
}

pub async fn import(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    folder: &str,
    path: &Path,
) -> Result<MailImportReport, MailImportError> {
    let read_err = |e| MailImportError::Read(path.display().to_string(), e);
    let mut report = MailImportReport::default();
    let mut batch: Vec<Imported> = Vec::with_capacity(BATCH);
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} messages  {elapsed_precise}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let flush = |batch: &mut Vec<Imported>| {
        let taken = std::mem::take(batch);
        async move {
            let n = taken.len();
            let stored = mail::import_batch(db, clock, account_id, folder, &taken).await?;
            Ok::<(usize, usize), MailImportError>((stored, n - stored))
        }
    };
    let messages: Box<dyn Iterator<Item = std::io::Result<Imported>>> = if path.is_dir() {
        let it = maildir::MessageIterator::new(path).map_err(read_err)?;
        Box::new(it.map(|m| {
            m.map(|m| {
                let seen = m.flags().contains(&maildir::Flag::Seen);
                Imported { raw: m.unwrap_contents(), date_ms: None, unread: !seen }
            })
        }))
    } else {
        let f = std::fs::File::open(path).map_err(read_err)?;
        Box::new(mbox::MessageIterator::new(BufReader::new(f)).map(|m| {
            m.map(|m| {
                let raw = m.unwrap_contents();
                Imported { unread: mbox_unread(&raw), raw, date_ms: None }
            })
        }))
    };
    for m in messages {
        match m {
            Ok(m) => batch.push(m),
            Err(_) => report.skipped += 1,
        }
        if batch.len() >= BATCH {
            let (s, k) = flush(&mut batch).await?;
            report.stored += s;
            report.skipped += k;
            bar.set_position(report.stored as u64);
        }
    }
    let (s, k) = flush(&mut batch).await?;
    report.stored += s;
    report.skipped += k;
    bar.finish_and_clear();
    Ok(report)
}

/// An mbox message is unread unless its `Status:` header (written by mail readers: `RO` once
/// read) holds `R`.
fn mbox_unread(raw: &[u8]) -> bool {
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() > 7 && line[..7].eq_ignore_ascii_case(b"status:") {
            return !line[7..].contains(&b'R');
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::mbox_unread;

    #[test]
    fn the_status_header_says_what_was_read() {
        assert!(mbox_unread(b"From: a@b.fr\nSubject: x\n\nStatus: RO in the body\n"));
        assert!(!mbox_unread(b"From: a@b.fr\nStatus: RO\n\nbody\n"));
        assert!(!mbox_unread(b"status: R\r\n\r\n"));
        assert!(mbox_unread(b"Status: O\n\n"), "seen in the list, never opened");
    }
}
