import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyFailure, createError, type FailureClass, failureCode, isRetriable } from '../src/index.ts';

const withCode = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { code, ...extra });

describe('classifyFailure', () => {
  const cases: [string, unknown, FailureClass][] = [
    // SQLSTATEs, as the pg driver throws them (code) or as a wrapper reports them (sqlState)
    ['admin shutdown 57P01', withCode('57P01'), 'retriable'],
    ['connection failure 08006', withCode('08006'), 'retriable'],
    ['deadlock 40P01', withCode('40P01'), 'retriable'],
    ['permission denied 42501 (CONNECT revoked)', withCode('42501'), 'retriable'],
    ['database not accepting connections 55000', withCode('55000'), 'retriable'],
    ['invalid text 22P02', withCode('22P02'), 'data'],
    ['not null violation 23502', withCode('23502'), 'data'],
    ['index row too large 54000', withCode('54000'), 'data'],
    ['a data SQLSTATE in the cause chain', new Error('wrapped', { cause: Object.assign(new Error('x'), { sqlState: '22001' }) }), 'data'],
    // Node and client libraries
    ['ECONNREFUSED (not a SQLSTATE)', withCode('ECONNREFUSED'), 'retriable'],
    ['EPIPE (five letters, not a SQLSTATE)', withCode('EPIPE'), 'retriable'],
    ['kafkajs retriable: false', Object.assign(new Error('x'), { retriable: false }), 'fatal'],
    ['kafkajs retriable: true', Object.assign(new Error('x'), { retriable: true }), 'retriable'],
    [
      "kafkajs' retries exceeded over a connection error: the connection error decides",
      Object.assign(new Error('x', { cause: Object.assign(new Error('y'), { name: 'KafkaJSConnectionError', retriable: true }) }), {
        name: 'KafkaJSNumberOfRetriesExceeded',
        retriable: false,
      }),
      'retriable',
    ],
    [
      "kafkajs' retries exceeded over a refused SASL handshake",
      Object.assign(
        new Error('x', { cause: Object.assign(new Error('y'), { name: 'KafkaJSSASLAuthenticationError', retriable: false }) }),
        {
          name: 'KafkaJSNumberOfRetriesExceeded',
          retriable: false,
        },
      ),
      'fatal',
    ],
    ['an unrecognised plain Error', new Error('Connection terminated unexpectedly'), 'retriable'],
    ['a string thrown', 'boom', 'retriable'],
    // dirstream codes: the flag decides, a data code is data whatever its flag
    ['LDAP_BIND_FAILED (retriable: false)', createError('LDAP_BIND_FAILED', 'x', { retriable: false }), 'fatal'],
    ['LDAP_CONNECTION_FAILED (retriable: true)', createError('LDAP_CONNECTION_FAILED', 'x', { retriable: true }), 'retriable'],
    ['EVENT_DECODE_FAILED', createError('EVENT_DECODE_FAILED', 'x'), 'data'],
    ['APPLY_INVALID_EVENT under a wrapper', new Error('apply failed', { cause: createError('APPLY_INVALID_EVENT', 'x') }), 'data'],
    [
      'a retriable dirstream error wrapping a data SQLSTATE',
      createError('STATE_QUERY_FAILED', 'x', { retriable: true, cause: withCode('23505') }),
      'data',
    ],
    [
      'a fatal dirstream error wrapping a connection SQLSTATE: the nearest flag wins',
      createError('STATE_QUERY_FAILED', 'x', { retriable: false, cause: withCode('08006') }),
      'fatal',
    ],
    ['the message says nothing', createError('CLI_USAGE', 'temporary failure, retry later'), 'fatal'],
  ];
  for (const [name, error, expected] of cases) {
    it(`${name}: ${expected}`, () => assert.equal(classifyFailure(error), expected));
  }

  it('isRetriable is the classifier saying retriable', () => {
    for (const [, error, expected] of cases) assert.equal(isRetriable(error), expected === 'retriable');
  });
});

describe('failureCode', () => {
  const cases: [unknown, string][] = [
    [withCode('23505'), '23505'],
    [new Error('wrapped', { cause: Object.assign(new Error('x'), { sqlState: '22001', code: 'XX' }) }), '22001'],
    [createError('DB_CONNECT_FAILED', 'x', { cause: withCode('08006') }), 'DB_CONNECT_FAILED'],
    [new Error('plain'), 'UNKNOWN'],
  ];
  for (const [error, expected] of cases) it(`→ ${expected}`, () => assert.equal(failureCode(error), expected));
});
