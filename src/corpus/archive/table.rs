//! Any table of papers: JSON Lines (or one JSON array), CSV, Parquet. Columns are found by name:
//! `--id-field`, `--title-field`, `--text-field` and `--date-field` name them, and otherwise the
//! common names are tried in order (see [`Fields`]). A table's text is the paper's abstract; a
//! column named `summary` is read as a digest summary, so `papermap papers --json` reads back.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::{arxiv_url, input, iso_day, normalise_whitespace, Out, Parsed};
use crate::corpus::{CorpusError, Paper, SourceLoc, WarningKind};

/// Column names for the fields of a paper; `None` tries the usual names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// The paper's id (default: `id`, `arxiv_id`, `paper_id`); an arXiv link or `arXiv:` id
    /// becomes the bare id.
    pub id: Option<String>,
    /// The title (default: `title`).
    pub title: Option<String>,
    /// The text to embed (default: `abstract`, `text`).
    pub text: Option<String>,
    /// The date, `YYYY-MM-DD` or an ISO timestamp (default: `date`, `published`,
    /// `publishedAt`, `published_at`, `update_date`, `created`).
    pub date: Option<String>,
}

/// The roles a column can play, with their default names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Id,
    Title,
    Text,
    Summary,
    Date,
    Authors,
    Votes,
    Url,
    Categories,
}

impl Role {
    const ALL: [Role; 9] = [
        Role::Id,
        Role::Title,
        Role::Text,
        Role::Summary,
        Role::Date,
        Role::Authors,
        Role::Votes,
        Role::Url,
        Role::Categories,
    ];

    fn defaults(self) -> &'static [&'static str] {
        match self {
            Role::Id => &["id", "arxiv_id", "paper_id"],
            Role::Title => &["title"],
            Role::Text => &["abstract", "text"],
            Role::Summary => &["summary"],
            Role::Date => &[
                "date",
                "published",
                "publishedAt",
                "published_at",
                "update_date",
                "created",
            ],
            Role::Authors => &["authors"],
            Role::Votes => &["votes", "upvotes"],
            Role::Url => &["url"],
            Role::Categories => &["categories"],
        }
    }

    fn option(self) -> &'static str {
        match self {
            Role::Id => "--id-field",
            Role::Title => "--title-field",
            Role::Text => "--text-field",
            Role::Date => "--date-field",
            _ => "",
        }
    }
}

impl Fields {
    fn explicit(&self, role: Role) -> Option<&str> {
        match role {
            Role::Id => self.id.as_deref(),
            Role::Title => self.title.as_deref(),
            Role::Text => self.text.as_deref(),
            Role::Date => self.date.as_deref(),
            _ => None,
        }
    }

    /// The column each role reads, given the columns there are; the summary column is left out
    /// when `--text-field` names it.
    fn resolve(&self, has: impl Fn(&str) -> bool) -> [Option<String>; 9] {
        Role::ALL.map(|role| {
            let name = match self.explicit(role) {
                Some(name) => Some(name.to_string()),
                None => role
                    .defaults()
                    .iter()
                    .find(|n| has(n))
                    .map(|n| n.to_string()),
            };
            if role == Role::Summary && name.is_some() && name.as_deref() == self.text.as_deref() {
                return None;
            }
            name
        })
    }
}

/// One cell of a record, whatever the table's encoding.
pub(super) enum Cell {
    Null,
    Str(String),
    Num(f64, String),
    List(Vec<String>),
    /// A value of a type no field takes: its type's name.
    Other(&'static str),
}

/// The JSON type's name, for messages.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_cell(v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::String(s)) => Cell::Str(s.clone()),
        Some(Value::Number(n)) => Cell::Num(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.get("name").unwrap_or(item) {
                    Value::String(s) => out.push(s.clone()),
                    _ => return Cell::Other("an array of non-strings"),
                }
            }
            Cell::List(out)
        }
        Some(other) => Cell::Other(json_type(other)),
    }
}

fn describe(cell: &Cell) -> &'static str {
    match cell {
        Cell::Null => "null",
        Cell::Str(_) => "a string",
        Cell::Num(..) => "a number",
        Cell::List(_) => "a list",
        Cell::Other(t) => t,
    }
}

