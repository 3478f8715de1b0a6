//! ML-KEM (FIPS 203) key pairs, for KMS keys of key spec ML_KEM_512/768/1024
//! and usage ENCAPSULATE_DECAPSULATE (issue 17): generation to the bytes
//! that are sealed at rest, the encapsulation key as the DER
//! SubjectPublicKeyInfo GetPublicKey answers, encapsulation and
//! decapsulation. aws-lc-rs does the algorithm; this module only frames it.
//!
//! Decapsulation rejects implicitly, as FIPS 203 requires: a ciphertext of
//! the right length that was not made for this key yields an unrelated
//! secret, never an error; only a ciphertext of the wrong length is refused.

use crate::CryptoError;
use aws_lc_rs::kem::{
    AlgorithmId, Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_512, ML_KEM_768,
    ML_KEM_1024,
};
use zeroize::Zeroizing;

/// An ML-KEM parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlKem {
    MlKem512,
    MlKem768,
    MlKem1024,
}

impl MlKem {
    fn algorithm(self) -> &'static aws_lc_rs::kem::Algorithm<AlgorithmId> {
        match self {
            MlKem::MlKem512 => &ML_KEM_512,
            MlKem::MlKem768 => &ML_KEM_768,
            MlKem::MlKem1024 => &ML_KEM_1024,
        }
    }

    /// The parameter set's OID, DER-encoded: id-alg-ml-kem-* =
    /// 2.16.840.1.101.3.4.4.{1,2,3} (NIST's registry); an SPKI carries it
    /// with no parameters.
    fn oid(self) -> [u8; 11] {
        let arc = match self {
            MlKem::MlKem512 => 1,
            MlKem::MlKem768 => 2,
            MlKem::MlKem1024 => 3,
        };
        [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, arc,
        ]
    }

    /// A fresh key pair: the decapsulation key's bytes, to be sealed.
    pub fn generate(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key =
            DecapsulationKey::generate(self.algorithm()).map_err(|_| CryptoError::Internal)?;
        let bytes = key.key_bytes().map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(bytes.as_ref().to_vec()))
    }

    /// The ciphertext's length in bytes (FIPS 203 table 3).
    pub fn ciphertext_len(self) -> usize {
        match self {
            MlKem::MlKem512 => 768,
            MlKem::MlKem768 => 1088,
            MlKem::MlKem1024 => 1568,
        }
    }

    /// k, the module rank (FIPS 203 table 2).
    fn rank(self) -> usize {
        match self {
            MlKem::MlKem512 => 2,
            MlKem::MlKem768 => 3,
            MlKem::MlKem1024 => 4,
        }
    }

    fn decapsulation_key(
        self,
        private: &[u8],
    ) -> Result<DecapsulationKey<AlgorithmId>, CryptoError> {
        DecapsulationKey::new(self.algorithm(), private).map_err(|_| CryptoError::Internal)
    }

    /// The encapsulation key inside a stored decapsulation key: FIPS 203's
    /// dk is dk_PKE (384·k bytes) ‖ ek (384·k + 32) ‖ H(ek) ‖ z, and H(ek)
    /// (SHA3-256) is checked. (aws-lc-rs does not give the encapsulation
    /// key of a decapsulation key made from bytes.)
    fn encapsulation_key_bytes(self, private: &[u8]) -> Result<&[u8], CryptoError> {
        let start = 384 * self.rank();
        let end = start + 384 * self.rank() + 32;
        let (ek, hash) = (
            private.get(start..end).ok_or(CryptoError::Internal)?,
            private.get(end..end + 32).ok_or(CryptoError::Internal)?,
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA3_256, ek);
        if digest.as_ref() != hash {
            return Err(CryptoError::Internal);
        }
        Ok(ek)
    }

    /// The encapsulation key of a stored pair, as a DER
    /// SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID }, BIT STRING }.
    pub fn public_key_der(self, private: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let raw = self.encapsulation_key_bytes(private)?;
        let oid = self.oid();
        let algorithm = der(0x30, &oid);
        let mut bits = Vec::with_capacity(raw.len() + 1);
        bits.push(0); // no unused bits
        bits.extend_from_slice(raw);
        let mut body = algorithm;
        body.extend(der(0x03, &bits));
        Ok(der(0x30, &body))
    }

    /// Encapsulation with the encapsulation key (the raw bytes from a
    /// SubjectPublicKeyInfo's BIT STRING): the ciphertext and the secret.
    pub fn encapsulate(
        self,
        encapsulation_key: &[u8],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), CryptoError> {
        let key = EncapsulationKey::new(self.algorithm(), encapsulation_key)
            .map_err(|_| CryptoError::InvalidCiphertext)?;
        let (ciphertext, secret) = key.encapsulate().map_err(|_| CryptoError::Internal)?;
        Ok((
            ciphertext.as_ref().to_vec(),
            Zeroizing::new(secret.as_ref().to_vec()),
        ))
    }

    /// Encapsulation with a stored pair's own encapsulation key.
    pub fn encapsulate_to(
        self,
        private: &[u8],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), CryptoError> {
        self.encapsulate(self.encapsulation_key_bytes(private)?)
    }

    /// The shared secret of `ciphertext` under a stored pair. Only a
    /// ciphertext of the wrong length is `InvalidCiphertext`.
    pub fn decapsulate(
        self,
        private: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key = self.decapsulation_key(private)?;
        let secret = key
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::InvalidCiphertext)?;
        Ok(Zeroizing::new(secret.as_ref().to_vec()))
    }
}

