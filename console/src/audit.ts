// CloudTrail's LookupEvents, as the audit screen and a key's history ask it
// and read its answer.

export const LOOKUP_ATTRIBUTES = [
  'EventName',
  'Username',
  'ResourceName',
  'ResourceType',
  'EventSource',
  'EventId',
  'ReadOnly',
  'AccessKeyId',
] as const;

export interface AuditFilters {
  /** A lookup attribute key (one of LOOKUP_ATTRIBUTES), or '' for none. */
  attribute: string;
  value: string;
  /** `YYYY-MM-DDTHH:MM[:SS]` in UTC (a datetime-local field's value), or ''. */
  start: string;
  end: string;
  maxResults: number;
}

export interface LookupEventsRequest {
  LookupAttributes?: { AttributeKey: string; AttributeValue: string }[];
  StartTime?: number;
  EndTime?: number;
  MaxResults?: number;
  NextToken?: string;
}

export interface TrailResource {
  ResourceType?: string;
  ResourceName?: string;
}

export interface TrailEvent {
  EventId?: string;
  EventName?: string;
  ReadOnly?: string;
  AccessKeyId?: string;
  EventTime?: number | string;
  EventSource?: string;
  Username?: string;
  Resources?: TrailResource[];
  CloudTrailEvent?: string;
}

export interface LookupEventsResponse {
  Events?: TrailEvent[];
  NextToken?: string;
}

/** A datetime-local value read as UTC, in epoch seconds; throws when it is not a time. */
export function utcInputToEpoch(value: string): number | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(v);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]) {
    throw new Error(`"${value}" is not a date and time (YYYY-MM-DDTHH:MM, UTC).`);
  }
  return ms / 1000;
}

/** The LookupEvents request of the filters (and a page's token). */
export function lookupRequest(filters: AuditFilters, nextToken?: string): LookupEventsRequest {
  const request: LookupEventsRequest = {};
  // An attribute with an empty value goes to the server, which says what it makes of it.
  if (filters.attribute) {
    request.LookupAttributes = [{ AttributeKey: filters.attribute, AttributeValue: filters.value.trim() }];
  }
  const start = utcInputToEpoch(filters.start);
  const end = utcInputToEpoch(filters.end);
  if (start !== undefined) request.StartTime = start;
  if (end !== undefined) request.EndTime = end;
  request.MaxResults = filters.maxResults;
  if (nextToken) request.NextToken = nextToken;
  return request;
}

export interface EventRow {
  id: string;
  time: number | string | undefined;
  name: string;
  user: string;
  source: string;
  /** The KMS keys the event names (their ARNs). */
  keys: string[];
  /** Other resources (type and name). */
  others: TrailResource[];
  errorCode: string;
  errorMessage: string;
  /** The event record, pretty-printed (the server's text when it is not JSON). */
  json: string;
}

/** What a table row shows of one event. */
export function eventRow(event: TrailEvent): EventRow {
  let record: Record<string, unknown> = {};
  let json = event.CloudTrailEvent ?? '';
  try {
    const parsed = JSON.parse(json) as unknown;
    if (parsed && typeof parsed === 'object') record = parsed as Record<string, unknown>;
    json = JSON.stringify(parsed, null, 2);
  } catch {
    // Shown as the server sent it.
  }
  const resources = event.Resources ?? [];
  const isKey = (r: TrailResource) => r.ResourceType === 'AWS::KMS::Key' && !!r.ResourceName;
  return {
    id: event.EventId ?? '',
    time: event.EventTime,
    name: event.EventName ?? '',
    user: event.Username ?? '',
    source: event.EventSource ?? '',
    keys: resources.filter(isKey).map((r) => r.ResourceName as string),
    others: resources.filter((r) => !isKey(r)),
    errorCode: typeof record.errorCode === 'string' ? record.errorCode : '',
    errorMessage: typeof record.errorMessage === 'string' ? record.errorMessage : '',
    json,
  };
}

/** The key id of a key ARN (`arn:…:key/ID` → `ID`), or the text itself. */
export function keyIdOfArn(arn: string): string {
  const m = /^arn:[^:]+:kms:[^:]*:[^:]*:key\/(.+)$/.exec(arn);
  return m ? m[1] : arn;
}
