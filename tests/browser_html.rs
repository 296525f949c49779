//! `ferret -r FILE --html OUT.html` in a real browser: headless chromium
//! loads the page without a script error, draws every packet's path (the
//! body's `data-rendered`, the drop step), and a screenshot shows it.
//! Skipped, with the reason printed, only when chromium is missing and CI
//! is not set (tools/deps.sh installs Debian's `chromium`).
//!
//! The fixture: `ferret -w` of `on xmit, recv, drop where ... tcp port 443`
//! in a two-namespace lab whose second namespace drops TCP 443: two SYNs,
//! each sent, received and dropped by nftables.

use std::path::Path;
use std::process::{Command, Output};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/paths-v1.pcapng"
);

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn headless(browser: &str, profile: &Path, args: &[&str], page: &Path) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// The width and height in a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn the_timeline_page_loads_and_draws_each_path_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing (tools/deps.sh installs it)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ferret-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("paths.html");
    let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["-r", FIXTURE, "--html", page.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("wrote 2 packet paths"), "{stderr}");

    let profile = dir.join("profile");
    let dom = headless(browser, &profile, &["--dump-dom"], &page);
    let html = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(
        html.contains("data-rendered=\"2\""),
        "the script did not draw the paths:\n{html}\n{log}"
    );
    assert_eq!(html.matches("class=\"step drop\"").count(), 2, "{html}");
    assert!(
        html.contains("NETFILTER_DROP") && html.contains("nft_do_chain"),
        "{html}"
    );
    for bad in ["Uncaught", "SyntaxError", "TypeError", "ReferenceError"] {
        assert!(!log.contains(bad), "a script error in the page:\n{log}");
    }

    // A screenshot of the page, and one of an empty page for scale.
    let shot = dir.join("paths.png");
    let empty = dir.join("empty.html");
    std::fs::write(&empty, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = dir.join("empty.png");
    for (p, png) in [(&page, &shot), (&empty, &blank)] {
        let arg = format!("--screenshot={}", png.display());
        let r = headless(browser, &profile, &[&arg, "--window-size=1100,500"], p);
        assert!(
            png.exists(),
            "no screenshot: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let (shot, blank) = (
        std::fs::read(&shot).unwrap(),
        std::fs::read(&blank).unwrap(),
    );
    assert_eq!(png_size(&shot), (1100, 500));
    assert!(
        shot.len() > 4 * blank.len(),
        "the screenshot looks empty: {} bytes, a blank page {}",
        shot.len(),
        blank.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
