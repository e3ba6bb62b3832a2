/** Proxy-Authorization: Basic (RFC 9110 §11.7.1, RFC 7617) against a route's credentials, and header lookup in a request head. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuthOk, headerValue } from '../../src/forward/auth.js';

const CREDS = [
  { user: 'alice', password: 's3cret' },
  { user: 'bob', password: 'pa:ss wörd' },
];
const basic = (userPass: string): string => 'Basic ' + Buffer.from(userPass, 'utf8').toString('base64');

describe('basicAuthOk', () => {
  it('accepts each configured user with its password', () => {
    assert.equal(basicAuthOk(basic('alice:s3cret'), CREDS), true);
    // A password may contain ":" and non-ASCII (UTF-8, RFC 7617 charset="UTF-8").
    assert.equal(basicAuthOk(basic('bob:pa:ss wörd'), CREDS), true);
  });

  it('takes the scheme case-insensitively and the token without padding', () => {
    assert.equal(basicAuthOk('basic ' + Buffer.from('alice:s3cret').toString('base64'), CREDS), true);
    assert.equal(basicAuthOk('BASIC ' + Buffer.from('alice:s3cret').toString('base64'), CREDS), true);
    assert.equal(basicAuthOk('Basic ' + Buffer.from('alice:s3cret').toString('base64').replace(/=+$/, ''), CREDS), true);
  });

  it('refuses a wrong password, an unknown user, and one user with another user\'s password', () => {
    assert.equal(basicAuthOk(basic('alice:wrong'), CREDS), false);
    assert.equal(basicAuthOk(basic('alice:s3cre'), CREDS), false);
    assert.equal(basicAuthOk(basic('alice:s3cret '), CREDS), false);
    assert.equal(basicAuthOk(basic('mallory:s3cret'), CREDS), false);
    assert.equal(basicAuthOk(basic('alice:pa:ss wörd'), CREDS), false);
    assert.equal(basicAuthOk(basic('ALICE:s3cret'), CREDS), false);
    assert.equal(basicAuthOk(basic(''), CREDS), false);
    assert.equal(basicAuthOk(basic(':'), CREDS), false);
  });

  it('refuses a missing or malformed header', () => {
    for (const h of [undefined, '', 'Basic', 'Basic ', 'Basic !!!!', 'Basic YWxp Y2U6czNjcmV0', 'BasicYWxpY2U6czNjcmV0', 'Basic YWxpY2U6czNjcmV0 extra', 'alice:s3cret']) {
      assert.equal(basicAuthOk(h, CREDS), false, JSON.stringify(h));
    }
  });

  it('refuses other schemes even with the right credentials inside', () => {
    const token = Buffer.from('alice:s3cret').toString('base64');
    for (const scheme of ['Bearer', 'Digest', 'Negotiate', 'NTLM', 'Basicx']) assert.equal(basicAuthOk(`${scheme} ${token}`, CREDS), false, scheme);
  });

  it('refuses everything when no credential is configured', () => {
    assert.equal(basicAuthOk(basic('alice:s3cret'), []), false);
  });
});

describe('headerValue', () => {
  const head = 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nproxy-AUTHORIZATION:   Basic abc=  \r\nProxy-Authorization: Basic second\r\nUser-Agent: curl/8\r\n\r\n';

  it('finds the first header of that name, case-insensitively, with surrounding whitespace removed', () => {
    assert.equal(headerValue(head, 'Proxy-Authorization'), 'Basic abc=');
    assert.equal(headerValue(head, 'user-agent'), 'curl/8');
    assert.equal(headerValue('CONNECT a:1 HTTP/1.1\nX-A:b\n\n', 'x-a'), 'b');
  });

  it('is undefined when the header is absent, and never reads the request line as a header', () => {
    assert.equal(headerValue(head, 'authorization'), undefined);
    assert.equal(headerValue('Proxy-Authorization: Basic x HTTP/1.1\r\n\r\n', 'proxy-authorization'), undefined);
    assert.equal(headerValue(head, 'proxy'), undefined);
  });
});
