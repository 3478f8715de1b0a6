//! The message header, version 2 (`data-format/message-header.md`): version,
//! suite, message id, encryption context, encrypted data keys, content type
//! (framed), frame length, key commitment; then the header's GCM tag.

use std::io::Read;

use crate::context::{self, EncryptionContext};
use crate::suite::{COMMITMENT_LEN, MESSAGE_ID_LEN, Suite, TAG_LEN};
use crate::{Error, Result};

const VERSION_2: u8 = 0x02;
const VERSION_1: u8 = 0x01;
const FRAMED: u8 = 0x02;
const NON_FRAMED: u8 = 0x01;

/// A data key wrapped by one key provider: for KMS, provider id `aws-kms`,
/// the key's ARN as provider information, and KMS's ciphertext blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedDataKey {
    pub provider_id: String,
    pub provider_info: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub suite: Suite,
    pub message_id: [u8; MESSAGE_ID_LEN],
    pub context: EncryptionContext,
    pub data_keys: Vec<EncryptedDataKey>,
    /// 0: a non-framed body (content type 0x01), which Trent reads and
    /// never writes.
    pub frame_length: u32,
    pub commitment: [u8; COMMITMENT_LEN],
}

/// What a reader accepts before it reads further.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most encrypted data keys a header may carry.
    pub max_data_keys: u16,
    /// The longest frame, and the longest non-framed body (each is held
    /// in memory whole).
    pub max_frame_length: u32,
}

impl Header {
    /// The header body's bytes: what the header's tag authenticates and the
    /// signature starts with.
    pub fn body_bytes(&self) -> Result<Vec<u8>> {
        let context = context::serialize(&self.context)?;
        let mut out = Vec::with_capacity(128 + context.len());
        out.push(VERSION_2);
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        out.extend_from_slice(&(context.len() as u16).to_be_bytes());
        out.extend_from_slice(&context);
        if self.data_keys.is_empty() {
            return Err(Error::Limit(
                "a message needs at least one encrypted data key".into(),
            ));
        }
        put_u16_len(&mut out, self.data_keys.len(), "encrypted data keys")?;
        for key in &self.data_keys {
            put_field(&mut out, key.provider_id.as_bytes(), "a key provider id")?;
            put_field(&mut out, &key.provider_info, "a key provider's information")?;
            put_field(&mut out, &key.ciphertext, "an encrypted data key")?;
        }
        out.push(if self.frame_length == 0 {
            NON_FRAMED
        } else {
            FRAMED
        });
        out.extend_from_slice(&self.frame_length.to_be_bytes());
        out.extend_from_slice(&self.commitment);
        Ok(out)
    }

    /// Reads a header body and its tag, refusing what `limits` refuse
    /// before reading on. Returns the header, the body's bytes as read, and
    /// the tag.
    pub fn read(
        input: &mut impl Read,
        limits: &Limits,
    ) -> Result<(Header, Vec<u8>, [u8; TAG_LEN])> {
        let mut r = Recorder {
            input,
            bytes: Vec::with_capacity(512),
        };
        match r.u8()? {
            VERSION_2 => {}
            VERSION_1 => {
                return Err(Error::Malformed(
                    "a version 1 message: its algorithm suites do not commit to their key, and \
                     Trent decrypts only key-committing messages (the SDK's commitment policy \
                     REQUIRE_ENCRYPT_REQUIRE_DECRYPT)"
                        .into(),
                ));
            }
            other => {
                return Err(Error::Malformed(format!(
                    "unknown message format version 0x{other:02x} (is this an encrypted message?)"
                )));
            }
        }
        let id = r.u16()?;
        let suite = Suite::from_id(id).ok_or_else(|| {
            Error::Malformed(format!(
                "algorithm suite 0x{id:04x} is not one of the key-committing suites 0x0478, 0x0578"
            ))
        })?;
        let message_id = r.array::<MESSAGE_ID_LEN>()?;
        let context_len = usize::from(r.u16()?);
        let context = context::parse(&r.take(context_len)?)?;
        let count = r.u16()?;
        if count == 0 {
            return Err(Error::Malformed("no encrypted data keys".into()));
        }
        if count > limits.max_data_keys {
            return Err(Error::Limit(format!(
                "the message has {count} encrypted data keys, more than the limit of {} \
                 (--max-encrypted-data-keys)",
                limits.max_data_keys
            )));
        }
        let mut data_keys = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let provider_id = String::from_utf8(r.field()?)
                .map_err(|_| Error::Malformed("a key provider id is not UTF-8".into()))?;
            data_keys.push(EncryptedDataKey {
                provider_id,
                provider_info: r.field()?,
                ciphertext: r.field()?,
            });
        }
        let framed = match r.u8()? {
            FRAMED => true,
            NON_FRAMED => false,
            other => {
                return Err(Error::Malformed(format!(
                    "unknown content type 0x{other:02x}"
                )));
            }
        };
        let frame_length = r.u32()?;
        match (framed, frame_length) {
            (true, 0) => {
                return Err(Error::Malformed(
                    "a framed message with frame length 0".into(),
                ));
            }
            (false, 1..) => {
                return Err(Error::Malformed(format!(
                    "a non-framed message with frame length {frame_length} (it must be 0)"
                )));
            }
            _ => {}
        }
        if frame_length > limits.max_frame_length {
            return Err(Error::Limit(format!(
                "the message's frames are {frame_length} bytes; Trent holds a frame in memory \
                 whole and reads frames of at most {} bytes",
                limits.max_frame_length
            )));
        }
        let commitment = r.array::<COMMITMENT_LEN>()?;
        let body = std::mem::take(&mut r.bytes);
        let tag = r.array::<TAG_LEN>()?;
        let header = Header {
            suite,
            message_id,
            context,
            data_keys,
            frame_length,
            commitment,
        };
        Ok((header, body, tag))
    }
}

