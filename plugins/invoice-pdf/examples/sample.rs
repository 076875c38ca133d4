//! Writes the sample invoice (`examples/sample-invoice.json`, or the JSON file given as the
//! first argument) as PDF to standard output:
//! `cargo run --manifest-path plugins/Cargo.toml -p invoice-pdf --example sample > invoice.pdf`.

use std::io::Write;

fn main() {
    let json = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path).expect("reading the invoice JSON"),
        None => include_str!("sample-invoice.json").to_owned(),
    };
    let doc: invoice_pdf::InvoiceDocument = serde_json::from_str(&json).expect("an invoice");
    std::io::stdout()
        .write_all(&invoice_pdf::render(&doc))
        .expect("writing the PDF");
}
