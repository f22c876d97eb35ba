//! `hygie pdf-page`: the child process that draws one page of a PDF attachment as a PNG image
//! (see `hygie_core::mail::preview` for the parent side and the reasons).
//!
//! It reads the file on its standard input and writes `HYGIE-PDF <page count>\n` then the PNG
//! on its standard output. Before reading anything it lowers its own limits: no core dump (a
//! patient's document must never land on disk that way), no file written, bounded memory and
//! CPU time. A file that takes more is stopped by the kernel, and the parent reports it as
//! unreadable.

use std::io::{Read, Write};
use std::process::ExitCode;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use hygie_core::mail::preview::{ANSWER_TAG, EXIT_NO_PAGE, EXIT_UNREADABLE};

/// Address space the renderer may use.
const MAX_MEMORY: u64 = 1536 * 1024 * 1024;
/// CPU seconds it may use (the parent's deadline is in wall time, this one in CPU time).
const MAX_CPU_SECONDS: u64 = 15;
/// The tallest image drawn, in pixels: a page may claim to be kilometres long.
const MAX_HEIGHT: f32 = 6000.0;

/// Lowers this process's limits; each is a one-way change.
fn confine() {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let set = |resource, value: u64| {
        let _ = setrlimit(resource, Rlimit { current: Some(value), maximum: Some(value) });
    };
    set(Resource::Core, 0);
    set(Resource::Fsize, 0);
    set(Resource::As, MAX_MEMORY);
    set(Resource::Cpu, MAX_CPU_SECONDS);
}

/// The whole child: `page` 0 only counts the pages.
pub fn child_main(page: u32, width: u32) -> ExitCode {
    confine();
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return ExitCode::from(EXIT_UNREADABLE as u8);
    }
    match render(input, page, width) {
        Ok(answer) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&answer).and_then(|_| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(code) => ExitCode::from(code as u8),
    }
}

/// The answer for page `page` (from 1; 0 for the count alone) of `pdf`, or the exit status.
pub fn render(pdf: Vec<u8>, page: u32, width: u32) -> Result<Vec<u8>, i32> {
    let doc = Pdf::new(pdf).map_err(|_| EXIT_UNREADABLE)?;
    let pages = doc.pages();
    let mut answer = format!("{ANSWER_TAG} {}\n", pages.len()).into_bytes();
    if page == 0 {
        return Ok(answer);
    }
    let p = pages.get(page as usize - 1).ok_or(EXIT_NO_PAGE)?;
    let (w, h) = p.render_dimensions();
    if !(w.is_finite() && h.is_finite() && w >= 1.0 && h >= 1.0) {
        return Err(EXIT_UNREADABLE);
    }
    let mut scale = width as f32 / w;
    if h * scale > MAX_HEIGHT {
        scale = MAX_HEIGHT / h;
    }
    if w * scale < 1.0 || h * scale < 1.0 || w * scale > MAX_HEIGHT {
        return Err(EXIT_UNREADABLE);
    }
    let pixmap = hayro::render(
        p,
        &RenderCache::new(),
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE },
    );
    let png = pixmap.into_png().map_err(|_| EXIT_UNREADABLE)?;
    answer.extend_from_slice(&png);
    Ok(answer)
}

/// A small, valid PDF of `pages` A4 pages, each with a black band and the page number in
/// Helvetica, for tests.
pub fn sample(pages: usize) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for i in 0..pages {
        let content = format!("0 0 0 rg 50 700 495 80 re f BT /F1 36 Tf 50 600 Td (Page {}) Tj ET", i + 1);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> \
             /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", n + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_parts(answer: &[u8]) -> (String, &[u8]) {
        let end = answer.iter().position(|&b| b == b'\n').unwrap();
        (String::from_utf8(answer[..end].to_vec()).unwrap(), &answer[end + 1..])
    }

    #[test]
    fn counts_and_draws_a_page() {
        let pdf = sample(3);
        let counted = render(pdf.clone(), 0, 600).unwrap();
        let (line, rest) = answer_parts(&counted);
        assert_eq!(line, "HYGIE-PDF 3");
        assert!(rest.is_empty());

        let answer = render(pdf, 2, 600).unwrap();
        let (line, png) = answer_parts(&answer);
        assert_eq!(line, "HYGIE-PDF 3");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The IHDR chunk: 600 pixels wide, A4 proportions.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(width, 600);
        assert!((848..=850).contains(&height), "height {height}");
    }

    #[test]
    fn the_band_is_drawn_where_the_page_puts_it() {
        // Decoding the PNG needs no library here: draw again and look at the pixels.
        let doc = Pdf::new(sample(1)).unwrap();
        let page = &doc.pages()[0];
        let pixmap = hayro::render(
            page,
            &RenderCache::new(),
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &PixmapSettings { x_scale: 1.0, y_scale: 1.0, bg_color: WHITE },
        );
        let px = |x: usize, y: usize| {
            let i = (y * pixmap.width() as usize + x) * 4;
            pixmap.data_as_u8_slice()[i]
        };
        // The band covers y 700..780 from the bottom of an 842-point page: rows 62..142.
        assert_eq!(px(300, 100), 0, "inside the black band");
        assert_eq!(px(300, 20), 255, "white above it");
        assert_eq!(px(300, 400), 255, "white below the text line");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(render(b"%PDF-1.4\nnothing else".to_vec(), 1, 600).unwrap_err(), EXIT_UNREADABLE);
        assert_eq!(render(b"GIF89a".to_vec(), 0, 600).unwrap_err(), EXIT_UNREADABLE);
        assert_eq!(render(sample(2), 3, 600).unwrap_err(), EXIT_NO_PAGE);
        // A truncated file: the first half of a valid one.
        let mut cut = sample(2);
        cut.truncate(cut.len() / 2);
        // Its pages may be recovered or not, but the answer is always one of the two.
        match render(cut, 1, 600) {
            Ok(answer) => assert!(answer.starts_with(b"HYGIE-PDF ")),
            Err(code) => assert!(code == EXIT_UNREADABLE || code == EXIT_NO_PAGE, "exit {code}"),
        }
    }
}
