/**
 * Implicit in every `connect:` route: an HTTP/1 request head is complete — valid or not, so a
 * malformed CONNECT still gets its 400 — and anything that is not HTTP at all is no-match.
 */
import { httpSignature } from '../protocols/http/request.js';
import { more, type Matcher } from '../protocols/match-context.js';
import { NO, YES } from '../protocols/verdict.js';

export const httpHeadDoneMatcher: Matcher = (ctx) => {
  if (httpSignature(ctx.bytes) === 'no') return NO;
  return ctx.facts.get('http').kind !== 'incomplete' ? YES : more(ctx);
};
