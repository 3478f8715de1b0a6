//! The load generator's client side: one keep-alive HTTP/1.1 connection per
//! simulated client, every request SigV4-signed when it is sent.
//!
//! Two interchangeable connection types:
//!
//! * [`ClientKind::Raw`] (the default): a minimal HTTP/1.1 writer and
//!   reader over a `TcpStream`. The request head and body go out in one
//!   `write`, the response head is parsed with `httparse` (the parser hyper
//!   itself uses) and the body is read by `Content-Length`. No per-request
//!   task, channel or header-map clone.
//! * [`ClientKind::Hyper`]: `hyper::client::conn::http1` over
//!   `hyper_util::rt::TokioIo`, a connection task plus a `SendRequest`
//!   handle, as hyper's docs show.
//!
//! Why the raw one is the default: on a small machine the load generator
//! shares the CPUs with the server it measures, so every microsecond it
//! spends is taken from the server. Measured on this project's 2-core
//! machine (`trent bench --no-baseline --ops encrypt,decrypt
//! --connections 16,64 --client raw|hyper`, alternated twice, 3 repeats
//! each): the raw client spent 8.1-9.0 µs of CPU per request, hyper's
//! 10.6-12.3 µs (about 1.35x), and the server's throughput was lower with
//! hyper's client in every pairing. A profile (`perf record`) of the raw
//! client shows it dominated by the kernel's loopback TCP path (one `sendto`
//! and one `recvfrom` per request); signing is about 15% of it, which is why
//! requests are signed live rather than pre-signed. Both clients send the
//! same signed headers and body.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trent_sigv4::{RequestParts, SigningKey, X_AMZ_DATE, format_amz_date, sign_into};
use zeroize::Zeroizing;

/// The AWS JSON 1.1 content type KMS speaks.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Which HTTP/1.1 client implementation drives the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Hand-written HTTP/1.1 writer/reader (cheapest).
    #[default]
    Raw,
    /// hyper's client connection API.
    Hyper,
}

/// Credentials and region to sign with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Per-connection signing state: the signing key of the current day
/// (derived once a day, as SDKs do) and the current `x-amz-date`.
struct Signer {
    creds: Arc<Credentials>,
    key: Option<(String, SigningKey)>,
    second: i64,
    amz_date: String,
    authorization: String,
}

impl Signer {
    fn new(creds: Arc<Credentials>) -> Self {
        Self {
            creds,
            key: None,
            second: i64::MIN,
            amz_date: String::new(),
            authorization: String::new(),
        }
    }

    /// Puts the current time in `headers`' `x-amz-date` and signs `headers`
    /// and `body`; the `Authorization` value is left in `self.authorization`.
    fn sign(&mut self, headers: &mut HeaderMap, body: &[u8]) {
        let now = unix_now();
        if now != self.second {
            self.second = now;
            self.amz_date = format_amz_date(now);
            headers.insert(
                X_AMZ_DATE,
                HeaderValue::from_str(&self.amz_date).expect("an amz date is a header value"),
            );
        }
        let day = &self.amz_date[..8];
        if self.key.as_ref().is_none_or(|(d, _)| d != day) {
            let key = SigningKey::derive(
                self.creds.secret_access_key.as_bytes(),
                day,
                &self.creds.region,
                "kms",
            );
            self.key = Some((day.to_owned(), key));
        }
        let (_, key) = self.key.as_ref().expect("derived above");
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body,
        };
        self.authorization.clear();
        sign_into(
            &mut self.authorization,
            &parts,
            &self.creds.access_key_id,
            key,
            &self.creds.region,
            "kms",
            &self.amz_date,
        );
    }
}

/// A minimal HTTP/1.1 keep-alive client connection. Responses must carry
/// `Content-Length` (Trent and the baseline always do); anything else is an
/// error, never a silent misread.
struct RawConn {
    stream: TcpStream,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
}

impl RawConn {
    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            wbuf: Vec::with_capacity(2048),
            rbuf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its response; returns the status and
    /// where the body lies in `self.rbuf`.
    async fn roundtrip(
        &mut self,
        headers: &HeaderMap,
        authorization: &str,
        body: &[u8],
    ) -> io::Result<(u16, Range<usize>)> {
        self.wbuf.clear();
        self.wbuf.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (name, value) in headers {
            self.wbuf.extend_from_slice(name.as_str().as_bytes());
            self.wbuf.extend_from_slice(b": ");
            self.wbuf.extend_from_slice(value.as_bytes());
            self.wbuf.extend_from_slice(b"\r\n");
        }
        self.wbuf.extend_from_slice(b"authorization: ");
        self.wbuf.extend_from_slice(authorization.as_bytes());
        self.wbuf.extend_from_slice(b"\r\ncontent-length: ");
        self.wbuf
            .extend_from_slice(body.len().to_string().as_bytes());
        self.wbuf.extend_from_slice(b"\r\n\r\n");
        self.wbuf.extend_from_slice(body);
        self.stream.write_all(&self.wbuf).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> io::Result<(u16, Range<usize>)> {
        self.rbuf.clear();
        loop {
            if !self.rbuf.is_empty()
                && let Some((status, head_len, body_len)) = parse_response_head(&self.rbuf)?
            {
                let total = head_len + body_len;
                while self.rbuf.len() < total {
                    self.read_more().await?;
                }
                if self.rbuf.len() > total {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bytes after the response (the server answered twice?)",
                    ));
                }
                return Ok((status, head_len..total));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> io::Result<()> {
        if self.rbuf.len() > 1024 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response larger than 1 MiB",
            ));
        }
        self.rbuf.reserve(4096);
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        Ok(())
    }
}

