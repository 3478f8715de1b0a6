import { useState, type FormEvent } from 'react';
import { Aws, childText } from '../aws';
import { ErrorAlert, PageHeading } from '../components';
import type { SignedIn } from '../session';

/**
 * Sign-in with an access key (or temporary credentials), checked with STS
 * GetCallerIdentity, which every valid credential may call.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (s: SignedIn) => void }) {
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecretAccessKey] = useState('');
  const [sessionToken, setSessionToken] = useState('');
  const [region, setRegion] = useState('us-east-1');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const creds = {
      accessKeyId: accessKeyId.trim(),
      secretAccessKey: secretAccessKey.trim(),
      sessionToken: sessionToken.trim() || undefined,
      region: region.trim() || 'us-east-1',
    };
    if (!creds.accessKeyId || !creds.secretAccessKey) {
      setError(new Error('Enter an access key ID and a secret access key.'));
      return;
    }
    setBusy(true);
    try {
      const result = await new Aws(creds).sts('GetCallerIdentity');
      onSignedIn({
        ...creds,
        arn: childText(result, 'Arn') ?? '',
        account: childText(result, 'Account') ?? '',
        userId: childText(result, 'UserId') ?? '',
      });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="signin">
      <PageHeading title="Sign in">Sign in</PageHeading>
      <p>
        Sign in with an access key of this Trent server. Requests are signed in this page; the secret
        never leaves it and is kept only for this tab (sessionStorage), until you sign out.
      </p>
      <form onSubmit={submit} noValidate data-testid="signin-form">
        <div className="field">
          <label htmlFor="access-key-id">Access key ID</label>
          <input
            id="access-key-id"
            name="accessKeyId"
            value={accessKeyId}
            onChange={(e) => setAccessKeyId(e.target.value)}
            autoComplete="username"
            spellCheck={false}
            autoCapitalize="off"
            required
          />
        </div>
        <div className="field">
          <label htmlFor="secret-access-key">Secret access key</label>
          <input
            id="secret-access-key"
            name="secretAccessKey"
            type="password"
            value={secretAccessKey}
            onChange={(e) => setSecretAccessKey(e.target.value)}
            autoComplete="current-password"
            spellCheck={false}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="session-token">Session token</label>
          <textarea
            id="session-token"
            name="sessionToken"
            value={sessionToken}
            onChange={(e) => setSessionToken(e.target.value)}
            rows={2}
            spellCheck={false}
            aria-describedby="session-token-hint"
          />
          <p id="session-token-hint" className="hint">
            Optional: only for temporary credentials (from STS AssumeRole).
          </p>
        </div>
        <div className="field">
          <label htmlFor="region">Region</label>
          <input
            id="region"
            name="region"
            value={region}
            onChange={(e) => setRegion(e.target.value)}
            spellCheck={false}
            autoCapitalize="off"
          />
        </div>
        <ErrorAlert error={error} testId="signin-error" />
        <button type="submit" disabled={busy} data-testid="sign-in">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
