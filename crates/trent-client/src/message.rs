//! Whole messages, streamed: the header, the frames (in parallel batches,
//! see [`crate::pipeline`]) and, for the signed suite, the footer's ECDSA
//! P-384 signature over everything before it.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};

use aws_lc_rs::digest::{self, SHA384};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::context::{self, EncryptionContext, PUBLIC_KEY};
use crate::frame::{self, FINAL_MARKER, FINAL_OVERHEAD, REGULAR_OVERHEAD};
use crate::header::{EncryptedDataKey, Header, Limits, truncated};
use crate::suite::{self, DATA_KEY_LEN, IV_LEN, MESSAGE_ID_LEN, Suite, TAG_LEN};
use crate::{Error, Result, pipeline};

/// The SDK's default frame length.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;
/// The longest frame written or read: a frame is held in memory whole.
pub const MAX_FRAME_LENGTH: u32 = 16 << 20;
/// Plaintext per batch handed to a worker.
const BATCH: usize = 256 << 10;

/// How messages are written and read.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub frame_length: u32,
    /// Workers sealing or opening frames.
    pub threads: usize,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frame_length: DEFAULT_FRAME_LENGTH,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits {
                max_data_keys: 10,
                max_frame_length: MAX_FRAME_LENGTH,
            },
        }
    }
}

/// What a new message needs: the suite, the encryption context (with the
/// signed suite's public key added), the data key and its wrapped copies.
pub struct EncryptionMaterials {
    suite: Suite,
    context: EncryptionContext,
    data_key: Option<Zeroizing<[u8; DATA_KEY_LEN]>>,
    data_keys: Vec<EncryptedDataKey>,
    signing_key: Option<EcdsaKeyPair>,
}

impl EncryptionMaterials {
    /// For the signed suite, a new P-384 key pair, its public key (base64 of
    /// the compressed point) added to the context under
    /// `aws-crypto-public-key`.
    pub fn new(suite: Suite, mut context: EncryptionContext) -> Result<Self> {
        context::check_caller_context(&context)?;
        let signing_key = if suite.signed() {
            let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING)
                .map_err(|_| Error::Kms("ECDSA P-384 key generation failed".into()))?;
            let point: EcPublicKeyCompressedBin = pair
                .public_key()
                .as_be_bytes()
                .map_err(|_| Error::Kms("ECDSA public key encoding failed".into()))?;
            context.insert(PUBLIC_KEY.to_owned(), B64.encode(point.as_ref()));
            Some(pair)
        } else {
            None
        };
        Ok(EncryptionMaterials {
            suite,
            context,
            data_key: None,
            data_keys: Vec::new(),
            signing_key,
        })
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The context KMS binds each wrapped data key to.
    pub fn context(&self) -> &EncryptionContext {
        &self.context
    }

    pub fn data_key(&self) -> Option<&[u8; DATA_KEY_LEN]> {
        self.data_key.as_deref()
    }

    /// The first wrapping key's answer: the data key and its wrapped copy.
    pub fn set_data_key(&mut self, key: Zeroizing<[u8; DATA_KEY_LEN]>, wrapped: EncryptedDataKey) {
        self.data_key = Some(key);
        self.data_keys.push(wrapped);
    }

    /// Another wrapping key's copy of the same data key.
    pub fn add_wrapped(&mut self, wrapped: EncryptedDataKey) {
        self.data_keys.push(wrapped);
    }
}

