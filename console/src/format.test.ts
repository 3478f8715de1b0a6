import { describe, expect, it } from 'vitest';
import { aliasName, aliasProblem, base64ToBytes, base64ToUtf8, formatDate, utf8ToBase64 } from './format';

describe('format', () => {
  it('dates', () => {
    expect(formatDate(1767323045)).toBe('2026-01-02 03:04:05 UTC');
    expect(formatDate(1767323045.538)).toBe('2026-01-02 03:04:05 UTC');
    expect(formatDate('2026-01-02T03:04:05Z')).toBe('2026-01-02 03:04:05 UTC');
    expect(formatDate(undefined)).toBe('');
  });

  it('base64 of UTF-8 text, both ways', () => {
    expect(utf8ToBase64('hello')).toBe('aGVsbG8=');
    expect(utf8ToBase64('Grüße ሴ')).toBe('R3LDvMOfZSDhiLQ=');
    expect(base64ToUtf8('R3LDvMOfZSDhiLQ=')).toBe('Grüße ሴ');
    expect(base64ToUtf8('//79')).toBeUndefined();
    expect(() => base64ToBytes('not base64!')).toThrow('This is not base64 text.');
    expect(base64ToBytes(' aGVs\nbG8= ')).toEqual(new TextEncoder().encode('hello'));
  });

  it('aliases', () => {
    expect(aliasName('MyKey')).toBe('alias/MyKey');
    expect(aliasName(' alias/MyKey ')).toBe('alias/MyKey');
    expect(aliasProblem('alias/MyKey')).toBeUndefined();
    expect(aliasProblem('alias/aws/x')).toMatch(/reserved/);
    expect(aliasProblem('alias/a b')).toMatch(/only letters/);
    expect(aliasProblem('alias/')).toBe('Enter an alias name.');
  });
});
