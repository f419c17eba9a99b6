//! Source files: the user's spec and the embedded stdlib presets, addressed by [`SourceId`].
//!
//! Every span in plinth is a byte range into one of these sources. Presets live under the
//! pseudo-path `<stdlib>/NAME.toml` so that a diagnostic inside a preset renders with its text
//! exactly like one in the user's file.

use std::ops::Range;

/// Index of a source in [`Sources`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// A byte range in a known source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// The source the range points into.
    pub source: SourceId,
    /// Byte offsets, start inclusive, end exclusive.
    pub range: Range<usize>,
}

impl Span {
    /// A span in `source` covering `range`.
    pub fn new(source: SourceId, range: Range<usize>) -> Self {
        Self { source, range }
    }
}

/// One loaded text with the name it is shown under.
#[derive(Clone, Debug)]
pub struct Source {
    /// Path as the user gave it, or `<stdlib>/NAME.toml` for presets.
    pub name: String,
    /// The full text.
    pub text: String,
}

/// All sources of one compilation, in load order.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<Source>,
}

impl Sources {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        self.files.push(Source {
            name: name.into(),
            text: text.into(),
        });
        SourceId((self.files.len() - 1) as u32)
    }

    /// The source behind `id`.
    ///
    /// Ids are only ever minted by [`Sources::add`], so a missing id is a programming error;
    /// an empty placeholder is returned rather than panicking in the middle of rendering.
    pub fn get(&self, id: SourceId) -> &Source {
        static EMPTY: Source = Source {
            name: String::new(),
            text: String::new(),
        };
        self.files.get(id.0 as usize).unwrap_or(&EMPTY)
    }

    /// The id of the source with this name, if loaded.
    pub fn find(&self, name: &str) -> Option<SourceId> {
        self.files
            .iter()
            .position(|s| s.name == name)
            .map(|i| SourceId(i as u32))
    }

    /// 1-based line and column of a byte offset, for JSON and GitHub output.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let text = &self.get(id).text;
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// The largest char boundary not above `i` (std's version is unstable).
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