fn put_u16_len(out: &mut Vec<u8>, len: usize, what: &str) -> Result<()> {
    let len = u16::try_from(len).map_err(|_| {
        Error::Limit(format!(
            "{len} {what}: at most {} fit in a header",
            u16::MAX
        ))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<()> {
    let len = u16::try_from(bytes.len()).map_err(|_| {
        Error::Limit(format!(
            "{what} of {} bytes: at most {} fit",
            bytes.len(),
            u16::MAX
        ))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads exactly, keeping every byte read (the header's AAD).
struct Recorder<'a, R> {
    input: &'a mut R,
    bytes: Vec<u8>,
}

impl<R: Read> Recorder<'_, R> {
    fn take(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        self.input.read_exact(&mut out).map_err(truncated)?;
        self.bytes.extend_from_slice(&out);
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        self.input.read_exact(&mut out).map_err(truncated)?;
        self.bytes.extend_from_slice(&out);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn field(&mut self) -> Result<Vec<u8>> {
        let len = usize::from(self.u16()?);
        self.take(len)
    }
}

/// An input that ends early is a truncated message; other I/O errors stay
/// what they are.
pub(crate) fn truncated(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::Malformed("the message is truncated".into())
    } else {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            suite: Suite::CommittedSigned,
            message_id: [9; MESSAGE_ID_LEN],
            context: context::parse_pairs(&["purpose=test"]).unwrap(),
            data_keys: vec![EncryptedDataKey {
                provider_id: "aws-kms".into(),
                provider_info: b"arn:aws:kms:us-east-1:111122223333:key/k".to_vec(),
                ciphertext: vec![1, 2, 3],
            }],
            frame_length: 4096,
            commitment: [5; COMMITMENT_LEN],
        }
    }

    const LIMITS: Limits = Limits {
        max_data_keys: 10,
        max_frame_length: 1 << 20,
    };

    #[test]
    fn a_header_round_trips() {
        let header = sample();
        let mut bytes = header.body_bytes().unwrap();
        let body_len = bytes.len();
        bytes.extend_from_slice(&[4; TAG_LEN]);
        let (read, body, tag) = Header::read(&mut &bytes[..], &LIMITS).unwrap();
        assert_eq!(read, header);
        assert_eq!(body, bytes[..body_len]);
        assert_eq!(tag, [4; TAG_LEN]);
    }

    #[test]
    fn every_truncation_is_refused() {
        let mut bytes = sample().body_bytes().unwrap();
        bytes.extend_from_slice(&[4; TAG_LEN]);
        for len in 0..bytes.len() {
            let err = Header::read(&mut &bytes[..len], &LIMITS).unwrap_err();
            assert!(matches!(err, Error::Malformed(_)), "{len}: {err}");
        }
    }

    #[test]
    fn limits_and_unsupported_formats_are_refused_with_their_reason() {
        let mut many = sample();
        many.data_keys = vec![many.data_keys[0].clone(); 11];
        let bytes = many.body_bytes().unwrap();
        let err = Header::read(&mut &bytes[..], &LIMITS).unwrap_err();
        assert!(err.to_string().contains("11 encrypted data keys"), "{err}");

        let mut big = sample();
        big.frame_length = (1 << 20) + 1;
        let err = Header::read(&mut &big.body_bytes().unwrap()[..], &LIMITS).unwrap_err();
        assert!(matches!(err, Error::Limit(_)), "{err}");

        let mut v1 = sample().body_bytes().unwrap();
        v1[0] = 1;
        let err = Header::read(&mut &v1[..], &LIMITS).unwrap_err();
        assert!(err.to_string().contains("commit"), "{err}");

        let mut suite = sample().body_bytes().unwrap();
        suite[1..3].copy_from_slice(&0x0378u16.to_be_bytes());
        let err = Header::read(&mut &suite[..], &LIMITS).unwrap_err();
        assert!(err.to_string().contains("0x0378"), "{err}");
    }
}