/// A record as a paper: `cell(column)` reads a column of the record, `columns` is what each
/// role reads. Problems with optional fields keep the paper, with a note.
fn paper_from(
    cell: &dyn Fn(&str) -> Cell,
    columns: &[Option<String>; 9],
    path: &Path,
    n: usize,
) -> Parsed {
    let get = |role: Role| -> Option<(&str, Cell)> {
        let name = columns[role as usize].as_deref()?;
        Some((name, cell(name)))
    };
    let required = |role: Role| -> Result<String, String> {
        let Some((name, c)) = get(role) else {
            return Err(format!(
                "no {} column (name it with {})",
                if role == Role::Id { "id" } else { "title" },
                role.option()
            ));
        };
        match c {
            Cell::Str(s) => Ok(normalise_whitespace(&s)),
            // Numeric ids (a row number, an int column) are ids all the same.
            Cell::Num(_, s) if role == Role::Id => Ok(s),
            Cell::Null => Err(format!("`{name}` is missing")),
            other => Err(format!("`{name}` is {}, not a string", describe(&other))),
        }
    };
    let id = crate::text::arxiv::normalise(&required(Role::Id)?);
    if id.is_empty() {
        return Err("the id is empty".into());
    }
    let title = required(Role::Title)?;
    if title.is_empty() {
        return Err(format!("paper {id} has an empty title"));
    }
    let mut notes: Vec<String> = Vec::new();
    let text = |role: Role, notes: &mut Vec<String>| -> Option<String> {
        match get(role)? {
            (_, Cell::Str(s)) => Some(normalise_whitespace(&s)).filter(|s| !s.is_empty()),
            (_, Cell::Null) => None,
            (name, other) => {
                notes.push(format!("`{name}` is {}, not a string", describe(&other)));
                None
            }
        }
    };
    let abstract_text = text(Role::Text, &mut notes);
    let summary = text(Role::Summary, &mut notes).unwrap_or_default();
    let url_text = text(Role::Url, &mut notes);
    let date = match text(Role::Date, &mut notes) {
        Some(d) => match iso_day(&d) {
            Some(day) => Some(day),
            None => {
                notes.push(format!(
                    "date {d:?} is not YYYY-MM-DD; the paper is undated"
                ));
                None
            }
        },
        None => None,
    };
    let authors = match get(Role::Authors) {
        Some((_, Cell::List(list))) => list.iter().map(|a| normalise_whitespace(a)).collect(),
        Some((_, Cell::Str(s))) => {
            let sep = if s.contains(';') { ';' } else { ',' };
            s.split(sep)
                .map(normalise_whitespace)
                .filter(|a| !a.is_empty())
                .collect()
        }
        Some((_, Cell::Null)) | None => Vec::new(),
        Some((name, other)) => {
            notes.push(format!(
                "`{name}` is {}, not a list of names",
                describe(&other)
            ));
            Vec::new()
        }
    };
    let votes = match get(Role::Votes) {
        Some((_, Cell::Null)) | None => None,
        Some((name, c)) => {
            let v = match &c {
                Cell::Num(x, _) if *x >= 0.0 && x.fract() == 0.0 => {
                    Some(x.min(u32::MAX as f64) as u32)
                }
                Cell::Str(s) => s.trim().parse::<u32>().ok(),
                _ => None,
            };
            if v.is_none() {
                notes.push(format!("`{name}` is not a vote count"));
            }
            v
        }
    };
    let categories = match get(Role::Categories) {
        Some((_, Cell::List(list))) => list,
        Some((_, Cell::Str(s))) => s
            .split([' ', ','])
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let url = url_text
        .filter(|u| crate::corpus::is_web_link(u))
        .or_else(|| arxiv_url(&id))
        .unwrap_or_default();
    let paper = Paper {
        arxiv_id: id,
        title,
        url,
        dates: date.iter().cloned().collect(),
        date,
        votes,
        authors,
        thumbnail: None,
        whats_new: None,
        technical_details: None,
        performance_highlights: None,
        summary,
        abstract_text,
        categories,
        source: SourceLoc {
            file: path.to_path_buf(),
            line: n,
        },
    };
    Ok((paper, (!notes.is_empty()).then(|| notes.join("; "))))
}

/// A JSON table: JSON Lines, or a document holding one array of records.
pub(super) fn read_json(path: &Path, fields: &Fields, out: &mut Out) -> Result<(), CorpusError> {
    let head = input::head(path, 256)?;
    let text = String::from_utf8_lossy(&head);
    if !text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('[')
    {
        return super::read_lines(path, out, |line, n| {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| format!("invalid JSON: {}", super::json_error(&e)))?;
            record(&v, fields, path, n)
        });
    }
    let Some(doc) = read_document(path, out)? else {
        return Ok(());
    };
    let Value::Array(items) = doc else {
        out.bad(1, "not an array of records".into());
        return Ok(());
    };
    let mut papers = Vec::new();
    for (i, v) in items.iter().enumerate() {
        out.tally.records += 1;
        match record(v, fields, path, i + 1) {
            Ok((p, note)) => {
                if let Some(note) = note {
                    out.notes.warn(i + 1, WarningKind::BadField, note);
                }
                papers.push(p);
            }
            Err(why) => out.bad(i + 1, why),
        }
    }
    out.papers(papers);
    Ok(())
}

