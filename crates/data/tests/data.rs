//! Tokenizer, shards and the bundled corpus end to end.

use std::path::Path;
use std::sync::Arc;

use gradient_data::shard::{MANIFEST, ShardWriter};
use gradient_data::{
    Dataset, Document, GPT2_END_OF_TEXT, Loader, PageLayout, Split, Tokenizer, corpus, input,
    pages, prepare,
};

#[test]
fn gpt2_ids_for_known_strings_and_round_trips() {
    let t = Tokenizer::gpt2();
    assert_eq!(t.encode("Hello world").unwrap(), vec![15496, 995]);
    assert_eq!(t.encode(" the").unwrap(), vec![262]);
    assert_eq!(t.vocab_size(), 50257);
    assert_eq!(t.end_of_text(), GPT2_END_OF_TEXT);
    for text in [
        "In the beginning God created the heaven and the earth.",
        "naïve café — ünïcödé 🚀",
        "",
    ] {
        assert_eq!(t.decode(&t.encode(text).unwrap()).unwrap(), text);
    }
    // The special token's text is ordinary text, never id 50256.
    assert!(
        !t.encode("<|endoftext|>")
            .unwrap()
            .contains(&GPT2_END_OF_TEXT)
    );
    assert!(t.decode(&[60000]).is_err());
    let e = Tokenizer::from_name("llama3").err().unwrap().to_string();
    assert!(e.contains("unknown tokenizer"), "{e}");
}

fn write_split(
    dir: &Path,
    vocab: usize,
    tokens: &[u32],
    shard_tokens: usize,
) -> gradient_data::shard::Manifest {
    let mut w = ShardWriter::new(dir, Split::Train, vocab, shard_tokens).unwrap();
    w.push(tokens).unwrap();
    let mut m = gradient_data::shard::Manifest::new("test", vocab);
    m.splits.insert("train".into(), w.finish().unwrap());
    m.write(dir).unwrap();
    m
}

#[test]
fn shards_round_trip_across_boundaries_in_u16_and_u32() {
    for vocab in [50257usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let tokens: Vec<u32> = (0..10_000u32).map(|i| (i * 7919) % vocab as u32).collect();
        let m = write_split(dir.path(), vocab, &tokens, 3000);
        assert_eq!(
            m.splits["train"].len(),
            4,
            "3000-token shards, the last partial"
        );
        assert_eq!(m.tokens(Split::Train), 10_000);
        let ds = Dataset::open(dir.path()).unwrap();
        let stream = ds.split(Split::Train).unwrap();
        assert_eq!(stream.len(), 10_000);
        let mut all = vec![0; 10_000];
        stream.read(0, &mut all).unwrap();
        assert_eq!(all, tokens);
        let mut across = vec![0; 100];
        stream.read(2950, &mut across).unwrap();
        assert_eq!(across, tokens[2950..3050]);
        assert!(
            stream.read(9_950, &mut across).is_err(),
            "reads past the end are errors"
        );
    }
}

fn open_err(dir: &Path) -> String {
    match Dataset::open(dir) {
        Ok(_) => panic!("opening should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn corrupt_truncated_and_mismatched_shards_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<u32> = (0..5000).collect();
    write_split(dir.path(), 50257, &tokens, 5000);
    let shard = dir.path().join("train-00000.bin");
    let good = std::fs::read(&shard).unwrap();

    let mut flipped = good.clone();
    flipped[1000] ^= 1;
    std::fs::write(&shard, &flipped).unwrap();
    assert!(open_err(dir.path()).contains("corrupt shard"));

    std::fs::write(&shard, &good[..good.len() - 10]).unwrap();
    assert!(open_err(dir.path()).contains("truncated"));

    std::fs::write(&shard, &good).unwrap();
    let manifest = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
    let hash = blake3::hash(&good).to_hex().to_string();
    std::fs::write(
        dir.path().join(MANIFEST),
        manifest.replace(&hash, &"0".repeat(64)),
    )
    .unwrap();
    assert!(open_err(dir.path()).contains("does not match the manifest"));

    std::fs::write(
        dir.path().join(MANIFEST),
        manifest.replace("train-00000.bin", "../etc/passwd"),
    )
    .unwrap();
    assert!(open_err(dir.path()).contains("plain file names"));

    std::fs::write(dir.path().join(MANIFEST), "{}").unwrap();
    assert!(open_err(dir.path()).contains("not a valid dataset manifest"));
    std::fs::remove_file(dir.path().join(MANIFEST)).unwrap();
    assert!(open_err(dir.path()).contains(MANIFEST));
}

#[test]
fn bible_splits_are_disjoint_whole_books() {
    let dir = tempfile::tempdir().unwrap();
    let books = corpus::bible();
    let docs: Vec<(Split, Document)> = books
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, d)| (corpus::bible_split(i), d))
        .collect();
    let t = Tokenizer::gpt2();
    let m = prepare(docs.clone(), &t, dir.path(), 1 << 20, &|_| {}).unwrap();
    let (train, val) = (m.tokens(Split::Train), m.tokens(Split::Validation));
    assert!(
        (1_000_000..1_400_000).contains(&(train + val)),
        "{train} + {val} tokens"
    );
    // The validation stream is exactly the held-out books, in order, each closed by <|endoftext|>.
    let mut expected = Vec::new();
    for (_, d) in docs.iter().filter(|(s, _)| *s == Split::Validation) {
        expected.extend(t.encode(&d.text).unwrap());
        expected.push(GPT2_END_OF_TEXT);
    }
    let ds = Dataset::open(dir.path()).unwrap();
    let mut got = vec![0; val as usize];
    ds.split(Split::Validation)
        .unwrap()
        .read(0, &mut got)
        .unwrap();
    assert_eq!(got, expected);
    let held: Vec<&str> = docs
        .iter()
        .filter(|(s, _)| *s == Split::Validation)
        .map(|(_, d)| d.name.as_str())
        .collect();
    assert_eq!(
        held,
        [
            "Numbers",
            "1 Kings",
            "Job",
            "Lamentations",
            "Jonah",
            "Malachi",
            "1 Corinthians",
            "2 Thessalonians",
            "1 Peter"
        ]
    );
}

