//! Runs poppler's command-line tools (`pdfinfo`, `pdftotext`, `pdftoppm`) on a rendered PDF:
//! an independent reader checks that the file parses, says what text it holds, and draws it.
//! Missing tools fail the test (scripts/setup.sh installs poppler-utils), never skip it.

use std::path::PathBuf;
use std::process::Command;

/// A rendered PDF written to a file of its own under the system's temporary directory.
pub struct Rendered {
    path: PathBuf,
}

impl Rendered {
    pub fn new(name: &str, pdf: &[u8]) -> Self {
        let path =
            std::env::temp_dir().join(format!("invoice-pdf-{}-{name}.pdf", std::process::id()));
        std::fs::write(&path, pdf).expect("writing the PDF");
        Rendered { path }
    }

    /// The page count, after checking that poppler reads the file without a complaint.
    pub fn pages(&self) -> usize {
        let info = run("pdfinfo", &[self.path.to_str().unwrap()]);
        info.lines()
            .find_map(|line| line.strip_prefix("Pages:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("pdfinfo names the page count")
    }

    /// The text of page `page` (from 1), laid out as on the page.
    pub fn text(&self, page: usize) -> String {
        let page = page.to_string();
        let path = self.path.to_str().unwrap();
        run(
            "pdftotext",
            &["-layout", "-f", &page, "-l", &page, path, "-"],
        )
    }

    /// Page 1 drawn at 80 dpi, in grey levels: `(width, height, one byte per pixel)`.
    pub fn first_page_image(&self) -> (usize, usize, Vec<u8>) {
        let prefix = self.path.with_extension("");
        let path = self.path.to_str().unwrap();
        let prefix_str = prefix.to_str().unwrap();
        run(
            "pdftoppm",
            &[
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                path,
                prefix_str,
            ],
        );
        let png_path = prefix.with_extension("png");
        let bytes = std::fs::read(&png_path).expect("pdftoppm wrote the PNG");
        let _ = std::fs::remove_file(png_path);
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
        let frame = reader.next_frame(&mut pixels).expect("decoding the PNG");
        assert_eq!(frame.bit_depth, png::BitDepth::Eight);
        pixels.truncate(frame.buffer_size());
        let channels = frame.color_type.samples();
        // Mean of the colour channels (pdftoppm writes RGB even when asked for grey).
        let gray = pixels
            .chunks(channels)
            .map(|px| {
                (px.iter().take(3).map(|&c| u32::from(c)).sum::<u32>() / channels.min(3) as u32)
                    as u8
            })
            .collect();
        (frame.width as usize, frame.height as usize, gray)
    }
}

impl Drop for Rendered {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `tool args` must succeed and print nothing on stderr (poppler reports repaired or broken
/// structure there); its stdout.
fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): install poppler-utils (scripts/setup.sh does)")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.is_empty(),
        "{tool} {args:?}: {stderr}"
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}
