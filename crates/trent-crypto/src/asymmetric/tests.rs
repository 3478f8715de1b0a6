use super::*;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One generated PKCS#8 per spec, shared by the tests (RSA-4096 generation
/// is slow).
fn pkcs8(spec: PairSpec) -> Zeroizing<Vec<u8>> {
    static KEYS: OnceLock<HashMap<PairSpec, Vec<u8>>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        PairSpec::ALL
            .iter()
            .map(|&spec| (spec, spec.generate_pkcs8().unwrap().to_vec()))
            .collect()
    });
    Zeroizing::new(keys[&spec].clone())
}

fn signer(spec: PairSpec) -> PrivateKey {
    PrivateKey::from_pkcs8(spec, PairUsage::SignVerify, &pkcs8(spec)).unwrap()
}

fn hash(alg: SigningAlgorithm, message: &[u8]) -> Vec<u8> {
    digest::digest(alg.digest_algorithm().unwrap(), message)
        .as_ref()
        .to_vec()
}

const MESSAGE: &[u8] = b"Trent signs this for Alice and Bob";

#[test]
fn every_spec_signs_and_verifies_every_algorithm_raw_and_digest() {
    for spec in PairSpec::ALL {
        let key = signer(spec);
        for &alg in spec.signing_algorithms() {
            // Ed25519ph signs DIGESTs only.
            let mut kinds = if alg == SigningAlgorithm::Ed25519PhSha512 {
                vec![]
            } else {
                vec![(MessageKind::Raw, MESSAGE.to_vec())]
            };
            if alg.digest_algorithm().is_some() {
                kinds.push((MessageKind::Digest, hash(alg, MESSAGE)));
            }
            for (kind, message) in kinds {
                let signature = key.sign(alg, kind, &message).unwrap();
                let public = key.public_key_der();
                verify(spec, public, alg, kind, &message, &signature)
                    .unwrap_or_else(|e| panic!("{spec:?} {alg:?} {kind:?}: {e}"));
                key.verify(alg, kind, &message, &signature).unwrap();

                let mut tampered = signature.clone();
                let last = tampered.len() - 1;
                tampered[last] ^= 1;
                assert_eq!(
                    verify(spec, public, alg, kind, &message, &tampered),
                    Err(AsymmetricError::InvalidSignature),
                    "{spec:?} {alg:?} {kind:?}"
                );
                let mut other = message.clone();
                other[0] ^= 1;
                assert_eq!(
                    verify(spec, public, alg, kind, &other, &signature),
                    Err(AsymmetricError::InvalidSignature)
                );
            }
        }
    }
}

#[test]
fn digest_signatures_verify_as_raw_signatures_of_the_message() {
    // DIGEST is signed as given: RSA PKCS#1 v1.5 wraps it in the same
    // DigestInfo a RAW signature of the original message has.
    for spec in PairSpec::ALL {
        let key = signer(spec);
        for &alg in spec.signing_algorithms() {
            if alg.digest_algorithm().is_none() || alg == SigningAlgorithm::Ed25519PhSha512 {
                continue;
            }
            let signature = key
                .sign(alg, MessageKind::Digest, &hash(alg, MESSAGE))
                .unwrap();
            verify(
                spec,
                key.public_key_der(),
                alg,
                MessageKind::Raw,
                MESSAGE,
                &signature,
            )
            .unwrap_or_else(|e| panic!("{spec:?} {alg:?}: {e}"));
        }
    }
}

#[test]
fn rsa_pkcs1_is_deterministic_between_raw_and_digest() {
    let key = signer(PairSpec::Rsa2048);
    for alg in [
        SigningAlgorithm::RsaPkcs1Sha256,
        SigningAlgorithm::RsaPkcs1Sha384,
        SigningAlgorithm::RsaPkcs1Sha512,
    ] {
        let raw = key.sign(alg, MessageKind::Raw, MESSAGE).unwrap();
        let from_digest = key
            .sign(alg, MessageKind::Digest, &hash(alg, MESSAGE))
            .unwrap();
        assert_eq!(raw, from_digest, "{alg:?}");
    }
}

#[test]
fn wrong_digest_length_is_refused() {
    let key = signer(PairSpec::EccNistP256);
    assert_eq!(
        key.sign(
            SigningAlgorithm::EcdsaSha256,
            MessageKind::Digest,
            &[0u8; 31]
        ),
        Err(AsymmetricError::DigestLength { expected: 32 })
    );
    let key = signer(PairSpec::Rsa2048);
    assert_eq!(
        key.sign(
            SigningAlgorithm::RsaPssSha512,
            MessageKind::Digest,
            &[0u8; 32]
        ),
        Err(AsymmetricError::DigestLength { expected: 64 })
    );
    assert_eq!(
        verify(
            PairSpec::Rsa2048,
            key.public_key_der(),
            SigningAlgorithm::RsaPkcs1Sha384,
            MessageKind::Digest,
            &[0u8; 47],
            &[0u8; 256]
        ),
        Err(AsymmetricError::DigestLength { expected: 48 })
    );
}

