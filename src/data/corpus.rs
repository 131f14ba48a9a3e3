//! Offline real English, and the hooks for full-scale hub datasets.
//!
//! ## The King James Bible (ci scale)
//!
//! [`kjv_text`] reads the Authorized (King James) Version of 1611 from the Debian package
//! **`bible-kjv-text`** (`apt-get install bible-kjv-text`), which installs it as
//! `/usr/lib/bible.data`: the text of Chip Chapin's "Bible Retrieval System", one verse per line
//! (`Ge1:1 In the beginning God created the heaven and the earth.`), stored in 64 KiB blocks,
//! each compressed with Unix `compress` (LZW). This module decompresses it itself, so the
//! `bible` program (package `bible-kjv`) is not needed. `GPT2LAB_KJV_DATA` overrides the path; it
//! may also name an already-decompressed text file in the same one-verse-per-line format.
//!
//! Licence: the KJV text is in the public domain (the package's copyright file: "The copyright
//! for the King James Version text of the Bible is expired"; the data file's legend allows
//! unrestricted use). It is about 4.4 MB: 31,102 verses, ~790k words, ~1.0M GPT-2 tokens.
//!
//! ## Hub datasets (full scale)
//!
//! At full scale the notebooks read the paper's data from the Hugging Face hub.
//! [`hub_dataset_files`] downloads files of a dataset repository into the hub cache (feature
//! `hub`) and returns their local paths. Plain-text files (e.g. TinyStories'
//! `TinyStories-train.txt`, stories separated by `<|endoftext|>`) are read with
//! [`read_documents`]. Parquet shards are read by [`parquet_text_column`] with polars' parquet
//! reader, behind the `parquet` cargo feature (off by default: it adds compression libraries
//! and tokio to every cold build; the kernel turns it on with `GPT2LAB_FEATURES=parquet`).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The Debian package that installs the KJV data.
pub const KJV_PACKAGE: &str = "bible-kjv-text";
/// Where [`KJV_PACKAGE`] installs the compressed text.
pub const KJV_DATA_PATH: &str = "/usr/lib/bible.data";

/// The 66 books in canonical order, as they appear in the data file.
pub const KJV_BOOKS: [&str; 66] = [
    "Genesis",
    "Exodus",
    "Leviticus",
    "Numbers",
    "Deuteronomy",
    "Joshua",
    "Judges",
    "Ruth",
    "1 Samuel",
    "2 Samuel",
    "1 Kings",
    "2 Kings",
    "1 Chronicles",
    "2 Chronicles",
    "Ezra",
    "Nehemiah",
    "Esther",
    "Job",
    "Psalms",
    "Proverbs",
    "Ecclesiastes",
    "Song of Solomon",
    "Isaiah",
    "Jeremiah",
    "Lamentations",
    "Ezekiel",
    "Daniel",
    "Hosea",
    "Joel",
    "Amos",
    "Obadiah",
    "Jonah",
    "Micah",
    "Nahum",
    "Habakkuk",
    "Zephaniah",
    "Haggai",
    "Zechariah",
    "Malachi",
    "Matthew",
    "Mark",
    "Luke",
    "John",
    "Acts",
    "Romans",
    "1 Corinthians",
    "2 Corinthians",
    "Galatians",
    "Ephesians",
    "Philippians",
    "Colossians",
    "1 Thessalonians",
    "2 Thessalonians",
    "1 Timothy",
    "2 Timothy",
    "Titus",
    "Philemon",
    "Hebrews",
    "James",
    "1 Peter",
    "2 Peter",
    "1 John",
    "2 John",
    "3 John",
    "Jude",
    "Revelation",
];

/// One verse of the KJV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KjvVerse {
    /// 0-based index into [`KJV_BOOKS`].
    pub book_index: usize,
    /// The book's full name, e.g. "Genesis".
    pub book: &'static str,
    pub chapter: u32,
    pub verse: u32,
    /// The verse text, with runs of spaces collapsed.
    pub text: String,
}