/// The paper of JSON record `n` of `path`, its columns found by name; a non-object is refused.
fn record(v: &Value, fields: &Fields, path: &Path, n: usize) -> Parsed {
    let Value::Object(map) = v else {
        return Err(format!("record is {}, not an object", json_type(v)));
    };
    let columns = fields.resolve(|name| map.contains_key(name));
    paper_from(&|name| json_cell(map.get(name)), &columns, path, n)
}

/// A whole JSON document (an HF day, a JSON array), at most [`super::MAX_DOCUMENT_BYTES`]; `None`
/// with a warning when it is larger, damaged or not JSON.
pub(super) fn read_document(path: &Path, out: &mut Out) -> Result<Option<Value>, CorpusError> {
    let mut bytes = Vec::new();
    let read = input::reader(path)?
        .take(super::MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes);
    if let Err(e) = read {
        super::cut_short(out, 0, &e);
        return Ok(None);
    }
    if bytes.len() as u64 > super::MAX_DOCUMENT_BYTES {
        out.notes.warn(
            0,
            WarningKind::BadRecord,
            "a JSON document larger than 1 GiB is not read whole: write it as JSON Lines".into(),
        );
        return Ok(None);
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            out.tally.records += 1;
            out.bad(e.line(), format!("not valid JSON: {e}"));
            Ok(None)
        }
    }
}

/// Rows per batch of CSV records handed on.
const CSV_BATCH: usize = 16_384;

/// A CSV table with a header row (tab-separated when the name says `.tsv`).
pub(super) fn read_csv(path: &Path, fields: &Fields, out: &mut Out) -> Result<(), CorpusError> {
    let tsv = path.to_string_lossy().to_ascii_lowercase().contains(".tsv");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .flexible(true)
        .from_reader(input::reader(path)?);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .collect(),
        Err(e) => {
            out.bad(1, format!("no header row: {e}"));
            return Ok(());
        }
    };
    let columns = fields.resolve(|name| header.iter().any(|h| h == name));
    warn_absent(fields, &columns, &header, out);
    let index_of = |name: &str| header.iter().position(|h| h == name);
    let mut papers = Vec::with_capacity(CSV_BATCH);
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let line = row.position().map_or(0, |p| p.line() as usize);
                out.tally.records += 1;
                let cell = |name: &str| match index_of(name).and_then(|i| row.get(i)) {
                    None | Some("") => Cell::Null,
                    Some(s) => Cell::Str(s.to_string()),
                };
                match paper_from(&cell, &columns, path, line) {
                    Ok((p, note)) => {
                        if let Some(note) = note {
                            out.notes.warn(line, WarningKind::BadField, note);
                        }
                        papers.push(p);
                    }
                    Err(why) => out.bad(line, why),
                }
                if papers.len() >= CSV_BATCH {
                    out.papers(std::mem::take(&mut papers));
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                if let csv::ErrorKind::Io(io) = e.kind() {
                    let io = std::io::Error::new(io.kind(), io.to_string());
                    super::cut_short(out, line, &io);
                    break;
                }
                out.tally.records += 1;
                out.bad(line, format!("unreadable row: {e}"));
            }
        }
    }
    out.papers(papers);
    Ok(())
}

/// One warning per file for a column named on the command line that the table lacks.
fn warn_absent(fields: &Fields, columns: &[Option<String>; 9], header: &[String], out: &mut Out) {
    for role in [Role::Id, Role::Title, Role::Text, Role::Date] {
        if let (Some(want), Some(_)) = (fields.explicit(role), &columns[role as usize]) {
            if !header.iter().any(|h| h == want) {
                out.notes.warn(
                    0,
                    WarningKind::BadField,
                    format!(
                        "{} {want:?}: the table has no such column (it has {})",
                        role.option(),
                        header.join(", ")
                    ),
                );
            }
        }
    }
}

