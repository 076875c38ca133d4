//! Where everything goes, top-down on A4 with 50 pt margins. Page 1: the accent band, the
//! tenant's name and address (left) against `INVOICE`, the number, status and dates (right),
//! then the bill-to block. Then the lines table; a row that does not fit starts a new page
//! with a short "continued" heading and the table heading again. The totals block is kept
//! whole (moved to a new page if it does not fit), followed by the payment link and the
//! notes, line by line. Last, once the page count is known, every page gets its footer.

use crate::InvoiceDocument;
use crate::canvas::{ACCENT, Canvas, HAIRLINE, INK, MUTED, PAGE_HEIGHT, PAGE_WIDTH, SHADE, Style};
use crate::money;
use crate::text::{self, Font};

const MARGIN: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
/// Nothing but the footer goes below this.
const BODY_BOTTOM: f32 = PAGE_HEIGHT - 64.0;
const FOOTER_BASELINE: f32 = PAGE_HEIGHT - 32.0;

/// The lines table's columns: the description's left edge and the amounts' right edges.
const DESCRIPTION_X: f32 = MARGIN + 8.0;
const QUANTITY_RIGHT: f32 = 370.0;
const UNIT_RIGHT: f32 = 458.0;
const AMOUNT_RIGHT: f32 = RIGHT - 8.0;
const DESCRIPTION_WIDTH: f32 = QUANTITY_RIGHT - 50.0 - DESCRIPTION_X;
const ROW_LEADING: f32 = 12.5;
const ROW_PADDING: f32 = 9.0;

/// Totals: labels start here, values end at `AMOUNT_RIGHT`.
const TOTALS_X: f32 = 330.0;
const TOTALS_ROW: f32 = 17.0;

/// Caps on what one item may take, so that nothing runs past the footer: a description's
/// lines (a page holds about fifty), each address, the payment link.
const MAX_ROW_LINES: usize = 30;
const MAX_ADDRESS_LINES: usize = 6;
const MAX_LINK_LINES: usize = 4;

const TENANT: Style = Style::new(Font::Bold, 17.0, INK);
const HEADING: Style = Style::new(Font::Bold, 22.0, ACCENT);
const NUMBER: Style = Style::new(Font::Bold, 11.0, INK);
const CONTINUED: Style = Style::new(Font::Bold, 11.0, ACCENT);
const LABEL: Style = Style::new(Font::Bold, 8.0, MUTED);
const DETAIL_LABEL: Style = Style::new(Font::Regular, 9.5, MUTED);
const BODY: Style = Style::new(Font::Regular, 9.5, INK);
const ADDRESS: Style = Style::new(Font::Regular, 10.0, INK);
const CUSTOMER: Style = Style::new(Font::Bold, 11.0, INK);
const COLUMN: Style = Style::new(Font::Bold, 9.0, INK);
const TOTAL: Style = Style::new(Font::Regular, 10.0, INK);
const GRAND_TOTAL: Style = Style::new(Font::Bold, 10.0, INK);
const AMOUNT_DUE: Style = Style::new(Font::Bold, 12.0, ACCENT);
const SECTION: Style = Style::new(Font::Bold, 10.0, INK);
const LINK: Style = Style::new(Font::Regular, 9.5, [0.07, 0.33, 0.75]);
const NOTE: Style = Style::new(Font::Regular, 9.5, MUTED);
const FOOTER: Style = Style::new(Font::Regular, 8.0, MUTED);

/// Draws `doc` on as many pages as it takes.
pub fn pages(doc: &InvoiceDocument) -> Vec<Canvas> {
    let mut layout = Layout {
        doc,
        pages: Vec::new(),
        y: 0.0,
    };
    layout.first_page();
    layout.lines_table();
    layout.totals();
    layout.payment_link();
    layout.notes();
    layout.footers();
    layout.pages
}

/// `#rrggbb` as a fill colour.
fn rgb(hex: &str) -> Option<[f32; 3]> {
    let hex = hex
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.is_ascii())?;
    let channel = |i: usize| {
        u8::from_str_radix(&hex[i..i + 2], 16)
            .ok()
            .map(|c| f32::from(c) / 255.0)
    };
    Some([channel(0)?, channel(2)?, channel(4)?])
}

struct Layout<'a> {
    doc: &'a InvoiceDocument,
    pages: Vec<Canvas>,
    /// The top of the free space on the current page.
    y: f32,
}