#[test]
fn algorithm_of_another_spec_is_refused() {
    let cases = [
        (PairSpec::EccNistP256, SigningAlgorithm::EcdsaSha384),
        (PairSpec::EccNistP384, SigningAlgorithm::EcdsaSha256),
        (PairSpec::EccNistP521, SigningAlgorithm::RsaPssSha256),
        (PairSpec::Rsa2048, SigningAlgorithm::EcdsaSha256),
        (PairSpec::Ed25519, SigningAlgorithm::MlDsaShake256),
        (PairSpec::MlDsa65, SigningAlgorithm::Ed25519Sha512),
    ];
    for (spec, alg) in cases {
        assert_eq!(
            signer(spec).sign(alg, MessageKind::Raw, MESSAGE),
            Err(AsymmetricError::WrongAlgorithm),
            "{spec:?} {alg:?}"
        );
    }
}

#[test]
fn message_types_follow_aws_rules() {
    let ed = signer(PairSpec::Ed25519);
    assert_eq!(
        ed.sign(
            SigningAlgorithm::Ed25519Sha512,
            MessageKind::Digest,
            &[0; 64]
        ),
        Err(AsymmetricError::WrongMessageType)
    );
    assert_eq!(
        ed.sign(SigningAlgorithm::Ed25519PhSha512, MessageKind::Raw, MESSAGE),
        Err(AsymmetricError::WrongMessageType)
    );
    let ml = signer(PairSpec::MlDsa44);
    assert_eq!(
        ml.sign(
            SigningAlgorithm::MlDsaShake256,
            MessageKind::ExternalMu,
            &[0; 65]
        ),
        Err(AsymmetricError::DigestLength { expected: 64 })
    );
    assert_eq!(
        ml.sign(
            SigningAlgorithm::MlDsaShake256,
            MessageKind::Digest,
            &[0; 64]
        ),
        Err(AsymmetricError::WrongMessageType)
    );
    assert_eq!(
        ml.sign(
            SigningAlgorithm::MlDsaShake256,
            MessageKind::ExternalMu,
            &[0; 63]
        ),
        Err(AsymmetricError::DigestLength { expected: 64 })
    );
    let ec = signer(PairSpec::EccNistP256);
    assert_eq!(
        ec.sign(
            SigningAlgorithm::EcdsaSha256,
            MessageKind::ExternalMu,
            &[0; 64]
        ),
        Err(AsymmetricError::WrongMessageType)
    );
}

#[test]
fn signature_of_another_key_is_invalid() {
    let a = signer(PairSpec::EccNistP384);
    let b = PrivateKey::from_pkcs8(
        PairSpec::EccNistP384,
        PairUsage::SignVerify,
        &PairSpec::EccNistP384.generate_pkcs8().unwrap(),
    )
    .unwrap();
    let signature = a
        .sign(SigningAlgorithm::EcdsaSha384, MessageKind::Raw, MESSAGE)
        .unwrap();
    assert_eq!(
        b.verify(
            SigningAlgorithm::EcdsaSha384,
            MessageKind::Raw,
            MESSAGE,
            &signature
        ),
        Err(AsymmetricError::InvalidSignature)
    );
    // Garbage and empty signatures are invalid, not errors.
    assert_eq!(
        b.verify(
            SigningAlgorithm::EcdsaSha384,
            MessageKind::Raw,
            MESSAGE,
            &[]
        ),
        Err(AsymmetricError::InvalidSignature)
    );
}

fn rsa_decrypter(spec: PairSpec) -> PrivateKey {
    PrivateKey::from_pkcs8(spec, PairUsage::EncryptDecrypt, &pkcs8(spec)).unwrap()
}

