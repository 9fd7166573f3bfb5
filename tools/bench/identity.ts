/**
 * `npm run bench:identity`: what identity costs a connect. Times the `$connect` authorizer over 1,000 distinct tokens
 * (warm key cache, the steady state) and the cold start of a verifier whose first token makes it fetch the JWKS over
 * loopback, against its warm verifies. Loopback only; stops what it starts. Human report on stderr, JSON on stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createTokenVerifier, type KeySource } from '../../core/identity/verify.js';
import { type AuthorizerEvent, createAuthorizer } from '../../handlers/routes/authorizer.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, mintToken, newSigningKey, publicKeySet } from '../../local/signing-key.js';

const TOKENS = 1000;
const COLD_STARTS = 50;
const quiet = { info: () => undefined, error: () => undefined };

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const summary = (samples: number[]) => ({
  p50: round(percentile(samples, 50)),
  p99: round(percentile(samples, 99)),
  max: round(Math.max(...samples)),
});
const round = (ms: number) => Math.round(ms * 1000) / 1000;

const event = (token: string, i: number): AuthorizerEvent => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:local:0:api/local/$connect',
  queryStringParameters: { token, streamId: `s${i}` },
  requestContext: { connectionId: `c${i}`, routeKey: '$connect' },
});

async function timeAuthorizer(keys: KeySource, tokens: string[]): Promise<number[]> {
  const verifier = createTokenVerifier({ issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, keys });
  const authorize = createAuthorizer({ verifier, logger: quiet });
  await authorize(event(tokens[0]!, 0)); // the key cache (and JIT) warm, as in a container past its first connect
  const samples: number[] = [];
  for (const [i, token] of tokens.entries()) {
    const started = performance.now();
    await authorize(event(token, i));
    samples.push(performance.now() - started);
  }
  return samples;
}

async function main() {
  const key = await newSigningKey();
  const jwks = publicKeySet(key);
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  try {
    const tokens = await Promise.all(
      Array.from({ length: TOKENS }, (_, i) => mintToken(key, { userId: `user-${i}`, limit: i % 5 })),
    );
    const inMemory = await timeAuthorizer({ kind: 'jwks', jwks }, tokens);
    const remoteWarm = await timeAuthorizer({ kind: 'jwksUrl', url }, tokens);

    // Cold: a fresh verifier (a fresh container) whose first token fetches the key set, then a second, warm token.
    const cold: number[] = [];
    const secondVerify: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      const verifier = createTokenVerifier({
        issuer: LOCAL_ISSUER,
        audience: LOCAL_AUDIENCE,
        keys: { kind: 'jwksUrl', url },
      });
      let started = performance.now();
      await verifier.verify(tokens[i]!);
      cold.push(performance.now() - started);
      started = performance.now();
      await verifier.verify(tokens[i + 1]!);
      secondVerify.push(performance.now() - started);
    }

    const result = {
      at: new Date().toISOString(),
      node: process.version,
      algorithm: 'ES256',
      authorizerPerConnectMs: { keysInMemory: summary(inMemory), remoteJwksWarm: summary(remoteWarm), tokens: TOKENS },
      jwksColdStartMs: { firstVerify: summary(cold), secondVerify: summary(secondVerify), runs: COLD_STARTS },
    };
    const r = result.authorizerPerConnectMs;
    const c = result.jwksColdStartMs;
    console.error(
      [
        `authorizer per connect (${TOKENS} tokens, ES256): p50 ${r.remoteJwksWarm.p50} ms, p99 ${r.remoteJwksWarm.p99} ms ` +
          `(remote JWKS, warm cache); keys in memory: p50 ${r.keysInMemory.p50} ms`,
        `JWKS cold start over loopback (${COLD_STARTS} fresh verifiers): first verify p50 ${c.firstVerify.p50} ms, ` +
          `p99 ${c.firstVerify.p99} ms; second verify p50 ${c.secondVerify.p50} ms`,
      ].join('\n'),
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
