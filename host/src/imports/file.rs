//! Reading an uploaded CSV file, which is hostile until read: a UTF-8 byte-order mark is
//! dropped, CRLF and LF both end a row, quoted cells may hold commas, quotes and line breaks
//! (RFC 4180), and the limits hold whatever the file says: [`MAX_ROWS`] rows,
//! [`MAX_RECORD_BYTES`] bytes in one row, [`MAX_COLUMNS`] columns, non-UTF-8 text refused.
//!
//! The header is checked when the file arrives (every column mapped to one the kind knows,
//! `external_id` and `name` present, none twice), so a misnamed column is a 422 at once,
//! never 10,000 row errors. A row that is malformed (wrong number of cells, too long, not
//! UTF-8) is a row error, reported with its line like any other bad row. Rows are read one at
//! a time from the stored bytes by the job: only one batch is ever held as rows.

use std::collections::{BTreeMap, HashMap};

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::columns::{Column, EXTERNAL_ID};
use crate::error::{Error, FieldError, Result};

/// Rows (after the header) one import takes.
pub const MAX_ROWS: usize = 100_000;
/// Bytes of one row (its cells together).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Columns of the header.
pub const MAX_COLUMNS: usize = 200;

/// What each column of the file is: a known column, or (mapped to `""`) ignored.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Per column of the file, in file order: the column it fills, or `None` when ignored.
    pub targets: Vec<Option<Column>>,
    /// The file's header, for naming columns in row errors.
    pub headers: Vec<String>,
    pub external_id: usize,
}

impl Layout {
    /// The file's header cell that fills `column` (what a row error names).
    pub fn header_of(&self, column: &str) -> String {
        self.targets
            .iter()
            .position(|target| target.as_ref().is_some_and(|t| t.name == column))
            .map_or_else(|| column.to_owned(), |at| self.headers[at].clone())
    }
}

/// One row of the file and the line it starts on (the header is line 1).
pub struct Row {
    pub line: u64,
    pub cells: Result<Vec<String>, String>,
}

/// A reader over the file's bytes, with the byte-order mark skipped.
pub fn reader(bytes: &[u8]) -> Reader<&[u8]> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes)
}

/// Reads the header, applies `mapping` (file header -> column name; `""` ignores a column;
/// a header not in the mapping is taken as the column of its own name) and counts the rows.
pub fn layout(
    bytes: &[u8],
    columns: &[Column],
    mapping: &BTreeMap<String, String>,
) -> Result<(Layout, usize)> {
    let mut reader = reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|error| unreadable(&error.to_string()))?
        .iter()
        .map(|cell| {
            std::str::from_utf8(cell)
                .map(|text| text.trim().to_owned())
                .map_err(|_| unreadable("the header is not UTF-8"))
        })
        .collect::<Result<Vec<_>>>()?;
    if headers.len() > MAX_COLUMNS {
        return Err(unreadable(&format!("more than {MAX_COLUMNS} columns")));
    }
    let mut wrong = Vec::new();
    for key in mapping.keys().filter(|key| !headers.contains(key)) {
        wrong.push(FieldError::new(
            format!("mapping.{key}"),
            "no column of the file has this header",
        ));
    }
    let mut targets = Vec::with_capacity(headers.len());
    let mut filled: HashMap<&str, &str> = HashMap::new();
    let mut external_id = None;
    for (at, header) in headers.iter().enumerate() {
        let name = mapping.get(header).map_or(header.as_str(), String::as_str);
        if name.is_empty() {
            targets.push(None);
            continue;
        }
        if let Some(earlier) = filled.insert(name, header) {
            wrong.push(FieldError::new(
                header.clone(),
                format!("fills `{name}`, as `{earlier}` does"),
            ));
        }
        if name == EXTERNAL_ID {
            external_id = Some(at);
            targets.push(None);
            continue;
        }
        match columns.iter().find(|column| column.name == name) {
            Some(column) => targets.push(Some(column.clone())),
            None => {
                wrong.push(FieldError::new(
                    header.clone(),
                    format!("`{name}` is not a column of this import"),
                ));
                targets.push(None);
            }
        }
    }
    for required in [EXTERNAL_ID, "name"] {
        if !filled.contains_key(required) {
            wrong.push(FieldError::new(required, "no column fills it"));
        }
    }
    if !wrong.is_empty() {
        return Err(Error::problem(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "import_columns_invalid",
            "the file's columns do not match the import: see `errors`",
        )
        .with_fields(wrong));
    }
    let mut rows = 0;
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) | Err(_) => rows += 1,
        }
        if rows > MAX_ROWS {
            return Err(Error::problem(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "import_too_many_rows",
                format!("an import takes at most {MAX_ROWS} rows; split the file"),
            ));
        }
    }
    let layout = Layout {
        targets,
        headers,
        external_id: external_id.expect("checked above"),
    };
    Ok((layout, rows))
}

