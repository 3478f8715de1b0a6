// Small formatting helpers shared by the screens.

/** A KMS or IAM timestamp (epoch seconds, or an ISO 8601 string) as `YYYY-MM-DD HH:MM:SS UTC`. */
export function formatDate(value: number | string | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

/** Bytes as standard base64. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Standard base64 (whitespace ignored) as bytes; throws on anything else. */
export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new Error('This is not base64 text.');
  }
  const binary = atob(clean);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function utf8ToBase64(text: string): string {
  return bytesToBase64(new TextEncoder().encode(text));
}

/** The UTF-8 text of base64 bytes, or undefined when they are not UTF-8. */
export function base64ToUtf8(b64: string): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(base64ToBytes(b64));
  } catch {
    return undefined;
  }
}

/** `alias/name` from `name` or `alias/name`. */
export function aliasName(input: string): string {
  const trimmed = input.trim();
  return trimmed.startsWith('alias/') ? trimmed : `alias/${trimmed}`;
}

/** Why an alias name is not acceptable, or undefined. */
export function aliasProblem(name: string): string | undefined {
  if (name === 'alias/') return 'Enter an alias name.';
  if (name.length > 256) return 'An alias name has at most 256 characters.';
  if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name)) {
    return 'An alias may contain only letters, digits, slashes (/), underscores (_) and dashes (-).';
  }
  if (name.startsWith('alias/aws/')) return 'The prefix alias/aws/ is reserved for AWS managed keys.';
  return undefined;
}
