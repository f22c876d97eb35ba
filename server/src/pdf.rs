//! `hygie pdf-page`: the child process that draws one page of a PDF attachment as a PNG image
//! (see `hygie_core::mail::preview` for the parent side and the reasons).
//!
//! It reads the file on its standard input and writes `HYGIE-PDF <page count>\n` then the PNG
//! on its standard output. Before reading anything it lowers its own limits: no core dump (a
//! patient's document must never land on disk that way), no file written, bounded memory and
//! CPU time. A file that takes more is stopped by the kernel, and the parent reports it as
//! unreadable.
//!
//! It also gives up the network and the file system, so that a renderer taken over by a hostile
//! file can neither read the data directory nor send anything anywhere: a seccomp filter makes
//! `socket()` fail, and a Landlock ruleset that allows no file access at all (Linux 5.13 and
//! later; TCP too from 6.7) stops it from opening any file. Its standard input and output are
//! already open. Where the kernel lacks one of these, the server says so once at start-up
//! ([`probe`], run on `hygie pdf-probe`).

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

/// Lowers this process's limits and gives up the network and the file system; each is a one-way
/// change.
fn confine() {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let set = |resource, value: u64| {
        let _ = setrlimit(resource, Rlimit { current: Some(value), maximum: Some(value) });
    };
    set(Resource::Core, 0);
    set(Resource::Fsize, 0);
    set(Resource::As, MAX_MEMORY);
    set(Resource::Cpu, MAX_CPU_SECONDS);
    // Needed by both below; also, nothing this process runs could gain privileges.
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    landlock::deny_all();
    seccomp::deny_sockets();
}

/// Landlock (`landlock(7)`): a ruleset that handles every access right the kernel knows and
/// grants none, so that no file or directory can be opened, created or run, and (ABI 4 and
/// later) no TCP connection made or port bound.
mod landlock {
    #[repr(C)]
    struct RulesetAttr {
        handled_access_fs: u64,
        handled_access_net: u64,
        scoped: u64,
    }

    const CREATE_RULESET_VERSION: libc::c_uint = 1;

    /// The kernel's Landlock ABI version, 0 without Landlock.
    pub fn abi() -> i64 {
        // SAFETY: asks for the version only: no attribute pointer, size 0.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        v.max(0)
    }

    /// Applies the ruleset; whether Landlock is in force.
    pub fn deny_all() -> bool {
        let abi = abi();
        if abi < 1 {
            return false;
        }
        // Filesystem rights: 13 in ABI 1, then REFER (2), TRUNCATE (3), IOCTL_DEV (5).
        let fs: u64 = match abi {
            1 => (1 << 13) - 1,
            2 => (1 << 14) - 1,
            3 | 4 => (1 << 15) - 1,
            _ => (1 << 16) - 1,
        };
        // TCP bind and connect from ABI 4; abstract Unix sockets and signals scoped from ABI 6.
        let net: u64 = if abi >= 4 { 0b11 } else { 0 };
        let scoped: u64 = if abi >= 6 { 0b11 } else { 0 };
        let attr = RulesetAttr { handled_access_fs: fs, handled_access_net: net, scoped };
        let size = match abi {
            1..=3 => 8,
            4 | 5 => 16,
            _ => std::mem::size_of::<RulesetAttr>(),
        };
        // SAFETY: `attr` lives across the call and `size` does not exceed it.
        let fd = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, size, 0u32) };
        if fd < 0 {
            return false;
        }
        // SAFETY: `fd` is the ruleset just created; no_new_privs is set by the caller.
        let applied = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd as libc::c_int, 0u32) } == 0;
        // SAFETY: closes the descriptor this function opened.
        unsafe { libc::close(fd as libc::c_int) };
        applied
    }
}

