//! Request quotas: how many requests per second an account may make in a
//! Region, as AWS KMS counts them ("Request quotas" in the KMS developer
//! guide). The cryptographic operations share one quota per key type
//! (symmetric and HMAC; RSA; ECC and SM2; ML-DSA), GenerateDataKeyPair has
//! one per key-pair spec, every other operation its own. A request over
//! its quota is refused with `ThrottlingException`, which SDKs retry with
//! backoff. Cross-account requests count against the caller's account.
//!
//! Each (account, Region) has a bucket per quota (IAM, STS and
//! LookupEvents: one per account), a generic cell rate algorithm on one
//! atomic: admitting a request is a compare-and-swap on the bucket's
//! "theoretical arrival time", no lock. A quota of N per
//! second admits N requests at once, then one every 1/N s, which is AWS's
//! "N in each one-second interval" without its interval edges.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use trent_wire::{DataKeyPairSpec, Operation};

/// What a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaClass {
    /// An operation's own quota.
    Operation(Operation),
    /// Cryptographic operations with symmetric encryption and HMAC keys,
    /// and GenerateRandom.
    Symmetric,
    Rsa,
    /// ECC and SM2 keys.
    Ecc,
    MlDsa,
    /// ML-KEM keys (Encapsulate, Decapsulate). AWS's developer guide
    /// lists no quota for them; Trent gives them ML-DSA's figure.
    MlKem,
    /// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext, by
    /// key-pair spec (an index into `DataKeyPairSpec::VALUES`).
    DataKeyPair(usize),
    /// IAM actions (AWS publishes no per-action figures).
    Iam,
    /// STS actions.
    Sts,
    /// CloudTrail's LookupEvents (AWS: 2 per second per account and Region).
    LookupEvents,
    /// Not a request quota: how many throttled requests a second the audit
    /// trail records for an account (the rest are only counted), so that
    /// a caller far over its quota cannot fill the disk with its refusals.
    /// An authenticated request for an operation the service does not have
    /// is recorded within it too.
    ThrottledEvents,
    /// Not a request quota: how many unauthenticated requests a second the
    /// audit trail records, from all callers together (the rest are only
    /// counted), so that unsigned requests cannot fill the disk.
    UnauthenticatedEvents,
}

/// The shared quotas by name, as `--request-quota NAME=N` names them.
const SHARED: [(&str, QuotaClass); 10] = [
    ("symmetric", QuotaClass::Symmetric),
    ("rsa", QuotaClass::Rsa),
    ("ecc", QuotaClass::Ecc),
    ("ml-dsa", QuotaClass::MlDsa),
    ("ml-kem", QuotaClass::MlKem),
    ("iam", QuotaClass::Iam),
    ("sts", QuotaClass::Sts),
    ("LookupEvents", QuotaClass::LookupEvents),
    ("ThrottledEvents", QuotaClass::ThrottledEvents),
    ("UnauthenticatedEvents", QuotaClass::UnauthenticatedEvents),
];

impl QuotaClass {
    /// Every class, in index order.
    fn count() -> usize {
        Operation::ALL.len() + SHARED.len() + DataKeyPairSpec::VALUES.len()
    }

    fn index(self) -> usize {
        let shared = |class| {
            Operation::ALL.len()
                + SHARED
                    .iter()
                    .position(|(_, c)| *c == class)
                    .expect("every shared class is listed")
        };
        match self {
            QuotaClass::Operation(op) => op as usize,
            QuotaClass::DataKeyPair(i) => Operation::ALL.len() + SHARED.len() + i,
            other => shared(other),
        }
    }

