//! The growing bytes of one frame, with the offsets where its headers and
//! fields start (the interesting places to cut it) and a label for
//! failure messages.

#[derive(Debug, Default)]
pub struct Builder {
    pub buf: Vec<u8>,
    /// Offsets of header and field starts, in the order written.
    pub marks: Vec<usize>,
    pub label: Vec<String>,
}

impl Builder {
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Remembers the current offset as a place to cut.
    pub fn mark(&mut self) {
        self.marks.push(self.buf.len());
    }

    pub fn tag(&mut self, what: impl Into<String>) {
        self.label.push(what.into());
    }

    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// Overwrites the big-endian `u16` at `at` (a length known only later).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}
