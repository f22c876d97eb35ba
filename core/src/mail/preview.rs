//! PDF attachments previewed as images.
//!
//! A PDF comes from outside and is read by a parser that has not met every hostile file. So it
//! is never given to the browser to run, and never parsed inside the server process: a child
//! process (`hygie pdf-page`, see the server crate) gets the file on its standard input, with no
//! environment, limited memory and CPU time, no network and no file access, and is killed at a
//! deadline. It answers with one
//! page as a PNG image; the browser only ever receives images.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Page widths the preview is drawn at, in pixels (a phone, a desktop).
pub const WIDTHS: [u32; 2] = [600, 1200];

/// Pages a preview shows at most; the rest is in the downloaded file.
pub const MAX_PAGES: u32 = 50;

/// The first line of the child's answer: `HYGIE-PDF <page count>\n`, then the PNG, if any.
pub const ANSWER_TAG: &str = "HYGIE-PDF";

/// The child's exit status for a file it cannot read (not a PDF, damaged, encrypted).
pub const EXIT_UNREADABLE: i32 = 3;
/// The child's exit status for a page number past the end.
pub const EXIT_NO_PAGE: i32 = 4;

/// How long a child may take, reading and drawing together.
const DEADLINE: Duration = Duration::from_secs(20);
/// How long a request waits for a free renderer before giving up.
const QUEUE_WAIT: Duration = Duration::from_secs(15);

/// Does this file look like a PDF? Its content decides, never its declared type or name: PDF
/// readers accept the `%PDF-` marker within the first kilobyte.
pub fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreviewError {
    #[error("the file cannot be read as a PDF")]
    Unreadable,
    #[error("no such page")]
    NoSuchPage,
    #[error("every renderer is busy")]
    Busy,
    #[error("the renderer failed: {0}")]
    Failed(String),
}

/// One drawn page.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    /// Pages in the whole document.
    pub count: u32,
    pub png: Vec<u8>,
}

/// Runs the renderer, a few at a time: a hostile file may take all the CPU time it is allowed,
/// but only on as many cores as this instance gives to previews.
#[derive(Clone)]
pub struct Previewer {
    program: PathBuf,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Previewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previewer").field("program", &self.program).finish()
    }
}

impl Previewer {
    /// `program` is a Hygie binary (it is run as `program pdf-page ...`); `concurrent` children
    /// run at most at once.
    pub fn new(program: PathBuf, concurrent: usize) -> Previewer {
        Previewer { program, slots: Arc::new(Semaphore::new(concurrent.max(1))) }
    }

    /// How many pages the document has.
    pub async fn count(&self, pdf: &[u8]) -> Result<u32, PreviewError> {
        Ok(self.run(pdf, 0, WIDTHS[0]).await?.count)
    }

    /// Page `page` (from 1) drawn `width` pixels wide (one of [`WIDTHS`]; others are rounded
    /// to the nearest).
    pub async fn page(&self, pdf: &[u8], page: u32, width: u32) -> Result<RenderedPage, PreviewError> {
        if page == 0 || page > MAX_PAGES {
            return Err(PreviewError::NoSuchPage);
        }
        let width = WIDTHS.iter().copied().min_by_key(|w| w.abs_diff(width)).unwrap_or(WIDTHS[0]);
        self.run(pdf, page, width).await
    }

    async fn run(&self, pdf: &[u8], page: u32, width: u32) -> Result<RenderedPage, PreviewError> {
        if !is_pdf(pdf) {
            return Err(PreviewError::Unreadable);
        }
        let _slot = tokio::time::timeout(QUEUE_WAIT, self.slots.acquire())
            .await
            .map_err(|_| PreviewError::Busy)?
            .map_err(|_| PreviewError::Busy)?;
        let mut child = Command::new(&self.program)
            .arg("pdf-page")
            .arg("--page")
            .arg(page.to_string())
            .arg("--width")
            .arg(width.to_string())
            // Nothing of the server's environment (database address, secrets) reaches the child.
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| PreviewError::Failed(format!("cannot start {}: {e}", self.program.display())))?;
        let mut stdin = child.stdin.take().ok_or_else(|| PreviewError::Failed("no stdin".into()))?;
        let mut stdout = child.stdout.take().ok_or_else(|| PreviewError::Failed("no stdout".into()))?;
        let input = pdf.to_vec();
        let work = async move {
            // Written while the answer is read, so that neither pipe can fill up and block.
            let feed = async move {
                // The child may stop reading early (an unreadable file): not an error here.
                let _ = stdin.write_all(&input).await;
                drop(stdin);
            };
            let mut out = Vec::new();
            let read = stdout.read_to_end(&mut out);
            let (_, read) = tokio::join!(feed, read);
            read.map_err(|e| PreviewError::Failed(format!("reading the answer: {e}")))?;
            let status = child.wait().await.map_err(|e| PreviewError::Failed(format!("waiting: {e}")))?;
            Ok::<_, PreviewError>((status, out))
        };
        let (status, out) = tokio::time::timeout(DEADLINE, work).await.map_err(|_| {
            tracing::warn!("the PDF renderer ran out of time on a file");
            PreviewError::Unreadable
        })??;
        match status.code() {
            Some(0) => parse_answer(&out),
            Some(EXIT_UNREADABLE) => Err(PreviewError::Unreadable),
            Some(EXIT_NO_PAGE) => Err(PreviewError::NoSuchPage),
            // A crash, a signal (memory or CPU limit): the file defeated the renderer.
            _ => {
                tracing::warn!(status = %status, "the PDF renderer stopped on a file");
                Err(PreviewError::Unreadable)
            }
        }
    }
}

fn parse_answer(out: &[u8]) -> Result<RenderedPage, PreviewError> {
    let bad = || PreviewError::Failed("malformed answer".into());
    let end = out.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let line = std::str::from_utf8(&out[..end]).map_err(|_| bad())?;
    let count = line.strip_prefix(ANSWER_TAG).map(str::trim).and_then(|n| n.parse::<u32>().ok()).ok_or_else(bad)?;
    Ok(RenderedPage { count, png: out[end + 1..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_what_is_a_pdf() {
        assert!(is_pdf(b"%PDF-1.7\n..."));
        assert!(is_pdf(b"\xef\xbb\xbfjunk before %PDF-1.4"));
        assert!(!is_pdf(b"<html><script>alert(1)</script>"));
        assert!(!is_pdf(b""));
        let mut late = vec![b' '; 2000];
        late.extend_from_slice(b"%PDF-1.4");
        assert!(!is_pdf(&late));
    }

    #[test]
    fn answers_are_parsed_strictly() {
        let page = parse_answer(b"HYGIE-PDF 12\n\x89PNG").unwrap();
        assert_eq!((page.count, page.png.as_slice()), (12, &b"\x89PNG"[..]));
        assert_eq!(parse_answer(b"HYGIE-PDF 3\n").unwrap().png.len(), 0);
        assert!(parse_answer(b"HYGIE-PDF x\n").is_err());
        assert!(parse_answer(b"something else").is_err());
    }

    #[tokio::test]
    async fn a_non_pdf_never_reaches_the_renderer() {
        // The program does not exist: reaching it would fail differently.
        let p = Previewer::new("/nonexistent/hygie".into(), 1);
        assert_eq!(p.count(b"GIF89a").await.unwrap_err(), PreviewError::Unreadable);
        assert_eq!(p.page(b"%PDF-1.4", 0, 600).await.unwrap_err(), PreviewError::NoSuchPage);
        assert!(matches!(p.count(b"%PDF-1.4").await.unwrap_err(), PreviewError::Failed(_)));
    }
}