/// Parses a response head: `Some((status, head length, body length))`
/// once the head is complete, `None` while it is partial.
pub(crate) fn parse_response_head(buf: &[u8]) -> io::Result<Option<(u16, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad HTTP response: {e}"),
            ));
        }
    };
    let status = response.code.unwrap_or(0);
    let mut content_length = None;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunked responses are not supported by the raw client",
            ));
        }
    }
    let body_len = content_length.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "response without Content-Length",
        )
    })?;
    Ok(Some((status, head_len, body_len)))
}

/// hyper's HTTP/1.1 client connection.
struct HyperConn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    last: Bytes,
}

impl HyperConn {
    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            last: Bytes::new(),
        })
    }

    async fn roundtrip(
        &mut self,
        headers: &HeaderMap,
        authorization: &str,
        body: &Bytes,
    ) -> io::Result<u16> {
        let mut request = http::Request::new(Full::new(body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = http::Uri::from_static("/");
        *request.headers_mut() = headers.clone();
        request.headers_mut().insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(authorization).map_err(io::Error::other)?,
        );
        request
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        self.sender.ready().await.map_err(io::Error::other)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        let status = response.status().as_u16();
        self.last = response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok(status)
    }
}

enum Conn {
    Raw(RawConn),
    Hyper(HyperConn),
}

/// One client connection with its signing state: [`Requester::call`] signs
/// and sends one KMS request and returns the status and body.
pub struct Requester {
    conn: Conn,
    headers: HeaderMap,
    signer: Signer,
    addr: SocketAddr,
    kind: ClientKind,
}

static X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");

impl Requester {
    pub async fn connect(
        addr: SocketAddr,
        creds: Arc<Credentials>,
        kind: ClientKind,
    ) -> io::Result<Self> {
        let conn = Self::open(addr, kind).await?;
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(&addr.to_string()).map_err(io::Error::other)?,
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        Ok(Self {
            conn,
            headers,
            signer: Signer::new(creds),
            addr,
            kind,
        })
    }

    async fn open(addr: SocketAddr, kind: ClientKind) -> io::Result<Conn> {
        Ok(match kind {
            ClientKind::Raw => Conn::Raw(RawConn::connect(addr).await?),
            ClientKind::Hyper => Conn::Hyper(HyperConn::connect(addr).await?),
        })
    }

    /// Replaces a broken connection by a new one (same signing state).
    pub async fn reconnect(&mut self) -> io::Result<()> {
        self.conn = Self::open(self.addr, self.kind).await?;
        Ok(())
    }

    /// Signs and sends `body` to operation `target` (e.g.
    /// `TrentService.Encrypt`); returns the HTTP status and response body.
    pub async fn call(&mut self, target: &HeaderValue, body: &Bytes) -> io::Result<(u16, &[u8])> {
        if self.headers.get(&X_AMZ_TARGET) != Some(target) {
            self.headers.insert(X_AMZ_TARGET.clone(), target.clone());
        }
        self.signer.sign(&mut self.headers, body);
        match &mut self.conn {
            Conn::Raw(raw) => {
                let (status, range) = raw
                    .roundtrip(&self.headers, &self.signer.authorization, body)
                    .await?;
                Ok((status, &raw.rbuf[range]))
            }
            Conn::Hyper(hyper) => {
                let status = hyper
                    .roundtrip(&self.headers, &self.signer.authorization, body)
                    .await?;
                Ok((status, &hyper.last[..]))
            }
        }
    }
}

/// `GET path` on a fresh connection: the status and body.
pub async fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some((status, head, length)) = parse_response_head(&buf)?
            && buf.len() >= head + length
        {
            return Ok((status, buf[head..head + length].to_vec()));
        }
        buf.reserve(4096);
        if stream.read_buf(&mut buf).await? == 0 || buf.len() > 1024 * 1024 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
        }
    }
}

/// `GET /health` on a fresh connection: true on 200.
pub async fn health(addr: SocketAddr) -> bool {
    matches!(get(addr, "/health").await, Ok((200, _)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_head_parsing() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-type: x\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(
            parse_response_head(full).unwrap(),
            Some((200, full.len() - 5, 5))
        );
        assert_eq!(
            parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap(),
            None
        );
        assert!(
            parse_response_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err()
        );
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_response_head(b"garbage\r\n\r\n").is_err());
    }
}