/// The KJV data path: `GPT2LAB_KJV_DATA` if set, else [`KJV_DATA_PATH`].
pub fn kjv_path() -> PathBuf {
    std::env::var_os("GPT2LAB_KJV_DATA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(KJV_DATA_PATH))
}

/// Whether the KJV data file is present.
pub fn kjv_available() -> bool {
    kjv_path().is_file()
}

/// The data file as text: one verse per line, prefixed by its reference (`Ge1:1 ...`), after a
/// one-line title. Errors name the package to install when the file is missing.
pub fn kjv_raw() -> Result<String> {
    let path = kjv_path();
    let bytes = std::fs::read(&path).map_err(|e| {
        let hint = format!("{e}; the King James Bible comes from the Debian package `{KJV_PACKAGE}` (apt-get install {KJV_PACKAGE}), or set GPT2LAB_KJV_DATA");
        Error::io(&path, std::io::Error::new(e.kind(), hint))
    })?;
    let text = if bytes.starts_with(b"EC02") { decompress_brs(&bytes).map_err(|m| Error::Msg(format!("{}: {m}", path.display())))? } else { bytes };
    String::from_utf8(text).map_err(|e| Error::Msg(format!("{}: not UTF-8 text: {e}", path.display())))
}

/// Every verse, in canonical order (31,102 of them).
pub fn kjv_verses() -> Result<Vec<KjvVerse>> {
    let raw = kjv_raw()?;
    let mut out = Vec::with_capacity(31_102);
    let mut book_index: Option<usize> = None;
    let mut last_abbrev = String::new();
    for line in raw.lines() {
        let Some((reference, text)) = line.split_once(' ') else { continue };
        let Some((abbrev, chapter, verse)) = parse_reference(reference) else { continue };
        if abbrev != last_abbrev {
            let next = book_index.map_or(0, |b| b + 1);
            if next >= KJV_BOOKS.len() {
                return Err(Error::Msg(format!("KJV data: more than 66 books (at `{reference}`)")));
            }
            book_index = Some(next);
            last_abbrev = abbrev.to_string();
        }
        let b = book_index.unwrap_or(0);
        out.push(KjvVerse { book_index: b, book: KJV_BOOKS[b], chapter, verse, text: text.split_whitespace().collect::<Vec<_>>().join(" ") });
    }
    if out.is_empty() {
        return Err(Error::EmptyInput(format!("KJV data at {} holds no verses", kjv_path().display())));
    }
    Ok(out)
}

/// The KJV as prose: verse references stripped, the verses of a chapter joined into one
/// paragraph, one paragraph (chapter) per line: 1,189 lines.
pub fn kjv_text() -> Result<String> {
    let verses = kjv_verses()?;
    let mut out = String::with_capacity(4_400_000);
    for (i, v) in verses.iter().enumerate() {
        if i > 0 {
            let same_chapter = verses[i - 1].book_index == v.book_index && verses[i - 1].chapter == v.chapter;
            out.push(if same_chapter { ' ' } else { '\n' });
        }
        out.push_str(&v.text);
    }
    out.push('\n');
    Ok(out)
}

/// `Ge1:1` → ("Ge", 1, 1); `1Sm2:3` → ("1Sm", 2, 3).
fn parse_reference(r: &str) -> Option<(&str, u32, u32)> {
    let (left, verse) = r.split_once(':')?;
    let book_end = left.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if book_end == 0 || book_end == left.len() {
        return None;
    }
    Some((&left[..book_end], left[book_end..].parse().ok()?, verse.parse().ok()?))
}

/// Most bytes `decompress_brs` reserves up front from a file's header.
const MAX_PREALLOC: usize = 16 << 20;
/// Most bytes a data file may decompress to (the KJV is 4.4 MB).
const MAX_OUTPUT: usize = 64 << 20;

/// Decompresses a Bible Retrieval System data file: magic `EC02` and a title (84 bytes), the
/// uncompressed block size and the block count (big-endian u32 at 84 and 88), `count + 1`
/// big-endian u32 file offsets, and the blocks: independent `compress` (LZW) streams sharing the
/// one `1f 9d` header that precedes the first.
fn decompress_brs(d: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let be = |at: usize| -> std::result::Result<usize, String> {
        d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).ok_or_else(|| "truncated header".to_string())
    };
    let block_size = be(84)?;
    let n = be(88)?;
    let offsets = (0..=n).map(|i| be(92 + 4 * i)).collect::<std::result::Result<Vec<_>, _>>()?;
    let first = offsets[0];
    if first < 3 || d.get(first - 3..first - 1) != Some(&[0x1f, 0x9d][..]) {
        return Err("no compress header before the first block".into());
    }
    let flags = d[first - 1];
    let (maxbits, block_mode) = ((flags & 0x1f) as u32, flags & 0x80 != 0);
    if !(9..=16).contains(&maxbits) {
        return Err(format!("unsupported compress max bits {maxbits}"));
    }
    // the header's sizes are only a hint: a corrupt one must not request an unbounded
    // allocation (LZW expands at most ~(2^16)x per code, and the real KJV is 4.4 MB)
    let mut out = Vec::with_capacity(block_size.saturating_mul(n).min(MAX_PREALLOC));
    for w in offsets.windows(2) {
        let (a, b) = (w[0], w[1]);
        let block = d.get(a..b).ok_or_else(|| format!("block offsets {a}..{b} outside the file"))?;
        unlzw(block, maxbits, block_mode, &mut out)?;
    }
    Ok(out)
}