    /// The class a quota name (`CreateKey`, `symmetric`,
    /// `GenerateDataKeyPair:RSA_2048`) names.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(spec) = name.strip_prefix("GenerateDataKeyPair:") {
            return Self::data_key_pair(spec);
        }
        if let Some((_, class)) = SHARED.iter().find(|(n, _)| *n == name) {
            return Some(*class);
        }
        Operation::ALL
            .iter()
            .find(|op| op.name() == name)
            .map(|op| QuotaClass::Operation(*op))
    }

    /// The name `--request-quota` and `/metrics` use.
    pub fn name(self) -> String {
        match self {
            QuotaClass::Operation(op) => op.name().to_owned(),
            QuotaClass::DataKeyPair(i) => {
                format!("GenerateDataKeyPair:{}", DataKeyPairSpec::VALUES[i])
            }
            other => SHARED
                .iter()
                .find(|(_, c)| *c == other)
                .map(|(n, _)| (*n).to_owned())
                .expect("every shared class is listed"),
        }
    }

    /// The class of a data key pair spec's text (`RSA_2048`).
    pub fn data_key_pair(spec: &str) -> Option<Self> {
        DataKeyPairSpec::VALUES
            .iter()
            .position(|v| *v == spec)
            .map(QuotaClass::DataKeyPair)
    }

    /// Whether the quota is the account's in every Region at once: IAM
    /// and STS are global services, and Trent's one audit trail answers
    /// LookupEvents for every Region.
    fn is_global(self) -> bool {
        matches!(
            self,
            QuotaClass::Iam
                | QuotaClass::Sts
                | QuotaClass::LookupEvents
                | QuotaClass::ThrottledEvents
                | QuotaClass::UnauthenticatedEvents
        )
    }

    fn of_index(i: usize) -> Self {
        let ops = Operation::ALL.len();
        if i < ops {
            QuotaClass::Operation(Operation::ALL[i])
        } else if i < ops + SHARED.len() {
            SHARED[i - ops].1
        } else {
            QuotaClass::DataKeyPair(i - ops - SHARED.len())
        }
    }
}

/// Whether an operation counts against a shared cryptographic quota (or a
/// key-pair spec's), decided where its key is known, rather than its own.
pub fn counts_by_key(operation: Operation) -> bool {
    use Operation::*;
    matches!(
        operation,
        Encrypt
            | Decrypt
            | ReEncrypt
            | GenerateDataKey
            | GenerateDataKeyWithoutPlaintext
            | GenerateMac
            | VerifyMac
            | GenerateRandom
            | Sign
            | Verify
            | DeriveSharedSecret
            | Encapsulate
            | Decapsulate
            | GenerateDataKeyPair
            | GenerateDataKeyPairWithoutPlaintext
    )
}

/// AWS KMS's per-operation quotas (requests per second), as the KMS
/// developer guide lists them; operations it lists none for are not
/// limited.
const AWS_OPERATIONS: &[(Operation, f64)] = &[
    (Operation::CancelKeyDeletion, 5.0),
    (Operation::ConnectCustomKeyStore, 5.0),
    (Operation::CreateAlias, 5.0),
    (Operation::CreateCustomKeyStore, 5.0),
    (Operation::CreateGrant, 50.0),
    (Operation::CreateKey, 5.0),
    (Operation::DeleteAlias, 15.0),
    (Operation::DeleteCustomKeyStore, 5.0),
    (Operation::DeleteImportedKeyMaterial, 15.0),
    (Operation::DescribeCustomKeyStores, 5.0),
    (Operation::DescribeKey, 2000.0),
    (Operation::DisableKey, 5.0),
    (Operation::DisableKeyRotation, 5.0),
    (Operation::DisconnectCustomKeyStore, 5.0),
    (Operation::EnableKey, 5.0),
    (Operation::EnableKeyRotation, 15.0),
    (Operation::GetKeyLastUsage, 5.0),
    (Operation::GetKeyPolicy, 1000.0),
    (Operation::GetKeyRotationStatus, 1000.0),
    (Operation::GetParametersForImport, 1.0),
    (Operation::GetPublicKey, 2000.0),
    (Operation::ImportKeyMaterial, 15.0),
    (Operation::ListAliases, 500.0),
    (Operation::ListGrants, 100.0),
    (Operation::ListKeyPolicies, 100.0),
    (Operation::ListKeyRotations, 100.0),
    (Operation::ListKeys, 500.0),
    (Operation::ListResourceTags, 2000.0),
    (Operation::ListRetirableGrants, 100.0),
    (Operation::PutKeyPolicy, 15.0),
    (Operation::ReplicateKey, 5.0),
    (Operation::RetireGrant, 50.0),
    (Operation::RevokeGrant, 50.0),
    (Operation::RotateKeyOnDemand, 5.0),
    (Operation::ScheduleKeyDeletion, 15.0),
    (Operation::TagResource, 10.0),
    (Operation::UntagResource, 5.0),
    (Operation::UpdateAlias, 5.0),
    (Operation::UpdateCustomKeyStore, 5.0),
    (Operation::UpdateKeyDescription, 5.0),
    (Operation::UpdatePrimaryRegion, 5.0),
];

