//! Finds the full King James text that the `bible-lib` crate ships and copies it into OUT_DIR.
//!
//! bible-lib's API cuts every verse at its first ':' (about 18% of the text), and the text
//! itself is private, so we read the file the crate carries. Its location comes from
//! `cargo metadata` (which works offline and under vendoring), and its blake3 is checked so every
//! node trains on exactly the same corpus.

use std::path::PathBuf;
use std::process::Command;

const KJV_BLAKE3: &str = "96bfed58e0060f03d756ab0e25852277134ce8ec89eb434938f5d97bab8ef118";

fn main() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let target = std::env::var("TARGET").expect("set by cargo");
    // Only this platform's packages, so Windows-only crates need not be downloaded. Offline
    // first; if a package of the workspace was never fetched, let cargo fetch it.
    let metadata = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.args(["metadata", "--format-version", "1", "--filter-platform"])
            .arg(&target)
            .arg("--manifest-path")
            .arg(manifest.join("Cargo.toml"));
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
            .expect("running `cargo metadata` to find bible-lib")
    };
    let mut out = metadata(true);
    if !out.status.success() {
        out = metadata(false);
    }
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let lib = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "bible-lib" && p["version"] == "1.2.2")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("bible-lib 1.2.2 is a dependency of gradient-data");
    let text = PathBuf::from(lib)
        .parent()
        .expect("manifest has a parent")
        .join("src/bible_translations/kjv.txt");
    let bytes = std::fs::read(&text).unwrap_or_else(|e| panic!("reading {}: {e}", text.display()));
    let hash = blake3::hash(&bytes).to_hex();
    assert!(
        hash.as_str() == KJV_BLAKE3,
        "{} has blake3 {hash}, expected {KJV_BLAKE3}: not the text every node trains on",
        text.display()
    );
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("kjv.txt");
    std::fs::write(&dest, &bytes).expect("writing kjv.txt to OUT_DIR");
    println!("cargo:rerun-if-changed={}", text.display());
    println!("cargo:rerun-if-changed=build.rs");
}