/// Writes `input` as one message to `output`. `progress` is told the
/// plaintext bytes done so far. Returns the message's length. The same
/// materials may encrypt several messages (a data key cache): each message
/// has its own message id, so its own derived key.
pub fn encrypt(
    materials: &EncryptionMaterials,
    options: &Options,
    input: impl Read + Send,
    output: &mut impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64> {
    let frame_length = options.frame_length;
    if frame_length == 0 || frame_length > MAX_FRAME_LENGTH {
        return Err(Error::Limit(format!(
            "the frame length must be 1 to {MAX_FRAME_LENGTH} bytes, not {frame_length}"
        )));
    }
    let max = options.limits.max_data_keys;
    if materials.data_keys.len() > usize::from(max) {
        return Err(Error::Limit(format!(
            "{} encrypted data keys, more than the limit of {max} (--max-encrypted-data-keys)",
            materials.data_keys.len()
        )));
    }
    let data_key = materials
        .data_key
        .as_ref()
        .ok_or_else(|| Error::Kms("no data key was generated".into()))?;
    let mut message_id = [0u8; MESSAGE_ID_LEN];
    aws_lc_rs::rand::fill(&mut message_id).map_err(|_| Error::Kms("no randomness".into()))?;
    let derived = suite::derive(materials.suite, &data_key[..], &message_id)?;
    let header = Header {
        suite: materials.suite,
        message_id,
        context: materials.context.clone(),
        data_keys: materials.data_keys.clone(),
        frame_length,
        commitment: derived.commitment,
    };
    let body = header.body_bytes()?;
    let tag = frame::header_tag(&derived.key, &body)?;
    let hash = materials
        .signing_key
        .as_ref()
        .map(|_| BackgroundHash::start());
    let mut written = 0u64;
    let mut emit = |bytes: Vec<u8>| -> Result<()> {
        output.write_all(&bytes)?;
        written += bytes.len() as u64;
        if let Some(hash) = &hash {
            hash.feed(Arc::new(bytes));
        }
        Ok(())
    };
    emit(body)?;
    emit(tag.to_vec())?;

    let frame = frame_length as usize;
    let batch = (BATCH / frame).max(1) * frame;
    let mut plain_done = 0u64;
    let mut reader = PlaintextBatches {
        input,
        batch,
        frame,
        pending: None,
        sequence: 1,
        done: false,
    };
    pipeline::run(
        options.threads,
        || reader.next(),
        |job: SealJob| {
            let mut out = Vec::with_capacity(job.plaintext.len() + job.frames() * FINAL_OVERHEAD);
            let chunks = job.frame_lengths();
            let last_index = chunks.len() - 1;
            let mut at = 0;
            for (i, (sequence, len)) in (job.first_sequence..).zip(chunks).enumerate() {
                let last = job.last && i == last_index;
                frame::seal(
                    &derived.key,
                    &message_id,
                    sequence,
                    last,
                    &job.plaintext[at..at + len],
                    &mut out,
                )?;
                at += len;
            }
            Ok((out, job.plaintext.len()))
        },
        |(sealed, plain_len)| {
            emit(sealed)?;
            plain_done += plain_len as u64;
            progress(plain_done);
            Ok(())
        },
    )?;
    if let (Some(pair), Some(hash)) = (&materials.signing_key, hash) {
        let signature = pair
            .sign_digest(&hash.finish()?)
            .map_err(|_| Error::Kms("ECDSA signing failed".into()))?;
        let signature = signature.as_ref();
        output.write_all(&(signature.len() as u16).to_be_bytes())?;
        output.write_all(signature)?;
        written += 2 + signature.len() as u64;
    }
    output.flush()?;
    Ok(written)
}

struct SealJob {
    first_sequence: u32,
    plaintext: Vec<u8>,
    frame: usize,
    /// The input's end: the job's last frame is the final frame.
    last: bool,
}

impl SealJob {
    /// The frames' plaintext lengths. The last batch ends with a final
    /// frame holding what is left after its whole frames, which is nothing
    /// when the input is a whole number of frames: the specification
    /// prefers a full final frame there, but the Python SDK (and so
    /// `aws-encryption-cli`) refuses a final frame as long as the frame
    /// length, and an empty one is valid everywhere.
    fn frame_lengths(&self) -> Vec<usize> {
        let len = self.plaintext.len();
        let mut lengths = vec![self.frame; len / self.frame];
        if self.last || !len.is_multiple_of(self.frame) {
            lengths.push(len % self.frame);
        }
        lengths
    }

    fn frames(&self) -> usize {
        self.plaintext.len() / self.frame + 1
    }
}

/// Reads the input in batches of whole frames, one batch ahead, so that
/// the batch that ends the input is known to be last.
struct PlaintextBatches<R> {
    input: R,
    batch: usize,
    frame: usize,
    pending: Option<Vec<u8>>,
    sequence: u32,
    done: bool,
}

impl<R: Read> PlaintextBatches<R> {
    fn read_batch(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(self.batch);
        (&mut self.input)
            .take(self.batch as u64)
            .read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn next(&mut self) -> Result<Option<SealJob>> {
        if self.done {
            return Ok(None);
        }
        let current = match self.pending.take() {
            Some(pending) => pending,
            None => self.read_batch()?,
        };
        let next = if current.len() == self.batch {
            self.read_batch()?
        } else {
            Vec::new()
        };
        let last = next.is_empty();
        if last {
            self.done = true;
        } else {
            self.pending = Some(next);
        }
        let job = SealJob {
            first_sequence: self.sequence,
            plaintext: current,
            frame: self.frame,
            last,
        };
        let frames = u32::try_from(job.frame_lengths().len()).unwrap_or(u32::MAX);
        self.sequence = self
            .sequence
            .checked_add(frames)
            .filter(|&s| s < FINAL_MARKER || last)
            .ok_or_else(|| {
                Error::Limit("more than 2^32 - 1 frames: use a larger --frame-length".into())
            })?;
        Ok(Some(job))
    }
}

/// A message whose header was read and not yet authenticated: the data
/// key comes next (from its encrypted data keys).
pub struct Incoming {
    pub header: Header,
    body: Vec<u8>,
    tag: [u8; TAG_LEN],
}

/// Reads a message's header from `input`, which is then positioned at the
/// body.
pub fn read_header(input: &mut impl Read, limits: &Limits) -> Result<Incoming> {
    let (header, body, tag) = Header::read(input, limits)?;
    match (
        header.suite.signed(),
        header.context.contains_key(PUBLIC_KEY),
    ) {
        (true, false) => {
            return Err(Error::Malformed(format!(
                "a signed message without its public key ({PUBLIC_KEY}) in the encryption context"
            )));
        }
        (false, true) => {
            return Err(Error::Malformed(format!(
                "an unsigned message with a public key ({PUBLIC_KEY}) in the encryption context"
            )));
        }
        _ => {}
    }
    Ok(Incoming { header, body, tag })
}

/// Decrypts the body of `message` with its data key to `output`: the key
/// commitment and the header's tag are checked before any frame is read,
/// each frame's tag before its plaintext is written, the signature (signed
/// suite) before the final frame's plaintext is written, and nothing may
/// follow the message. Returns the plaintext's length.
pub fn decrypt(
    message: Incoming,
    data_key: &[u8],
    options: &Options,
    input: impl Read + Send,
    output: &mut impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64> {
    let Incoming { header, body, tag } = message;
    let derived = suite::derive(header.suite, data_key, &header.message_id)?;
    aws_lc_rs::constant_time::verify_slices_are_equal(&derived.commitment, &header.commitment)
        .map_err(|_| Error::Authentication("the key commitment does not match the data key"))?;
    frame::verify_header(&derived.key, &body, &tag)?;
    let verifier = match header.context.get(PUBLIC_KEY) {
        Some(encoded) if header.suite.signed() => Some(
            B64.decode(encoded)
                .map_err(|_| Error::Malformed(format!("{PUBLIC_KEY} is not base64")))?,
        ),
        _ => None,
    };
    let hash = verifier.as_ref().map(|_| {
        let hash = BackgroundHash::start();
        hash.feed(Arc::new(body));
        hash.feed(Arc::new(tag.to_vec()));
        hash
    });
    if header.frame_length == 0 {
        return decrypt_single(
            &derived.key,
            &header.message_id,
            options.limits.max_frame_length,
            input,
            hash.map(|hash| (hash, verifier.unwrap_or_default())),
            output,
            progress,
        );
    }
    let frame = header.frame_length as usize;
    let mut frames = FrameBatches {
        input,
        frame,
        want: BATCH.max(frame + FINAL_OVERHEAD),
        carry: Vec::new(),
        sequence: 1,
        done: false,
        hash,
    };
    let message_id = header.message_id;
    let mut written = 0u64;
    pipeline::run(
        options.threads,
        || frames.next(),
        |job: OpenJob| {
            let mut plaintext = Vec::with_capacity(job.raw.len());
            for span in &job.spans {
                let at = |start: usize, len: usize| &job.raw[start..start + len];
                let iv: [u8; IV_LEN] = at(span.iv_at, IV_LEN).try_into().expect("IV_LEN bytes");
                let start = plaintext.len();
                plaintext.resize(start + span.len, 0);
                frame::open(
                    &derived.key,
                    &message_id,
                    span.sequence,
                    span.last,
                    iv,
                    at(span.content_at, span.len),
                    at(span.content_at + span.len, TAG_LEN),
                    &mut plaintext[start..],
                )?;
            }
            Ok((plaintext, job.signature))
        },
        |(plaintext, signature)| {
            // The signed suite's last batch waits for the whole message's
            // hash, and is written only if the signature verifies.
            if let (Some((hash, signature)), Some(public_key)) = (signature, &verifier) {
                verify_signature(public_key, hash, &signature)?;
            }
            output.write_all(&plaintext)?;
            written += plaintext.len() as u64;
            progress(written);
            Ok(())
        },
    )?;
    output.flush()?;
    Ok(written)
}

/// A non-framed body (`message-body.md`, "Non-Framed Data"): one block,
/// held in memory whole (at most `max_len` bytes, the frame length limit),
/// opened, its signature checked (`signed`: the hash fed the header and
/// the public key), nothing after it, and only then written.
fn decrypt_single(
    key: &aws_lc_rs::aead::LessSafeKey,
    message_id: &[u8; crate::suite::MESSAGE_ID_LEN],
    max_len: u32,
    mut input: impl Read,
    signed: Option<(BackgroundHash, Vec<u8>)>,
    output: &mut impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64> {
    const HEAD: usize = IV_LEN + 8;
    let mut raw = vec![0; HEAD];
    input.read_exact(&mut raw).map_err(truncated)?;
    let len = u64::from_be_bytes(raw[IV_LEN..].try_into().expect("8 bytes"));
    if len > u64::from(max_len) {
        return Err(Error::Limit(format!(
            "the message is not framed and its content is {len} bytes; Trent holds such a \
             message in memory whole and reads at most {max_len} bytes of it"
        )));
    }
    let len = len as usize;
    raw.resize(HEAD + len + TAG_LEN, 0);
    input.read_exact(&mut raw[HEAD..]).map_err(truncated)?;
    let iv: [u8; IV_LEN] = raw[..IV_LEN].try_into().expect("IV_LEN bytes");
    let mut plaintext = Zeroizing::new(vec![0; len]);
    frame::open_single(
        key,
        message_id,
        iv,
        &raw[HEAD..HEAD + len],
        &raw[HEAD + len..],
        &mut plaintext,
    )?;
    let (hash, public_key) = match signed {
        Some((hash, public_key)) => {
            hash.feed(Arc::new(raw));
            (Some(hash), Some(public_key))
        }
        None => (None, None),
    };
    let signature = footer(&mut input, hash, Vec::new())?;
    if let (Some((hash, signature)), Some(public_key)) = (signature, public_key) {
        verify_signature(&public_key, hash, &signature)?;
    }
    output.write_all(&plaintext)?;
    output.flush()?;
    progress(len as u64);
    Ok(len as u64)
}

fn verify_signature(public_key: &[u8], hash: BackgroundHash, signature: &[u8]) -> Result<()> {
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, public_key)
        .verify_digest(&hash.finish()?, signature)
        .map_err(|_| Error::Authentication("the signature does not verify"))
}

/// The signed suite's SHA-384 over the whole message, on a thread of its
/// own fed the message's buffers in order: hashing is the slowest step of
/// a signed message, and this way it overlaps reading, the frames' AES-GCM
/// and writing.
struct BackgroundHash {
    tx: SyncSender<Arc<Vec<u8>>>,
    thread: std::thread::JoinHandle<digest::Digest>,
}

impl BackgroundHash {
    fn start() -> BackgroundHash {
        let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(4);
        let thread = std::thread::spawn(move || {
            let mut hash = digest::Context::new(&SHA384);
            for bytes in rx {
                hash.update(&bytes);
            }
            hash.finish()
        });
        BackgroundHash { tx, thread }
    }

    fn feed(&self, bytes: Arc<Vec<u8>>) {
        // The thread only ends once the sender is dropped, in `finish`.
        let _ = self.tx.send(bytes);
    }

    fn finish(self) -> Result<digest::Digest> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| Error::Kms("the message's hash failed".into()))
    }
}

struct Span {
    sequence: u32,
    last: bool,
    iv_at: usize,
    content_at: usize,
    len: usize,
}

struct OpenJob {
    /// The batch's frames as read, shared with the hashing thread.
    raw: Arc<Vec<u8>>,
    spans: Vec<Span>,
    /// The last batch of a signed message: the hash (fed every byte before
    /// the footer) and the footer's signature.
    signature: Option<(BackgroundHash, Vec<u8>)>,
}

/// Reads the body in batches of whole frames, checks their sequence, feeds
/// the signature's hash, and after the final frame reads the footer and
/// checks that nothing follows.
struct FrameBatches<R> {
    input: R,
    frame: usize,
    want: usize,
    carry: Vec<u8>,
    sequence: u32,
    done: bool,
    hash: Option<BackgroundHash>,
}

impl<R: Read> FrameBatches<R> {
    fn next(&mut self) -> Result<Option<OpenJob>> {
        if self.done {
            return Ok(None);
        }
        let mut raw = std::mem::take(&mut self.carry);
        raw.reserve(self.want.saturating_sub(raw.len()));
        let missing = self.want.saturating_sub(raw.len()) as u64;
        (&mut self.input).take(missing).read_to_end(&mut raw)?;
        let mut spans = Vec::new();
        let mut at = 0;
        while let Some(span) = self.parse(&raw[at..], at)? {
            at = span.content_at + span.len + TAG_LEN;
            let last = span.last;
            spans.push(span);
            if last {
                self.done = true;
                break;
            }
        }
        if spans.is_empty() {
            return Err(Error::Malformed("the message is truncated".into()));
        }
        let rest = raw.split_off(at);
        let raw = Arc::new(raw);
        if let Some(hash) = &self.hash {
            hash.feed(Arc::clone(&raw));
        }
        let mut signature = None;
        if self.done {
            signature = footer(&mut self.input, self.hash.take(), rest)?;
        } else {
            self.carry = rest;
        }
        Ok(Some(OpenJob {
            raw,
            spans,
            signature,
        }))
    }

    /// The next frame in `bytes` (at offset `base` of the batch), or `None`
    /// if it is not all there.
    fn parse(&mut self, bytes: &[u8], base: usize) -> Result<Option<Span>> {
        let Some(first) = bytes.first_chunk::<4>() else {
            return Ok(None);
        };
        let (last, head, len) = if u32::from_be_bytes(*first) == FINAL_MARKER {
            let Some(head) = bytes.get(..4 + 4 + IV_LEN + 4) else {
                return Ok(None);
            };
            let len =
                u32::from_be_bytes(head[4 + 4 + IV_LEN..].try_into().expect("4 bytes")) as usize;
            if len > self.frame {
                return Err(Error::Malformed(format!(
                    "the final frame's content is {len} bytes, longer than the frame length {}",
                    self.frame
                )));
            }
            (true, &head[4..], len)
        } else {
            (false, bytes, self.frame)
        };
        let sequence = u32::from_be_bytes(head[..4].try_into().expect("4 bytes"));
        if sequence != self.sequence {
            return Err(Error::Malformed(format!(
                "frame {sequence} where frame {} was expected",
                self.sequence
            )));
        }
        let overhead = if last {
            FINAL_OVERHEAD
        } else {
            REGULAR_OVERHEAD
        };
        if bytes.len() < overhead + len {
            return Ok(None);
        }
        let iv_at = base + if last { 8 } else { 4 };
        let content_at = base + overhead - TAG_LEN;
        self.sequence = self.sequence.checked_add(1).unwrap_or(FINAL_MARKER);
        Ok(Some(Span {
            sequence,
            last,
            iv_at,
            content_at,
            len,
        }))
    }
}

/// After the body (`rest`: what was read past it): the signature (signed
/// suite: `hash` given), returned with the hash to check it against, then
/// the end of the input.
fn footer(
    input: &mut impl Read,
    hash: Option<BackgroundHash>,
    mut rest: Vec<u8>,
) -> Result<Option<(BackgroundHash, Vec<u8>)>> {
    let mut signature = None;
    if let Some(hash) = hash {
        if rest.len() < 2 {
            input.take(2 - rest.len() as u64).read_to_end(&mut rest)?;
        }
        let Some(len) = rest
            .first_chunk::<2>()
            .map(|l| usize::from(u16::from_be_bytes(*l)))
        else {
            return Err(Error::Malformed(
                "the message is truncated (no signature)".into(),
            ));
        };
        if rest.len() < 2 + len {
            let missing = (2 + len - rest.len()) as u64;
            input.take(missing).read_to_end(&mut rest)?;
        }
        let bytes = rest
            .get(2..2 + len)
            .ok_or_else(|| Error::Malformed("the message is truncated (in its signature)".into()))?
            .to_vec();
        rest.drain(..2 + len);
        signature = Some((hash, bytes));
    }
    let mut probe = [0u8; 1];
    let trailing = !rest.is_empty() || input.read(&mut probe).map_err(truncated)? != 0;
    if trailing {
        return Err(Error::Malformed(
            "bytes follow the end of the message".into(),
        ));
    }
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn materials(suite: Suite, key: u8) -> EncryptionMaterials {
        let context = context::parse_pairs(&["purpose=test"]).unwrap();
        let mut materials = EncryptionMaterials::new(suite, context).unwrap();
        let wrapped = EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info: b"arn:aws:kms:us-east-1:111122223333:key/k".to_vec(),
            ciphertext: vec![key; 8],
        };
        materials.set_data_key(Zeroizing::new([key; DATA_KEY_LEN]), wrapped);
        materials
    }

    fn options(frame_length: u32, threads: usize) -> Options {
        Options {
            frame_length,
            threads,
            ..Options::default()
        }
    }

    fn seal(suite: Suite, plaintext: &[u8], options: &Options) -> Vec<u8> {
        let mut out = Vec::new();
        let len = encrypt(&materials(suite, 1), options, plaintext, &mut out, &|_| {}).unwrap();
        assert_eq!(len, out.len() as u64);
        out
    }

    fn open(message: &[u8], key: u8, options: &Options) -> Result<Vec<u8>> {
        let mut input = message;
        let incoming = read_header(&mut input, &options.limits)?;
        let mut out = Vec::new();
        decrypt(
            incoming,
            &[key; DATA_KEY_LEN],
            options,
            input,
            &mut out,
            &|_| {},
        )?;
        Ok(out)
    }

    /// Decrypts with data key 1 (the header must read), and what was
    /// written, whatever the result.
    fn open_to(message: &[u8], options: &Options) -> (Result<u64>, Vec<u8>) {
        let mut input = message;
        let incoming = read_header(&mut input, &options.limits).unwrap();
        let mut out = Vec::new();
        let result = decrypt(
            incoming,
            &[1; DATA_KEY_LEN],
            options,
            input,
            &mut out,
            &|_| {},
        );
        (result, out)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn messages_of_every_shape_round_trip() {
        for suite in Suite::ALL {
            for (frame, threads) in [(4096, 2), (7, 3), (BATCH as u32 + 1, 1)] {
                let f = frame as usize;
                for len in [
                    0,
                    1,
                    f - 1,
                    f,
                    f + 1,
                    3 * f,
                    BATCH,
                    BATCH + 1,
                    2 * BATCH + 3 * f + 5,
                ] {
                    if len > 3 * BATCH {
                        continue;
                    }
                    let plaintext = pattern(len);
                    let options = options(frame, threads);
                    let message = seal(suite, &plaintext, &options);
                    assert_eq!(
                        open(&message, 1, &options).unwrap(),
                        plaintext,
                        "{suite:?} frame {frame} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_whole_number_of_frames_ends_with_an_empty_final_frame() {
        let options = options(16, 1);
        let message = seal(Suite::Committed, &pattern(32), &options);
        let header_len = message.len() - 2 * (16 + REGULAR_OVERHEAD) - FINAL_OVERHEAD;
        assert_eq!(&message[header_len..header_len + 4], &1u32.to_be_bytes());
        let last = header_len + 2 * (16 + REGULAR_OVERHEAD);
        assert_eq!(
            &message[last..last + 8],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3]
        );
        assert_eq!(&message[last + 20..last + 24], &[0, 0, 0, 0]);
    }

    #[test]
    fn any_changed_byte_fails_and_so_does_any_cut_or_addition() {
        for suite in Suite::ALL {
            let options = options(8, 2);
            let message = seal(suite, &pattern(20), &options);
            for at in 0..message.len() {
                let mut changed = message.clone();
                changed[at] ^= 0x01;
                assert!(
                    open(&changed, 1, &options).is_err(),
                    "{suite:?}: byte {at} changed"
                );
                assert!(
                    open(&message[..at], 1, &options).is_err(),
                    "{suite:?}: cut at {at}"
                );
            }
            let mut longer = message.clone();
            longer.push(0);
            let err = open(&longer, 1, &options).unwrap_err();
            assert!(err.to_string().contains("follow"), "{err}");
        }
    }

    #[test]
    fn another_data_key_fails_on_the_commitment() {
        let options = options(4096, 1);
        let message = seal(Suite::Committed, b"secret", &options);
        let err = open(&message, 2, &options).unwrap_err();
        assert!(
            matches!(err, Error::Authentication(m) if m.contains("commitment")),
            "{err}"
        );
    }

    #[test]
    fn nothing_is_released_before_the_signature_when_the_message_is_one_batch() {
        // The signature is checked before the final frame's batch is
        // handed on: a bad signature writes nothing.
        let options = options(4096, 2);
        let mut message = seal(Suite::CommittedSigned, &pattern(100), &options);
        let last = message.len() - 1;
        message[last] ^= 1;
        let (result, out) = open_to(&message, &options);
        let err = result.unwrap_err();
        assert!(
            matches!(err, Error::Authentication(m) if m.contains("signature")),
            "{err}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn limits_are_enforced_on_both_sides() {
        let mut materials = materials(Suite::Committed, 1);
        for _ in 0..10 {
            materials.add_wrapped(materials.data_keys[0].clone());
        }
        let err = encrypt(
            &materials,
            &options(4096, 1),
            &b""[..],
            &mut Vec::new(),
            &|_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("11 encrypted data keys"), "{err}");
        let err = encrypt(
            &materials_plain(),
            &options(0, 1),
            &b""[..],
            &mut Vec::new(),
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(err, Error::Limit(_)), "{err}");
        let mut strict = options(4096, 1);
        let message = seal(Suite::Committed, b"x", &strict);
        strict.limits.max_data_keys = 0;
        let err = open(&message, 1, &strict).unwrap_err();
        assert!(matches!(err, Error::Limit(_)), "{err}");
    }

    /// A non-framed message of `plaintext` (unsigned suite, data key 1),
    /// as the SDKs write one for frame length 0: the header of a framed
    /// one, made non-framed and authenticated again.
    fn seal_non_framed(plaintext: &[u8]) -> Vec<u8> {
        let framed = seal(Suite::Committed, b"", &options(4096, 1));
        let Incoming { mut header, .. } = read_header(
            &mut &framed[..],
            &Limits {
                max_data_keys: 10,
                max_frame_length: MAX_FRAME_LENGTH,
            },
        )
        .unwrap();
        header.frame_length = 0;
        let derived = suite::derive(header.suite, &[1; DATA_KEY_LEN], &header.message_id).unwrap();
        let body = header.body_bytes().unwrap();
        let mut message = body.clone();
        message.extend_from_slice(&frame::header_tag(&derived.key, &body).unwrap());
        message.extend_from_slice(&frame::seal_single(
            &derived.key,
            &header.message_id,
            plaintext,
        ));
        message
    }

    #[test]
    fn non_framed_messages_are_read() {
        let options = options(4096, 2);
        for len in [0, 1, 5000] {
            let plaintext = pattern(len);
            let message = seal_non_framed(&plaintext);
            assert_eq!(
                open(&message, 1, &options).unwrap(),
                plaintext,
                "{len} bytes"
            );
        }
    }

    #[test]
    fn a_non_framed_message_changed_cut_or_extended_writes_nothing() {
        let options = options(4096, 1);
        let message = seal_non_framed(&pattern(100));
        let body_starts = message.len() - (IV_LEN + 8 + 100 + TAG_LEN);
        for at in body_starts..message.len() {
            let mut changed = message.clone();
            changed[at] ^= 1;
            let (result, out) = open_to(&changed, &options);
            assert!(result.is_err(), "byte {at} changed");
            assert!(out.is_empty(), "byte {at} changed: plaintext written");
        }
        for cut in [1, TAG_LEN, 100] {
            let err = open(&message[..message.len() - cut], 1, &options).unwrap_err();
            assert!(err.to_string().contains("truncated"), "{err}");
        }
        let mut longer = message.clone();
        longer.push(0);
        let err = open(&longer, 1, &options).unwrap_err();
        assert!(err.to_string().contains("follow the end"), "{err}");
    }

    #[test]
    fn a_non_framed_body_longer_than_the_limit_is_refused_before_it_is_read() {
        let mut strict = options(4096, 1);
        strict.limits.max_frame_length = 99;
        let err = open(&seal_non_framed(&pattern(100)), 1, &strict).unwrap_err();
        assert!(matches!(err, Error::Limit(_)), "{err}");
        assert!(err.to_string().contains("100 bytes"), "{err}");
        assert_eq!(
            open(&seal_non_framed(&pattern(99)), 1, &strict).unwrap(),
            pattern(99)
        );
    }

    fn materials_plain() -> EncryptionMaterials {
        materials(Suite::Committed, 1)
    }

    #[test]
    fn the_signed_suite_puts_its_public_key_in_the_context() {
        let signed = materials(Suite::CommittedSigned, 1);
        let key = B64.decode(&signed.context()[PUBLIC_KEY]).unwrap();
        assert_eq!(key.len(), 49, "a compressed P-384 point");
        assert!(
            !materials(Suite::Committed, 1)
                .context()
                .contains_key(PUBLIC_KEY)
        );
        let reserved = context::parse_pairs(&["aws-crypto-public-key=x"]).unwrap();
        assert!(EncryptionMaterials::new(Suite::Committed, reserved).is_err());
    }
}