#[test]
fn oaep_round_trips_at_aws_limits() {
    let limits = [
        (PairSpec::Rsa2048, 214, 190),
        (PairSpec::Rsa3072, 342, 318),
        (PairSpec::Rsa4096, 470, 446),
    ];
    for (spec, sha1, sha256) in limits {
        let key = rsa_decrypter(spec);
        for (hash, max) in [
            (AsymmetricEncryption::RsaesOaepSha1, sha1),
            (AsymmetricEncryption::RsaesOaepSha256, sha256),
        ] {
            assert_eq!(spec.max_plaintext(hash), Some(max));
            let plaintext = vec![7u8; max];
            let ciphertext = key.encrypt(hash, &plaintext).unwrap();
            assert_eq!(&key.decrypt(hash, &ciphertext).unwrap()[..], &plaintext[..]);
            assert_eq!(
                key.encrypt(hash, &vec![7u8; max + 1]),
                Err(AsymmetricError::PlaintextTooLong { max })
            );
            let other = match hash {
                AsymmetricEncryption::RsaesOaepSha1 => AsymmetricEncryption::RsaesOaepSha256,
                _ => AsymmetricEncryption::RsaesOaepSha1,
            };
            assert_eq!(
                key.decrypt(other, &ciphertext),
                Err(AsymmetricError::InvalidCiphertext)
            );
            let mut tampered = ciphertext.clone();
            tampered[5] ^= 1;
            assert_eq!(
                key.decrypt(hash, &tampered),
                Err(AsymmetricError::InvalidCiphertext)
            );
            assert_eq!(
                key.decrypt(hash, &ciphertext[1..]),
                Err(AsymmetricError::InvalidCiphertext)
            );
        }
    }
}

#[test]
fn oaep_ciphertext_of_another_key_is_invalid() {
    let a = rsa_decrypter(PairSpec::Rsa2048);
    let b = PrivateKey::from_pkcs8(
        PairSpec::Rsa2048,
        PairUsage::EncryptDecrypt,
        &PairSpec::Rsa2048.generate_pkcs8().unwrap(),
    )
    .unwrap();
    let ciphertext = a
        .encrypt(AsymmetricEncryption::RsaesOaepSha256, b"secret")
        .unwrap();
    assert_eq!(
        b.decrypt(AsymmetricEncryption::RsaesOaepSha256, &ciphertext),
        Err(AsymmetricError::InvalidCiphertext)
    );
}

#[test]
fn usage_decides_what_a_key_can_do() {
    let decrypter = rsa_decrypter(PairSpec::Rsa2048);
    assert_eq!(
        decrypter.sign(SigningAlgorithm::RsaPssSha256, MessageKind::Raw, MESSAGE),
        Err(AsymmetricError::WrongAlgorithm)
    );
    let signer = signer(PairSpec::Rsa2048);
    assert_eq!(
        signer.encrypt(AsymmetricEncryption::RsaesOaepSha256, b"x"),
        Err(AsymmetricError::WrongAlgorithm)
    );
    assert_eq!(
        signer.derive_shared_secret(b"x"),
        Err(AsymmetricError::WrongAlgorithm)
    );
    // Only the NIST curves agree keys; only RSA encrypts.
    assert!(
        PrivateKey::from_pkcs8(
            PairSpec::EccSecgP256k1,
            PairUsage::KeyAgreement,
            &pkcs8(PairSpec::EccSecgP256k1)
        )
        .is_err()
    );
    assert!(
        PrivateKey::from_pkcs8(
            PairSpec::EccNistP256,
            PairUsage::EncryptDecrypt,
            &pkcs8(PairSpec::EccNistP256)
        )
        .is_err()
    );
}