#[test]
fn loader_walks_pages_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<u32> = (0..4000).collect();
    write_split(dir.path(), 50257, &tokens, 1000);
    let ds = Arc::new(Dataset::open(dir.path()).unwrap());
    let layout = PageLayout {
        seq_len: 9,
        seqs_per_page: 3,
    };
    assert_eq!(layout.num_pages(4000), 133);
    let loader = Loader::new(ds.clone(), Split::Train, layout, vec![5, 100], 2).unwrap();
    let b1 = loader.next_batch().unwrap();
    assert_eq!(b1[..10], tokens[150..160]);
    assert_eq!(b1[10..], tokens[160..170]);
    let b2 = loader.next_batch().unwrap();
    assert_eq!(b2[..10], tokens[170..180], "last sequence of page 5");
    assert_eq!(b2[10..], tokens[3000..3010], "then page 100");
    let e = Loader::new(ds, Split::Train, layout, vec![133], 2)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("beyond"), "{e}");
    let _ = pages::shuffled(0, 3);
}

#[test]
fn user_text_and_jsonl_become_documents() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.txt"),
        "First paragraph.\n\nSecond one.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.jsonl"),
        "{\"text\": \"hello\"}\n\n{\"text\": \"world\", \"id\": 3}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("skip.bin"), [0u8, 1, 2]).unwrap();
    let files = input::input_files(dir.path()).unwrap();
    assert_eq!(files.len(), 2);
    let a = input::read_documents(&files[0]).unwrap();
    assert_eq!(
        a.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        ["First paragraph.", "Second one."]
    );
    let b = input::read_documents(&files[1]).unwrap();
    assert_eq!(
        b.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        ["hello", "world"]
    );

    std::fs::write(dir.path().join("c.jsonl"), "{\"content\": \"x\"}\n").unwrap();
    let e = input::read_documents(&dir.path().join("c.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1 has no string field `text`"), "{e}");
    std::fs::write(dir.path().join("d.txt"), [0xffu8, 0xfe]).unwrap();
    assert!(
        input::read_documents(&dir.path().join("d.txt"))
            .unwrap_err()
            .to_string()
            .contains("not UTF-8")
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(
        input::input_files(empty.path())
            .unwrap_err()
            .to_string()
            .contains("no .txt")
    );
}

#[test]
fn hugging_face_tokenizer_json_files_load_and_encode() {
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;

    let dir = tempfile::tempdir().unwrap();
    let vocab = [("[UNK]", 0u32), ("hello", 1), ("world", 2), ("</s>", 3)]
        .into_iter()
        .map(|(t, i)| (t.to_string(), i))
        .collect();
    let model = WordLevel::builder()
        .vocab(vocab)
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut hf = tokenizers::Tokenizer::new(model);
    hf.with_pre_tokenizer(Some(Whitespace {}));
    let path = dir.path().join("tokenizer.json");
    hf.save(&path, false).unwrap();

    let t = Tokenizer::from_name(path.to_str().unwrap()).unwrap();
    assert_eq!(t.encode("hello world nonsense").unwrap(), vec![1, 2, 0]);
    assert_eq!(t.vocab_size(), 4);
    assert_eq!(t.end_of_text(), 3);
    assert!(t.name().starts_with("tokenizer.json@"));

    std::fs::write(&path, "{\"not\": \"a tokenizer\"}").unwrap();
    let e = Tokenizer::from_name(path.to_str().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a valid tokenizer.json"), "{e}");
}