/// A Parquet table, read batch by batch with only the columns the roles read.
pub(super) fn read_parquet(path: &Path, fields: &Fields, out: &mut Out) -> Result<(), CorpusError> {
    use arrow_array::cast::AsArray;
    use arrow_array::{Array, ArrayRef};
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    use arrow_schema::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;

    let file = std::fs::File::open(path).map_err(input::read_err(path))?;
    let builder = match ParquetRecordBatchReaderBuilder::try_new(file) {
        Ok(b) => b,
        Err(e) => {
            out.notes.warn(
                0,
                WarningKind::CutShort,
                format!("not a readable Parquet file (cut short?): {e}"),
            );
            return Ok(());
        }
    };
    let schema = builder.schema().clone();
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let columns = fields.resolve(|name| header.iter().any(|h| h == name));
    warn_absent(fields, &columns, &header, out);
    let wanted: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| columns.iter().flatten().any(|c| c == *h))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = match builder.with_projection(mask).with_batch_size(8192).build() {
        Ok(r) => r,
        Err(e) => {
            out.notes
                .warn(0, WarningKind::CutShort, format!("cannot read: {e}"));
            return Ok(());
        }
    };
    let options = FormatOptions::default();
    let mut row_base = 0usize;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let io = std::io::Error::other(e.to_string());
                super::cut_short(out, row_base + 1, &io);
                break;
            }
        };
        let by_name: Vec<(String, ArrayRef)> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| (f.name().clone(), a.clone()))
            .collect();
        let formatters: Vec<Option<ArrayFormatter>> = by_name
            .iter()
            .map(|(_, a)| ArrayFormatter::try_new(a.as_ref(), &options).ok())
            .collect();
        let mut papers = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let n = row_base + row + 1;
            out.tally.records += 1;
            let cell = |name: &str| -> Cell {
                let Some(i) = by_name.iter().position(|(c, _)| c == name) else {
                    return Cell::Null;
                };
                let array = &by_name[i].1;
                if array.is_null(row) {
                    return Cell::Null;
                }
                match array.data_type() {
                    DataType::List(_) | DataType::LargeList(_) => {
                        let items = match array.data_type() {
                            DataType::List(_) => array.as_list::<i32>().value(row),
                            _ => array.as_list::<i64>().value(row),
                        };
                        let listed = ArrayFormatter::try_new(items.as_ref(), &options).map(|f| {
                            (0..items.len())
                                .filter(|&j| !items.is_null(j))
                                .map(|j| f.value(j).to_string())
                                .collect::<Vec<String>>()
                        });
                        match listed {
                            Ok(list) => Cell::List(list),
                            Err(_) => Cell::Other("a list of unsupported values"),
                        }
                    }
                    DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
                    | DataType::UInt64
                    | DataType::Float32
                    | DataType::Float64 => match &formatters[i] {
                        Some(f) => {
                            let s = f.value(row).to_string();
                            Cell::Num(s.parse().unwrap_or(f64::NAN), s)
                        }
                        None => Cell::Other("a number"),
                    },
                    _ => match &formatters[i] {
                        Some(f) => Cell::Str(f.value(row).to_string()),
                        None => Cell::Other("an unsupported type"),
                    },
                }
            };
            match paper_from(&cell, &columns, path, n) {
                Ok((p, note)) => {
                    if let Some(note) = note {
                        out.notes.warn(n, WarningKind::BadField, note);
                    }
                    papers.push(p);
                }
                Err(why) => out.bad(n, why),
            }
        }
        row_base += batch.num_rows();
        out.papers(papers);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_by_default_names_and_by_option() {
        let header = ["arxiv_id", "title", "summary", "published_at"];
        let cols = Fields::default().resolve(|n| header.contains(&n));
        assert_eq!(cols[Role::Id as usize].as_deref(), Some("arxiv_id"));
        assert_eq!(cols[Role::Summary as usize].as_deref(), Some("summary"));
        assert_eq!(cols[Role::Text as usize], None);
        assert_eq!(cols[Role::Date as usize].as_deref(), Some("published_at"));
        let fields = Fields {
            text: Some("summary".into()),
            ..Fields::default()
        };
        let cols = fields.resolve(|n| header.contains(&n));
        assert_eq!(cols[Role::Text as usize].as_deref(), Some("summary"));
        assert_eq!(cols[Role::Summary as usize], None);
    }
}