/// AWS's GenerateDataKeyPair quotas by key-pair spec (outside China).
const AWS_DATA_KEY_PAIRS: &[(&str, f64)] = &[
    ("ECC_NIST_P256", 100.0),
    ("ECC_NIST_P384", 100.0),
    ("ECC_NIST_P521", 100.0),
    ("ECC_SECG_P256K1", 100.0),
    ("ECC_NIST_EDWARDS25519", 100.0),
    ("RSA_2048", 20.0),
    ("RSA_3072", 4.0),
    ("RSA_4096", 1.0),
    ("SM2", 25.0),
];

/// The symmetric cryptographic quota AWS gives an account in `region`.
fn aws_symmetric(region: &str) -> f64 {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => 100_000.0,
        "us-east-2" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" | "eu-central-1"
        | "eu-west-2" => 20_000.0,
        _ => 10_000.0,
    }
}

/// A named set of quotas to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// AWS's quotas exactly, the symmetric one by Region as AWS sets it.
    Aws,
    /// Trent's default: AWS's cryptographic quotas at their default-Region
    /// values (symmetric 10,000 per second in every Region), every other
    /// operation ten times AWS's (AWS sizes them for a fleet where keys are
    /// made by hand; a self-hosted server's provisioning scripts and tests
    /// make them by the hundred), IAM 100 and STS 500 per second. Both
    /// profiles record at most 100 throttled requests a second per account.
    Trent,
    /// No quotas.
    Off,
}

impl Profile {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "aws" => Some(Profile::Aws),
            "trent" => Some(Profile::Trent),
            "off" => Some(Profile::Off),
            _ => None,
        }
    }
}

/// Requests per second by quota, from a profile with overrides.
#[derive(Debug, Clone)]
pub struct QuotaLimits {
    profile: Profile,
    /// `None`: not limited.
    rates: Box<[Option<f64>]>,
    /// Overridden by name: these win over the profile's Region rule.
    overridden: Box<[bool]>,
}

impl QuotaLimits {
    pub fn new(profile: Profile) -> Self {
        let mut rates = vec![None; QuotaClass::count()].into_boxed_slice();
        let mut set = |class: QuotaClass, rate: f64| rates[class.index()] = Some(rate);
        let (operations, others) = match profile {
            Profile::Off => (0.0, None),
            Profile::Aws => (1.0, Some((2.0, 100.0, 500.0))),
            Profile::Trent => (10.0, Some((2.0, 100.0, 500.0))),
        };
        if let Some((lookup, iam, sts)) = others {
            for (op, rate) in AWS_OPERATIONS {
                set(QuotaClass::Operation(*op), rate * operations);
            }
            for (spec, rate) in AWS_DATA_KEY_PAIRS {
                let class = QuotaClass::data_key_pair(spec).expect("a known key-pair spec");
                set(class, *rate);
            }
            set(QuotaClass::Symmetric, 10_000.0);
            set(QuotaClass::Rsa, 1_000.0);
            set(QuotaClass::Ecc, 1_000.0);
            set(QuotaClass::MlDsa, 1_000.0);
            set(QuotaClass::MlKem, 1_000.0);
            set(QuotaClass::LookupEvents, lookup);
            set(QuotaClass::ThrottledEvents, 100.0);
            set(QuotaClass::UnauthenticatedEvents, 100.0);
            set(QuotaClass::Iam, iam);
            set(QuotaClass::Sts, sts);
        }
        Self {
            profile,
            rates,
            overridden: vec![false; QuotaClass::count()].into_boxed_slice(),
        }
    }