impl Layout<'_> {
    fn new_page(&mut self) {
        let mut canvas = Canvas::new();
        let band = self
            .doc
            .brand_color
            .as_deref()
            .and_then(rgb)
            .unwrap_or(ACCENT);
        canvas.fill(0.0, 0.0, PAGE_WIDTH, 8.0, band);
        self.pages.push(canvas);
    }

    fn first_page(&mut self) {
        self.new_page();
        let doc = self.doc;
        let page = self.pages.current();
        page.write(MARGIN, 62.0, TENANT, &doc.tenant_name, 280.0);
        let mut left = 68.0;
        for line in doc.tenant_address.iter().take(MAX_ADDRESS_LINES) {
            left += 12.0;
            page.write(MARGIN, left, DETAIL_LABEL, line, 280.0);
        }

        page.write_right(RIGHT, 62.0, HEADING, "INVOICE");
        let mut right = 86.0;
        page.write_right(RIGHT, 80.0, NUMBER, &doc.number);
        let details = [
            ("Status", capitalised(&doc.status)),
            ("Issue date", doc.issue_date.clone()),
            ("Due date", doc.due_date.clone()),
        ];
        for (label, value) in details.iter().filter(|(_, value)| !value.is_empty()) {
            right += 14.0;
            page.write(RIGHT - 170.0, right, DETAIL_LABEL, label, 80.0);
            page.write_right(RIGHT, right, BODY, value);
        }

        let mut y = left.max(right) + 18.0;
        page.rule(MARGIN, RIGHT, y, 0.75, HAIRLINE);
        y += 22.0;
        page.text(MARGIN, y, LABEL, b"BILL TO");
        y += 15.0;
        page.write(MARGIN, y, CUSTOMER, &doc.customer_name, 300.0);
        for line in doc.customer_address.iter().take(MAX_ADDRESS_LINES) {
            y += 13.0;
            page.write(MARGIN, y, ADDRESS, line, 300.0);
        }
        self.y = y + 26.0;
    }

    /// The heading atop a continuation page: who, which invoice.
    fn continuation_page(&mut self) {
        self.new_page();
        let heading = match self.doc.number.is_empty() {
            true => "INVOICE (continued)".to_owned(),
            false => format!("INVOICE {} (continued)", self.doc.number),
        };
        let page = self.pages.current();
        page.write(MARGIN, 44.0, NUMBER, &self.doc.tenant_name, 250.0);
        page.write_right(RIGHT, 44.0, CONTINUED, &heading);
        page.rule(MARGIN, RIGHT, 56.0, 0.75, HAIRLINE);
        self.y = 76.0;
    }

    /// Starts a continuation page unless `height` points still fit on this one.
    fn ensure(&mut self, height: f32) {
        if self.y + height > BODY_BOTTOM {
            self.continuation_page();
        }
    }

    fn table_heading(&mut self) {
        let top = self.y;
        let amount = format!("Amount ({})", self.doc.currency);
        let page = self.pages.current();
        page.fill(MARGIN, top, RIGHT - MARGIN, 22.0, SHADE);
        let baseline = top + 14.5;
        page.text(DESCRIPTION_X, baseline, COLUMN, b"Description");
        page.write_right(QUANTITY_RIGHT, baseline, COLUMN, "Qty");
        page.write_right(UNIT_RIGHT, baseline, COLUMN, "Unit price");
        page.write_right(AMOUNT_RIGHT, baseline, COLUMN, &amount);
        self.y = top + 22.0;
    }

    fn lines_table(&mut self) {
        self.table_heading();
        let doc = self.doc;
        let exponent = doc.currency_exponent;
        if doc.lines.is_empty() {
            let baseline = self.y + ROW_PADDING / 2.0 + ROW_LEADING - 3.0;
            self.pages
                .current()
                .text(DESCRIPTION_X, baseline, NOTE, b"No lines");
            self.y += ROW_LEADING + ROW_PADDING;
        }
        for line in &doc.lines {
            let (font, size) = (BODY.font, BODY.size);
            let description = text::wrap_at_most(
                &line.description,
                font,
                size,
                DESCRIPTION_WIDTH,
                MAX_ROW_LINES,
            );
            let height = description.len() as f32 * ROW_LEADING + ROW_PADDING;
            if self.y + height > BODY_BOTTOM {
                self.continuation_page();
                self.table_heading();
            }
            let first = self.y + ROW_PADDING / 2.0 + ROW_LEADING - 3.0;
            let page = self.pages.current();
            for (i, text) in description.iter().enumerate() {
                page.text(DESCRIPTION_X, first + i as f32 * ROW_LEADING, BODY, text);
            }
            page.write_right(QUANTITY_RIGHT, first, BODY, &line.quantity);
            let unit = money::amount(line.unit_amount_minor, exponent);
            page.write_right(UNIT_RIGHT, first, BODY, &unit);
            let total = money::amount(line.total_minor, exponent);
            page.write_right(AMOUNT_RIGHT, first, BODY, &total);
            self.y += height;
            page.rule(MARGIN, RIGHT, self.y, 0.5, HAIRLINE);
        }
        self.y += 16.0;
    }

    /// The totals rows: what they say, their amount and whether it is the grand total.
    fn totals_rows(&self) -> Vec<(String, i64, bool)> {
        let doc = self.doc;
        let mut rows = vec![("Subtotal".to_owned(), doc.subtotal_minor, false)];
        if doc.discount_minor != 0 {
            rows.push(("Discount".to_owned(), -doc.discount_minor, false));
        }
        for tax in &doc.tax_lines {
            let label = match tax.rate.is_empty() {
                true => tax.name.clone(),
                false => format!("{} ({})", tax.name, tax.rate),
            };
            rows.push((label, tax.amount_minor, false));
        }
        if doc.tax_lines.len() > 1 || (doc.tax_lines.is_empty() && doc.tax_total_minor != 0) {
            rows.push(("Tax".to_owned(), doc.tax_total_minor, false));
        }
        rows.push(("Total".to_owned(), doc.total_minor, true));
        if doc.amount_paid_minor != 0 {
            rows.push(("Amount paid".to_owned(), -doc.amount_paid_minor, false));
        }
        rows
    }

    fn totals(&mut self) {
        let rows = self.totals_rows();
        // The rows, the rule above the total, the gap and the amount-due box.
        self.ensure(rows.len() as f32 * TOTALS_ROW + 9.0 + 8.0 + 28.0);
        let doc = self.doc;
        let (currency, exponent) = (doc.currency.as_str(), doc.currency_exponent);
        let page = self.pages.current();
        let mut y = self.y;
        for (label, amount, grand) in rows {
            let style = if grand { GRAND_TOTAL } else { TOTAL };
            if grand {
                y += 5.0;
                page.rule(TOTALS_X, AMOUNT_RIGHT, y, 0.75, INK);
                y += 4.0;
            }
            y += TOTALS_ROW - 4.0;
            page.write(TOTALS_X, y, style, &label, UNIT_RIGHT - TOTALS_X - 10.0);
            page.write_right(
                AMOUNT_RIGHT,
                y,
                style,
                &money::with_code(amount, currency, exponent),
            );
            y += 4.0;
        }
        y += 8.0;
        let box_left = TOTALS_X - 8.0;
        page.fill(box_left, y, RIGHT - box_left, 28.0, SHADE);
        page.text(TOTALS_X, y + 18.5, AMOUNT_DUE, b"Amount due");
        let due = money::with_code(doc.amount_due_minor, currency, exponent);
        page.write_right(AMOUNT_RIGHT, y + 18.5, AMOUNT_DUE, &due);
        self.y = y + 28.0 + 28.0;
    }

    fn payment_link(&mut self) {
        let Some(url) = self
            .doc
            .payment_url
            .as_deref()
            .filter(|url| !url.is_empty())
        else {
            return;
        };
        let width = RIGHT - MARGIN;
        let lines = text::wrap_at_most(url, LINK.font, LINK.size, width, MAX_LINK_LINES);
        self.ensure(16.0 + lines.len() as f32 * 13.0);
        let page = self.pages.current();
        let mut y = self.y;
        page.text(MARGIN, y, SECTION, b"Pay online");
        let top = y + 4.0;
        for line in &lines {
            y += 13.0;
            page.text(MARGIN, y, LINK, line);
        }
        page.link([MARGIN, top, RIGHT, y + 3.0], url);
        self.y = y + 26.0;
    }

    fn notes(&mut self) {
        let notes = self.doc.notes.trim_end();
        if notes.trim().is_empty() {
            return;
        }
        self.ensure(30.0);
        self.pages.current().text(MARGIN, self.y, SECTION, b"Notes");
        for line in text::wrap(notes, NOTE.font, NOTE.size, RIGHT - MARGIN) {
            self.ensure(13.0);
            self.y += 13.0;
            self.pages.current().text(MARGIN, self.y, NOTE, &line);
        }
    }

    fn footers(&mut self) {
        let count = self.pages.len();
        let left = match self.doc.number.is_empty() {
            true => format!("{} - Invoice", self.doc.tenant_name),
            false => format!("{} - Invoice {}", self.doc.tenant_name, self.doc.number),
        };
        for (i, page) in self.pages.iter_mut().enumerate() {
            page.rule(MARGIN, RIGHT, FOOTER_BASELINE - 12.0, 0.5, HAIRLINE);
            page.write(MARGIN, FOOTER_BASELINE, FOOTER, &left, 380.0);
            let number = format!("Page {} of {count}", i + 1);
            page.write_right(RIGHT, FOOTER_BASELINE, FOOTER, &number);
        }
    }
}

/// The page being drawn; a method of the page list (not of `Layout`) so that a call can read
/// `self.y` while it borrows the pages.
trait Current {
    fn current(&mut self) -> &mut Canvas;
}

impl Current for Vec<Canvas> {
    fn current(&mut self) -> &mut Canvas {
        self.last_mut().expect("the first page is drawn first")
    }
}

/// `open` -> `Open`.
fn capitalised(status: &str) -> String {
    let mut chars = status.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
