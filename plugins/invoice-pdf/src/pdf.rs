//! Assembles the drawn pages into a PDF file: catalog, page tree, the two standard fonts
//! (referenced by name, not embedded), link annotations and the document's title.

use pdf_writer::types::{ActionType, AnnotationType};
use pdf_writer::{Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::InvoiceDocument;
use crate::canvas::{Canvas, PAGE_HEIGHT, PAGE_WIDTH};
use crate::text::Font;

/// The file with `pages` in order.
pub fn assemble(doc: &InvoiceDocument, pages: Vec<Canvas>) -> Vec<u8> {
    let mut next = Ref::new(1);
    let mut alloc = || next.bump();
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let fonts = [Font::Regular, Font::Bold].map(|font| (font, alloc()));

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let title = format!("Invoice {}", doc.number);
    pdf.document_info(info)
        .title(TextStr(title.trim_end()))
        .author(TextStr(&doc.tenant_name))
        .producer(TextStr("VeroField"));
    for (font, id) in fonts {
        let base: &[u8] = match font {
            Font::Regular => b"Helvetica",
            Font::Bold => b"Helvetica-Bold",
        };
        pdf.type1_font(id)
            .base_font(Name(base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }

    let mut kids = Vec::with_capacity(pages.len());
    for canvas in pages {
        let (page_id, content_id) = (alloc(), alloc());
        kids.push(page_id);
        let (content, links) = canvas.finish();
        let link_ids: Vec<Ref> = links.iter().map(|_| alloc()).collect();
        let mut page = pdf.page(page_id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id)
            .annotations(link_ids.iter().copied());
        let mut resources = page.resources();
        let mut names = resources.fonts();
        for (font, id) in fonts {
            names.pair(Name(font.resource()), id);
        }
        names.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content);
        for (([left, top, right, bottom], uri), id) in links.iter().zip(link_ids) {
            let mut annotation = pdf.annotation(id);
            annotation
                .subtype(AnnotationType::Link)
                .rect(Rect::new(
                    *left,
                    PAGE_HEIGHT - bottom,
                    *right,
                    PAGE_HEIGHT - top,
                ))
                .border(0.0, 0.0, 0.0, None);
            annotation
                .action()
                .action_type(ActionType::Uri)
                .uri(Str(uri.as_bytes()));
        }
    }
    let count = i32::try_from(kids.len()).unwrap_or(i32::MAX);
    pdf.pages(tree).kids(kids).count(count);
    pdf.finish()
}