/// The rows of the file after the first `skip`, one at a time, each with the line it
/// starts on. Lines are counted here from the record's byte offset (the reader's own count
/// lags a line after a CRLF), counting LF, CRLF and a lone CR each as one line end.
pub fn rows<'a>(bytes: &'a [u8], columns: usize, skip: usize) -> impl Iterator<Item = Row> + 'a {
    let mut reader = reader(bytes);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The header is read first, so that the first row's offset is its own.
    let _ = reader.byte_headers();
    let mut lines = LineCounter::default();
    let mut record = ByteRecord::new();
    std::iter::from_fn(move || {
        let start = reader.position().byte() as usize;
        let read = reader.read_byte_record(&mut record);
        let line = lines.line_at(body, start);
        let row = match read {
            Ok(false) => return None,
            Ok(true) => Row {
                line,
                cells: cells_of(&record, columns),
            },
            Err(error) => Row {
                line,
                cells: Err(format!("the row could not be read: {}", error.kind_text())),
            },
        };
        Some(row)
    })
    .skip(skip)
}

/// Counts line ends up to a byte offset, going forward only.
#[derive(Default)]
struct LineCounter {
    at: usize,
    ends: u64,
}

impl LineCounter {
    /// The line a record read from `start` begins on: line ends before it, plus one, where
    /// the line ends the reader had not yet passed (the LF of a CRLF, blank lines) count too.
    fn line_at(&mut self, body: &[u8], start: usize) -> u64 {
        let mut start = start.min(body.len());
        while start < body.len() && matches!(body[start], b'\r' | b'\n') {
            start += 1;
        }
        while self.at < start {
            let byte = body[self.at];
            let crlf = byte == b'\r' && body.get(self.at + 1) == Some(&b'\n');
            if byte == b'\n' || (byte == b'\r' && !crlf) {
                self.ends += 1;
            }
            self.at += 1;
        }
        self.ends + 1
    }
}

fn cells_of(record: &ByteRecord, columns: usize) -> Result<Vec<String>, String> {
    if record.len() != columns {
        return Err(format!(
            "has {} cells where the header has {columns}",
            record.len()
        ));
    }
    if record.as_slice().len() > MAX_RECORD_BYTES {
        return Err(format!("is longer than {MAX_RECORD_BYTES} bytes"));
    }
    record
        .iter()
        .map(|cell| {
            std::str::from_utf8(cell)
                .map(str::to_owned)
                .map_err(|_| "is not UTF-8 text".to_owned())
        })
        .collect()
}

trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for csv::Error {
    fn kind_text(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
            _ => self.to_string(),
        }
    }
}

fn unreadable(detail: &str) -> Error {
    Error::bad_request(
        "import_file_unreadable",
        format!("the CSV file cannot be read: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::{Kind, columns};

    fn read(text: &str) -> Vec<Row> {
        rows(text.as_bytes(), 2, 0).collect()
    }

    #[test]
    fn a_bom_crlf_and_quoted_line_breaks_are_read_as_one_row_each() {
        let rows = read("\u{feff}external_id,name\r\n1,\"Acme, \"\"Inc\"\"\r\nEast\"\r\n2,Bee\r\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].cells.as_ref().unwrap()[1], "Acme, \"Inc\"\r\nEast");
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn a_short_row_is_a_row_error_on_its_line() {
        let rows = read("external_id,name\n1\n2,Bee\n");
        assert!(rows[0].cells.as_ref().unwrap_err().contains("1 cells"));
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn an_unknown_or_missing_column_is_refused_up_front() {
        let columns = columns::of(Kind::Customers, &[]);
        let mapping = BTreeMap::from([("Client".to_owned(), "name".to_owned())]);
        let refused = layout(b"external_id,Client,Shoe size\n", &columns, &mapping).unwrap_err();
        assert_eq!(refused.code(), "import_columns_invalid");
        let refused = layout(b"id,name\n", &columns, &BTreeMap::new()).unwrap_err();
        assert_eq!(refused.code(), "import_columns_invalid");
        let ignore = BTreeMap::from([("Shoe size".to_owned(), String::new())]);
        let (found, rows) =
            layout(b"external_id,name,Shoe size\n1,A,4\n", &columns, &ignore).unwrap();
        assert_eq!((found.external_id, rows), (0, 1));
    }
}