/// seccomp (`seccomp(2)`): a filter that fails `socket()` with EPERM, and any system call made
/// through another architecture's interface (the 32-bit or x32 entry points), where numbers
/// differ.
mod seccomp {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;
    /// x32 system calls carry this bit on x86_64; none exists on aarch64.
    const X32_BIT: u32 = 0x4000_0000;

    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;

    fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }

    /// Installs the filter; whether it is in force.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn deny_sockets() -> bool {
        let deny = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        let filter = [
            op(LD_W_ABS, 0, 0, 4),       // arch
            op(JEQ_K, 1, 0, AUDIT_ARCH), // native: go on
            op(RET_K, 0, 0, deny),       // other ABI: refused
            op(LD_W_ABS, 0, 0, 0),       // system call number
            op(JGE_K, 0, 1, X32_BIT),    // x32: refused
            op(RET_K, 0, 0, deny),
            op(JEQ_K, 0, 1, libc::SYS_socket as u32), // socket(): refused
            op(RET_K, 0, 0, deny),
            op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW), // the rest: allowed
        ];
        let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `prog` points to `filter`, which outlives the call; no_new_privs is set.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as libc::c_uint,
                &prog as *const libc::sock_fprog,
            ) == 0
        }
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub fn deny_sockets() -> bool {
        false
    }
}

/// `hygie pdf-probe`: confines itself as the renderer does, then tries to connect to `connect`
/// and to open `file`, and says what happened on its standard output, one line each:
/// `network: blocked|open` and `files: blocked|open`.
pub fn probe_main(file: &std::path::Path, connect: std::net::SocketAddr) -> ExitCode {
    confine();
    let refused = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES));
    let network = match std::net::TcpStream::connect_timeout(&connect, std::time::Duration::from_secs(2)) {
        Err(e) if refused(&e) => "blocked",
        _ => "open",
    };
    let files = match std::fs::File::open(file) {
        Err(e) if refused(&e) => "blocked",
        _ => "open",
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "network: {network}\nfiles: {files}").and_then(|_| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// What the renderer's confinement holds back on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReport {
    pub network_blocked: bool,
    pub files_blocked: bool,
}

/// Runs `program pdf-probe` against a file it writes in `data_dir` (removed afterwards) and a
/// local address nothing needs to listen on.
pub async fn probe(program: &std::path::Path, data_dir: &std::path::Path) -> Result<ProbeReport, String> {
    let file = data_dir.join(format!(".pdf-probe-{}", hygie_core::random_hex(6)));
    std::fs::write(&file, b"probe\n").map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let run = tokio::process::Command::new(program)
        .arg("pdf-probe")
        .arg("--file")
        .arg(&file)
        .arg("--connect")
        .arg("127.0.0.1:9")
        .env_clear()
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), run).await;
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|_| "no answer".to_string())?.map_err(|e| format!("cannot start: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    match (line("network:"), line("files:")) {
        (Some(n), Some(f)) if out.status.success() => {
            Ok(ProbeReport { network_blocked: n == "blocked", files_blocked: f == "blocked" })
        }
        _ => Err(format!("unexpected answer ({})", out.status)),
    }
}

/// Says at start-up, in one line, what the PDF renderer is kept from on this machine.
pub async fn report_confinement(program: std::path::PathBuf, data_dir: std::path::PathBuf) {
    match probe(&program, &data_dir).await {
        Ok(ProbeReport { network_blocked: true, files_blocked: true }) => {
            tracing::info!("PDF renderer confined: no network, no file access");
        }
        Ok(r) => {
            let missing = match (r.network_blocked, r.files_blocked) {
                (false, false) => "network and file access (no seccomp, no Landlock)",
                (false, true) => "network access (no seccomp filter)",
                _ => "file access, including the data directory (no Landlock: Linux 5.13 or later)",
            };
            tracing::warn!("PDF renderer NOT confined from {missing}: previews of hostile files are riskier");
        }
        Err(e) => tracing::warn!(error = %e, "PDF renderer confinement could not be checked"),
    }
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
