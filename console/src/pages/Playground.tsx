import { useEffect, useId, useState, type ReactNode } from 'react';
import { describeError } from '../aws';
import { CopyButton, Outcome, PageHeading, PairRows, pairsToObject, useAction, useApi, useAsync, type Pair } from '../components';
import { base64ToBytes, base64ToUtf8, bytesToBase64, utf8ToBase64 } from '../format';
import type {
  DecryptResponse,
  DescribeKeyResponse,
  EncryptResponse,
  GenerateDataKeyResponse,
  GenerateMacResponse,
  KeyMetadata,
  ListAliasesResponse,
  ListKeysResponse,
  ReEncryptResponse,
  SignResponse,
  VerifyMacResponse,
  VerifyResponse,
} from '../kmsTypes';

/** KMS's algorithms, offered when the key's own (DescribeKey) are not known. */
const ALL_ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'];
const ALL_SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
  'ML_DSA_SHAKE_256',
  'SM2DSA',
];
const ALL_MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'];

interface KeyChoice {
  value: string;
  label: string;
}

/** Keys and aliases the caller may list, for the key picker (refusals are reported, not fatal). */
function useKeyChoices() {
  const { aws } = useApi();
  return useAsync(async () => {
    const choices: KeyChoice[] = [];
    const errors: unknown[] = [];
    try {
      let marker: string | undefined;
      do {
        const page = await aws.kms<ListAliasesResponse>('ListAliases', { Limit: 100, ...(marker ? { Marker: marker } : {}) });
        for (const a of page.Aliases ?? []) {
          if (a.TargetKeyId) choices.push({ value: a.AliasName, label: `${a.AliasName} (${a.TargetKeyId})` });
        }
        marker = page.Truncated ? page.NextMarker : undefined;
      } while (marker);
    } catch (e) {
      errors.push(e);
    }
    try {
      let marker: string | undefined;
      do {
        const page = await aws.kms<ListKeysResponse>('ListKeys', { Limit: 100, ...(marker ? { Marker: marker } : {}) });
        for (const k of page.Keys ?? []) choices.push({ value: k.KeyId, label: k.KeyId });
        marker = page.Truncated ? page.NextMarker : undefined;
      } while (marker);
    } catch (e) {
      errors.push(e);
    }
    return { choices, errors };
  }, [aws]);
}

/** `value`, once it has not changed for `ms`. */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** A choice among `options`: the one made while it is among them, else the first. */
function useChoice(options: string[]): [string, (v: string) => void] {
  const [value, setValue] = useState('');
  return [options.includes(value) ? value : (options[0] ?? ''), setValue];
}

/** The bytes of a message field, base64 for KMS: UTF-8 text, or base64 as typed. */
function messageBase64(text: string, isBase64: boolean): string {
  if (isBase64) return bytesToBase64(base64ToBytes(text));
  return utf8ToBase64(text);
}