    /// Sets one quota (requests per second; 0 refuses every request).
    pub fn set(&mut self, class: QuotaClass, per_second: f64) {
        self.rates[class.index()] = Some(per_second);
        self.overridden[class.index()] = true;
    }

    /// The quota of `class` in `region`, if limited.
    pub fn rate(&self, class: QuotaClass, region: &str) -> Option<f64> {
        let i = class.index();
        if class == QuotaClass::Symmetric && self.profile == Profile::Aws && !self.overridden[i] {
            return Some(aws_symmetric(region));
        }
        self.rates[i]
    }

    /// Every limited quota with its rate (for `--print-config` and docs),
    /// in the home Region.
    pub fn listed(&self, region: &str) -> Vec<(String, f64)> {
        (0..QuotaClass::count())
            .map(QuotaClass::of_index)
            .filter_map(|class| self.rate(class, region).map(|r| (class.name(), r)))
            .collect()
    }

    pub fn is_off(&self) -> bool {
        self.rates.iter().all(Option::is_none)
    }
}

/// A request refused for its quota: the quota's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled(pub QuotaClass);

/// The quotas' buckets, per (account, Region).
pub struct RequestQuotas {
    limits: QuotaLimits,
    /// Keyed by the (account, Region) pair itself (a hash alone would let
    /// two pairs share, or lose, a bucket), with a per-process seed.
    buckets: papaya::HashMap<(Box<str>, Box<str>), Buckets, foldhash::fast::RandomState>,
    /// Regions with buckets of their own, by account.
    regions: papaya::HashMap<Box<str>, AtomicUsize, foldhash::fast::RandomState>,
    epoch: Instant,
    /// Requests refused, by quota (index as `QuotaClass::index`).
    throttled: Box<[AtomicU64]>,
}

/// One (account, Region)'s buckets: the theoretical arrival time of each
/// quota's next request, in nanoseconds after `RequestQuotas::epoch`.
struct Buckets {
    arrival: Box<[AtomicU64]>,
}

