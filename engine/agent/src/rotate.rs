//! A JSON lines file rotated by size and count, as `tcpdump -C/-W` and
//! ptcpdump do, but named the way log shippers expect: the live file keeps
//! its name (`events.json`), older ones are `events.json.1` (the newest)
//! up to `events.json.N-1`; the oldest is deleted. Files are cut between
//! lines only, and each is created as `-o` files are (0600, no symlinks).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// When to start a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// `-C`: start a new file once this many bytes are written.
    pub max_bytes: u64,
    /// `-W`: files kept, the live one included (at least 1).
    pub files: u32,
}

#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    rotation: Option<Rotation>,
    file: File,
    written: u64,
    /// Files started since opening (the first one included).
    pub opened: u64,
}

impl RotatingFile {
    pub fn create(path: &Path, rotation: Option<Rotation>) -> io::Result<RotatingFile> {
        let file = ferret_core::outfile::create(path).map_err(io::Error::other)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            rotation,
            file,
            written: 0,
            opened: 1,
        })
    }

    /// Writes whole lines, however many at once; a new file is started
    /// between two lines when the next would pass the size. A line longer
    /// than the size goes into a file of its own.
    pub fn write_lines(&mut self, mut lines: &[u8]) -> io::Result<()> {
        let Some(r) = self.rotation else {
            return self.write(lines);
        };
        while !lines.is_empty() {
            let room = r.max_bytes.saturating_sub(self.written);
            let fit = if lines.len() as u64 <= room {
                lines.len()
            } else {
                lines[..room as usize]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
            };
            let take = match fit {
                0 if self.written > 0 => {
                    self.rotate(r)?;
                    continue;
                }
                0 => lines
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(lines.len(), |i| i + 1),
                n => n,
            };
            self.write(&lines[..take])?;
            lines = &lines[take..];
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self, r: Rotation) -> io::Result<()> {
        self.file.flush()?;
        let keep = r.files.max(1);
        if keep == 1 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.numbered(keep - 1));
            for n in (1..keep - 1).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = ferret_core::outfile::create(&self.path).map_err(io::Error::other)?;
        self.written = 0;
        self.opened += 1;
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ferret-rotate-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        d
    }

    #[test]
    fn files_rotate_by_size_and_the_oldest_goes() {
        let d = dir();
        let path = d.join("events.json");
        let rotation = Rotation {
            max_bytes: 25,
            files: 3,
        };
        let mut f = RotatingFile::create(&path, Some(rotation)).unwrap();
        for i in 0..10 {
            f.write_lines(format!("{{\"n\":{i:02}}}\n").as_bytes())
                .unwrap(); // 10 bytes
        }
        // Two lines a file: 0-1, 2-3, 4-5, 6-7, 8-9; three kept.
        assert_eq!(f.opened, 5);
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "{\"n\":08}\n{\"n\":09}\n");
        assert_eq!(read(d.join("events.json.1")), "{\"n\":06}\n{\"n\":07}\n");
        assert_eq!(read(d.join("events.json.2")), "{\"n\":04}\n{\"n\":05}\n");
        assert!(!d.join("events.json.3").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn one_large_batch_is_cut_between_its_lines() {
        let d = dir();
        let path = d.join("batch.json");
        let rotation = Rotation {
            max_bytes: 25,
            files: 9,
        };
        let mut f = RotatingFile::create(&path, Some(rotation)).unwrap();
        let batch: String = (0..10).map(|i| format!("{{\"n\":{i:02}}}\n")).collect();
        f.write_lines(batch.as_bytes()).unwrap();
        assert_eq!(f.opened, 5);
        for n in 1..5 {
            let text = std::fs::read_to_string(d.join(format!("batch.json.{n}"))).unwrap();
            assert_eq!(text.len(), 18, "two whole 9-byte lines a file: {text:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_line_longer_than_the_size_still_goes_whole_into_one_file() {
        let d = dir();
        let path = d.join("e.json");
        let rotation = Rotation {
            max_bytes: 4,
            files: 1,
        };
        let mut f = RotatingFile::create(&path, Some(rotation)).unwrap();
        f.write_lines(b"0123456789\n").unwrap();
        f.write_lines(b"abcdefghij\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abcdefghij\n");
        assert!(
            !d.join("e.json.1").exists(),
            "-W 1 keeps only the live file"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