/// A stored pair, parsed once for the key cache: the decapsulation key,
/// the encapsulation key and its SubjectPublicKeyInfo, so that a request
/// parses nothing.
pub struct KemKey {
    kem: MlKem,
    decapsulation: DecapsulationKey<AlgorithmId>,
    encapsulation: EncapsulationKey<AlgorithmId>,
    public_der: Vec<u8>,
}

impl KemKey {
    /// The pair in a stored decapsulation key's bytes (checked: its
    /// encapsulation key's hash must match).
    pub fn from_bytes(kem: MlKem, private: &[u8]) -> Result<Self, CryptoError> {
        let raw = kem.encapsulation_key_bytes(private)?;
        Ok(Self {
            kem,
            decapsulation: kem.decapsulation_key(private)?,
            encapsulation: EncapsulationKey::new(kem.algorithm(), raw)
                .map_err(|_| CryptoError::Internal)?,
            public_der: kem.public_key_der(private)?,
        })
    }

    pub fn kem(&self) -> MlKem {
        self.kem
    }

    /// The encapsulation key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// A fresh secret and its ciphertext, under the pair's own
    /// encapsulation key.
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), CryptoError> {
        let (ciphertext, secret) = self
            .encapsulation
            .encapsulate()
            .map_err(|_| CryptoError::Internal)?;
        Ok((
            ciphertext.as_ref().to_vec(),
            Zeroizing::new(secret.as_ref().to_vec()),
        ))
    }

    /// The secret of `ciphertext`; implicit rejection for a ciphertext of
    /// the right length that is not this pair's, `InvalidCiphertext` only
    /// for a wrong length.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if ciphertext.len() != self.kem.ciphertext_len() {
            return Err(CryptoError::InvalidCiphertext);
        }
        let secret = self
            .decapsulation
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::InvalidCiphertext)?;
        Ok(Zeroizing::new(secret.as_ref().to_vec()))
    }
}

