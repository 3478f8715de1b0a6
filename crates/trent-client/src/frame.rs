//! One frame of a framed body (`data-format/message-body.md`): a regular
//! frame is `sequence number || IV || content || tag`, the final frame
//! `0xFFFFFFFF || sequence number || IV || content length || content || tag`.
//! Each frame's AAD binds the message id, its kind, its sequence number and
//! its length (`message-body-aad.md`), so frames cannot be reordered,
//! dropped, moved between messages or cut. A non-framed body is one block,
//! `IV || content length || content || tag`, read only (the SDKs write it
//! when asked for frame length 0).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};

use crate::suite::{IV_LEN, MESSAGE_ID_LEN, TAG_LEN};
use crate::{Error, Result};

pub const FINAL_MARKER: u32 = u32::MAX;
const REGULAR: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE: &[u8] = b"AWSKMSEncryptionClient Single Block";
/// The longest AAD: message id, the longest label (a non-framed body's),
/// sequence number, content length.
const AAD_MAX: usize = MESSAGE_ID_LEN + SINGLE.len() + 4 + 8;

/// A regular frame's bytes beyond its content.
pub const REGULAR_OVERHEAD: usize = 4 + IV_LEN + TAG_LEN;
/// The final frame's bytes beyond its content.
pub const FINAL_OVERHEAD: usize = 4 + 4 + IV_LEN + 4 + TAG_LEN;

/// The IV the writer uses: the sequence number, big-endian, left-padded
/// with zeros.
pub fn iv(sequence: u32) -> [u8; IV_LEN] {
    let mut iv = [0; IV_LEN];
    iv[IV_LEN - 4..].copy_from_slice(&sequence.to_be_bytes());
    iv
}

