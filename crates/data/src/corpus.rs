//! The bundled corpus: the King James Bible (public domain) from the `bible-lib` crate, one
//! document per book, split into training and validation by whole books.

/// The full text, `Book C:V text` per line (see build.rs for where it comes from).
const KJV: &str = include_str!(concat!(env!("OUT_DIR"), "/kjv.txt"));

/// One unit of text; documents are separated by the tokenizer's end-of-text id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub name: String,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Validation,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Validation => "validation",
        }
    }
}

/// Every 7th book from the 4th (Numbers, 1 Kings, Job, Lamentations, Jonah, Malachi,
/// 1 Corinthians, 2 Thessalonians, 1 Peter: 12% of the text) is held out: whole books, so no
/// passage is in both splits.
pub fn bible_split(book_index: usize) -> Split {
    if book_index % 7 == 3 {
        Split::Validation
    } else {
        Split::Train
    }
}

/// The 66 books in canonical order. Each book opens with its name; verses are lines (without
/// their numbers) and chapters are separated by a blank line. The translators' italics
/// markers `[...]` and the speech markers `‹...›` are dropped, their words kept.
pub fn bible() -> Vec<Document> {
    let mut books: Vec<Document> = Vec::new();
    let mut chapter = "";
    for line in KJV.lines() {
        // "1 Kings 3:16 Then came ...": the reference ends at the first space after the ':'.
        let Some((reference, text)) = line
            .find(':')
            .and_then(|colon| line[colon..].find(' ').map(|sp| colon + sp))
            .map(|end| (&line[..end], &line[end + 1..]))
        else {
            continue;
        };
        let Some((book, chap)) = reference
            .split_once(':')
            .and_then(|(book_chap, _)| book_chap.rsplit_once(' '))
        else {
            continue;
        };
        if books.last().is_none_or(|b| b.name != book) {
            books.push(Document {
                name: book.to_string(),
                text: format!("{book}\n"),
            });
            chapter = "";
        }
        let doc = books.last_mut().expect("pushed above");
        if chapter != chap {
            doc.text.push('\n');
            chapter = chap;
        }
        doc.text
            .extend(text.chars().filter(|c| !matches!(c, '[' | ']' | '‹' | '›')));
        doc.text.push('\n');
    }
    books
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_66_books_with_full_verses() {
        let books = bible();
        assert_eq!(books.len(), 66);
        assert_eq!(books[0].name, "Genesis");
        assert_eq!(books[10].name, "1 Kings");
        assert_eq!(books[21].name, "Song of Solomon");
        assert_eq!(books[65].name, "Revelation");
        // Genesis 1:3 has a ':' inside the verse; bible-lib's API would cut it at "light".
        assert!(
            books[0]
                .text
                .contains("And God said, Let there be light: and there was light.\n")
        );
        assert!(
            books[0]
                .text
                .contains("darkness was upon the face of the deep")
        );
        let chars: usize = books.iter().map(|b| b.text.len()).sum();
        assert!(chars > 4_100_000, "{chars} bytes of text");
    }

    #[test]
    fn validation_is_about_a_tenth_of_whole_books() {
        let books = bible();
        let total: usize = books.iter().map(|b| b.text.len()).sum();
        let held: usize = books
            .iter()
            .enumerate()
            .filter(|(i, _)| bible_split(*i) == Split::Validation)
            .map(|(_, b)| b.text.len())
            .sum();
        let share = held as f64 / total as f64;
        assert!((0.05..0.15).contains(&share), "validation share {share}");
    }
}
