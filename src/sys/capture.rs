//! Capturing the target port's packets on loopback: an `AF_PACKET`
//! datagram socket in the calling thread's network namespace, with the
//! kernel filter of [`crate::core::packets::bpf`] attached so that nothing
//! else is copied, read by a thread into a bounded buffer. Root only
//! (`CAP_NET_RAW`): without it, a typed reason a screen can show.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessageOwned, LinkAddr, MsgFlags, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use crate::core::packets::bpf::{self, PACKET_OUTGOING, SNAPLEN};
use crate::core::packets::{Captured, Packet, TailLog, Timestamp, parse};

/// How long the reader waits for a packet before it looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Packets read after the stop, at most, and for how long: the last
/// packets of a run may still be on their way through the loopback.
const DRAIN_LIMIT: usize = 100_000;
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// A batch is handed over when this full, or as soon as the socket is idle.
const BATCH: usize = 256;
/// The receive buffer asked for: a storm of 100k attempts/s is 200k
/// packets/s, and the handshake at its end must not be dropped.
const RECV_BUFFER: usize = 8 << 20;

/// Why there is no capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capturing packets needs root (CAP_NET_RAW, for an AF_PACKET socket)")]
    NeedsRoot,
    #[error("no loopback interface `lo` in this network namespace ({0})")]
    NoLoopback(Errno),
    #[error("cannot capture packets: {what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl CaptureError {
    /// A few words for a pane's packet strip.
    pub fn short(&self) -> &'static str {
        match self {
            CaptureError::NeedsRoot => "packet strip: needs root",
            CaptureError::NoLoopback(_) => "packet strip: no loopback interface",
            CaptureError::Io { .. } => "packet strip: capture failed",
        }
    }

    fn io(what: &'static str) -> impl FnOnce(io::Error) -> CaptureError {
        move |source| CaptureError::Io { what, source }
    }
}

/// Sizes of what a capture keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Packets waiting for [`Capture::take_new`]; the oldest go beyond it.
    pub fresh: usize,
    /// The last packets kept for a capture file (besides the handshake).
    pub tail: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fresh: 4096,
            tail: 200,
        }
    }
}

/// Counts of a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets of the port read.
    pub packets: u64,
    /// Read but not kept: not the port's TCP, or a second copy (what the
    /// kernel filter should have dropped).
    pub skipped: u64,
    /// Dropped from the waiting packets because nobody took them.
    pub overflowed: u64,
}

struct Shared {
    fresh: VecDeque<Packet>,
    fresh_cap: usize,
    tail: TailLog,
    stats: Stats,
}

/// What a finished capture leaves.
#[derive(Debug)]
pub struct Finished {
    pub tail: TailLog,
    pub stats: Stats,
    /// The read error that ended the capture early, if one did.
    pub error: Option<io::Error>,
}

/// A running capture; stopped by [`Capture::finish`] or when dropped.
pub struct Capture {
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    reader: Option<JoinHandle<Option<io::Error>>>,
}

impl Capture {
    /// Starts capturing TCP packets to or from `port` on `lo`.
    pub fn start(port: u16) -> Result<Capture, CaptureError> {
        Self::start_with(port, Limits::default())
    }

