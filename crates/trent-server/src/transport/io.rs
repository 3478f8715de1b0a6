//! The socket as the connection's task sees it: reads that notice the first
//! byte of a request after an idle spell, and the guard that marks a
//! request in progress until its response body is done.

use super::registry::{ConnState, Phase, now_ms};
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream whose reads move an idle connection to [`Phase::Head`]:
/// the header-read timeout counts from the first byte of a request head,
/// not from when the connection began to wait for one.
///
/// Under TLS it wraps the TCP stream, so TLS records count as bytes too.
pub(crate) struct TrackedIo {
    inner: TcpStream,
    state: Arc<ConnState>,
    header_read_ms: u64,
}

impl TrackedIo {
    pub(crate) fn new(inner: TcpStream, state: Arc<ConnState>, header_read_ms: u64) -> TrackedIo {
        TrackedIo {
            inner,
            state,
            header_read_ms,
        }
    }

    fn bytes_arrived(&self) {
        // The hot path: one atomic load while a request is in progress.
        if self.state.load().0 != Phase::Idle {
            return;
        }
        let now = now_ms();
        if self.state.transition(&[Phase::Idle], Phase::Head, now) {
            self.state.wake_for(now + self.header_read_ms);
        }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && buf.filled().len() > before
        {
            this.bytes_arrived();
        }
        poll
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request in progress: made when hyper hands over a complete head,
/// dropped with the response body (written, or abandoned). Its drop makes
/// the connection idle again.
pub(crate) struct ActiveGuard {
    state: Arc<ConnState>,
    idle_ms: u64,
}

impl ActiveGuard {
    /// `None` when the connection was evicted before its request began:
    /// the request must not run.
    pub(crate) fn begin(state: &Arc<ConnState>, idle_ms: u64) -> Option<ActiveGuard> {
        // `Idle` too: a pipelined request may come whole from hyper's
        // buffer, with no read in between.
        state
            .transition(&[Phase::Idle, Phase::Head], Phase::Active, now_ms())
            .then(|| ActiveGuard {
                state: state.clone(),
                idle_ms,
            })
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let now = now_ms();
        if self.state.transition(&[Phase::Active], Phase::Idle, now) {
            self.state.wake_for(now + self.idle_ms);
        }
    }
}

/// A response body that keeps its request's [`ActiveGuard`] until hyper is
/// done with it.
pub(crate) struct TrackedBody {
    inner: Body,
    _guard: Option<ActiveGuard>,
}

impl TrackedBody {
    pub(crate) fn new(inner: Body, guard: Option<ActiveGuard>) -> TrackedBody {
        TrackedBody {
            inner,
            _guard: guard,
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
