import { useId, useState } from 'react';
import { describeError } from '../aws';
import { CopyButton, PageHeading, PairRows, Status, pairsToObject, useAction, useApi, useAsync, type Pair } from '../components';
import { base64ToBytes, base64ToUtf8, utf8ToBase64 } from '../format';
import type { DecryptResponse, EncryptResponse, ListAliasesResponse, ListKeysResponse } from '../kmsTypes';

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

/** Encrypt text under a key and decrypt base64 ciphertext, with an encryption context. */
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
      });
      const text = base64ToUtf8(r.Plaintext);
      setDecrypted(text === undefined ? { text: r.Plaintext, binary: true } : { text, binary: false });
      return `Decrypted with ${r.KeyId}.`;
    });

  const listErrors = choices.data?.errors ?? [];

  return (
    <section>
      <PageHeading title="Crypto playground">Crypto playground</PageHeading>
      <p>Encrypt and decrypt with a KMS key. Text is sent as UTF-8; ciphertext is shown as base64.</p>

      <div className="panel">
        <h2>Key and encryption context</h2>
        <div className="key-picker">
          <div className="field">
            <label htmlFor={`${id}-key`}>Key ID, ARN or alias</label>
            <input
              id={`${id}-key`}
              value={keyId}
              onChange={(e) => setKeyId(e.target.value)}
              list={`${id}-key-options`}
              placeholder="alias/MyKey"
              spellCheck={false}
              autoCapitalize="off"
              aria-describedby={`${id}-key-hint`}
              data-testid="playground-key"
            />
            <datalist id={`${id}-key-options`}>
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
        {listErrors.length > 0 && (
          <p className="hint" data-testid="playground-list-error">
            Your keys could not all be listed ({listErrors.map(describeError).join('; ')}). Type the key ID, ARN or
            alias instead.
          </p>
        )}
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
      </div>

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
        {encrypt.error !== undefined && (
          <p className="alert alert-error" role="alert" data-testid="encrypt-error">
            {describeError(encrypt.error)}
          </p>
        )}
        {encrypt.message && <Status testId="encrypt-status">{encrypt.message}</Status>}
      </div>

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
        {decrypt.error !== undefined && (
          <p className="alert alert-error" role="alert" data-testid="decrypt-error">
            {describeError(decrypt.error)}
          </p>
        )}
        {decrypt.message && <Status testId="decrypt-status">{decrypt.message}</Status>}
        {decrypted && (
          <div className="field">
            <label htmlFor={`${id}-decrypted`}>
              {decrypted.binary ? 'Decrypted plaintext (base64: not UTF-8 text)' : 'Decrypted plaintext'}
            </label>
            <textarea
              id={`${id}-decrypted`}
              value={decrypted.text}
              readOnly
              rows={4}
              data-testid="decrypted"
            />
          </div>
        )}
      </div>
    </section>
  );
}
