import { describe, expect, it } from 'vitest';
import { eventRow, keyIdOfArn, lookupRequest, utcInputToEpoch } from './audit';

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('LookupEvents requests', () => {
  it('reads datetime-local values as UTC', () => {
    expect(utcInputToEpoch('')).toBeUndefined();
    expect(utcInputToEpoch('2026-01-02T03:04')).toBe(Date.UTC(2026, 0, 2, 3, 4) / 1000);
    expect(utcInputToEpoch('2026-01-02T03:04:05')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect(() => utcInputToEpoch('2026-02-30T00:00')).toThrow(/not a date and time/);
    expect(() => utcInputToEpoch('yesterday')).toThrow(/not a date and time/);
  });

  it('builds the request of the filters', () => {
    expect(lookupRequest({ attribute: '', value: 'ignored', start: '', end: '', maxResults: 50 })).toEqual({
      MaxResults: 50,
    });
    expect(
      lookupRequest(
        { attribute: 'ResourceName', value: ` ${ARN} `, start: '2026-01-01T00:00', end: '2026-01-02T00:00', maxResults: 5 },
        'token-1',
      ),
    ).toEqual({
      LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: ARN }],
      StartTime: Date.UTC(2026, 0, 1) / 1000,
      EndTime: Date.UTC(2026, 0, 2) / 1000,
      MaxResults: 5,
      NextToken: 'token-1',
    });
  });
});

describe('events', () => {
  it('reads a row: keys, other resources, the error of the record', () => {
    const row = eventRow({
      EventId: 'e-1',
      EventName: 'ScheduleKeyDeletion',
      EventTime: 1767225600,
      EventSource: 'kms.amazonaws.com',
      Username: 'MyKeyUser',
      Resources: [
        { ResourceType: 'AWS::KMS::Key', ResourceName: ARN },
        { ResourceType: 'AWS::IAM::User', ResourceName: 'MyKeyUser' },
      ],
      CloudTrailEvent: JSON.stringify({ eventName: 'ScheduleKeyDeletion', errorCode: 'AccessDenied', errorMessage: 'No.' }),
    });
    expect(row).toMatchObject({
      id: 'e-1',
      name: 'ScheduleKeyDeletion',
      user: 'MyKeyUser',
      source: 'kms.amazonaws.com',
      keys: [ARN],
      others: [{ ResourceType: 'AWS::IAM::User', ResourceName: 'MyKeyUser' }],
      errorCode: 'AccessDenied',
      errorMessage: 'No.',
    });
    expect(JSON.parse(row.json)).toMatchObject({ errorCode: 'AccessDenied' });
    expect(row.json).toContain('\n  "eventName"');
  });

  it('keeps a record that is not JSON as it came', () => {
    const row = eventRow({ EventName: 'X', CloudTrailEvent: 'not json' });
    expect(row).toMatchObject({ keys: [], errorCode: '', json: 'not json', user: '' });
  });

  it('names a key by its id', () => {
    expect(keyIdOfArn(ARN)).toBe('1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(keyIdOfArn('alias/x')).toBe('alias/x');
  });
});