/// Unix `compress` LZW decoding (LSB-first codes of 9..=maxbits bits; a code-width change or a
/// CLEAR skips to the end of the current group of 8 codes, as ncompress writes them).
fn unlzw(buf: &[u8], maxbits: u32, block_mode: bool, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    const CLEAR: usize = 256;
    let table = 1usize << maxbits;
    let mut prefix = vec![0u16; table];
    let mut suffix = vec![0u8; table];
    let mut stack: Vec<u8> = Vec::with_capacity(table);
    let total = buf.len() * 8;
    let (mut n_bits, mut bitpos, mut group_start) = (9u32, 0usize, 0usize);
    let mut free: usize = if block_mode { 257 } else { 256 };
    let mut old: Option<usize> = None;
    let mut finchar = 0u8;
    let align = |bitpos: usize, group_start: usize, n_bits: u32| {
        let g = 8 * n_bits as usize;
        group_start + (bitpos - group_start).div_ceil(g) * g
    };
    loop {
        if free > (1 << n_bits) - 1 && n_bits < maxbits {
            bitpos = align(bitpos, group_start, n_bits);
            group_start = bitpos;
            n_bits += 1;
        }
        if bitpos + n_bits as usize > total {
            return Ok(());
        }
        let byte = bitpos / 8;
        let mut v = 0u32;
        for k in 0..3 {
            v |= (*buf.get(byte + k).unwrap_or(&0) as u32) << (8 * k);
        }
        let code = ((v >> (bitpos % 8)) & ((1 << n_bits) - 1)) as usize;
        bitpos += n_bits as usize;

        let Some(prev) = old else {
            if code > 255 {
                return Err(format!("corrupt LZW stream: first code {code}"));
            }
            finchar = code as u8;
            out.push(finchar);
            old = Some(code);
            continue;
        };
        if code == CLEAR && block_mode {
            bitpos = align(bitpos, group_start, n_bits);
            group_start = bitpos;
            n_bits = 9;
            free = 257;
            old = None;
            continue;
        }
        stack.clear();
        let mut c = code;
        if c >= free {
            if c > free {
                return Err(format!("corrupt LZW stream: code {c} beyond the table ({free})"));
            }
            stack.push(finchar);
            c = prev;
        }
        while c >= 256 {
            stack.push(suffix[c]);
            c = prefix[c] as usize;
        }
        finchar = c as u8;
        stack.push(finchar);
        out.extend(stack.iter().rev());
        if out.len() > MAX_OUTPUT {
            // LZW can expand quadratically: a corrupt file must not fill memory
            return Err(format!("decompressed data exceeds {MAX_OUTPUT} bytes"));
        }
        if free < table {
            prefix[free] = prev as u16;
            suffix[free] = finchar;
            free += 1;
        }
        old = Some(code);
    }
}

/// Downloads `files` of the Hugging Face **dataset** repository `repo_id` into the hub cache and
/// returns their local paths (feature `hub`; needs network on first use). Read text files with
/// [`read_documents`], parquet shards with [`parquet_text_column`] (feature `parquet`).
#[cfg(feature = "hub")]
pub fn hub_dataset_files(repo_id: &str, files: &[&str]) -> Result<Vec<PathBuf>> {
    let api = hf_hub::api::sync::Api::new().map_err(|e| Error::Hub(e.to_string()))?;
    let repo = api.dataset(repo_id.to_string());
    files.iter().map(|f| repo.get(f).map_err(|e| Error::Hub(format!("dataset {repo_id}, file {f}: {e}")))).collect()
}

