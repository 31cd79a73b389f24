//! The proof: a socket connected to itself reads back what it writes.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::Socket;

/// What the echo sends.
pub const ECHO_MESSAGE: &[u8] = b"selfconn-tui echo";

/// The result of the echo test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub sent: &'static [u8],
    /// The bytes read back (at most as many as were sent).
    pub received: Vec<u8>,
    /// `received == sent`.
    pub verified: bool,
    /// Why it was not verified (a write or read error, a timeout).
    pub error: Option<String>,
}

impl Echo {
    /// Writes [`ECHO_MESSAGE`] and reads the same number of bytes back,
    /// giving up after `timeout`.
    pub fn run(socket: &Socket, timeout: Duration) -> Echo {
        let mut echo = Echo {
            sent: ECHO_MESSAGE,
            received: Vec::with_capacity(ECHO_MESSAGE.len()),
            verified: false,
            error: None,
        };
        if let Err(e) = echo.exchange(socket, timeout) {
            echo.error = Some(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    format!("nothing came back within {} ms", timeout.as_millis())
                }
                _ => e.to_string(),
            });
        }
        echo.verified = echo.received == echo.sent;
        if !echo.verified && echo.error.is_none() {
            echo.error = Some(format!(
                "read back {:?} instead",
                String::from_utf8_lossy(&echo.received)
            ));
        }
        // Leave the socket as a caller expects a fresh one: blocking, no timeouts.
        let _ = socket.set_read_timeout(None);
        let _ = socket.set_write_timeout(None);
        echo
    }

    fn exchange(&mut self, socket: &Socket, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        socket.set_write_timeout(Some(timeout))?;
        (&*socket).write_all(self.sent)?;
        let mut buf = [0u8; 64];
        while self.received.len() < self.sent.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            socket.set_read_timeout(Some(left))?;
            let want = (self.sent.len() - self.received.len()).min(buf.len());
            match (&*socket).read(&mut buf[..want]) {
                Ok(0) => return Err(io::Error::other("the connection was closed")),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The message as text, for reports.
    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(self.sent).into_owned()
    }
}

/// The socket that connected to itself, kept open until its owner closes
/// or drops it (then its 4-tuple sits in `TIME_WAIT`).
#[derive(Debug)]
pub struct SelfConnection {
    socket: Socket,
    local: SocketAddr,
    peer: SocketAddr,
}

impl SelfConnection {
    pub(crate) fn new(socket: Socket, local: SocketAddr, peer: SocketAddr) -> SelfConnection {
        SelfConnection {
            socket,
            local,
            peer,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    pub fn into_socket(self) -> Socket {
        self.socket
    }

    /// Closes the socket (dropping it does the same).
    pub fn close(self) {
        drop(self.socket);
    }
}
