//! The rendered invoice read back by an independent reader (poppler): it parses, it says
//! what the invoice says, long invoices continue on more pages, zero-decimal currencies have
//! no decimals, text outside the font's encoding does not break the file, and page 1 drawn
//! as a picture has ink where the header, the lines and the totals go.

mod poppler;

use invoice_pdf::{InvoiceDocument, InvoiceLine, render};
use poppler::Rendered;

fn sample() -> InvoiceDocument {
    serde_json::from_str(include_str!("../examples/sample-invoice.json")).expect("the sample")
}

fn line(description: &str, quantity: &str, unit: i64) -> InvoiceLine {
    InvoiceLine {
        description: description.to_owned(),
        quantity: quantity.to_owned(),
        unit_amount_minor: unit,
        total_minor: unit * quantity.parse::<i64>().unwrap_or(1),
    }
}

#[test]
fn the_sample_parses_and_shows_number_customer_and_totals() {
    let pdf = Rendered::new("sample", &render(&sample()));
    assert_eq!(pdf.pages(), 1);
    let text = pdf.text(1);
    for expected in [
        "INVOICE",
        "INV-2026-0042",
        "Brightwater Plumbing & Heating",
        "Müller Family Bakery",
        "Sales tax (8.875%)",
        "USD 599.50",
        "USD -15.00",
        "USD 636.36",
        "USD 436.36",
        "https://pay.brightwater.example/pay/4f9c2b7e81d04a5c9e3f",
        "Page 1 of 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn sixty_lines_continue_on_more_pages_under_a_repeated_heading() {
    let mut doc = sample();
    doc.lines = (1..=60)
        .map(|i| line(&format!("Visit {i}"), "1", 4_500))
        .collect();
    let pdf = Rendered::new("sixty", &render(&doc));
    let pages = pdf.pages();
    assert!(pages >= 2, "{pages} page(s)");
    let second = pdf.text(2);
    for expected in [
        "INVOICE INV-2026-0042 (continued)",
        "Description",
        &format!("Page 2 of {pages}"),
    ] {
        assert!(
            second.contains(expected),
            "{expected:?} missing from:\n{second}"
        );
    }
    let all: String = (1..=pages).map(|page| pdf.text(page)).collect();
    assert!(all.contains("Visit 1 ") && all.contains("Visit 60 ") && all.contains("Amount due"));
}

#[test]
fn a_zero_decimal_currency_prints_no_decimals() {
    let mut doc = sample();
    doc.currency = "JPY".to_owned();
    doc.currency_exponent = 0;
    doc.lines = vec![line("Inspection", "2", 617_284)];
    (doc.subtotal_minor, doc.discount_minor, doc.tax_lines) = (1_234_568, 0, Vec::new());
    (doc.tax_total_minor, doc.total_minor) = (0, 1_234_568);
    (doc.amount_paid_minor, doc.amount_due_minor) = (1, 1_234_567);
    let text = Rendered::new("jpy", &render(&doc)).text(1);
    assert!(
        text.contains("617,284") && text.contains("JPY 1,234,567"),
        "{text}"
    );
    assert!(
        !text.contains("617,284.") && !text.contains("1,234,567."),
        "{text}"
    );
}

#[test]
fn text_outside_win_ansi_prints_as_question_marks_and_the_file_stays_whole() {
    let mut doc = sample();
    doc.customer_name = "Ωmega 東京 (Tokyo) \\ Co 🚀".to_owned();
    doc.lines[0].description = "Съёмка (survey) – ok".to_owned();
    let pdf = Rendered::new("encoding", &render(&doc));
    assert_eq!(pdf.pages(), 1);
    let text = pdf.text(1);
    assert!(text.contains("?mega ?? (Tokyo) \\ Co ?"), "{text}");
    assert!(text.contains("?????? (survey) – ok"), "{text}");
    assert!(text.contains("USD 436.36"), "{text}");
}

#[test]
fn page_one_as_a_picture_has_ink_in_the_header_lines_and_totals() {
    let (width, height, pixels) = Rendered::new("picture", &render(&sample())).first_page_image();
    // Bands in points from the top of the A4 page (842 pt), where the sample draws them.
    let dark_in = |top: f32, bottom: f32| {
        let rows =
            (top / 842.0 * height as f32) as usize..(bottom / 842.0 * height as f32) as usize;
        rows.flat_map(|row| &pixels[row * width..(row + 1) * width])
            .filter(|&&gray| gray < 96)
            .count()
    };
    assert!(dark_in(40.0, 120.0) > 200, "header band is blank");
    assert!(dark_in(250.0, 370.0) > 200, "lines table is blank");
    assert!(dark_in(390.0, 520.0) > 200, "totals block is blank");
    assert_eq!(dark_in(640.0, 790.0), 0, "ink below the notes");
}

#[test]
fn a_sparse_document_and_oversized_text_still_make_a_whole_file() {
    let sparse: InvoiceDocument = serde_json::from_str(r#"{"number": "INV-7"}"#).unwrap();
    let pdf = Rendered::new("sparse", &render(&sparse));
    assert_eq!(pdf.pages(), 1);
    assert!(pdf.text(1).contains("No lines"));

    let mut doc = sample();
    doc.lines[0].description = "overflowing ".repeat(2_000);
    doc.customer_address = vec!["Street".to_owned(); 50];
    let pdf = Rendered::new("oversized", &render(&doc));
    let pages = pdf.pages();
    assert!(pages <= 2, "{pages} pages");
    let first = pdf.text(1);
    assert_eq!(first.matches("Street").count(), 6, "{first}");
    assert!(first.contains("..."), "{first}");
}
