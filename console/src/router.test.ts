import { describe, expect, it } from 'vitest';
import { keyHref, parseRoute } from './router';

describe('routes', () => {
  it('parses', () => {
    expect(parseRoute('')).toEqual({ name: 'keys' });
    expect(parseRoute('#/')).toEqual({ name: 'keys' });
    expect(parseRoute('#/keys')).toEqual({ name: 'keys' });
    expect(parseRoute('#/keys/create')).toEqual({ name: 'createKey' });
    expect(parseRoute('#/keys/1234abcd-12ab-34cd-56ef-1234567890ab')).toEqual({
      name: 'key',
      id: '1234abcd-12ab-34cd-56ef-1234567890ab',
    });
    expect(parseRoute(keyHref('alias/MyKey'))).toEqual({ name: 'key', id: 'alias/MyKey' });
    expect(parseRoute('#/playground')).toEqual({ name: 'playground', keyId: undefined });
    expect(parseRoute('#/playground?key=alias%2Fx')).toEqual({ name: 'playground', keyId: 'alias/x' });
    expect(parseRoute('#/iam/users')).toEqual({ name: 'iamUsers' });
    expect(parseRoute('#/nope')).toEqual({ name: 'notFound', path: '/nope' });
  });
});