#[test]
fn ecdh_agrees_with_a_peer_on_every_nist_curve() {
    for (spec, alg, len) in [
        (PairSpec::EccNistP256, &agreement::ECDH_P256, 32),
        (PairSpec::EccNistP384, &agreement::ECDH_P384, 48),
        (PairSpec::EccNistP521, &agreement::ECDH_P521, 66),
    ] {
        let ours = PrivateKey::from_pkcs8(spec, PairUsage::KeyAgreement, &pkcs8(spec)).unwrap();
        let peer = agreement::PrivateKey::generate(alg).unwrap();
        let peer_public = peer.compute_public_key().unwrap();
        let peer_spki = peer_public.as_der().unwrap();
        let secret = ours.derive_shared_secret(peer_spki.as_ref()).unwrap();
        assert_eq!(secret.len(), len);
        let expected = agreement::agree(
            &peer,
            agreement::UnparsedPublicKey::new(alg, ours.public_key_der()),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        assert_eq!(&secret[..], &expected[..]);

        // A raw point is not an SPKI; garbage is not a key.
        assert_eq!(
            ours.derive_shared_secret(peer_public.as_ref()),
            Err(AsymmetricError::InvalidPublicKey)
        );
        assert_eq!(
            ours.derive_shared_secret(b"not a key"),
            Err(AsymmetricError::InvalidPublicKey)
        );
    }
    // A key on another curve.
    let p256 = PrivateKey::from_pkcs8(
        PairSpec::EccNistP256,
        PairUsage::KeyAgreement,
        &pkcs8(PairSpec::EccNistP256),
    )
    .unwrap();
    let p384 = agreement::PrivateKey::generate(&agreement::ECDH_P384).unwrap();
    let spki = p384.compute_public_key().unwrap().as_der().unwrap();
    assert_eq!(
        p256.derive_shared_secret(spki.as_ref()),
        Err(AsymmetricError::InvalidPublicKey)
    );
}

#[test]
fn public_key_of_pkcs8_matches_the_key() {
    for spec in PairSpec::ALL {
        let der = pkcs8(spec);
        assert_eq!(
            public_key_of_pkcs8(spec, &der).unwrap(),
            signer(spec).public_key_der(),
            "{spec:?}"
        );
    }
}

#[test]
fn hmac_macs_and_verifies_with_the_right_key_lengths() {
    for alg in [
        MacAlgorithm::HmacSha224,
        MacAlgorithm::HmacSha256,
        MacAlgorithm::HmacSha384,
        MacAlgorithm::HmacSha512,
    ] {
        let bytes = alg.generate_bytes().unwrap();
        assert_eq!(bytes.len(), alg.key_len());
        let key = HmacKey::from_bytes(alg, &bytes).unwrap();
        let mac = key.mac(MESSAGE);
        let expected = hmac::sign(&hmac::Key::new(alg.hmac(), &bytes), MESSAGE);
        assert_eq!(mac, expected.as_ref());
        assert!(key.verify(MESSAGE, &mac));
        assert!(!key.verify(b"other", &mac));
        assert!(!key.verify(MESSAGE, &mac[1..]));
        assert!(HmacKey::from_bytes(alg, &bytes[1..]).is_err());
    }
}

/// FIPS 204's mu of `message` (empty context) under a DER SPKI.
fn mu_of<P: ml_dsa::MlDsaParams>(public_der: &[u8], len: usize, message: &[u8]) -> [u8; 64] {
    use ml_dsa::KeyInit;
    use ml_dsa::signature::digest::Update;
    let key =
        ml_dsa::VerifyingKey::<P>::new_from_slice(&public_der[public_der.len() - len..]).unwrap();
    let mu = key
        .compute_mu(
            |h| {
                h.update(message);
                Ok(())
            },
            b"",
        )
        .unwrap();
    mu.as_slice().try_into().unwrap()
}

#[test]
fn ml_dsa_external_mu_signatures_are_signatures_of_the_message() {
    for (spec, len) in [
        (PairSpec::MlDsa44, 1312),
        (PairSpec::MlDsa65, 1952),
        (PairSpec::MlDsa87, 2592),
    ] {
        let key = signer(spec);
        let public = key.public_key_der();
        let mu = match spec {
            PairSpec::MlDsa44 => mu_of::<ml_dsa::MlDsa44>(public, len, MESSAGE),
            PairSpec::MlDsa65 => mu_of::<ml_dsa::MlDsa65>(public, len, MESSAGE),
            _ => mu_of::<ml_dsa::MlDsa87>(public, len, MESSAGE),
        };
        let alg = SigningAlgorithm::MlDsaShake256;
        // Signed over mu (ml-dsa), verified over the message (aws-lc-rs).
        let signature = key.sign(alg, MessageKind::ExternalMu, &mu).unwrap();
        verify(spec, public, alg, MessageKind::Raw, MESSAGE, &signature)
            .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        // And the other way round.
        let signature = key.sign(alg, MessageKind::Raw, MESSAGE).unwrap();
        verify(spec, public, alg, MessageKind::ExternalMu, &mu, &signature).unwrap();
        let mut other = mu;
        other[0] ^= 1;
        assert_eq!(
            verify(
                spec,
                public,
                alg,
                MessageKind::ExternalMu,
                &other,
                &signature
            ),
            Err(AsymmetricError::InvalidSignature)
        );
        assert_eq!(
            verify(
                spec,
                public,
                alg,
                MessageKind::ExternalMu,
                &mu,
                &signature[1..]
            ),
            Err(AsymmetricError::InvalidSignature)
        );
    }
}

#[cfg(feature = "sm2")]
#[test]
fn sm2_key_agreement_is_ecdh_on_its_curve() {
    let a = PairSpec::Sm2.generate_pkcs8().unwrap();
    let b = PairSpec::Sm2.generate_pkcs8().unwrap();
    let a = PrivateKey::from_pkcs8(PairSpec::Sm2, PairUsage::KeyAgreement, &a).unwrap();
    let b = PrivateKey::from_pkcs8(PairSpec::Sm2, PairUsage::KeyAgreement, &b).unwrap();
    let ab = a.derive_shared_secret(b.public_key_der()).unwrap();
    let ba = b.derive_shared_secret(a.public_key_der()).unwrap();
    assert_eq!(ab.len(), 32);
    assert_eq!(&ab[..], &ba[..]);
    let p256 = PrivateKey::from_pkcs8(
        PairSpec::EccNistP256,
        PairUsage::KeyAgreement,
        &pkcs8(PairSpec::EccNistP256),
    )
    .unwrap();
    assert_eq!(
        a.derive_shared_secret(p256.public_key_der()),
        Err(AsymmetricError::InvalidPublicKey)
    );
    assert_eq!(
        p256.derive_shared_secret(a.public_key_der()),
        Err(AsymmetricError::InvalidPublicKey)
    );
    let signer = PrivateKey::from_pkcs8(
        PairSpec::Sm2,
        PairUsage::SignVerify,
        &PairSpec::Sm2.generate_pkcs8().unwrap(),
    )
    .unwrap();
    assert_eq!(
        signer.derive_shared_secret(b.public_key_der()),
        Err(AsymmetricError::WrongAlgorithm)
    );
}

#[cfg(feature = "sm2")]
#[test]
fn sm2_signs_verifies_encrypts_and_decrypts() {
    let pkcs8 = PairSpec::Sm2.generate_pkcs8().unwrap();
    let signer = PrivateKey::from_pkcs8(PairSpec::Sm2, PairUsage::SignVerify, &pkcs8).unwrap();
    let public = signer.public_key_der().to_vec();
    assert_eq!(public_key_of_pkcs8(PairSpec::Sm2, &pkcs8).unwrap(), public);
    let alg = SigningAlgorithm::Sm2Dsa;
    for (kind, message) in [
        (MessageKind::Raw, MESSAGE.to_vec()),
        (MessageKind::Digest, vec![0x42u8; 32]),
    ] {
        let signature = signer.sign(alg, kind, &message).unwrap();
        verify(PairSpec::Sm2, &public, alg, kind, &message, &signature).unwrap();
        let mut other = message.clone();
        other[0] ^= 1;
        assert_eq!(
            verify(PairSpec::Sm2, &public, alg, kind, &other, &signature),
            Err(AsymmetricError::InvalidSignature)
        );
    }
    // The RAW signature is over SM3(Z_A ‖ M), not M itself as a digest.
    let raw = signer.sign(alg, MessageKind::Raw, MESSAGE).unwrap();
    assert_eq!(
        verify(
            PairSpec::Sm2,
            &public,
            alg,
            MessageKind::Digest,
            &digest::digest(&digest::SHA256, MESSAGE).as_ref()[..32],
            &raw
        ),
        Err(AsymmetricError::InvalidSignature)
    );
    assert_eq!(
        signer.sign(alg, MessageKind::Digest, &[0; 31]),
        Err(AsymmetricError::DigestLength { expected: 32 })
    );
    assert_eq!(
        signer.encrypt(AsymmetricEncryption::Sm2Pke, b"x"),
        Err(AsymmetricError::WrongAlgorithm)
    );

    let decrypter =
        PrivateKey::from_pkcs8(PairSpec::Sm2, PairUsage::EncryptDecrypt, &pkcs8).unwrap();
    let sm2pke = AsymmetricEncryption::Sm2Pke;
    let ciphertext = decrypter.encrypt(sm2pke, &[7u8; 1024]).unwrap();
    assert_eq!(
        &decrypter.decrypt(sm2pke, &ciphertext).unwrap()[..],
        &[7u8; 1024]
    );
    assert_eq!(
        decrypter.encrypt(sm2pke, &[7u8; 1025]),
        Err(AsymmetricError::PlaintextTooLong { max: 1024 })
    );
    let mut tampered = ciphertext.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        decrypter.decrypt(sm2pke, &tampered),
        Err(AsymmetricError::InvalidCiphertext)
    );
    assert_eq!(
        decrypter.encrypt(AsymmetricEncryption::RsaesOaepSha256, b"x"),
        Err(AsymmetricError::WrongAlgorithm)
    );
    assert_eq!(
        decrypter.sign(alg, MessageKind::Raw, MESSAGE),
        Err(AsymmetricError::WrongAlgorithm)
    );
}

#[cfg(not(feature = "sm2"))]
#[test]
fn sm2_is_unavailable_without_its_feature() {
    assert!(!PairSpec::Sm2.available());
    assert!(PairSpec::Sm2.generate_pkcs8().is_err());
}