fn aad(
    message_id: &[u8; MESSAGE_ID_LEN],
    label: &[u8],
    sequence: u32,
    len: usize,
) -> ([u8; AAD_MAX], usize) {
    let mut out = [0; AAD_MAX];
    let mut at = 0;
    for part in [
        &message_id[..],
        label,
        &sequence.to_be_bytes(),
        &(len as u64).to_be_bytes(),
    ] {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    (out, at)
}

/// Appends frame `sequence` of `plaintext` to `out`.
pub fn seal(
    key: &LessSafeKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    sequence: u32,
    last: bool,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let iv = iv(sequence);
    if last {
        out.extend_from_slice(&FINAL_MARKER.to_be_bytes());
    }
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&iv);
    if last {
        let len = u32::try_from(plaintext.len())
            .map_err(|_| Error::Limit("a frame longer than 2^32 - 1 bytes".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
    }
    let start = out.len();
    out.extend_from_slice(plaintext);
    let label = if last { FINAL } else { REGULAR };
    let (aad, aad_len) = aad(message_id, label, sequence, plaintext.len());
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(&aad[..aad_len]),
            &mut out[start..],
        )
        .map_err(|_| Error::Kms("AES-GCM sealing failed".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// Opens one frame's `content` and `tag` into `out` (as long as the
/// content).
#[allow(clippy::too_many_arguments)]
pub fn open(
    key: &LessSafeKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    sequence: u32,
    last: bool,
    iv: [u8; IV_LEN],
    content: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let label = if last { FINAL } else { REGULAR };
    let (aad, aad_len) = aad(message_id, label, sequence, content.len());
    open_block(key, iv, &aad[..aad_len], content, tag, out)
        .map_err(|()| Error::Authentication("a frame's tag does not verify"))
}

fn open_block(
    key: &LessSafeKey,
    iv: [u8; IV_LEN],
    aad: &[u8],
    content: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), ()> {
    key.open_separate_gather(
        Nonce::assume_unique_for_key(iv),
        Aad::from(aad),
        content,
        tag,
        out,
    )
    .map_err(|_| ())
}

/// Opens a non-framed body's `content` and `tag` into `out` (as long as
/// the content). Its AAD is the single block's: sequence number 1.
pub fn open_single(
    key: &LessSafeKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    iv: [u8; IV_LEN],
    content: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let (aad, aad_len) = aad(message_id, SINGLE, 1, content.len());
    open_block(key, iv, &aad[..aad_len], content, tag, out)
        .map_err(|()| Error::Authentication("the message body's tag does not verify"))
}

/// Seals a non-framed body (tests only: Trent writes framed messages).
#[cfg(test)]
pub fn seal_single(
    key: &LessSafeKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    plaintext: &[u8],
) -> Vec<u8> {
    let iv = iv(1);
    let mut out = iv.to_vec();
    out.extend_from_slice(&(plaintext.len() as u64).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(plaintext);
    let (aad, aad_len) = aad(message_id, SINGLE, 1, plaintext.len());
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(&aad[..aad_len]),
            &mut out[start..],
        )
        .expect("AES-GCM seals");
    out.extend_from_slice(tag.as_ref());
    out
}

/// The header's tag: GCM over no plaintext with a zero IV, the header body
/// as AAD.
pub fn header_tag(key: &LessSafeKey, header_body: &[u8]) -> Result<[u8; TAG_LEN]> {
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([0; IV_LEN]),
            Aad::from(header_body),
            &mut [],
        )
        .map_err(|_| Error::Kms("AES-GCM sealing failed".into()))?;
    let mut out = [0; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

pub fn verify_header(key: &LessSafeKey, header_body: &[u8], tag: &[u8; TAG_LEN]) -> Result<()> {
    let mut tag = *tag;
    key.open_in_place(
        Nonce::assume_unique_for_key([0; IV_LEN]),
        Aad::from(header_body),
        &mut tag,
    )
    .map(|_| ())
    .map_err(|_| Error::Authentication("the header's tag does not verify"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Suite, derive};

    #[test]
    fn a_frame_opens_only_as_what_it_was_sealed() {
        let id = [3; MESSAGE_ID_LEN];
        let key = derive(Suite::Committed, &[1; 32], &id).unwrap().key;
        let mut out = Vec::new();
        seal(&key, &id, 7, false, b"hello", &mut out).unwrap();
        assert_eq!(out.len(), 5 + REGULAR_OVERHEAD);
        assert_eq!(&out[..4], &7u32.to_be_bytes());
        let iv_got: [u8; IV_LEN] = out[4..16].try_into().unwrap();
        assert_eq!(iv_got, iv(7));
        let (content, tag) = out[16..].split_at(5);
        let mut plain = [0u8; 5];
        open(&key, &id, 7, false, iv_got, content, tag, &mut plain).unwrap();
        assert_eq!(&plain, b"hello");
        // Another sequence number, kind, message or IV: refused.
        assert!(open(&key, &id, 8, false, iv_got, content, tag, &mut plain).is_err());
        assert!(open(&key, &id, 7, true, iv_got, content, tag, &mut plain).is_err());
        let other = [4; MESSAGE_ID_LEN];
        assert!(open(&key, &other, 7, false, iv_got, content, tag, &mut plain).is_err());
        assert!(open(&key, &id, 7, false, iv(8), content, tag, &mut plain).is_err());
        let mut flipped = content.to_vec();
        flipped[0] ^= 1;
        assert!(open(&key, &id, 7, false, iv_got, &flipped, tag, &mut plain).is_err());
    }

    #[test]
    fn the_final_frame_carries_its_marker_and_length() {
        let id = [3; MESSAGE_ID_LEN];
        let key = derive(Suite::Committed, &[1; 32], &id).unwrap().key;
        let mut out = Vec::new();
        seal(&key, &id, 1, true, b"", &mut out).unwrap();
        assert_eq!(out.len(), FINAL_OVERHEAD);
        assert_eq!(&out[..8], &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
        assert_eq!(&out[20..24], &[0, 0, 0, 0]);
    }

    #[test]
    fn the_header_tag_binds_the_header() {
        let key = derive(Suite::Committed, &[1; 32], &[3; MESSAGE_ID_LEN])
            .unwrap()
            .key;
        let tag = header_tag(&key, b"header").unwrap();
        verify_header(&key, b"header", &tag).unwrap();
        assert!(verify_header(&key, b"headex", &tag).is_err());
    }
}
