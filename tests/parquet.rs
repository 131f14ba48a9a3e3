//! Hub-dataset shards in parquet (`--features parquet`; scripts/test.sh runs this): the text
//! column comes back in row order without nulls, and bad input is a typed error.
#![cfg(feature = "parquet")]

use gpt2lab::data::parquet_text_column;
use gpt2lab::Error;
use polars::prelude::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gpt2lab-parquet-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn reads_the_text_column_of_a_shard() {
    let dir = scratch("shard");
    let path = dir.join("train-00000-of-00001.parquet");
    let mut df = df!(
        "text" => [Some("Once upon a time."), None, Some("The end.<|endoftext|>"), Some("")],
        "n" => [1i64, 2, 3, 4]
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();

    let texts = parquet_text_column(&path, "text").unwrap();
    assert_eq!(texts, vec!["Once upon a time.", "The end.<|endoftext|>", ""]);

    let e = parquet_text_column(&path, "story").unwrap_err();
    assert!(matches!(e, Error::Data(_)) && e.to_string().contains("\"text\"") && e.to_string().contains("\"n\""), "{e}");
    let e = parquet_text_column(&path, "n").unwrap_err();
    assert!(e.to_string().contains("not text"), "{e}");

    let bad = dir.join("bad.parquet");
    std::fs::write(&bad, b"PAR1 not really").unwrap();
    assert!(matches!(parquet_text_column(&bad, "text"), Err(Error::Data(_))));
    assert!(matches!(parquet_text_column(dir.join("none.parquet"), "text"), Err(Error::Io { .. })));
}