function AlgorithmSelect({
  id,
  label,
  options,
  value,
  onChange,
  testId,
}: {
  id: string;
  label: string;
  options: string[];
  value: string;
  onChange: (v: string) => void;
  testId: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {options.map((a) => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </select>
    </div>
  );
}

function OutputField({
  id,
  label,
  value,
  testId,
  rows = 3,
  children,
}: {
  id: string;
  label: string;
  value: string;
  testId: string;
  rows?: number;
  children?: ReactNode;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} value={value} readOnly rows={rows} className="mono" spellCheck={false} data-testid={testId} />
      <div className="actions">
        <CopyButton text={value} label={`Copy: ${label}`} testId={`copy-${testId}`} />
        {children}
      </div>
    </div>
  );
}

/**
 * The crypto playground: encrypt, decrypt, re-encrypt, generate a data key,
 * sign and verify, generate and verify a MAC, with an encryption context.
 * The operations shown are those of the chosen key (DescribeKey); its
 * algorithms are the key's own.
 */
export function Playground({ initialKeyId }: { initialKeyId?: string }) {
  const { aws } = useApi();
  const id = useId();
  const [keyId, setKeyId] = useState(initialKeyId ?? '');
  const [context, setContext] = useState<Pair[]>([]);
  const [plaintext, setPlaintext] = useState('');
  const [ciphertext, setCiphertext] = useState('');
  const [decrypted, setDecrypted] = useState<{ text: string; binary: boolean }>();
  const choices = useKeyChoices();
  const encrypt = useAction();
  const decrypt = useAction();

  const settledKey = useDebounced(keyId.trim(), 350);
  const described = useAsync(async (): Promise<KeyMetadata | undefined> => {
    if (!settledKey) return undefined;
    return (await aws.kms<DescribeKeyResponse>('DescribeKey', { KeyId: settledKey })).KeyMetadata;
  }, [aws, settledKey]);
  const pending = keyId.trim() !== settledKey || described.loading;
  const current = !pending && !described.error ? described.data : undefined;
  // While the next key is described, the last one's operations stay (no flicker).
  const [lastMeta, setLastMeta] = useState<KeyMetadata>();
  useEffect(() => {
    if (!pending) setLastMeta(current);
  }, [pending, current]);
  const meta = pending ? lastMeta : current;
  const usage = meta?.KeyUsage;
  const symmetric = meta?.KeySpec === 'SYMMETRIC_DEFAULT';

  const encryptionAlgorithms = meta?.EncryptionAlgorithms?.length ? meta.EncryptionAlgorithms : ALL_ENCRYPTION_ALGORITHMS;
  const [encryptionAlgorithm, setEncryptionAlgorithm] = useChoice(encryptionAlgorithms);
  // A symmetric key needs no algorithm: none is sent (KMS's default).
  const algorithmParam = (name: string) =>
    encryptionAlgorithm && encryptionAlgorithm !== 'SYMMETRIC_DEFAULT' ? { [name]: encryptionAlgorithm } : {};

  const contextObject = () => {
    const obj = pairsToObject(context);
    return Object.keys(obj).length > 0 ? { EncryptionContext: obj } : {};
  };

  const doEncrypt = () =>
    encrypt.run(async () => {
      if (!keyId.trim()) throw new Error('Enter or choose a key to encrypt with.');
      const r = await aws.kms<EncryptResponse>('Encrypt', {
        KeyId: keyId.trim(),
        Plaintext: utf8ToBase64(plaintext),
        ...contextObject(),
        ...algorithmParam('EncryptionAlgorithm'),
      });
      setCiphertext(r.CiphertextBlob);
      setDecrypted(undefined);
      return `Encrypted with ${r.KeyId}${r.EncryptionAlgorithm ? ` (${r.EncryptionAlgorithm})` : ''}.`;
    });

  const doDecrypt = () =>
    decrypt.run(async () => {
      setDecrypted(undefined);
      if (!ciphertext.trim()) throw new Error('Enter a ciphertext (base64) to decrypt.');
      base64ToBytes(ciphertext); // says so if it is not base64
      const r = await aws.kms<DecryptResponse>('Decrypt', {
        CiphertextBlob: ciphertext.replace(/\s+/g, ''),
        ...(keyId.trim() ? { KeyId: keyId.trim() } : {}),
        ...contextObject(),
        ...algorithmParam('EncryptionAlgorithm'),
      });
      const text = base64ToUtf8(r.Plaintext);
      setDecrypted(text === undefined ? { text: r.Plaintext, binary: true } : { text, binary: false });
      return `Decrypted with ${r.KeyId}.`;
    });

  let keyInfo = '';
  if (current) {
    keyInfo = `${current.KeySpec} · ${current.KeyUsage} · ${current.KeyState}: the operations below are this key's.`;
  } else if (pending && keyId.trim()) {
    keyInfo = 'Reading the key…';
  } else if (!pending && described.error !== undefined) {
    keyInfo = `The key could not be described (${describeError(described.error)}); every operation is shown.`;
  }

  const listErrors = choices.data?.errors ?? [];
  const keyOptions = `${id}-key-options`;
  const showEncryption = !usage || usage === 'ENCRYPT_DECRYPT';
  const showDataKey = !usage || (usage === 'ENCRYPT_DECRYPT' && symmetric);
  const showSigning = !usage || usage === 'SIGN_VERIFY';
  const showMac = !usage || usage === 'GENERATE_VERIFY_MAC';

  return (
    <section>
      <PageHeading title="Crypto playground">Crypto playground</PageHeading>
      <p>
        Use a KMS key: encrypt, decrypt, re-encrypt, generate data keys, sign and verify, generate and verify MACs.
        Text is sent as UTF-8; binary values are shown as base64.
      </p>

      <div className="panel">
        <h2>{showEncryption ? 'Key and encryption context' : 'Key'}</h2>
        <div className="key-picker">
          <div className="field">
            <label htmlFor={`${id}-key`}>Key ID, ARN or alias</label>
            <input
              id={`${id}-key`}
              value={keyId}
              onChange={(e) => setKeyId(e.target.value)}
              list={keyOptions}
              placeholder="alias/MyKey"
              spellCheck={false}
              autoCapitalize="off"
              aria-describedby={`${id}-key-hint ${id}-key-info`}
              data-testid="playground-key"
            />
            <datalist id={keyOptions}>
              {(choices.data?.choices ?? []).map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </datalist>
            <p id={`${id}-key-hint`} className="hint">
              Decrypt works without it for symmetric keys; when given, the ciphertext must be under this key.
            </p>
          </div>
          <div className="field">
            <label htmlFor={`${id}-choose`}>Choose a key</label>
            <select
              id={`${id}-choose`}
              value=""
              onChange={(e) => e.target.value && setKeyId(e.target.value)}
              disabled={(choices.data?.choices.length ?? 0) === 0}
              data-testid="playground-key-select"
            >
              <option value="">
                {choices.loading ? 'Loading…' : (choices.data?.choices.length ?? 0) === 0 ? 'No keys listed' : 'Choose…'}
              </option>
              {(choices.data?.choices ?? []).map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <p id={`${id}-key-info`} className="hint" role="status" data-testid="playground-key-info">
          {keyInfo}
        </p>
        {listErrors.length > 0 && (
          <p className="hint" data-testid="playground-list-error">
            Your keys could not all be listed ({listErrors.map(describeError).join('; ')}). Type the key ID, ARN or
            alias instead.
          </p>
        )}
        {showEncryption && encryptionAlgorithms.length > 1 && (
          <AlgorithmSelect
            id={`${id}-enc-alg`}
            label="Encryption algorithm"
            options={encryptionAlgorithms}
            value={encryptionAlgorithm}
            onChange={setEncryptionAlgorithm}
            testId="encryption-algorithm"
          />
        )}
        {showEncryption && (
          <PairRows
            legend="Encryption context"
            rows={context}
            onChange={setContext}
            keyLabel="Context key"
            valueLabel="Context value"
            addLabel="Add context pair"
            itemName="context pair"
            testId="context"
          />
        )}
      </div>

      {showEncryption && (
        <div className="panel">
          <h2>Encrypt</h2>
          <div className="field">
            <label htmlFor={`${id}-plaintext`}>Plaintext</label>
            <textarea
              id={`${id}-plaintext`}
              value={plaintext}
              onChange={(e) => setPlaintext(e.target.value)}
              rows={4}
              data-testid="plaintext"
            />
          </div>
          <button type="button" onClick={() => void doEncrypt()} disabled={encrypt.busy} data-testid="encrypt">
            {encrypt.busy ? 'Encrypting…' : 'Encrypt'}
          </button>
          <Outcome action={encrypt} name="encrypt" />
        </div>
      )}

      {showEncryption && (
        <div className="panel">
          <h2>Decrypt</h2>
          <div className="field">
            <label htmlFor={`${id}-ciphertext`}>Ciphertext (base64)</label>
            <textarea
              id={`${id}-ciphertext`}
              value={ciphertext}
              onChange={(e) => setCiphertext(e.target.value)}
              rows={5}
              className="mono"
              spellCheck={false}
              data-testid="ciphertext"
            />
          </div>
          <div className="actions">
            <button type="button" onClick={() => void doDecrypt()} disabled={decrypt.busy} data-testid="decrypt">
              {decrypt.busy ? 'Decrypting…' : 'Decrypt'}
            </button>
            {ciphertext && <CopyButton text={ciphertext} label="Copy the ciphertext" testId="copy-ciphertext" />}
          </div>
          <Outcome action={decrypt} name="decrypt" />
          {decrypted && (
            <div className="field">
              <label htmlFor={`${id}-decrypted`}>
                {decrypted.binary ? 'Decrypted plaintext (base64: not UTF-8 text)' : 'Decrypted plaintext'}
              </label>
              <textarea id={`${id}-decrypted`} value={decrypted.text} readOnly rows={4} data-testid="decrypted" />
            </div>
          )}
        </div>
      )}

      {showEncryption && (
        <ReEncryptPanel
          sourceKeyId={keyId.trim()}
          ciphertext={ciphertext}
          sourceContext={contextObject}
          sourceAlgorithm={algorithmParam('SourceEncryptionAlgorithm')}
          keyOptions={keyOptions}
          onUse={(blob, destination) => {
            setCiphertext(blob);
            setKeyId(destination);
            setDecrypted(undefined);
          }}
        />
      )}

      {showDataKey && (
        <DataKeyPanel
          keyId={keyId.trim()}
          context={contextObject}
          onUse={(blob) => {
            setCiphertext(blob);
            setDecrypted(undefined);
          }}
        />
      )}

      {showSigning && (
        <SignPanel keyId={keyId.trim()} algorithms={meta?.SigningAlgorithms?.length ? meta.SigningAlgorithms : ALL_SIGNING_ALGORITHMS} />
      )}

      {showMac && (
        <MacPanel keyId={keyId.trim()} algorithms={meta?.MacAlgorithms?.length ? meta.MacAlgorithms : ALL_MAC_ALGORITHMS} />
      )}
    </section>
  );
}

/** ReEncrypt: the ciphertext of the Decrypt panel, under another key (and context). */
function ReEncryptPanel({
  sourceKeyId,
  ciphertext,
  sourceContext,
  sourceAlgorithm,
  keyOptions,
  onUse,
}: {
  sourceKeyId: string;
  ciphertext: string;
  sourceContext: () => { EncryptionContext?: Record<string, string> };
  sourceAlgorithm: Record<string, string>;
  keyOptions: string;
  onUse: (ciphertext: string, destination: string) => void;
}) {
  const { aws } = useApi();
  const id = useId();
  const [destination, setDestination] = useState('');
  const [sameContext, setSameContext] = useState(true);
  const [destinationContext, setDestinationContext] = useState<Pair[]>([]);
  const [result, setResult] = useState<{ blob: string; destination: string }>();
  const action = useAction();

  const run = () =>
    action.run(async () => {
      setResult(undefined);
      if (!ciphertext.trim()) throw new Error('Enter a ciphertext (base64) in the Decrypt section first.');
      if (!destination.trim()) throw new Error('Enter or choose the destination key.');
      base64ToBytes(ciphertext);
      const src = sourceContext().EncryptionContext;
      // KMS gives the new ciphertext no context unless told: the same as the source's by default here.
      const ctx = sameContext ? (src ?? {}) : pairsToObject(destinationContext);
      const r = await aws.kms<ReEncryptResponse>('ReEncrypt', {
        CiphertextBlob: ciphertext.replace(/\s+/g, ''),
        DestinationKeyId: destination.trim(),
        ...(sourceKeyId ? { SourceKeyId: sourceKeyId } : {}),
        ...(src ? { SourceEncryptionContext: src } : {}),
        ...(Object.keys(ctx).length > 0 ? { DestinationEncryptionContext: ctx } : {}),
        ...sourceAlgorithm,
      });
      setResult({ blob: r.CiphertextBlob, destination: destination.trim() });
      return `Re-encrypted from ${r.SourceKeyId ?? 'the source key'} to ${r.KeyId ?? destination.trim()}.`;
    });

  return (
    <div className="panel" data-testid="reencrypt-panel">
      <h2>Re-encrypt</h2>
      <p className="hint">
        Decrypts the ciphertext of the Decrypt section (with the key and encryption context above) and encrypts it
        under another key, without the plaintext leaving KMS.
      </p>
      <div className="field">
        <label htmlFor={`${id}-dest`}>Destination key (ID, ARN or alias)</label>
        <input
          id={`${id}-dest`}
          value={destination}
          onChange={(e) => setDestination(e.target.value)}
          list={keyOptions}
          spellCheck={false}
          autoCapitalize="off"
          data-testid="reencrypt-destination"
        />
      </div>
      <div className="choice">
        <input
          type="checkbox"
          id={`${id}-same`}
          checked={sameContext}
          onChange={(e) => setSameContext(e.target.checked)}
          aria-describedby={`${id}-same-hint`}
          data-testid="reencrypt-same-context"
        />
        <label htmlFor={`${id}-same`}>Encrypt under the same encryption context</label>
        <p id={`${id}-same-hint`} className="hint">
          Otherwise, give the destination's own below (none at all if you leave it empty).
        </p>
      </div>
      {!sameContext && (
        <PairRows
          legend="Destination encryption context"
          rows={destinationContext}
          onChange={setDestinationContext}
          keyLabel="Destination context key"
          valueLabel="Destination context value"
          addLabel="Add destination context pair"
          itemName="destination context pair"
          testId="destination-context"
        />
      )}
      <button type="button" onClick={() => void run()} disabled={action.busy} data-testid="reencrypt">
        {action.busy ? 'Re-encrypting…' : 'Re-encrypt'}
      </button>
      <Outcome action={action} name="reencrypt" />
      {result && (
        <OutputField id={`${id}-out`} label="Re-encrypted ciphertext (base64)" value={result.blob} testId="reencrypted" rows={5}>
          <button
            type="button"
            className="secondary"
            onClick={() => onUse(result.blob, result.destination)}
            data-testid="use-reencrypted"
          >
            Decrypt this instead
          </button>
        </OutputField>
      )}
    </div>
  );
}

/** GenerateDataKey: a data key's plaintext and its ciphertext under the key. */
function DataKeyPanel({
  keyId,
  context,
  onUse,
}: {
  keyId: string;
  context: () => { EncryptionContext?: Record<string, string> };
  onUse: (ciphertext: string) => void;
}) {
  const { aws } = useApi();
  const id = useId();
  const [spec, setSpec] = useState('AES_256');
  const [result, setResult] = useState<GenerateDataKeyResponse>();
  const action = useAction();

  const run = () =>
    action.run(async () => {
      setResult(undefined);
      if (!keyId) throw new Error('Enter or choose a key to generate the data key under.');
      const r = await aws.kms<GenerateDataKeyResponse>('GenerateDataKey', { KeyId: keyId, KeySpec: spec, ...context() });
      setResult(r);
      return `Data key generated under ${r.KeyId}.`;
    });

  return (
    <div className="panel" data-testid="datakey-panel">
      <h2>Generate data key</h2>
      <p className="hint">
        A fresh key for encrypting data outside KMS: use the plaintext and forget it; keep the encrypted copy, which
        Decrypt turns back into the plaintext (with the same encryption context).
      </p>
      <AlgorithmSelect
        id={`${id}-spec`}
        label="Data key spec"
        options={['AES_256', 'AES_128']}
        value={spec}
        onChange={setSpec}
        testId="datakey-spec"
      />
      <button type="button" onClick={() => void run()} disabled={action.busy} data-testid="generate-data-key">
        {action.busy ? 'Generating…' : 'Generate data key'}
      </button>
      <Outcome action={action} name="datakey" />
      {result && (
        <>
          <OutputField id={`${id}-plain`} label="Plaintext data key (base64)" value={result.Plaintext} testId="datakey-plaintext" rows={2} />
          <OutputField id={`${id}-blob`} label="Encrypted data key (base64)" value={result.CiphertextBlob} testId="datakey-ciphertext" rows={5}>
            <button type="button" className="secondary" onClick={() => onUse(result.CiphertextBlob)} data-testid="use-datakey">
              Decrypt this
            </button>
          </OutputField>
        </>
      )}
    </div>
  );
}

/** Sign and Verify with an asymmetric signing key. */
function SignPanel({ keyId, algorithms }: { keyId: string; algorithms: string[] }) {
  const { aws } = useApi();
  const id = useId();
  const [message, setMessage] = useState('');
  const [isBase64, setIsBase64] = useState(false);
  const [messageType, setMessageType] = useState('RAW');
  const [algorithm, setAlgorithm] = useChoice(algorithms);
  const [signature, setSignature] = useState('');
  const sign = useAction();
  const verify = useAction();

  const request = () => {
    if (!keyId) throw new Error('Enter or choose a signing key.');
    return { KeyId: keyId, Message: messageBase64(message, isBase64), MessageType: messageType, SigningAlgorithm: algorithm };
  };
  const doSign = () =>
    sign.run(async () => {
      verify.clear();
      const r = await aws.kms<SignResponse>('Sign', request());
      setSignature(r.Signature);
      return `Signed with ${r.KeyId ?? keyId} (${r.SigningAlgorithm ?? algorithm}).`;
    });
  const doVerify = () =>
    verify.run(async () => {
      if (!signature.trim()) throw new Error('Enter a signature (base64) to verify.');
      base64ToBytes(signature);
      const r = await aws.kms<VerifyResponse>('Verify', { ...request(), Signature: signature.replace(/\s+/g, '') });
      return r.SignatureValid
        ? `The signature is valid (${r.SigningAlgorithm ?? algorithm}).`
        : 'The server did not say the signature is valid.';
    });

  return (
    <div className="panel" data-testid="sign-panel">
      <h2>Sign and verify</h2>
      <div className="field">
        <label htmlFor={`${id}-message`}>Message to sign</label>
        <textarea id={`${id}-message`} value={message} onChange={(e) => setMessage(e.target.value)} rows={3} data-testid="sign-message" />
      </div>
      <div className="choice">
        <input type="checkbox" id={`${id}-b64`} checked={isBase64} onChange={(e) => setIsBase64(e.target.checked)} data-testid="sign-message-base64" />
        <label htmlFor={`${id}-b64`}>The message is base64 (binary), not text</label>
      </div>
      <div className="key-picker">
        <AlgorithmSelect
          id={`${id}-type`}
          label="Message type"
          options={['RAW', 'DIGEST']}
          value={messageType}
          onChange={setMessageType}
          testId="sign-message-type"
        />
        <AlgorithmSelect
          id={`${id}-alg`}
          label="Signing algorithm"
          options={algorithms}
          value={algorithm}
          onChange={setAlgorithm}
          testId="signing-algorithm"
        />
      </div>
      <button type="button" onClick={() => void doSign()} disabled={sign.busy} data-testid="sign">
        {sign.busy ? 'Signing…' : 'Sign'}
      </button>
      <Outcome action={sign} name="sign" />
      <div className="field">
        <label htmlFor={`${id}-signature`}>Signature (base64)</label>
        <textarea
          id={`${id}-signature`}
          value={signature}
          onChange={(e) => setSignature(e.target.value)}
          rows={4}
          className="mono"
          spellCheck={false}
          data-testid="signature"
        />
      </div>
      <div className="actions">
        <button type="button" onClick={() => void doVerify()} disabled={verify.busy} data-testid="verify">
          {verify.busy ? 'Verifying…' : 'Verify'}
        </button>
        {signature && <CopyButton text={signature} label="Copy the signature" testId="copy-signature" />}
      </div>
      <Outcome action={verify} name="verify" />
    </div>
  );
}

/** GenerateMac and VerifyMac with an HMAC key. */
function MacPanel({ keyId, algorithms }: { keyId: string; algorithms: string[] }) {
  const { aws } = useApi();
  const id = useId();
  const [message, setMessage] = useState('');
  const [isBase64, setIsBase64] = useState(false);
  const [algorithm, setAlgorithm] = useChoice(algorithms);
  const [mac, setMac] = useState('');
  const generate = useAction();
  const verify = useAction();

  const request = () => {
    if (!keyId) throw new Error('Enter or choose an HMAC key.');
    return { KeyId: keyId, Message: messageBase64(message, isBase64), MacAlgorithm: algorithm };
  };
  const doGenerate = () =>
    generate.run(async () => {
      verify.clear();
      const r = await aws.kms<GenerateMacResponse>('GenerateMac', request());
      setMac(r.Mac);
      return `MAC generated with ${r.KeyId ?? keyId} (${r.MacAlgorithm ?? algorithm}).`;
    });
  const doVerify = () =>
    verify.run(async () => {
      if (!mac.trim()) throw new Error('Enter a MAC (base64) to verify.');
      base64ToBytes(mac);
      const r = await aws.kms<VerifyMacResponse>('VerifyMac', { ...request(), Mac: mac.replace(/\s+/g, '') });
      return r.MacValid ? `The MAC is valid (${r.MacAlgorithm ?? algorithm}).` : 'The server did not say the MAC is valid.';
    });

  return (
    <div className="panel" data-testid="mac-panel">
      <h2>Generate and verify MAC</h2>
      <div className="field">
        <label htmlFor={`${id}-message`}>Message to authenticate</label>
        <textarea id={`${id}-message`} value={message} onChange={(e) => setMessage(e.target.value)} rows={3} data-testid="mac-message" />
      </div>
      <div className="choice">
        <input type="checkbox" id={`${id}-b64`} checked={isBase64} onChange={(e) => setIsBase64(e.target.checked)} data-testid="mac-message-base64" />
        <label htmlFor={`${id}-b64`}>The message is base64 (binary), not text</label>
      </div>
      <AlgorithmSelect
        id={`${id}-alg`}
        label="MAC algorithm"
        options={algorithms}
        value={algorithm}
        onChange={setAlgorithm}
        testId="mac-algorithm"
      />
      <button type="button" onClick={() => void doGenerate()} disabled={generate.busy} data-testid="generate-mac">
        {generate.busy ? 'Generating…' : 'Generate MAC'}
      </button>
      <Outcome action={generate} name="generate-mac" />
      <div className="field">
        <label htmlFor={`${id}-mac`}>MAC (base64)</label>
        <textarea
          id={`${id}-mac`}
          value={mac}
          onChange={(e) => setMac(e.target.value)}
          rows={3}
          className="mono"
          spellCheck={false}
          data-testid="mac"
        />
      </div>
      <div className="actions">
        <button type="button" onClick={() => void doVerify()} disabled={verify.busy} data-testid="verify-mac">
          {verify.busy ? 'Verifying…' : 'Verify MAC'}
        </button>
        {mac && <CopyButton text={mac} label="Copy the MAC" testId="copy-mac" />}
      </div>
      <Outcome action={verify} name="verify-mac" />
    </div>
  );
}
