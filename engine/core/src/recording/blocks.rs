//! The pcap-ng blocks a recording is made of, written and cut apart by
//! hand (little-endian sections only): the section header, interface
//! descriptions, enhanced packets with a comment, and ferret's own blocks.

use super::ReadError;
use std::io::Read;

pub(crate) const SHB: u32 = 0x0A0D_0D0A;
pub(crate) const IDB: u32 = 1;
pub(crate) const EPB: u32 = 6;
/// ferret's records: a block type of the range pcap-ng leaves to local
/// use (high bit set), laid out as a custom block (enterprise number
/// first). Readers skip block types they do not know; Wireshark 4.0 lists
/// true custom blocks (0x40000BAD) as records among the packets, which
/// would number ferret's records as frames, so they are not used.
pub(crate) const CUSTOM: u32 = 0x8000_0BAD;
const BYTE_ORDER: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
pub(crate) const OPT_COMMENT: u16 = 1;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Appends one option (code, length, value padded to 32 bits).
pub(crate) fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(&value[..usize::from(len)]);
    body.resize(body.len() + pad4(usize::from(len)), 0);
}

pub(crate) fn end_options(body: &mut Vec<u8>) {
    body.extend_from_slice(&OPT_END.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
}

/// Appends a whole block: type, total length, body (padded), total length.
pub(crate) fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let total = (12 + body.len() + pad4(body.len())) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + pad4(body.len()), 0);
    out.extend_from_slice(&total.to_le_bytes());
}

/// The section header: pcap-ng 1.0, unknown section length, the writing
/// application, the OS and a comment.
pub(crate) fn section_header(out: &mut Vec<u8>, app: &str, os: &str, comment: &str) {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut body, OPT_COMMENT, comment.as_bytes());
    option(&mut body, 3, os.as_bytes());
    option(&mut body, 4, app.as_bytes());
    end_options(&mut body);
    block(out, SHB, &body);
}

/// An interface: link type, snaplen, name, description, nanosecond times.
pub(crate) fn interface(out: &mut Vec<u8>, linktype: u16, snaplen: u32, name: &str, descr: &str) {
    let mut body = Vec::new();
    body.extend_from_slice(&linktype.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&snaplen.to_le_bytes());
    option(&mut body, 2, name.as_bytes());
    option(&mut body, 3, descr.as_bytes());
    option(&mut body, 9, &[9]);
    end_options(&mut body);
    block(out, IDB, &body);
}

/// A packet with its comment; `ts_ns` is nanoseconds since the epoch.
pub(crate) fn packet(
    out: &mut Vec<u8>,
    iface: u32,
    ts_ns: u64,
    data: &[u8],
    wire_len: u32,
    comment: &str,
) {
    let mut body = Vec::with_capacity(28 + data.len() + comment.len() + 12);
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts_ns as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&wire_len.max(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    body.resize(body.len() + pad4(data.len()), 0);
    option(&mut body, OPT_COMMENT, comment.as_bytes());
    end_options(&mut body);
    block(out, EPB, &body);
}

/// A ferret record: enterprise number, record kind, payload length, payload.
pub(crate) fn custom(out: &mut Vec<u8>, kind: u32, payload: &[u8]) {
    let total = 12 + 12 + payload.len() + pad4(payload.len());
    out.reserve(total);
    let total = total as u32;
    out.extend_from_slice(&CUSTOM.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&super::PEN.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + pad4(payload.len()), 0);
    out.extend_from_slice(&total.to_le_bytes());
}

/// Blocks longer than this are damage, not data: ferret's largest record
/// (the context) is tens of kilobytes, a packet at most a snaplen.
const MAX_BLOCK: usize = 64 << 20;

/// One block as found in the file: where it starts, its type, its body.
#[derive(Debug, Clone)]
pub(crate) struct RawBlock {
    pub offset: usize,
    pub kind: u32,
    pub body: Vec<u8>,
}

/// Reads a file block by block; the first error ends the walk.
pub(crate) struct BlockReader<R> {
    src: R,
    offset: usize,
    failed: bool,
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads until `buf` is full or the input ends; how many bytes came.
fn fill(src: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> BlockReader<R> {
    pub fn new(src: R) -> BlockReader<R> {
        BlockReader {
            src,
            offset: 0,
            failed: false,
        }
    }

    /// The next block; `None` at the end of the input (or after an error).
    pub fn next_block(&mut self) -> Option<Result<RawBlock, ReadError>> {
        if self.failed {
            return None;
        }
        let result = self.read_block().transpose()?;
        self.failed = result.is_err();
        Some(result)
    }

    fn read_block(&mut self) -> Result<Option<RawBlock>, ReadError> {
        let offset = self.offset;
        let io = |source| ReadError::Read { offset, source };
        let mut head = [0u8; 12];
        let got = fill(&mut self.src, &mut head).map_err(io)?;
        if got == 0 {
            return Ok(None);
        }
        let truncated = |need: usize, have: usize| ReadError::Truncated { offset, need, have };
        if got < 12 {
            return Err(truncated(12, got));
        }
        let (kind, total) = (u32_at(&head, 0).unwrap_or(0), u32_at(&head, 4).unwrap_or(0));
        if kind == SHB && u32_at(&head, 8) == Some(BYTE_ORDER.swap_bytes()) {
            return Err(ReadError::BigEndian { offset });
        }
        let total = total as usize;
        if !(12..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
            let what = format!("a block length of {total} bytes");
            return Err(ReadError::Corrupt { offset, what });
        }
        let mut body = vec![0u8; total - 8];
        body[..4].copy_from_slice(&head[8..]);
        let got = fill(&mut self.src, &mut body[4..]).map_err(io)?;
        if got < total - 12 {
            return Err(truncated(total, 12 + got));
        }
        if u32_at(&body, total - 12) != Some(total as u32) {
            return Err(ReadError::Corrupt {
                offset,
                what: "a block whose trailing length differs from its leading one".into(),
            });
        }
        body.truncate(total - 12);
        self.offset += total;
        Ok(Some(RawBlock { offset, kind, body }))
    }
}
