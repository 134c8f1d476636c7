//! Parquet input: a FineWeb-style file with `text` and `id` columns, written by the parquet
//! crate's own writer with snappy compression.

use std::sync::Arc;

use gradient_data::input;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

fn write_parquet(path: &std::path::Path, texts: &[&str]) {
    let schema = Arc::new(
        parse_message_type("message doc { required int64 id; required binary text (UTF8); }")
            .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let ids: Vec<i64> = (0..texts.len() as i64).collect();
    let mut col = group.next_column().unwrap().unwrap();
    col.typed::<Int64Type>()
        .write_batch(&ids, None, None)
        .unwrap();
    col.close().unwrap();
    let values: Vec<ByteArray> = texts.iter().map(|t| ByteArray::from(*t)).collect();
    let mut col = group.next_column().unwrap().unwrap();
    col.typed::<ByteArrayType>()
        .write_batch(&values, None, None)
        .unwrap();
    col.close().unwrap();
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn reads_the_text_column_of_a_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part-0000.parquet");
    let texts = [
        "The first document.",
        "A second, longer document: with a colon.",
        "ünïcödé",
    ];
    write_parquet(&path, &texts);
    assert_eq!(input::input_files(dir.path()).unwrap(), vec![path.clone()]);
    let docs = input::read_documents(&path).unwrap();
    assert_eq!(
        docs.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        texts
    );
}

#[test]
fn parquet_without_a_text_column_or_garbage_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, b"PAR1 this is not parquet at all PAR1").unwrap();
    let e = input::read_documents(&path).unwrap_err().to_string();
    assert!(e.contains("not a readable Parquet file"), "{e}");

    let wrong = dir.path().join("wrong.parquet");
    write_parquet(&wrong, &["x"]);
    let source = Arc::new(gradient_data::source::LocalFile::open(&wrong).unwrap());
    let e = gradient_data::read_parquet(source, "content")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no column `content`") && e.contains("\"text\""),
        "{e}"
    );
}