/// Without the `hub` feature, hub datasets are unavailable.
#[cfg(not(feature = "hub"))]
pub fn hub_dataset_files(repo_id: &str, _files: &[&str]) -> Result<Vec<PathBuf>> {
    Err(Error::Unsupported(format!("dataset {repo_id}: gpt2lab was built without the `hub` feature")))
}

/// Reads a text file and splits it into documents at `separator` (e.g. `"<|endoftext|>"`), trimming
/// each and dropping empty ones.
pub fn read_documents(path: impl AsRef<Path>, separator: &str) -> Result<Vec<String>> {
    let p = path.as_ref();
    let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
    if separator.is_empty() {
        return Err(Error::Msg("read_documents: empty separator".into()));
    }
    Ok(text.split(separator).map(str::trim).filter(|d| !d.is_empty()).map(str::to_string).collect())
}

/// The strings of column `column` of a parquet file (a hub dataset shard), in row order; null
/// entries are skipped. Needs the `parquet` cargo feature (polars' parquet reader; off by
/// default because it adds zstd/lz4/brotli and tokio to every cold build). Typed errors for a
/// missing file, a file that is not parquet, a missing column (listing the columns) and a
/// column that is not text.
#[cfg(feature = "parquet")]
pub fn parquet_text_column(path: impl AsRef<Path>, column: &str) -> Result<Vec<String>> {
    use polars::prelude::{DataType, ParquetReader, SerReader};
    let p = path.as_ref();
    let file = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let df = ParquetReader::new(file)
        .with_columns(None)
        .finish()
        .map_err(|e| Error::Data(format!("{}: not a readable parquet file: {e}", p.display())))?;
    let col = df.column(column).map_err(|_| {
        let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
        Error::Data(format!("{}: no column `{column}`; columns are {names:?}", p.display()))
    })?;
    if !matches!(col.dtype(), DataType::String) {
        return Err(Error::Data(format!("{}: column `{column}` is {}, not text", p.display(), col.dtype())));
    }
    let ca = col.str().map_err(|e| Error::Data(e.to_string()))?;
    Ok(ca.iter().flatten().map(str::to_string).collect())
}