    pub fn start_with(port: u16, limits: Limits) -> Result<Capture, CaptureError> {
        let socket = open(port)?;
        let shared = Arc::new(Mutex::new(Shared {
            fresh: VecDeque::new(),
            fresh_cap: limits.fresh.max(1),
            tail: TailLog::new(limits.tail),
            stats: Stats::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = std::thread::Builder::new()
            .name("capture".into())
            .spawn({
                let (stop, shared) = (stop.clone(), shared.clone());
                move || read_loop(&socket, port, &stop, &shared)
            })
            .map_err(CaptureError::io("starting the reader thread"))?;
        Ok(Capture {
            stop,
            shared,
            reader: Some(reader),
        })
    }

    /// The packets read since the last call, oldest first.
    pub fn take_new(&self) -> Vec<Packet> {
        lock(&self.shared).fresh.drain(..).collect()
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared).stats
    }

    /// Stops the reader and hands over what the capture kept. The reader
    /// first reads what is still coming, until the socket is quiet for
    /// one wait (50 ms; at most 1 s).
    pub fn finish(mut self) -> Finished {
        let error = self.stop_reader();
        let mut shared = lock(&self.shared);
        Finished {
            tail: std::mem::replace(&mut shared.tail, TailLog::new(1)),
            stats: shared.stats,
            error,
        }
    }

    fn stop_reader(&mut self) -> Option<io::Error> {
        self.stop.store(true, Ordering::Relaxed);
        let reader = self.reader.take()?;
        match reader.join() {
            Ok(error) => error,
            Err(_) => Some(io::Error::other("the capture thread panicked")),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.stop_reader();
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The socket, filtered, with timestamps and a bounded wait.
fn open(port: u16) -> Result<Socket, CaptureError> {
    let ifindex = nix::net::if_::if_nametoindex("lo").map_err(CaptureError::NoLoopback)?;
    // The protocol goes in network byte order: all of them.
    let all = i32::from((libc::ETH_P_ALL as u16).to_be());
    let socket =
        Socket::new(Domain::PACKET, Type::DGRAM, Some(Protocol::from(all))).map_err(|e| match e
            .raw_os_error()
        {
            Some(libc::EPERM) | Some(libc::EACCES) => CaptureError::NeedsRoot,
            _ => CaptureError::io("an AF_PACKET socket")(e),
        })?;
    let program: Vec<SockFilter> = bpf::port_filter(port, ifindex)
        .into_iter()
        .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
        .collect();
    socket
        .attach_filter(&program)
        .map_err(CaptureError::io("attaching the port filter"))?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
        .map_err(|e| CaptureError::io("asking for timestamps")(e.into()))?;
    // Beyond the system's maximum needs CAP_NET_ADMIN; a smaller buffer
    // only risks drops in a storm.
    if setsockopt(&socket, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
        let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    }
    socket
        .set_read_timeout(Some(POLL))
        .map_err(CaptureError::io("setting the read timeout"))?;
    // Whatever arrived between socket() and the filter is unfiltered.
    let mut scratch = [0u8; 16];
    for _ in 0..DRAIN_LIMIT {
        if recv(&socket, &mut scratch, MsgFlags::MSG_DONTWAIT).is_err() {
            break;
        }
    }
    Ok(socket)
}

/// One datagram: its length on the wire, link facts, and kernel time.
struct Received {
    len: usize,
    outgoing: bool,
    time: Option<Timestamp>,
}

fn recv(socket: &Socket, buf: &mut [u8], flags: MsgFlags) -> nix::Result<Received> {
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<LinkAddr>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        flags | MsgFlags::MSG_TRUNC,
    )?;
    let outgoing = msg
        .address
        .is_some_and(|a| u32::from(a.pkttype()) == PACKET_OUTGOING);
    let time = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(ts) => Some(Timestamp {
            secs: ts.tv_sec(),
            nanos: u32::try_from(ts.tv_nsec()).unwrap_or(0),
        }),
        _ => None,
    });
    Ok(Received {
        len: msg.bytes,
        outgoing,
        time,
    })
}

/// Reads until stopped, then what is still queued, handing packets over in
/// batches. Returns the error that ended it early, if any.
fn read_loop(
    socket: &Socket,
    port: u16,
    stop: &AtomicBool,
    shared: &Mutex<Shared>,
) -> Option<io::Error> {
    let mut buf = [0u8; SNAPLEN as usize];
    let mut batch: Vec<(Captured, Option<Packet>)> = Vec::with_capacity(BATCH);
    // Once stopped: until the socket has been quiet for one wait, within
    // a bound of packets and time.
    let mut stopped_at: Option<(Instant, usize)> = None;
    loop {
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some((Instant::now(), 0));
        }
        // Wait only when nothing is pending: an idle socket flushes the batch.
        let waits = batch.is_empty();
        let flags = if waits {
            MsgFlags::empty()
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        match recv(socket, &mut buf, flags) {
            Ok(r) => {
                batch.push(take(&buf, &r, port));
                if batch.len() >= BATCH {
                    hand_over(shared, &mut batch);
                }
                if let Some((since, n)) = &mut stopped_at {
                    *n += 1;
                    if *n >= DRAIN_LIMIT || since.elapsed() >= DRAIN_TIME {
                        break;
                    }
                }
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {
                hand_over(shared, &mut batch);
                if waits && stopped_at.is_some() {
                    break;
                }
            }
            Err(e) => {
                hand_over(shared, &mut batch);
                return Some(e.into());
            }
        }
    }
    hand_over(shared, &mut batch);
    None
}

/// The captured bytes and, when they are the port's TCP (and not the
/// loopback's outgoing copy, which the filter drops already), the packet.
fn take(buf: &[u8], r: &Received, port: u16) -> (Captured, Option<Packet>) {
    let time = r.time.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            secs: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: now.subsec_nanos(),
        }
    });
    let data = buf[..r.len.min(buf.len())].to_vec();
    let packet = parse(&data, time)
        .ok()
        .filter(|p| !r.outgoing && (p.src.port() == port || p.dst.port() == port));
    let captured = Captured {
        time,
        data,
        orig_len: u32::try_from(r.len).unwrap_or(u32::MAX),
    };
    (captured, packet)
}

fn hand_over(shared: &Mutex<Shared>, batch: &mut Vec<(Captured, Option<Packet>)>) {
    if batch.is_empty() {
        return;
    }
    let mut s = lock(shared);
    for (captured, packet) in batch.drain(..) {
        let Some(packet) = packet else {
            s.stats.skipped += 1;
            continue;
        };
        s.stats.packets += 1;
        s.tail.push(captured, Some(&packet));
        if s.fresh.len() == s.fresh_cap {
            s.fresh.pop_front();
            s.stats.overflowed += 1;
        }
        s.fresh.push_back(packet);
    }
}

/// The local time's offset from UTC now, in seconds: what
/// [`crate::core::packets::Strip::lines`] takes to print local times, as
/// tcpdump does.
pub fn local_utc_offset() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
}