/// A DER TLV (definite length, short or long form).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(MlKem, usize, usize); 3] = [
        // (parameter set, encapsulation key bytes, ciphertext bytes), FIPS 203 table 3
        (MlKem::MlKem512, 800, 768),
        (MlKem::MlKem768, 1184, 1088),
        (MlKem::MlKem1024, 1568, 1568),
    ];

    #[test]
    fn every_parameter_set_agrees_on_a_secret_through_its_stored_bytes() {
        for (kem, _, ciphertext_len) in ALL {
            let private = kem.generate().unwrap();
            let (ciphertext, sent) = kem.encapsulate_to(&private).unwrap();
            assert_eq!(ciphertext.len(), ciphertext_len);
            assert_eq!(sent.len(), 32);
            assert_eq!(*kem.decapsulate(&private, &ciphertext).unwrap(), *sent);
        }
    }

    #[test]
    fn the_encapsulation_key_read_from_stored_bytes_is_the_pairs() {
        for (kem, key_len, _) in ALL {
            let key = DecapsulationKey::generate(kem.algorithm()).unwrap();
            let public = key.encapsulation_key().unwrap().key_bytes().unwrap();
            let stored = key.key_bytes().unwrap();
            let read = kem.encapsulation_key_bytes(stored.as_ref()).unwrap();
            assert_eq!(read.len(), key_len);
            assert_eq!(read, public.as_ref());
            let mut damaged = stored.as_ref().to_vec();
            damaged[384 * kem.rank() + 5] ^= 1;
            assert!(kem.encapsulation_key_bytes(&damaged).is_err());
        }
    }

    #[test]
    fn the_public_key_is_a_subject_public_key_info_naming_the_parameter_set() {
        for (kem, key_len, _) in ALL {
            let private = kem.generate().unwrap();
            let spki = kem.public_key_der(&private).unwrap();
            assert_eq!(spki[0], 0x30);
            let oid = kem.oid();
            assert!(spki.windows(oid.len()).any(|w| w == oid));
            // The BIT STRING's content is the raw encapsulation key: a
            // peer encapsulates with it and the pair decapsulates.
            let raw = &spki[spki.len() - key_len..];
            assert_eq!(spki[spki.len() - key_len - 1], 0, "no unused bits");
            let (ciphertext, sent) = kem.encapsulate(raw).unwrap();
            assert_eq!(*kem.decapsulate(&private, &ciphertext).unwrap(), *sent);
            // The outer length covers the rest exactly.
            assert_eq!(spki[1], 0x82);
            let outer = usize::from(spki[2]) << 8 | usize::from(spki[3]);
            assert_eq!(outer, spki.len() - 4);
        }
    }

    #[test]
    fn a_foreign_ciphertext_is_rejected_implicitly_and_a_wrong_length_refused() {
        let kem = MlKem::MlKem768;
        let private = kem.generate().unwrap();
        let (mut ciphertext, sent) = kem.encapsulate_to(&private).unwrap();
        ciphertext[10] ^= 1;
        let other = kem.decapsulate(&private, &ciphertext).unwrap();
        assert_ne!(*other, *sent, "an unrelated secret, not an error");
        assert!(matches!(
            kem.decapsulate(&private, &ciphertext[1..]),
            Err(CryptoError::InvalidCiphertext)
        ));
        let other_pair = kem.generate().unwrap();
        assert_ne!(*kem.decapsulate(&other_pair, &ciphertext).unwrap(), *sent);
    }

    #[test]
    fn a_parsed_pair_agrees_with_its_stored_bytes_and_checks_lengths() {
        for (kem, _, ciphertext_len) in ALL {
            let private = kem.generate().unwrap();
            let key = KemKey::from_bytes(kem, &private).unwrap();
            assert_eq!(key.public_key_der(), kem.public_key_der(&private).unwrap());
            let (ciphertext, sent) = key.encapsulate().unwrap();
            assert_eq!(ciphertext.len(), ciphertext_len);
            assert_eq!(*kem.decapsulate(&private, &ciphertext).unwrap(), *sent);
            assert_eq!(*key.decapsulate(&ciphertext).unwrap(), *sent);
            let mut long = ciphertext.clone();
            long.push(0);
            assert!(matches!(
                key.decapsulate(&long),
                Err(CryptoError::InvalidCiphertext)
            ));
            assert!(matches!(
                key.decapsulate(&[]),
                Err(CryptoError::InvalidCiphertext)
            ));
        }
        let private = MlKem::MlKem512.generate().unwrap();
        assert!(KemKey::from_bytes(MlKem::MlKem768, &private).is_err());
    }
}