impl Buckets {
    fn new() -> Self {
        Self {
            arrival: (0..QuotaClass::count())
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

/// (account, Region) pairs with buckets of their own; beyond this, new
/// pairs share their account's overflow bucket.
const MAX_BUCKETS: usize = 65_536;

/// Regions an account has buckets of its own in (AWS has about forty);
/// the Regions a caller names beyond these share its overflow bucket, so
/// that naming new Regions does not multiply its quotas.
const MAX_REGIONS_PER_ACCOUNT: usize = 64;

/// The Region key of an account's global quotas.
const GLOBAL: &str = "";
/// The Region key of an account's overflow bucket.
const OVERFLOW: &str = "*";

/// An (account, Region) key, borrowed.
#[derive(Hash)]
struct Pair<'a>(&'a str, &'a str);

impl papaya::Equivalent<(Box<str>, Box<str>)> for Pair<'_> {
    fn equivalent(&self, key: &(Box<str>, Box<str>)) -> bool {
        *key.0 == *self.0 && *key.1 == *self.1
    }
}

impl RequestQuotas {
    pub fn new(limits: QuotaLimits) -> Self {
        Self {
            limits,
            buckets: papaya::HashMap::builder()
                .hasher(foldhash::fast::RandomState::default())
                .build(),
            regions: papaya::HashMap::builder()
                .hasher(foldhash::fast::RandomState::default())
                .build(),
            epoch: Instant::now(),
            throttled: (0..QuotaClass::count())
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    pub fn limits(&self) -> &QuotaLimits {
        &self.limits
    }

    /// Counts a request of `account` in `region` against `class`; `Err`
    /// when it is over the quota (and then it does not count).
    pub fn admit(&self, account: &str, region: &str, class: QuotaClass) -> Result<(), Throttled> {
        let Some(rate) = self.limits.rate(class, region) else {
            return Ok(());
        };
        let i = class.index();
        if rate <= 0.0 {
            self.throttled[i].fetch_add(1, Ordering::Relaxed);
            return Err(Throttled(class));
        }
        let region = if class.is_global() { GLOBAL } else { region };
        let pinned = self.buckets.pin();
        let buckets = self.buckets_of(&pinned, account, region);
        // Generic cell rate algorithm: each request moves the arrival time
        // on by one interval; a request may come up to a second (the burst
        // of `rate` requests) before its arrival time.
        let interval = (1e9 / rate).max(1.0) as u64;
        let tolerance = 1_000_000_000u64.saturating_sub(interval);
        let now = self.epoch.elapsed().as_nanos() as u64;
        let slot = &buckets.arrival[i];
        let mut arrival = slot.load(Ordering::Relaxed);
        loop {
            let start = arrival.max(now);
            if start - now > tolerance {
                self.throttled[i].fetch_add(1, Ordering::Relaxed);
                return Err(Throttled(class));
            }
            match slot.compare_exchange_weak(
                arrival,
                start.saturating_add(interval),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => arrival = current,
            }
        }
    }

    /// The buckets of (`account`, `region`): made on first use, while the
    /// account has Regions to spare and the map room; else the account's
    /// overflow bucket.
    fn buckets_of<'g>(
        &self,
        pinned: &'g papaya::HashMapRef<
            '_,
            (Box<str>, Box<str>),
            Buckets,
            foldhash::fast::RandomState,
            impl papaya::Guard,
        >,
        account: &str,
        region: &str,
    ) -> &'g Buckets {
        if let Some(found) = pinned.get(&Pair(account, region)) {
            return found;
        }
        let room = pinned.len() < MAX_BUCKETS
            && (region == GLOBAL
                || self
                    .regions
                    .pin()
                    .get_or_insert_with(account.into(), || AtomicUsize::new(0))
                    .fetch_add(1, Ordering::Relaxed)
                    < MAX_REGIONS_PER_ACCOUNT);
        let region = if room { region } else { OVERFLOW };
        if let Some(found) = pinned.get(&Pair(account, region)) {
            return found;
        }
        pinned.get_or_insert_with((account.into(), region.into()), Buckets::new)
    }

    /// Requests refused so far, by quota name (those with any).
    pub fn throttled(&self) -> Vec<(String, u64)> {
        self.throttled
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then(|| (QuotaClass::of_index(i).name(), n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for i in 0..QuotaClass::count() {
            let class = QuotaClass::of_index(i);
            assert_eq!(class.index(), i);
            assert_eq!(
                QuotaClass::parse(&class.name()),
                Some(class),
                "{}",
                class.name()
            );
        }
        assert_eq!(
            QuotaClass::parse("GenerateDataKeyPair:RSA_2048"),
            QuotaClass::data_key_pair("RSA_2048")
        );
        assert_eq!(QuotaClass::parse("Frobnicate"), None);
    }

    #[test]
    fn profiles_are_awss_numbers() {
        let aws = QuotaLimits::new(Profile::Aws);
        let op = |name: &str| QuotaClass::parse(name).unwrap();
        assert_eq!(aws.rate(op("CreateKey"), "us-east-1"), Some(5.0));
        assert_eq!(aws.rate(op("DescribeKey"), "us-east-1"), Some(2000.0));
        assert_eq!(aws.rate(op("symmetric"), "us-east-1"), Some(100_000.0));
        assert_eq!(aws.rate(op("symmetric"), "eu-west-2"), Some(20_000.0));
        assert_eq!(aws.rate(op("symmetric"), "sa-east-1"), Some(10_000.0));
        assert_eq!(aws.rate(op("LookupEvents"), "us-east-1"), Some(2.0));
        assert_eq!(aws.rate(op("Encapsulate"), "us-east-1"), None);
        let trent = QuotaLimits::new(Profile::Trent);
        assert_eq!(trent.rate(op("CreateKey"), "us-east-1"), Some(50.0));
        assert_eq!(trent.rate(op("symmetric"), "us-east-1"), Some(10_000.0));
        let mut off = QuotaLimits::new(Profile::Off);
        assert!(off.is_off());
        off.set(op("CreateKey"), 7.0);
        assert_eq!(off.rate(op("CreateKey"), "x"), Some(7.0));
    }

    #[test]
    fn a_quota_admits_its_burst_then_throttles_per_account_and_region() {
        let mut limits = QuotaLimits::new(Profile::Off);
        let create = QuotaClass::Operation(Operation::CreateKey);
        limits.set(create, 5.0);
        let quotas = RequestQuotas::new(limits);
        let admitted = (0..20)
            .filter(|_| quotas.admit("111122223333", "us-east-1", create).is_ok())
            .count();
        assert!((5..=6).contains(&admitted), "{admitted}");
        // Another account, another Region: their own buckets.
        assert!(quotas.admit("444455556666", "us-east-1", create).is_ok());
        assert!(quotas.admit("111122223333", "eu-west-1", create).is_ok());
        // An unlimited class is never throttled.
        let describe = QuotaClass::Operation(Operation::DescribeKey);
        assert!((0..1000).all(|_| quotas.admit("111122223333", "us-east-1", describe).is_ok()));
        assert_eq!(
            quotas.throttled(),
            vec![("CreateKey".to_owned(), 20 - admitted as u64)]
        );
        // Within a second the bucket refills.
        std::thread::sleep(std::time::Duration::from_millis(450));
        assert!(quotas.admit("111122223333", "us-east-1", create).is_ok());
    }

    #[test]
    fn naming_new_regions_does_not_multiply_an_accounts_quotas() {
        let mut limits = QuotaLimits::new(Profile::Off);
        let create = QuotaClass::Operation(Operation::CreateKey);
        limits.set(create, 1.0);
        limits.set(QuotaClass::LookupEvents, 1.0);
        let quotas = RequestQuotas::new(limits);
        let account = "111122223333";
        let admitted = (0..10 * MAX_REGIONS_PER_ACCOUNT)
            .filter(|n| quotas.admit(account, &format!("r-{n}"), create).is_ok())
            .count();
        // One request in each Region of its own, one in the overflow
        // bucket shared by every Region after them.
        assert_eq!(admitted, MAX_REGIONS_PER_ACCOUNT + 1);
        // Another account still has Regions of its own.
        assert!(quotas.admit("444455556666", "r-0", create).is_ok());
        // A global quota is one bucket whatever the Region.
        assert!(
            quotas
                .admit(account, "us-east-1", QuotaClass::LookupEvents)
                .is_ok()
        );
        assert!(
            quotas
                .admit(account, "eu-west-1", QuotaClass::LookupEvents)
                .is_err()
        );
    }

    #[test]
    fn a_tiny_quota_admits_its_one_request_and_no_more() {
        let mut limits = QuotaLimits::new(Profile::Off);
        let create = QuotaClass::Operation(Operation::CreateKey);
        limits.set(create, 1e-12);
        let quotas = RequestQuotas::new(limits);
        let admitted = (0..5)
            .filter(|_| quotas.admit("111122223333", "us-east-1", create).is_ok())
            .count();
        assert_eq!(admitted, 1);
    }
}
