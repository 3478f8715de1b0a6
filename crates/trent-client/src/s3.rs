//! Messages streamed to and from S3 (or any S3-compatible endpoint) for
//! `trent s3 cp`. Encryption and decryption stay synchronous and
//! bounded ([`crate::message`]); these adapters connect them to the SDK's
//! asynchronous transfers through bounded channels:
//!
//! - [`PartWriter`] cuts a message into parts for [`upload`]: one
//!   `PutObject` when the message fits in one part, else a multipart upload,
//!   aborted on any failure so no partial object is left;
//! - [`ChannelReader`] reads an object's body as [`download`] receives it.

use std::io::{self, Read, Write};

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::refusal;
use crate::{Error, Result};

/// The size of every part but the last: 8 MiB, so a message of up to
/// 80 GB fits in S3's 10,000 parts.
pub const PART: usize = 8 << 20;
/// The encryption context pair naming the object a message was uploaded
/// to, checked on download: a message copied over another object is
/// refused there.
pub const LOCATION_KEY: &str = "trent:s3-object";

/// `s3://BUCKET/KEY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub key: String,
}

impl Location {
    pub fn parse(s: &str) -> Option<Location> {
        let (bucket, key) = s.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| Location {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An S3 client from `config`. With an endpoint of one's own (an
/// S3-compatible server), buckets are addressed in the path, which every
/// such server understands.
pub fn client(config: &SdkConfig) -> Client {
    let custom = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(custom || config.endpoint_url().is_some())
        .build();
    Client::from_conf(conf)
}

/// What a [`PartWriter`] hands the uploader.
pub enum Chunk {
    Part(Vec<u8>),
    /// The message is whole: complete the upload.
    End,
}

/// A message's bytes, cut into parts of [`PART`] bytes for [`upload`]. Drop
/// it without [`PartWriter::finish`] and the upload is abandoned. When the
/// uploader has stopped (S3 refused), writes fail with `BrokenPipe`: the
/// uploader's error is the one to report.
pub struct PartWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    sent: bool,
}

impl PartWriter {
    pub fn new(tx: mpsc::Sender<Chunk>) -> PartWriter {
        PartWriter {
            tx,
            buf: Vec::with_capacity(PART),
            sent: false,
        }
    }

    fn send(&mut self, chunk: Chunk) -> io::Result<()> {
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends what is left and tells the uploader the message is whole.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.buf.is_empty() || !self.sent {
            let last = std::mem::take(&mut self.buf);
            self.send(Chunk::Part(last))?;
        }
        self.send(Chunk::End)
    }
}

impl Write for PartWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(PART - self.buf.len());
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() == PART {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(PART));
            self.send(Chunk::Part(full))?;
            self.sent = true;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Uploads the parts `rx` receives to `to`. Returns the object's size.
/// If the sender goes away before [`Chunk::End`], or S3 refuses a part,
/// the multipart upload is aborted and nothing is stored. `created` is
/// told a multipart upload's id as soon as it exists (to [`abort`] it if
/// the process is interrupted).
pub async fn upload(
    client: &Client,
    to: &Location,
    mut rx: mpsc::Receiver<Chunk>,
    created: impl FnOnce(&str),
) -> Result<u64> {
    let abandoned = || {
        Error::Kms(format!(
            "{to}: the upload was abandoned (nothing was stored)"
        ))
    };
    let first = match rx.recv().await {
        Some(Chunk::Part(part)) => part,
        _ => return Err(abandoned()),
    };
    let second = match rx.recv().await {
        Some(Chunk::End) => {
            let size = first.len() as u64;
            client
                .put_object()
                .bucket(&to.bucket)
                .key(&to.key)
                .content_type("application/octet-stream")
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|e| refusal(format_args!("{to}: PutObject"), e))?;
            return Ok(size);
        }
        Some(Chunk::Part(part)) => part,
        None => return Err(abandoned()),
    };
    let answer = client
        .create_multipart_upload()
        .bucket(&to.bucket)
        .key(&to.key)
        .content_type("application/octet-stream")
        .send()
        .await
        .map_err(|e| refusal(format_args!("{to}: CreateMultipartUpload"), e))?;
    let upload_id = answer
        .upload_id
        .ok_or_else(|| Error::Kms(format!("{to}: CreateMultipartUpload answered no UploadId")))?;
    created(&upload_id);
    let result = upload_parts(client, to, &upload_id, [first, second], &mut rx).await;
    if result.is_err() {
        // Best effort: the error that stopped the upload is what matters.
        abort(client, to, &upload_id).await;
    }
    result
}

/// Aborts a multipart upload (its parts are deleted), best effort.
pub async fn abort(client: &Client, to: &Location, upload_id: &str) {
    let _ = client
        .abort_multipart_upload()
        .bucket(&to.bucket)
        .key(&to.key)
        .upload_id(upload_id)
        .send()
        .await;
}

async fn upload_parts(
    client: &Client,
    to: &Location,
    upload_id: &str,
    first: [Vec<u8>; 2],
    rx: &mut mpsc::Receiver<Chunk>,
) -> Result<u64> {
    let mut parts = Vec::new();
    let mut size = 0u64;
    let mut pending: Vec<Vec<u8>> = first.into();
    loop {
        for body in pending.drain(..) {
            let number = parts.len() as i32 + 1;
            if number > 10_000 {
                return Err(Error::Limit(format!(
                    "{to}: more than S3's 10,000 parts of {PART} bytes"
                )));
            }
            size += body.len() as u64;
            let out = client
                .upload_part()
                .bucket(&to.bucket)
                .key(&to.key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| refusal(format_args!("{to}: UploadPart"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag)
                    .build(),
            );
        }
        match rx.recv().await {
            Some(Chunk::Part(part)) => pending.push(part),
            Some(Chunk::End) => break,
            None => {
                return Err(Error::Kms(format!(
                    "{to}: the upload was abandoned (nothing was stored)"
                )));
            }
        }
    }
    client
        .complete_multipart_upload()
        .bucket(&to.bucket)
        .key(&to.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| refusal(format_args!("{to}: CompleteMultipartUpload"), e))?;
    Ok(size)
}

/// The object's body, once S3 answered GetObject.
pub async fn open(client: &Client, from: &Location) -> Result<ByteStream> {
    let out = client
        .get_object()
        .bucket(&from.bucket)
        .key(&from.key)
        .send()
        .await
        .map_err(|e| refusal(format_args!("{from}: GetObject"), e))?;
    Ok(out.body)
}

/// Forwards the body's chunks to a [`ChannelReader`]; a broken transfer
/// reaches it as an error.
pub async fn download(mut body: ByteStream, tx: mpsc::Sender<io::Result<Bytes>>) {
    loop {
        let chunk = match body.try_next().await {
            Ok(Some(chunk)) => Ok(chunk),
            Ok(None) => return,
            Err(e) => Err(io::Error::other(format!("the download broke: {e}"))),
        };
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

/// An object's body as `Read`, fed by [`download`].
pub struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_print() {
        let at = Location::parse("s3://bucket/dir/file.txt").unwrap();
        assert_eq!(
            (at.bucket.as_str(), at.key.as_str()),
            ("bucket", "dir/file.txt")
        );
        assert_eq!(at.to_string(), "s3://bucket/dir/file.txt");
        for bad in [
            "bucket/key",
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "/tmp/file",
        ] {
            assert!(Location::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_part_writer_cuts_whole_parts_and_ends_with_the_rest() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut writer = PartWriter::new(tx);
        let handle = std::thread::spawn(move || {
            writer.write_all(&vec![7u8; PART + 10]).unwrap();
            writer.finish().unwrap();
        });
        let mut sizes = Vec::new();
        let mut ended = false;
        while let Some(chunk) = rx.blocking_recv() {
            match chunk {
                Chunk::Part(p) => sizes.push(p.len()),
                Chunk::End => ended = true,
            }
        }
        handle.join().unwrap();
        assert_eq!(sizes, [PART, 10]);
        assert!(ended);
    }

    #[test]
    fn a_channel_reader_reads_across_chunks_and_passes_errors_on() {
        let (tx, rx) = mpsc::channel(4);
        tx.blocking_send(Ok(Bytes::from_static(b"hel"))).unwrap();
        tx.blocking_send(Ok(Bytes::from_static(b"lo"))).unwrap();
        tx.blocking_send(Err(io::Error::other("cut"))).unwrap();
        drop(tx);
        let mut reader = ChannelReader::new(rx);
        let mut out = [0u8; 5];
        reader.read_exact(&mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert!(reader.read(&mut out).is_err());
    }
}
