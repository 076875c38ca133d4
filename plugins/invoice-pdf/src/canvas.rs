//! One page being drawn, in points measured from the page's top-left corner (the layout
//! thinks top-down; PDF's origin is bottom-left, so only this file flips `y`).

use pdf_writer::{Content, Name, Str};

use crate::text::{self, Font};

/// A4 portrait, in points.
pub const PAGE_WIDTH: f32 = 595.0;
pub const PAGE_HEIGHT: f32 = 842.0;

/// An RGB colour, each channel 0..=1.
pub type Color = [f32; 3];
/// Near-black for text, so print and screen both read it as ink.
pub const INK: Color = [0.1, 0.1, 0.1];
/// Labels and secondary lines.
pub const MUTED: Color = [0.42, 0.42, 0.42];
/// The accent: the top band, the amount due, the payment link.
pub const ACCENT: Color = [0.13, 0.29, 0.53];
/// Table heading and amount-due backgrounds.
pub const SHADE: Color = [0.93, 0.94, 0.96];
/// Rules between table rows.
pub const HAIRLINE: Color = [0.82, 0.82, 0.82];

/// How a piece of text is set.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub font: Font,
    pub size: f32,
    pub color: Color,
}

impl Style {
    pub const fn new(font: Font, size: f32, color: Color) -> Self {
        Style { font, size, color }
    }
}

/// A page's content stream and its clickable areas.
pub struct Canvas {
    content: Content,
    /// `(left, top, right, bottom, uri)` of each link, top-down like everything here.
    pub links: Vec<([f32; 4], String)>,
}

impl Canvas {
    pub fn new() -> Self {
        Canvas {
            content: Content::new(),
            links: Vec::new(),
        }
    }

    /// Encoded `text` with its baseline at `y`, starting at `x`.
    pub fn text(&mut self, x: f32, y: f32, style: Style, text: &[u8]) {
        let [r, g, b] = style.color;
        self.content
            .set_fill_rgb(r, g, b)
            .begin_text()
            .set_font(Name(style.font.resource()), style.size)
            .next_line(x, PAGE_HEIGHT - y)
            .show(Str(text))
            .end_text();
    }

    /// `text` from `x`, cut with `...` where it would pass `max` points in width.
    pub fn write(&mut self, x: f32, y: f32, style: Style, text: &str, max: f32) {
        let encoded = text::fit(&text::encode(text), style.font, style.size, max);
        self.text(x, y, style, &encoded);
    }

    /// `text` ending at `right`: amounts, the invoice's heading, page numbers.
    pub fn write_right(&mut self, right: f32, y: f32, style: Style, text: &str) {
        let encoded = text::encode(text);
        let x = right - text::width(&encoded, style.font, style.size);
        self.text(x, y, style, &encoded);
    }

    /// A horizontal rule from `x1` to `x2` at `y`.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, color: Color) {
        let [r, g, b] = color;
        self.content
            .set_stroke_rgb(r, g, b)
            .set_line_width(width)
            .move_to(x1, PAGE_HEIGHT - y)
            .line_to(x2, PAGE_HEIGHT - y)
            .stroke();
    }

    /// A filled rectangle whose top-left corner is `(x, y)`.
    pub fn fill(&mut self, x: f32, y: f32, width: f32, height: f32, color: Color) {
        let [r, g, b] = color;
        self.content
            .set_fill_rgb(r, g, b)
            .rect(x, PAGE_HEIGHT - y - height, width, height)
            .fill_nonzero();
    }

    /// Makes the area `[left, top, right, bottom]` open `uri` when clicked.
    pub fn link(&mut self, area: [f32; 4], uri: &str) {
        self.links.push((area, uri.to_owned()));
    }

    /// The content stream's bytes.
    pub fn finish(self) -> (Vec<u8>, Vec<([f32; 4], String)>) {
        (self.content.finish().into_vec(), self.links)
    }
}