/// Without the `parquet` feature: [`Error::Unsupported`], naming the ways out.
#[cfg(not(feature = "parquet"))]
pub fn parquet_text_column(path: impl AsRef<Path>, column: &str) -> Result<Vec<String>> {
    Err(Error::Unsupported(format!(
        "reading column `{column}` of {}: gpt2lab was built without its `parquet` feature (cargo: \
         `features = [\"parquet\"]`; the notebook kernel: GPT2LAB_FEATURES=parquet), or convert the shard to \
         text and use read_documents",
        path.as_ref().display()
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A minimal `compress` encoder (9-bit codes only: inputs short enough never to widen).
    fn lzw9(input: &[u8]) -> Vec<u8> {
        let mut dict: HashMap<Vec<u8>, u32> = (0..=255u32).map(|b| (vec![b as u8], b)).collect();
        let (mut next, mut codes, mut w) = (257u32, Vec::new(), Vec::new());
        for &c in input {
            let mut wc = w.clone();
            wc.push(c);
            if dict.contains_key(&wc) {
                w = wc;
            } else {
                codes.push(dict[&w]);
                dict.insert(wc, next);
                next += 1;
                w = vec![c];
            }
        }
        codes.push(dict[&w]);
        assert!(next < 512);
        pack9(&codes)
    }

    /// 9-bit codes packed least-significant bit first, as `compress` writes them.
    fn pack9(codes: &[u32]) -> Vec<u8> {
        let (mut out, mut acc, mut nbits) = (Vec::new(), 0u32, 0);
        for &code in codes {
            acc |= code << nbits;
            nbits += 9;
            while nbits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                nbits -= 8;
            }
        }
        if nbits > 0 {
            out.push(acc as u8);
        }
        out
    }

    #[test]
    fn unlzw_decodes_compress_streams() {
        for text in [&b"TOBEORNOTTOBEORTOBEORNOT"[..], b"aaaaaaaaaaaaaaaaaaaaaaaaa", b"x", b"abababababab cdcdcd"] {
            let mut out = Vec::new();
            unlzw(&lzw9(text), 16, true, &mut out).unwrap();
            assert_eq!(out, text);
        }
        assert!(unlzw(&[0xff, 0xff, 0x01], 16, true, &mut Vec::new()).is_err());
    }

    #[test]
    fn brs_container_and_references() {
        // Header, two blocks, each its own LZW stream.
        let (a, b) = (lzw9(b"Ge1:1 In the beginning.\n"), lzw9(b"Ge1:2 And the earth.\n"));
        let mut f = b"EC02Compressed Data File".to_vec();
        f.resize(84, 0);
        f.extend(64u32.to_be_bytes());
        f.extend(2u32.to_be_bytes());
        let first = 92 + 12 + 3;
        for off in [first, first + a.len(), first + a.len() + b.len()] {
            f.extend((off as u32).to_be_bytes());
        }
        f.extend([0x1f, 0x9d, 0x90]);
        f.extend(&a);
        f.extend(&b);
        let text = decompress_brs(&f).unwrap();
        assert_eq!(text, b"Ge1:1 In the beginning.\nGe1:2 And the earth.\n");
        assert_eq!(parse_reference("Ge1:1"), Some(("Ge", 1, 1)));
        assert_eq!(parse_reference("1Sm12:30"), Some(("1Sm", 12, 30)));
        assert_eq!(parse_reference("Holy"), None);
        assert_eq!(parse_reference("12:3"), None);
        assert!(decompress_brs(b"EC02").is_err());
    }

    #[test]
    fn a_corrupt_header_cannot_request_an_unbounded_allocation() {
        // block size 4 GiB and 4000 (empty) blocks: a 16 TB reservation taken from the header
        // aborted the process before
        let n = 4000u32;
        let mut f = b"EC02Compressed Data File".to_vec();
        f.resize(84, 0);
        f.extend(u32::MAX.to_be_bytes());
        f.extend(n.to_be_bytes());
        let first = 92 + 4 * (n as usize + 1) + 3;
        for _ in 0..=n {
            f.extend((first as u32).to_be_bytes());
        }
        f.extend([0x1f, 0x9d, 0x90]);
        assert_eq!(decompress_brs(&f).unwrap(), Vec::<u8>::new());
        // and a header promising more blocks than the file holds is an error
        let mut g = f[..100].to_vec();
        g[88..92].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decompress_brs(&g).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Any bytes after a plausible header: an error or bounded output, never a panic.
        #[test]
        fn corrupt_data_files_are_errors_not_panics(block_size in proptest::prelude::any::<u32>(), n in 0u32..40, offsets in proptest::collection::vec(0u32..600, 0..41), flags in proptest::prelude::any::<u8>(), body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut f = b"EC02Compressed Data File".to_vec();
            f.resize(84, 0);
            f.extend(block_size.to_be_bytes());
            f.extend(n.to_be_bytes());
            for o in &offsets {
                f.extend(o.to_be_bytes());
            }
            f.extend([0x1f, 0x9d, flags]);
            f.extend(&body);
            if let Ok(out) = decompress_brs(&f) {
                proptest::prop_assert!(out.len() <= MAX_OUTPUT + (1 << 16));
            }
        }
    }

    #[test]
    fn decompressed_output_is_bounded() {
        // 9-bit codes that each repeat the previous string plus one byte (KwKwK): the output
        // grows quadratically in the input; a cap ends it with an error
        let mut out = Vec::new();
        let mut codes = vec![b'a' as u32];
        codes.extend(257..512u32);
        let bytes = pack9(&codes);
        unlzw(&bytes, 9, true, &mut out).unwrap();
        assert_eq!(out.len(), (1..=256).sum::<usize>(), "1 + 2 + ... + 256 bytes");
        let mut big = vec![0u8; MAX_OUTPUT];
        assert!(unlzw(&bytes, 9, true, &mut big).unwrap_err().contains("exceeds"));
    }
}
