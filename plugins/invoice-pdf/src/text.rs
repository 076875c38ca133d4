//! Text in the standard Type1 fonts Helvetica and Helvetica-Bold, which every PDF reader has,
//! so nothing is embedded and the file stays a few KiB. The price is their encoding:
//! WinAnsiEncoding (Windows-1252) covers ASCII, Latin-1 and a few typographic marks
//! (`€ – — “ ” ‘ ’ • …`, `Š Ž Œ`), and any other character (Greek, Cyrillic, CJK, emoji,
//! controls) is printed as `?`. Widths come from the fonts' metrics (`metrics.rs`), which is
//! what lets amounts be right-aligned and long descriptions wrap.

use crate::metrics::{HELVETICA, HELVETICA_BOLD};

/// The two faces an invoice uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The resource name the page's font dictionary gives this face.
    pub fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        }
    }
}

/// `text` in WinAnsiEncoding bytes; a character outside it becomes `?`, a tab a space.
pub fn encode(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi).collect()
}

fn win_ansi(c: char) -> u8 {
    match c {
        '\t' => b' ',
        ' '..='~' => c as u8,
        // Latin-1's printable half is WinAnsi's too, byte for byte.
        '\u{a0}'..='\u{ff}' => c as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        _ => b'?',
    }
}

/// The width in points of encoded `text` set in `font` at `size`.
pub fn width(text: &[u8], font: Font, size: f32) -> f32 {
    let units: u32 = text
        .iter()
        .map(|&b| u32::from(font.widths()[usize::from(b.max(0x20) - 0x20)]))
        .sum();
    units as f32 * size / 1000.0
}

/// Encoded `text` cut to fit `max` points, ending in `...` when something was cut.
pub fn fit(text: &[u8], font: Font, size: f32, max: f32) -> Vec<u8> {
    if width(text, font, size) <= max {
        return text.to_vec();
    }
    let room = max - width(b"...", font, size);
    let mut out = Vec::new();
    for &b in text {
        if width(&out, font, size) + width(&[b], font, size) > room {
            break;
        }
        out.push(b);
    }
    out.extend_from_slice(b"...");
    out
}

/// Encoded `text` broken into lines no wider than `max` points: at spaces where it can,
/// inside a word only when the word alone is too wide, and at every newline.
pub fn wrap(text: &str, font: Font, size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line: Vec<u8> = Vec::new();
        for word in encode(paragraph.trim_end_matches('\r')).split(|&b| b == b' ') {
            let candidate = if line.is_empty() {
                word.to_vec()
            } else {
                [line.as_slice(), b" ", word].concat()
            };
            if width(&candidate, font, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for &b in word {
                if !line.is_empty() && width(&line, font, size) + width(&[b], font, size) > max {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(b);
            }
        }
        lines.push(line);
    }
    lines
}

/// [`wrap`], at most `limit` lines (at least one), the last ending in `...` when text was
/// left out: an invoice line, address or link long enough to run off the page is a mistake
/// upstream, and a clipped page still prints.
pub fn wrap_at_most(text: &str, font: Font, size: f32, max: f32, limit: usize) -> Vec<Vec<u8>> {
    let mut lines = wrap(text, font, size, max);
    let limit = limit.max(1);
    if lines.len() > limit {
        lines.truncate(limit);
        let last = &mut lines[limit - 1];
        last.extend_from_slice(b"...");
        *last = fit(last, font, size, max);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_outside_win_ansi_become_question_marks() {
        assert_eq!(encode("Café – 5 €"), b"Caf\xe9 \x96 5 \x80");
        assert_eq!(encode("Ωmega 東京 🚀"), b"?mega ?? ?");
    }

    #[test]
    fn widths_follow_helvetica_metrics() {
        // "Hello" in Helvetica: H 722, e 556, l 222, l 222, o 556.
        assert_eq!(width(b"Hello", Font::Regular, 10.0), 22.78);
        assert!(width(b"Hello", Font::Bold, 10.0) > width(b"Hello", Font::Regular, 10.0));
    }

    #[test]
    fn wrapping_breaks_at_spaces_then_inside_long_words() {
        let lines = wrap("one two three four", Font::Regular, 10.0, 45.0);
        assert_eq!(lines, [b"one two".to_vec(), b"three four".to_vec()]);
        let long = wrap(&"x".repeat(40), Font::Regular, 10.0, 50.0);
        assert!(long.len() > 1);
        assert!(long.iter().all(|l| width(l, Font::Regular, 10.0) <= 50.0));
        assert_eq!(wrap("a\nb", Font::Regular, 10.0, 100.0).len(), 2);
    }

    #[test]
    fn wrapping_at_most_clips_with_an_ellipsis() {
        let lines = wrap_at_most(&"word ".repeat(200), Font::Regular, 10.0, 100.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with(b"..."));
        assert!(width(&lines[2], Font::Regular, 10.0) <= 100.0);
        assert_eq!(
            wrap_at_most("short", Font::Regular, 10.0, 100.0, 3),
            [b"short".to_vec()]
        );
    }

    #[test]
    fn fitting_cuts_with_an_ellipsis() {
        assert_eq!(fit(b"short", Font::Regular, 10.0, 100.0), b"short");
        let cut = fit(&[b'w'; 100], Font::Regular, 10.0, 60.0);
        assert!(cut.ends_with(b"..."));
        assert!(width(&cut, Font::Regular, 10.0) <= 60.0);
    }
}
