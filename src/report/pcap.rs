//! A capture as a classic pcap file (microsecond timestamps, link type
//! `LINKTYPE_RAW`: each record starts at the IP header), which `tcpdump -r`
//! and Wireshark open.

use std::io::Write;

use crate::core::packets::Captured;
use crate::core::packets::bpf::SNAPLEN;

/// The classic magic number, written in the machine's order: a reader
/// tells the byte order from it.
const MAGIC: u32 = 0xa1b2_c3d4;
/// Raw IP: IPv4 or IPv6 told apart by the version nibble.
const LINKTYPE_RAW: u32 = 101;

/// The whole file's bytes.
pub fn encode<'a>(packets: impl IntoIterator<Item = &'a Captured>) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [
        MAGIC.to_ne_bytes().as_slice(),
        &2u16.to_ne_bytes(),
        &4u16.to_ne_bytes(),
    ] {
        out.extend_from_slice(field);
    }
    // Time zone offset and accuracy (both unused: 0), snapshot length, link type.
    for v in [0u32, 0, SNAPLEN, LINKTYPE_RAW] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    for p in packets {
        // The format counts whole seconds in 32 bits; clamp rather than wrap.
        let secs = u32::try_from(p.time.secs.max(0)).unwrap_or(u32::MAX);
        let data = &p.data[..p.data.len().min(SNAPLEN as usize)];
        let incl = data.len() as u32;
        for v in [secs, p.time.nanos / 1000, incl, p.orig_len.max(incl)] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

/// Writes the file to an open file (opened before the run, so that a bad
/// path is said before the run rather than after it).
pub fn write_to<'a>(
    file: &mut std::fs::File,
    packets: impl IntoIterator<Item = &'a Captured>,
) -> std::io::Result<()> {
    file.set_len(0)?;
    file.write_all(&encode(packets))?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::packets::Timestamp;

    #[test]
    fn header_and_records_are_laid_out_as_classic_pcap() {
        let p = Captured {
            time: Timestamp {
                secs: 1_700_000_000,
                nanos: 123_456_789,
            },
            data: vec![0x45; 40],
            orig_len: 52,
        };
        let b = encode([&p, &p]);
        assert_eq!(b.len(), 24 + 2 * (16 + 40));
        let word = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(word(0), 0xa1b2_c3d4);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 2);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), 4);
        assert_eq!((word(16), word(20)), (SNAPLEN, 101));
        assert_eq!(
            (word(24), word(28), word(32), word(36)),
            (1_700_000_000, 123_456, 40, 52)
        );
        assert_eq!(&b[40..80], &[0x45; 40]);
    }

    #[test]
    fn oversized_records_are_cut_to_the_snapshot_length() {
        let p = Captured {
            time: Timestamp::default(),
            data: vec![0; 500],
            orig_len: 10,
        };
        let b = encode([&p]);
        let word = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!((word(32), word(36)), (SNAPLEN, SNAPLEN));
        assert_eq!(b.len(), 24 + 16 + SNAPLEN as usize);
    }
}
